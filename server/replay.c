/* Running replays (server/replay.h): each tick every replay hands the bytes that are due to its
 * target session, at most a budget per tick so the event loop stays responsive; bytes the writer
 * refuses (too much queued) wait for the next tick. */
#include "replay.h"

#include "err.h"
#include "pace.h"
#include "server.h"
#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK_MS 20
#define PIECE (4u << 20)   /* bytes per append */
#define BUDGET (16u << 20) /* bytes per replay per tick */

typedef struct replay {
    struct replay *next;
    session_t *dst;
    persist_target_t *src;
    pace_t *pace;
    uint64_t start_ns;
    uint8_t *pending; /* a piece the writer refused, sent again next tick */
    size_t pending_len;
} replay_t;

struct replays {
    registry_t *reg;
    replay_t *head;
    uint8_t *buf;
};

static void replay_free(replay_t *r)
{
    pace_destroy(r->pace);
    persist_release(r->src);
    session_unref(r->dst);
    free(r->pending);
    free(r);
}

/* The copy's segments failed (session_append's error): it ends with what they hold, and its
 * settle says why. Returns false (the replay is over). */
static bool stored_no_more(replays_t *rs, replay_t *r)
{
    session_end_input(rs->reg, r->dst);
    return false;
}

/* One tick of one replay; false when it is over. */
static bool step(replays_t *rs, replay_t *r)
{
    if (session_deleted(r->dst)) return false;
    size_t sent = 0;
    if (r->pending) {
        int rc = session_append(rs->reg, r->dst, r->pending, r->pending_len);
        if (rc == LP_ERANGE) return true; /* the writer is behind: again next tick */
        if (rc < 0) return stored_no_more(rs, r);
        sent = r->pending_len;
        free(r->pending);
        r->pending = NULL;
    }
    uint64_t elapsed = server_mono_ns() - r->start_ns;
    while (sent < BUDGET) {
        long k = pace_next(r->pace, elapsed, rs->buf, PIECE);
        if (k <= 0) break;
        int rc = session_append(rs->reg, r->dst, rs->buf, (size_t)k);
        if (rc < 0 && rc != LP_ERANGE) return stored_no_more(rs, r);
        if (rc < 0) {
            r->pending = xmalloc((size_t)k);
            memcpy(r->pending, rs->buf, (size_t)k);
            r->pending_len = (size_t)k;
            return true;
        }
        sent += (size_t)k;
    }
    if (pace_done(r->pace) < pace_len(r->pace)) return true;
    session_end_input(rs->reg, r->dst);
    return false;
}

static void on_tick(void *ctx)
{
    replays_t *rs = ctx;
    for (replay_t **pp = &rs->head; *pp;) {
        replay_t *r = *pp;
        if (step(rs, r)) {
            pp = &r->next;
        } else {
            *pp = r->next;
            replay_free(r);
        }
    }
}

replays_t *replays_create(registry_t *reg, http_server_t *http)
{
    replays_t *rs = xcalloc(1, sizeof *rs);
    rs->reg = reg;
    rs->buf = xmalloc(PIECE);
    http_every(http, TICK_MS, on_tick, rs);
    return rs;
}

void replays_destroy(replays_t *rs)
{
    if (!rs) return;
    for (replay_t *r = rs->head, *n; r; r = n) {
        n = r->next;
        replay_free(r);
    }
    free(rs->buf);
    free(rs);
}

int replays_start(replays_t *rs, session_t *src, session_t *dst, uint64_t from, uint64_t to,
                  double speed, char *err, size_t cap)
{
    pace_t *p = pace_create(&src->pt->log, from, to, speed, err, cap);
    if (!p) return LP_ERANGE;
    replay_t *r = xcalloc(1, sizeof *r);
    r->pace = p;
    r->src = persist_retain(src->pt);
    r->dst = session_ref(dst);
    r->start_ns = server_mono_ns();
    r->next = rs->head;
    rs->head = r;
    on_tick(rs); /* the header and what is due at once go now */
    return 0;
}
