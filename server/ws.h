/* The WebSocket server: libwebsockets on its own thread and port. Browsers connect to
 * /ws?session=ID[&token=T] and receive the session's State, Snapshots of their diagrams and
 * Deltas (proto/ws.fbs, docs/websocket.md). Other paths on the same port (the monitor links'
 * /monitor) are served by lws protocols registered with ws_route before ws_start.
 *
 * Threads: the WebSocket thread owns every connection, feed and view. It never touches SQLite
 * or the session registry: token and visibility checks go to the HTTP thread as lookup requests
 * (http_notify) and come back with a session reference (lws_cancel_service, the one thread-safe
 * lws call; server/ws_lookup.c). Session workers report changes through ws_session_changed.
 * Only server/ws.c, server/ws_queue.c and the route handlers that register here include
 * libwebsockets. */
#ifndef LP_WS_H
#define LP_WS_H

#include "http.h"
#include "session.h"

#include <stddef.h>

typedef struct ws ws_t;
struct lws_protocols;

/* Prepares the server for host:port (port 0: any free port). Nothing is bound yet. Main
 * thread, after registry_create. */
ws_t *ws_create(server_t *srv, http_server_t *http, const char *host, int port);

/* Registers an extra lws protocol (borrowed; it must outlive the server) serving the WebSocket
 * connections whose request path is exactly `path` (e.g. "/monitor" for server/link_push.c). Its
 * callback gets the connection callbacks of those connections (ESTABLISHED, RECEIVE,
 * SERVER_WRITEABLE, WS_PEER_INITIATED_CLOSE, RECEIVE_PONG, TIMER, CLOSED) with its own
 * per-session data (of its per_session_data_size, zeroed), on the WebSocket thread, and the
 * connection's opaque user data (lws_get_opaque_user_data) set to the protocol's `user`; a client
 * that names the protocol in Sec-WebSocket-Protocol reaches it directly, with every callback.
 * The protocol is also a named protocol of the
 * context (for client connections it makes with lws_client_connect_via_info, ws_context gives
 * the context). At most 4 routes. Returns 0 or LP_ERANGE. Main thread, before ws_start. */
int ws_route(ws_t *ws, const char *path, const struct lws_protocols *proto);

/* Binds exactly host:port (IPv4 only for an IPv4 address) and starts the WebSocket thread.
 * Returns 0, or LP_ENET with a message in err. Main thread. */
int ws_start(ws_t *ws, char *err, size_t cap);
/* The port bound (after ws_start). */
int ws_port(const ws_t *ws);
/* The lws context (struct lws_context *) for route handlers, after ws_start. */
void *ws_context(const ws_t *ws);

/* Session watch for registry_watch: marks the session's diagrams for an update (coalesced to
 * at most one every 50 ms). Any thread; never blocks on the WebSocket thread. */
void ws_session_changed(void *ws, session_t *s);

/* Stops the WebSocket thread (connections are dropped). Main thread, before registry_destroy;
 * ws_session_changed stays safe until ws_destroy. */
void ws_stop(ws_t *ws);
/* Frees everything and releases the session references (NULL is a no-op). Main thread, after
 * registry_destroy. */
void ws_destroy(ws_t *ws);

#endif
