/* The WebSocket server on libwebsockets: one service thread, one port. A browser connection is
 * checked by the HTTP thread (token, visibility) through a lookup request, then attached to its
 * session's feed; the feed's deltas, at most one render every 25 ms (less often for feeds with
 * more than FANOUT_CLIENTS clients: see coalesce_ms), are shared messages
 * placed on every client's bounded queue (server/ws_queue.c: one write per burst). A
 * client whose queue overflows is reset onto fresh snapshots, so slow readers cost only their
 * own memory and never slow ingestion. */
#include "ws.h"

#include "auth.h"
#include "err.h"
#include "server.h"
#include "ws_feed.h"
#include "ws_lookup.h"
#include "ws_queue.h"
#include "xmalloc.h"

#include <libwebsockets.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ROUTES 4
#define RX_MAX 4096           /* largest client message */
#define READ_BUF (128u << 10) /* bytes one read(2) may take */
/* Bytes one send() may carry. lws's default is rx_buffer_size (RX_MAX): a 50 KB delta would go
 * out in 4 KiB pieces, a poll round each, the rest copied into lws's buffer list. */
#define TX_SEND_MAX (1u << 20)
#define COALESCE_MS 25       /* at most one render per session this often ... */
#define FANOUT_CLIENTS 500   /* ... up to this many clients on its feed, then proportionally less */
#define COALESCE_MAX_MS 1000 /* ... but at least once a second */
#define GREET_MS 50          /* wait this long for Hello/Subscribe before the snapshots */
#define LINGER_MS 30000      /* keep an unwatched feed this long for resuming clients */
#define MAX_VIEWS 6
#define TICK_US 10000

_Static_assert(LWS_PRE <= WS_MSG_HEADROOM, "frame header room");

/* WebSocket close codes of this protocol (docs/websocket.md). */
enum {
    CLOSE_GOING_AWAY = 1001,
    CLOSE_UNSUPPORTED = 1003,
    CLOSE_INVALID = 1007,
    CLOSE_POLICY = 1008,
    CLOSE_TOO_BIG = 1009,
    CLOSE_BAD_TOKEN = WS_LOOKUP_BAD_TOKEN,
    CLOSE_PRIVATE = WS_LOOKUP_PRIVATE,
    CLOSE_NOT_FOUND = WS_LOOKUP_NOT_FOUND,
    CLOSE_DELETED = 4410,
};

typedef struct feed_ent feed_ent_t;

typedef struct client {
    struct lws *wsi;
    uint64_t req; /* lookup request number (0 when none pending) */
    auth_t auth;  /* who the token named (a guest without one) */
    feed_ent_t *fe;
    struct client *prev, *next; /* the feed's clients */
    ws_view_t *views[MAX_VIEWS];
    int nviews;
    bool greeted; /* snapshots or resumed deltas were queued */
    bool behind;  /* its queue overflowed: fresh snapshots once the socket drains */
    int64_t greet_at_ms;
    bool have_hello, have_sub;
    uint64_t hello_seq, sub_from, sub_to;
    uint8_t sub_kinds;   /* bit per kind */
    ws_queue_t q;        /* overflowing it resets the client to snapshots */
    uint16_t close_code; /* set: close after the queue drains */
    char close_reason[100];
    const struct lws_protocols *route; /* a registered path: forwarded */
    void *route_pss;
    uint8_t rx[RX_MAX];
    size_t rxlen;
    bool rx_bad;
} client_t;

struct feed_ent {
    ws_feed_t *feed;
    session_t *s;
    feed_ent_t *next;
    client_t *clients;
    int nclients;
    ws_view_t *defaults[3]; /* held for the feed's life so resumes find them */
    bool dirty, checking;
    int64_t last_ms, idle_since_ms, checked_ms;
};

typedef struct route {
    char path[64];
    const struct lws_protocols *proto;
} route_t;

struct ws {
    server_t *srv;
    http_server_t *http;
    char host[64];
    int port;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    struct lws_protocols protos[MAX_ROUTES + 2];
    route_t routes[MAX_ROUTES];
    int nroutes;
    pthread_t thread;
    bool started;
    _Atomic bool stop;
    /* shared between threads, under mu */
    pthread_mutex_t mu;
    session_t *dirty[64];
    int ndirty;
    bool all_dirty, woken;
    ws_lookups_t *lookups;
    session_watch_t watch;
    /* WebSocket thread */
    feed_ent_t *feeds;
    client_t **pending;
    size_t npending, pending_cap;
    uint64_t next_req;
    lws_sorted_usec_list_t sul, due_sul; /* the tick; the next render that falls due */
    lws_retry_bo_t idle;                 /* ping and hang-up policy of the port's connections */
    uint8_t *tx;                         /* LWS_PRE + WS_QUEUE_BATCH bytes: ws_queue_send's */
};

static int64_t now_ms(void)
{
    return (int64_t)(server_mono_ns() / 1000000);
}

/* ---- any thread: session changes ---------------------------------------------------------- */

void ws_session_changed(void *arg, session_t *s)
{
    ws_t *ws = arg;
    pthread_mutex_lock(&ws->mu);
    bool seen = ws->all_dirty;
    for (int i = 0; i < ws->ndirty && !seen; i++)
        seen = ws->dirty[i] == s;
    if (!seen) {
        if (ws->ndirty < (int)(sizeof ws->dirty / sizeof ws->dirty[0]))
            ws->dirty[ws->ndirty++] = s;
        else
            ws->all_dirty = true;
    }
    bool wake = !ws->woken && ws->ctx && !atomic_load_explicit(&ws->stop, memory_order_relaxed);
    ws->woken = true;
    pthread_mutex_unlock(&ws->mu);
    if (wake) lws_cancel_service(ws->ctx);
}

/* ---- client queues ------------------------------------------------------------------------ */

/* The least time between two renders of a feed with n clients: COALESCE_MS up to
 * FANOUT_CLIENTS, then in proportion to n (every render costs every client a send, so the sends
 * per second stay those of FANOUT_CLIENTS clients at COALESCE_MS), at most
 * COALESCE_MAX_MS. */
static int64_t coalesce_ms(int n)
{
    int64_t ms = (int64_t)COALESCE_MS * n / FANOUT_CLIENTS;
    return ms < COALESCE_MS ? COALESCE_MS : ms > COALESCE_MAX_MS ? COALESCE_MAX_MS : ms;
}

static void resync(client_t *c);
static void greet(client_t *c);

/* Queues m (takes the reference). An overflow drops the queue: the client is coalesced onto
 * snapshots of the documents current when its socket has drained. */
static void q_push(client_t *c, ws_msg_t *m)
{
    if (c->close_code || c->behind) {
        ws_msg_unref(m);
        return;
    }
    if (!ws_queue_push(&c->q, m)) {
        ws_queue_clear(&c->q);
        c->behind = true;
        lws_callback_on_writable(c->wsi);
        return;
    }
    lws_callback_on_writable(c->wsi);
}

/* Replaces everything queued with State and the snapshots of the client's views. */
static void resync(client_t *c)
{
    ws_queue_clear(&c->q);
    c->behind = false;
    ws_feed_t *f = c->fe->feed;
    q_push(c, ws_feed_state(f));
    for (int i = 0; i < c->nviews; i++)
        q_push(c, ws_feed_snapshot(f, c->views[i]));
    c->greeted = true;
}

/* Sends an Error, then closes with `code`. */
static void fail(client_t *c, uint16_t code, const char *why)
{
    if (c->close_code) return;
    ws_queue_clear(&c->q);
    c->behind = false;
    wsmsg_t m = {.type = WSMSG_ERROR};
    m.u.error.code = code;
    m.u.error.message = (wsmsg_str_t){why, (uint32_t)strlen(why)};
    q_push(c, ws_msg_new(&m));
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", why);
}

/* ---- feeds -------------------------------------------------------------------------------- */

static void set_views(client_t *c, uint8_t kinds, uint64_t from, uint64_t to)
{
    for (int i = 0; i < c->nviews; i++)
        ws_feed_release(c->fe->feed, c->views[i]);
    c->nviews = 0;
    for (int k = 0; k < 6; k++)
        if (kinds & (1u << k)) c->views[c->nviews++] = ws_feed_view(c->fe->feed, k, from, to);
}

static feed_ent_t *feed_get(ws_t *ws, session_t *s)
{
    for (feed_ent_t *e = ws->feeds; e; e = e->next)
        if (e->s == s) {
            session_unref(s); /* the feed already holds one */
            return e;
        }
    feed_ent_t *e = xcalloc(1, sizeof *e);
    e->s = s;
    e->feed = ws_feed_create(s);
    for (int k = 0; k < 3; k++)
        e->defaults[k] = ws_feed_view(e->feed, k == 2 ? 3 : k, 0, 0); /* grid caps heap */
    e->next = ws->feeds;
    ws->feeds = e;
    return e;
}

static void feed_free(feed_ent_t *e)
{
    for (int k = 0; k < 3; k++)
        ws_feed_release(e->feed, e->defaults[k]);
    ws_feed_destroy(e->feed);
    free(e);
}

static void attach(ws_t *ws, client_t *c, session_t *s)
{
    feed_ent_t *e = feed_get(ws, s);
    c->fe = e;
    c->next = e->clients;
    if (e->clients) e->clients->prev = c;
    e->clients = c;
    e->nclients++;
    set_views(c, c->have_sub ? c->sub_kinds : (1u << 0 | 1u << 1 | 1u << 3), c->sub_from,
              c->sub_to);
    q_push(c, ws_feed_state(e->feed));
    c->greet_at_ms = now_ms() + GREET_MS;
    if (c->have_hello || c->have_sub) greet(c); /* it spoke while its lookup ran */
    (void)ws;
}

/* The client has said what it wants (or waited long enough): resume or snapshots. */
static void greet(client_t *c)
{
    if (c->greeted || !c->fe) return;
    c->greeted = true;
    if (c->have_hello && c->hello_seq && !c->have_sub) {
        ws_msg_t *missed[WS_FEED_HISTORY];
        int n =
            ws_feed_missed(c->fe->feed, c->hello_seq, c->views, c->nviews, missed, WS_FEED_HISTORY);
        if (n >= 0) {
            for (int i = 0; i < n; i++)
                q_push(c, missed[i]);
            return;
        }
    }
    resync(c);
}

static void detach(client_t *c)
{
    feed_ent_t *e = c->fe;
    if (!e) return;
    for (int i = 0; i < c->nviews; i++)
        ws_feed_release(e->feed, c->views[i]);
    c->nviews = 0;
    if (c->prev)
        c->prev->next = c->next;
    else
        e->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    if (--e->nclients == 0) e->idle_since_ms = now_ms();
    c->fe = NULL;
}

/* Renders a feed and hands the results to its clients. */
static void feed_update(feed_ent_t *e)
{
    size_t cap = ws_feed_nviews(e->feed);
    ws_out_t *out = xmalloc((cap ? cap : 1) * sizeof *out);
    ws_msg_t *state = NULL;
    int n = ws_feed_update(e->feed, out, (int)cap, &state);
    e->dirty = false;
    e->last_ms = now_ms();
    for (client_t *c = e->clients; c; c = c->next) {
        if (!c->greeted) continue;
        if (state) q_push(c, ws_msg_ref(state));
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c->nviews; j++)
                if (c->views[j] == out[i].view) q_push(c, ws_msg_ref(out[i].msg));
    }
    ws_msg_unref(state);
    for (int i = 0; i < n; i++)
        ws_msg_unref(out[i].msg);
    free(out);
}

/* Takes the workers' change marks and the lookup replies. */
static void drain(ws_t *ws)
{
    pthread_mutex_lock(&ws->mu);
    session_t *dirty[64];
    int nd = ws->ndirty;
    bool all = ws->all_dirty;
    memcpy(dirty, ws->dirty, (size_t)nd * sizeof *dirty);
    ws->ndirty = 0;
    ws->all_dirty = false;
    ws->woken = false;
    pthread_mutex_unlock(&ws->mu);
    ws_lookup_t *replies = ws_lookups_answers(ws->lookups);
    for (feed_ent_t *e = ws->feeds; e; e = e->next)
        for (int i = 0; i < nd && !all && !e->dirty; i++)
            e->dirty = dirty[i] == e->s;
    if (all)
        for (feed_ent_t *e = ws->feeds; e; e = e->next)
            e->dirty = true;
    while (replies) {
        ws_lookup_t *l = replies;
        replies = l->next;
        if (!l->id) { /* visibility: close the clients that may no longer read the session */
            for (feed_ent_t *e = ws->feeds; e; e = e->next) {
                if (e->s != l->s) continue;
                e->checking = false;
                for (client_t *c = e->clients; c; c = c->next)
                    if (!auth_can_read(&c->auth, l->owner, l->is_public))
                        fail(c, CLOSE_PRIVATE, "this session is private");
            }
            session_unref(l->s);
            free(l);
            continue;
        }
        client_t *c = NULL;
        for (size_t i = 0; i < ws->npending && !c; i++)
            if (ws->pending[i]->req == l->id) {
                c = ws->pending[i];
                ws->pending[i] = ws->pending[--ws->npending];
            }
        if (!c) { /* the client left meanwhile */
            if (l->s) session_unref(l->s);
        } else if (l->code) {
            c->req = 0;
            fail(c, (uint16_t)l->code,
                 l->code == CLOSE_BAD_TOKEN ? "invalid or expired token"
                 : l->code == CLOSE_PRIVATE ? "this session is private"
                                            : "no such session");
        } else {
            c->req = 0;
            c->auth = l->auth;
            attach(ws, c, l->s);
        }
        free(l);
    }
}

/* True while more than a quarter of the feed's clients still hold messages of earlier renders:
 * the sockets, not the renders, are the bottleneck then, so the next render waits and merges
 * more changes into one delta (a cell changed twice is sent once) rather than queue more
 * bytes behind them. A few slow clients do not hold the others up: they fall behind alone. */
static bool backlogged(const feed_ent_t *e)
{
    int waiting = 0, n = 0;
    for (const client_t *c = e->clients; c; c = c->next) {
        if (!c->greeted || c->behind || c->close_code) continue;
        n++;
        waiting += c->q.len > 0;
    }
    return waiting * 4 > n;
}

static void render_due(ws_t *ws);

static void due(lws_sorted_usec_list_t *sul)
{
    render_due(lws_container_of(sul, ws_t, due_sul));
}

/* Renders the dirty feeds whose coalescing time is up, and sets the render timer for the first
 * of the others: a render happens when it falls due, not at the next tick. */
static void render_due(ws_t *ws)
{
    int64_t now = now_ms(), next = INT64_MAX;
    for (feed_ent_t *e = ws->feeds; e; e = e->next) {
        if (!e->dirty || atomic_load_explicit(&e->s->deleted, memory_order_acquire)) continue;
        int64_t at = e->last_ms + coalesce_ms(e->nclients);
        if (at <= now && backlogged(e) && now - e->last_ms < COALESCE_MAX_MS)
            continue; /* the tick looks again */
        if (at <= now)
            feed_update(e);
        else if (at < next)
            next = at;
    }
    if (next != INT64_MAX && !atomic_load_explicit(&ws->stop, memory_order_relaxed))
        lws_sul_schedule(ws->ctx, 0, &ws->due_sul, due, (next - now) * 1000);
}

/* Every 10 ms: greetings, deleted sessions, idle feeds, then the renders that are due. */
static void tick(lws_sorted_usec_list_t *sul)
{
    ws_t *ws = lws_container_of(sul, ws_t, sul);
    drain(ws);
    int64_t now = now_ms();
    for (feed_ent_t **pp = &ws->feeds; *pp;) {
        feed_ent_t *e = *pp;
        bool gone = atomic_load_explicit(&e->s->deleted, memory_order_acquire);
        if (gone) {
            for (client_t *c = e->clients; c; c = c->next)
                fail(c, CLOSE_DELETED, "the session was deleted");
        }
        if (!e->nclients && (gone || now - e->idle_since_ms > LINGER_MS)) {
            *pp = e->next;
            feed_free(e);
            continue;
        }
        for (client_t *c = e->clients; c; c = c->next)
            if (!c->greeted && now >= c->greet_at_ms) greet(c);
        if (now - e->last_ms >= 1000) e->dirty = true; /* the State's counters */
        if (e->nclients && !e->checking && now - e->checked_ms >= 1000) {
            /* visibility may change (PATCH): ask the HTTP thread about it every second */
            ws_lookup_t *l = xcalloc(1, sizeof *l);
            l->s = session_ref(e->s); /* alive until the reply is handled */
            e->checking = true;
            e->checked_ms = now;
            ws_lookups_ask(ws->lookups, l);
        }
        pp = &e->next;
    }
    render_due(ws);
    if (!atomic_load_explicit(&ws->stop, memory_order_relaxed))
        lws_sul_schedule(ws->ctx, 0, &ws->sul, tick, TICK_US);
}

/* ---- client messages ---------------------------------------------------------------------- */

static void on_message(client_t *c, const uint8_t *p, size_t n)
{
    uint64_t arena[512];
    wsmsg_t m;
    int rc = wsmsg_decode(p, n, &m, arena, sizeof arena);
    if (rc < 0) {
        fail(c, rc == LP_ENOMEM ? CLOSE_TOO_BIG : CLOSE_INVALID, "not a valid Message");
        return;
    }
    if (m.type == WSMSG_HELLO) {
        c->have_hello = true;
        c->hello_seq = m.u.hello.last_seq;
    } else if (m.type == WSMSG_SUBSCRIBE) {
        uint8_t kinds = 0;
        for (uint32_t i = 0; i < m.u.subscribe.ndiagrams; i++) {
            int k = ws_feed_kind(m.u.subscribe.diagrams[i].p, m.u.subscribe.diagrams[i].len);
            if (k < 0) {
                fail(c, CLOSE_POLICY, "unknown diagram (grid caps gc heap heapprof sparks)");
                return;
            }
            kinds |= (uint8_t)(1u << k);
        }
        if (m.u.subscribe.to_ns && m.u.subscribe.to_ns <= m.u.subscribe.from_ns) {
            fail(c, CLOSE_POLICY, "subscribe: need from_ns < to_ns (or to_ns = 0)");
            return;
        }
        c->have_sub = true;
        c->sub_kinds = kinds;
        c->sub_from = m.u.subscribe.from_ns;
        c->sub_to = m.u.subscribe.to_ns;
        if (c->fe) {
            set_views(c, kinds, c->sub_from, c->sub_to);
            c->greeted = false;
        }
    } else {
        fail(c, CLOSE_POLICY, "clients send only Hello and Subscribe");
        return;
    }
    greet(c);
}

/* ---- lws callbacks ------------------------------------------------------------------------ */

static const route_t *route_of(ws_t *ws, const char *path)
{
    for (int i = 0; i < ws->nroutes; i++)
        if (!strcmp(ws->routes[i].path, path)) return &ws->routes[i];
    return NULL;
}

static int established(ws_t *ws, client_t *c, struct lws *wsi)
{
    char uri[256] = "";
    lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
    c->wsi = wsi;
    ws_queue_init(&c->q);
    const route_t *r = route_of(ws, uri);
    if (r) {
        lws_set_opaque_user_data(wsi, r->proto->user); /* the route's own state (ws_route) */
        c->route = r->proto;
        c->route_pss =
            r->proto->per_session_data_size ? xcalloc(1, r->proto->per_session_data_size) : NULL;
        return r->proto->callback(wsi, LWS_CALLBACK_ESTABLISHED, c->route_pss, NULL, 0);
    }
    /* lws copies "name=value" into the buffer and returns where the value starts */
    char sbuf[64] = "", tbuf[200] = "";
    const char *sid = lws_get_urlarg_by_name(wsi, "session=", sbuf, sizeof sbuf);
    const char *token = lws_get_urlarg_by_name(wsi, "token=", tbuf, sizeof tbuf);
    if (strcmp(uri, "/ws")) {
        fail(c, CLOSE_NOT_FOUND, "unknown path (use /ws?session=ID)");
        return 0;
    }
    if (!sid || strlen(sid) != 32) {
        fail(c, CLOSE_NOT_FOUND, "no such session");
        return 0;
    }
    ws_lookup_t *l = xcalloc(1, sizeof *l);
    l->id = c->req = ++ws->next_req;
    snprintf(l->session, sizeof l->session, "%s", sid);
    snprintf(l->token, sizeof l->token, "%s", token ? token : "");
    sodium_memzero(tbuf, sizeof tbuf);
    xgrow((void **)&ws->pending, &ws->pending_cap, ws->npending + 1, sizeof *ws->pending);
    ws->pending[ws->npending++] = c;
    ws_lookups_ask(ws->lookups, l);
    return 0;
}

static void closed(ws_t *ws, client_t *c)
{
    if (c->req)
        for (size_t i = 0; i < ws->npending; i++)
            if (ws->pending[i] == c) ws->pending[i] = ws->pending[--ws->npending];
    c->req = 0;
    detach(c);
    ws_queue_clear(&c->q);
}

static int writable(ws_t *ws, client_t *c)
{
    /* messages to send and room for them: the client drained its socket, so it is reading. As
     * good as a pong for the port's hang-up policy (a reader far behind could not answer a
     * ping in time), unless it is stalled inside a message it sends. (Not on every writeable
     * callback: lws's own pings come through here too.) */
    if (c->q.len && !c->rxlen) lws_validity_confirmed(c->wsi);
    /* as many queued messages as the socket takes now: one poll round per burst, not per
     * message */
    if (c->q.len) {
        if (ws_queue_send(&c->q, c->wsi, ws->tx) < 0) return -1;
        if (c->q.len || c->close_code || c->behind) lws_callback_on_writable(c->wsi);
        return 0;
    }
    if (c->behind && !c->close_code && c->fe) {
        resync(c); /* drained: the current documents */
        return 0;
    }
    if (c->close_code) {
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    }
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    ws_t *ws = lws_context_user(lws_get_context(wsi));
    /* `user` is our per-connection data only for the callbacks of an upgraded connection */
    bool conn = reason == LWS_CALLBACK_ESTABLISHED || reason == LWS_CALLBACK_RECEIVE ||
                reason == LWS_CALLBACK_SERVER_WRITEABLE || reason == LWS_CALLBACK_CLOSED ||
                reason == LWS_CALLBACK_WS_PEER_INITIATED_CLOSE ||
                reason == LWS_CALLBACK_RECEIVE_PONG || reason == LWS_CALLBACK_TIMER;
    client_t *c = conn ? user : NULL;
    if (c && c->route && reason != LWS_CALLBACK_ESTABLISHED) {
        int rc = c->route->callback(wsi, reason, c->route_pss, in, len);
        if (reason == LWS_CALLBACK_CLOSED) {
            free(c->route_pss);
            c->route_pss = NULL;
            c->route = NULL;
        }
        return rc;
    }
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (ws) {
            drain(ws);
            render_due(ws);
        }
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        return established(ws, c, wsi);
    case LWS_CALLBACK_RECEIVE:
        if (c->close_code) return 0;
        if (!lws_frame_is_binary(wsi)) {
            fail(c, CLOSE_UNSUPPORTED, "messages are binary FlatBuffers (proto/ws.fbs)");
            return 0;
        }
        if (c->rxlen + len > RX_MAX) {
            fail(c, CLOSE_TOO_BIG, "message too large");
            return 0;
        }
        if (len) memcpy(c->rx + c->rxlen, in, len);
        c->rxlen += len;
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            on_message(c, c->rx, c->rxlen);
            c->rxlen = 0;
        }
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return writable(ws, c);
    case LWS_CALLBACK_CLOSED:
        closed(ws, c);
        return 0;
    default:
        return 0;
    }
}

/* ---- life ----------------------------------------------------------------------------------- */

/* The lookup answers are in: wake the WebSocket thread (HTTP thread). */
static void wake(void *arg)
{
    ws_t *ws = arg;
    if (ws->ctx) lws_cancel_service(ws->ctx);
}

ws_t *ws_create(server_t *srv, http_server_t *http, const char *host, int port)
{
    ws_t *ws = xcalloc(1, sizeof *ws);
    ws->srv = srv;
    ws->http = http;
    snprintf(ws->host, sizeof ws->host, "%s", host);
    ws->port = port;
    pthread_mutex_init(&ws->mu, NULL);
    ws->lookups = ws_lookups_create(srv, http, wake, ws);
    ws->watch = (session_watch_t){ws_session_changed, ws};
    ws->tx = xmalloc(LWS_PRE + WS_QUEUE_BATCH);
    return ws;
}

int ws_route(ws_t *ws, const char *path, const struct lws_protocols *proto)
{
    if (ws->nroutes == MAX_ROUTES || ws->ctx || strlen(path) >= sizeof ws->routes[0].path)
        return LP_ERANGE;
    route_t *r = &ws->routes[ws->nroutes++];
    snprintf(r->path, sizeof r->path, "%s", path);
    r->proto = proto;
    return 0;
}

static void *service_main(void *arg)
{
    ws_t *ws = arg;
    pthread_setname_np(pthread_self(), "lp-websocket");
    while (!atomic_load_explicit(&ws->stop, memory_order_relaxed))
        if (lws_service(ws->ctx, 0) < 0) break;
    return NULL;
}

int ws_start(ws_t *ws, char *err, size_t cap)
{
    lws_set_log_level(
        getenv("LIVEPROF_LWS_DEBUG") ? LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_INFO : LLL_ERR, NULL);
    ws->protos[0] = (struct lws_protocols){.name = "liveprof",
                                           .callback = callback,
                                           .per_session_data_size = sizeof(client_t),
                                           .rx_buffer_size = RX_MAX,
                                           .tx_packet_size = TX_SEND_MAX};
    for (int i = 0; i < ws->nroutes; i++)
        ws->protos[i + 1] = *ws->routes[i].proto;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = ws->port;
    info.iface = ws->host;
    info.protocols = ws->protos;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.user = ws;
    /* The buffer each read(2) fills: lws's default 4 KiB made a pushing monitor's 64 KiB frames
     * cost 16 reads and polls each (a route's rx_buffer_size still caps its reads). */
    info.pt_serv_buf_size = READ_BUF;
    /* Stalled clients: an upgrade request must be whole within `hs` seconds; an established
     * connection is pinged after half the timeout without a pong and closed after the whole
     * (a client stalled inside a frame cannot answer, so slow-loris frames end there too). */
    int t = server_opts(ws->srv)->ws_timeout_s;
    unsigned hs = t > 0 && t < 10 ? (unsigned)t : 10;
    info.timeout_secs = hs;
    info.timeout_secs_ah_idle = hs;
    ws->idle = (lws_retry_bo_t){.secs_since_valid_ping = (uint16_t)(t > 1 ? t / 2 : 15),
                                .secs_since_valid_hangup = (uint16_t)(t > 1 ? t : 30)};
    info.retry_and_idle_policy = &ws->idle;
    ws->ctx = lws_create_context(&info);
    if (!ws->ctx) {
        snprintf(err, cap, "cannot listen for WebSockets on %s:%d", ws->host, ws->port);
        return LP_ENET;
    }
    ws->vh = lws_get_vhost_by_name(ws->ctx, "default");
    if (ws->vh) ws->port = lws_get_vhost_listen_port(ws->vh);
    lws_sul_schedule(ws->ctx, 0, &ws->sul, tick, TICK_US);
    registry_watch(server_registry(ws->srv), &ws->watch);
    if (pthread_create(&ws->thread, NULL, service_main, ws) != 0) {
        snprintf(err, cap, "cannot start the WebSocket thread");
        return LP_ENET;
    }
    ws->started = true;
    return 0;
}

int ws_port(const ws_t *ws)
{
    return ws->port;
}

void *ws_context(const ws_t *ws)
{
    return ws->ctx;
}

void ws_stop(ws_t *ws)
{
    if (!ws || !ws->started) return;
    atomic_store_explicit(&ws->stop, true, memory_order_relaxed);
    lws_cancel_service(ws->ctx);
    pthread_join(ws->thread, NULL);
    ws->started = false;
    ws_lookups_stop(ws->lookups); /* the HTTP loop has ended too */
}

void ws_destroy(ws_t *ws)
{
    if (!ws) return;
    ws_stop(ws);
    if (ws->ctx) lws_context_destroy(ws->ctx); /* closes the connections (CLOSED callbacks) */
    while (ws->feeds) {
        feed_ent_t *e = ws->feeds;
        ws->feeds = e->next;
        feed_free(e);
    }
    ws_lookups_destroy(ws->lookups);
    pthread_mutex_destroy(&ws->mu);
    free(ws->pending);
    free(ws->tx);
    free(ws);
}
