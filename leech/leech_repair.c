/* Leech stream repair: finds each session's header (dropping junk before it), keeps the first
 * header as the stream's, drops repeated ones, keeps init events seen anywhere (junk, global
 * blocks) and, when a run-time attach left the stream without them, inserts them (or made-up
 * ones, stamped 0) as a global block right after the header. */
#include "leech_repair.h"

#include "err.h"
#include "evwrite.h"

#include <stdlib.h>
#include <string.h>

enum { SEEK = 0, HEADER = 1, DATA = 2 };
#define PRE_MAX (8u << 20)
#define INIT_MAX (64u << 10)

int leech_repair_init(leech_repair_t *r, const leech_proc_t *proc)
{
    memset(r, 0, sizeof *r);
    r->session = -1;
    r->proc = *proc;
    return 0;
}

void leech_repair_dispose(leech_repair_t *r)
{
    if (r->dec_live) evlog_dispose(&r->dec);
    free(r->pre);
    free(r->hdr);
    free(r->init);
    memset(r, 0, sizeof *r);
}

const uint8_t *leech_repair_header(const leech_repair_t *r, size_t *len)
{
    *len = r->hdr_len;
    return r->hdr;
}

static bool is_init_type(uint16_t t)
{
    return t == EVLOG_CAPSET_CREATE || t == EVLOG_CAPSET_ASSIGN_CAP || t == EVLOG_RTS_IDENTIFIER ||
           t == EVLOG_PROGRAM_ARGS || t == EVLOG_OSPROCESS_PID || t == EVLOG_OSPROCESS_PPID ||
           t == EVLOG_WALL_CLOCK_TIME || t == EVLOG_CAP_CREATE || t == EVLOG_HEAP_INFO_GHC;
}

static void keep_init(leech_repair_t *r, const evlog_event_t *ev)
{
    size_t need = 14 + ev->size;
    if (r->init_len + need > INIT_MAX) return;
    if (r->init_len + need > r->init_cap) {
        size_t cap = r->init_cap ? r->init_cap * 2 : 4096;
        while (cap < r->init_len + need)
            cap *= 2;
        uint8_t *p = realloc(r->init, cap);
        if (!p) return;
        r->init = p;
        r->init_cap = cap;
    }
    uint8_t *p = r->init + r->init_len;
    memcpy(p, &ev->type, 2);
    memcpy(p + 2, &ev->ts, 8);
    memcpy(p + 10, &ev->size, 4);
    memcpy(p + 14, ev->payload, ev->size);
    r->init_len += need;
}

/* Walks the events in p[0..n) with the header's table, keeping init events; stops at the first
 * byte that is not an event. Returns whether a CapCreate was among them. */
static bool scan_init(leech_repair_t *r, const evlog_types_t *tt, const uint8_t *p, size_t n)
{
    bool caps = false;
    size_t at = 0;
    while (tt && at < n) {
        evlog_event_t ev;
        int k = evlog_decode_one(tt, p + at, n - at, at, &ev);
        if (k <= 0) break;
        if (is_init_type(ev.type)) {
            keep_init(r, &ev);
            caps |= ev.type == EVLOG_CAP_CREATE;
        }
        at += (size_t)k;
    }
    return caps;
}

/* Writes the kept init events into w, plus made-up ones (stamped 0) when no CapCreate was
 * among them. */
static int write_init(const leech_repair_t *r, evwrite_t *w, bool *made_up)
{
    uint64_t t0 = UINT64_MAX, t1 = 0;
    *made_up = true;
    for (size_t at = 0; at < r->init_len;) {
        uint16_t type;
        uint64_t ts;
        uint32_t len;
        memcpy(&type, r->init + at, 2);
        memcpy(&ts, r->init + at + 2, 8);
        memcpy(&len, r->init + at + 10, 4);
        t0 = ts < t0 ? ts : t0;
        t1 = ts > t1 ? ts : t1;
        *made_up &= type != EVLOG_CAP_CREATE;
        at += 14 + len;
    }
    int rc = evwrite_block_begin(w, 0xFFFF, *made_up || !r->init_len ? 0 : t0);
    for (size_t at = 0; rc == 0 && at < r->init_len;) {
        uint16_t type;
        uint64_t ts;
        uint32_t len;
        memcpy(&type, r->init + at, 2);
        memcpy(&ts, r->init + at + 2, 8);
        memcpy(&len, r->init + at + 10, 4);
        rc = evwrite_event(w, type, ts, r->init + at + 14, len);
        at += 14 + len;
    }
    if (rc == 0 && *made_up) {
        const leech_proc_t *p = &r->proc;
        rc = evwrite_capset_create(w, 0, 0, 2);
        if (rc == 0) rc = evwrite_capset_create(w, 0, 1, 3);
        if (rc == 0 && p->rts_id)
            rc = evwrite_capset_text(w, EVLOG_RTS_IDENTIFIER, 0, 0, p->rts_id, strlen(p->rts_id));
        if (rc == 0 && p->argc)
            rc = evwrite_capset_strings(w, EVLOG_PROGRAM_ARGS, 0, 0, p->argv, p->argc);
        if (rc == 0) rc = evwrite_pid(w, EVLOG_OSPROCESS_PID, 0, 0, p->pid);
        if (rc == 0) rc = evwrite_pid(w, EVLOG_OSPROCESS_PPID, 0, 0, p->ppid);
        for (uint32_t c = 0; rc == 0 && c < (p->ncaps ? p->ncaps : 1); c++) {
            rc = evwrite_cap(w, EVLOG_CAP_CREATE, 0, (uint16_t)c);
            if (rc == 0) rc = evwrite_capset_cap(w, EVLOG_CAPSET_ASSIGN_CAP, 0, 0, (uint16_t)c);
            if (rc == 0) rc = evwrite_capset_cap(w, EVLOG_CAPSET_ASSIGN_CAP, 0, 1, (uint16_t)c);
        }
    }
    if (rc == 0) rc = evwrite_block_end(w, t1);
    return rc;
}

int leech_repair_state(const leech_repair_t *r, uint8_t *out, size_t cap)
{
    evwrite_t w;
    if (evwrite_init(&w) < 0) return LP_ENOMEM;
    bool made_up;
    int rc = write_init(r, &w, &made_up);
    size_t n = 0;
    const uint8_t *p = evwrite_data(&w, &n);
    if (rc == 0 && n > cap) rc = LP_ERANGE;
    if (rc == 0) {
        memcpy(out, p, n);
        rc = (int)n;
    }
    evwrite_dispose(&w);
    return rc;
}

/* Appends n bytes at the stream's next offset as one out entry. */
static int emit(leech_repair_t *r, leech_queue_t *q, const uint8_t *p, size_t n, bool block)
{
    if (!n) return 0;
    lq_entry_t *e = leech_queue_entry(q, n);
    if (!e) return LP_ENOMEM;
    memcpy(e->data, p, n);
    e->offset = r->next_off;
    e->block_start = block;
    r->next_off += n;
    leech_queue_put_out(q, e);
    return 0;
}

static int on_event(void *ctx, const evlog_event_t *ev)
{
    leech_repair_t *r = ctx;
    if (r->first_event == UINT64_MAX) r->first_event = ev->offset;
    return LP_ECONFLICT; /* the header is all this decoder is for */
}

static int pre_append(leech_repair_t *r, const uint8_t *p, size_t n)
{
    if (r->pre_len + n > r->pre_cap) {
        size_t cap = r->pre_cap ? r->pre_cap : 65536;
        while (cap < r->pre_len + n)
            cap *= 2;
        uint8_t *np = realloc(r->pre, cap);
        if (!np) return LP_ENOMEM;
        r->pre = np;
        r->pre_cap = cap;
    }
    memcpy(r->pre + r->pre_len, p, n);
    r->pre_len += n;
    return 0;
}

/* The session's header is complete at pre[at .. at + hlen): take it, repair, pass the rest. */
static int header_done(leech_repair_t *r, leech_queue_t *q, size_t at, size_t hlen)
{
    const evlog_types_t *tt = evlog_types(&r->dec);
    bool caps =
        scan_init(r, tt, r->pre, at); /* junk before hdrb: init events of a deferred start */
    r->junk += at;
    int rc = 0;
    if (!r->hdr) {
        r->hdr = malloc(hlen);
        if (!r->hdr) return LP_ENOMEM;
        memcpy(r->hdr, r->pre + at, hlen);
        r->hdr_len = hlen;
        r->next_off = 0;
        rc = emit(r, q, r->hdr, hlen, false);
    } else {
        r->junk += hlen; /* a repeated header: the stream goes on without it */
    }
    if (rc == 0 && r->attached && !r->init_in_stream) {
        evwrite_t w;
        if (evwrite_init(&w) < 0) return LP_ENOMEM;
        bool made_up;
        rc = write_init(r, &w, &made_up);
        size_t n = 0;
        const uint8_t *p = evwrite_data(&w, &n);
        if (rc == 0) rc = emit(r, q, p, n, true);
        if (made_up) r->synthesized++;
        evwrite_dispose(&w);
        r->init_in_stream = true;
    }
    (void)caps;
    size_t rest = at + hlen;
    if (rc == 0 && rest < r->pre_len) rc = emit(r, q, r->pre + rest, r->pre_len - rest, false);
    r->pre_len = 0;
    r->state = DATA;
    return rc;
}

static int feed_header(leech_repair_t *r, leech_queue_t *q, size_t at)
{
    /* feed what is new since the last call; the decoder stops at the first event */
    if (r->hdr_fed < r->pre_len)
        (void)evlog_feed(&r->dec, r->pre + r->hdr_fed, r->pre_len - r->hdr_fed);
    r->hdr_fed = r->pre_len;
    if (!evlog_types(&r->dec)) {
        if (evlog_error_text(&r->dec)[0]) { /* not a header after all: pass it on as data */
            r->state = DATA;
            int rc = emit(r, q, r->pre + at, r->pre_len - at, false);
            r->junk += at;
            r->pre_len = 0;
            return rc;
        }
        return 0;
    }
    size_t hlen = r->first_event != UINT64_MAX ? (size_t)r->first_event : r->pre_len - at;
    if (hlen > r->pre_len - at) hlen = r->pre_len - at;
    return header_done(r, q, at, hlen);
}

static size_t find_hdrb(const uint8_t *p, size_t n)
{
    const uint8_t *h = memmem(p, n, "hdrb", 4);
    return h ? (size_t)(h - p) : SIZE_MAX;
}

/* Whether p starts with the block marker of a global (capability-less) block. */
static bool global_block(const leech_repair_t *r, const uint8_t *p, size_t n)
{
    const evlog_types_t *tt = r->dec_live ? evlog_types(&r->dec) : NULL;
    evlog_event_t ev;
    return tt && evlog_decode_one(tt, p, n, 0, &ev) > 0 && ev.type == EVLOG_BLOCK_MARKER &&
           ev.known && ev.f.block.cap == 0xFFFF;
}

bool leech_repair_can_pass(const leech_repair_t *r, int session, const uint8_t *p, size_t n)
{
    return r->state == DATA && session == r->session && n > 0 && !global_block(r, p, n);
}

uint64_t leech_repair_pass(leech_repair_t *r, size_t n)
{
    uint64_t off = r->next_off;
    r->next_off += n;
    return off;
}

int leech_repair_feed(leech_repair_t *r, lq_entry_t *e, int session, bool attached,
                      uint64_t dropped, leech_queue_t *q)
{
    int rc = 0;
    r->next_off += dropped; /* dropped whole buffers leave a jump: the sender reports the gap */
    if (session != r->session) {
        r->session = session;
        r->attached = attached;
        r->state = SEEK;
        r->pre_len = 0;
    }
    if (r->state == DATA) {
        if (global_block(r, e->data, e->len))
            r->init_in_stream |= scan_init(r, evlog_types(&r->dec), e->data, e->len);
        if (!e->len) {
            leech_queue_free(q, e);
            return 0;
        }
        /* in order already: the raw entry itself goes out, at the stream's next offset */
        e->offset = r->next_off;
        r->next_off += e->len;
        leech_queue_put_out(q, e);
        return 0;
    }
    if (r->pre_len + e->len > PRE_MAX) { /* no header in sight: drop what came before */
        r->junk += r->pre_len;
        r->pre_len = 0;
    }
    rc = pre_append(r, e->data, e->len);
    leech_queue_free(q, e);
    if (rc < 0) return rc;
    if (r->state == SEEK) {
        size_t at = find_hdrb(r->pre, r->pre_len);
        if (at == SIZE_MAX) return 0;
        if (r->dec_live) evlog_dispose(&r->dec);
        evlog_sink_t sink = {.on_event = on_event, .ctx = r};
        rc = evlog_init(&r->dec, &sink);
        if (rc < 0) return rc;
        r->dec_live = true;
        r->first_event = UINT64_MAX;
        r->state = HEADER;
        r->hdr_at = at;
        r->hdr_fed = at;
    }
    return feed_header(r, q, r->hdr_at);
}
