/* Differential tests of `liveprof analyze` against ghc-events-analyze's own totals files for
 * every shared log and variant, and the old tool's crash cases. */
#include "test.h"

#include "evlog.h"
#include "evwrite.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs analyze on the log at `in` with `opts` into the test's temp dir (stdout and stderr into
 * stdout.txt and stderr.txt there); returns the exit status. */
static int run_analyze_at(const char *in, const char *opts)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s analyze '%s' %s -o '%s' > '%s/stdout.txt' 2> '%s/stderr.txt'",
             tu_liveprof(), in, opts, tu_tmpdir(), tu_tmpdir(), tu_tmpdir());
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Runs analyze on a shared log with `opts` into the test's temp dir; returns the exit status. */
static int run_analyze(const char *log_file, const char *opts)
{
    char cmd[2048];
    const char *in = tu_data(log_file);
    char local[1024];
    size_t n = strlen(log_file);
    if (n > 3 && !strcmp(log_file + n - 3, ".xz")) {
        /* decompress next to the outputs, keeping the log's own name */
        const char *base = strrchr(log_file, '/');
        snprintf(local, sizeof local, "%s/%.*s", tu_tmpdir(), (int)(strlen(base + 1) - 3),
                 base + 1);
        snprintf(cmd, sizeof cmd, "xz -dc '%s' > '%s'", in, local);
        if (system(cmd) != 0) return -1;
        in = local;
    }
    return run_analyze_at(in, opts);
}

/* Compares an output file with an expected one (".xz" tolerated), byte for byte. */
static void check_same(const char *ours, const char *expected_rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", tu_tmpdir(), ours);
    size_t a_len = 0, b_len = 0;
    uint8_t *a = tu_read_file(path, &a_len);
    uint8_t *b = tu_read_file(tu_data(expected_rel), &b_len);
    CHECKF(a != NULL, "missing output %s", ours);
    CHECKF(b != NULL, "missing expected %s", expected_rel);
    if (a && b) {
        size_t i = 0;
        while (i < a_len && i < b_len && a[i] == b[i])
            i++;
        CHECKF(a_len == b_len && i == a_len, "%s differs from %s at byte %zu (sizes %zu, %zu)",
               ours, expected_rel, i, a_len, b_len);
    }
    free(a);
    free(b);
}

/* One log, one variant: the options from the variant's cmd.txt and its totals files. */
static void totals_case(const char *log, const char *variant, const char *opts, int windows)
{
    char file[256], exp[512], ours[256];
    snprintf(file, sizeof file, "eventlogs/%s.eventlog", log);
    int st = run_analyze(file, opts);
    CHECKF(st == 0, "analyze exited %d", st);
    if (windows == 0) {
        snprintf(ours, sizeof ours, "%s.totals.txt", log);
        snprintf(exp, sizeof exp, "expected/%s/%s/%s.totals.txt", log, variant, log);
        check_same(ours, exp);
    }
    for (int i = 0; i < windows; i++) {
        snprintf(ours, sizeof ours, "%s.%d.totals.txt", log, i);
        snprintf(exp, sizeof exp, "expected/%s/%s/%s.%d.totals.txt", log, variant, log, i);
        check_same(ours, exp);
    }
}

/* One test per log and variant (the test list is gathered from TEST lines, so no macros). */
TEST(analyze_totals_conclog_default)
{
    totals_case("concurrent", "default", "", 0);
}

TEST(analyze_totals_conclog_b100)
{
    totals_case("concurrent", "b100", "-b 100", 0);
}

TEST(analyze_totals_fib_labels_default)
{
    totals_case("fib-labels", "default", "", 0);
}

TEST(analyze_totals_fib_labels_b100)
{
    totals_case("fib-labels", "b100", "-b 100", 0);
}

TEST(analyze_totals_fib_labels_user_only_default)
{
    totals_case("fib-labels-user-only", "default", "", 0);
}

TEST(analyze_totals_fib_labels_user_only_b100)
{
    totals_case("fib-labels-user-only", "b100", "-b 100", 0);
}

TEST(analyze_totals_heap_default)
{
    totals_case("heap", "default", "", 0);
}

TEST(analyze_totals_heap_b100)
{
    totals_case("heap", "b100", "-b 100", 0);
}

TEST(analyze_totals_heap_nonmoving_default)
{
    totals_case("heap-nonmoving", "default", "", 0);
}

TEST(analyze_totals_heap_nonmoving_b100)
{
    totals_case("heap-nonmoving", "b100", "-b 100", 0);
}

TEST(analyze_totals_leech_attach_file_default)
{
    totals_case("leech-attach-file", "default", "", 0);
}

TEST(analyze_totals_leech_attach_file_b100)
{
    totals_case("leech-attach-file", "b100", "-b 100", 0);
}

TEST(analyze_totals_leech_main_default)
{
    totals_case("leech-main", "default", "", 0);
}

TEST(analyze_totals_leech_main_b100)
{
    totals_case("leech-main", "b100", "-b 100", 0);
}

TEST(analyze_totals_scale_1m_default)
{
    totals_case("scale-1m", "default", "", 0);
}

TEST(analyze_totals_scale_1m_b100)
{
    totals_case("scale-1m", "b100", "-b 100", 0);
}

TEST(analyze_totals_small_default)
{
    totals_case("small", "default", "", 0);
}

TEST(analyze_totals_small_b100)
{
    totals_case("small", "b100", "-b 100", 0);
}

TEST(analyze_totals_sparks_default)
{
    totals_case("sparks", "default", "", 0);
}

TEST(analyze_totals_sparks_b100)
{
    totals_case("sparks", "b100", "-b 100", 0);
}

TEST(analyze_totals_fib_labels_window_main_fib)
{
    totals_case("fib-labels", "window-main-fib", "--window main-fib", 1);
}

TEST(analyze_totals_fib_labels_user_only_window_round_w1)
{
    totals_case("fib-labels-user-only", "window-round-w1", "--window round-w1", 2);
}

TEST(analyze_totals_small_window_round)
{
    totals_case("small", "window-round", "--window round", 3);
}

TEST(analyze_totals_leech_main_window_job1)
{
    totals_case("leech-main", "window-job1", "--window job1", 3);
}

TEST(analyze_totals_small_script_custom)
{
    char opts[1024];
    const char *script = tu_data("expected/small/script-custom/custom.script");
    snprintf(opts, sizeof opts,
             "--totals --timed-txt --script-totals '%s' --script-timed '%s' -b 20", script, script);
    totals_case("small", "script-custom", opts, 0);
    /* The old tool names the script it used. */
    char path[512];
    snprintf(path, sizeof path, "%s/stdout.txt", tu_tmpdir());
    size_t n;
    char *out = (char *)tu_read_file(path, &n);
    REQUIRE(out);
    CHECKF(strstr(out, "Generated small.totals.txt using ") != NULL, "stdout: %s", out);
    free(out);
}

static void scale_20m(const char *variant, const char *opts)
{
    if (test_skip_slow()) return;
    int st = run_analyze("eventlogs/scale-20m.eventlog.xz", opts);
    CHECKF(st == 0, "analyze exited %d", st);
    char exp[256];
    snprintf(exp, sizeof exp, "expected/scale-20m/%s/scale-20m.totals.txt", variant);
    check_same("scale-20m.totals.txt", exp);
}

TEST(analyze_totals_scale_20m_totals)
{
    scale_20m("totals", "--totals");
}

TEST(analyze_totals_scale_20m_b100)
{
    scale_20m("b100", "--totals -b 100");
}

/* A file that is no eventlog at all (text, empty): exit 1 with the decoder's error and no report
 * written, rather than reports of an empty run. */
TEST(analyze_no_header_writes_no_report)
{
    const char *cases[][2] = {{"notes.txt", "just some text, no eventlog\n"},
                              {"empty.eventlog", ""}};
    for (int i = 0; i < 2; i++) {
        char in[1024], out[1024], base[64];
        snprintf(in, sizeof in, "%s/%s", tu_tmpdir(), cases[i][0]);
        FILE *f = fopen(in, "w");
        REQUIRE(f);
        fputs(cases[i][1], f);
        fclose(f);
        CHECK(run_analyze_at(in, "") == 1);
        snprintf(base, sizeof base, "%.*s", (int)(strchr(cases[i][0], '.') - cases[i][0]),
                 cases[i][0]);
        const char *kinds[] = {"totals.txt", "timed.svg", "timed.txt"};
        for (int k = 0; k < 3; k++) {
            snprintf(out, sizeof out, "%s/%s.%s", tu_tmpdir(), base, kinds[k]);
            CHECKF(access(out, F_OK) != 0, "%s written", out);
        }
        snprintf(out, sizeof out, "%s/stderr.txt", tu_tmpdir());
        size_t n;
        char *err = (char *)tu_read_file(out, &n);
        REQUIRE(err);
        CHECKF(strstr(err, "error: header begin marker not found at byte 0\n") &&
                   strstr(err, "holds no whole eventlog header: no report written\n"),
               "stderr: %s", err);
        free(err);
    }
}

/* The leech captures: the old tool fails on the raw file ("Header begin marker not found") and
 * crashes on the trimmed one ("_startup not set") after writing its totals. We must finish,
 * with the trimmed log's totals, and warn about the skipped bytes. */
static void leech_raw(const char *log, const char *opts)
{
    char file[256], ours[256], exp[512], path[512];
    snprintf(file, sizeof file, "eventlogs/%s.raw.eventlog", log);
    int st = run_analyze(file, opts);
    CHECKF(st == 0, "analyze exited %d", st);
    snprintf(ours, sizeof ours, "%s.raw.totals.txt", log);
    snprintf(exp, sizeof exp, "expected/%s.raw/fixed-default/%s.fixed.totals.txt", log, log);
    check_same(ours, exp);
    const char *kinds[] = {"timed.svg", "timed.txt"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s.raw.%s", tu_tmpdir(), log, kinds[i]);
        CHECKF(access(path, R_OK) == 0, "missing %s", path);
    }
    snprintf(path, sizeof path, "%s/stderr.txt", tu_tmpdir());
    size_t n;
    char *err = (char *)tu_read_file(path, &n);
    REQUIRE(err);
    CHECKF(strstr(err, "warning: skipped ") != NULL, "stderr: %s", err);
    free(err);
}

TEST(analyze_leech_restart_0_raw)
{
    leech_raw("leech-restart-0", "");
}

TEST(analyze_leech_restart_1_raw)
{
    leech_raw("leech-restart-1", "");
}

TEST(analyze_leech_deferred_0_raw)
{
    leech_raw("leech-deferred-0", "");
}

TEST(analyze_leech_raw_b100)
{
    leech_raw("leech-restart-0", "-b 100");
}

/* (Also under TSan: the ordering hands events to the analysis thread.) A clean-looking log whose
 * first block claims to start at its end time: the ordering trusts the markers, finds the claim
 * false only when it reaches that block, after emitting the others' events, and starts over on
 * the exact path; the analysis, on its own thread behind the pipe, starts over with it, so the
 * totals are the unmodified log's (the timed ones differ: a block's start time is part of the
 * run's span). */
TEST(analyze_concurrent_false_block_claim_starts_over)
{
    size_t n;
    uint8_t *b = tu_read_file(tu_data("eventlogs/small.eventlog"), &n);
    REQUIRE(b && n > 64);
    size_t at = 0;
    while (at + 4 <= n && memcmp(b + at, "datb", 4))
        at++;
    at += 4; /* the first block marker: type 18, time, size, end time, capability */
    REQUIRE(at + 24 <= n && b[at] == 0 && b[at + 1] == 18);
    memcpy(b + at + 2, b + at + 14, 8); /* its start time := its end time */
    char path[600];
    snprintf(path, sizeof path, "%s/small.eventlog", tu_tmpdir());
    FILE *f = fopen(path, "wb");
    REQUIRE(f && fwrite(b, 1, n, f) == n && fclose(f) == 0);
    free(b);
    int st = run_analyze_at(path, "");
    CHECKF(st == 0, "analyze exited %d", st);
    check_same("small.totals.txt", "expected/small/default/small.totals.txt");
}

/* Writes the log `w` holds (one block of capability 0 from time 0 to `end`, then the end
 * marker) to `name` in the test's temp dir, runs analyze on it with `opts` (which print JSON on
 * stdout) and returns that output (the caller frees it), or NULL. */
static char *analyze_json(evwrite_t *w, uint64_t end, const char *name, const char *opts)
{
    char path[600];
    evwrite_block_end(w, end);
    evwrite_end(w);
    size_t n;
    uint8_t *b = evwrite_take(w, &n);
    evwrite_dispose(w);
    snprintf(path, sizeof path, "%s/%s", tu_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    CHECK(b && f && fwrite(b, 1, n, f) == n);
    if (f) fclose(f);
    free(b);
    int st = run_analyze_at(path, opts);
    CHECKF(st == 0, "analyze exited %d", st);
    snprintf(path, sizeof path, "%s/stdout.txt", tu_tmpdir());
    return (char *)tu_read_file(path, &n);
}

static void begin_log(evwrite_t *w)
{
    evwrite_init(w);
    evwrite_header(w, NULL, 0);
    evwrite_block_begin(w, 0, 0);
}

static void user_msg(evwrite_t *w, uint64_t ts, const char *text)
{
    evwrite_msg(w, EVLOG_USER_MSG, ts, text, strlen(text));
}

/* The first pass with --window reads only the startups and user messages: the second window
 * here (the old tool's crash case, START w twice, STOP w twice) has no startup of its own, so
 * its startup is its first event, a GCIdle that both passes skip (the analysis reads no
 * GCIdle); they must read every event. */
TEST(analyze_window_bounds_from_a_skipped_event)
{
    evwrite_t w;
    begin_log(&w);
    evwrite_cap(&w, EVLOG_CAP_CREATE, 0, 0);
    evwrite_thread(&w, EVLOG_RUN_THREAD, 5, 1);
    user_msg(&w, 10, "START w");
    user_msg(&w, 20, "START w");
    evwrite_stop_thread(&w, 25, 1, 2, 0);
    user_msg(&w, 30, "STOP w");
    evwrite_empty(&w, EVLOG_GC_IDLE, 35);
    evwrite_thread(&w, EVLOG_RUN_THREAD, 36, 1);
    evwrite_stop_thread(&w, 40, 1, 2, 0);
    user_msg(&w, 50, "STOP w");
    evwrite_thread(&w, EVLOG_RUN_THREAD, 60, 1);
    char *json = analyze_json(&w, 60, "nested.eventlog", "--window w --json -b 5");
    REQUIRE(json);
    /* window 0: from the second START (20) to the first STOP (30); window 1: from the GCIdle
     * at 35 to the second STOP (50); 5 buckets each */
    const char *a = strstr(json, "{\"startup_ns\":20,\"end_ns\":30,\"bucket_ns\":2,");
    CHECKF(a && strstr(a, "{\"startup_ns\":35,\"end_ns\":50,\"bucket_ns\":3,"), "%s", json);
    free(json);
}

/* A thread label too short for its thread id is dropped by the ordering, so it is no event of
 * the analysis: the first pass with --window, which skips thread events, must not take its time
 * as the end of the run. */
TEST(analyze_window_bounds_without_a_malformed_event)
{
    evwrite_t w;
    begin_log(&w);
    evwrite_cap(&w, EVLOG_CAP_CREATE, 0, 0);
    evwrite_thread(&w, EVLOG_RUN_THREAD, 10, 1);
    evwrite_stop_thread(&w, 100, 1, 2, 0);
    evwrite_event(&w, EVLOG_THREAD_LABEL, 200, "ab", 2);
    char *json = analyze_json(&w, 200, "short-label.eventlog", "--window nothing --json -b 10");
    REQUIRE(json);
    CHECKF(strstr(json, "{\"startup_ns\":0,\"end_ns\":100,\"bucket_ns\":10,") != NULL, "%s", json);
    free(json);
}
