/* `liveprof upload`: sends an eventlog to a server through the chunked, resumable upload API,
 * riding out transient failures (reset connections, timeouts, 5xx) by asking the server how many
 * bytes it holds and going on from there; optionally waits until the session is analysed. */
#include "cli.h"

#include "err.h"
#include "httpc.h"
#include "sizearg.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The server holds a whole request body in a buffer that doubles as it fills: 2 MiB chunks keep
 * those buffers small enough to be reused from one request to the next, where 8 MiB ones took
 * fresh pages on the first requests (a 50 MB upload took 0.30 s rather than 0.18 s). */
#define DEFAULT_CHUNK (2u << 20)
#define MAX_CHUNK (1u << 30)
#define MAX_FAILURES 8 /* transient failures in a row before giving up (about 30 s of backoff) */
#define MAX_STALLS 8   /* answers in a row that do not move the upload forward */
#define MIN_CHUNK (64u << 10) /* a 413 halves the chunk down to this, then is an error */
#define ID_MAX 256

typedef struct upload {
    const char *file, *server, *token, *name, *resume;
    bool wait;
    uint64_t chunk;
    httpc_t *h;
    char auth[1100];
    int fd;
    uint64_t size, offset;
    char id[ID_MAX], session[ID_MAX];
    char id_enc[3 * ID_MAX], session_enc[3 * ID_MAX];
    bool reached; /* some request got an answer: later network failures are transient */
    int failures; /* transient failures since the last step forward */
    bool tty;     /* stderr is a terminal: draw the progress bar */
    double t0, last_draw;
    uint64_t run_start, chunk_base;
} upload_t;

enum { REQ_OK, REQ_RETRY, REQ_FATAL };

static void usage(FILE *f)
{
    fprintf(f,
            "usage: liveprof upload FILE --server URL [options]\n"
            "\n"
            "Uploads an eventlog to a liveprof server in resumable chunks and prints the new\n"
            "session's id as the last line on stdout.\n"
            "\n"
            "  --server URL        the server, http://HOST:PORT\n"
            "  --token T           API token (default: $LIVEPROF_TOKEN; none: upload as a guest)\n"
            "  --name N            session name (default: the file's name)\n"
            "  --wait              after the upload, wait until the session is analysed;\n"
            "                      exit 1 if its analysis failed\n"
            "  --chunk BYTES       bytes per request, with an optional k, M or G suffix\n"
            "                      (default 2M)\n"
            "  --resume ID         continue the upload ID that an earlier run started\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Parses argv; returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, upload_t *u)
{
    u->chunk = DEFAULT_CHUNK;
    u->token = getenv("LIVEPROF_TOKEN");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--wait")) {
            u->wait = true;
        } else if (!strcmp(a, "--server") || !strcmp(a, "--token") || !strcmp(a, "--name") ||
                   !strcmp(a, "--chunk") || !strcmp(a, "--resume")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "upload: %s needs a value\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--server")) u->server = v;
            if (!strcmp(a, "--token")) u->token = v;
            if (!strcmp(a, "--name")) u->name = v;
            if (!strcmp(a, "--resume")) u->resume = v;
            if (!strcmp(a, "--chunk") && sizearg_parse(v, MAX_CHUNK, &u->chunk) < 0) {
                fprintf(stderr, "upload: --chunk takes a size from 1 byte to 1G, not '%s'\n", v);
                return 2;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "upload: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!u->file) {
            u->file = a;
        } else {
            fprintf(stderr, "upload: more than one FILE given ('%s')\n", a);
            return 2;
        }
    }
    if (!u->file || !u->server) {
        fprintf(stderr, "upload: %s\n", !u->file ? "no FILE given" : "--server URL is required");
        usage(stderr);
        return 2;
    }
    if (u->token && !*u->token) u->token = NULL;
    if (u->token && strlen(u->token) > 1024) {
        fprintf(stderr, "upload: the token is too long\n");
        return 2;
    }
    if (u->resume && (!*u->resume || strlen(u->resume) >= ID_MAX)) {
        fprintf(stderr, "upload: --resume takes an upload id\n");
        return 2;
    }
    if (!u->name) {
        const char *slash = strrchr(u->file, '/');
        u->name = slash ? slash + 1 : u->file;
    }
    return -1;
}

/* ---- progress ------------------------------------------------------------------------------- */

static void clear_line(const upload_t *u)
{
    if (u->tty) fputs("\r\033[K", stderr);
}

/* Draws "  42% [########------------]  12.0/28.6 MB  35.2 MB/s  ETA 0:05" (at most 10 times a
 * second unless forced). */
static void draw(upload_t *u, uint64_t done, bool force)
{
    double t = now_s();
    if (!u->tty || (!force && t - u->last_draw < 0.1)) return;
    u->last_draw = t;
    double frac = u->size ? (double)done / (double)u->size : 1.0;
    char bar[21];
    for (int i = 0; i < 20; i++)
        bar[i] = i < (int)(frac * 20) ? '#' : '-';
    bar[20] = 0;
    double el = t - u->t0;
    double rate = el > 0.05 && done > u->run_start ? (double)(done - u->run_start) / el : 0;
    char eta[32] = "--:--";
    if (rate > 0) {
        unsigned long s = (unsigned long)((double)(u->size - done) / rate + 0.5);
        if (s >= 3600)
            snprintf(eta, sizeof eta, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
        else
            snprintf(eta, sizeof eta, "%lu:%02lu", s / 60, s % 60);
    }
    fprintf(stderr, "\r%4d%% [%s]  %.1f/%.1f MB  %.1f MB/s  ETA %s\033[K", (int)(frac * 100), bar,
            (double)done / 1e6, (double)u->size / 1e6, rate / 1e6, eta);
    fflush(stderr);
}

static void on_sent(void *ctx, uint64_t sent, uint64_t total)
{
    upload_t *u = ctx;
    (void)total;
    draw(u, u->chunk_base + sent, false);
}

/* ---- requests ------------------------------------------------------------------------------- */

static json_t *body_json(const httpc_resp_t *r)
{
    return r->len ? json_loadb(r->body, r->len, 0, NULL) : NULL;
}

static bool json_u64(json_t *o, const char *key, uint64_t *v)
{
    json_t *x = json_object_get(o, key);
    if (!json_is_integer(x) || json_integer_value(x) < 0) return false;
    *v = (uint64_t)json_integer_value(x);
    return true;
}

/* Copies an id (a string, or an integer written in decimal) and its percent-encoded form. */
static bool json_id(json_t *o, const char *key, char *dst, char *enc)
{
    json_t *x = json_object_get(o, key);
    if (json_is_integer(x))
        snprintf(dst, ID_MAX, "%lld", (long long)json_integer_value(x));
    else if (json_is_string(x) && json_string_length(x) > 0 && json_string_length(x) < ID_MAX)
        snprintf(dst, ID_MAX, "%s", json_string_value(x));
    else
        return false;
    return httpc_url_encode(dst, enc, 3 * ID_MAX) >= 0;
}

/* Copies server-supplied text for the terminal, control characters replaced. */
static void clean(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
    for (char *p = dst; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f) *p = '?';
}

/* Reports an answer that ends the upload; returns the exit status 1. */
static int refused(const upload_t *u, const char *what, const httpc_resp_t *r)
{
    json_t *js = body_json(r);
    char e[200], d[300], extra[520] = "";
    clean(e, sizeof e, json_string_value(json_object_get(js, "error")));
    clean(d, sizeof d, json_string_value(json_object_get(js, "detail")));
    if (*e) snprintf(extra, sizeof extra, ": %s%s%s%s", e, *d ? " (" : "", d, *d ? ")" : "");
    json_decref(js);
    if (r->status == 401)
        fprintf(stderr, "error: the server refused the token%s%s\n",
                u->token ? "" : " (none given: use --token or LIVEPROF_TOKEN)", extra);
    else if (r->status == 413)
        fprintf(stderr,
                "error: %s: the server refused the request as too large (413)%s; try a "
                "smaller --chunk\n",
                what, extra);
    else if (r->status == 507) /* the detail says why: disk, quota or file size limit */
        fprintf(stderr, "error: %s: the server answered 507 (insufficient storage)%s%s\n", what,
                *d ? ": " : "", d);
    else if (r->status == 415)
        fprintf(stderr, "error: %s: the server refused the content type (415)%s\n", what, extra);
    else if (r->status == 403 || r->status == 404)
        fprintf(stderr, "error: %s: %s (%d)%s\n", what,
                r->status == 403 ? "not allowed" : "not found", r->status, extra);
    else
        fprintf(stderr, "error: %s: the server answered %d%s\n", what, r->status, extra);
    return 1;
}

/* Counts a transient failure and sleeps before the next attempt (REQ_RETRY), or gives up. */
static int retry_wait(upload_t *u, const char *what, const char *why)
{
    clear_line(u);
    if (++u->failures > MAX_FAILURES) {
        fprintf(stderr, "error: %s: %s (gave up after %d attempts)\n", what, why, MAX_FAILURES);
        return REQ_FATAL;
    }
    double delay = 0.25 * (double)(1u << (u->failures < 6 ? u->failures - 1 : 5));
    fprintf(stderr, "upload: %s: %s; retrying in %.2g s\n", what, why, delay);
    sleep_s(delay);
    return REQ_RETRY;
}

/* One request. REQ_OK leaves an answer that is not transient in *r (the caller disposes of it);
 * REQ_RETRY means a transient failure after the backoff; REQ_FATAL, an error already printed. */
static int req(upload_t *u, const char *what, const char *method, const char *path, size_t len,
               httpc_resp_t *r)
{
    const char *hdrs[3];
    size_t n = 0;
    if (u->token) hdrs[n++] = u->auth;
    if (len) hdrs[n++] = "Content-Type: application/octet-stream";
    hdrs[n] = NULL;
    /* the body straight from the file (the kernel sends it from the page cache) */
    int rc = len ? httpc_request_file(u->h, method, path, hdrs, u->fd, u->offset, len, r)
                 : httpc_request(u->h, method, path, hdrs, NULL, 0, r);
    if (rc) {
        bool transient = rc == LP_ENET || rc == LP_ETIMEOUT || rc == LP_EPROTO;
        if (u->reached && transient) return retry_wait(u, what, httpc_error(u->h));
        clear_line(u);
        fprintf(stderr, "error: %s: %s\n", rc == LP_EIO ? u->file : what, httpc_error(u->h));
        return REQ_FATAL;
    }
    u->reached = true;
    /* 507: the server's disk has no room, which waiting does not mend */
    if ((r->status >= 500 && r->status != 507) || r->status == 408 || r->status == 429) {
        char why[64];
        snprintf(why, sizeof why, "the server answered %d", r->status);
        httpc_resp_dispose(r);
        return retry_wait(u, what, why);
    }
    return REQ_OK;
}

/* req, repeated until it is not transient. */
static int req_retry(upload_t *u, const char *what, const char *method, const char *path,
                     httpc_resp_t *r)
{
    int k;
    while ((k = req(u, what, method, path, 0, r)) == REQ_RETRY) {
    }
    return k;
}

/* Starts a new upload; returns 0 or an exit status. */
static int create(upload_t *u)
{
    char name[1024], path[1100];
    if (httpc_url_encode(u->name, name, sizeof name) < 0) {
        fprintf(stderr, "upload: --name is too long\n");
        return 2;
    }
    snprintf(path, sizeof path, "/api/uploads?name=%s", name);
    httpc_resp_t r;
    if (req_retry(u, "starting the upload", "POST", path, &r) != REQ_OK) return 1;
    int rc = 0;
    json_t *js = body_json(&r);
    if (r.status != 200 && r.status != 201) {
        rc = refused(u, "starting the upload", &r);
    } else if (!json_id(js, "id", u->id, u->id_enc) ||
               !json_id(js, "session", u->session, u->session_enc)) {
        fprintf(stderr, "error: starting the upload: malformed answer from the server\n");
        rc = 1;
    }
    json_decref(js);
    httpc_resp_dispose(&r);
    return rc;
}

/* Asks the server how many bytes of the upload it holds (and its session); returns 0 or 1. */
static int fetch_offset(upload_t *u)
{
    char path[64 + 3 * ID_MAX];
    snprintf(path, sizeof path, "/api/uploads/%s", u->id_enc);
    httpc_resp_t r;
    if (req_retry(u, "asking for the upload's offset", "GET", path, &r) != REQ_OK) return 1;
    int rc = 0;
    json_t *js = body_json(&r);
    uint64_t off;
    if (r.status != 200) {
        rc = refused(u, u->resume ? "resuming the upload" : "asking for the upload's offset", &r);
    } else if (!json_u64(js, "offset", &off)) {
        fprintf(stderr,
                "error: asking for the upload's offset: malformed answer from the server\n");
        rc = 1;
    } else if (off > u->size) {
        fprintf(stderr, "error: the server holds %llu bytes of upload %s, but %s has only %llu\n",
                (unsigned long long)off, u->id, u->file, (unsigned long long)u->size);
        rc = 1;
    } else {
        u->offset = off;
        if (!*u->session) json_id(js, "session", u->session, u->session_enc);
    }
    json_decref(js);
    httpc_resp_dispose(&r);
    return rc;
}

/* Sends the file from u->offset to its end; returns 0 or 1. */
static int send_all(upload_t *u)
{
    int stalls = 0;
    draw(u, u->offset, true);
    while (u->offset < u->size) {
        size_t n = (size_t)(u->size - u->offset < u->chunk ? u->size - u->offset : u->chunk);
        char path[96 + 3 * ID_MAX];
        snprintf(path, sizeof path, "/api/uploads/%s?offset=%llu", u->id_enc,
                 (unsigned long long)u->offset);
        u->chunk_base = u->offset;
        httpc_resp_t r;
        int k = req(u, "sending bytes", "PUT", path, n, &r);
        if (k == REQ_FATAL) return 1;
        if (k == REQ_RETRY) {
            if (fetch_offset(u)) return 1;
            continue;
        }
        if (r.status == 413 && n > MIN_CHUNK) { /* the server's --max-body is smaller */
            u->chunk = n / 2 > MIN_CHUNK ? n / 2 : MIN_CHUNK;
            clear_line(u);
            fprintf(stderr,
                    "upload: the server refused %zu bytes in one request (413); sending %llu "
                    "at a time\n",
                    n, (unsigned long long)u->chunk);
            httpc_resp_dispose(&r);
            continue;
        }
        json_t *js = body_json(&r);
        uint64_t off = 0;
        int rc = 0;
        bool has_off = json_u64(js, r.status == 200 ? "offset" : "expected_offset", &off);
        if (r.status != 200 && (r.status != 409 || !has_off)) { /* 409 "finished", say */
            clear_line(u);
            rc = refused(u, "sending bytes", &r);
        } else if (!has_off || off > u->size) {
            clear_line(u);
            fprintf(stderr, "error: sending bytes: malformed answer from the server (%d)\n",
                    r.status);
            rc = 1;
        } else if (r.status == 200 && off > u->offset) {
            stalls = 0;
            u->failures = 0;
        } else if (++stalls > MAX_STALLS) {
            clear_line(u);
            fprintf(stderr, "error: sending bytes: the server keeps rejecting offset %llu\n",
                    (unsigned long long)u->offset);
            rc = 1;
        }
        json_decref(js);
        httpc_resp_dispose(&r);
        if (rc) return rc;
        u->offset = off;
        draw(u, u->offset, false);
    }
    draw(u, u->offset, true);
    if (u->tty) fputc('\n', stderr);
    return 0;
}

static int finish(upload_t *u)
{
    char path[64 + 3 * ID_MAX];
    snprintf(path, sizeof path, "/api/uploads/%s/finish", u->id_enc);
    httpc_resp_t r;
    if (req_retry(u, "finishing the upload", "POST", path, &r) != REQ_OK) return 1;
    int rc = 0;
    if (r.status < 200 || r.status > 299) {
        rc = refused(u, "finishing the upload", &r);
    } else if (!*u->session) {
        json_t *js = body_json(&r);
        json_id(js, "session", u->session, u->session_enc);
        json_decref(js);
    }
    httpc_resp_dispose(&r);
    u->failures = 0;
    return rc;
}

/* Polls the session until its analysis is done (0) or failed (1). */
static int wait_done(upload_t *u)
{
    char path[64 + 3 * ID_MAX];
    snprintf(path, sizeof path, "/api/sessions/%s", u->session_enc);
    double interval = 0.2;
    for (;;) {
        httpc_resp_t r;
        if (req_retry(u, "waiting for the session", "GET", path, &r) != REQ_OK) return 1;
        if (r.status != 200) {
            int rc = refused(u, "waiting for the session", &r);
            httpc_resp_dispose(&r);
            return rc;
        }
        json_t *js = body_json(&r);
        httpc_resp_dispose(&r);
        u->failures = 0;
        const char *state = json_string_value(json_object_get(js, "state"));
        int rc = -1;
        if (!state) {
            fprintf(stderr, "error: waiting for the session: malformed answer from the server\n");
            rc = 1;
        } else if (!strcmp(state, "done")) {
            clear_line(u);
            rc = 0;
        } else if (!strcmp(state, "failed")) {
            char e[400];
            clean(e, sizeof e, json_string_value(json_object_get(js, "error")));
            clear_line(u);
            fprintf(stderr, "error: session %s failed: %s\n", u->session, *e ? e : "(no reason)");
            rc = 1;
        } else if (u->tty) {
            char st[32];
            uint64_t bytes = 0, events = 0;
            clean(st, sizeof st, state);
            json_u64(js, "bytes_ingested", &bytes);
            json_u64(js, "events", &events);
            /* bytes_ingested waits for the disk's first commit of the bytes, while events do
             * not: before that, a percentage would say 0 of an analysis well under way */
            if (!strcmp(st, "ingesting") && !bytes)
                fprintf(stderr, "\rwaiting: analysing, %llu events\033[K",
                        (unsigned long long)events);
            else if (!strcmp(st, "ingesting") && u->size) /* the analysis of the whole file */
                fprintf(stderr, "\rwaiting: analysing %3d%%  %.1f/%.1f MB, %llu events\033[K",
                        (int)((bytes < u->size ? bytes : u->size) * 100 / u->size),
                        (double)bytes / 1e6, (double)u->size / 1e6, (unsigned long long)events);
            else
                fprintf(stderr, "\rwaiting: %s, %.1f MB ingested, %llu events\033[K", st,
                        (double)bytes / 1e6, (unsigned long long)events);
            fflush(stderr);
        }
        json_decref(js);
        if (rc >= 0) return rc;
        sleep_s(interval);
        if (interval < 2) interval *= 1.5;
    }
}

static int run(upload_t *u)
{
    struct stat st;
    u->fd = open(u->file, O_RDONLY | O_CLOEXEC);
    if (u->fd < 0 || fstat(u->fd, &st) != 0) {
        fprintf(stderr, "error: %s: %s\n", u->file, strerror(errno));
        return 1;
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "error: %s: not a regular file (uploads must be able to resume)\n",
                u->file);
        return 1;
    }
    u->size = (uint64_t)st.st_size;
    char err[256];
    if (!(u->h = httpc_create(u->server, err, sizeof err))) {
        fprintf(stderr, "upload: --server: %s\n", err);
        return 2;
    }
    httpc_set_timeouts(u->h, 10000, 60000);
    httpc_set_max_body(u->h, 1u << 20);
    httpc_set_progress(u->h, on_sent, u);
    if (u->token) snprintf(u->auth, sizeof u->auth, "Authorization: Bearer %s", u->token);
    if (u->token && strpbrk(u->token, "\r\n")) {
        fprintf(stderr, "upload: the token contains a line break\n");
        return 2;
    }
    u->tty = isatty(2);
    int rc;
    if (u->resume) {
        snprintf(u->id, sizeof u->id, "%s", u->resume);
        httpc_url_encode(u->id, u->id_enc, sizeof u->id_enc);
        if ((rc = fetch_offset(u)) != 0) return rc;
        fprintf(stderr, "upload: resuming %s at byte %llu of %llu\n", u->id,
                (unsigned long long)u->offset, (unsigned long long)u->size);
    } else {
        if ((rc = create(u)) != 0) return rc;
        fprintf(stderr, "upload: id %s (resume with --resume %s)\n", u->id, u->id);
    }
    u->t0 = now_s();
    u->run_start = u->offset;
    if ((rc = send_all(u)) != 0 || (rc = finish(u)) != 0) return rc;
    if (!*u->session) {
        fprintf(stderr, "error: the server did not say which session upload %s belongs to\n",
                u->id);
        return 1;
    }
    printf("%s\n", u->session);
    fflush(stdout);
    return u->wait ? wait_done(u) : 0;
}

int cli_upload(int argc, char **argv)
{
    upload_t u;
    memset(&u, 0, sizeof u);
    u.fd = -1;
    int rc = parse_args(argc, argv, &u);
    if (rc >= 0) return rc;
    rc = run(&u);
    if (u.fd >= 0) close(u.fd);
    httpc_destroy(u.h);
    return rc;
}
