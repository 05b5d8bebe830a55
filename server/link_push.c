/* Monitors that push (liveprof-monitor --push ws://HOST:WSPORT/monitor): the server's end of a
 * monitor link, served on the WebSocket port. The monitor's Hello token is checked as an API
 * token on the HTTP thread (its user owns the sessions); once accepted, the connection is a
 * monitor link like a dialled one (server/link.c), served on the WebSocket thread. */
#include "link_int.h"

#include "auth.h"
#include "ws.h"
#include "xmalloc.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define CLOSE_POLICY 1008
#define CLOSE_BAD_TOKEN 4401 /* as for browsers (docs/websocket.md) */

typedef struct push_pss {
    dial_t *d;
} push_pss_t;

/* The links of a pushed connection: the protocol's user when the monitor named the protocol,
 * else (reached through ws.c's routing) the connection's opaque user data, which ws.c sets to
 * the route protocol's user. */
static links_t *links_of(struct lws *wsi)
{
    const struct lws_protocols *p = lws_get_protocol(wsi);
    links_t *l = p ? p->user : NULL;
    return l ? l : lws_get_opaque_user_data(wsi);
}

static int verdict_of(links_t *l, dial_t *d)
{
    pthread_mutex_lock(&l->mu);
    int v = d->verdict;
    pthread_mutex_unlock(&l->mu);
    return v;
}

static int established(links_t *l, push_pss_t *ps, struct lws *wsi)
{
    dial_t *d = NULL;
    for (int i = 0; i < MAX_PUSHES && !d; i++)
        if (!l->pushes[i].wsi) d = &l->pushes[i]; /* wsi: WebSocket thread only */
    if (!d) {
        fprintf(stderr, "liveprof: pushed monitor refused: %d monitors already connected\n",
                MAX_PUSHES);
        return -1;
    }
    if (!d->rx) d->rx = xmalloc(WIRE_MAX_FRAME);
    d->wsi = wsi;
    d->pushed = true;
    d->owner_links = l;
    d->rx_len = 0;
    d->hello_sent = d->closing = false;
    for (int i = 0; i < MAX_UNITS; i++) {
        d->units[i].prog[0] = 0;
        d->units[i].on = d->units[i].ack_due = false;
    }
    pthread_mutex_lock(&l->mu);
    d->id = -(int64_t)(d - l->pushes) - 1;
    d->gen++;
    d->verdict = 0;
    d->nsubs = 0;
    d->token[0] = d->error[0] = 0;
    snprintf(d->state, sizeof d->state, "connecting");
    pthread_mutex_unlock(&l->mu);
    ps->d = d;
    return 0;
}

/* One whole message. Before the token is accepted only the monitor's Hello may come. */
static int message(links_t *l, dial_t *d, const uint8_t *b, size_t n)
{
    int v = verdict_of(l, d);
    if (v == 1) return link_on_frame(l, d, b, n);
    wire_frame_t f;
    if (v != 0 || wire_decode(&f, b, n) < 0 || f.kind != WIRE_HELLO || f.version < 1 ||
        f.token.len >= sizeof d->token) {
        link_set_error(l, d, "expected the monitor's Hello (version 1) first");
        return -1;
    }
    pthread_mutex_lock(&l->mu);
    wire_str_copy(d->token, f.token);
    d->token[f.token.len] = 0;
    d->verdict = 2;
    pthread_mutex_unlock(&l->mu);
    wire_frame_t none = {0};
    link_push_op(l, d, OP_HELLO, &none, NULL, 0);
    return 0;
}

/* Tells a refused monitor why (an Error frame), then closes with 4401. */
static int refuse(links_t *l, dial_t *d)
{
    static const char why[] = "invalid or expired token";
    wire_frame_t e = {.kind = WIRE_ERROR, .text = wire_cstr(why)};
    int n = wire_encode(&e, l->ptx + LWS_PRE, WIRE_MAX_FRAME);
    if (n > 0) (void)lws_write(d->wsi, l->ptx + LWS_PRE, (size_t)n, LWS_WRITE_BINARY);
    lws_close_reason(d->wsi, (enum lws_close_status)CLOSE_BAD_TOKEN, (unsigned char *)why,
                     sizeof why - 1);
    return -1;
}

static int writeable(links_t *l, dial_t *d)
{
    int v = verdict_of(l, d);
    if (v < 0) return refuse(l, d);
    if (v != 1) return 0;
    if (!d->hello_sent) {
        pthread_mutex_lock(&l->mu);
        snprintf(d->state, sizeof d->state, "connected");
        pthread_mutex_unlock(&l->mu);
    }
    int rc = link_on_writeable(l, d);
    if (rc < 0) return -1;
    if (rc > 0) lws_callback_on_writable(d->wsi);
    return 0;
}

static void closed(links_t *l, push_pss_t *ps)
{
    dial_t *d = ps->d;
    ps->d = NULL;
    pthread_mutex_lock(&l->mu);
    d->verdict = 0;
    d->nsubs = 0;
    sodium_memzero(d->token, sizeof d->token);
    snprintf(d->state, sizeof d->state, "disconnected");
    pthread_mutex_unlock(&l->mu);
    d->wsi = NULL;
    link_units_free(d);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    push_pss_t *ps = user;
    links_t *l = wsi ? links_of(wsi) : NULL;
    if (!l) return 0;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: { /* named the protocol: only on /monitor */
        char uri[64] = "";
        return lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) > 0 && !strcmp(uri, "/monitor")
                   ? 0
                   : -1;
    }
    case LWS_CALLBACK_ESTABLISHED:
        return established(l, ps, wsi);
    case LWS_CALLBACK_RECEIVE: {
        dial_t *d = ps ? ps->d : NULL;
        if (!d) return -1;
        size_t n;
        int whole = link_rx(l, d, wsi, in, len, &n);
        if (whole < 0) return -1;
        if (whole && message(l, d, d->rx, n) < 0) {
            lws_close_reason(wsi, (enum lws_close_status)CLOSE_POLICY,
                             (unsigned char *)"protocol error", 14);
            return -1;
        }
        return 0;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return ps && ps->d ? writeable(l, ps->d) : -1;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        for (int i = 0; i < MAX_PUSHES; i++) {
            dial_t *d = &l->pushes[i];
            if (!d->wsi) continue;
            pthread_mutex_lock(&l->mu);
            bool due = d->verdict < 0 || (d->verdict == 1 && (!d->hello_sent || d->nsubs));
            pthread_mutex_unlock(&l->mu);
            if (due) lws_callback_on_writable(d->wsi);
        }
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (ps && ps->d) closed(l, ps);
        return 0;
    default:
        return 0;
    }
}

int link_push_init(links_t *l, ws_t *ws)
{
    l->ws = ws;
    l->push_proto[0] = (struct lws_protocols){.name = "liveprof-monitor",
                                              .callback = callback,
                                              .per_session_data_size = sizeof(push_pss_t),
                                              .rx_buffer_size = WIRE_MAX_FRAME,
                                              .user = l};
    return ws_route(ws, "/monitor", l->push_proto);
}

void link_push_hello(links_t *l, int64_t conn, uint64_t gen)
{
    char token[sizeof l->pushes[0].token];
    pthread_mutex_lock(&l->mu);
    dial_t *d = link_slot(l, conn);
    bool current = d && d->gen == gen && d->verdict == 2;
    snprintf(token, sizeof token, "%s", current ? d->token : "");
    pthread_mutex_unlock(&l->mu);
    if (!current) return;
    auth_t a;
    bool ok = token[0] && auth_check_token(l->db, token, &a) == 0 && a.role >= AUTH_USER;
    sodium_memzero(token, sizeof token);
    pthread_mutex_lock(&l->mu);
    if (d->gen == gen && d->verdict == 2) {
        d->verdict = ok ? 1 : -1;
        if (ok) d->owner = a;
    }
    pthread_mutex_unlock(&l->mu);
    if (!ok) fprintf(stderr, "liveprof: pushed monitor refused: invalid or expired token\n");
    lws_cancel_service(ws_context(l->ws));
}
