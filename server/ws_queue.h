/* A WebSocket client's bounded queue of shared messages and the writes that empty it: the
 * queued messages leave as many at a time as fit in one batch, framed here, in one write. */
#ifndef LP_WS_QUEUE_H
#define LP_WS_QUEUE_H

#include "ws_feed.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_QUEUE_CAP 256            /* messages queued per client */
#define WS_QUEUE_BYTES (8u << 20)   /* ... and bytes */
#define WS_QUEUE_BATCH (256u << 10) /* bytes of messages framed into one write */

struct lws;

typedef struct ws_queue {
    ws_msg_t *q[WS_QUEUE_CAP];
    int head, len;
    size_t bytes;
} ws_queue_t;

/* Readies an empty queue. */
void ws_queue_init(ws_queue_t *q);
/* Drops every queued message (their references) and leaves the queue empty. */
void ws_queue_clear(ws_queue_t *q);

/* Queues m, taking over its reference; returns false, queueing nothing and dropping the
 * reference, when the queue holds WS_QUEUE_CAP messages or m would take it past
 * WS_QUEUE_BYTES. */
bool ws_queue_push(ws_queue_t *q, ws_msg_t *m);

/* Writes queued messages to wsi while its socket takes them: each write carries as many
 * messages as fit in WS_QUEUE_BATCH, each its own binary frame, handed to lws_write as bytes
 * to send as they are (behind whatever the library still holds for the socket); a message
 * larger than a batch goes alone through the library's framing. `tx` is the caller's buffer of
 * LWS_PRE + WS_QUEUE_BATCH bytes. Returns 0, or -1 when a write failed (close the connection).
 * The WebSocket thread, from the connection's writeable callback. */
int ws_queue_send(ws_queue_t *q, struct lws *wsi, uint8_t *tx);

#endif
