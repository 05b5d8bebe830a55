/* `liveprof dump`: streams an eventlog through the decoder and prints every event as ghc-events
 * 0.17.0.3 shows it (the reference EvDump's output), or one JSON object per event. */
#include "cli.h"

#include "err.h"
#include "evjson.h"
#include "evlog.h"
#include "evshow.h"
#include "hsshow.h"
#include "outbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (1u << 20)
#define OUT_BUF (256u << 10)

typedef struct dump {
    outbuf_t out;
    bool json;
    uint64_t counts[EVSHOW_CTOR_COUNT];
    int reject;          /* set when an event is one ghc-events cannot decode */
    uint64_t reject_off; /* its stream offset */
    char why[160];
} dump_t;

static void usage(FILE *f)
{
    fprintf(f, "usage: liveprof dump FILE|- [--format hs|json]\n"
               "\n"
               "Prints every event of a GHC eventlog in file order.\n"
               "  --format hs    (default) as ghc-events shows them: the header's event types,\n"
               "                 one line per event, then per-constructor counts and the total\n"
               "  --format json  one JSON object per event and line\n"
               "'-' reads standard input.\n");
}

/* Writes a type description, replacing bytes that are not UTF-8 with U+FFFD. */
static void put_desc(outbuf_t *o, evlog_bytes_t d)
{
    size_t i = 0;
    while (i < d.len) {
        uint32_t cp;
        size_t k = d.p[i] < 0x80 ? 1 : hsshow_utf8_next(d.p + i, d.len - i, &cp);
        if (k) {
            outbuf_put(o, d.p + i, k);
            i += k;
        } else {
            outbuf_put(o, "\xef\xbf\xbd", 3);
            i++;
        }
    }
}

static int on_type(void *ctx, const evlog_type_info_t *t)
{
    dump_t *dp = ctx;
    if (dp->json) return 0;
    outbuf_puts(&dp->out, "type ");
    outbuf_u64(&dp->out, t->num);
    outbuf_putc(&dp->out, ' ');
    if (t->size == EVLOG_VAR_SIZE)
        outbuf_puts(&dp->out, "var");
    else
        outbuf_u64(&dp->out, (uint64_t)t->size);
    outbuf_putc(&dp->out, ' ');
    put_desc(&dp->out, t->desc);
    outbuf_putc(&dp->out, '\n');
    return 0;
}

static int on_event(void *ctx, const evlog_event_t *ev)
{
    dump_t *dp = ctx;
    if (ev->type == EVLOG_BLOCK_MARKER) return 0;
    if (dp->json) {
        evjson_event(&dp->out, ev);
        return 0;
    }
    evshow_info_t in;
    evshow_fields(ev, &in);
    int rc = evshow_check(&in, dp->why, sizeof dp->why);
    if (rc < 0) {
        dp->reject = rc;
        dp->reject_off = ev->offset;
        return rc;
    }
    outbuf_t *o = &dp->out;
    outbuf_u64(o, ev->ts);
    if (ev->cap == EVLOG_NO_CAP) {
        outbuf_puts(o, " - ");
    } else {
        outbuf_putc(o, ' ');
        outbuf_i64(o, ev->cap);
        outbuf_putc(o, ' ');
    }
    evshow_put(o, &in);
    outbuf_putc(o, '\n');
    dp->counts[in.ctor]++;
    return 0;
}

static void on_warning(void *ctx, evlog_warning_t w, uint64_t offset, uint64_t count)
{
    (void)ctx;
    cli_print_warning(w, offset, count);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(evshow_ctor_name(*(const evshow_ctor_t *)a),
                  evshow_ctor_name(*(const evshow_ctor_t *)b));
}

/* Appends the `count` lines (sorted by constructor name) and `total`. */
static void put_summary(dump_t *dp)
{
    evshow_ctor_t order[EVSHOW_CTOR_COUNT];
    size_t n = 0;
    uint64_t total = 0;
    for (int c = 0; c < EVSHOW_CTOR_COUNT; c++)
        if (dp->counts[c]) order[n++] = (evshow_ctor_t)c;
    qsort(order, n, sizeof order[0], by_name);
    for (size_t i = 0; i < n; i++) {
        outbuf_puts(&dp->out, "count ");
        outbuf_puts(&dp->out, evshow_ctor_name(order[i]));
        outbuf_putc(&dp->out, ' ');
        outbuf_u64(&dp->out, dp->counts[order[i]]);
        outbuf_putc(&dp->out, '\n');
        total += dp->counts[order[i]];
    }
    outbuf_puts(&dp->out, "total ");
    outbuf_u64(&dp->out, total);
    outbuf_putc(&dp->out, '\n');
}

/* Feeds the whole of fd to the decoder. Returns 0, a decoder code, or LP_EIO (errno kept). */
static int feed_all(evlog_t *d, int fd)
{
    uint8_t *buf = malloc(READ_CHUNK);
    if (!buf) return LP_ENOMEM;
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, buf, READ_CHUNK);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = LP_EIO;
            break;
        }
        if (r == 0) {
            rc = evlog_finish(d);
            break;
        }
        rc = evlog_feed(d, buf, (size_t)r);
        if (rc < 0) break;
    }
    int saved = errno;
    free(buf);
    errno = saved;
    return rc;
}

/* Parses the options; returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, const char **path, bool *json)
{
    *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *fmt = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--format") && i + 1 < argc) {
            fmt = argv[++i];
        } else if (!strncmp(a, "--format=", 9)) {
            fmt = a + 9;
        } else if (a[0] == '-' && a[1] != 0) {
            fprintf(stderr, "liveprof dump: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (*path) {
            fprintf(stderr, "liveprof dump: more than one input\n");
            usage(stderr);
            return 2;
        } else {
            *path = a;
        }
        if (fmt && !strcmp(fmt, "json")) {
            *json = true;
        } else if (fmt && !strcmp(fmt, "hs")) {
            *json = false;
        } else if (fmt) {
            fprintf(stderr, "liveprof dump: unknown format '%s'\n", fmt);
            usage(stderr);
            return 2;
        }
    }
    if (!*path) {
        usage(stderr);
        return 2;
    }
    return -1;
}

int cli_dump(int argc, char **argv)
{
    const char *path;
    bool json = false;
    int st = parse_args(argc, argv, &path, &json);
    if (st >= 0) return st;
    int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
    if (fd < 0) {
        fprintf(stderr, "error: cannot open %s: %s\n", path, strerror(errno));
        return 1;
    }
    dump_t *dp = calloc(1, sizeof *dp);
    evlog_t d;
    evlog_sink_t sink = {on_type, on_event, on_warning, dp};
    if (!dp || outbuf_init(&dp->out, STDOUT_FILENO, OUT_BUF) < 0 || evlog_init(&d, &sink) < 0) {
        fprintf(stderr, "error: out of memory\n");
        if (dp) outbuf_dispose(&dp->out);
        free(dp);
        if (fd != STDIN_FILENO) close(fd);
        return 1;
    }
    dp->json = json;
    int rc = feed_all(&d, fd);
    int read_errno = errno;
    if (!json && evlog_types(&d)) put_summary(dp);
    int out_rc = outbuf_flush(&dp->out);
    st = 0;
    if (rc == LP_EIO) {
        fprintf(stderr, "error: cannot read %s: %s\n", path, strerror(read_errno));
        st = 1;
    } else if (rc < 0 && dp->reject && rc == dp->reject) {
        fprintf(stderr, "error: %s at byte %llu\n", dp->why, (unsigned long long)dp->reject_off);
        st = 1;
    } else if (rc < 0) {
        const char *what = evlog_error_text(&d);
        fprintf(stderr, "error: %s at byte %llu\n", *what ? what : lp_strerror(rc),
                (unsigned long long)evlog_error_offset(&d));
        if (rc == LP_ENO_HEADER) cli_hint_compressed(path);
        st = 1;
    }
    if (out_rc < 0) {
        fprintf(stderr, "error: cannot write the output: %s\n",
                out_rc == LP_EIO ? strerror(dp->out.err_errno) : lp_strerror(out_rc));
        st = 1;
    }
    evlog_dispose(&d);
    outbuf_dispose(&dp->out);
    free(dp);
    if (fd != STDIN_FILENO) close(fd);
    return st;
}
