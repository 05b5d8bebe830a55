/* Dialled monitor links: the server is the WebSocket client of each monitor it dials. The
 * connection is a raw socket of the link thread's lws context and the WebSocket client is ours
 * (lib/wsframe.c): libwebsockets 4.1's client parser handles every payload byte on its own,
 * about 100 MB per CPU-second, where this one copies a frame's payload at once. */
#include "link_int.h"

#include "err.h"
#include "server.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define PROTOCOL "liveprof-monitor"
#define HANDSHAKE_S 10 /* seconds from connecting to the monitor's upgrade */
#define CLOSE_NORMAL 1000

_Static_assert(LWS_PRE >= WSFRAME_MAX_HEADER, "room for a client frame header");

static void dial_connect(lws_sorted_usec_list_t *sul);

static int64_t mono_ms(void)
{
    return (int64_t)(server_mono_ns() / 1000000);
}

static void retry_later(links_t *l, dial_t *d)
{
    lws_sul_schedule(l->ctx, 0, &d->sul, dial_connect, (lws_usec_t)d->backoff_ms * 1000);
    d->backoff_ms = d->backoff_ms * 2 > 5000 ? 5000 : d->backoff_ms * 2;
}

static void dial_connect(lws_sorted_usec_list_t *sul)
{
    dial_t *d = lws_container_of(sul, dial_t, sul);
    links_t *l = d->owner_links;
    if (d->wsi) return;
    pthread_mutex_lock(&l->mu);
    bool want = d->want;
    char host[256];
    int port = d->port;
    snprintf(host, sizeof host, "%s", d->host);
    if (want) snprintf(d->state, sizeof d->state, "connecting");
    pthread_mutex_unlock(&l->mu);
    if (!want) return;
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = l->ctx;
    ci.address = host;
    ci.port = port;
    ci.host = host;
    ci.method = "RAW";
    ci.local_protocol_name = PROTOCOL;
    ci.opaque_user_data = d;
    ci.pwsi = &d->wsi;
    d->hello_sent = d->closing = false;
    d->req_sent = d->upgraded = d->pong_due = false;
    d->hs_len = 0;
    if (!lws_client_connect_via_info(&ci)) {
        d->wsi = NULL;
        retry_later(l, d);
    }
}

/* Sends the n bytes at p (room for a header before them) as one frame of opcode op. */
static int send_ws(dial_t *d, uint8_t *p, size_t n, unsigned op)
{
    int h = wsframe_client_random(p, n, op);
    if (h < 0) return -1;
    int whole = (int)n + h;
    return lws_write(d->wsi, p - h, (size_t)whole, LWS_WRITE_RAW) < whole ? -1 : 0;
}

/* Sends a control frame (ping, pong, close) with the n <= 125 payload bytes at p. */
static int send_control(dial_t *d, unsigned op, const void *p, size_t n)
{
    uint8_t b[LWS_PRE + WSFRAME_MAX_CONTROL];
    if (n) memcpy(b + LWS_PRE, p, n);
    return send_ws(d, b + LWS_PRE, n, op);
}

int link_dial_send(dial_t *d, uint8_t *p, size_t n)
{
    return send_ws(d, p, n, WSFRAME_BINARY);
}

/* The opening handshake's request, with a fresh key. */
static int send_request(links_t *l, dial_t *d)
{
    uint8_t rnd[16];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) return -1;
    wsframe_key(rnd, d->key);
    uint8_t buf[LWS_PRE + 1024];
    pthread_mutex_lock(&l->mu);
    int n = wsframe_request((char *)buf + LWS_PRE, sizeof buf - LWS_PRE, d->host, d->port,
                            "/monitor", d->key, PROTOCOL);
    pthread_mutex_unlock(&l->mu);
    if (n < 0) return -1;
    d->req_sent = true;
    return lws_write(d->wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_RAW) < n ? -1 : 0;
}

/* The monitor accepted the upgrade: a new connection of d (its units start afresh). */
static void established(links_t *l, dial_t *d)
{
    d->backoff_ms = 100;
    lws_set_timeout(d->wsi, NO_PENDING_TIMEOUT, 0);
    pthread_mutex_lock(&l->mu);
    snprintf(d->state, sizeof d->state, "connected");
    d->error[0] = 0;
    d->gen++;
    d->nsubs = 0;
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < MAX_UNITS; i++)
        d->units[i].on = d->units[i].ack_due = false;
    wire_frame_t none = {0};
    link_push_op(l, d, OP_LINKED, &none, NULL, 0); /* the HTTP thread sets last_used */
    lws_callback_on_writable(d->wsi);
}

/* Takes bytes from the monitor: the rest of its upgrade response, then frames. Returns 0, or -1
 * to close the connection. */
static int received(links_t *l, dial_t *d, const uint8_t *in, size_t len)
{
    d->heard_ms = mono_ms();
    d->pinged = false;
    if (!d->upgraded) {
        size_t before = d->hs_len, room = sizeof d->hs - before;
        size_t take = len < room ? len : room;
        memcpy(d->hs + before, in, take);
        d->hs_len += take;
        int r = wsframe_response(d->hs, d->hs_len, d->key);
        if (r < 0) {
            link_set_error(l, d, "the monitor did not accept the WebSocket upgrade");
            return -1;
        }
        if (r == 0) return 0;
        d->upgraded = true;
        established(l, d);
        in += (size_t)r - before;
        len -= (size_t)r - before;
    }
    wsframe_msg_t m;
    for (int rc; (rc = wsframe_rx_next(&d->wrx, &in, &len, &m)) != 0;) {
        if (rc < 0) {
            link_set_error(l, d,
                           rc == LP_ERANGE ? "message larger than 64 KiB from the monitor"
                                           : "malformed WebSocket frame from the monitor");
            return -1;
        }
        switch (m.op) {
        case WSFRAME_BINARY:
            if (link_on_frame(l, d, m.p, m.len) < 0) return -1;
            break;
        case WSFRAME_PING: /* answered with the newest ping's payload, as RFC 6455 allows */
            memcpy(d->pong, m.p, m.len);
            d->pong_len = m.len;
            d->pong_due = true;
            lws_callback_on_writable(d->wsi);
            break;
        case WSFRAME_PONG:
            break;
        case WSFRAME_CLOSE:
            return -1;
        default:
            link_set_error(l, d, "text message from the monitor");
            return -1;
        }
    }
    return 0;
}

static int writeable(links_t *l, dial_t *d)
{
    if (!d->req_sent) return send_request(l, d);
    if (!d->upgraded) return 0;
    int rc;
    if (d->pong_due) {
        d->pong_due = false;
        rc = send_control(d, WSFRAME_PONG, d->pong, d->pong_len) < 0 ? -1 : 1;
    } else if (d->ping_due) {
        d->ping_due = false;
        rc = send_control(d, WSFRAME_PING, NULL, 0) < 0 ? -1 : 1;
    } else {
        rc = link_on_writeable(l, d);
    }
    if (rc < 0) {
        if (d->closing) { /* a disconnect: say so before the socket goes */
            const uint8_t code[2] = {CLOSE_NORMAL >> 8, CLOSE_NORMAL & 0xff};
            (void)send_control(d, WSFRAME_CLOSE, code, sizeof code);
        }
        return -1;
    }
    if (rc > 0) lws_callback_on_writable(d->wsi);
    return 0;
}

/* The connection is gone (or never came): units freed, a new dial scheduled while wanted. */
static void closed(links_t *l, dial_t *d)
{
    d->wsi = NULL;
    link_units_free(d);
    pthread_mutex_lock(&l->mu);
    bool want = d->want;
    snprintf(d->state, sizeof d->state, want ? "connecting" : "disconnected");
    pthread_mutex_unlock(&l->mu);
    if (want && !atomic_load(&l->stop)) retry_later(l, d);
}

/* Every second: a dialled monitor that sent nothing for half the timeout is pinged (libwebsockets
 * answers for it), and one silent for the whole timeout is dropped and dialled again, so that a
 * monitor whose host went away without closing the connection does not stay "connected". */
static void check_live(lws_sorted_usec_list_t *sul)
{
    links_t *l = lws_container_of(sul, links_t, live_sul);
    int64_t now = mono_ms(), limit = (int64_t)l->timeout_s * 1000;
    for (int i = 0; i < MAX_DIALS; i++) {
        dial_t *d = &l->dials[i];
        if (!d->wsi || !d->upgraded) continue; /* the handshake has its own timeout */
        int64_t quiet = now - d->heard_ms;
        if (quiet >= limit) {
            char why[96];
            snprintf(why, sizeof why, "the monitor answered nothing for %d s", l->timeout_s);
            link_set_error(l, d, why);
            lws_set_timeout(d->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        } else if (quiet >= limit / 2 && !d->pinged) {
            d->pinged = d->ping_due = true;
            lws_callback_on_writable(d->wsi);
        }
    }
    if (!atomic_load(&l->stop))
        lws_sul_schedule(l->ctx, 0, &l->live_sul, check_live, LWS_US_PER_SEC);
}

void link_dial_start(links_t *l, int timeout_s)
{
    l->timeout_s = timeout_s > 0 ? timeout_s : 30;
    lws_sul_schedule(l->ctx, 0, &l->live_sul, check_live, LWS_US_PER_SEC);
}

/* Wakes up for what the HTTP thread asked (links_want, subscriptions): dials, closes, writes. */
static void woken(links_t *l)
{
    for (int i = 0; i < MAX_DIALS; i++) {
        dial_t *x = &l->dials[i];
        pthread_mutex_lock(&l->mu);
        bool dirty = x->dirty, want = x->want, subs = x->nsubs > 0, used = x->id != 0;
        x->dirty = false;
        pthread_mutex_unlock(&l->mu);
        if (!used) continue;
        if (dirty && want && !x->wsi) {
            x->backoff_ms = 100;
            lws_sul_schedule(l->ctx, 0, &x->sul, dial_connect, 1);
        }
        if (dirty && !want && x->wsi) x->closing = true;
        if (x->wsi && (subs || x->closing)) lws_callback_on_writable(x->wsi);
    }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)user;
    struct lws_context *ctx = lws_get_context(wsi);
    links_t *l = ctx ? lws_context_user(ctx) : NULL;
    dial_t *d = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    switch (reason) {
    case LWS_CALLBACK_RAW_CONNECTED:
        if (!d) return -1;
        wsframe_rx_init(&d->wrx, d->rx, WIRE_MAX_FRAME);
        d->heard_ms = mono_ms();
        d->pinged = d->ping_due = false;
        lws_set_timeout(wsi, PENDING_TIMEOUT_AWAITING_SERVER_RESPONSE, HANDSHAKE_S);
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_RAW_RX:
        return d && received(l, d, in, len) == 0 ? 0 : -1;
    case LWS_CALLBACK_RAW_WRITEABLE:
        return d && writeable(l, d) == 0 ? 0 : -1;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (l) woken(l);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (d) link_set_error(l, d, in ? (const char *)in : "cannot connect to the monitor");
        /* fall through */
    case LWS_CALLBACK_RAW_CLOSE:
        if (d) closed(l, d);
        return 0;
    default:
        return 0;
    }
}

const struct lws_protocols link_dial_protocols[] = {
    {PROTOCOL, callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

void *link_dial_service(void *arg)
{
    links_t *l = arg;
    pthread_setname_np(pthread_self(), "lp-links");
    while (!atomic_load(&l->stop))
        lws_service(l->ctx, 0);
    return NULL;
}
