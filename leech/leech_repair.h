/* Stream repair in the leech's drain thread: turns the RTS's writer calls (possibly several
 * logging sessions, with junk before a repeated header and missing init events) into one clean
 * stream with byte offsets: one header at offset 0, then whole RTS buffers. Independent of the
 * RTS, so tests drive it with recorded logs. */
#ifndef LP_LEECH_REPAIR_H
#define LP_LEECH_REPAIR_H

#include "evlog.h"
#include "leech_queue.h"

#include <stdbool.h>
#include <stdint.h>

/* What the leech knows about its process, for init events it must make up. */
typedef struct leech_proc {
    uint32_t ncaps;
    uint32_t pid, ppid;
    const char *rts_id;
    const char *const *argv;
    size_t argc;
} leech_proc_t;

typedef struct leech_repair {
    int state;   /* seeking a header, reading it, or passing data */
    int session; /* writer session of the entries being read */
    bool attached;
    evlog_t dec; /* reads the current session's header */
    bool dec_live;
    uint64_t first_event; /* offset of the first event the header decoder saw (or UINT64_MAX) */
    uint8_t *pre;         /* bytes of this session before and including the header */
    size_t pre_len, pre_cap;
    size_t hdr_at, hdr_fed; /* the session's header starts at pre[hdr_at]; bytes fed so far */
    uint8_t *hdr;           /* the stream's header (offset 0) */
    size_t hdr_len;
    uint8_t *init; /* kept init events: u16 type, u64 ts, u32 len, payload (native order) */
    size_t init_len, init_cap;
    bool init_in_stream; /* the stream already carries CapCreate & co */
    uint64_t next_off;   /* stream offset of the next byte */
    uint64_t junk;       /* bytes dropped as junk (before or around repeated headers) */
    uint64_t synthesized;
    leech_proc_t proc;
} leech_repair_t;

/* Sets up the repairer; `proc` is copied (its strings must outlive the repairer). */
int leech_repair_init(leech_repair_t *r, const leech_proc_t *proc);
void leech_repair_dispose(leech_repair_t *r);
/* Takes one raw entry (owned) of writer session `session` (started by a run-time attach when
 * `attached`), after `dropped` raw bytes were lost, and appends repaired entries with stream
 * offsets to q (once past the header, the raw entry itself, without a copy). Returns 0 or a
 * negative code. Drain thread. */
int leech_repair_feed(leech_repair_t *r, lq_entry_t *e, int session, bool attached,
                      uint64_t dropped, leech_queue_t *q);
/* Whether one RTS buffer of writer session `session` may go to the stream as it is, with no
 * repair: the session's header is past and the buffer is not a global block (those may carry
 * init events the repairer keeps). Pure; the caller holds what guards r. */
bool leech_repair_can_pass(const leech_repair_t *r, int session, const uint8_t *p, size_t n);
/* Gives the next n stream bytes to a buffer that can pass: returns its stream offset. */
uint64_t leech_repair_pass(leech_repair_t *r, size_t n);
/* The stream header (NULL until one arrived) and the kept init events re-encoded as events
 * (a late joiner's state), valid until the next feed. */
const uint8_t *leech_repair_header(const leech_repair_t *r, size_t *len);
/* Writes the kept init events as eventlog events into out (cap bytes). Returns the length or
 * LP_ERANGE. */
int leech_repair_state(const leech_repair_t *r, uint8_t *out, size_t cap);

#endif
