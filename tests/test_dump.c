/* Tests of `liveprof dump` on the shared logs (byte for byte against the reference dumps) and on
 * the bad-input table: junk before the header, a repeated header, bytes after the end marker,
 * a stream cut at or inside an event, garbage; plus the command line itself. */
#include "test.h"

#include "dumputil.h"
#include "evlog.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void check_log(const char *log)
{
    char rel[256], args[1024], pipe[1024] = "", want_err[128] = "";
    snprintf(rel, sizeof rel, "eventlogs/%s.eventlog", log);
    const char *path = tu_data(rel);
    if (access(path, R_OK) == 0) {
        snprintf(args, sizeof args, "'%s'", path);
        if (strstr(log, ".raw")) {
            size_t n;
            uint8_t *raw = tu_read_file(path, &n);
            REQUIRE(raw);
            uint8_t *h = memmem(raw, n, "hdrb", 4);
            REQUIRE(h && h > raw);
            snprintf(want_err, sizeof want_err, "warning: skipped %zu bytes before the header\n",
                     (size_t)(h - raw));
            free(raw);
        }
    } else {
        snprintf(pipe, sizeof pipe, "xz -dc '%s.xz' | ", path);
        snprintf(args, sizeof args, "-");
    }
    du_run_t r;
    du_run_pipe(&r, pipe, args);
    du_text_t d;
    du_text_load(&d, log);
    CHECKF(r.rc == 0, "%s: exit %d", log, r.rc);
    du_same(log, r.out, r.out_len, d.buf, d.len);
    du_same("stderr", r.err, r.err_len, want_err, strlen(want_err));
    du_text_free(&d);
    du_run_free(&r);
}

TEST(dump_concurrent)
{
    check_log("concurrent");
}
TEST(dump_fib_labels)
{
    check_log("fib-labels");
}
TEST(dump_fib_labels_user_only)
{
    check_log("fib-labels-user-only");
}
TEST(dump_heap)
{
    check_log("heap");
}
TEST(dump_heap_nonmoving)
{
    check_log("heap-nonmoving");
}
TEST(dump_leech_attach_file)
{
    check_log("leech-attach-file");
}
TEST(dump_leech_deferred_0_raw)
{
    check_log("leech-deferred-0.raw");
}
TEST(dump_leech_main)
{
    check_log("leech-main");
}
TEST(dump_leech_restart_0_raw)
{
    check_log("leech-restart-0.raw");
}
TEST(dump_leech_restart_1_raw)
{
    check_log("leech-restart-1.raw");
}
TEST(dump_scale_1m)
{
    check_log("scale-1m");
}
TEST(dump_small)
{
    check_log("small");
}
TEST(dump_sparks)
{
    check_log("sparks");
}
TEST(dump_scale_20m)
{
    if (test_skip_slow()) {
        fprintf(stderr, "    dump_scale_20m: skipped (--skip-slow)\n");
        return;
    }
    check_log("scale-20m");
}

/* ---- the bad-input table ---- */

static uint8_t *load_log(const char *log, size_t *n)
{
    char rel[256];
    snprintf(rel, sizeof rel, "eventlogs/%s.eventlog", log);
    uint8_t *b = tu_read_file(tu_data(rel), n);
    REQUIRE(b);
    return b;
}

typedef struct offsets {
    uint64_t *off;
    size_t n;
} offsets_t;

static int record_offset(void *ctx, const evlog_event_t *ev)
{
    offsets_t *o = ctx;
    if (ev->type != EVLOG_BLOCK_MARKER) o->off[o->n++] = ev->offset;
    return 0;
}

/* Stream offsets of the log's events (block markers left out), in file order. */
static offsets_t event_offsets(const uint8_t *log, size_t n)
{
    offsets_t o = {malloc(sizeof(uint64_t) * (n / 10 + 1)), 0};
    REQUIRE(o.off);
    evlog_t d;
    evlog_sink_t sink = {NULL, record_offset, NULL, &o};
    REQUIRE(evlog_init(&d, &sink) == 0);
    REQUIRE(evlog_feed(&d, log, n) == 0);
    REQUIRE(evlog_finish(&d) == 0);
    evlog_dispose(&d);
    return o;
}

/* Writes `p` to a temporary log, dumps it and checks exit code, stdout and stderr. */
static void check_dump_of(const char *what, const void *p, size_t n, int want_rc,
                          const void *want_out, size_t want_len, const char *want_err)
{
    const char *path = du_tmp_path("input.eventlog");
    du_write_file(path, p, n);
    char args[600];
    snprintf(args, sizeof args, "'%s'", path);
    du_run_t r;
    du_run(&r, args);
    CHECKF(r.rc == want_rc, "%s: exit %d, want %d", what, r.rc, want_rc);
    du_same(what, r.out, r.out_len, want_out, want_len);
    du_same("stderr", r.err, r.err_len, want_err, strlen(want_err));
    du_run_free(&r);
}

TEST(dump_bad_junk_before_header)
{
    size_t n;
    uint8_t *log = load_log("fib-labels", &n);
    uint8_t *in = malloc(n + 100);
    REQUIRE(in);
    for (int i = 0; i < 100; i++)
        in[i] = "hdr\377hd\0h"[i % 9]; /* near-misses of "hdrb" */
    memcpy(in + 100, log, n);
    du_text_t d;
    du_text_load(&d, "fib-labels");
    check_dump_of("junk", in, n + 100, 0, d.buf, d.len,
                  "warning: skipped 100 bytes before the header\n");
    du_text_free(&d);
    free(in);
    free(log);
}

TEST(dump_bad_header_repeated)
{
    size_t na, nb;
    uint8_t *a = load_log("fib-labels", &na), *b = load_log("fib-labels-user-only", &nb);
    REQUIRE(na > 2 && a[na - 2] == 0xff && a[na - 1] == 0xff);
    uint8_t *in = malloc(na + nb);
    REQUIRE(in);
    memcpy(in, a, na - 2); /* logging stopped without an end marker, then restarted */
    memcpy(in + na - 2, b, nb);
    du_text_t da, db;
    du_text_load(&da, "fib-labels");
    du_text_load(&db, "fib-labels-user-only");
    du_summary_t s = {.count = 0};
    du_summary_add(&s, &da, 0, da.nev);
    du_summary_add(&s, &db, 0, db.nev);
    char *want = malloc(da.len + db.len + 64 * 80);
    REQUIRE(want);
    size_t wl = 0, k = db.types_end, l = db.events_end - db.types_end;
    memcpy(want, da.buf, da.events_end);
    wl = da.events_end;
    memcpy(want + wl, db.buf + k, l);
    wl += l;
    wl += du_summary_put(&s, want + wl);
    char err[128];
    snprintf(err, sizeof err, "warning: header repeated at byte %zu\n", na - 2);
    check_dump_of("repeated header", in, na - 2 + nb, 0, want, wl, err);
    du_text_free(&da);
    du_text_free(&db);
    free(want);
    free(in);
    free(a);
    free(b);
}

TEST(dump_bad_bytes_after_end)
{
    size_t n;
    uint8_t *log = load_log("leech-main", &n);
    uint8_t *in = malloc(n + 37);
    REQUIRE(in);
    memcpy(in, log, n);
    for (int i = 0; i < 37; i++)
        in[n + i] = (uint8_t)(i * 7 + 1);
    du_text_t d;
    du_text_load(&d, "leech-main");
    check_dump_of("trailing", in, n + 37, 0, d.buf, d.len,
                  "warning: 37 bytes after the end marker\n");
    du_text_free(&d);
    free(in);
    free(log);
}

TEST(dump_bad_stops_at_event_boundary)
{
    size_t n;
    uint8_t *log = load_log("concurrent", &n);
    offsets_t o = event_offsets(log, n);
    du_text_t d;
    du_text_load(&d, "concurrent");
    REQUIRE(o.n == d.nev);
    /* Without the end marker: everything. */
    check_dump_of("no end marker", log, n - 2, 0, d.buf, d.len, "");
    /* Cut before events k, in the middle of blocks: the first k events and their counts. */
    size_t ks[] = {1, d.nev / 3, d.nev / 2 + 7, d.nev - 1};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        size_t wl;
        char *want = du_expect_prefix(&d, ks[i], &wl);
        check_dump_of("cut at a boundary", log, o.off[ks[i]], 0, want, wl, "");
        free(want);
    }
    /* The same through a pipe on stdin. */
    size_t k = d.nev / 4, wl;
    char *want = du_expect_prefix(&d, k, &wl);
    const char *path = du_tmp_path("cut.eventlog");
    du_write_file(path, log, o.off[k]);
    char pipe[600];
    snprintf(pipe, sizeof pipe, "cat '%s' | ", path);
    du_run_t r;
    du_run_pipe(&r, pipe, "-");
    CHECK(r.rc == 0);
    du_same("cut via stdin", r.out, r.out_len, want, wl);
    CHECK(r.err_len == 0);
    du_run_free(&r);
    free(want);
    free(o.off);
    du_text_free(&d);
    free(log);
}

TEST(dump_bad_truncated_event)
{
    size_t n;
    uint8_t *log = load_log("heap", &n);
    offsets_t o = event_offsets(log, n);
    du_text_t d;
    du_text_load(&d, "heap");
    REQUIRE(o.n == d.nev);
    size_t ks[] = {0, d.nev / 2, d.nev - 1};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        size_t wl;
        char *want = du_expect_prefix(&d, ks[i], &wl);
        char err[128];
        snprintf(err, sizeof err, "error: truncated event at byte %llu\n",
                 (unsigned long long)o.off[ks[i]]);
        check_dump_of("cut inside an event", log, o.off[ks[i]] + 5, 1, want, wl, err);
        free(want);
    }
    free(o.off);
    du_text_free(&d);
    free(log);
}

TEST(dump_bad_garbage)
{
    size_t n;
    uint8_t *log = load_log("sparks", &n);
    offsets_t o = event_offsets(log, n);
    du_text_t d;
    du_text_load(&d, "sparks");
    REQUIRE(o.n == d.nev);
    size_t k = d.nev / 2, wl;
    log[o.off[k]] = 0x01; /* type 300: not declared in the header */
    log[o.off[k] + 1] = 0x2c;
    char *want = du_expect_prefix(&d, k, &wl);
    char err[128];
    snprintf(err, sizeof err, "error: undeclared event type 300 at byte %llu\n",
             (unsigned long long)o.off[k]);
    check_dump_of("garbage", log, n, 1, want, wl, err);
    /* Nothing that looks like an eventlog. */
    check_dump_of("no header", "just some text\n", 15, 1, "", 0,
                  "error: header begin marker not found at byte 0\n");
    check_dump_of("empty", "", 0, 1, "", 0, "error: header begin marker not found at byte 0\n");
    free(want);
    free(o.off);
    du_text_free(&d);
    free(log);
}

TEST(dump_usage)
{
    du_run_t r;
    du_run(&r, "--help");
    CHECK(r.rc == 0 && strstr((char *)r.out, "usage: liveprof dump FILE|- [--format hs|json]"));
    du_run_free(&r);
    du_run(&r, "--bogus x.eventlog");
    CHECK(r.rc == 2 && r.out_len == 0 && strstr(r.err, "usage: liveprof dump"));
    du_run_free(&r);
    du_run(&r, "");
    CHECK(r.rc == 2 && strstr(r.err, "usage: liveprof dump"));
    du_run_free(&r);
    du_run(&r, "x.eventlog --format xml");
    CHECK(r.rc == 2 && strstr(r.err, "usage: liveprof dump"));
    du_run_free(&r);
    du_run(&r, "does/not/exist.eventlog");
    CHECK(r.rc == 1 && r.out_len == 0);
    CHECK(
        !strcmp(r.err, "error: cannot open does/not/exist.eventlog: No such file or directory\n"));
    du_run_free(&r);
}
