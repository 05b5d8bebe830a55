/* Streaming eventlog decoder: a small state machine (seek header, read header, events, after
 * the end marker) over arbitrary chunks. Whole events are decoded in place from the caller's
 * chunk; only an event split across chunks is copied, into one fixed carry buffer. */
#include "evlog.h"

#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDRB 0x68647262u
#define HETB 0x68657462u
#define HETE 0x68657465u
#define HDRE 0x68647265u
#define DATB 0x64617462u
#define ETB 0x65746200u
#define ETE 0x65746500u
#define END_MARKER 0xFFFFu
#define HEADER_MAX (1u << 20)
#define CARRY_CAP (EVLOG_MAX_EVENT + 16)
#define BLOCK_EVENT_SIZE 24
#define NEED_HEADER (-1000) /* need_bytes: a header starts here */

enum { ST_SEEK, ST_HEADER, ST_EVENTS, ST_AFTER_END, ST_FAILED };

static const uint8_t hdrb_bytes[4] = {'h', 'd', 'r', 'b'};

int evlog_init(evlog_t *d, const evlog_sink_t *sink)
{
    memset(d, 0, sizeof *d);
    if (sink) d->sink = *sink;
    d->types = malloc(sizeof *d->types);
    d->carry = malloc(CARRY_CAP);
    d->hdr_cap = 4096;
    d->hdr = malloc(d->hdr_cap);
    if (!d->types || !d->carry || !d->hdr) {
        evlog_dispose(d);
        return LP_ENOMEM;
    }
    d->block_cap = EVLOG_NO_CAP;
    d->state = ST_SEEK;
    return 0;
}

void evlog_set_raw(evlog_t *d, bool raw)
{
    d->raw = raw;
}

void evlog_dispose(evlog_t *d)
{
    free(d->types);
    free(d->carry);
    free(d->hdr);
    d->types = NULL;
    d->carry = NULL;
    d->hdr = NULL;
}

static int fail(evlog_t *d, int code, uint64_t off, const char *fmt, unsigned long long arg)
{
    d->err = code;
    d->err_off = off;
    snprintf(d->err_text, sizeof d->err_text, fmt, arg);
    d->state = ST_FAILED;
    return code;
}

static void warn(evlog_t *d, evlog_warning_t w, uint64_t off, uint64_t count)
{
    if (d->sink.on_warning) d->sink.on_warning(d->sink.ctx, w, off, count);
}

/* ---- field decoding ---------------------------------------------------------------------- */

/* Finds a NUL-terminated string at p[*at..len); advances past the NUL. False if unterminated. */
static bool nul_str(const uint8_t *p, uint32_t len, uint32_t *at, evlog_bytes_t *out)
{
    if (*at > len) return false;
    const uint8_t *z = memchr(p + *at, 0, len - *at);
    if (!z) return false;
    out->p = p + *at;
    out->len = (uint32_t)(z - (p + *at));
    *at += out->len + 1;
    return true;
}

bool evlog_fields_may_fail(uint16_t type)
{
    switch (type) { /* the cases below that return LP_EBAD_EVENT whatever `var` is */
    case EVLOG_HEAP_PROF_BEGIN:
    case EVLOG_HEAP_PROF_COST_CENTRE:
    case EVLOG_HEAP_PROF_SAMPLE_COST_CENTRE:
    case EVLOG_HEAP_PROF_SAMPLE_STRING:
    case EVLOG_PROF_SAMPLE_COST_CENTRE:
        return true;
    default:
        return false;
    }
}

int evlog_decode_fields(evlog_event_t *ev, bool var)
{
    const uint8_t *p = ev->payload;
    uint32_t n = ev->size, at;
    ev->known = false;
#define NEED(k)                                                                                    \
    do {                                                                                           \
        if (n < (k)) return var ? LP_EBAD_EVENT : 0;                                               \
    } while (0)
    switch (ev->type) {
    case EVLOG_CREATE_THREAD:
    case EVLOG_RUN_THREAD:
    case EVLOG_THREAD_RUNNABLE:
    case EVLOG_CREATE_SPARK_THREAD:
        NEED(4);
        ev->f.thread.tid = evlog_u32(p);
        break;
    case EVLOG_STOP_THREAD:
        NEED(10);
        ev->f.stop.tid = evlog_u32(p);
        ev->f.stop.status = evlog_u16(p + 4);
        ev->f.stop.blocked_on = evlog_u32(p + 6);
        break;
    case EVLOG_MIGRATE_THREAD:
    case EVLOG_THREAD_WAKEUP:
        NEED(6);
        ev->f.thread_cap.tid = evlog_u32(p);
        ev->f.thread_cap.cap = evlog_u16(p + 4);
        break;
    case EVLOG_THREAD_LABEL:
        NEED(4);
        ev->f.label.tid = evlog_u32(p);
        ev->f.label.text.p = p + 4;
        ev->f.label.text.len = n - 4;
        break;
    case EVLOG_LOG_MSG:
    case EVLOG_USER_MSG:
    case EVLOG_USER_MARKER:
    case EVLOG_USER_BINARY_MSG:
        ev->f.msg.text.p = p;
        ev->f.msg.text.len = n;
        break;
    case EVLOG_STARTUP:
    case EVLOG_SPARK_STEAL:
    case EVLOG_CAP_CREATE:
    case EVLOG_CAP_DELETE:
    case EVLOG_CAP_DISABLE:
    case EVLOG_CAP_ENABLE:
    case EVLOG_CONC_UPD_REM_SET_FLUSH:
        NEED(2);
        ev->f.cap.cap = evlog_u16(p);
        break;
    case EVLOG_CAPSET_CREATE:
        NEED(6);
        ev->f.capset_create.capset = evlog_u32(p);
        ev->f.capset_create.type = evlog_u16(p + 4);
        break;
    case EVLOG_CAPSET_DELETE:
        NEED(4);
        ev->f.capset.capset = evlog_u32(p);
        break;
    case EVLOG_CAPSET_ASSIGN_CAP:
    case EVLOG_CAPSET_REMOVE_CAP:
        NEED(6);
        ev->f.capset_cap.capset = evlog_u32(p);
        ev->f.capset_cap.cap = evlog_u16(p + 4);
        break;
    case EVLOG_RTS_IDENTIFIER:
    case EVLOG_PROGRAM_ARGS:
    case EVLOG_PROGRAM_ENV:
        NEED(4);
        ev->f.capset_text.capset = evlog_u32(p);
        ev->f.capset_text.text.p = p + 4;
        ev->f.capset_text.text.len = n - 4;
        break;
    case EVLOG_OSPROCESS_PID:
    case EVLOG_OSPROCESS_PPID:
        NEED(8);
        ev->f.pid.capset = evlog_u32(p);
        ev->f.pid.pid = evlog_u32(p + 4);
        break;
    case EVLOG_WALL_CLOCK_TIME:
        NEED(16);
        ev->f.wall.capset = evlog_u32(p);
        ev->f.wall.sec = evlog_u64(p + 4);
        ev->f.wall.nsec = evlog_u32(p + 12);
        break;
    case EVLOG_TASK_CREATE:
        NEED(18);
        ev->f.task_create.task = evlog_u64(p);
        ev->f.task_create.cap = evlog_u16(p + 8);
        ev->f.task_create.kernel_tid = evlog_u64(p + 10);
        break;
    case EVLOG_TASK_MIGRATE:
        NEED(12);
        ev->f.task_migrate.task = evlog_u64(p);
        ev->f.task_migrate.cap = evlog_u16(p + 8);
        ev->f.task_migrate.new_cap = evlog_u16(p + 10);
        break;
    case EVLOG_TASK_DELETE:
        NEED(8);
        ev->f.task_delete.task = evlog_u64(p);
        break;
    case EVLOG_SPARK_COUNTERS:
        NEED(56);
        for (int i = 0; i < 7; i++)
            ev->f.spark_counters.v[i] = evlog_u64(p + 8 * i);
        break;
    case EVLOG_HEAP_ALLOCATED:
    case EVLOG_HEAP_SIZE:
    case EVLOG_HEAP_LIVE:
        NEED(12);
        ev->f.heap.capset = evlog_u32(p);
        ev->f.heap.bytes = evlog_u64(p + 4);
        break;
    case EVLOG_HEAP_INFO_GHC:
        NEED(38);
        ev->f.heap_info.capset = evlog_u32(p);
        ev->f.heap_info.gens = evlog_u16(p + 4);
        ev->f.heap_info.max_heap = evlog_u64(p + 6);
        ev->f.heap_info.alloc_area = evlog_u64(p + 14);
        ev->f.heap_info.mblock = evlog_u64(p + 22);
        ev->f.heap_info.block = evlog_u64(p + 30);
        break;
    case EVLOG_GC_STATS_GHC:
        NEED(50);
        ev->f.gc_stats.capset = evlog_u32(p);
        ev->f.gc_stats.gen = evlog_u16(p + 4);
        ev->f.gc_stats.copied = evlog_u64(p + 6);
        ev->f.gc_stats.slop = evlog_u64(p + 14);
        ev->f.gc_stats.frag = evlog_u64(p + 22);
        ev->f.gc_stats.par_n_threads = evlog_u32(p + 30);
        ev->f.gc_stats.par_max_copied = evlog_u64(p + 34);
        ev->f.gc_stats.par_tot_copied = evlog_u64(p + 42);
        ev->f.gc_stats.has_balanced = n >= 58;
        ev->f.gc_stats.par_balanced_copied = n >= 58 ? evlog_u64(p + 50) : 0;
        break;
    case EVLOG_HEAP_PROF_BEGIN:
        NEED(13);
        ev->f.hp_begin.prof_id = p[0];
        ev->f.hp_begin.period = evlog_u64(p + 1);
        ev->f.hp_begin.breakdown = evlog_u32(p + 9);
        at = 13;
        for (int i = 0; i < 7; i++)
            if (!nul_str(p, n, &at, &ev->f.hp_begin.filter[i])) return LP_EBAD_EVENT;
        break;
    case EVLOG_HEAP_PROF_COST_CENTRE:
        NEED(4);
        ev->f.hp_cc.cc_id = evlog_u32(p);
        at = 4;
        if (!nul_str(p, n, &at, &ev->f.hp_cc.label) || !nul_str(p, n, &at, &ev->f.hp_cc.module) ||
            !nul_str(p, n, &at, &ev->f.hp_cc.srcloc) || at >= n)
            return LP_EBAD_EVENT;
        ev->f.hp_cc.flags = p[at];
        break;
    case EVLOG_HEAP_PROF_SAMPLE_BEGIN:
    case EVLOG_HEAP_PROF_SAMPLE_END:
        NEED(8);
        ev->f.era.era = evlog_u64(p);
        break;
    case EVLOG_HEAP_PROF_SAMPLE_COST_CENTRE:
        NEED(10);
        ev->f.hp_sample_cc.prof_id = p[0];
        ev->f.hp_sample_cc.residency = evlog_u64(p + 1);
        ev->f.hp_sample_cc.depth = p[9];
        if (n < 10 + 4u * p[9]) return LP_EBAD_EVENT;
        ev->f.hp_sample_cc.stack = p + 10;
        break;
    case EVLOG_HEAP_PROF_SAMPLE_STRING:
        NEED(9);
        ev->f.hp_sample_str.prof_id = p[0];
        ev->f.hp_sample_str.residency = evlog_u64(p + 1);
        at = 9;
        if (!nul_str(p, n, &at, &ev->f.hp_sample_str.label)) return LP_EBAD_EVENT;
        break;
    case EVLOG_HEAP_BIO_PROF_SAMPLE_BEGIN:
        NEED(16);
        ev->f.bio_begin.era = evlog_u64(p);
        ev->f.bio_begin.time = evlog_u64(p + 8);
        break;
    case EVLOG_PROF_SAMPLE_COST_CENTRE:
        NEED(13);
        ev->f.prof_sample.cap = evlog_u32(p);
        ev->f.prof_sample.ticks = evlog_u64(p + 4);
        ev->f.prof_sample.depth = p[12];
        if (n < 13 + 4u * p[12]) return LP_EBAD_EVENT;
        ev->f.prof_sample.stack = p + 13;
        break;
    case EVLOG_PROF_BEGIN:
        NEED(8);
        ev->f.prof_begin.tick_interval = evlog_u64(p);
        break;
    case EVLOG_CONC_MARK_END:
        NEED(4);
        ev->f.conc_mark_end.marked = evlog_u32(p);
        break;
    case EVLOG_NONMOVING_HEAP_CENSUS:
        NEED(13);
        ev->f.census.log2_blk_size = p[0];
        ev->f.census.active = evlog_u32(p + 1);
        ev->f.census.filled = evlog_u32(p + 5);
        ev->f.census.live = evlog_u32(p + 9);
        break;
    case EVLOG_BLOCK_MARKER:
        NEED(14);
        ev->f.block.size = evlog_u32(p);
        ev->f.block.end_time = evlog_u64(p + 4);
        ev->f.block.cap = evlog_u16(p + 12);
        break;
    case EVLOG_GC_START:
    case EVLOG_GC_END:
    case EVLOG_REQUEST_SEQ_GC:
    case EVLOG_REQUEST_PAR_GC:
    case EVLOG_GC_IDLE:
    case EVLOG_GC_WORK:
    case EVLOG_GC_DONE:
    case EVLOG_GC_GLOBAL_SYNC:
    case EVLOG_SPARK_CREATE:
    case EVLOG_SPARK_DUD:
    case EVLOG_SPARK_OVERFLOW:
    case EVLOG_SPARK_RUN:
    case EVLOG_SPARK_FIZZLE:
    case EVLOG_SPARK_GC:
    case EVLOG_CONC_MARK_BEGIN:
    case EVLOG_CONC_SYNC_BEGIN:
    case EVLOG_CONC_SYNC_END:
    case EVLOG_CONC_SWEEP_BEGIN:
    case EVLOG_CONC_SWEEP_END:
        break;
    default:
        return 0; /* declared, but no layout known here */
    }
#undef NEED
    ev->known = true;
    return 0;
}

int evlog_decode_one(const evlog_types_t *tt, const uint8_t *p, size_t avail, uint64_t off,
                     evlog_event_t *ev)
{
    if (avail < 2) return 0;
    uint16_t type = evlog_u16(p);
    int32_t size = tt->size[type];
    if (type == END_MARKER) return LP_EBAD_EVENT;
    if (size == EVLOG_UNDECLARED) return LP_EUNDECLARED_TYPE;
    size_t hdr = size == EVLOG_VAR_SIZE ? 12 : 10;
    if (avail < hdr) return 0;
    uint32_t len = size == EVLOG_VAR_SIZE ? evlog_u16(p + 10) : (uint32_t)size;
    if (avail < hdr + len) return 0;
    ev->type = type;
    ev->ts = evlog_u64(p + 2);
    ev->offset = off;
    ev->cap = EVLOG_NO_CAP;
    ev->size = len;
    ev->payload = p + hdr;
    int rc = evlog_decode_fields(ev, size == EVLOG_VAR_SIZE);
    if (rc < 0) return rc;
    return (int)(hdr + len);
}

/* ---- header ------------------------------------------------------------------------------- */

/* Parses a whole header from hdr[0..len). Returns its size, 0 if more bytes are needed, or
 * LP_EBAD_HEADER. With `emit`, fills the type table and reports types to the sink. */
static int parse_header(evlog_t *d, bool emit)
{
    const uint8_t *p = d->hdr;
    size_t n = d->hdr_len, at = 8;
    if (n < 8) return 0;
    if (evlog_u32(p) != HDRB || evlog_u32(p + 4) != HETB) return LP_EBAD_HEADER;
    if (emit) {
        for (size_t i = 0; i < 65536; i++)
            d->types->size[i] = EVLOG_UNDECLARED;
        d->types->count = 0;
    }
    for (;;) {
        if (n - at < 4) return 0;
        uint32_t m = evlog_u32(p + at);
        at += 4;
        if (m == HETE) break;
        if (m != ETB) return LP_EBAD_HEADER;
        if (n - at < 8) return 0;
        evlog_type_info_t t;
        t.num = evlog_u16(p + at);
        uint16_t sz = evlog_u16(p + at + 2);
        t.size = sz == 0xFFFF ? EVLOG_VAR_SIZE : sz;
        uint32_t dl = evlog_u32(p + at + 4);
        at += 8;
        if (n - at < (uint64_t)dl + 4) return 0;
        t.desc.p = p + at;
        t.desc.len = dl;
        at += dl;
        uint32_t xl = evlog_u32(p + at);
        at += 4;
        if (n - at < (uint64_t)xl + 4) return 0;
        at += xl;
        if (evlog_u32(p + at) != ETE) return LP_EBAD_HEADER;
        at += 4;
        if (emit) {
            if (t.num == END_MARKER) return LP_EBAD_HEADER;
            if (d->types->size[t.num] == EVLOG_UNDECLARED) d->types->count++;
            d->types->size[t.num] = t.size;
            if (d->headers == 0 && d->sink.on_type) {
                int rc = d->sink.on_type(d->sink.ctx, &t);
                if (rc < 0) return rc;
            }
        }
    }
    if (n - at < 8) return 0;
    if (evlog_u32(p + at) != HDRE || evlog_u32(p + at + 4) != DATB) return LP_EBAD_HEADER;
    return (int)(at + 8);
}

/* Appends header bytes; on a complete header switches to events and feeds the leftover. */
static int header_bytes(evlog_t *d, const uint8_t *buf, size_t len, size_t *used)
{
    /* Take the bytes in doubling steps: a header is a few KiB, the chunk may be many MiB. */
    size_t step = d->hdr_len > 4096 ? d->hdr_len : 4096;
    size_t take = len < step ? len : step;
    if (d->hdr_len + take > HEADER_MAX) take = HEADER_MAX - d->hdr_len;
    if (d->hdr_len + take > d->hdr_cap) {
        size_t cap = d->hdr_cap;
        while (cap < d->hdr_len + take)
            cap *= 2;
        uint8_t *nh = realloc(d->hdr, cap);
        if (!nh) return fail(d, LP_ENOMEM, d->pos, "out of memory", 0);
        d->hdr = nh;
        d->hdr_cap = cap;
    }
    memcpy(d->hdr + d->hdr_len, buf, take);
    d->hdr_len += take;
    *used = take;
    uint64_t hdr_off = d->pos - (d->hdr_len - take);
    int rc = parse_header(d, false);
    if (rc == 0 && d->hdr_len >= HEADER_MAX)
        return fail(d, LP_EHEADER_TOO_BIG, hdr_off, "header too large", 0);
    if (rc == 0) return 0;
    if (rc < 0) return fail(d, rc, hdr_off, "malformed header", 0);
    if (d->headers == 0 && d->junk) warn(d, EVLOG_WARN_SKIPPED, 0, d->junk);
    rc = parse_header(d, true);
    if (rc < 0) return fail(d, rc, hdr_off, "malformed header", 0);
    d->headers++;
    d->state = ST_EVENTS;
    d->block_cap = EVLOG_NO_CAP;
    d->block_left = 0;
    /* The bytes after the header in hdr[] belong to the event stream. */
    size_t extra = d->hdr_len - (size_t)rc;
    *used = take - extra;
    d->hdr_len = 0;
    return 0;
}

/* ---- events ------------------------------------------------------------------------------- */

/* How many bytes the item at p needs: a positive total when known, the negative of a minimum
 * when more bytes are needed to tell, NEED_HEADER for "hdrb", or an error code via *err. */
static long need_bytes(const evlog_t *d, const uint8_t *p, size_t avail, int *err)
{
    *err = 0;
    if (avail < 2) return -2;
    uint16_t type = evlog_u16(p);
    if (type == END_MARKER) return 2;
    int32_t size = d->types->size[type];
    if (size == EVLOG_UNDECLARED) {
        if (type == (HDRB >> 16)) {
            if (avail < 4) return -4;
            if (memcmp(p, hdrb_bytes, 4) == 0) return NEED_HEADER;
        }
        *err = LP_EUNDECLARED_TYPE;
        return 0;
    }
    if (size != EVLOG_VAR_SIZE) return 10 + size;
    if (avail < 12) return -12;
    return 12 + evlog_u16(p + 10);
}

/* Handles one whole item (event or end marker) at stream offset `off`. */
static int process(evlog_t *d, const uint8_t *p, size_t total, uint64_t off)
{
    if (total == 2 && evlog_u16(p) == END_MARKER) {
        if (d->block_left > 0 && !d->block_warned) warn(d, EVLOG_WARN_BLOCK_SIZE, d->block_off, 0);
        d->state = ST_AFTER_END;
        d->junk = 0;
        d->match = 0;
        return 0;
    }
    /* The caller found the whole event at p (its type declared, `total` bytes): fill the
     * event here rather than through evlog_decode_one, which would check all that again. */
    evlog_event_t ev;
    int rc = 0;
    bool var = d->types->size[evlog_u16(p)] == EVLOG_VAR_SIZE;
    ev.type = evlog_u16(p);
    ev.ts = evlog_u64(p + 2);
    ev.offset = off;
    ev.cap = EVLOG_NO_CAP;
    ev.known = false;
    ev.size = (uint32_t)total - (var ? 12u : 10u);
    ev.payload = p + (var ? 12 : 10);
    if ((!d->raw || ev.type == EVLOG_BLOCK_MARKER) && (rc = evlog_decode_fields(&ev, var)) < 0)
        return fail(d, rc, off, "malformed event of type %llu", evlog_u16(p));
    if (ev.type == EVLOG_BLOCK_MARKER && ev.known) {
        if (d->block_left > 0 && !d->block_warned) warn(d, EVLOG_WARN_BLOCK_SIZE, d->block_off, 0);
        d->block_left = (int64_t)ev.f.block.size - BLOCK_EVENT_SIZE;
        d->block_cap = ev.f.block.cap == 0xFFFF ? EVLOG_NO_CAP : ev.f.block.cap;
        d->block_off = off;
        d->block_warned = false;
        d->blocks++;
        ev.cap = EVLOG_NO_CAP;
    } else {
        /* ghc-events' rule: an event takes the block's cap while the block has bytes left. */
        ev.cap = d->block_cap;
        bool inside = d->block_left > 0;
        d->block_left -= (int64_t)total;
        if (inside && d->block_left < 0 && !d->block_warned) {
            warn(d, EVLOG_WARN_BLOCK_SIZE, d->block_off, 0);
            d->block_warned = true;
        }
        if (d->block_left <= 0) {
            d->block_cap = EVLOG_NO_CAP;
            d->block_left = 0;
        }
        d->events++;
    }
    if (d->sink.on_event) {
        rc = d->sink.on_event(d->sink.ctx, &ev);
        if (rc < 0)
            return fail(d, rc, off, "stopped by the consumer (%llu)", (unsigned long long)-rc);
    }
    return 0;
}

/* A header begins at stream offset `off` in the middle of the events. */
static void restart_header(evlog_t *d, uint64_t off, uint64_t junk)
{
    warn(d, EVLOG_WARN_HEADER_REPEAT, off, junk);
    d->state = ST_HEADER;
    d->hdr_len = 0;
}

static int events_bytes(evlog_t *d, const uint8_t *buf, size_t len, size_t *used)
{
    size_t i = 0;
    int err;
    if (d->carry_len) {
        for (;;) {
            long need = need_bytes(d, d->carry, d->carry_len, &err);
            if (err)
                return fail(d, err, d->carry_off, "undeclared event type %llu",
                            evlog_u16(d->carry));
            if (need == NEED_HEADER) {
                /* The carried bytes are the start of a header: move them over. */
                restart_header(d, d->carry_off, 0);
                memcpy(d->hdr, d->carry, d->carry_len);
                d->hdr_len = d->carry_len;
                d->carry_len = 0;
                *used = i; /* the bytes that completed "hdrb" are in hdr[] now */
                return 0;
            }
            size_t want = (size_t)(need < 0 ? -need : need);
            size_t take = want - d->carry_len;
            if (take > len - i) take = len - i;
            memcpy(d->carry + d->carry_len, buf + i, take);
            d->carry_len += take;
            i += take;
            if (d->carry_len < want) {
                *used = i;
                return 0;
            }
            if (need > 0) break;
        }
        size_t total = d->carry_len;
        d->carry_len = 0;
        int rc = process(d, d->carry, total, d->carry_off);
        if (rc < 0) return rc;
        if (d->state != ST_EVENTS) {
            *used = i;
            return 0;
        }
    }
    while (i < len) {
        const uint8_t *p = buf + i;
        size_t avail = len - i;
        long need;
        /* Fast path: a fixed-size declared event wholly in the buffer. */
        if (avail >= 12) {
            uint16_t type = evlog_u16(p);
            int32_t size = d->types->size[type];
            if (size >= 0 && type != END_MARKER)
                need = 10 + size;
            else
                need = need_bytes(d, p, avail, &err);
        } else {
            need = need_bytes(d, p, avail, &err);
        }
        if (need == 0 && err)
            return fail(d, err, d->pos + i, "undeclared event type %llu", evlog_u16(p));
        if (need == NEED_HEADER) {
            restart_header(d, d->pos + i, 0);
            break;
        }
        if (need < 0 || (size_t)need > avail) {
            memcpy(d->carry, p, avail);
            d->carry_len = avail;
            d->carry_off = d->pos + i;
            i = len;
            break;
        }
        int rc = process(d, p, (size_t)need, d->pos + i);
        if (rc < 0) return rc;
        i += (size_t)need;
        if (d->state != ST_EVENTS) break;
    }
    *used = i;
    return 0;
}

/* ---- seeking a header ---------------------------------------------------------------------- */

static int seek_bytes(evlog_t *d, const uint8_t *buf, size_t len, size_t *used)
{
    size_t i = 0;
    while (i < len) {
        if (d->match == 0) {
            const uint8_t *h = memchr(buf + i, 'h', len - i);
            if (!h) {
                d->junk += len - i;
                i = len;
                break;
            }
            d->junk += (size_t)(h - (buf + i));
            i = (size_t)(h - buf);
        }
        uint8_t c = buf[i++];
        if (c == hdrb_bytes[d->match]) {
            if (++d->match == 4) {
                uint64_t off = d->pos + i - 4;
                if (d->state == ST_AFTER_END) {
                    restart_header(d, off, d->junk);
                } else {
                    d->state = ST_HEADER;
                }
                memcpy(d->hdr, hdrb_bytes, 4);
                d->hdr_len = 4;
                d->match = 0;
                break;
            }
        } else {
            d->junk += d->match;
            d->match = 0;
            if (c == 'h')
                d->match = 1;
            else
                d->junk++;
        }
    }
    *used = i;
    return 0;
}

static int feed(evlog_t *d, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        size_t used = 0;
        int rc;
        switch (d->state) {
        case ST_SEEK:
        case ST_AFTER_END:
            rc = seek_bytes(d, buf, len, &used);
            break;
        case ST_HEADER:
            rc = header_bytes(d, buf, len, &used);
            break;
        case ST_EVENTS:
            rc = events_bytes(d, buf, len, &used);
            break;
        default:
            return d->err;
        }
        if (rc < 0) return rc;
        d->pos += used;
        buf += used;
        len -= used;
    }
    return 0;
}

int evlog_feed(evlog_t *d, const uint8_t *buf, size_t len)
{
    if (d->state == ST_FAILED) return d->err;
    return feed(d, buf, len);
}

int evlog_finish(evlog_t *d)
{
    switch (d->state) {
    case ST_FAILED:
        return d->err;
    case ST_SEEK:
        if (d->headers == 0) return fail(d, LP_ENO_HEADER, 0, "header begin marker not found", 0);
        return 0;
    case ST_HEADER:
        return fail(d, LP_ETRUNCATED, d->pos - d->hdr_len, "truncated header", 0);
    case ST_AFTER_END: {
        uint64_t n = d->junk + d->match;
        if (n) warn(d, EVLOG_WARN_TRAILING, d->pos - n, n);
        d->junk = 0;
        d->match = 0;
        return 0;
    }
    default:
        /* A stream that simply stops (mid-block too) is normal for live captures. */
        if (d->carry_len) return fail(d, LP_ETRUNCATED, d->carry_off, "truncated event", 0);
        return 0;
    }
}

const char *evlog_compression(const uint8_t *p, size_t n, const char **undo)
{
    static const struct {
        const char *magic;
        size_t len;
        const char *name, *undo;
    } formats[] = {
        {"\x1f\x8b", 2, "gzip", "gzip -dk"},
        {"\xfd"
         "7zXZ\0",
         6, "xz", "xz -dk"},
        {"\x28\xb5\x2f\xfd", 4, "zstd", "zstd -d"},
        {"BZh", 3, "bzip2", "bzip2 -dk"},
    };
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (n >= formats[i].len && !memcmp(p, formats[i].magic, formats[i].len)) {
            if (undo) *undo = formats[i].undo;
            return formats[i].name;
        }
    return NULL;
}

const char *evlog_error_text(const evlog_t *d)
{
    return d->err ? d->err_text : "";
}

uint64_t evlog_error_offset(const evlog_t *d)
{
    return d->err_off;
}

uint64_t evlog_events(const evlog_t *d)
{
    return d->events;
}

int evlog_headers(const evlog_t *d)
{
    return d->headers;
}

bool evlog_at_event(const evlog_t *d)
{
    return d->state == ST_EVENTS && d->headers == 1 && d->carry_len == 0;
}

const evlog_types_t *evlog_types(const evlog_t *d)
{
    return d->headers ? d->types : NULL;
}
