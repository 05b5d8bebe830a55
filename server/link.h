/* Monitor links: the server dials the monitors listed as connections (libwebsockets client on
 * its own thread), subscribes to every program they list and turns each program into one live
 * session. Resumes after a lost link from the last byte the session holds (no duplicate), and
 * records every byte range that can no longer come as a gap (shown in the status). Frames are
 * received on the link thread; the sessions are fed on the HTTP thread, which alone may call
 * session_* (hand-off through a mutex-guarded queue and an http notifier). Monitors behind NAT
 * push instead: they connect to the WebSocket port's /monitor, their Hello token is checked as
 * an API token, and the same frame handling serves them on the WebSocket thread. */
#ifndef LP_LINK_H
#define LP_LINK_H

#include "auth.h"
#include "http.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct links links_t;
typedef struct registry registry_t;
typedef struct db db_t;
typedef struct ws ws_t;

/* Starts the link thread; `db` (borrowed) gets each connection's last_used and checks the tokens
 * of pushed monitors. With `ws` (borrowed, may be NULL) monitors may also push to
 * ws://HOST:WSPORT/monitor (liveprof-monitor --push): registers the route, so call it before
 * ws_start. Returns NULL with a message in err. HTTP thread, at start. */
links_t *links_create(registry_t *reg, http_server_t *http, db_t *db, ws_t *ws, char *err,
                      size_t cap);
/* Closes every link and stops the thread (NULL is a no-op). HTTP thread, at the end, after
 * ws_destroy (pushed connections are closed by it). */
void links_destroy(links_t *l);
/* Connects (or keeps connected) connection `id` to ws://host:port/monitor with `token`
 * (may be NULL), its sessions owned by `owner`; with connect = false, disconnects it. HTTP
 * thread. */
void links_want(links_t *l, int64_t id, const char *host, int port, const char *token,
                const auth_t *owner, bool connect);
/* The link's status: {"state","error","programs":[{"id","session","bytes","gaps",
 * "gap_bytes","ended"}]} (new reference). HTTP thread. */
json_t *links_status(links_t *l, int64_t id);

#endif
