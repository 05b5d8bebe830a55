/* Fuzz target: the report-script parser (lib/script.c) and the evaluation of whatever it accepts
 * (lib/report.c with the totals and timed-text writers) against a real analysed log. Properties:
 * no crash; a failed parse leaves no commands and an error text with a position; every parsed
 * command has a valid kind, its filters' trees are well formed and matching never crashes. */
#include "evlog.h"
#include "gea.h"
#include "order.h"
#include "report.h"
#include "report_out.h"
#include "script.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The log the scripts are evaluated against (when it can be read from the repository root). */
#define LOG_PATH "../shared/data/eventlogs/fib-labels.eventlog"
#define BUCKETS 10

static gea_t *analysis;
static FILE *sink_file;

static int on_event(void *ctx, const evlog_event_t *ev)
{
    gea_event(ctx, ev);
    return 0;
}

/* Analyses LOG_PATH with BUCKETS buckets (two passes, as analyze does); NULL when unreadable. */
static gea_t *analyse_log(void)
{
    FILE *f = fopen(LOG_PATH, "rb");
    if (!f) return NULL;
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    order_source_t src = {.buf = buf, .fd = -1, .len = n};
    gea_opts_t go = {0};
    gea_buckets_t bk = {0};
    gea_t *g = NULL;
    for (int pass = 0; pass < 2; pass++) {
        evlog_t d;
        evlog_sink_t sink = {0};
        if (evlog_init(&d, &sink) < 0) abort();
        gea_t *next = gea_create(&go);
        order_log(&d, &src, on_event, next, NULL);
        evlog_dispose(&d);
        if (g) {
            gea_destroy(g);
        } else {
            bk.startup = gea_window_startup(gea_output(next, 0));
            bk.bs = gea_window_bucket_size(gea_output(next, 0), BUCKETS, NULL);
            go.buckets = &bk;
            go.nbuckets = 1;
        }
        g = next;
    }
    return g;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    analysis = analyse_log();
    sink_file = fopen("/dev/null", "w");
    return 0;
}

static void check_filter(const script_filter_t *f, int depth)
{
    static const char *const labels[] = {"worker-1", "main", "17", ""};
    if (depth > 10000) abort();
    if (f->kind == SCRIPT_FILTER_ANY) {
        if (f->n_items < 1 || !f->items) abort();
        for (size_t i = 0; i < f->n_items; i++)
            check_filter(&f->items[i], depth + 1);
    }
    if (f->kind == SCRIPT_FILTER_THREAD && f->names != SCRIPT_NAMES_ALL && !f->pattern) abort();
    script_filter_match_gc(f);
    script_filter_match_user(f, "job", 3, 0);
    script_filter_match_user(f, "", 0, 7);
    script_filter_match_thread(f, 17, labels, 3);
    script_filter_match_thread(f, 0, labels + 3, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sink_file) LLVMFuzzerInitialize(NULL, NULL);
    script_t *s = script_create();
    if (!s) abort();
    int rc = script_parse(s, "fuzz", (const char *)data, size);
    if (rc < 0) {
        unsigned line, col;
        script_error_pos(s, &line, &col);
        if (script_count(s) != 0 || !script_error_text(s)[0] || line == 0) abort();
    } else {
        for (size_t i = 0; i < script_count(s); i++) {
            const script_cmd_t *c = script_command(s, i);
            if (!c || c->kind > SCRIPT_CMD_SUM || c->line == 0) abort();
            if (c->kind == SCRIPT_CMD_SECTION && !c->title) abort();
            if ((c->kind == SCRIPT_CMD_ALL || c->kind == SCRIPT_CMD_SUM) && !c->filter) abort();
            if (c->filter) check_filter(c->filter, 0);
        }
        if (script_command(s, script_count(s)) != NULL) abort();
        if (analysis) {
            report_t r;
            report_build(&r, gea_output(analysis, 0), s, false, BUCKETS);
            report_write_totals(&r, sink_file);
            report_dispose(&r);
            report_build(&r, gea_output(analysis, 0), s, true, BUCKETS);
            report_write_timed_txt(&r, sink_file);
            report_dispose(&r);
        }
    }
    script_destroy(s);
    return 0;
}
