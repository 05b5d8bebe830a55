/* The monitor's output side: the wire protocol over WebSocket on /monitor, as a server on
 * --listen (the liveprof server dials it) and as a client of --push URL (it dials the
 * server). Each link reads the shared backlog through its own per-program cursors, so a slow
 * link never slows ingestion or other links. libwebsockets runs on its own thread. */
#ifndef LP_SERVE_H
#define LP_SERVE_H

#include "program.h"

typedef struct serve serve_t;

/* Starts libwebsockets: listening on host:port when port >= 0 (0 = any free port) and/or
 * pushing to push_url when given. A peer (a dialling server, or the server pushed to) that sends
 * nothing for half of timeout_s seconds is pinged and after all of them dropped (a pushed link
 * is then dialled again). Returns NULL with a message in err. Main thread. */
serve_t *serve_create(monitor_t *m, const char *host, int port, const char *push_url, int timeout_s,
                      char *err, size_t cap);
/* The port actually bound (or -1). */
int serve_port(const serve_t *s);
/* Wakes the service thread to send what is new (any thread; lws_cancel_service). */
void serve_wake(void *s);
/* Stops the thread and frees everything (NULL is a no-op). Main thread. */
void serve_destroy(serve_t *s);

#endif
