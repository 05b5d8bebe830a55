/* The segment writer thread: every session's bytes and records reach its segment files on this
 * one thread, never on the HTTP thread or a worker, and become durable together every fsync
 * interval (group commit). Callers enqueue copies and return at once; the thread publishes what
 * is written (the log's end, for readers) and what is durable (for acknowledgements). */
#ifndef LP_PERSIST_H
#define LP_PERSIST_H

#include "seg_log.h"
#include "seg_writer.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct persist persist_t;

/* One session's segments as the writer thread keeps them. `log` is readable by any thread
 * (seg_reader); the writer is the thread's alone. */
typedef struct persist_target {
    seg_log_t log;
    seg_writer_t *w;
    _Atomic uint64_t durable; /* stream bytes fsynced (release by the thread, acquire to read) */
    _Atomic uint64_t queued;  /* bytes enqueued and not yet written (relaxed: a counter) */
    /* the first write error's code (0 while none): from then on nothing more of the target is
     * written, so what it holds stays a prefix of what came (relaxed: set once, on the writer
     * thread; the settle reads it after the log's end, which the writer publishes later under
     * the log's mutex) */
    _Atomic int failed;
    _Atomic bool want_sync; /* a flush asked for this target (see persist_flush_target) */
    _Atomic int refs;       /* the session and the thread (acq_rel; the last frees) */
    int tag;                /* the owner's, passed to notify (set before the first append) */
} persist_target_t;

typedef struct persist_opts {
    uint64_t fsync_ms;     /* group commit interval (default 1000; 0 = after every write) */
    seg_writer_opts_t seg; /* segment size, age, compression */
    size_t max_queued;     /* bytes enqueued at most before persist_append refuses (256 MiB) */
    size_t soft_queued;    /* bytes enqueued past which persist_room says no (32 MiB) */
    /* called on the writer thread (must not block) after bytes of the target tagged `tag` were
     * written, or its end */
    void (*notify)(void *ctx, int tag);
    void *notify_ctx;
    /* called on the writer thread (must not block) after an append was written while no more
     * than soft_queued bytes are left queued: room for callers that waited (see persist_room) */
    void (*room)(void *ctx);
    void *room_ctx;
} persist_opts_t;

/* Starts the thread. Out of memory is fatal. Main thread. */
persist_t *persist_create(const persist_opts_t *o);
/* Writes everything still queued, syncs, stops the thread and frees it (NULL is a no-op). The
 * targets stay with their sessions. Main thread, at the end. */
void persist_destroy(persist_t *p);

/* A target for the session directory `dir`: scans it (recovery: findings go to stderr with the
 * `who` prefix) and makes its writer. Returns it (refs = 2: caller and thread) or NULL with a
 * message. Main or HTTP thread. */
persist_target_t *persist_open(persist_t *p, const char *dir, const char *who, char *err,
                               size_t cap);
/* The target's first write error (LP_EIO, or LP_ENOSPACE when the disk, a quota or the file size
 * limit left no room), or 0. Any thread. */
int persist_error(const persist_target_t *t);
/* Takes another reference (returns t). Any thread. */
persist_target_t *persist_retain(persist_target_t *t);
/* Drops the caller's reference (NULL is a no-op). */
void persist_release(persist_target_t *t);

/* Enqueues a copy of n stream bytes. With may_refuse, returns LP_ERANGE when too much is queued
 * already (the caller answers 503 and the client retries); else 0. Any thread. */
int persist_append(persist_t *p, persist_target_t *t, const void *b, size_t n, bool may_refuse);
/* True when n more bytes fit under the soft bound (always when nothing is queued): a caller that
 * can wait (an upload's chunk) waits for the room callback instead of enqueueing, so that the
 * bytes in flight, and the memory they take, stay bounded. Any thread. */
bool persist_room(const persist_t *p, size_t n);
/* Enqueues a record (a copy of the payload) of type SEG_REC_SNAPSHOT or SEG_REC_UPLOAD. */
void persist_record(persist_t *p, persist_target_t *t, int type, const void *b, size_t n);
/* As persist_record, for a payload the caller compressed (seg_writer_record_packed: z, n bytes,
 * is a zstd frame of raw_len bytes, or the bytes themselves when n == raw_len; copied), so that
 * the writer thread does not compress it again. Any thread. */
void persist_record_packed(persist_t *p, persist_target_t *t, int type, const void *z, size_t n,
                           size_t raw_len);
/* Enqueues the end of the input, and closing the current segment (its index and trailer). */
void persist_end(persist_t *p, persist_target_t *t);
void persist_close(persist_t *p, persist_target_t *t);
/* Enqueues the thread's goodbye to the target: with `remove`, its directory is deleted. */
void persist_drop(persist_t *p, persist_target_t *t, bool remove);
/* Makes everything enqueued so far durable now and waits for it (at most timeout_ms). Returns
 * true when it happened in time. Blocks the caller: for rare requests only. */
bool persist_flush(persist_t *p, int timeout_ms);
/* persist_flush for one target: makes everything enqueued so far for t durable now (without
 * syncing the other targets) and waits for it. Same returns and rule. */
bool persist_flush_target(persist_t *p, persist_target_t *t, int timeout_ms);
/* Stream bytes durable for t (acquire). */
uint64_t persist_durable(const persist_target_t *t);
/* Blocks the appends' copy pool holds mapped now (free or in a queued job). Any thread. */
size_t persist_pool_blocks(persist_t *p);

#endif
