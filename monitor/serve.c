/* Monitor links over WebSocket (libwebsockets): Hello and token check, the program list,
 * Subscribe with a resume offset, then per subscription the header, the late-joiner state and
 * a gap when the backlog no longer reaches back, the units in order and Bye when the program
 * ended. One frame per writeable callback; lws_cancel_service wakes the thread on new data. */
#include "serve.h"

#include "wsframe.h"
#include "xmalloc.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SUBS 64

typedef struct sub {
    char id[WIRE_MAX_PROGRAM + 1]; /* looked up on use: ended programs may be freed */
    uint64_t next;                 /* stream offset the peer needs next */
    bool hdr_sent;                 /* the header went (or the peer has it) */
    bool state_sent;               /* the late-joiner state went (once per subscribe) */
    bool bye_sent;
} sub_t;

typedef struct link link_t;
struct link {
    struct lws *wsi;
    link_t *next;
    bool hello_sent, peer_ok, closing;
    bool client;        /* this end dialled (--push): what it sends is masked */
    uint64_t list_sent; /* m->list_version sent as Programs (0 = none) */
    sub_t subs[MAX_SUBS];
    size_t nsubs, rr;
    uint8_t *rx; /* one message being assembled */
    size_t rx_len;
    char error[200];
};

struct serve {
    monitor_t *m;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    pthread_t thread;
    _Atomic bool stop;
    int port;
    link_t *links;
    /* push */
    char push_host[256], push_path[256];
    int push_port;
    struct lws *push_wsi;
    lws_sorted_usec_list_t sul;
    unsigned backoff_ms;
    lws_retry_bo_t idle; /* pings and hang-ups of silent peers, both directions */
    uint8_t tx[LWS_PRE + WIRE_MAX_FRAME];
    uint8_t rd[WIRE_MAX_DATA]; /* a unit's bytes on their way out */
};

/* A pushing monitor is the WebSocket client, whose frames must be masked; libwebsockets masks a
 * byte at a time, which cost as much as everything else the monitor does per byte. So a client
 * frame is made whole here (wsframe_client_random: header, random key, payload masked a word
 * at a time) and handed to lws_write as bytes to send as they are (LWS_WRITE_HTTP bypasses the
 * framing and is still queued behind what the library has pending). */
_Static_assert(LWS_PRE >= WSFRAME_MAX_HEADER, "room for a client frame header");
static int send_frame(serve_t *s, link_t *l, const wire_frame_t *f)
{
    int n = wire_encode(f, s->tx + LWS_PRE, WIRE_MAX_FRAME);
    if (n < 0) return -1;
    if (!l->client)
        return lws_write(l->wsi, s->tx + LWS_PRE, (size_t)n, LWS_WRITE_BINARY) < n ? -1 : 0;
    int h = wsframe_client_random(s->tx + LWS_PRE, (size_t)n, WSFRAME_BINARY);
    if (h < 0) return -1;
    int whole = n + h;
    return lws_write(l->wsi, s->tx + LWS_PRE - h, (size_t)whole, LWS_WRITE_HTTP) < whole ? -1 : 0;
}

static sub_t *sub_of(link_t *l, const program_t *p)
{
    for (size_t i = 0; i < l->nsubs; i++)
        if (!strcmp(l->subs[i].id, p->id)) return &l->subs[i];
    if (l->nsubs >= MAX_SUBS) return NULL;
    sub_t *u = &l->subs[l->nsubs++];
    memset(u, 0, sizeof *u);
    snprintf(u->id, sizeof u->id, "%s", p->id);
    return u;
}

/* Builds the next frame for subscription u into f; false when u is caught up. `state` gets a
 * malloc'd buffer the caller frees after sending; a unit's bytes are read into rd
 * (WIRE_MAX_DATA bytes). Lock held. */
static bool sub_next(monitor_t *m, sub_t *u, wire_frame_t *f, uint8_t **state, uint8_t *rd)
{
    program_t *p = program_get(m, u->id, false);
    memset(f, 0, sizeof *f);
    if (!p || !p->hdr) return false;
    f->program = wire_cstr(p->id);
    if (!u->hdr_sent) {
        u->hdr_sent = true;
        if (u->next < p->hdr_len) {
            f->kind = WIRE_HEADER;
            f->data.p = p->hdr;
            f->data.len = (uint32_t)p->hdr_len;
            u->next = p->hdr_len;
            return true;
        }
    }
    const unit_t *x = program_unit_at(p, u->next);
    /* where the backlog resumes: its oldest unit, or the end when nothing is held any more */
    uint64_t held = x ? x->offset : p->end;
    if (held > u->next) { /* the backlog no longer reaches back: state, then a gap */
        if (!u->state_sent) {
            u->state_sent = true;
            size_t n = 0;
            *state = program_state(p, &n);
            if (*state && n <= WIRE_MAX_DATA) {
                f->kind = WIRE_STATE;
                f->offset = held;
                f->data.p = *state;
                f->data.len = (uint32_t)n;
                return true;
            }
        }
        f->kind = WIRE_GAP;
        f->offset = u->next;
        f->length = held - u->next;
        f->seq = x ? x->seq : p->seq;
        u->next = held;
        return true;
    }
    if (!x) {
        if (p->ended && !u->bye_sent && u->next >= p->end) {
            u->bye_sent = true;
            f->kind = WIRE_BYE;
            f->offset = p->end;
            return true;
        }
        return false;
    }
    f->seq = x->seq;
    f->offset = x->offset;
    if (x->gap) {
        f->kind = WIRE_GAP;
        f->length = x->gap;
        u->next = x->offset + x->gap;
        return true;
    }
    f->kind = WIRE_DATA;
    f->flags = x->flags;
    program_unit_read(m, x, rd);
    f->data.p = rd;
    f->data.len = x->len;
    u->next = x->offset + x->len;
    return true;
}

/* Sends one frame if there is one; returns 1 when more may follow, 0 when idle, -1 on error. */
static int link_write(serve_t *s, link_t *l)
{
    monitor_t *m = s->m;
    if (l->error[0]) {
        wire_frame_t e = {.kind = WIRE_ERROR, .text = wire_cstr(l->error)};
        send_frame(s, l, &e);
        return -1;
    }
    if (!l->hello_sent) {
        wire_frame_t h = {.kind = WIRE_HELLO, .version = WIRE_VERSION};
        h.text = wire_cstr("liveprof-monitor");
        h.token = wire_cstr(m->token);
        l->hello_sent = true;
        return send_frame(s, l, &h) < 0 ? -1 : 1;
    }
    if (!l->peer_ok) return 0;
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    if (l->list_sent != m->list_version) {
        wire_program_t ps[MONITOR_MAX_PROGRAMS];
        size_t n = 0;
        for (size_t i = 0; i < m->nprogs && n < 200; i++) {
            program_t *p = m->progs[i];
            ps[n++] =
                (wire_program_t){wire_cstr(p->id), wire_cstr(p->name), p->end, p->pid, p->ended};
        }
        wire_frame_t f = {.kind = WIRE_PROGRAMS, .progs = ps, .nprogs = (uint32_t)n};
        l->list_sent = m->list_version;
        rc = send_frame(s, l, &f) < 0 ? -1 : 1;
        pthread_mutex_unlock(&m->mu);
        return rc;
    }
    for (size_t k = 0; k < l->nsubs; k++) {
        sub_t *u = &l->subs[(l->rr + k) % l->nsubs];
        wire_frame_t f;
        uint8_t *state = NULL;
        if (!sub_next(m, u, &f, &state, s->rd)) continue;
        l->rr = (l->rr + k + 1) % l->nsubs;
        rc = send_frame(s, l, &f) < 0 ? -1 : 1;
        free(state);
        break;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* Handles one whole message from the peer; sets l->error on a protocol error. */
static void link_message(serve_t *s, link_t *l, const uint8_t *b, size_t n)
{
    monitor_t *m = s->m;
    wire_frame_t f;
    if (wire_decode(&f, b, n) < 0) {
        snprintf(l->error, sizeof l->error, "malformed frame");
        return;
    }
    if (f.kind == WIRE_ERROR) { /* the peer refused us (a server: a bad --token) and closes */
        fprintf(stderr, "liveprof-monitor: the peer closed the link: %.*s\n", (int)f.text.len,
                wire_str_chars(f.text));
        l->closing = true;
        return;
    }
    if (!l->peer_ok) {
        if (f.kind != WIRE_HELLO)
            snprintf(l->error, sizeof l->error, "expected hello");
        else if (f.version < 1)
            snprintf(l->error, sizeof l->error, "unsupported version");
        else if (m->token && !wire_token_equal(f.token, m->token))
            snprintf(l->error, sizeof l->error, "bad token");
        else
            l->peer_ok = true;
        return;
    }
    /* the program a Subscribe or an Ack names ("" when absent: no program has that id) */
    char id[WIRE_MAX_PROGRAM + 1];
    snprintf(id, sizeof id, "%.*s", (int)f.program.len, wire_str_chars(f.program));
    switch (f.kind) {
    case WIRE_SUBSCRIBE: {
        pthread_mutex_lock(&m->mu);
        program_t *p = program_get(m, id, false);
        sub_t *u = p ? sub_of(l, p) : NULL;
        if (u) {
            u->next = f.offset;
            u->hdr_sent = f.offset > 0;
            u->state_sent = false;
            u->bye_sent = false;
        }
        pthread_mutex_unlock(&m->mu);
        if (!p) snprintf(l->error, sizeof l->error, "no such program: %s", id);
        break;
    }
    case WIRE_ACK: {
        pthread_mutex_lock(&m->mu);
        program_t *p = program_get(m, id, false);
        if (p && f.offset > p->acked) p->acked = f.offset;
        pthread_mutex_unlock(&m->mu);
        break;
    }
    case WIRE_HEARTBEAT:
    case WIRE_HELLO:
        break;
    case WIRE_BYE:
        l->closing = true;
        break;
    default:
        snprintf(l->error, sizeof l->error, "unexpected %s frame", wire_kind_name(f.kind));
    }
}

static void schedule_push(serve_t *s);

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    serve_t *s = ctx ? lws_context_user(ctx) : NULL;
    link_t *l = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char uri[64];
        if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 ||
            strcmp(uri, "/monitor") != 0)
            return -1;
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        memset(l, 0, sizeof *l);
        l->wsi = wsi;
        l->rx = xmalloc(WIRE_MAX_FRAME);
        l->next = s->links;
        s->links = l;
        if (reason == LWS_CALLBACK_CLIENT_ESTABLISHED) {
            s->backoff_ms = 100;
            l->client = true;
        }
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (l->rx_len + len > WIRE_MAX_FRAME) {
            snprintf(l->error, sizeof l->error, "message larger than 64 KiB");
            l->rx_len = 0;
        } else {
            memcpy(l->rx + l->rx_len, in, len);
            l->rx_len += len;
            if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
                link_message(s, l, l->rx, l->rx_len);
                l->rx_len = 0;
            }
        }
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        if (l->closing) return -1;
        int rc = link_write(s, l);
        if (rc < 0) return -1;
        if (rc > 0) lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (!s) return 0;
        for (link_t *k = s->links; k; k = k->next)
            lws_callback_on_writable(k->wsi);
        return 0;
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (l && l->wsi == wsi) {
            for (link_t **pp = &s->links; *pp; pp = &(*pp)->next)
                if (*pp == l) {
                    *pp = l->next;
                    break;
                }
            free(l->rx);
            l->rx = NULL;
            l->wsi = NULL;
        }
        if (reason != LWS_CALLBACK_CLOSED && s && wsi == s->push_wsi) {
            if (reason == LWS_CALLBACK_CLIENT_CONNECTION_ERROR)
                fprintf(stderr, "liveprof-monitor: push to %s:%d failed: %s\n", s->push_host,
                        s->push_port, in ? (const char *)in : "connection error");
            else
                fprintf(stderr, "liveprof-monitor: push link to %s:%d closed, connecting again\n",
                        s->push_host, s->push_port);
            s->push_wsi = NULL;
            schedule_push(s);
        }
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"liveprof-monitor", callback, sizeof(link_t), WIRE_MAX_FRAME, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void push_connect(lws_sorted_usec_list_t *sul)
{
    serve_t *s = lws_container_of(sul, serve_t, sul);
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = s->ctx;
    ci.vhost = s->vh;
    ci.address = s->push_host;
    ci.port = s->push_port;
    ci.path = s->push_path;
    ci.host = s->push_host;
    ci.origin = s->push_host;
    ci.protocol = protocols[0].name;
    ci.local_protocol_name = protocols[0].name;
    ci.pwsi = &s->push_wsi;
    ci.retry_and_idle_policy = &s->idle;
    if (!lws_client_connect_via_info(&ci)) schedule_push(s);
}

static void schedule_push(serve_t *s)
{
    if (!s->push_host[0] || atomic_load(&s->stop)) return;
    lws_sul_schedule(s->ctx, 0, &s->sul, push_connect, (lws_usec_t)s->backoff_ms * 1000);
    s->backoff_ms = s->backoff_ms * 2 > 5000 ? 5000 : s->backoff_ms * 2;
}

static void *service(void *arg)
{
    serve_t *s = arg;
    while (!atomic_load(&s->stop))
        lws_service(s->ctx, 0);
    return NULL;
}

static int parse_url(serve_t *s, const char *url)
{
    const char *p = strncmp(url, "ws://", 5) == 0 ? url + 5 : NULL;
    if (!p) return -1;
    const char *colon = strchr(p, ':'), *slash = strchr(p, '/');
    if (!colon || (slash && slash < colon) || (size_t)(colon - p) >= sizeof s->push_host) return -1;
    memcpy(s->push_host, p, (size_t)(colon - p));
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (colon == p || end == colon + 1 || (*end && end != slash) || port < 1 || port > 65535)
        return -1;
    s->push_port = (int)port;
    snprintf(s->push_path, sizeof s->push_path, "%s", slash ? slash : "/monitor");
    return 0;
}

serve_t *serve_create(monitor_t *m, const char *host, int port, const char *push_url, int timeout_s,
                      char *err, size_t cap)
{
    serve_t *s = xcalloc(1, sizeof *s);
    s->m = m;
    s->port = -1;
    s->backoff_ms = 100;
    s->idle = (lws_retry_bo_t){.secs_since_valid_ping = (uint16_t)(timeout_s / 2),
                               .secs_since_valid_hangup = (uint16_t)timeout_s};
    if (push_url && parse_url(s, push_url) < 0) {
        snprintf(err, cap, "bad --push URL (want ws://HOST:PORT/monitor): %s", push_url);
        free(s);
        return NULL;
    }
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port >= 0 ? port : CONTEXT_PORT_NO_LISTEN;
    info.iface = port >= 0 ? host : NULL;
    info.protocols = protocols;
    info.user = s;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    info.retry_and_idle_policy = &s->idle;
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        snprintf(err, cap, "cannot listen on %s:%d", host ? host : "*", port);
        free(s);
        return NULL;
    }
    s->vh = lws_get_vhost_by_name(s->ctx, "default");
    if (port >= 0 && s->vh) s->port = lws_get_vhost_listen_port(s->vh);
    if (s->push_host[0]) schedule_push(s);
    if (pthread_create(&s->thread, NULL, service, s) != 0) {
        lws_context_destroy(s->ctx);
        free(s);
        snprintf(err, cap, "cannot start a thread");
        return NULL;
    }
    return s;
}

int serve_port(const serve_t *s)
{
    return s->port;
}

void serve_wake(void *s)
{
    serve_t *v = s;
    lws_cancel_service(v->ctx);
}

void serve_destroy(serve_t *s)
{
    if (!s) return;
    atomic_store(&s->stop, true);
    lws_cancel_service(s->ctx);
    pthread_join(s->thread, NULL);
    lws_context_destroy(s->ctx);
    free(s);
}
