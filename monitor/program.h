/* The monitor's programs: per program its header, a bounded backlog of committed units (whole
 * RTS buffers, or gaps) for subscribers to read and resume from, the late-joiner state of what
 * left the backlog, and the --tee file. The registry and every program are guarded by one
 * mutex (monitor_t.mu) that the ingest and WebSocket threads take briefly. */
#ifndef LP_PROGRAM_H
#define LP_PROGRAM_H

#include "joiner.h"
#include "unitmem.h"
#include "wire.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MONITOR_MAX_PROGRAMS 256
#define MONITOR_KEEP_ENDED 8 /* ended and fully acknowledged programs that keep their backlog */
#define MONITOR_UNACKED_BACKLOGS                                                                   \
    4 /* ended programs not fully acknowledged keep their backlogs                                 \
         up to this many times backlog_cap bytes in all */

typedef struct unit unit_t;
struct unit {
    unit_t *next;
    uint64_t offset; /* stream offset of data[0] (or of the gap) */
    uint64_t seq;
    uint64_t gap; /* > 0: a gap unit of that many bytes (len = 0) */
    uint32_t len;
    uint32_t flags; /* WIRE_FLAG_BLOCK_START / _END of the commit it belongs to */
    uint64_t pos;   /* where its bytes are in monitor_t.units (len > 0) */
};

typedef struct program {
    char id[WIRE_MAX_PROGRAM + 1];
    char name[64];
    uint32_t pid;
    uint8_t *hdr;
    size_t hdr_len;
    uint8_t *leech_state; /* init events the leech kept (sent by it on connect) */
    size_t leech_state_len;
    unit_t *head, *tail; /* the backlog, oldest first */
    size_t bytes;
    uint64_t end; /* stream offset after the last committed byte */
    uint64_t seq; /* units committed */
    joiner_t joiner;
    int tee_fd;
    bool ended;
    bool connected;
    uint64_t gaps, gap_bytes;
    uint64_t acked; /* the highest offset a subscriber acknowledged */
} program_t;

typedef struct monitor {
    pthread_mutex_t mu;
    program_t *progs[MONITOR_MAX_PROGRAMS];
    size_t nprogs;
    size_t backlog_cap; /* bytes per program */
    const char *tee_dir;
    const char *token;
    uint64_t version;      /* bumped on every change subscribers may want (mu held) */
    uint64_t list_version; /* bumped when the program list changes (mu held) */
    unitmem_t units;       /* where the backlog units' bytes live (mu held) */
} monitor_t;

/* Finds the program with this id or creates it; a full registry forgets its oldest ended and
 * disconnected program (NULL when there is none). Lock held. */
program_t *program_get(monitor_t *m, const char *id, bool create);
/* Sets the program's header (first call only); it starts the tee file. Lock held. */
void program_header(monitor_t *m, program_t *p, const uint8_t *hdr, size_t n);
/* Commits stream bytes [off, off + n): overlap with what is there is skipped, a jump becomes a
 * gap unit; the bytes are split into units of at most WIRE_MAX_DATA, teed, and the backlog is
 * trimmed (what leaves it feeds the late-joiner state). Lock held. */
void program_commit(monitor_t *m, program_t *p, uint64_t off, const uint8_t *data, size_t n);
/* A unit (not in any backlog yet) holding a copy of data: n <= WIRE_MAX_DATA bytes at stream
 * offset off. The caller owns it (program_commit_units or program_units_free). Lock held. */
unit_t *program_unit_new(monitor_t *m, uint64_t off, const uint8_t *data, size_t n);
/* Frees a chain of units from program_unit_new (linked by next). Lock held. */
void program_units_free(monitor_t *m, unit_t *u);
/* Commits a chain of contiguous units from program_unit_new (one whole unit of the stream, as
 * program_commit does with bytes) and takes them over: what is already here is dropped, a jump
 * before them becomes a gap. Lock held. */
void program_commit_units(monitor_t *m, program_t *p, unit_t *u);
/* Records that [off, off + len) will never come. Lock held. */
void program_gap(monitor_t *m, program_t *p, uint64_t off, uint64_t len);
/* The late-joiner state (leech state, then the tracked state) as events; malloc'd, may be NULL.
 * Lock held. */
uint8_t *program_state(const program_t *p, size_t *len);
/* Copies the unit's len bytes into out. Lock held. */
void program_unit_read(const monitor_t *m, const unit_t *u, uint8_t *out);
/* The first unit ending after `off`, or NULL. Lock held. */
const unit_t *program_unit_at(const program_t *p, uint64_t off);
/* The program ended (Bye, or its FIFO closed). Ended programs whose every byte a subscriber
 * acknowledged keep their backlogs up to MONITOR_KEEP_ENDED of them, the others up to
 * MONITOR_UNACKED_BACKLOGS x backlog_cap bytes in all; beyond that the oldest backlogs are folded
 * into their late-joiner state and freed (header and state stay). Lock held. */
void program_end(monitor_t *m, program_t *p);
/* Frees every program. */
void program_free_all(monitor_t *m);

#endif
