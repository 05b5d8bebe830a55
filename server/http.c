/* h2o (evloop) behind the plain request interface of http.h: listening socket, routing of
 * "/api" and "/metrics" by method and path pattern, bearer-token resolution, JSON responses,
 * the static web folder, cross-thread notifiers and periodic timers. The only file that
 * includes h2o. */
#include "http.h"

#include "err.h"
#include "http_linger.h"
#include "httpreq.h"
#include "server.h"
#include "xmalloc.h"

#include <h2o.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct timer {
    h2o_timeout_t timeout;
    h2o_timeout_entry_t entry;
    void (*cb)(void *ctx);
    void *ctx;
    h2o_loop_t *loop;
    struct timer *next;
} timer_t_;

struct http_server {
    server_t *srv;
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    int port;
    const http_route_t *const *tables;
    const size_t *sizes;
    size_t ntables;
    h2o_multithread_queue_t *queue;
    timer_t_ *timers;
    http_linger_t *linger;
};

typedef struct api_handler {
    h2o_handler_t super;
    http_server_t *h;
} api_handler_t;

struct http_notifier {
    h2o_multithread_receiver_t receiver;
    h2o_multithread_message_t msg;
    _Atomic int pending; /* 1 while msg is queued: acq_rel exchange orders the flag with cb */
    void (*cb)(void *ctx);
    void *ctx;
    http_server_t *h;
};

/* ---- responses ---------------------------------------------------------------------------- */

static const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    case 507:
        return "Insufficient Storage";
    default:
        return status < 400 ? "OK" : status < 500 ? "Bad Request" : "Internal Server Error";
    }
}

void http_add_header(http_req_t *r, const char *name, const char *value)
{
    h2o_req_t *req = r->priv;
    size_t nl = strlen(name), vl = strlen(value);
    char *n = h2o_mem_alloc_pool(&req->pool, nl + 1), *v = h2o_mem_alloc_pool(&req->pool, vl + 1);
    memcpy(n, name, nl + 1);
    memcpy(v, value, vl + 1);
    h2o_add_header_by_str(&req->pool, &req->res.headers, n, nl, 1, NULL, v, vl);
}

/* The status line and the headers every response has; returns the h2o request. */
static h2o_req_t *response_head(http_req_t *r, int status, const char *content_type)
{
    h2o_req_t *req = r->priv;
    req->res.status = status;
    req->res.reason = reason_of(status);
    if (status >= 400)
        atomic_fetch_add_explicit(&server_stats(r->srv)->http_errors, 1, memory_order_relaxed);
    if (content_type)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                       strlen(content_type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-store"));
    return req;
}

void http_send(http_req_t *r, int status, const char *content_type, const void *body, size_t len)
{
    h2o_req_t *req = response_head(r, status, content_type);
    /* h2o_send_inline copies the body into the request's pool: the caller's stays its own */
    h2o_send_inline(req, len ? body : "", len);
}

/* The request pool's end: the response's reference to its blob goes. */
static void blob_dispose(void *p)
{
    blob_unref(*(blob_t **)p);
}

void http_send_blob(http_req_t *r, int status, const char *content_type, blob_t *b)
{
    h2o_req_t *req = response_head(r, status, content_type);
    /* the pool outlives the write of the body: h2o clears it once the response is done */
    blob_t **held = h2o_mem_alloc_shared(&req->pool, sizeof *held, blob_dispose);
    *held = blob_ref(b);
    static h2o_generator_t whole = {NULL, NULL}; /* one piece, nothing to pull or stop */
    req->res.content_length = blob_len(b);
    h2o_start_response(req, &whole);
    h2o_iovec_t body = h2o_iovec_init(blob_bytes(b), blob_len(b));
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

/* A streamed response: h2o calls proceed when it wants the next piece. */
#define STREAM_PIECE (1u << 20)
typedef struct stream_gen {
    h2o_generator_t super;
    long (*read)(void *ctx, void *buf, size_t cap);
    void (*done)(void *ctx);
    void *ctx;
    uint64_t left;
    bool finished;
    char *buf;
} stream_gen_t;

static void stream_finish(stream_gen_t *g)
{
    if (g->finished) return;
    g->finished = true;
    g->done(g->ctx);
    free(g->buf);
    g->buf = NULL;
}

static void stream_proceed(h2o_generator_t *self, h2o_req_t *req)
{
    stream_gen_t *g = (stream_gen_t *)self;
    size_t want = g->left < STREAM_PIECE ? (size_t)g->left : STREAM_PIECE;
    long n = want ? g->read(g->ctx, g->buf, want) : 0;
    if (n < 0) n = 0;
    g->left -= (uint64_t)n;
    h2o_iovec_t v = h2o_iovec_init(g->buf, (size_t)n);
    bool last = g->left == 0 || n == 0;
    h2o_send(req, &v, 1,
             !last ? H2O_SEND_STATE_IN_PROGRESS
                   : (g->left == 0 ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_ERROR));
    /* the piece must outlive h2o_send until the next proceed; after the last one h2o no longer
     * reads it once the request is disposed, which frees the generator */
}

static void stream_stop(h2o_generator_t *self, h2o_req_t *req)
{
    (void)req;
    stream_finish((stream_gen_t *)self);
}

static void stream_dispose(void *p)
{
    stream_finish(p);
}

void http_send_stream(http_req_t *r, int status, const char *content_type, uint64_t len,
                      long (*read)(void *ctx, void *buf, size_t cap), void (*done)(void *ctx),
                      void *ctx)
{
    h2o_req_t *req = r->priv;
    stream_gen_t *g = h2o_mem_alloc_shared(&req->pool, sizeof *g, stream_dispose);
    memset(g, 0, sizeof *g);
    g->super.proceed = stream_proceed;
    g->super.stop = stream_stop;
    g->read = read;
    g->done = done;
    g->ctx = ctx;
    g->left = len;
    g->buf = xmalloc(STREAM_PIECE);
    req->res.status = status;
    req->res.reason = reason_of(status);
    req->res.content_length = (size_t)len;
    if (content_type)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                       strlen(content_type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-store"));
    h2o_start_response(req, &g->super);
    stream_proceed(&g->super, req);
}

void http_send_json(http_req_t *r, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) {
        http_send_error(r, 500, "internal", "cannot encode the response");
        return;
    }
    size_t n = strlen(text);
    text[n] = 0;
    char *withnl = xmalloc(n + 2);
    memcpy(withnl, text, n);
    withnl[n] = '\n';
    free(text);
    http_send(r, status, "application/json", withnl, n + 1);
    free(withnl);
}

void http_send_error(http_req_t *r, int status, const char *error, const char *detail)
{
    json_t *o = json_object();
    json_object_set_new(o, "error", json_string(error));
    json_object_set_new(o, "detail", detail ? json_string(detail) : json_null());
    http_send_json(r, status, o);
}

void http_send_empty(http_req_t *r, int status)
{
    h2o_req_t *req = r->priv;
    req->res.status = status;
    req->res.reason = reason_of(status);
    h2o_send_inline(req, NULL, 0);
}

json_t *http_body_json(http_req_t *r)
{
    if (r->content_type && strncmp(r->content_type, "application/json", 16) != 0) {
        http_send_error(r, 415, "unsupported_media_type", "the body must be application/json");
        return NULL;
    }
    json_error_t e;
    json_t *v = json_loadb((const char *)r->body, r->body_len, JSON_REJECT_DUPLICATES, &e);
    if (!v || !json_is_object(v)) {
        char detail[256];
        snprintf(detail, sizeof detail, "%s", v ? "the body must be a JSON object" : e.text);
        json_decref(v);
        http_send_error(r, 400, "bad_json", detail);
        return NULL;
    }
    return v;
}

/* ---- query strings ------------------------------------------------------------------------ */

int http_query(const http_req_t *r, const char *name, char *buf, size_t cap)
{
    return httpreq_query(r->query, name, buf, cap);
}

/* ---- routing ------------------------------------------------------------------------------ */

/* Matches path against pattern; fills params with pool copies of the {} segments. */
static bool match(h2o_mem_pool_t *pool, const char *pattern, const char *path, http_req_t *r)
{
    httpreq_span_t sp[HTTP_MAX_PARAMS];
    if (!httpreq_match(pattern, path, sp, HTTP_MAX_PARAMS, &r->nparams)) return false;
    for (size_t i = 0; i < r->nparams; i++) {
        char *seg = h2o_mem_alloc_pool(pool, sp[i].len + 1);
        memcpy(seg, path + sp[i].off, sp[i].len);
        seg[sp[i].len] = 0;
        r->params[i] = seg;
    }
    return true;
}

static char *pool_str(h2o_mem_pool_t *pool, const char *s, size_t n)
{
    char *c = h2o_mem_alloc_pool(pool, n + 1);
    memcpy(c, s, n);
    c[n] = 0;
    return c;
}

/* Errors h2o answers by itself before a handler runs (a body over --max-body) are turned into
 * our JSON errors: h2o's errordoc filter re-requests them here as GET ERRORS_PATH<status>. */
#define ERRORS_PATH "/api/errors/"

static void send_errordoc(http_server_t *h, http_req_t *r, int status)
{
    /* h2o closes the connection after this answer, with the refused body still coming */
    h2o_req_t *req = r->priv;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (!req->http1_is_persistent && sock) http_linger_arm(h->linger, sock);
    /* The filter drops the length; a close-delimited body could be lost to the reset that
     * closing with the unread request body causes, so the length goes in as a header. */
    static const char body413[] =
        "{\"error\":\"payload_too_large\",\"detail\":\"the body is larger than the server's "
        "--max-body; use a chunked upload\"}\n";
    static const char body400[] =
        "{\"error\":\"bad_request\",\"detail\":\"the request is malformed\"}\n";
    const char *body = status == 413 ? body413 : body400;
    char len[24];
    snprintf(len, sizeof len, "%zu", strlen(body));
    http_add_header(r, "content-length", len);
    http_send(r, status >= 400 && status < 600 ? status : 400, "application/json", body,
              strlen(body));
}

/* h2o holds a request's whole body in the connection's input buffer, which starts at 8 KiB and
 * doubles as it fills, copying what it holds each time, and is freed once a request leaves it
 * empty: an upload chunk of 2 MiB was copied about twice over before the handler saw it (a fifth
 * of the HTTP thread's time during an upload), into fresh pages. A connection that has brought a
 * big body gets buffers of this size for its next requests instead: a whole chunk of the
 * clients' (2 MiB from `liveprof upload`, 4 MiB from the page) with its headers, a few of them
 * kept for the next requests; only the pages a request fills are ever touched. (Not from the
 * start: with a big buffer h2o read more of a body it refused with 413 before closing, and the
 * close then reset the connection before the client had read the answer more often.) Only the
 * HTTP thread uses it. */
#define INPUT_BUF ((4u << 20) + (64u << 10))
#define INPUT_BUFS_KEPT 4
#define BIG_BODY (256u << 10) /* a body from this size on makes a connection's buffers big */
/* (spilling to the files the default prototype spills to: h2o_socket_buffer_mmap_settings) */
static h2o_buffer_prototype_t input_proto = {
    {INPUT_BUFS_KEPT}, {INPUT_BUF}, &h2o_socket_buffer_mmap_settings};

/* Gives the connection of req big input buffers from its next request on. */
static void input_big(h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    if (!sock || !sock->input) return;
    h2o_buffer_set_prototype(&sock->input, &input_proto);
}

static int on_api(h2o_handler_t *self, h2o_req_t *req)
{
    http_server_t *h = ((api_handler_t *)self)->h;
    atomic_fetch_add_explicit(&server_stats(h->srv)->http_requests, 1, memory_order_relaxed);
    http_req_t *r = h2o_mem_alloc_pool(&req->pool, sizeof *r);
    memset(r, 0, sizeof *r);
    r->priv = req;
    r->srv = h->srv;
    r->method = pool_str(&req->pool, req->method.base, req->method.len);
    size_t plen = req->query_at == SIZE_MAX ? req->path.len : req->query_at;
    char *path = h2o_mem_alloc_pool(&req->pool, plen + 1);
    if (httpreq_decode(req->path.base, plen, path, plen + 1, false) < 0) path[0] = 0;
    r->path = path;
    r->query = req->query_at == SIZE_MAX ? ""
                                         : pool_str(&req->pool, req->path.base + req->query_at + 1,
                                                    req->path.len - req->query_at - 1);
    r->body = (const uint8_t *)(req->entity.base ? req->entity.base : "");
    r->body_len = req->entity.base ? req->entity.len : 0;
    if (r->body_len >= BIG_BODY) input_big(req);
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i >= 0) {
        h2o_iovec_t v = req->headers.entries[i].value;
        r->content_type = pool_str(&req->pool, v.base, v.len);
    }
    struct sockaddr_storage ss;
    socklen_t sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    char *peer = h2o_mem_alloc_pool(&req->pool, NI_MAXHOST);
    size_t pl = sl ? h2o_socket_getnumerichost((struct sockaddr *)&ss, sl, peer) : SIZE_MAX;
    peer[pl == SIZE_MAX ? 0 : pl] = 0;
    r->peer = peer;
    if (!strncmp(r->path, ERRORS_PATH, sizeof ERRORS_PATH - 1)) {
        send_errordoc(h, r, atoi(r->path + sizeof ERRORS_PATH - 1));
        return 0;
    }
    bool path_known = false;
    const http_route_t *route = NULL;
    for (size_t t = 0; t < h->ntables && !route; t++)
        for (size_t k = 0; k < h->sizes[t]; k++) {
            const http_route_t *rt = &h->tables[t][k];
            if (!match(&req->pool, rt->pattern, r->path, r)) continue;
            path_known = true;
            if (!strcmp(rt->method, r->method)) {
                route = rt;
                break;
            }
        }
    if (!route) {
        if (path_known)
            http_send_error(r, 405, "method_not_allowed", "this path does not take that method");
        else
            http_send_error(r, 404, "not_found", "no such endpoint");
        return 0;
    }
    match(&req->pool, route->pattern, r->path, r); /* the params of the chosen route */
    i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i >= 0) {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (v.len < 8 || strncasecmp(v.base, "Bearer ", 7) != 0) {
            http_send_error(r, 401, "unauthorized", "use Authorization: Bearer <token>");
            return 0;
        }
        char *token = pool_str(&req->pool, v.base + 7, v.len - 7);
        if (auth_check_token(server_db(h->srv), token, &r->auth) < 0) {
            http_send_error(r, 401, "unauthorized", "unknown, expired or revoked token");
            return 0;
        }
    }
    route->fn(r);
    return 0;
}

/* ---- listening ---------------------------------------------------------------------------- */

/* A client on this machine sends as fast as the loop reads, and the kernel's receive buffer
 * grows to megabytes: a turn then reads a whole upload chunk (2 MiB, several ms of CPU) while
 * requests on other connections wait. Capping the buffer of such connections caps the bytes per
 * read; the round trip is microseconds, so the window costs no throughput. Remote clients keep
 * the kernel's autotuning: their bytes come no faster than the network brings them. */
#define LOCAL_RCVBUF (256 << 10)

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err) return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (!sock) return;
    http_server_t *h = listener->data;
    struct sockaddr_storage peer;
    const struct sockaddr_in *in = (const struct sockaddr_in *)&peer;
    if (h2o_socket_getpeername(sock, (struct sockaddr *)&peer) >= sizeof *in &&
        in->sin_family == AF_INET && (ntohl(in->sin_addr.s_addr) >> 24) == 127) {
        int rb = LOCAL_RCVBUF; /* best effort: the kernel's default stands if this fails */
        setsockopt(h2o_socket_get_fd(sock), SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
    }
    h2o_accept(&h->accept_ctx, sock);
}

static void register_api(http_server_t *h, h2o_hostconf_t *host, const char *path)
{
    h2o_pathconf_t *pc = h2o_config_register_path(host, path, 0);
    api_handler_t *ah = (api_handler_t *)h2o_create_handler(pc, sizeof *ah);
    ah->super.on_req = on_api;
    ah->h = h;
}

int http_spill_to(const char *dir, char *err, size_t cap)
{
    char *t = h2o_socket_buffer_mmap_settings.fn_template;
    size_t n = sizeof h2o_socket_buffer_mmap_settings.fn_template;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, cap, "cannot make %s: %s", dir, strerror(errno));
        return -1;
    }
    if ((size_t)snprintf(t, n, "%s/h2o.b.XXXXXX", dir) >= n) {
        snprintf(err, cap, "path too long: %s", dir);
        return -1;
    }
    return 0;
}

http_server_t *http_create(server_t *srv, const char *host, int port, const char *web_dir,
                           uint64_t max_body, const http_route_t *const *tables,
                           const size_t *sizes, size_t ntables, char *err, size_t cap)
{
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        snprintf(err, cap, "bad address '%s' (an IPv4 address such as 127.0.0.1)", host);
        return NULL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, SOMAXCONN) != 0) {
        snprintf(err, cap, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    socklen_t al = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &al);
    http_server_t *h = xcalloc(1, sizeof *h);
    h->srv = srv;
    h->port = ntohs(addr.sin_port);
    h->tables = tables;
    h->sizes = sizes;
    h->ntables = ntables;
    h2o_config_init(&h->config);
    h->config.max_request_entity_size = (size_t)max_body;
    h2o_hostconf_t *hc =
        h2o_config_register_host(&h->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    register_api(h, hc, "/api");
    static h2o_errordoc_t errdocs[] = {{413, {H2O_STRLIT(ERRORS_PATH "413")}}};
    h2o_errordoc_register(&hc->fallback_path, errdocs, 1);
    register_api(h, hc, "/metrics");
    if (web_dir && *web_dir) {
        h2o_pathconf_t *pc = h2o_config_register_path(hc, "/", 0);
        h2o_file_register(pc, web_dir, NULL, NULL, 0);
    }
    h2o_context_init(&h->ctx, h2o_evloop_create(), &h->config);
    h->accept_ctx.ctx = &h->ctx;
    h->accept_ctx.hosts = h->config.hosts;
    h->listener = h2o_evloop_socket_create(h->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    h->listener->data = h;
    h2o_socket_read_start(h->listener, on_accept);
    h->queue = h2o_multithread_create_queue(h->ctx.loop);
    h->linger = http_linger_create(h->ctx.loop);
    return h;
}

int http_port(const http_server_t *h)
{
    return h->port;
}

const double http_turn_le[HTTP_TURN_BUCKETS - 1] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.05};

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Counts one turn of the loop by its CPU time: what a request that came meanwhile waited for. */
static void count_turn(server_stats_t *st, uint64_t ns)
{
    /* relaxed, all of them: counters that /metrics reads one by one */
    for (int i = 0; i < HTTP_TURN_BUCKETS; i++)
        if (i == HTTP_TURN_BUCKETS - 1 || (double)ns <= http_turn_le[i] * 1e9)
            atomic_fetch_add_explicit(&st->http_turns[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->http_turn_ns_sum, ns, memory_order_relaxed);
    if (ns > atomic_load_explicit(&st->http_turn_ns_max, memory_order_relaxed))
        atomic_store_explicit(&st->http_turn_ns_max, ns, memory_order_relaxed); /* one writer */
}

int http_run(http_server_t *h, int max_wait_ms)
{
    errno = 0;
    uint64_t t0 = thread_cpu_ns();
    int rc = h2o_evloop_run(h->ctx.loop, max_wait_ms);
    int e = errno;
    count_turn(server_stats(h->srv), thread_cpu_ns() - t0);
    if (rc == 0 || e == EINTR) return 0;
    return -1;
}

void http_stop_accepting(http_server_t *h)
{
    if (!h->listener) return;
    h2o_socket_read_stop(h->listener);
    h2o_socket_close(h->listener);
    h->listener = NULL;
}

/* ---- notifiers and timers ----------------------------------------------------------------- */

static void on_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    http_notifier_t *n = (http_notifier_t *)receiver;
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
    /* acq_rel: clearing the flag before the callback means a notify during cb queues again. */
    atomic_exchange_explicit(&n->pending, 0, memory_order_acq_rel);
    n->cb(n->ctx);
}

http_notifier_t *http_notifier_create(http_server_t *h, void (*cb)(void *ctx), void *ctx)
{
    http_notifier_t *n = xcalloc(1, sizeof *n);
    n->cb = cb;
    n->ctx = ctx;
    n->h = h;
    h2o_multithread_register_receiver(h->queue, &n->receiver, on_messages);
    return n;
}

void http_notify(http_notifier_t *n)
{
    /* acq_rel: only the caller that flips 0 -> 1 queues the (single) message. */
    if (atomic_exchange_explicit(&n->pending, 1, memory_order_acq_rel) == 0)
        h2o_multithread_send_message(&n->receiver, &n->msg);
}

void http_notifier_destroy(http_notifier_t *n)
{
    if (!n) return;
    /* a message sent after the last loop iteration is still queued: drop it */
    while (!h2o_linklist_is_empty(&n->receiver._messages))
        h2o_linklist_unlink(n->receiver._messages.next);
    h2o_multithread_unregister_receiver(n->h->queue, &n->receiver);
    free(n);
}

static void on_timer(h2o_timeout_entry_t *entry)
{
    timer_t_ *t = H2O_STRUCT_FROM_MEMBER(timer_t_, entry, entry);
    t->cb(t->ctx);
    h2o_timeout_link(t->loop, &t->timeout, &t->entry);
}

/* ---- held requests ------------------------------------------------------------------------ */

typedef struct held {
    struct held *next;
    http_req_t *r;
    http_handler_fn fn;
    struct held_guard *guard; /* in the request's pool; valid while !gone */
    bool gone;                /* the request was disposed (its connection or stream closed) */
} held_t;

/* Lives in the request's pool: h2o disposes it with the request, which tells the entry. */
typedef struct held_guard {
    held_t *e; /* NULL once resumed */
} held_guard_t;

struct http_waitq {
    http_notifier_t *wake;
    held_t *head, **tail;
    _Atomic size_t len; /* relaxed: a count the wakers read to skip needless notifies */
};

static void held_guard_dispose(void *p)
{
    held_guard_t *g = p;
    if (g->e) g->e->gone = true;
}

/* The notifier's callback: every request held now runs its handler again, in order. */
static void waitq_resume(void *ctx)
{
    http_waitq_t *q = ctx;
    held_t *e = q->head;
    q->head = NULL;
    q->tail = &q->head;
    while (e) {
        held_t *next = e->next;
        atomic_fetch_sub_explicit(&q->len, 1, memory_order_relaxed);
        if (!e->gone) {
            e->guard->e = NULL;
            e->fn(e->r); /* may hold it again, at the tail: the order stays */
        }
        free(e);
        e = next;
    }
}

http_waitq_t *http_waitq_create(http_server_t *h)
{
    http_waitq_t *q = xcalloc(1, sizeof *q);
    q->tail = &q->head;
    q->wake = http_notifier_create(h, waitq_resume, q);
    return q;
}

void http_waitq_destroy(http_waitq_t *q)
{
    if (!q) return;
    for (held_t *e = q->head, *n; e; e = n) {
        n = e->next;
        if (!e->gone) e->guard->e = NULL;
        free(e);
    }
    http_notifier_destroy(q->wake);
    free(q);
}

void http_waitq_hold(http_waitq_t *q, http_req_t *r, http_handler_fn fn)
{
    h2o_req_t *req = r->priv;
    held_t *e = xcalloc(1, sizeof *e);
    e->r = r;
    e->fn = fn;
    e->guard = h2o_mem_alloc_shared(&req->pool, sizeof *e->guard, held_guard_dispose);
    e->guard->e = e;
    *q->tail = e;
    q->tail = &e->next;
    atomic_fetch_add_explicit(&q->len, 1, memory_order_relaxed);
}

void http_waitq_wake(http_waitq_t *q)
{
    if (atomic_load_explicit(&q->len, memory_order_relaxed)) http_notify(q->wake);
}

size_t http_waitq_len(const http_waitq_t *q)
{
    return atomic_load_explicit(&q->len, memory_order_relaxed);
}

void http_every(http_server_t *h, uint64_t ms, void (*cb)(void *ctx), void *ctx)
{
    timer_t_ *t = xcalloc(1, sizeof *t);
    t->cb = cb;
    t->ctx = ctx;
    t->entry.cb = on_timer;
    t->loop = h->ctx.loop;
    h2o_timeout_init(h->ctx.loop, &t->timeout, ms);
    h2o_timeout_link(h->ctx.loop, &t->timeout, &t->entry);
    t->next = h->timers;
    h->timers = t;
}

void http_destroy(http_server_t *h)
{
    if (!h) return;
    http_stop_accepting(h);
    for (timer_t_ *t = h->timers, *n; t; t = n) {
        n = t->next;
        if (h2o_timeout_is_linked(&t->entry)) h2o_timeout_unlink(&t->entry);
        h2o_timeout_dispose(h->ctx.loop, &t->timeout);
        free(t);
    }
    http_linger_destroy(h->linger);
    /* The h2o context and configuration are left to the process's exit: connections that
     * clients keep alive still hold timeouts in them, and h2o asserts on disposing those. */
    free(h);
}
