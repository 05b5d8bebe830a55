/* Eventlog encoder: writes GHC eventlogs (header with a type table, capability blocks, events,
 * end marker), big-endian, into a growable memory buffer or, buffered, to a FILE* or fd. Each
 * event layout of the format has a typed helper; payloads adapt to the sizes the table
 * declares (cut or zero-padded), so custom tables with bigger or extra types work too. */
#ifndef LP_EVWRITE_H
#define LP_EVWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "evlog.h"

/* One type of the header's table. `size` is the payload size in bytes (0..65534) or
 * EVLOG_VAR_SIZE. `extra` (may be NULL when `extra_len` is 0) is written after the
 * description as the format's "extra info" bytes (GHC 9.0.2 writes none). */
typedef struct evwrite_type {
    uint16_t num;
    int32_t size;
    const char *desc;
    const uint8_t *extra;
    uint32_t extra_len;
} evwrite_type_t;

/* Encoder state, on caller storage. Fields are private; use the functions below, which any
 * thread may call on an encoder it owns (one thread at a time per encoder). */
typedef struct evwrite {
    uint8_t *buf; /* pending bytes (memory mode: the whole output) */
    size_t len, cap;
    size_t flush_at; /* sink mode: write out once this much is flushable */
    int fd;          /* sink: fd >= 0, or `file`, or neither (memory mode) */
    FILE *file;
    uint64_t flushed; /* bytes handed to the sink */
    uint64_t events;  /* events written, block markers excluded */
    int32_t *sizes;   /* 65536 entries: declared size, EVLOG_VAR_SIZE or EVLOG_UNDECLARED */
    bool in_block;
    size_t block_pos; /* buf offset of the open block's marker */
    size_t block_fix; /* buf offset of the open marker's size field */
    int err;          /* sticky error */
} evwrite_t;

/* The 69 types GHC 9.0.2 declares, with its numbers, sizes and descriptions, in its order.
 * Sets *n to the count. Static storage; any thread. */
const evwrite_type_t *evwrite_default_types(size_t *n);

/* Sets up an encoder whose output stays in memory (see evwrite_data/evwrite_take). The type
 * table starts as evwrite_default_types. Returns 0 or LP_ENOMEM. Any thread; an encoder is
 * then used by one thread at a time. */
int evwrite_init(evwrite_t *w);
/* Like evwrite_init, but output goes to `fd` (borrowed, not closed) in chunks of about
 * `buffer` bytes (0 = 4 MiB). An open block stays buffered until it is closed. */
int evwrite_init_fd(evwrite_t *w, int fd, size_t buffer);
/* Like evwrite_init_fd, but output goes to `f` (borrowed, not closed) with fwrite. */
int evwrite_init_file(evwrite_t *w, FILE *f, size_t buffer);
/* Frees the encoder's buffers without writing anything out (call evwrite_flush first).
 * Safe on a zeroed or disposed encoder. */
void evwrite_dispose(evwrite_t *w);

/* Replaces the type table with `types` (n entries, borrowed for the call) without writing
 * anything: for encoders that write only events (e.g. one capability's blocks). Types not
 * listed become undeclared. Returns 0 or LP_EARG (a size out of range). */
int evwrite_declare(evwrite_t *w, const evwrite_type_t *types, size_t n);
/* Declares `types` (n entries, borrowed for the call; NULL = evwrite_default_types) and
 * writes them as a header (hdrb .. datb), in the given order. Calling it again mid-stream
 * writes a repeated header, as a restarted RTS does. Returns 0 or a negative code. */
int evwrite_header(evwrite_t *w, const evwrite_type_t *types, size_t n);

/* Opens a block: writes a BLOCK_MARKER (type 18) stamped `ts` for capability `cap`
 * (0xFFFF = the global block) whose size and end time are filled in by evwrite_block_end.
 * Returns 0, LP_EARG when a block is already open, or another negative code. */
int evwrite_block_begin(evwrite_t *w, uint16_t cap, uint64_t ts);
/* Closes the open block: patches its size (bytes from the marker's first byte to here,
 * marker included) and its end time. Returns 0, LP_EARG when no block is open, or LP_ERANGE
 * when the block exceeds 4 GiB. */
int evwrite_block_end(evwrite_t *w, uint64_t end_ts);
/* Bytes in the open block so far (marker included), or 0 when none is open. */
size_t evwrite_block_len(const evwrite_t *w);

/* Writes the end marker 0xFFFF. Returns 0, LP_EARG when a block is still open, or an error. */
int evwrite_end(evwrite_t *w);
/* Hands every closed byte to the sink (everything in memory mode is kept). Returns 0 or
 * LP_EIO; errors are sticky. */
int evwrite_flush(evwrite_t *w);
/* Moves everything buffered in `src` (which must have no open block) to the end of `dst`,
 * with its byte and event counts, leaving `src` empty with its buffer kept. Used to
 * interleave per-capability buffers as the RTS does. Returns 0 or a negative code. */
int evwrite_splice(evwrite_t *dst, evwrite_t *src);

/* Total bytes produced so far (flushed and buffered). */
uint64_t evwrite_bytes(const evwrite_t *w);
/* Events written so far, block markers excluded (what ghc-events counts). */
uint64_t evwrite_events(const evwrite_t *w);
/* The sticky error, 0 when none. */
int evwrite_error(const evwrite_t *w);
/* Memory mode: the bytes written so far (borrowed; valid until the next write). */
const uint8_t *evwrite_data(const evwrite_t *w, size_t *len);
/* Memory mode: hands over the malloc'd output (the caller frees it) and empties the
 * encoder (counts restart, an open block is abandoned). Returns NULL with *len = 0 when
 * nothing was written. */
uint8_t *evwrite_take(evwrite_t *w, size_t *len);

/* Appends raw bytes (junk, corrupt or hand-made events); no event is counted. */
int evwrite_raw(evwrite_t *w, const void *p, size_t n);
/* Writes one event of `type` with payload `p` (n bytes, borrowed): a variable-size type gets
 * the u16 size field (n <= 65535, else LP_ERANGE); a fixed-size type gets exactly its
 * declared size, the payload cut or zero-padded. LP_EUNDECLARED_TYPE for an undeclared type.
 * Every helper below goes through this rule. */
int evwrite_event(evwrite_t *w, uint16_t type, uint64_t ts, const void *p, size_t n);

/* The typed helpers: each writes one event and returns 0 or a negative code (errors are
 * sticky: once one failed, every later call returns it). Helpers shared by several types
 * take the type and return LP_EARG for a type of another layout. Text is raw bytes (no NUL,
 * any encoding) of the given length. */

/* CREATE_THREAD, RUN_THREAD, THREAD_RUNNABLE, CREATE_SPARK_THREAD: tid. */
int evwrite_thread(evwrite_t *w, uint16_t type, uint64_t ts, uint32_t tid);
/* STOP_THREAD: tid, status (1..6, or 6 + why_blocked), blocked_on (owner tid or 0). */
int evwrite_stop_thread(evwrite_t *w, uint64_t ts, uint32_t tid, uint16_t status,
                        uint32_t blocked_on);
/* MIGRATE_THREAD (new cap) or THREAD_WAKEUP (other cap). */
int evwrite_thread_cap(evwrite_t *w, uint16_t type, uint64_t ts, uint32_t tid, uint16_t cap);
/* THREAD_LABEL: tid and label bytes. */
int evwrite_thread_label(evwrite_t *w, uint64_t ts, uint32_t tid, const void *label, size_t len);
/* A type with no payload: GC start, end, idle, work, done and global sync, request seq/par GC,
 * spark create/dud/overflow/run/fizzle/GC, the 9003 hack, CONC_* begin/end events. */
int evwrite_empty(evwrite_t *w, uint16_t type, uint64_t ts);
/* LOG_MSG, USER_MSG (traceEvent), USER_MARKER (traceMarker), USER_BINARY_MSG: bytes. */
int evwrite_msg(evwrite_t *w, uint16_t type, uint64_t ts, const void *text, size_t len);
/* A u16 cap payload: STARTUP (n caps), SPARK_STEAL (victim), CAP_CREATE/DELETE/DISABLE/
 * ENABLE, CONC_UPD_REM_SET_FLUSH. */
int evwrite_cap(evwrite_t *w, uint16_t type, uint64_t ts, uint16_t cap);
/* CAPSET_CREATE: capset and its type (1 custom, 2 OS process, 3 clock domain). */
int evwrite_capset_create(evwrite_t *w, uint64_t ts, uint32_t capset, uint16_t capset_type);
/* CAPSET_DELETE. */
int evwrite_capset_delete(evwrite_t *w, uint64_t ts, uint32_t capset);
/* CAPSET_ASSIGN_CAP or CAPSET_REMOVE_CAP. */
int evwrite_capset_cap(evwrite_t *w, uint16_t type, uint64_t ts, uint32_t capset, uint16_t cap);
/* RTS_IDENTIFIER, PROGRAM_ARGS or PROGRAM_ENV with the payload text as given. */
int evwrite_capset_text(evwrite_t *w, uint16_t type, uint64_t ts, uint32_t capset, const void *text,
                        size_t len);
/* PROGRAM_ARGS or PROGRAM_ENV from `n` C strings (borrowed), each written NUL-terminated. */
int evwrite_capset_strings(evwrite_t *w, uint16_t type, uint64_t ts, uint32_t capset,
                           const char *const *strs, size_t n);
/* OSPROCESS_PID or OSPROCESS_PPID. */
int evwrite_pid(evwrite_t *w, uint16_t type, uint64_t ts, uint32_t capset, uint32_t pid);
/* WALL_CLOCK_TIME. */
int evwrite_wall_clock(evwrite_t *w, uint64_t ts, uint32_t capset, uint64_t sec, uint32_t nsec);
/* TASK_CREATE, TASK_MIGRATE, TASK_DELETE. */
int evwrite_task_create(evwrite_t *w, uint64_t ts, uint64_t task, uint16_t cap,
                        uint64_t kernel_tid);
int evwrite_task_migrate(evwrite_t *w, uint64_t ts, uint64_t task, uint16_t cap, uint16_t new_cap);
int evwrite_task_delete(evwrite_t *w, uint64_t ts, uint64_t task);
/* SPARK_COUNTERS, v in payload order: created, dud, overflowed, converted, gcd, fizzled,
 * remaining (borrowed). */
int evwrite_spark_counters(evwrite_t *w, uint64_t ts, const uint64_t v[7]);
/* HEAP_ALLOCATED, HEAP_SIZE or HEAP_LIVE. */
int evwrite_heap(evwrite_t *w, uint16_t type, uint64_t ts, uint32_t capset, uint64_t bytes);
/* HEAP_INFO_GHC. */
int evwrite_heap_info(evwrite_t *w, uint64_t ts, uint32_t capset, uint16_t gens, uint64_t max_heap,
                      uint64_t alloc_area, uint64_t mblock, uint64_t block);
/* GC_STATS_GHC (58 bytes; a table declaring 50 drops par_balanced_copied). */
int evwrite_gc_stats(evwrite_t *w, uint64_t ts, uint32_t capset, uint16_t gen, uint64_t copied,
                     uint64_t slop, uint64_t frag, uint32_t par_n_threads, uint64_t par_max_copied,
                     uint64_t par_tot_copied, uint64_t par_balanced_copied);
/* HEAP_PROF_BEGIN: `filter` holds 7 C strings (module, closure descr, type descr, cc, ccs,
 * retainer, bio; borrowed), NULL for all empty or for an empty entry. */
int evwrite_hp_begin(evwrite_t *w, uint64_t ts, uint8_t prof_id, uint64_t period,
                     uint32_t breakdown, const char *const *filter);
/* HEAP_PROF_COST_CENTRE: id, label, module, srcloc (C strings, borrowed), flags (1 = CAF). */
int evwrite_hp_cost_centre(evwrite_t *w, uint64_t ts, uint32_t cc_id, const char *label,
                           const char *module, const char *srcloc, uint8_t flags);
/* HEAP_PROF_SAMPLE_BEGIN or HEAP_PROF_SAMPLE_END. */
int evwrite_era(evwrite_t *w, uint16_t type, uint64_t ts, uint64_t era);
/* HEAP_PROF_SAMPLE_COST_CENTRE: `depth` cost-centre ids (borrowed). */
int evwrite_hp_sample_cc(evwrite_t *w, uint64_t ts, uint8_t prof_id, uint64_t residency,
                         uint8_t depth, const uint32_t *stack);
/* HEAP_PROF_SAMPLE_STRING: residency and a C string label (borrowed). */
int evwrite_hp_sample_string(evwrite_t *w, uint64_t ts, uint8_t prof_id, uint64_t residency,
                             const char *label);
/* HEAP_BIO_PROF_SAMPLE_BEGIN. */
int evwrite_bio_begin(evwrite_t *w, uint64_t ts, uint64_t era, uint64_t time);
/* PROF_SAMPLE_COST_CENTRE: u32 cap, ticks, `depth` cost-centre ids (borrowed). */
int evwrite_prof_sample(evwrite_t *w, uint64_t ts, uint32_t cap, uint64_t ticks, uint8_t depth,
                        const uint32_t *stack);
/* PROF_BEGIN. */
int evwrite_prof_begin(evwrite_t *w, uint64_t ts, uint64_t tick_interval);
/* CONC_MARK_END. */
int evwrite_conc_mark_end(evwrite_t *w, uint64_t ts, uint32_t marked);
/* NONMOVING_HEAP_CENSUS. */
int evwrite_census(evwrite_t *w, uint64_t ts, uint8_t log2_blk_size, uint32_t active,
                   uint32_t filled, uint32_t live);

#endif
