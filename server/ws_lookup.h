/* What the WebSocket thread asks the HTTP thread, which alone reads SQLite and the session
 * registry: whether a connecting client's token may read the session it names (answered with a
 * session reference), and whether a feed's clients may still read their session (visibility
 * changes by PATCH). Requests and answers are lists under one mutex; the HTTP thread learns of
 * requests through a notifier, the WebSocket thread of answers through its wake callback. */
#ifndef LP_WS_LOOKUP_H
#define LP_WS_LOOKUP_H

#include "auth.h"
#include "http.h"
#include "session.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct ws_lookup {
    struct ws_lookup *next;
    uint64_t id; /* the client's request number; 0: a visibility check of `s` (a feed's) */
    char session[40], token[160];
    int code;     /* answer: 0 when allowed, else the close code */
    session_t *s; /* answer: a reference for the WebSocket thread when allowed (the request's own
                   * reference for a visibility check) */
    auth_t auth;  /* answer: the caller */
    int64_t owner;
    bool is_public;
} ws_lookup_t;

typedef struct ws_lookups ws_lookups_t;

/* Close codes the answers carry (docs/websocket.md). */
enum { WS_LOOKUP_BAD_TOKEN = 4401, WS_LOOKUP_PRIVATE = 4403, WS_LOOKUP_NOT_FOUND = 4404 };

/* Creates the lists and their notifier on the HTTP server's loop; `wake` (with wake_ctx) is
 * called on the HTTP thread after answers were added. Main thread. */
ws_lookups_t *ws_lookups_create(server_t *srv, http_server_t *http, void (*wake)(void *),
                                void *wake_ctx);
/* Frees what is still queued, dropping the session references it holds, and the notifier
 * (NULL is a no-op). Main thread, once neither loop runs. */
void ws_lookups_destroy(ws_lookups_t *q);
/* Drops the notifier early: the HTTP loop has ended. Main thread. */
void ws_lookups_stop(ws_lookups_t *q);

/* Queues request l (taken over, xcalloc'd) for the HTTP thread. WebSocket thread. */
void ws_lookups_ask(ws_lookups_t *q, ws_lookup_t *l);
/* Takes the answers so far (a list through `next`, handed over; free each). WebSocket thread. */
ws_lookup_t *ws_lookups_answers(ws_lookups_t *q);

#endif
