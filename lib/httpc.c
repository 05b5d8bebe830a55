/* The blocking HTTP/1.1 client: non-blocking sockets driven by poll so that every wait has a
 * timeout, a line reader with fixed bounds for the status line, headers and chunk sizes, and a
 * body buffer that grows up to the configured cap. */
#include "httpc.h"

#include "err.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

struct httpc {
    char host[256];    /* without brackets */
    char port[8];      /* decimal */
    char hosthdr[272]; /* the Host header's value */
    char prefix[512];  /* path prefix without a trailing '/' */
    int fd;            /* the open connection, -1 when there is none */
    unsigned nconn;    /* connections opened so far */
    int connect_ms, io_ms;
    size_t max_body;
    httpc_progress_fn progress;
    void *progress_ctx;
    uint64_t got;      /* response bytes received for the current request */
    size_t rpos, rlen; /* unread bytes are rbuf[rpos, rlen) */
    char rbuf[16384];
    char line[HTTPC_MAX_LINE];
    char err[256];
};

__attribute__((format(printf, 3, 4))) static int fail(httpc_t *h, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->err, sizeof h->err, fmt, ap);
    va_end(ap);
    return code;
}

/* A system error as a message: "connection refused" rather than "Connection refused". */
static int sys_fail(httpc_t *h, int code, int e, const char *what)
{
    char msg[128];
    snprintf(msg, sizeof msg, "%s", strerror(e));
    msg[0] = (char)tolower((unsigned char)msg[0]);
    return fail(h, code, "%s%s%s", what, *what ? ": " : "", msg);
}

static int parse_url(httpc_t *h, const char *url, char *err, size_t cap)
{
    if (strncasecmp(url, "http://", 7) != 0) {
        snprintf(err, cap, "%s: %s", url,
                 strncasecmp(url, "https://", 8) ? "the URL must start with http://"
                                                 : "https is not supported (use http://)");
        return LP_EARG;
    }
    const char *p = url + 7, *host = p;
    size_t hl;
    if (*p == '[') {
        const char *end = strchr(p, ']');
        if (!end) {
            snprintf(err, cap, "%s: unterminated IPv6 address", url);
            return LP_EARG;
        }
        host = p + 1;
        hl = (size_t)(end - host);
        p = end + 1;
    } else {
        hl = strcspn(p, ":/?#@");
        p += hl;
    }
    if (*p == '@') {
        snprintf(err, cap, "%s: user names in URLs are not supported", url);
        return LP_EARG;
    }
    if (hl == 0 || hl >= sizeof h->host) {
        snprintf(err, cap, "%s: %s host name", url, hl ? "too long a" : "no");
        return LP_EARG;
    }
    for (size_t i = 0; i < hl; i++)
        if ((unsigned char)host[i] <= ' ' || host[i] == 0x7f || host[i] == '/' || host[i] == '[' ||
            host[i] == ']') {
            snprintf(err, cap, "%s: bad character in the host name", url);
            return LP_EARG;
        }
    memcpy(h->host, host, hl);
    h->host[hl] = 0;
    unsigned long port = 80;
    if (*p == ':') {
        p++;
        size_t nd = strspn(p, "0123456789");
        port = nd >= 1 && nd <= 5 ? strtoul(p, NULL, 10) : 0;
        if (port == 0 || port > 65535) {
            snprintf(err, cap, "%s: bad port", url);
            return LP_EARG;
        }
        p += nd;
    }
    if (*p && *p != '/') {
        snprintf(err, cap, "%s: unexpected '%c' after the host", url, *p);
        return LP_EARG;
    }
    size_t pl = strlen(p);
    while (pl && p[pl - 1] == '/')
        pl--;
    if (pl >= sizeof h->prefix || memchr(p, '?', pl) || memchr(p, '#', pl)) {
        snprintf(err, cap, "%s: the base URL takes a path, but no query or fragment", url);
        return LP_EARG;
    }
    memcpy(h->prefix, p, pl);
    h->prefix[pl] = 0;
    snprintf(h->port, sizeof h->port, "%lu", port);
    snprintf(h->hosthdr, sizeof h->hosthdr, strchr(h->host, ':') ? "[%s]:%s" : "%s:%s", h->host,
             h->port);
    return 0;
}

httpc_t *httpc_create(const char *base_url, char *err, size_t cap)
{
    httpc_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    if (!base_url || parse_url(h, base_url, err, cap) != 0) {
        if (!base_url) snprintf(err, cap, "no URL");
        free(h);
        return NULL;
    }
    h->fd = -1;
    h->connect_ms = 10000;
    h->io_ms = 30000;
    h->max_body = HTTPC_DEFAULT_MAX_BODY;
    return h;
}

static void conn_close(httpc_t *h)
{
    if (h->fd >= 0) close(h->fd);
    h->fd = -1;
    h->rpos = h->rlen = 0;
}

void httpc_destroy(httpc_t *h)
{
    if (!h) return;
    conn_close(h);
    free(h);
}

void httpc_set_timeouts(httpc_t *h, int connect_ms, int io_ms)
{
    h->connect_ms = connect_ms > 0 ? connect_ms : 1;
    h->io_ms = io_ms > 0 ? io_ms : 1;
}

void httpc_set_max_body(httpc_t *h, size_t max_body)
{
    h->max_body = max_body;
}

void httpc_set_progress(httpc_t *h, httpc_progress_fn fn, void *ctx)
{
    h->progress = fn;
    h->progress_ctx = ctx;
}

const char *httpc_error(const httpc_t *h)
{
    return h->err;
}

unsigned httpc_connections(const httpc_t *h)
{
    return h->nconn;
}

void httpc_resp_dispose(httpc_resp_t *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
    r->content_length = -1;
}

int httpc_url_encode(const char *s, char *dst, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~';
        size_t need = plain ? 1 : 3;
        if (n + need >= cap) {
            if (cap) dst[0] = 0;
            return LP_ERANGE;
        }
        if (plain) {
            dst[n++] = (char)c;
        } else {
            dst[n++] = '%';
            dst[n++] = hex[c >> 4];
            dst[n++] = hex[c & 15];
        }
    }
    if (n >= cap) return LP_ERANGE;
    dst[n] = 0;
    return (int)n;
}

/* ---- connecting ---------------------------------------------------------------------------- */

static int connect_one(httpc_t *h, int fd, const struct addrinfo *ai)
{
    char what[300];
    snprintf(what, sizeof what, "connect to %s", h->hosthdr);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) return 0;
    if (errno != EINPROGRESS && errno != EINTR) return sys_fail(h, LP_ENET, errno, what);
    for (;;) {
        struct pollfd p = {fd, POLLOUT, 0};
        int n = poll(&p, 1, h->connect_ms);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys_fail(h, LP_ENET, errno, "poll");
        if (n == 0) return fail(h, LP_ETIMEOUT, "timed out connecting to %s", h->hosthdr);
        break;
    }
    int e = 0;
    socklen_t el = sizeof e;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0) e = errno;
    if (e) return sys_fail(h, LP_ENET, e, what);
    return 0;
}

static int conn_open(httpc_t *h)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int g = getaddrinfo(h->host, h->port, &hints, &res);
    if (g != 0)
        return fail(h, LP_ENET, "cannot resolve %s: %s", h->host,
                    g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
    int rc = fail(h, LP_ENET, "no address for %s", h->host);
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            rc = sys_fail(h, LP_ENET, errno, "socket");
            continue;
        }
        rc = connect_one(h, fd, ai);
        if (rc == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            h->fd = fd;
            h->nconn++;
            break;
        }
        close(fd);
    }
    freeaddrinfo(res);
    return rc;
}

/* True when a kept-alive connection cannot be trusted: the server closed it (or sent bytes
 * nobody asked for) while it was idle. */
static bool conn_stale(httpc_t *h)
{
    if (h->rpos < h->rlen) return true;
    struct pollfd p = {h->fd, POLLIN, 0};
    return poll(&p, 1, 0) != 0;
}

/* ---- sending -------------------------------------------------------------------------------- */

static bool valid_request(const char *method, const char *path, const char *const *headers)
{
    size_t ml = strlen(method);
    if (ml == 0 || ml > 16 || strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != ml) return false;
    if (path[0] != '/') return false;
    for (const char *c = path; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f) return false;
    for (size_t i = 0; headers && headers[i]; i++) {
        const char *colon = strchr(headers[i], ':');
        if (!colon || colon == headers[i] || strpbrk(headers[i], "\r\n")) return false;
    }
    return true;
}

/* Builds the request head; returns a malloc'd string (its length in *len) or NULL. */
static char *build_head(const httpc_t *h, const char *method, const char *path,
                        const char *const *headers, bool body, size_t len, size_t *hl)
{
    bool with_length = body || len || !strcmp(method, "POST") || !strcmp(method, "PUT") ||
                       !strcmp(method, "PATCH");
    size_t cap = strlen(method) + strlen(h->prefix) + strlen(path) + strlen(h->hosthdr) + 96;
    for (size_t i = 0; headers && headers[i]; i++)
        cap += strlen(headers[i]) + 2;
    char *s = malloc(cap);
    if (!s) return NULL;
    size_t n = (size_t)snprintf(s, cap, "%s %s%s HTTP/1.1\r\nHost: %s\r\n", method, h->prefix, path,
                                h->hosthdr);
    for (size_t i = 0; headers && headers[i]; i++)
        n += (size_t)snprintf(s + n, cap - n, "%s\r\n", headers[i]);
    if (with_length) n += (size_t)snprintf(s + n, cap - n, "Content-Length: %zu\r\n", len);
    n += (size_t)snprintf(s + n, cap - n, "\r\n");
    *hl = n;
    return s;
}

/* A request body: len bytes in memory at mem, or of file fd from offset off. */
typedef struct body {
    const void *mem;
    int fd;
    uint64_t off;
    size_t len;
} body_t;

/* sendfile without SIGPIPE: sendfile has no MSG_NOSIGNAL, and a server that answers and closes
 * before taking the whole body (413) would otherwise end the process, whatever its handler. The
 * signal is blocked in this thread for the call, and one it raised is taken back before the old
 * mask returns (unless one was pending already, which is then left as it was). Same returns
 * and errno as sendfile. */
static ssize_t sendfile_nosignal(int out, int in, off_t *at, size_t n)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    ssize_t w = sendfile(out, in, at, n);
    int e = errno;
    /* (a call that sent some bytes before the reset returns their count, and raised it too) */
    sigpending(&pending);
    if (!was_pending && sigismember(&pending, SIGPIPE)) {
        const struct timespec now = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &now) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return w;
}

/* Sends up to n bytes of the file body from byte `done` on with sendfile: the kernel takes them
 * from the page cache into the socket (no copy into a buffer here and out again). Returns the
 * bytes sent, -1 with errno for the socket's errors (as send's), or -2 when the file ended early
 * or could not be read (h's error says). */
static ssize_t send_file_part(httpc_t *h, const body_t *b, size_t done, size_t n)
{
    off_t at = (off_t)(b->off + done);
    ssize_t w = sendfile_nosignal(h->fd, b->fd, &at, n);
    if (w > 0) return w;
    if (w == 0) {
        fail(h, LP_EIO, "the file ended %zu bytes before the body", b->len - done);
        return -2;
    }
    if (errno == EINVAL || errno == EIO || errno == EOVERFLOW || errno == ESPIPE) {
        sys_fail(h, LP_EIO, errno, "reading the body's file");
        return -2;
    }
    return -1;
}

/* Writes head and body. Sets *early and stops when the server answers (or closes) before the
 * whole body went out. */
static int send_request(httpc_t *h, const char *head, size_t hl, const body_t *b, bool *early)
{
    size_t len = b->len, total = hl + len, sent = 0;
    *early = false;
    while (sent < total) {
        struct pollfd p = {h->fd, POLLOUT | POLLIN, 0};
        int n = poll(&p, 1, h->io_ms);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys_fail(h, LP_ENET, errno, "poll");
        if (n == 0) return fail(h, LP_ETIMEOUT, "timed out sending the request");
        if (p.revents & POLLIN) {
            *early = true;
            return 0;
        }
        ssize_t w;
        if (b->fd >= 0 && sent >= hl) {
            w = send_file_part(h, b, sent - hl, len - (sent - hl));
            if (w == -2) return LP_EIO;
        } else {
            struct iovec iov[2];
            int niov = 0;
            if (sent < hl) iov[niov++] = (struct iovec){(char *)head + sent, hl - sent};
            if (len && b->fd < 0 && sent < total) {
                size_t off = sent > hl ? sent - hl : 0;
                iov[niov++] = (struct iovec){(char *)b->mem + off, len - off};
            }
            struct msghdr msg;
            memset(&msg, 0, sizeof msg);
            msg.msg_iov = iov;
            msg.msg_iovlen = (size_t)niov;
            /* a file body follows the head: one segment for both where they fit */
            w = sendmsg(h->fd, &msg, MSG_NOSIGNAL | (b->fd >= 0 && len ? MSG_MORE : 0));
        }
        if (w < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
            return sys_fail(h, LP_ENET, errno, "sending the request");
        }
        sent += (size_t)w;
        if (h->progress && len && sent > hl) h->progress(h->progress_ctx, sent - hl, len);
    }
    return 0;
}

/* ---- receiving ------------------------------------------------------------------------------ */

/* Refills rbuf. Returns 0, 1 at the end of the stream, or a negative code. */
static int fill(httpc_t *h)
{
    h->rpos = h->rlen = 0;
    for (;;) {
        struct pollfd p = {h->fd, POLLIN, 0};
        int n = poll(&p, 1, h->io_ms);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return sys_fail(h, LP_ENET, errno, "poll");
        if (n == 0) return fail(h, LP_ETIMEOUT, "timed out waiting for the server");
        ssize_t r = recv(h->fd, h->rbuf, sizeof h->rbuf, 0);
        if (r > 0) {
            h->rlen = (size_t)r;
            h->got += (uint64_t)r;
            return 0;
        }
        if (r == 0) return 1;
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
        return sys_fail(h, LP_ENET, errno, "");
    }
}

static int fail_eof(httpc_t *h)
{
    return fail(h, LP_ENET,
                h->got ? "the server closed the connection in the middle of a response"
                       : "the server closed the connection without answering");
}

/* Reads one line into h->line (NUL-terminated, CR LF or LF removed), charging its bytes to
 * *budget. Returns its length or a negative code. */
static int read_line(httpc_t *h, size_t *budget)
{
    size_t n = 0;
    for (;;) {
        if (h->rpos == h->rlen) {
            int rc = fill(h);
            if (rc == 1) return fail_eof(h);
            if (rc < 0) return rc;
        }
        const char *s = h->rbuf + h->rpos;
        size_t avail = h->rlen - h->rpos;
        const char *nl = memchr(s, '\n', avail);
        size_t take = nl ? (size_t)(nl - s) + 1 : avail;
        if (take > *budget || n + take > sizeof h->line)
            return fail(h, LP_EPROTO, "response header too large");
        memcpy(h->line + n, s, take);
        n += take;
        h->rpos += take;
        *budget -= take;
        if (nl) break;
    }
    n--;
    if (n && h->line[n - 1] == '\r') n--;
    h->line[n] = 0;
    return (int)n;
}

static bool has_token(const char *list, const char *token)
{
    size_t tl = strlen(token);
    for (const char *p = list; *p;) {
        p += strspn(p, " \t,");
        size_t l = strcspn(p, " \t,");
        if (l == tl && !strncasecmp(p, token, tl)) return true;
        p += l;
    }
    return false;
}

/* Reads the status line and the headers of one response. */
static int read_head(httpc_t *h, httpc_resp_t *out, bool *chunked)
{
    size_t budget = HTTPC_MAX_HEADER;
    int n = read_line(h, &budget);
    if (n < 0) return n;
    const char *l = h->line;
    if (n < 12 || strncmp(l, "HTTP/1.", 7) || !isdigit((unsigned char)l[7]) || l[8] != ' ' ||
        strspn(l + 9, "0123456789") != 3 || (l[12] && l[12] != ' '))
        return fail(h, LP_EPROTO, "malformed status line from the server");
    bool http10 = l[7] == '0', keep_alive = false;
    out->status = atoi(l + 9);
    out->content_length = -1;
    out->close = false;
    out->content_type[0] = 0;
    *chunked = false;
    for (;;) {
        n = read_line(h, &budget);
        if (n < 0) return n;
        if (n == 0) break;
        if (h->line[0] == ' ' || h->line[0] == '\t') continue; /* obsolete folding: ignored */
        char *colon = strchr(h->line, ':');
        if (!colon || colon == h->line || strcspn(h->line, " \t") < (size_t)(colon - h->line))
            return fail(h, LP_EPROTO, "malformed header line from the server");
        *colon = 0;
        char *v = colon + 1 + strspn(colon + 1, " \t");
        size_t vl = strlen(v);
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            v[--vl] = 0;
        const char *name = h->line;
        if (!strcasecmp(name, "Content-Length")) {
            if (vl == 0 || vl > 18 || strspn(v, "0123456789") != vl)
                return fail(h, LP_EPROTO, "bad Content-Length from the server");
            int64_t cl = strtoll(v, NULL, 10);
            if (out->content_length >= 0 && out->content_length != cl)
                return fail(h, LP_EPROTO, "conflicting Content-Length headers from the server");
            out->content_length = cl;
        } else if (!strcasecmp(name, "Transfer-Encoding")) {
            size_t tl = vl;
            while (tl && (v[tl - 1] == ' ' || v[tl - 1] == ','))
                tl--;
            if (tl < 7 || strncasecmp(v + tl - 7, "chunked", 7) ||
                (tl > 7 && !strchr(" \t,", v[tl - 8])))
                return fail(h, LP_EPROTO, "unsupported transfer encoding '%.64s'", v);
            *chunked = true;
        } else if (!strcasecmp(name, "Connection")) {
            if (has_token(v, "close")) out->close = true;
            if (has_token(v, "keep-alive")) keep_alive = true;
        } else if (!strcasecmp(name, "Content-Type")) {
            snprintf(out->content_type, sizeof out->content_type, "%s", v);
        }
    }
    if (http10 && !keep_alive) out->close = true;
    if (*chunked) out->content_length = -1;
    return 0;
}

static int body_put(httpc_t *h, httpc_resp_t *out, size_t *cap, const char *p, size_t n)
{
    if (n > h->max_body - out->len)
        return fail(h, LP_ERANGE, "response body larger than %zu bytes", h->max_body);
    if (out->len + n + 1 > *cap) {
        size_t nc = *cap ? *cap * 2 : 4096;
        if (nc < out->len + n + 1) nc = out->len + n + 1;
        if (nc > h->max_body + 1) nc = h->max_body + 1;
        char *nb = realloc(out->body, nc);
        if (!nb) return fail(h, LP_ENOMEM, "out of memory for the response body");
        out->body = nb;
        *cap = nc;
    }
    memcpy(out->body + out->len, p, n);
    out->len += n;
    out->body[out->len] = 0;
    return 0;
}

/* Moves n body bytes from the connection into out. */
static int read_exact(httpc_t *h, httpc_resp_t *out, size_t *cap, uint64_t n)
{
    while (n) {
        if (h->rpos == h->rlen) {
            int rc = fill(h);
            if (rc == 1) return fail_eof(h);
            if (rc < 0) return rc;
        }
        size_t take = h->rlen - h->rpos;
        if (take > n) take = (size_t)n;
        int rc = body_put(h, out, cap, h->rbuf + h->rpos, take);
        if (rc) return rc;
        h->rpos += take;
        n -= take;
    }
    return 0;
}

static int read_chunked(httpc_t *h, httpc_resp_t *out, size_t *cap)
{
    for (;;) {
        size_t budget = sizeof h->line;
        int n = read_line(h, &budget);
        if (n < 0) return n;
        const char *p = h->line;
        uint64_t size = 0;
        size_t nd = 0;
        for (; isxdigit((unsigned char)p[nd]); nd++) {
            if (size > (uint64_t)h->max_body || size > (UINT64_MAX >> 4))
                return fail(h, LP_ERANGE, "response body larger than %zu bytes", h->max_body);
            int d = isdigit((unsigned char)p[nd]) ? p[nd] - '0' : (tolower(p[nd]) - 'a' + 10);
            size = size * 16 + (uint64_t)d;
        }
        p += nd;
        p += strspn(p, " \t");
        if (nd == 0 || (*p && *p != ';')) return fail(h, LP_EPROTO, "malformed chunk size");
        if (size == 0) break;
        if (size > h->max_body - out->len)
            return fail(h, LP_ERANGE, "response body larger than %zu bytes", h->max_body);
        int rc = read_exact(h, out, cap, size);
        if (rc) return rc;
        budget = sizeof h->line;
        n = read_line(h, &budget);
        if (n < 0) return n;
        if (n != 0) return fail(h, LP_EPROTO, "malformed chunk end");
    }
    size_t budget = HTTPC_MAX_HEADER;
    for (;;) { /* trailers, ignored */
        int n = read_line(h, &budget);
        if (n < 0) return n;
        if (n == 0) return 0;
    }
}

static int read_response(httpc_t *h, const char *method, httpc_resp_t *out)
{
    bool chunked = false;
    for (;;) {
        int rc = read_head(h, out, &chunked);
        if (rc) return rc;
        if (out->status == 101) return fail(h, LP_EPROTO, "unexpected protocol switch");
        if (out->status >= 200) break;
        if (out->status < 100) return fail(h, LP_EPROTO, "bad status %d", out->status);
    }
    size_t cap = 0;
    int rc = body_put(h, out, &cap, "", 0);
    bool none = !strcmp(method, "HEAD") || out->status == 204 || out->status == 304;
    if (rc || none) return rc;
    if (chunked) return read_chunked(h, out, &cap);
    if (out->content_length >= 0) {
        if ((uint64_t)out->content_length > h->max_body)
            return fail(h, LP_ERANGE, "response body larger than %zu bytes", h->max_body);
        return read_exact(h, out, &cap, (uint64_t)out->content_length);
    }
    out->close = true; /* the body ends with the connection */
    for (;;) {
        if (h->rpos == h->rlen) {
            rc = fill(h);
            if (rc == 1) return 0;
            if (rc < 0) return rc;
        }
        rc = body_put(h, out, &cap, h->rbuf + h->rpos, h->rlen - h->rpos);
        if (rc) return rc;
        h->rpos = h->rlen;
    }
}

/* One request/response on the open connection. */
static int exchange(httpc_t *h, const char *method, const char *head, size_t hl, const body_t *b,
                    httpc_resp_t *out)
{
    bool early;
    int rc = send_request(h, head, hl, b, &early);
    if (rc == LP_ENET) {
        /* The server may have answered (say 413) and closed before taking the whole body. */
        char saved[sizeof h->err];
        memcpy(saved, h->err, sizeof saved);
        if (read_response(h, method, out) == 0) {
            out->close = true;
            return 0;
        }
        memcpy(h->err, saved, sizeof saved);
        return rc;
    }
    if (rc) return rc;
    rc = read_response(h, method, out);
    if (rc == 0 && early) out->close = true;
    return rc;
}

static int request(httpc_t *h, const char *method, const char *path_and_query,
                   const char *const *headers, const body_t *b, httpc_resp_t *out)
{
    memset(out, 0, sizeof *out);
    out->content_length = -1;
    h->err[0] = 0;
    if (!method || !path_and_query || (b->len && !b->mem && b->fd < 0) ||
        !valid_request(method, path_and_query, headers))
        return fail(h, LP_EARG, "invalid request (method, path or header)");
    size_t hl;
    char *head = build_head(h, method, path_and_query, headers, b->mem || b->fd >= 0, b->len, &hl);
    if (!head) return fail(h, LP_ENOMEM, "out of memory");
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (h->fd >= 0 && conn_stale(h)) conn_close(h);
        bool reused = h->fd >= 0;
        if (!reused && (rc = conn_open(h)) != 0) break;
        h->got = 0;
        rc = exchange(h, method, head, hl, b, out);
        if (rc == 0) break;
        conn_close(h);
        httpc_resp_dispose(out);
        if (!reused || rc != LP_ENET || h->got) break; /* only a stale keep-alive is retried */
    }
    free(head);
    if (rc == 0) {
        h->err[0] = 0;
        if (out->close || h->rpos < h->rlen) conn_close(h);
    }
    return rc;
}

int httpc_request(httpc_t *h, const char *method, const char *path_and_query,
                  const char *const *headers, const void *body, size_t len, httpc_resp_t *out)
{
    body_t b = {.mem = body, .fd = -1, .len = len};
    return request(h, method, path_and_query, headers, &b, out);
}

int httpc_request_file(httpc_t *h, const char *method, const char *path_and_query,
                       const char *const *headers, int fd, uint64_t off, size_t len,
                       httpc_resp_t *out)
{
    body_t b = {.fd = fd, .off = off, .len = len};
    return request(h, method, path_and_query, headers, &b, out);
}
