/* The HTTP layer: h2o (evloop) on one thread serves the REST API and the static web folder.
 * Handlers see a plain request (method, path, query, body, caller) and answer once through
 * http_send*; only server/http.c includes h2o. */
#ifndef LP_HTTP_H
#define LP_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "blob.h"

typedef struct server server_t;

#define HTTP_MAX_PARAMS 4

/* One request, valid until its response is sent. All strings are NUL-terminated. */
typedef struct http_req {
    const char *method;  /* "GET", "POST", ... */
    const char *path;    /* percent-decoded path, without the query */
    const char *query;   /* raw query string ("" when none) */
    const uint8_t *body; /* request body (whole; h2o caps it at --max-body) */
    size_t body_len;
    const char *content_type;            /* NULL when absent */
    const char *peer;                    /* the client's numeric address ("127.0.0.1"), or "" */
    const char *params[HTTP_MAX_PARAMS]; /* path parameters matched by "{}" in the route */
    size_t nparams;
    auth_t auth; /* the caller, resolved from "Authorization: Bearer" by the router */
    server_t *srv;
    void *priv; /* the h2o request (http.c only) */
} http_req_t;

/* A handler answers with exactly one http_send* call, now or later (on the HTTP thread). */
typedef void (*http_handler_fn)(http_req_t *r);

typedef struct http_route {
    const char *method;  /* "GET", ... */
    const char *pattern; /* "/api/sessions/{}/totals": each {} matches one path segment */
    http_handler_fn fn;
} http_route_t;

/* ---- the server side ---------------------------------------------------------------------- */

typedef struct http_server http_server_t;

/* Request bodies that outgrow the HTTP library's in-memory buffers (32 MiB of capacity: bodies
 * over 16 MB) go to unlinked temporary files in `dir` (made when missing) instead of /tmp, so
 * that the server's disk use stays within its data directory and a RAM-backed /tmp never holds a
 * 1 GiB raw upload. Returns 0, or -1 with a message in err. Main thread, before http_run. */
int http_spill_to(const char *dir, char *err, size_t cap);
/* Binds ADDR:PORT (127.0.0.1 style host, port 0 = any free port), registers the route tables
 * (`ntables` tables of `sizes[i]` routes) and, when web_dir is not empty, serves its files at
 * "/". max_body caps request bodies (413 beyond). Returns NULL with a message in err. Main
 * thread, before http_run. */
http_server_t *http_create(server_t *srv, const char *host, int port, const char *web_dir,
                           uint64_t max_body, const http_route_t *const *tables,
                           const size_t *sizes, size_t ntables, char *err, size_t cap);
/* The port actually bound. */
int http_port(const http_server_t *h);
/* Runs the event loop for at most max_wait_ms; returns 0 or -1 on a fatal loop error. */
int http_run(http_server_t *h, int max_wait_ms);
/* Stops accepting connections (requests in flight finish). */
void http_stop_accepting(http_server_t *h);
/* Frees the server's own state (NULL is a no-op); h2o's context, which open keep-alive
 * connections still use, is left to the process's exit. Main thread, after the loop. */
void http_destroy(http_server_t *h);

/* A cross-thread wake-up: http_notify (any thread, coalescing, never blocks) makes cb(ctx) run
 * once soon on the HTTP thread. */
typedef struct http_notifier http_notifier_t;
http_notifier_t *http_notifier_create(http_server_t *h, void (*cb)(void *ctx), void *ctx);
void http_notify(http_notifier_t *n);
void http_notifier_destroy(http_notifier_t *n);
/* Calls cb(ctx) on the HTTP thread every `ms` milliseconds until http_destroy. */
void http_every(http_server_t *h, uint64_t ms, void (*cb)(void *ctx), void *ctx);

/* Requests held unanswered until there is room for them (backpressure without a refusal): a
 * handler that cannot take a request yet holds it, and http_waitq_wake (any thread) makes every
 * held request run its handler again on the HTTP thread, in the order they were held. The request
 * and its body stay valid while held (h2o reads nothing more from the connection meanwhile); one
 * whose stream went away is dropped. */
typedef struct http_waitq http_waitq_t;
http_waitq_t *http_waitq_create(http_server_t *h);
/* Frees the queue; requests still held are left unanswered (shutdown). Main thread, after the
 * loop (NULL is a no-op). */
void http_waitq_destroy(http_waitq_t *q);
/* Holds r until the next wake, then calls fn(r) (which answers it or holds it again). HTTP
 * thread, from a handler, before anything was sent. */
void http_waitq_hold(http_waitq_t *q, http_req_t *r, http_handler_fn fn);
/* Resumes the held requests soon (coalescing; nothing when none is held). Any thread. */
void http_waitq_wake(http_waitq_t *q);
/* Requests held now. Any thread (relaxed: a count). */
size_t http_waitq_len(const http_waitq_t *q);

/* ---- handlers ------------------------------------------------------------------------------ */

/* Looks up query parameter `name` and percent-decodes it into buf (NUL-terminated). Returns its
 * length, or -1 when absent or longer than cap - 1. HTTP thread. */
int http_query(const http_req_t *r, const char *name, char *buf, size_t cap);
/* Adds a header (name and value copied) to the response sent next. HTTP thread. */
void http_add_header(http_req_t *r, const char *name, const char *value);
/* Sends a response with a body (copied). HTTP thread. */
void http_send(http_req_t *r, int status, const char *content_type, const void *body, size_t len);
/* Sends a response whose body is blob b, by reference (no copy): the response holds a reference
 * of its own until its last byte is written; the caller keeps its own. HTTP thread. */
void http_send_blob(http_req_t *r, int status, const char *content_type, blob_t *b);
/* Sends `body` as JSON (takes the reference). HTTP thread. */
void http_send_json(http_req_t *r, int status, json_t *body);
/* Sends {"error": error, "detail": detail} with `status` (detail may be NULL). HTTP thread. */
void http_send_error(http_req_t *r, int status, const char *error, const char *detail);
/* Sends a response without a body (204 and friends). HTTP thread. */
void http_send_empty(http_req_t *r, int status);
/* Sends a body of `len` bytes produced piece by piece: read(ctx, buf, cap) fills up to cap
 * bytes and returns how many (0 or negative ends the response early: the client sees a short
 * body); done(ctx) runs exactly once, when the response is over or the client went away. For
 * large bodies that must not sit in memory (a session's eventlog). HTTP thread. */
void http_send_stream(http_req_t *r, int status, const char *content_type, uint64_t len,
                      long (*read)(void *ctx, void *buf, size_t cap), void (*done)(void *ctx),
                      void *ctx);
/* Parses the body as a JSON object. Returns it (new reference) or NULL after sending 400. */
json_t *http_body_json(http_req_t *r);

#endif
