/* `liveprof analyze`: ghc-events-analyze's command line over the streaming core. Pass 1 orders
 * the log and runs the analysis (enough for totals); when timed outputs are wanted, pass 2 runs
 * it again with each window's bucket size known, so buckets are filled as intervals close. */
#include "cli.h"

#include "err.h"
#include "evlog.h"
#include "evpipe.h"
#include "gea.h"
#include "order.h"
#include "report.h"
#include "report_out.h"
#include "script.h"
#include "xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct analyze_opts {
    const char *input, *outdir, *window, *start, *stop;
    const char *script_totals, *script_timed;
    bool timed, timed_txt, totals, json;
    uint32_t buckets;
    report_svg_opts_t svg;
} analyze_opts_t;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: liveprof analyze EVENTLOG [options]\n"
            "\n"
            "Quantize and visualize EVENTLOG, as ghc-events-analyze does (same options, same\n"
            "file names, same numbers), streaming and in bounded memory.\n"
            "\n"
            "  --timed               generate the timed report (SVG)\n"
            "  --timed-txt           generate the timed report (text)\n"
            "  --totals              generate the totals report\n"
            "                        (none of the three given: all three)\n"
            "  -b, --buckets INT     use INT buckets for quantization (default 1000)\n"
            "  --window NAME         events named NAME mark the bounds of windows\n"
            "  --start STR           prefix of user start events (default \"START \")\n"
            "  --stop STR            prefix of user stop events (default \"STOP \")\n"
            "  --script-totals PATH  script for the totals report\n"
            "  --script-timed PATH   script for the timed reports\n"
            "  --ms                  milliseconds (rather than seconds) on the SVG timeline\n"
            "  --tick-every N        a tick every N buckets (default 1)\n"
            "  --bucket-width D      width of every bucket (default 14)\n"
            "  --bucket-height D     height of every bucket (default 14)\n"
            "  --border-width D      border around each bucket, 0 for none (default 0.1)\n"
            "  --help-script         describe the script language\n"
            "  -o DIR                write the files into DIR (default: current directory)\n"
            "  --json                write no files; print the timed report as JSON on stdout\n");
}

static bool parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > UINT32_MAX || s[0] == '-') return false;
    *out = (uint32_t)v;
    return true;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || v < 0) return false;
    *out = v;
    return true;
}

/* Parses argv; returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, analyze_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->buckets = 1000;
    o->svg = report_svg_opts_default();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        char name[64];
        if (a[0] == '-' && a[1] == '-' && strchr(a, '=')) {
            size_t n = (size_t)(strchr(a, '=') - a);
            if (n >= sizeof name) n = sizeof name - 1;
            memcpy(name, a, n);
            name[n] = 0;
            v = strchr(a, '=') + 1;
            a = name;
        }
#define FLAG(s) (!strcmp(a, s))
#define VALUE()                                                                                    \
    (v ? v : (i + 1 < argc ? argv[++i] : (fprintf(stderr, "analyze: %s needs a value\n", a), NULL)))
        if (FLAG("--help") || FLAG("-h")) {
            usage(stdout);
            return 0;
        } else if (FLAG("--help-script")) {
            fputs(script_help_text(), stdout);
            return 0;
        } else if (FLAG("--timed")) {
            o->timed = true;
        } else if (FLAG("--timed-txt")) {
            o->timed_txt = true;
        } else if (FLAG("--totals")) {
            o->totals = true;
        } else if (FLAG("--json")) {
            o->json = true;
        } else if (FLAG("--ms")) {
            o->svg.ms = true;
        } else if (FLAG("-b") || FLAG("--buckets") || !strncmp(a, "-b", 2)) {
            const char *s = (!strcmp(a, "-b") || !strcmp(a, "--buckets")) ? VALUE() : a + 2;
            if (!s) return 2;
            if (!parse_u32(s, &o->buckets) || o->buckets == 0) {
                fprintf(stderr, "analyze: --buckets takes a positive whole number, not '%s'\n", s);
                return 2;
            }
        } else if (FLAG("--tick-every")) {
            const char *s = VALUE();
            if (!s) return 2;
            if (!parse_u32(s, &o->svg.tick_every) || o->svg.tick_every == 0) {
                fprintf(stderr, "analyze: --tick-every takes a positive whole number\n");
                return 2;
            }
        } else if (FLAG("--bucket-width") || FLAG("--bucket-height") || FLAG("--border-width")) {
            const char *s = VALUE();
            double *dst = FLAG("--bucket-width")    ? &o->svg.bucket_width
                          : FLAG("--bucket-height") ? &o->svg.bucket_height
                                                    : &o->svg.border_width;
            if (!s) return 2;
            if (!parse_double(s, dst)) {
                fprintf(stderr, "analyze: %s takes a non-negative number\n", a);
                return 2;
            }
        } else if (FLAG("--window") || FLAG("--start") || FLAG("--stop") ||
                   FLAG("--script-totals") || FLAG("--script-timed") || FLAG("-o")) {
            const char *s = VALUE();
            if (!s) return 2;
            if (FLAG("--window")) o->window = *s ? s : NULL;
            if (FLAG("--start")) o->start = s;
            if (FLAG("--stop")) o->stop = s;
            if (FLAG("--script-totals")) o->script_totals = *s ? s : NULL;
            if (FLAG("--script-timed")) o->script_timed = *s ? s : NULL;
            if (FLAG("-o")) o->outdir = s;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "analyze: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (!o->input) {
            o->input = a;
        } else {
            fprintf(stderr, "analyze: more than one EVENTLOG given ('%s')\n", a);
            return 2;
        }
#undef FLAG
#undef VALUE
    }
    if (!o->input) {
        usage(stderr);
        return 2;
    }
    if (!o->timed && !o->timed_txt && !o->totals) o->timed = o->timed_txt = o->totals = true;
    return -1;
}

/* ---- passes ------------------------------------------------------------------------------- */

typedef struct pass {
    gea_t *g;
    const gea_opts_t *opts;
    bool progress;
    /* with --window, the events of the types the pass does not read are skipped too, their
     * times going to gea_skipped: that is exact while every window reported has a startup of
     * its own (gea_bounds_exact) and the ordering drops no event as malformed (`dropped`: its
     * time is in the extremes, not in the analysis), which the pass for the bounds (it reads
     * the startups, user messages and thread labels) finds out first */
    bool skip_windows;
    uint64_t dropped;
    /* the events go through this pipe to the analysis on a thread of its own, so that ordering
     * and analysis run on two cores (NULL: analysed on the ordering's thread) */
    evpipe_t *pipe;
    bool no_header; /* the pass failed before a whole eventlog header */
} pass_t;

/* The orderer found that the log's blocks were not in time order after all and starts over:
 * so does the analysis (on its thread, after the events sent so far, when there is a pipe). */
static void gea_reset(void *ctx)
{
    pass_t *p = ctx;
    gea_destroy(p->g);
    p->g = gea_create(p->opts);
}

static void on_reset(void *ctx)
{
    pass_t *p = ctx;
    if (p->pipe)
        evpipe_reset_spsc(p->pipe);
    else
        gea_reset(p);
}

static int on_event(void *ctx, const evlog_event_t *ev)
{
    pass_t *p = ctx;
    if (p->pipe) /* events whose fields the analysis does not read go without their payload */
        evpipe_push_spsc(p->pipe, ev, 0, !ev->known);
    else
        gea_event(p->g, ev);
    return 0;
}

static void piped_event(void *ctx, const evlog_event_t *ev, uint32_t tag)
{
    (void)tag;
    gea_event(((pass_t *)ctx)->g, ev);
}

/* A progress line on a terminal for big inputs: "analyze: indexing 42%". */
static void on_progress(void *ctx, int pass, uint64_t done, uint64_t total)
{
    static int last = -1;
    (void)ctx;
    int pct = total ? (int)(done * 100 / total) : 100;
    if (pct == last) return;
    last = pct;
    fprintf(stderr, "\ranalyze: %s %3d%%%s", pass == 1 ? "indexing" : "analysing", pct,
            pct == 100 ? "\n" : "");
}

static void on_warning(void *ctx, evlog_warning_t w, uint64_t off, uint64_t count)
{
    (void)ctx;
    cli_print_warning(w, off, count);
}

/* Runs one pass over the log; with `report`, prints decoder warnings and errors. Returns the
 * decoder's status (0 or negative). */
static int run_pass(const order_source_t *src, pass_t *p, bool report)
{
    evlog_t d;
    evlog_sink_t sink = {0};
    if (report) sink.on_warning = on_warning;
    if (evlog_init(&d, &sink) < 0) return LP_ENOMEM;
    static uint64_t fields[1024];
    memset(fields, 0, sizeof fields);
    if (p->opts->bounds_only && !p->opts->window) {
        /* the run's startup and end alone (the timed reports' buckets): of all events only
         * CapCreate and Startup are read, and the others' times come from the ordering's
         * extremes (gea_skipped), which spares nearly all of the merge */
        fields[EVLOG_CAP_CREATE >> 6] |= 1ull << (EVLOG_CAP_CREATE & 63);
        fields[EVLOG_STARTUP >> 6] |= 1ull << (EVLOG_STARTUP & 63);
    } else if (p->opts->bounds_only) {
        gea_bounds_fields(fields);
    } else {
        gea_fields(fields);
    }
    /* without windows the analysis needs only the times of the events it does not read: they
     * are skipped by the ordering and accounted for at the end; with them, most often too */
    bool skip = !p->opts->window || p->skip_windows;
    order_stats_t st = {
        .reset = on_reset, .progress_ctx = p, .fields = fields, .skip_others = skip};
    if (p->progress) st.progress = on_progress;
    /* A pass that analyses pipes the events when there is a second core (the pipe's copies cost
     * CPU: on one core they would only slow the pass down); one that finds only the bounds does
     * not. */
    evpipe_sink_t ps = {.event = piped_event, .reset = gea_reset, .ctx = p};
    cpu_set_t cpus; /* the cores this process may run on (taskset, cgroups), else all */
    bool two = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) > 1
                                                             : sysconf(_SC_NPROCESSORS_ONLN) > 1;
    p->pipe = p->opts->bounds_only || !two ? NULL : evpipe_create(&ps, "lp-analyze");
    int rc = order_log(&d, src, on_event, p, &st);
    evpipe_destroy(p->pipe); /* every event analysed */
    p->pipe = NULL;
    if (skip) gea_skipped(p->g, st.min_ts, st.max_ts);
    p->dropped = st.dropped;

    if (rc == LP_EIO && report)
        fprintf(stderr, "error: cannot read the log: %s\n", strerror(errno));
    else if (rc < 0 && report)
        fprintf(stderr, "error: %s at byte %llu\n", evlog_error_text(&d),
                (unsigned long long)evlog_error_offset(&d));
    /* (on success the fast path may have read the header with a decoder of its own; a failure
     * before any header always ends the exact path, which uses d) */
    p->no_header = rc < 0 && rc != LP_EIO && evlog_headers(&d) == 0;
    evlog_dispose(&d);
    return rc;
}

/* ---- outputs ------------------------------------------------------------------------------ */

static char *out_path(const analyze_opts_t *o, bool windowed, size_t i, const char *ext)
{
    const char *base = strrchr(o->input, '/');
    base = base ? base + 1 : o->input;
    size_t blen = strlen(base);
    const char *dot = strrchr(base, '.');
    if (dot && dot != base) blen = (size_t)(dot - base);
    const char *dir = o->outdir ? o->outdir : ".";
    size_t n = strlen(dir) + blen + strlen(ext) + 32;
    char *p = xmalloc(n);
    if (windowed)
        snprintf(p, n, "%s/%.*s.%zu.%s", dir, (int)blen, base, i, ext);
    else
        snprintf(p, n, "%s/%.*s.%s", dir, (int)blen, base, ext);
    return p;
}

typedef int (*writer_fn)(const report_t *r, const analyze_opts_t *o, FILE *f);

static int write_totals(const report_t *r, const analyze_opts_t *o, FILE *f)
{
    (void)o;
    return report_write_totals(r, f);
}

static int write_svg(const report_t *r, const analyze_opts_t *o, FILE *f)
{
    return report_write_svg(r, &o->svg, f);
}

static int write_txt(const report_t *r, const analyze_opts_t *o, FILE *f)
{
    (void)o;
    return report_write_timed_txt(r, f);
}

static int write_file(const analyze_opts_t *o, const report_t *r, bool windowed, size_t i,
                      const char *ext, const char *script_name, writer_fn fn)
{
    char *path = out_path(o, windowed, i, ext);
    FILE *f = fopen(path, "w");
    int rc = f ? fn(r, o, f) : LP_EIO;
    if (f && fclose(f) != 0) rc = LP_EIO;
    if (rc < 0) {
        fprintf(stderr, "error: cannot write %s: %s\n", path, strerror(errno));
    } else {
        const char *shown = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        printf("Generated %s using %s\n", shown, script_name ? script_name : "default script");
    }
    free(path);
    return rc;
}

/* Creates dir and its parents (like mkdir -p). Returns 0 or -1 with errno set. */
static int mkdir_p(const char *dir)
{
    char *p = xstrndup(dir, strlen(dir));
    for (char *q = p + 1; *q; q++) {
        if (*q != '/') continue;
        *q = 0;
        if (mkdir(p, 0777) < 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *q = '/';
    }
    int rc = mkdir(p, 0777) < 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

static script_t *load_script(const char *path, bool totals)
{
    script_t *s = script_create();
    if (!s) return NULL;
    int rc = path ? script_parse_file(s, path)
                  : script_parse_default(s, totals ? SCRIPT_DEFAULT_TOTALS : SCRIPT_DEFAULT_TIMED);
    if (rc < 0) {
        fprintf(stderr, "error: %s\n",
                script_error_text(s)[0] ? script_error_text(s) : lp_strerror(rc));
        script_destroy(s);
        return NULL;
    }
    return s;
}

/* Passes over the log: the bounds (and, without timed outputs, the totals), then with timed
 * outputs the buckets. Returns the analysis (the caller destroys it) and the first pass's decoder
 * status in *derr, or NULL, with the error told, when the file holds no eventlog header. */
static gea_t *analyse(const analyze_opts_t *o, const order_source_t *src, int *derr)
{
    gea_opts_t go = {.start_prefix = o->start, .stop_prefix = o->stop, .window = o->window};
    bool tty = isatty(2) && src->len > (100u << 20);
    bool need_timed = o->json || o->timed || o->timed_txt;
    /* With timed outputs the first pass only finds the bounds for the buckets: without windows
     * from the run's startup and extremes, with them from the startups and the windows' STARTs
     * and STOPs (every event's time only when gea_bounds_exact says it must) */
    gea_opts_t go1 = go;
    go1.bounds_only = need_timed;
    pass_t p1 = {.g = gea_create(&go1),
                 .opts = &go1,
                 .progress = tty,
                 .skip_windows = need_timed && o->window};
    *derr = run_pass(src, &p1, true);
    if (p1.no_header) { /* not an eventlog at all: reports of nothing would only mislead */
        fprintf(stderr, "error: %s holds no whole eventlog header: no report written\n", o->input);
        cli_hint_compressed(o->input);
        gea_destroy(p1.g);
        return NULL;
    }
    if (p1.skip_windows && (p1.dropped || !gea_bounds_exact(p1.g))) {
        /* a window's first time is needed, or a malformed event may have been one: the events
         * skipped go in again, in both passes */
        gea_destroy(p1.g);
        p1.g = gea_create(&go1);
        p1.skip_windows = false;
        run_pass(src, &p1, false);
    }
    gea_t *g = p1.g;
    if (need_timed) {
        size_t nw = gea_windows(g);
        gea_buckets_t *bk = xcalloc(nw, sizeof *bk);
        for (size_t i = 0; i < nw; i++) {
            const gea_window_t *w = gea_window(g, i);
            bool clamped = false;
            bk[i].startup = gea_window_startup(w);
            bk[i].bs = gea_window_bucket_size(w, o->buckets, &clamped);
            if (clamped && i < gea_outputs(g))
                fprintf(stderr,
                        "note: the run%s lasts %llu ns, less than %u buckets; using 1 ns buckets\n",
                        o->window ? " (window)" : "", (unsigned long long)(w->end - bk[i].startup),
                        o->buckets);
        }
        go.buckets = bk;
        go.nbuckets = nw;
        pass_t p2 = {
            .g = gea_create(&go), .opts = &go, .progress = tty, .skip_windows = p1.skip_windows};
        run_pass(src, &p2, false);
        free(bk);
        g = p2.g;
        gea_destroy(p1.g);
    }
    return g;
}

/* Writes the reports of g's outputs: files, or JSON on stdout. Returns 0 or nonzero when a
 * write failed (told on stderr). */
static int write_reports(const analyze_opts_t *o, gea_t *g, const script_t *s_totals,
                         const script_t *s_timed)
{
    int werr = 0;
    size_t nout = gea_outputs(g);
    bool windowed = o->window != NULL;
    if (o->json) {
        report_t *reps = xcalloc(nout, sizeof *reps);
        const report_t **ptrs = xcalloc(nout, sizeof *ptrs);
        for (size_t i = 0; i < nout; i++) {
            report_build(&reps[i], gea_output(g, i), s_timed, true, o->buckets);
            ptrs[i] = &reps[i];
        }
        werr = report_write_json(ptrs, nout, windowed, stdout);
        for (size_t i = 0; i < nout; i++)
            report_dispose(&reps[i]);
        free(reps);
        free(ptrs);
    } else {
        for (size_t i = 0; i < nout; i++) {
            const gea_window_t *w = gea_output(g, i);
            report_t r;
            if (o->totals) {
                report_build(&r, w, s_totals, false, o->buckets);
                werr |=
                    write_file(o, &r, windowed, i, "totals.txt", o->script_totals, write_totals);
                report_dispose(&r);
            }
            if (o->timed || o->timed_txt) {
                report_build(&r, w, s_timed, true, o->buckets);
                if (o->timed)
                    werr |= write_file(o, &r, windowed, i, "timed.svg", o->script_timed, write_svg);
                if (o->timed_txt)
                    werr |= write_file(o, &r, windowed, i, "timed.txt", o->script_timed, write_txt);
                report_dispose(&r);
            }
        }
    }
    if (fflush(stdout) != 0) werr = LP_EIO;
    return werr;
}

int cli_analyze(int argc, char **argv)
{
    analyze_opts_t o;
    int status = parse_args(argc, argv, &o);
    if (status >= 0) return status;
    script_t *s_totals = load_script(o.script_totals, true);
    script_t *s_timed = load_script(o.script_timed, false);
    if (!s_totals || !s_timed) {
        script_destroy(s_totals);
        script_destroy(s_timed);
        return 1;
    }
    if (o.outdir && !o.json && mkdir_p(o.outdir) < 0) {
        fprintf(stderr, "error: cannot create %s: %s\n", o.outdir, strerror(errno));
        script_destroy(s_totals);
        script_destroy(s_timed);
        return 1;
    }
    order_source_t src = {.fd = open(o.input, O_RDONLY)};
    struct stat sb;
    errno = 0;
    if (src.fd < 0 || fstat(src.fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        fprintf(stderr, "error: cannot open %s: %s\n", o.input,
                src.fd < 0 || errno ? strerror(errno) : "not a regular file");
        if (src.fd >= 0) close(src.fd);
        script_destroy(s_totals);
        script_destroy(s_timed);
        return 1;
    }
    src.len = (uint64_t)sb.st_size;
    int derr = 0, werr = 0;
    gea_t *g = analyse(&o, &src, &derr);
    if (g) werr = write_reports(&o, g, s_totals, s_timed);
    gea_destroy(g);
    close(src.fd);
    script_destroy(s_totals);
    script_destroy(s_timed);
    return (!g || derr < 0 || werr) ? 1 : 0;
}
