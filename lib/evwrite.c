/* Eventlog encoder: appends big-endian events to one buffer that is either the whole output
 * (memory mode) or written out in big chunks (fd/FILE mode); every helper funnels into put(),
 * which applies the declared size of the event's type. */
#include "evwrite.h"

#include "err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CHUNK ((size_t)4 << 20)
#define MARKER_PAYLOAD 14

static const evwrite_type_t ghc902_types[] = {
    {0, 4, "Create thread"},
    {1, 4, "Run thread"},
    {2, 10, "Stop thread"},
    {3, 4, "Thread runnable"},
    {4, 6, "Migrate thread"},
    {8, 6, "Wakeup thread"},
    {9, 0, "Starting GC"},
    {10, 0, "Finished GC"},
    {11, 0, "Request sequential GC"},
    {12, 0, "Request parallel GC"},
    {15, 4, "Create spark thread"},
    {16, EVLOG_VAR_SIZE, "Log message"},
    {18, 14, "Block marker"},
    {19, EVLOG_VAR_SIZE, "User message"},
    {20, 0, "GC idle"},
    {21, 0, "GC working"},
    {22, 0, "GC done"},
    {25, 6, "Create capability set"},
    {26, 4, "Delete capability set"},
    {27, 6, "Add capability to capability set"},
    {28, 6, "Remove capability from capability set"},
    {29, EVLOG_VAR_SIZE, "RTS name and version"},
    {30, EVLOG_VAR_SIZE, "Program arguments"},
    {31, EVLOG_VAR_SIZE, "Program environment variables"},
    {32, 8, "Process ID"},
    {33, 8, "Parent process ID"},
    {34, 56, "Spark counters"},
    {35, 0, "Spark create"},
    {36, 0, "Spark dud"},
    {37, 0, "Spark overflow"},
    {38, 0, "Spark run"},
    {39, 2, "Spark steal"},
    {40, 0, "Spark fizzle"},
    {41, 0, "Spark GC"},
    {43, 16, "Wall clock time"},
    {44, EVLOG_VAR_SIZE, "Thread label"},
    {45, 2, "Create capability"},
    {46, 2, "Delete capability"},
    {47, 2, "Disable capability"},
    {48, 2, "Enable capability"},
    {49, 12, "Total heap mem ever allocated"},
    {50, 12, "Current heap size"},
    {51, 12, "Current heap live data"},
    {52, 38, "Heap static parameters"},
    {53, 58, "GC statistics"},
    {54, 0, "Synchronise stop-the-world GC"},
    {55, 18, "Task create"},
    {56, 12, "Task migrate"},
    {57, 8, "Task delete"},
    {58, EVLOG_VAR_SIZE, "User marker"},
    {59, 0, "Empty event for bug #9003"},
    {160, EVLOG_VAR_SIZE, "Start of heap profile"},
    {161, EVLOG_VAR_SIZE, "Cost center definition"},
    {162, 8, "Start of heap profile sample"},
    {163, EVLOG_VAR_SIZE, "Heap profile cost-centre sample"},
    {164, EVLOG_VAR_SIZE, "Heap profile string sample"},
    {165, 8, "End of heap profile sample"},
    {166, 16, "Start of heap profile (biographical) sample"},
    {167, EVLOG_VAR_SIZE, "Time profile cost-centre stack"},
    {168, 8, "Start of a time profile"},
    {181, EVLOG_VAR_SIZE, "User binary message"},
    {200, 0, "Begin concurrent mark phase"},
    {201, 4, "End concurrent mark phase"},
    {202, 0, "Begin concurrent GC synchronisation"},
    {203, 0, "End concurrent GC synchronisation"},
    {204, 0, "Begin concurrent sweep"},
    {205, 0, "End concurrent sweep"},
    {206, 2, "Update remembered set flushed"},
    {207, 13, "Nonmoving heap census"}};

const evwrite_type_t *evwrite_default_types(size_t *n)
{
    *n = sizeof ghc902_types / sizeof ghc902_types[0];
    return ghc902_types;
}

static inline uint8_t *be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static inline uint8_t *be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

static inline uint8_t *be64(uint8_t *p, uint64_t v)
{
    be32(p, (uint32_t)(v >> 32));
    return be32(p + 4, (uint32_t)v);
}

static int fail(evwrite_t *w, int code)
{
    if (!w->err) w->err = code;
    return w->err;
}

/* Makes room for `need` more bytes. */
static int grow(evwrite_t *w, size_t need)
{
    if (w->err) return w->err;
    if (need > SIZE_MAX / 2 - w->len) return fail(w, LP_ENOMEM);
    size_t cap = w->cap ? w->cap : 4096;
    while (cap - w->len < need)
        cap *= 2;
    uint8_t *nb = realloc(w->buf, cap);
    if (!nb) return fail(w, LP_ENOMEM);
    w->buf = nb;
    w->cap = cap;
    return 0;
}

static inline int reserve(evwrite_t *w, size_t need)
{
    if (w->cap - w->len >= need) return 0;
    return grow(w, need);
}

/* Writes p[0..n) to the sink. */
static int sink_write(evwrite_t *w, const uint8_t *p, size_t n)
{
    if (w->file) return fwrite(p, 1, n, w->file) == n ? 0 : fail(w, LP_EIO);
    while (n) {
        ssize_t r = write(w->fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return fail(w, LP_EIO);
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Writes buf[0..n) to the sink and drops it from the buffer. */
static int sink_out(evwrite_t *w, size_t n)
{
    if (sink_write(w, w->buf, n)) return w->err;
    memmove(w->buf, w->buf + n, w->len - n);
    w->len -= n;
    w->flushed += n;
    if (w->in_block) {
        w->block_pos -= n;
        w->block_fix -= n;
    }
    return 0;
}

static int maybe_flush(evwrite_t *w)
{
    size_t ready = w->in_block ? w->block_pos : w->len;
    if (ready < w->flush_at) return 0;
    return sink_out(w, ready);
}

static int setup(evwrite_t *w, int fd, FILE *f, size_t buffer)
{
    memset(w, 0, sizeof *w);
    w->fd = fd;
    w->file = f;
    w->flush_at = (fd >= 0 || f) ? (buffer ? buffer : DEFAULT_CHUNK) : SIZE_MAX;
    w->sizes = malloc(65536 * sizeof *w->sizes);
    if (!w->sizes) return LP_ENOMEM;
    if (w->flush_at != SIZE_MAX && grow(w, w->flush_at + 4096)) {
        free(w->sizes);
        w->sizes = NULL;
        return LP_ENOMEM;
    }
    size_t n;
    const evwrite_type_t *t = evwrite_default_types(&n);
    return evwrite_declare(w, t, n);
}

int evwrite_init(evwrite_t *w)
{
    return setup(w, -1, NULL, 0);
}

int evwrite_init_fd(evwrite_t *w, int fd, size_t buffer)
{
    if (fd < 0) return LP_EARG;
    return setup(w, fd, NULL, buffer);
}

int evwrite_init_file(evwrite_t *w, FILE *f, size_t buffer)
{
    if (!f) return LP_EARG;
    return setup(w, -1, f, buffer);
}

void evwrite_dispose(evwrite_t *w)
{
    free(w->buf);
    free(w->sizes);
    w->buf = NULL;
    w->sizes = NULL;
    w->len = w->cap = 0;
}

int evwrite_declare(evwrite_t *w, const evwrite_type_t *types, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (types[i].size != EVLOG_VAR_SIZE && (types[i].size < 0 || types[i].size > 65534))
            return LP_EARG;
    for (size_t i = 0; i < 65536; i++)
        w->sizes[i] = EVLOG_UNDECLARED;
    for (size_t i = 0; i < n; i++)
        w->sizes[types[i].num] = types[i].size;
    return 0;
}

int evwrite_raw(evwrite_t *w, const void *p, size_t n)
{
    if (w->err || reserve(w, n)) return w->err;
    if (n) memcpy(w->buf + w->len, p, n);
    w->len += n;
    return maybe_flush(w);
}

static int put_u32(evwrite_t *w, uint32_t v)
{
    uint8_t b[4];
    be32(b, v);
    return evwrite_raw(w, b, 4);
}

int evwrite_header(evwrite_t *w, const evwrite_type_t *types, size_t n)
{
    if (w->err) return w->err;
    if (!types) types = evwrite_default_types(&n);
    int rc = evwrite_declare(w, types, n);
    if (rc) return rc;
    put_u32(w, 0x68647262); /* hdrb */
    put_u32(w, 0x68657462); /* hetb */
    for (size_t i = 0; i < n; i++) {
        uint8_t b[12];
        size_t dl = types[i].desc ? strlen(types[i].desc) : 0;
        be32(b, 0x65746200); /* etb\0 */
        be16(b + 4, types[i].num);
        be16(b + 6, types[i].size == EVLOG_VAR_SIZE ? 0xFFFF : (uint16_t)types[i].size);
        be32(b + 8, (uint32_t)dl);
        evwrite_raw(w, b, 12);
        evwrite_raw(w, types[i].desc, dl);
        put_u32(w, types[i].extra_len);
        evwrite_raw(w, types[i].extra, types[i].extra_len);
        put_u32(w, 0x65746500); /* ete\0 */
    }
    put_u32(w, 0x68657465);        /* hete */
    put_u32(w, 0x68647265);        /* hdre */
    return put_u32(w, 0x64617462); /* datb */
}

/* Appends one event with natural payload p[0..n), adapted to the declared size of `type`. */
static inline int put(evwrite_t *w, uint16_t type, uint64_t ts, const uint8_t *p, size_t n)
{
    if (w->err) return w->err;
    int32_t s = w->sizes[type];
    size_t head = 10, body;
    if (s >= 0) {
        body = (size_t)s;
    } else if (s == EVLOG_VAR_SIZE) {
        if (n > 65535) return fail(w, LP_ERANGE);
        head = 12;
        body = n;
    } else {
        return fail(w, LP_EUNDECLARED_TYPE);
    }
    if (reserve(w, head + body)) return w->err;
    uint8_t *o = be64(be16(w->buf + w->len, type), ts);
    if (head == 12) o = be16(o, (uint16_t)n);
    size_t c = body < n ? body : n;
    if (c) memcpy(o, p, c);
    if (body > c) memset(o + c, 0, body - c);
    w->len += head + body;
    w->events++;
    if (w->len >= w->flush_at) return maybe_flush(w);
    return 0;
}

int evwrite_event(evwrite_t *w, uint16_t type, uint64_t ts, const void *p, size_t n)
{
    return put(w, type, ts, p, n);
}

int evwrite_block_begin(evwrite_t *w, uint16_t cap, uint64_t ts)
{
    if (w->err) return w->err;
    if (w->in_block) return fail(w, LP_EARG);
    int32_t s = w->sizes[EVLOG_BLOCK_MARKER];
    if (s == EVLOG_UNDECLARED) return fail(w, LP_EUNDECLARED_TYPE);
    if (s != EVLOG_VAR_SIZE && s < MARKER_PAYLOAD) return fail(w, LP_EARG);
    uint8_t p[MARKER_PAYLOAD] = {0};
    be16(p + 12, cap);
    w->in_block = true;
    w->block_pos = w->len;
    w->block_fix = w->len + (s == EVLOG_VAR_SIZE ? 12 : 10);
    uint64_t events = w->events; /* a marker is not an event */
    int rc = put(w, EVLOG_BLOCK_MARKER, ts, p, sizeof p);
    w->events = events;
    return rc;
}

int evwrite_block_end(evwrite_t *w, uint64_t end_ts)
{
    if (w->err) return w->err;
    if (!w->in_block) return fail(w, LP_EARG);
    size_t size = w->len - w->block_pos;
    if (size > UINT32_MAX) return fail(w, LP_ERANGE);
    be64(be32(w->buf + w->block_fix, (uint32_t)size), end_ts);
    w->in_block = false;
    return maybe_flush(w);
}

size_t evwrite_block_len(const evwrite_t *w)
{
    return w->in_block ? w->len - w->block_pos : 0;
}

int evwrite_end(evwrite_t *w)
{
    if (w->err) return w->err;
    if (w->in_block) return fail(w, LP_EARG);
    static const uint8_t end[2] = {0xFF, 0xFF};
    return evwrite_raw(w, end, 2);
}

int evwrite_flush(evwrite_t *w)
{
    if (w->err || w->flush_at == SIZE_MAX) return w->err;
    size_t ready = w->in_block ? w->block_pos : w->len;
    if (ready && sink_out(w, ready)) return w->err;
    if (w->file && fflush(w->file) != 0) return fail(w, LP_EIO);
    return 0;
}

int evwrite_splice(evwrite_t *dst, evwrite_t *src)
{
    if (dst->err) return dst->err;
    if (src->err) return fail(dst, src->err);
    if (src->in_block) return fail(dst, LP_EARG);
    int rc;
    if (dst->flush_at != SIZE_MAX && !dst->in_block && src->len >= dst->flush_at / 2) {
        /* big and going to a sink: write it straight out rather than copy it */
        rc = dst->len ? sink_out(dst, dst->len) : 0;
        if (!rc && !sink_write(dst, src->buf, src->len)) dst->flushed += src->len;
        rc = dst->err;
    } else {
        rc = evwrite_raw(dst, src->buf, src->len);
    }
    dst->events += src->events;
    src->events = 0;
    src->len = 0;
    return rc;
}

uint64_t evwrite_bytes(const evwrite_t *w)
{
    return w->flushed + w->len;
}

uint64_t evwrite_events(const evwrite_t *w)
{
    return w->events;
}

int evwrite_error(const evwrite_t *w)
{
    return w->err;
}

const uint8_t *evwrite_data(const evwrite_t *w, size_t *len)
{
    *len = w->len;
    return w->buf;
}

uint8_t *evwrite_take(evwrite_t *w, size_t *len)
{
    uint8_t *b = w->len ? w->buf : NULL;
    *len = w->len;
    if (!b) free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
    w->flushed = w->events = 0;
    w->in_block = false;
    return b;
}

/* ---- typed helpers ---- */

static int wrong_type(evwrite_t *w)
{
    return fail(w, LP_EARG);
}

int evwrite_thread(evwrite_t *w, uint16_t type, uint64_t ts, uint32_t tid)
{
    if (type != EVLOG_CREATE_THREAD && type != EVLOG_RUN_THREAD && type != EVLOG_THREAD_RUNNABLE &&
        type != EVLOG_CREATE_SPARK_THREAD)
        return wrong_type(w);
    uint8_t p[4];
    be32(p, tid);
    return put(w, type, ts, p, sizeof p);
}

int evwrite_stop_thread(evwrite_t *w, uint64_t ts, uint32_t tid, uint16_t status,
                        uint32_t blocked_on)
{
    uint8_t p[10];
    be32(be16(be32(p, tid), status), blocked_on);
    return put(w, EVLOG_STOP_THREAD, ts, p, sizeof p);
}

int evwrite_thread_cap(evwrite_t *w, uint16_t type, uint64_t ts, uint32_t tid, uint16_t cap)
{
    if (type != EVLOG_MIGRATE_THREAD && type != EVLOG_THREAD_WAKEUP) return wrong_type(w);
    uint8_t p[6];
    be16(be32(p, tid), cap);
    return put(w, type, ts, p, sizeof p);
}

/* A payload being assembled: on the stack when small, on the heap beyond that. */
typedef struct pbuf {
    uint8_t *p;
    size_t len, cap;
    int err;
    uint8_t small[256];
} pbuf_t;

static void pb_init(pbuf_t *b)
{
    b->p = b->small;
    b->len = 0;
    b->cap = sizeof b->small;
    b->err = 0;
}

static void pb_add(pbuf_t *b, const void *s, size_t n)
{
    if (b->err || !n) return;
    if (n > 65535 - b->len) {
        b->err = LP_ERANGE; /* no variable payload is longer */
        return;
    }
    if (b->cap - b->len < n) {
        size_t cap = b->cap;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *np = malloc(cap);
        if (!np) {
            b->err = LP_ENOMEM;
            return;
        }
        memcpy(np, b->p, b->len);
        if (b->p != b->small) free(b->p);
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* Appends C string `s` (NULL = empty) with its NUL. */
static void pb_str(pbuf_t *b, const char *s)
{
    pb_add(b, s ? s : "", s ? strlen(s) + 1 : 1);
}

static void pb_be(pbuf_t *b, uint64_t v, int bytes)
{
    uint8_t t[8];
    for (int i = 0; i < bytes; i++)
        t[i] = (uint8_t)(v >> 8 * (bytes - 1 - i));
    pb_add(b, t, (size_t)bytes);
}

/* Writes the assembled payload as one event and frees it. */
static int pb_put(evwrite_t *w, uint16_t type, uint64_t ts, pbuf_t *b)
{
    int rc = b->err ? fail(w, b->err) : put(w, type, ts, b->p, b->len);
    if (b->p != b->small) free(b->p);
    return rc;
}

/* Writes `hn` bytes of `head` then `text` as one payload. */
static int put2(evwrite_t *w, uint16_t type, uint64_t ts, const uint8_t *head, size_t hn,
                const void *text, size_t len)
{
    pbuf_t b;
    pb_init(&b);
    pb_add(&b, head, hn);
    pb_add(&b, text, len);
    return pb_put(w, type, ts, &b);
}

int evwrite_thread_label(evwrite_t *w, uint64_t ts, uint32_t tid, const void *label, size_t len)
{
    uint8_t p[4];
    be32(p, tid);
    return put2(w, EVLOG_THREAD_LABEL, ts, p, 4, label, len);
}

/* True when `type` is one of the n type numbers in `set` (all below 256). */
static bool one_of(uint16_t type, const uint8_t *set, size_t n)
{
    return type < 256 && memchr(set, type, n) != NULL;
}

int evwrite_empty(evwrite_t *w, uint16_t type, uint64_t ts)
{
    static const uint8_t empty[] = {
        EVLOG_GC_START,        EVLOG_GC_END,        EVLOG_REQUEST_SEQ_GC,   EVLOG_REQUEST_PAR_GC,
        EVLOG_GC_IDLE,         EVLOG_GC_WORK,       EVLOG_GC_DONE,          EVLOG_GC_GLOBAL_SYNC,
        EVLOG_SPARK_CREATE,    EVLOG_SPARK_DUD,     EVLOG_SPARK_OVERFLOW,   EVLOG_SPARK_RUN,
        EVLOG_SPARK_FIZZLE,    EVLOG_SPARK_GC,      EVLOG_HACK_BUG_T9003,   EVLOG_CONC_MARK_BEGIN,
        EVLOG_CONC_SYNC_BEGIN, EVLOG_CONC_SYNC_END, EVLOG_CONC_SWEEP_BEGIN, EVLOG_CONC_SWEEP_END};
    if (!one_of(type, empty, sizeof empty)) return wrong_type(w);
    return put(w, type, ts, (const uint8_t *)"", 0);
}

int evwrite_msg(evwrite_t *w, uint16_t type, uint64_t ts, const void *text, size_t len)
{
    if (type != EVLOG_LOG_MSG && type != EVLOG_USER_MSG && type != EVLOG_USER_MARKER &&
        type != EVLOG_USER_BINARY_MSG)
        return wrong_type(w);
    return put(w, type, ts, text, len);
}

int evwrite_cap(evwrite_t *w, uint16_t type, uint64_t ts, uint16_t cap)
{
    static const uint8_t cap_types[] = {EVLOG_STARTUP,
                                        EVLOG_SPARK_STEAL,
                                        EVLOG_CAP_CREATE,
                                        EVLOG_CAP_DELETE,
                                        EVLOG_CAP_DISABLE,
                                        EVLOG_CAP_ENABLE,
                                        EVLOG_CONC_UPD_REM_SET_FLUSH};
    if (!one_of(type, cap_types, sizeof cap_types)) return wrong_type(w);
    uint8_t p[2];
    be16(p, cap);
    return put(w, type, ts, p, sizeof p);
}

int evwrite_capset_create(evwrite_t *w, uint64_t ts, uint32_t capset, uint16_t capset_type)
{
    uint8_t p[6];
    be16(be32(p, capset), capset_type);
    return put(w, EVLOG_CAPSET_CREATE, ts, p, sizeof p);
}

int evwrite_capset_delete(evwrite_t *w, uint64_t ts, uint32_t capset)
{
    uint8_t p[4];
    be32(p, capset);
    return put(w, EVLOG_CAPSET_DELETE, ts, p, sizeof p);
}

int evwrite_capset_cap(evwrite_t *w, uint16_t type, uint64_t ts, uint32_t capset, uint16_t cap)
{
    if (type != EVLOG_CAPSET_ASSIGN_CAP && type != EVLOG_CAPSET_REMOVE_CAP) return wrong_type(w);
    uint8_t p[6];
    be16(be32(p, capset), cap);
    return put(w, type, ts, p, sizeof p);
}

int evwrite_capset_text(evwrite_t *w, uint16_t type, uint64_t ts, uint32_t capset, const void *text,
                        size_t len)
{
    if (type != EVLOG_RTS_IDENTIFIER && type != EVLOG_PROGRAM_ARGS && type != EVLOG_PROGRAM_ENV)
        return wrong_type(w);
    uint8_t p[4];
    be32(p, capset);
    return put2(w, type, ts, p, 4, text, len);
}

int evwrite_capset_strings(evwrite_t *w, uint16_t type, uint64_t ts, uint32_t capset,
                           const char *const *strs, size_t n)
{
    if (type != EVLOG_PROGRAM_ARGS && type != EVLOG_PROGRAM_ENV) return wrong_type(w);
    pbuf_t b;
    pb_init(&b);
    pb_be(&b, capset, 4);
    for (size_t i = 0; i < n; i++)
        pb_str(&b, strs[i]);
    return pb_put(w, type, ts, &b);
}

int evwrite_pid(evwrite_t *w, uint16_t type, uint64_t ts, uint32_t capset, uint32_t pid)
{
    if (type != EVLOG_OSPROCESS_PID && type != EVLOG_OSPROCESS_PPID) return wrong_type(w);
    uint8_t p[8];
    be32(be32(p, capset), pid);
    return put(w, type, ts, p, sizeof p);
}

int evwrite_wall_clock(evwrite_t *w, uint64_t ts, uint32_t capset, uint64_t sec, uint32_t nsec)
{
    uint8_t p[16];
    be32(be64(be32(p, capset), sec), nsec);
    return put(w, EVLOG_WALL_CLOCK_TIME, ts, p, sizeof p);
}

int evwrite_task_create(evwrite_t *w, uint64_t ts, uint64_t task, uint16_t cap, uint64_t kernel_tid)
{
    uint8_t p[18];
    be64(be16(be64(p, task), cap), kernel_tid);
    return put(w, EVLOG_TASK_CREATE, ts, p, sizeof p);
}

int evwrite_task_migrate(evwrite_t *w, uint64_t ts, uint64_t task, uint16_t cap, uint16_t new_cap)
{
    uint8_t p[12];
    be16(be16(be64(p, task), cap), new_cap);
    return put(w, EVLOG_TASK_MIGRATE, ts, p, sizeof p);
}

int evwrite_task_delete(evwrite_t *w, uint64_t ts, uint64_t task)
{
    uint8_t p[8];
    be64(p, task);
    return put(w, EVLOG_TASK_DELETE, ts, p, sizeof p);
}

int evwrite_spark_counters(evwrite_t *w, uint64_t ts, const uint64_t v[7])
{
    uint8_t p[56];
    for (int i = 0; i < 7; i++)
        be64(p + 8 * i, v[i]);
    return put(w, EVLOG_SPARK_COUNTERS, ts, p, sizeof p);
}

int evwrite_heap(evwrite_t *w, uint16_t type, uint64_t ts, uint32_t capset, uint64_t bytes)
{
    if (type != EVLOG_HEAP_ALLOCATED && type != EVLOG_HEAP_SIZE && type != EVLOG_HEAP_LIVE)
        return wrong_type(w);
    uint8_t p[12];
    be64(be32(p, capset), bytes);
    return put(w, type, ts, p, sizeof p);
}

int evwrite_heap_info(evwrite_t *w, uint64_t ts, uint32_t capset, uint16_t gens, uint64_t max_heap,
                      uint64_t alloc_area, uint64_t mblock, uint64_t block)
{
    uint8_t p[38];
    be64(be64(be64(be64(be16(be32(p, capset), gens), max_heap), alloc_area), mblock), block);
    return put(w, EVLOG_HEAP_INFO_GHC, ts, p, sizeof p);
}

int evwrite_gc_stats(evwrite_t *w, uint64_t ts, uint32_t capset, uint16_t gen, uint64_t copied,
                     uint64_t slop, uint64_t frag, uint32_t par_n_threads, uint64_t par_max_copied,
                     uint64_t par_tot_copied, uint64_t par_balanced_copied)
{
    uint8_t p[58];
    uint8_t *o = be64(be64(be64(be16(be32(p, capset), gen), copied), slop), frag);
    be64(be64(be64(be32(o, par_n_threads), par_max_copied), par_tot_copied), par_balanced_copied);
    return put(w, EVLOG_GC_STATS_GHC, ts, p, sizeof p);
}

int evwrite_hp_begin(evwrite_t *w, uint64_t ts, uint8_t prof_id, uint64_t period,
                     uint32_t breakdown, const char *const *filter)
{
    pbuf_t b;
    pb_init(&b);
    pb_be(&b, prof_id, 1);
    pb_be(&b, period, 8);
    pb_be(&b, breakdown, 4);
    for (int i = 0; i < 7; i++)
        pb_str(&b, filter ? filter[i] : NULL);
    return pb_put(w, EVLOG_HEAP_PROF_BEGIN, ts, &b);
}

int evwrite_hp_cost_centre(evwrite_t *w, uint64_t ts, uint32_t cc_id, const char *label,
                           const char *module, const char *srcloc, uint8_t flags)
{
    pbuf_t b;
    pb_init(&b);
    pb_be(&b, cc_id, 4);
    pb_str(&b, label);
    pb_str(&b, module);
    pb_str(&b, srcloc);
    pb_be(&b, flags, 1);
    return pb_put(w, EVLOG_HEAP_PROF_COST_CENTRE, ts, &b);
}

int evwrite_era(evwrite_t *w, uint16_t type, uint64_t ts, uint64_t era)
{
    if (type != EVLOG_HEAP_PROF_SAMPLE_BEGIN && type != EVLOG_HEAP_PROF_SAMPLE_END)
        return wrong_type(w);
    uint8_t p[8];
    be64(p, era);
    return put(w, type, ts, p, sizeof p);
}

int evwrite_hp_sample_cc(evwrite_t *w, uint64_t ts, uint8_t prof_id, uint64_t residency,
                         uint8_t depth, const uint32_t *stack)
{
    uint8_t b[1 + 8 + 1 + 4 * 255], *o = b;
    *o++ = prof_id;
    o = be64(o, residency);
    *o++ = depth;
    for (unsigned i = 0; i < depth; i++)
        o = be32(o, stack[i]);
    return put(w, EVLOG_HEAP_PROF_SAMPLE_COST_CENTRE, ts, b, (size_t)(o - b));
}

int evwrite_hp_sample_string(evwrite_t *w, uint64_t ts, uint8_t prof_id, uint64_t residency,
                             const char *label)
{
    pbuf_t b;
    pb_init(&b);
    pb_be(&b, prof_id, 1);
    pb_be(&b, residency, 8);
    pb_str(&b, label);
    return pb_put(w, EVLOG_HEAP_PROF_SAMPLE_STRING, ts, &b);
}

int evwrite_bio_begin(evwrite_t *w, uint64_t ts, uint64_t era, uint64_t time)
{
    uint8_t p[16];
    be64(be64(p, era), time);
    return put(w, EVLOG_HEAP_BIO_PROF_SAMPLE_BEGIN, ts, p, sizeof p);
}

int evwrite_prof_sample(evwrite_t *w, uint64_t ts, uint32_t cap, uint64_t ticks, uint8_t depth,
                        const uint32_t *stack)
{
    uint8_t b[4 + 8 + 1 + 4 * 255], *o = be64(be32(b, cap), ticks);
    *o++ = depth;
    for (unsigned i = 0; i < depth; i++)
        o = be32(o, stack[i]);
    return put(w, EVLOG_PROF_SAMPLE_COST_CENTRE, ts, b, (size_t)(o - b));
}

int evwrite_prof_begin(evwrite_t *w, uint64_t ts, uint64_t tick_interval)
{
    uint8_t p[8];
    be64(p, tick_interval);
    return put(w, EVLOG_PROF_BEGIN, ts, p, sizeof p);
}

int evwrite_conc_mark_end(evwrite_t *w, uint64_t ts, uint32_t marked)
{
    uint8_t p[4];
    be32(p, marked);
    return put(w, EVLOG_CONC_MARK_END, ts, p, sizeof p);
}

int evwrite_census(evwrite_t *w, uint64_t ts, uint8_t log2_blk_size, uint32_t active,
                   uint32_t filled, uint32_t live)
{
    uint8_t p[13];
    p[0] = log2_blk_size;
    be32(be32(be32(p + 1, active), filled), live);
    return put(w, EVLOG_NONMOVING_HEAP_CENSUS, ts, p, sizeof p);
}
