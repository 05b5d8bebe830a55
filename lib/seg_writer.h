/* The writer of one session's segments: appends raw eventlog bytes as chunk records (optionally
 * zstd-compressed) and other records, decodes the bytes as they pass to build each segment's
 * footer index, rolls to a new segment at the first block boundary after the segment reached its
 * size or age, and makes everything durable on request (group commit is the caller's timer).
 * Only lib/seg_*.c write segment files. */
#ifndef LP_SEG_WRITER_H
#define LP_SEG_WRITER_H

#include "seg_log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct seg_writer_opts {
    uint64_t max_bytes;  /* roll a segment after this many bytes (default 64 MiB) */
    uint64_t max_age_ns; /* ... or this age (default 0: never by age) */
    int zstd_level;      /* compress chunk records at this level (0: store them as they are) */
    /* Drop a closed segment's pages from the page cache once they are on disk: a long or big
     * session then holds only its open segment there, and reading a closed one back (a settle,
     * a replay) goes to the disk, sequentially. */
    bool drop_closed;
} seg_writer_opts_t;

typedef struct seg_writer seg_writer_t;

/* A writer that appends to log `l` (borrowed; scanned or fresh): it continues the last segment
 * when that one is open, else starts the next. Returns NULL with a message on an I/O error. Out
 * of memory is fatal. The writer is used by one thread at a time. */
seg_writer_t *seg_writer_create(seg_log_t *l, const seg_writer_opts_t *o, char *err, size_t cap);
/* Closes the file without writing an index (the segment stays open for the next writer); NULL is
 * a no-op. */
void seg_writer_destroy(seg_writer_t *w);
/* Appends n stream bytes (borrowed). Returns 0, LP_EIO, LP_ENOSPACE (out of room: disk, quota or
 * file size limit), or LP_EARG after seg_writer_end. A failed append may have stored a prefix of
 * the bytes; the log's end says how far it got. */
int seg_writer_append(seg_writer_t *w, const void *p, size_t n);
/* Appends a record of another type (SEG_REC_SNAPSHOT, SEG_REC_UPLOAD). Returns 0, LP_EIO or
 * LP_ENOSPACE. */
int seg_writer_record(seg_writer_t *w, int type, const void *p, size_t n);
/* As seg_writer_record, for a payload its caller has compressed: z (n bytes, borrowed) is one
 * zstd frame of raw_len bytes, or, when n == raw_len, the bytes themselves. Returns 0, LP_EARG
 * (sizes out of bounds), LP_EIO or LP_ENOSPACE. */
int seg_writer_record_packed(seg_writer_t *w, int type, const void *z, size_t n, size_t raw_len);
/* Records the end of the input (an END record), after which the writer takes no stream bytes (and
 * frees the decoder its index walk used). Returns 0, LP_EIO or LP_ENOSPACE. */
int seg_writer_end(seg_writer_t *w);
/* Ends the log where it stands without writing anything (the writer failed and is given up):
 * readers see it ended, as after seg_writer_end; on disk it has no END record, as after a
 * crash. Writer thread. */
void seg_writer_abandon(seg_writer_t *w);
/* Writes the current segment's index and trailer; later records go to a new segment. Returns 0,
 * LP_EIO or LP_ENOSPACE. */
int seg_writer_close(seg_writer_t *w);
/* Rolls when the current segment is older than max_age_ns at `now_ns` (at the next block
 * boundary). */
void seg_writer_tick(seg_writer_t *w, uint64_t now_ns);
/* fdatasync of what was written (and of the directory after a new file). Returns 0, LP_EIO or
 * LP_ENOSPACE.
 * On success every byte appended before the call is durable. */
int seg_writer_sync(seg_writer_t *w);
/* True when bytes were written since the last sync. */
bool seg_writer_dirty(const seg_writer_t *w);
/* Stream bytes appended so far. */
uint64_t seg_writer_offset(const seg_writer_t *w);

#endif
