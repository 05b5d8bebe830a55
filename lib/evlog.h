/* Streaming GHC eventlog decoder: fed arbitrary chunks, it emits typed events with their
 * capability, decoded fields and stream offset, using the sizes the header declares. It never
 * allocates per event; bad input yields an error with a byte offset, never a crash. */
#ifndef LP_EVLOG_H
#define LP_EVLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVLOG_NO_CAP (-1)
#define EVLOG_VAR_SIZE (-1)   /* header size of a variable-size type */
#define EVLOG_UNDECLARED (-2) /* type not declared in the header */
#define EVLOG_MAX_EVENT (2 + 8 + 2 + 65535)

/* Event type numbers (EventLogFormat.h). */
enum evlog_type {
    EVLOG_CREATE_THREAD = 0,
    EVLOG_RUN_THREAD = 1,
    EVLOG_STOP_THREAD = 2,
    EVLOG_THREAD_RUNNABLE = 3,
    EVLOG_MIGRATE_THREAD = 4,
    EVLOG_THREAD_WAKEUP = 8,
    EVLOG_GC_START = 9,
    EVLOG_GC_END = 10,
    EVLOG_REQUEST_SEQ_GC = 11,
    EVLOG_REQUEST_PAR_GC = 12,
    EVLOG_CREATE_SPARK_THREAD = 15,
    EVLOG_LOG_MSG = 16,
    EVLOG_STARTUP = 17,
    EVLOG_BLOCK_MARKER = 18,
    EVLOG_USER_MSG = 19,
    EVLOG_GC_IDLE = 20,
    EVLOG_GC_WORK = 21,
    EVLOG_GC_DONE = 22,
    EVLOG_CAPSET_CREATE = 25,
    EVLOG_CAPSET_DELETE = 26,
    EVLOG_CAPSET_ASSIGN_CAP = 27,
    EVLOG_CAPSET_REMOVE_CAP = 28,
    EVLOG_RTS_IDENTIFIER = 29,
    EVLOG_PROGRAM_ARGS = 30,
    EVLOG_PROGRAM_ENV = 31,
    EVLOG_OSPROCESS_PID = 32,
    EVLOG_OSPROCESS_PPID = 33,
    EVLOG_SPARK_COUNTERS = 34,
    EVLOG_SPARK_CREATE = 35,
    EVLOG_SPARK_DUD = 36,
    EVLOG_SPARK_OVERFLOW = 37,
    EVLOG_SPARK_RUN = 38,
    EVLOG_SPARK_STEAL = 39,
    EVLOG_SPARK_FIZZLE = 40,
    EVLOG_SPARK_GC = 41,
    EVLOG_WALL_CLOCK_TIME = 43,
    EVLOG_THREAD_LABEL = 44,
    EVLOG_CAP_CREATE = 45,
    EVLOG_CAP_DELETE = 46,
    EVLOG_CAP_DISABLE = 47,
    EVLOG_CAP_ENABLE = 48,
    EVLOG_HEAP_ALLOCATED = 49,
    EVLOG_HEAP_SIZE = 50,
    EVLOG_HEAP_LIVE = 51,
    EVLOG_HEAP_INFO_GHC = 52,
    EVLOG_GC_STATS_GHC = 53,
    EVLOG_GC_GLOBAL_SYNC = 54,
    EVLOG_TASK_CREATE = 55,
    EVLOG_TASK_MIGRATE = 56,
    EVLOG_TASK_DELETE = 57,
    EVLOG_USER_MARKER = 58,
    EVLOG_HACK_BUG_T9003 = 59,
    EVLOG_HEAP_PROF_BEGIN = 160,
    EVLOG_HEAP_PROF_COST_CENTRE = 161,
    EVLOG_HEAP_PROF_SAMPLE_BEGIN = 162,
    EVLOG_HEAP_PROF_SAMPLE_COST_CENTRE = 163,
    EVLOG_HEAP_PROF_SAMPLE_STRING = 164,
    EVLOG_HEAP_PROF_SAMPLE_END = 165,
    EVLOG_HEAP_BIO_PROF_SAMPLE_BEGIN = 166,
    EVLOG_PROF_SAMPLE_COST_CENTRE = 167,
    EVLOG_PROF_BEGIN = 168,
    EVLOG_USER_BINARY_MSG = 181,
    EVLOG_CONC_MARK_BEGIN = 200,
    EVLOG_CONC_MARK_END = 201,
    EVLOG_CONC_SYNC_BEGIN = 202,
    EVLOG_CONC_SYNC_END = 203,
    EVLOG_CONC_SWEEP_BEGIN = 204,
    EVLOG_CONC_SWEEP_END = 205,
    EVLOG_CONC_UPD_REM_SET_FLUSH = 206,
    EVLOG_NONMOVING_HEAP_CENSUS = 207,
};

/* A byte string inside the event's payload (borrowed, not NUL-terminated). */
typedef struct evlog_bytes {
    const uint8_t *p;
    uint32_t len;
} evlog_bytes_t;

/* One decoded event. Pointers borrow the decoder's input and live until the callback returns.
 * `known` is false when the type is declared but has no decoder here, or its declared size is
 * smaller than any layout we know: consumers then see only type/ts/payload ("UnknownEvent"). */
typedef struct evlog_event {
    uint64_t ts;     /* ns since RTS start */
    uint64_t offset; /* stream offset of the event's first byte */
    int32_t cap;     /* capability of the enclosing block, or EVLOG_NO_CAP */
    uint16_t type;   /* event type number */
    bool known;      /* fields below are valid for this type */
    uint32_t size;   /* payload size in bytes */
    const uint8_t *payload;
    union {
        struct {
            uint32_t tid;
        } thread; /* 0,1,3,15 */
        struct {
            uint32_t tid;
            uint16_t status;
            uint32_t blocked_on;
        } stop; /* 2 */
        struct {
            uint32_t tid;
            uint16_t cap;
        } thread_cap; /* 4 new_cap, 8 other_cap */
        struct {
            uint32_t tid;
            evlog_bytes_t text;
        } label; /* 44 */
        struct {
            evlog_bytes_t text;
        } msg; /* 16, 19, 58, 181 */
        struct {
            uint16_t cap;
        } cap; /* 17 n_caps, 39 victim, 45-48, 206 */
        struct {
            uint32_t capset;
            uint16_t type;
        } capset_create; /* 25 */
        struct {
            uint32_t capset;
        } capset; /* 26 */
        struct {
            uint32_t capset;
            uint16_t cap;
        } capset_cap; /* 27, 28 */
        /* 29 text; 30/31 NUL-separated strings, trailing NULs included as in the payload */
        struct {
            uint32_t capset;
            evlog_bytes_t text;
        } capset_text;
        struct {
            uint32_t capset;
            uint32_t pid;
        } pid; /* 32, 33 */
        struct {
            uint32_t capset;
            uint64_t sec;
            uint32_t nsec;
        } wall; /* 43 */
        struct {
            uint64_t task;
            uint16_t cap;
            uint64_t kernel_tid;
        } task_create; /* 55 */
        struct {
            uint64_t task;
            uint16_t cap;
            uint16_t new_cap;
        } task_migrate; /* 56 */
        struct {
            uint64_t task;
        } task_delete; /* 57 */
        /* 34, in payload order: created, dud, overflowed, converted, gcd, fizzled, remaining */
        struct {
            uint64_t v[7];
        } spark_counters;
        struct {
            uint32_t capset;
            uint64_t bytes;
        } heap; /* 49, 50, 51 */
        struct {
            uint32_t capset;
            uint16_t gens;
            uint64_t max_heap, alloc_area, mblock, block;
        } heap_info;
        struct {
            uint32_t capset;
            uint16_t gen;
            uint64_t copied, slop, frag;
            uint32_t par_n_threads;
            uint64_t par_max_copied, par_tot_copied, par_balanced_copied;
            bool has_balanced; /* header size >= 58 */
        } gc_stats;            /* 53 */
        struct {
            uint8_t prof_id;
            uint64_t period;
            uint32_t breakdown;
            evlog_bytes_t filter[7]; /* module, closure descr, type descr, cc, ccs, retainer, bio */
        } hp_begin;                  /* 160 */
        struct {
            uint32_t cc_id;
            evlog_bytes_t label, module, srcloc;
            uint8_t flags;
        } hp_cc; /* 161 */
        struct {
            uint64_t era;
        } era; /* 162, 165 */
        /* 163: stack = depth big-endian u32 cost-centre ids (read with evlog_u32) */
        struct {
            uint8_t prof_id;
            uint64_t residency;
            uint8_t depth;
            const uint8_t *stack;
        } hp_sample_cc;
        struct {
            uint8_t prof_id;
            uint64_t residency;
            evlog_bytes_t label;
        } hp_sample_str; /* 164 */
        struct {
            uint64_t era, time;
        } bio_begin; /* 166 */
        struct {
            uint32_t cap;
            uint64_t ticks;
            uint8_t depth;
            const uint8_t *stack;
        } prof_sample; /* 167 */
        struct {
            uint64_t tick_interval;
        } prof_begin; /* 168 */
        struct {
            uint32_t marked;
        } conc_mark_end; /* 201 */
        struct {
            uint8_t log2_blk_size;
            uint32_t active, filled, live;
        } census; /* 207 */
        struct {
            uint32_t size;
            uint64_t end_time;
            uint16_t cap;
        } block; /* 18 */
    } f;
} evlog_event_t;

/* The header's type table: size per type number (EVLOG_VAR_SIZE, EVLOG_UNDECLARED or bytes). */
typedef struct evlog_types {
    int32_t size[65536];
    uint32_t count; /* declared types */
} evlog_types_t;

/* One header type definition, handed to the sink in header order. */
typedef struct evlog_type_info {
    uint16_t num;
    int32_t size; /* bytes, or EVLOG_VAR_SIZE */
    evlog_bytes_t desc;
} evlog_type_info_t;

/* Non-fatal findings reported through the sink. */
typedef enum evlog_warning {
    EVLOG_WARN_SKIPPED,       /* `count` bytes before the first header, at `offset` 0 */
    EVLOG_WARN_HEADER_REPEAT, /* a second header starts at `offset`; `count` junk bytes before it */
    EVLOG_WARN_TRAILING,      /* `count` bytes after the end marker (reported by evlog_finish) */
    EVLOG_WARN_BLOCK_SIZE,    /* the block whose marker is at `offset` does not end on an event */
} evlog_warning_t;

/* Where decoded items go. Callbacks run on the feeding thread; returning a negative code
 * stops decoding and is returned by evlog_feed. Any callback may be NULL. */
typedef struct evlog_sink {
    int (*on_type)(void *ctx, const evlog_type_info_t *t); /* first header only */
    int (*on_event)(void *ctx, const evlog_event_t *ev);   /* every event, block markers too */
    void (*on_warning)(void *ctx, evlog_warning_t w, uint64_t offset, uint64_t count);
    void *ctx;
} evlog_sink_t;

/* Decoder state, on caller storage. Fields are private; use the accessors. */
typedef struct evlog {
    evlog_sink_t sink;
    evlog_types_t *types;
    uint8_t *hdr; /* header bytes being collected */
    size_t hdr_len, hdr_cap;
    uint8_t *carry; /* a partial event spanning chunks */
    size_t carry_len;
    uint64_t pos;       /* stream offset of the next unread byte */
    uint64_t carry_off; /* stream offset of carry[0] */
    uint64_t junk;      /* bytes skipped while seeking a header */
    uint64_t junk_start;
    int state;
    int headers;    /* headers seen */
    uint32_t match; /* bytes of "hdrb" matched while seeking */
    int32_t block_cap;
    int64_t block_left; /* bytes of the current block not yet consumed (ghc-events' rule) */
    uint64_t block_off;
    bool block_warned;
    bool raw;        /* skip payload field decoding (evlog_set_raw) */
    uint64_t events; /* events emitted, block markers excluded */
    uint64_t blocks;
    int err;
    uint64_t err_off;
    char err_text[96];
} evlog_t;

/* Sets up a decoder that reports to `sink` (copied). Allocates its buffers once.
 * Returns 0 or LP_ENOMEM. Any thread; the decoder is then used by one thread at a time. */
int evlog_init(evlog_t *d, const evlog_sink_t *sink);
/* With `raw`, events carry only type, ts, cap, offset, size and payload (known = false), except
 * block markers, which are always decoded: for indexing passes that need no fields. */
void evlog_set_raw(evlog_t *d, bool raw);
/* Frees the decoder's buffers. Safe on a zeroed or disposed decoder. */
void evlog_dispose(evlog_t *d);
/* Decodes `len` bytes (borrowed for the call). Returns 0, or a negative code that is sticky:
 * later calls return it again. On error evlog_error_text/offset say what and where. */
int evlog_feed(evlog_t *d, const uint8_t *buf, size_t len);
/* Ends the input. Returns 0 when the stream stopped at an event boundary (with or without the
 * end marker) and LP_ETRUNCATED when it stopped inside an event or before a whole header. */
int evlog_finish(evlog_t *d);
/* The error message ("undeclared event type 300"), without the offset; "" when none. */
const char *evlog_error_text(const evlog_t *d);
/* The compression that the first n bytes at p (borrowed) show: "gzip", "xz", "zstd" or "bzip2",
 * or NULL for none of them; *undo (when undo is not NULL) gets the command that decompresses a
 * file given after it ("xz -dk"). For a hint when a log has no header. Any thread. */
const char *evlog_compression(const uint8_t *p, size_t n, const char **undo);
/* Stream offset where the bad event (or header) starts. */
uint64_t evlog_error_offset(const evlog_t *d);
/* Events emitted so far, block markers excluded. */
uint64_t evlog_events(const evlog_t *d);
/* Headers read so far (a second one means logging restarted). */
int evlog_headers(const evlog_t *d);
/* The type table of the latest header, or NULL before one was read. Borrowed. */
const evlog_types_t *evlog_types(const evlog_t *d);
/* True when the decoder has read exactly one header and waits for an event, holding no part of
 * one: from here a caller may walk the events itself with the type table. */
bool evlog_at_event(const evlog_t *d);

/* Decodes one event at `p` (`avail` bytes) with table `tt`: fills `ev` (cap = EVLOG_NO_CAP,
 * offset = `off`) and returns its total size, 0 if `avail` is too short, or a negative code
 * (LP_EUNDECLARED_TYPE, LP_EBAD_EVENT) — also for the end marker 0xFFFF (LP_EBAD_EVENT). Pure;
 * any thread. */
int evlog_decode_one(const evlog_types_t *tt, const uint8_t *p, size_t avail, uint64_t off,
                     evlog_event_t *ev);
/* Decodes the payload fields of `ev`, whose type, size and payload the caller has set (`var`:
 * its type is variable-size), and sets ev->known. Returns 0, or LP_EBAD_EVENT when a
 * variable-size payload contradicts its own layout. Pure; any thread. */
int evlog_decode_fields(evlog_event_t *ev, bool var);
/* True for the types whose payload evlog_decode_fields may refuse whatever `var` says (nested
 * strings or counted arrays): only for these does a fixed-size payload need decoding to know it
 * stands. Pure; any thread. */
bool evlog_fields_may_fail(uint16_t type);

/* Big-endian readers for payload fields. */
static inline uint16_t evlog_u16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t evlog_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t evlog_u64(const uint8_t *p)
{
    return (uint64_t)evlog_u32(p) << 32 | evlog_u32(p + 4);
}

#endif
