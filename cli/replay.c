/* `liveprof replay SESSION_DIR [--speed max|realtime|X] [--to URL --token T]`: without --to, the
 * exact analysis of the saved bytes (read straight from the segment files) and its totals report
 * on stdout, as `liveprof analyze` would print totals.txt; with --to, the saved bytes streamed
 * into a new session of that server as a chunked upload, paced by the events' timestamps. */
#include "cli.h"

#include "err.h"
#include "gea.h"
#include "httpc.h"
#include "order.h"
#include "pace.h"
#include "report.h"
#include "script.h"
#include "seg_log.h"
#include "seg_reader.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PIECE (4u << 20)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: liveprof replay SESSION_DIR [--speed max|realtime|X] [--from NS] [--to-ns NS]\n"
            "                       [--to URL --token T]\n"
            "Without --to: analyses the session's saved segments and prints the totals report.\n"
            "With --to: streams the saved bytes into a new session on that server (paced by\n"
            "the events' timestamps: realtime, X times faster, or max) and prints its id.\n");
}

static void say(void *ctx, const char *msg)
{
    fprintf(stderr, "replay: %s: %s\n", (const char *)ctx, msg);
}

typedef struct exact {
    gea_t *g;
} exact_t;

static void on_warning(void *ctx, evlog_warning_t w, uint64_t offset, uint64_t count)
{
    (void)ctx;
    cli_print_warning(w, offset, count);
}

static int on_event(void *ctx, const evlog_event_t *ev)
{
    gea_event(((exact_t *)ctx)->g, ev);
    return 0;
}

static void reset(void *ctx)
{
    exact_t *x = ctx;
    gea_destroy(x->g);
    x->g = gea_create(NULL);
}

/* The exact pass over the saved stream and the totals report. */
static int analyse(seg_log_t *l, const char *dir)
{
    if (l->start > 0) {
        fprintf(stderr, "replay: %s: the first %llu bytes were dropped by retention\n", dir,
                (unsigned long long)l->start);
        return 1;
    }
    seg_reader_t *rd = seg_reader_create(l);
    /* as the server's settle: closed segments past the page cache, read ahead of the merge */
    seg_reader_set_direct(rd, true);
    order_source_t src = {.fd = -1,
                          .len = l->end,
                          .read = seg_reader_read_full,
                          .read_ctx = rd,
                          .prefetch = ORDER_PREFETCH_DISK,
                          .prefetch_name = "replay-read"};
    exact_t x = {gea_create(NULL)};
    evlog_t d;
    evlog_sink_t sink = {.on_warning = on_warning};
    int rc = evlog_init(&d, &sink);
    static uint64_t fields[1024];
    gea_fields(fields);
    /* no windows: the events the analysis does not read are only timed (see order_stats_t) */
    order_stats_t st = {.reset = reset, .progress_ctx = &x, .fields = fields, .skip_others = true};
    if (rc == 0) rc = order_log(&d, &src, on_event, &x, &st);
    gea_skipped(x.g, st.min_ts, st.max_ts);
    int status = 0;
    if (rc < 0) {
        fprintf(stderr, "error: %s at byte %llu\n",
                rc == LP_EIO ? "cannot read the segments" : evlog_error_text(&d),
                (unsigned long long)evlog_error_offset(&d));
        status = 1;
    }
    script_t *sc = script_create();
    script_parse_default(sc, SCRIPT_DEFAULT_TOTALS);
    report_t rep;
    report_build(&rep, gea_output(x.g, 0), sc, false, 1000);
    if (report_write_totals(&rep, stdout) < 0) status = 1;
    report_dispose(&rep);
    script_destroy(sc);
    evlog_dispose(&d);
    seg_reader_destroy(rd);
    gea_destroy(x.g);
    return status;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One request; returns the status (or -1) and the body in *out (dispose it). */
static int call(httpc_t *h, const char *token, const char *method, const char *path,
                const void *body, size_t len, httpc_resp_t *out)
{
    char auth[300];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token ? token : "");
    const char *headers[] = {token ? auth : NULL,
                             body ? "Content-Type: application/octet-stream" : NULL, NULL};
    const char *hs[3] = {NULL, NULL, NULL};
    size_t n = 0;
    for (int i = 0; i < 2; i++)
        if (headers[i]) hs[n++] = headers[i];
    memset(out, 0, sizeof *out);
    return httpc_request(h, method, path, hs, body, len, out) == 0 ? out->status : -1;
}

static char *json_field(const char *body, const char *field)
{
    json_t *v = json_loads(body ? body : "", 0, NULL);
    json_t *f = v ? json_object_get(v, field) : NULL;
    char *out = json_is_string(f) ? strdup(json_string_value(f)) : NULL;
    json_decref(v);
    return out;
}

/* Streams the paced bytes into a new chunked upload on `url`. */
static int stream_to(seg_log_t *l, const char *url, const char *token, double speed, uint64_t from,
                     uint64_t to, const char *name)
{
    char err[256];
    pace_t *p = pace_create(l, from, to, speed, err, sizeof err);
    if (!p) {
        fprintf(stderr, "replay: %s\n", err);
        return 1;
    }
    httpc_t *h = httpc_create(url, err, sizeof err);
    if (!h) {
        fprintf(stderr, "replay: %s\n", err);
        pace_destroy(p);
        return 1;
    }
    char path[600], enc[400];
    httpc_url_encode(name, enc, sizeof enc);
    snprintf(path, sizeof path, "/api/uploads?name=%s", enc);
    httpc_resp_t r;
    int st = call(h, token, "POST", path, NULL, 0, &r);
    char *up = st == 201 ? json_field(r.body, "id") : NULL;
    char *sid = st == 201 ? json_field(r.body, "session") : NULL;
    httpc_resp_dispose(&r);
    int status = 0;
    uint8_t *buf = malloc(PIECE);
    uint64_t start = mono_ns(), off = 0;
    if (!up || !sid || !buf) {
        fprintf(stderr, "replay: the server refused the upload (%d)\n", st);
        status = 1;
    }
    while (status == 0 && pace_done(p) < pace_len(p)) {
        uint64_t now = mono_ns() - start;
        long k = pace_next(p, now, buf, PIECE);
        if (k < 0) {
            fprintf(stderr, "replay: cannot read the segments\n");
            status = 1;
            break;
        }
        if (k == 0) {
            uint64_t due = pace_due_ns(p);
            uint64_t wait = due > now ? due - now : 1000000;
            usleep((useconds_t)(wait > 200000000 ? 200000 : wait / 1000 + 1));
            continue;
        }
        for (int tries = 0;; tries++) {
            snprintf(path, sizeof path, "/api/uploads/%s?offset=%llu", up, (unsigned long long)off);
            st = call(h, token, "PUT", path, buf, (size_t)k, &r);
            httpc_resp_dispose(&r);
            if (st == 200) break;
            if (st != 503 || tries > 100) {
                fprintf(stderr, "replay: the server answered %d to a chunk\n", st);
                status = 1;
                break;
            }
            usleep(100000);
        }
        off += (uint64_t)k;
    }
    if (status == 0) {
        snprintf(path, sizeof path, "/api/uploads/%s/finish", up);
        st = call(h, token, "POST", path, NULL, 0, &r);
        httpc_resp_dispose(&r);
        if (st != 200) {
            fprintf(stderr, "replay: finishing the upload answered %d\n", st);
            status = 1;
        } else {
            printf("%s\n", sid);
        }
    }
    free(buf);
    free(up);
    free(sid);
    httpc_destroy(h);
    pace_destroy(p);
    return status;
}

int cli_replay(int argc, char **argv)
{
    const char *dir = NULL, *url = NULL, *token = NULL;
    double speed = 0;
    uint64_t from = 0, to = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (a[0] != '-' && !dir) {
            dir = a;
            continue;
        }
        static const char *const valued[] = {"--speed", "--to", "--token", "--from", "--to-ns"};
        bool known = false;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
            known |= !strcmp(a, valued[k]);
        if (!known) {
            fprintf(stderr, "replay: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (!v) {
            fprintf(stderr, "replay: %s needs a value\n", a);
            return 2;
        }
        i++;
        char *end = NULL;
        if (!strcmp(a, "--speed")) {
            if (!strcmp(v, "max"))
                speed = 0;
            else if (!strcmp(v, "realtime"))
                speed = 1;
            else if ((speed = strtod(v, &end)) <= 0 || *end) {
                fprintf(stderr, "replay: bad speed '%s' (max, realtime or a number > 0)\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--to")) {
            url = v;
        } else if (!strcmp(a, "--token")) {
            token = v;
        } else { /* --from, --to-ns */
            errno = 0;
            unsigned long long ns = strtoull(v, &end, 10);
            if (!isdigit((unsigned char)v[0]) || *end || errno) {
                fprintf(stderr, "replay: %s takes nanoseconds (a whole number), not '%s'\n", a, v);
                return 2;
            }
            if (!strcmp(a, "--from"))
                from = ns;
            else
                to = ns;
        }
    }
    if (!dir) {
        usage(stderr);
        return 2;
    }
    seg_log_t l;
    if (seg_log_open(&l, dir, false, say, (void *)dir) < 0 || l.nfiles == 0) {
        fprintf(stderr, "replay: %s holds no segment files\n", dir);
        seg_log_dispose(&l);
        return 1;
    }
    const char *base = strrchr(dir, '/');
    char name[300];
    snprintf(name, sizeof name, "replay of %s", base && base[1] ? base + 1 : dir);
    int st = url ? stream_to(&l, url, token, speed, from, to, name) : analyse(&l, dir);
    seg_log_dispose(&l);
    return st;
}
