/* A WebSocket client's queue of shared messages and its batched writes (server/ws_queue.h).
 * Framing the batch here makes a render's State and deltas cost a client one send(2), not one
 * each: with 1,000 clients on a session the sends were most of the WebSocket thread's work. */
#include "ws_queue.h"

#include "wsframe.h"

#include <libwebsockets.h>
#include <string.h>

void ws_queue_init(ws_queue_t *q)
{
    memset(q, 0, sizeof *q);
}

/* Drops the message at the head. */
static void pop(ws_queue_t *q)
{
    ws_msg_t *m = q->q[q->head];
    q->head = (q->head + 1) % WS_QUEUE_CAP;
    q->len--;
    q->bytes -= m->len;
    ws_msg_unref(m);
}

void ws_queue_clear(ws_queue_t *q)
{
    while (q->len)
        pop(q);
}

bool ws_queue_push(ws_queue_t *q, ws_msg_t *m)
{
    if (q->len == WS_QUEUE_CAP || q->bytes + m->len > WS_QUEUE_BYTES) {
        ws_msg_unref(m);
        return false;
    }
    q->q[(q->head + q->len++) % WS_QUEUE_CAP] = m;
    q->bytes += m->len;
    return true;
}

/* One write: a batch of whole frames, or one message too large for a batch. */
static int send_batch(ws_queue_t *q, struct lws *wsi, uint8_t *tx)
{
    ws_msg_t *m = q->q[q->head];
    if (WSFRAME_MAX_HEADER + m->len > WS_QUEUE_BATCH) {
        int w = lws_write(wsi, m->data, m->len, LWS_WRITE_BINARY);
        pop(q);
        return w;
    }
    uint8_t *p = tx + LWS_PRE;
    size_t n = 0;
    while (q->len) {
        m = q->q[q->head];
        if (n + WSFRAME_MAX_HEADER + m->len > WS_QUEUE_BATCH) break;
        n += wsframe_server_header(p + n, m->len, WSFRAME_BINARY);
        memcpy(p + n, m->data, m->len);
        n += m->len;
        pop(q);
    }
    return lws_write(wsi, p, n, LWS_WRITE_HTTP);
}

int ws_queue_send(ws_queue_t *q, struct lws *wsi, uint8_t *tx)
{
    while (q->len) {
        if (send_batch(q, wsi, tx) < 0) return -1;
        if (lws_send_pipe_choked(wsi)) break;
    }
    return 0;
}
