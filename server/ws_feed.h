/* The diagrams of one session as the WebSocket clients see them: views (a diagram kind over a
 * time range, following the live end or fixed) rendered into element models, the deltas between
 * successive renders as encoded messages with the session's sequence numbers, a bounded history
 * of recent deltas for clients that reconnect, and the session's State. Everything here runs on
 * the WebSocket thread; the session's aggregates are read under its mutex only while querying. */
#ifndef LP_WS_FEED_H
#define LP_WS_FEED_H

#include "diagram.h"
#include "session.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_MSG_HEADROOM 64  /* bytes before a message's payload for the frame header (LWS_PRE) */
#define WS_FEED_HISTORY 512 /* deltas kept per session for resuming clients */
#define WS_VIEW_WIDTH 1000  /* diagrams' width in pixels (the REST diagram's default) */

/* An encoded message shared by every client queue that holds it (WebSocket thread only). */
typedef struct ws_msg {
    int refs;
    uint64_t seq; /* a Delta's or Snapshot's seq, else 0 */
    size_t len;
    uint8_t *data; /* payload; WS_MSG_HEADROOM writable bytes precede it */
} ws_msg_t;

/* Encodes m into a new message with one reference. Out of memory is fatal. */
ws_msg_t *ws_msg_new(const wsmsg_t *m);
ws_msg_t *ws_msg_ref(ws_msg_t *m);
void ws_msg_unref(ws_msg_t *m);

typedef struct ws_view {
    uint32_t id;           /* unique in the feed */
    int kind;              /* index in ws_feed_kinds */
    uint64_t from, to_req; /* to_req 0: follow the live end */
    uint64_t to;           /* the `to` of the last render */
    diagram_t doc;
    ws_msg_t *snapshot;   /* cached Snapshot of doc, or NULL */
    uint64_t created_seq; /* the feed's seq when the view was made */
    int users;
} ws_view_t;

typedef struct ws_feed ws_feed_t;

/* The diagram kinds, in wire names, and their count. */
extern const char *const ws_feed_kinds[6];
int ws_feed_kind(const char *name, size_t len);

/* Creates the feed of `s`, taking over one reference to it. */
ws_feed_t *ws_feed_create(session_t *s);
/* Frees the feed and its views (NULL is a no-op) and drops the session reference. */
void ws_feed_destroy(ws_feed_t *f);
session_t *ws_feed_session(const ws_feed_t *f);
uint64_t ws_feed_seq(const ws_feed_t *f);
/* The number of views (ws_feed_update produces at most one delta per view). */
size_t ws_feed_nviews(const ws_feed_t *f);

/* The view of (kind, from, to) (to 0: live), rendered now when new; one more user. */
ws_view_t *ws_feed_view(ws_feed_t *f, int kind, uint64_t from, uint64_t to);
/* One user fewer; the view is freed with its last user. */
void ws_feed_release(ws_feed_t *f, ws_view_t *v);
/* The Snapshot of the view's current document (a new reference). */
ws_msg_t *ws_feed_snapshot(ws_feed_t *f, ws_view_t *v);
/* The session's current State message (a new reference). */
ws_msg_t *ws_feed_state(ws_feed_t *f);

/* One produced delta. */
typedef struct ws_out {
    ws_view_t *view;
    ws_msg_t *msg; /* a reference owned by the caller */
} ws_out_t;

/* Renders every view again and returns in out (cap >= ws_feed_nviews) the deltas of those that
 * changed, each with the next seq, kept in the history; *state gets a new State message when the
 * session's state or counters moved (else NULL). Returns the number of deltas. */
int ws_feed_update(ws_feed_t *f, ws_out_t *out, int cap, ws_msg_t **state);
/* The deltas with seq > last_seq of the given views, from the history, in order (new
 * references in out, at most cap). Returns their count, or -1 when the history no longer holds
 * all of them (send snapshots instead). */
int ws_feed_missed(ws_feed_t *f, uint64_t last_seq, ws_view_t *const *views, int nviews,
                   ws_msg_t **out, int cap);

#endif
