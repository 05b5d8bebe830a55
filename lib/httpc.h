/* A small blocking HTTP/1.1 client for http://HOST:PORT URLs (no TLS): one keep-alive
 * connection reused across requests, bodies from memory, Content-Length, chunked and
 * close-delimited responses, connect and I/O timeouts, and bounded header and body sizes. */
#ifndef LP_HTTPC_H
#define LP_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTPC_MAX_HEADER (64u << 10) /* the most bytes of a response's status line + headers */
#define HTTPC_MAX_LINE 8192u         /* the longest status, header, chunk-size or trailer line */
#define HTTPC_DEFAULT_MAX_BODY (16u << 20)

typedef struct httpc httpc_t;

/* One response. body is NUL-terminated (the NUL is not counted in len) and owned by the
 * response until httpc_resp_dispose. */
typedef struct httpc_resp {
    int status;             /* e.g. 200 */
    char content_type[128]; /* "" when absent (truncated when longer) */
    int64_t content_length; /* the header's value, -1 when absent (chunked or close-delimited) */
    bool close;             /* the server ends the connection after this response */
    char *body;
    size_t len;
} httpc_resp_t;

/* Called while a request body is sent: `sent` of `total` bytes are written so far. */
typedef void (*httpc_progress_fn)(void *ctx, uint64_t sent, uint64_t total);

/* Parses base_url ("http://HOST[:PORT][/PREFIX]"; HOST a name, an IPv4 literal or a bracketed
 * IPv6 literal; PORT defaults to 80; PREFIX is put before every request path) and returns a
 * client that has not connected yet, or NULL with a message in err (cap bytes). Any thread;
 * the client is then used by one thread at a time. */
httpc_t *httpc_create(const char *base_url, char *err, size_t cap);
/* Closes the connection and frees the client. NULL is a no-op. */
void httpc_destroy(httpc_t *h);
/* Sets the connect timeout and the I/O timeout (the longest wait for the peer to accept or
 * deliver bytes), in milliseconds; defaults 10000 and 30000. */
void httpc_set_timeouts(httpc_t *h, int connect_ms, int io_ms);
/* Sets the largest response body accepted (default HTTPC_DEFAULT_MAX_BODY). */
void httpc_set_max_body(httpc_t *h, size_t max_body);
/* Sets (or, with fn NULL, removes) the body-progress callback; fn runs on the calling thread
 * inside httpc_request. */
void httpc_set_progress(httpc_t *h, httpc_progress_fn fn, void *ctx);

/* Sends one request and reads its response into *out (which the caller disposes of on success;
 * on failure it is left empty). method is "GET", "PUT", ...; path_and_query starts with '/' and
 * must already be percent-encoded; headers is a NULL-terminated list of "Name: value" lines (or
 * NULL) besides Host and Content-Length, which the client writes itself; body (borrowed, may be
 * NULL when len is 0) is sent with a Content-Length. The open connection is reused when the server
 * keeps it alive; a reused connection the server had already closed is reopened once. Returns 0 for
 * any HTTP status, or LP_ENET (connect/resolve failed, connection reset or closed early),
 * LP_ETIMEOUT, LP_EPROTO (malformed response, headers over HTTPC_MAX_HEADER or a line over
 * HTTPC_MAX_LINE), LP_ERANGE (body over the cap), LP_EARG (bad method, path or header), LP_ENOMEM;
 * httpc_error then tells what happened ("connection refused"). After a failure the connection is
 * closed. */
int httpc_request(httpc_t *h, const char *method, const char *path_and_query,
                  const char *const *headers, const void *body, size_t len, httpc_resp_t *out);
/* httpc_request with the body the len bytes of regular file fd (borrowed) from offset off, which
 * the kernel sends from the page cache (sendfile). Returns what httpc_request does, and LP_EIO
 * when the file ends before len bytes or cannot be read (the connection is then closed). */
int httpc_request_file(httpc_t *h, const char *method, const char *path_and_query,
                       const char *const *headers, int fd, uint64_t off, size_t len,
                       httpc_resp_t *out);
/* The message of the last failed request ("" when the last request succeeded). */
const char *httpc_error(const httpc_t *h);
/* How many TCP connections the client has opened so far. */
unsigned httpc_connections(const httpc_t *h);
/* Frees a response's body and empties it. Safe on an empty or disposed response. */
void httpc_resp_dispose(httpc_resp_t *r);

/* Percent-encodes s for a path segment or query value (everything but A-Z a-z 0-9 - . _ ~) into
 * dst (cap bytes, NUL-terminated). Returns the encoded length, or LP_ERANGE when it does not
 * fit. Pure; any thread. */
int httpc_url_encode(const char *s, char *dst, size_t cap);

#endif
