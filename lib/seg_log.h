/* The segments of one session as a whole: which files hold which stream bytes (a chunk table in
 * stream order), the eventlog header, the upload id, whether the input ended and the latest
 * snapshot. Built by scanning a session directory — which is also crash recovery: a torn or
 * corrupt tail is found by checksum and truncated, a corrupt segment before the last is
 * quarantined with the segments after it — and then kept up to date by the session's writer
 * (lib/seg_writer.c) while readers (lib/seg_reader.c) read it under its mutex. */
#ifndef LP_SEG_LOG_H
#define LP_SEG_LOG_H

#include "segment.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One chunk record: stream bytes [stream_off, stream_off + raw_len) at payload file_off of
 * segment `seq`. */
typedef struct seg_chunk {
    uint64_t stream_off, file_off, seq;
    uint32_t len, raw_len;
    uint8_t flags;
} seg_chunk_t;

/* One segment file. */
typedef struct seg_file {
    uint64_t seq, stream_start, stream_end, created_ns, size;
    uint64_t first_ts, last_ts, events; /* from the index (closed) or the writer (open) */
    bool closed;                        /* has its index and trailer */
} seg_file_t;

/* Hears recovery findings (one line each, e.g. "seg-00000003.lps: torn tail at byte 4096 (2 KiB)
 * truncated"). */
typedef void (*seg_log_say_fn)(void *ctx, const char *msg);

typedef struct seg_log {
    pthread_mutex_t mu; /* guards every field below between the writer and readers */
    char dir[PATH_MAX];
    seg_file_t *files;
    size_t nfiles, files_cap;
    seg_chunk_t *chunks;
    size_t nchunks, chunks_cap;
    uint64_t start, end; /* stream bytes [start, end) are in the files (start > 0 after
                            retention dropped the oldest segments) */
    uint8_t *evheader;   /* the eventlog header bytes, when known */
    size_t evheader_len;
    char upload[33]; /* "" when none */
    bool ended;      /* an END record was read or written */
    uint8_t *snapshot;
    size_t snapshot_len;
    uint64_t truncated; /* bytes cut from a torn tail by the last scan */
    int quarantined;    /* segment files moved aside by the last scan */
} seg_log_t;

/* An empty log for directory `dir` (created if missing). Returns 0 or LP_EIO. */
int seg_log_init(seg_log_t *l, const char *dir);
/* Frees it. Safe on a zeroed or disposed log. */
void seg_log_dispose(seg_log_t *l);
/* Scans `dir` (created if missing) into a fresh log. With `repair`, a torn or corrupt tail of the
 * last segment is truncated and a corrupt earlier segment is renamed to NAME.quarantined
 * together with every later one (they no longer continue the stream); without it, the scan
 * stops at the first bad record and changes nothing. Every finding goes to say(ctx, msg) (may
 * be NULL). Returns 0 or LP_EIO (directory unreadable). Never fails on file contents. Any
 * thread, before the log is shared. */
int seg_log_open(seg_log_t *l, const char *dir, bool repair, seg_log_say_fn say, void *ctx);
/* Stream bytes written so far (the end). Any thread. */
uint64_t seg_log_end(seg_log_t *l);
/* True when segment `seq` is closed (has its index and trailer). Any thread. */
bool seg_log_closed(seg_log_t *l, uint64_t seq);
/* Path of segment `seq` in buf. */
char *seg_log_path(const seg_log_t *l, uint64_t seq, char *buf, size_t cap);
/* The chunk holding stream offset `off` (copied to *c). Returns 0 or LP_ENOT_FOUND. Any thread. */
int seg_log_find(seg_log_t *l, uint64_t off, seg_chunk_t *c);
/* Deletes the oldest closed segment (never the one being written): its file and chunks. Returns
 * the bytes of disk freed, 0 when nothing may be dropped. Any thread (takes the mutex). */
uint64_t seg_log_drop_oldest(seg_log_t *l);
/* Disk bytes held by the segment files. */
uint64_t seg_log_disk_bytes(seg_log_t *l);
/* Appends a chunk / a file entry (the writer, with the mutex held). */
void seg_log_add_chunk_locked(seg_log_t *l, const seg_chunk_t *c);
seg_file_t *seg_log_add_file_locked(seg_log_t *l, const seg_file_t *f);

#endif
