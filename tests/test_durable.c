/* Durable sessions end to end (the real server): every shared log survives a restart with the
 * same totals and a byte-identical download; kill -9 at random moments of a chunked upload never
 * loses an acknowledged byte or a session; damaged segment files are repaired or quarantined;
 * replays give the same totals and keep their pace; retention drops the oldest raw segments
 * first and keeps totals and coarse series across a restart. */
#include "test.h"

#include "evlog.h"
#include "evwrite.h"
#include "srvutil.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *post_log(const srv_t *s, const uint8_t *b, size_t n)
{
    httpc_resp_t r;
    int st =
        srv_req(s, "POST", "/api/sessions?name=d", s->admin, "application/octet-stream", b, n, &r);
    char *id = st == 201 ? srv_json_str(r.body, "id") : NULL;
    httpc_resp_dispose(&r);
    return id;
}

static void kill9(srv_t *s)
{
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct shared_log {
    const char *log, *expected;
} shared_log_t;

static const shared_log_t every_log[] = {
    {"eventlogs/concurrent.eventlog", "expected/concurrent/default/concurrent.totals.txt"},
    {"eventlogs/fib-labels.eventlog", "expected/fib-labels/default/fib-labels.totals.txt"},
    {"eventlogs/fib-labels-user-only.eventlog",
     "expected/fib-labels-user-only/default/fib-labels-user-only.totals.txt"},
    {"eventlogs/heap.eventlog", "expected/heap/default/heap.totals.txt"},
    {"eventlogs/heap-nonmoving.eventlog",
     "expected/heap-nonmoving/default/heap-nonmoving.totals.txt"},
    {"eventlogs/leech-attach-file.eventlog",
     "expected/leech-attach-file/default/leech-attach-file.totals.txt"},
    {"eventlogs/leech-main.eventlog", "expected/leech-main/default/leech-main.totals.txt"},
    {"eventlogs/scale-1m.eventlog", "expected/scale-1m/default/scale-1m.totals.txt"},
    {"eventlogs/small.eventlog", "expected/small/default/small.totals.txt"},
    {"eventlogs/sparks.eventlog", "expected/sparks/default/sparks.totals.txt"},
    {"eventlogs/leech-restart-0.raw.eventlog",
     "expected/leech-restart-0.raw/fixed-default/leech-restart-0.fixed.totals.txt"},
    {"eventlogs/leech-restart-1.raw.eventlog",
     "expected/leech-restart-1.raw/fixed-default/leech-restart-1.fixed.totals.txt"},
    {"eventlogs/leech-deferred-0.raw.eventlog",
     "expected/leech-deferred-0.raw/fixed-default/leech-deferred-0.fixed.totals.txt"},
    {"eventlogs/scale-20m.eventlog", "expected/scale-20m/totals/scale-20m.totals.txt"},
};
#define NLOGS (sizeof every_log / sizeof every_log[0])

/* Every shared log: ingest, restart, the same totals and the original bytes back. */
TEST(durable_roundtrip_every_log)
{
    srv_t s;
    srv_start(&s, NULL, "--segment-size 300K --compress 1");
    char *ids[NLOGS] = {0};
    size_t nlogs = test_skip_slow() ? NLOGS - 1 : NLOGS; /* scale-20m: not under sanitizers */
    for (size_t i = 0; i < nlogs; i++) {
        size_t n;
        uint8_t *b = tu_read_file(tu_data(every_log[i].log), &n);
        REQUIRE(b);
        ids[i] = post_log(&s, b, n);
        free(b);
        CHECKF(ids[i], "%s: not accepted", every_log[i].log);
    }
    for (size_t i = 0; i < nlogs; i++)
        if (ids[i]) free(srv_wait_session(&s, ids[i], s.admin, 120));
    char data[512];
    snprintf(data, sizeof data, "%s", s.data);
    CHECK(srv_stop(&s) == 0);
    srv_start(&s, data, "--segment-size 300K --compress 1");
    for (size_t i = 0; i < nlogs; i++) {
        if (!ids[i]) continue;
        char *state = srv_wait_session(&s, ids[i], s.admin, 120);
        CHECKF(state && !strcmp(state, "done"), "%s after restart: %s", every_log[i].log,
               state ? state : "(missing)");
        free(state);
        CHECKF(srv_totals_equal(&s, ids[i], every_log[i].expected),
               "%s: totals differ after restart", every_log[i].log);
        char path[128];
        snprintf(path, sizeof path, "/api/sessions/%s/eventlog", ids[i]);
        httpc_resp_t r;
        size_t n;
        uint8_t *b = tu_read_file(tu_data(every_log[i].log), &n);
        CHECKF(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200 && r.len == n &&
                   !memcmp(r.body, b, n),
               "%s: downloaded eventlog differs (%zu of %zu bytes)", every_log[i].log, r.len, n);
        httpc_resp_dispose(&r);
        free(b);
        free(ids[i]);
    }
    CHECK(srv_stop(&s) == 0);
}

/* ---- kill -9 during a chunked upload -------------------------------------------------------- */

typedef struct uploader {
    const srv_t *s;
    const char *up;
    const uint8_t *b;
    size_t n;
    atomic_bool stop;
} uploader_t;

/* Sends chunks from the server's offset on until stopped or refused (the server died). */
static void *uploader_main(void *arg)
{
    uploader_t *u = arg;
    char path[160];
    httpc_resp_t r;
    snprintf(path, sizeof path, "/api/uploads/%s", u->up);
    if (srv_req(u->s, "GET", path, u->s->admin, NULL, NULL, 0, &r) != 200) {
        httpc_resp_dispose(&r);
        return NULL;
    }
    size_t off = (size_t)srv_json_int(r.body, "offset");
    httpc_resp_dispose(&r);
    unsigned seed = (unsigned)off;
    while (!atomic_load(&u->stop) && off < u->n) {
        size_t k = 2000 + (size_t)rand_r(&seed) % 20000;
        if (k > u->n - off) k = u->n - off;
        snprintf(path, sizeof path, "/api/uploads/%s?offset=%zu", u->up, off);
        int st =
            srv_req(u->s, "PUT", path, u->s->admin, "application/octet-stream", u->b + off, k, &r);
        httpc_resp_dispose(&r);
        if (st != 200) break;
        off += k;
        usleep(2000);
    }
    return NULL;
}

TEST(durable_concurrent_crash_loop_chunked_upload)
{
    size_t n;
    uint8_t *b = tu_read_file(tu_data("eventlogs/scale-1m.eventlog"), &n);
    REQUIRE(b);
    srv_t s;
    const char *flags = "--segment-size 100K --fsync-ms 100";
    srv_start(&s, NULL, flags);
    char data[512];
    snprintf(data, sizeof data, "%s", s.data);
    httpc_resp_t r;
    REQUIRE(srv_req(&s, "POST", "/api/uploads?name=crash", s.admin, NULL, NULL, 0, &r) == 201);
    char *up = srv_json_str(r.body, "id"), *sid = srv_json_str(r.body, "session");
    httpc_resp_dispose(&r);
    REQUIRE(up && sid);
    char upath[160], spath[160];
    snprintf(upath, sizeof upath, "/api/uploads/%s", up);
    snprintf(spath, sizeof spath, "/api/sessions/%s", sid);
    long long acked = 0;
    srand(20);
    for (int iter = 0; iter < 22; iter++) {
        uploader_t u = {.s = &s, .up = up, .b = b, .n = n};
        pthread_t th;
        pthread_create(&th, NULL, uploader_main, &u);
        usleep(20000 + (useconds_t)(rand() % 120000));
        if (rand() % 2) { /* an acknowledgement, then the crash a moment later */
            if (srv_req(&s, "GET", upath, s.admin, NULL, NULL, 0, &r) == 200) {
                long long off = srv_json_int(r.body, "offset");
                CHECKF(off >= acked, "iteration %d: offset went back from %lld to %lld", iter,
                       acked, off);
                if (off > acked) acked = off;
            }
            httpc_resp_dispose(&r);
            usleep((useconds_t)(rand() % 30000));
        }
        kill9(&s);
        atomic_store(&u.stop, true);
        pthread_join(th, NULL);
        srv_start(&s, data, flags);
        CHECKF(srv_req(&s, "GET", upath, s.admin, NULL, NULL, 0, &r) == 200,
               "iteration %d: the upload is gone", iter);
        long long off = srv_json_int(r.body, "offset");
        httpc_resp_dispose(&r);
        CHECKF(off >= acked && off <= (long long)n,
               "iteration %d: acknowledged %lld, after the restart %lld", iter, acked, off);
        if (off > acked) acked = off;
        CHECKF(srv_req(&s, "GET", spath, s.admin, NULL, NULL, 0, &r) == 200,
               "iteration %d: the session is missing", iter);
        httpc_resp_dispose(&r);
    }
    /* the remainder, then the exact totals */
    uploader_t u = {.s = &s, .up = up, .b = b, .n = n};
    uploader_main(&u);
    REQUIRE(srv_req(&s, "GET", upath, s.admin, NULL, NULL, 0, &r) == 200);
    CHECK(srv_json_int(r.body, "offset") == (long long)n);
    httpc_resp_dispose(&r);
    char fpath[200];
    snprintf(fpath, sizeof fpath, "%s/finish", upath);
    CHECK(srv_req(&s, "POST", fpath, s.admin, NULL, NULL, 0, &r) == 200);
    httpc_resp_dispose(&r);
    char *state = srv_wait_session(&s, sid, s.admin, 60);
    CHECKF(state && !strcmp(state, "done"), "state %s", state ? state : "(timeout)");
    free(state);
    CHECK(srv_totals_equal(&s, sid, "expected/scale-1m/default/scale-1m.totals.txt"));
    CHECK(srv_stop(&s) == 0);
    free(up);
    free(sid);
    free(b);
}

/* ---- damaged files ----------------------------------------------------------------------------
 */

/* The segment files of a session, sorted; returns their count. */
static int seg_files(const char *dir, char names[][64], int cap)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n < cap)
        if (!strncmp(e->d_name, "seg-", 4) && strlen(e->d_name) == 16)
            snprintf(names[n++], 64, "%s", e->d_name);
    if (d) closedir(d);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (strcmp(names[j], names[i]) < 0) {
                char t[64];
                memcpy(t, names[i], 64);
                memcpy(names[i], names[j], 64);
                memcpy(names[j], t, 64);
            }
    return n;
}

static void flip_byte(const char *path, long at)
{
    FILE *f = fopen(path, "r+b");
    REQUIRE(f);
    fseek(f, at, SEEK_SET);
    int c = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(c ^ 0x40, f);
    fclose(f);
}

TEST(durable_damaged_segments)
{
    srv_t s;
    srv_start(&s, NULL, "--segment-size 60K");
    size_t n;
    uint8_t *b = tu_read_file(tu_data("eventlogs/scale-1m.eventlog"), &n);
    REQUIRE(b);
    char *ids[4];
    for (int i = 0; i < 4; i++) {
        ids[i] = post_log(&s, b, n);
        REQUIRE(ids[i]);
        free(srv_wait_session(&s, ids[i], s.admin, 60));
    }
    char data[512];
    snprintf(data, sizeof data, "%s", s.data);
    CHECK(srv_stop(&s) == 0);
    char dir[4][700], names[64][64], path[900];
    int nf[4];
    for (int i = 0; i < 4; i++) {
        snprintf(dir[i], sizeof dir[i], "%s/sessions/%s", data, ids[i]);
        nf[i] = seg_files(dir[i], names, 64);
        REQUIRE(nf[i] >= 3);
        struct stat sb;
        if (i == 0) { /* a torn tail: the last segment cut in the middle of a record */
            snprintf(path, sizeof path, "%.699s/%.63s", dir[i], names[nf[i] - 1]);
            REQUIRE(stat(path, &sb) == 0);
            REQUIRE(truncate(path, sb.st_size / 2) == 0);
        } else if (i == 1) { /* a bit flip in a middle segment */
            snprintf(path, sizeof path, "%.699s/%.63s", dir[i], names[1]);
            REQUIRE(stat(path, &sb) == 0);
            flip_byte(path, sb.st_size / 3);
        } else if (i == 2) { /* a bit flip in the first file header */
            snprintf(path, sizeof path, "%.699s/%.63s", dir[i], names[0]);
            flip_byte(path, 20);
        } else { /* garbage appended to the last segment */
            snprintf(path, sizeof path, "%.699s/%.63s", dir[i], names[nf[i] - 1]);
            FILE *f = fopen(path, "ab");
            fwrite(b, 1, 1000, f);
            fclose(f);
        }
    }
    srv_start(&s, data, "--segment-size 60K");
    httpc_resp_t r;
    CHECK(srv_req(&s, "GET", "/api/sessions", s.admin, NULL, NULL, 0, &r) == 200);
    for (int i = 0; i < 4; i++)
        CHECKF(r.body && strstr(r.body, ids[i]), "session %d missing after recovery", i);
    httpc_resp_dispose(&r);
    /* the middle damage is quarantined, the tails repaired, and the log says so */
    nf[1] = seg_files(dir[1], names, 64);
    CHECK(nf[1] == 1);
    snprintf(path, sizeof path, "%s.log", data);
    size_t ln;
    char *log = (char *)tu_read_file(path, &ln);
    CHECK(log && strstr(log, "quarantined") && strstr(log, "truncated"));
    free(log);
    /* every session answers; the intact prefix of the torn ones is byte-identical */
    for (int i = 0; i < 4; i++) {
        char *state = srv_wait_session(&s, ids[i], s.admin, 2);
        free(state);
        snprintf(path, sizeof path, "/api/sessions/%s/eventlog", ids[i]);
        CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
        CHECKF(r.len <= n && !memcmp(r.body, b, r.len), "session %d: prefix differs", i);
        if (i == 3) CHECK(r.len == n); /* trailing garbage only: nothing lost */
        httpc_resp_dispose(&r);
        if (i == 3) {
            free(srv_wait_session(&s, ids[i], s.admin, 30));
            CHECK(srv_totals_equal(&s, ids[i], "expected/scale-1m/default/scale-1m.totals.txt"));
        }
        snprintf(path, sizeof path, "/api/sessions/%s/totals.txt", ids[i]);
        CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
        httpc_resp_dispose(&r);
        free(ids[i]);
    }
    CHECK(srv_stop(&s) == 0);
    free(b);
}

/* ---- replay ------------------------------------------------------------------------------------
 */

static char *replay(const srv_t *s, const char *id, const char *query)
{
    char path[256];
    snprintf(path, sizeof path, "/api/sessions/%s/replay?%s", id, query);
    httpc_resp_t r;
    int st = srv_req(s, "POST", path, s->admin, NULL, NULL, 0, &r);
    char *rid = st == 201 ? srv_json_str(r.body, "id") : NULL;
    CHECKF(rid, "replay %s answered %d: %s", query, st, r.body ? r.body : "");
    httpc_resp_dispose(&r);
    return rid;
}

typedef struct span {
    uint64_t first, hi;
    bool any;
} span_t;

static int span_event(void *ctx, const evlog_event_t *ev)
{
    span_t *sp = ctx;
    if (ev->type == EVLOG_BLOCK_MARKER) return 0;
    if (!sp->any) sp->first = ev->ts;
    sp->any = true;
    if (ev->ts > sp->hi) sp->hi = ev->ts;
    return 0;
}

/* The span of a log's event times in ns, from the first event in file order (the replay's time
 * zero, *first) to the latest. */
static uint64_t span_ns(const uint8_t *b, size_t n, uint64_t *first)
{
    span_t sp = {0, 0, false};
    evlog_t d;
    evlog_sink_t sink = {.on_event = span_event, .ctx = &sp};
    REQUIRE(evlog_init(&d, &sink) == 0);
    evlog_feed(&d, b, n);
    evlog_dispose(&d);
    if (first) *first = sp.first;
    return sp.hi > sp.first ? sp.hi - sp.first : 0;
}

/* Waits until the session is no longer ingesting; returns the seconds it took. */
static double wait_settled(const srv_t *s, const char *id, double t0)
{
    char *state = srv_wait_session(s, id, s->admin, 60);
    double t = now_s() - t0;
    CHECKF(state && !strcmp(state, "done"), "replay %s: %s", id, state ? state : "(timeout)");
    free(state);
    return t;
}

TEST(durable_replay_max_realtime_range)
{
    srv_t s;
    srv_start(&s, NULL, "");
    size_t n;
    uint8_t *b = tu_read_file(tu_data("eventlogs/scale-1m.eventlog"), &n);
    REQUIRE(b);
    char *id = post_log(&s, b, n);
    REQUIRE(id);
    free(srv_wait_session(&s, id, s.admin, 60));
    /* max speed: the same totals, the same bytes */
    char *rid = replay(&s, id, "speed=max");
    REQUIRE(rid);
    wait_settled(&s, rid, now_s());
    CHECK(srv_totals_equal(&s, rid, "expected/scale-1m/default/scale-1m.totals.txt"));
    char path[200];
    snprintf(path, sizeof path, "/api/sessions/%s/eventlog", rid);
    httpc_resp_t r;
    CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200 && r.len == n &&
          !memcmp(r.body, b, n));
    httpc_resp_dispose(&r);
    free(rid);
    /* paced: the bytes arrive over the log's own time divided by the speed, within 5% */
    uint64_t first, span = span_ns(b, n, &first);
    REQUIRE(span > 0);
    double speed = (double)span / 2e9; /* about 2 s */
    char q[64];
    snprintf(q, sizeof q, "speed=%.9f", speed);
    double t0 = now_s(), took = -1, half = -1;
    rid = replay(&s, id, q);
    REQUIRE(rid);
    snprintf(path, sizeof path, "/api/sessions/%s", rid);
    while (took < 0 && now_s() - t0 < 30) {
        if (srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200) {
            long long got = srv_json_int(r.body, "bytes_received");
            if (half < 0 && got > 0) half = now_s() - t0;
            if (got == (long long)n) took = now_s() - t0;
        }
        httpc_resp_dispose(&r);
        usleep(5000);
    }
    double want = (double)span / speed / 1e9;
    /* the 5% bound holds for the plain build; sanitizers slow the server's timer too much */
    if (!test_skip_slow())
        CHECKF(took >= want * 0.95 && took <= want * 1.05, "paced replay took %.3f s, want %.3f s",
               took, want);
    CHECKF(took >= want * 0.95, "paced replay took %.3f s, want %.3f s", took, want);
    CHECKF(half >= 0 && half < want * 0.9, "the first bytes came after %.3f s", half);
    wait_settled(&s, rid, t0);
    CHECK(srv_totals_equal(&s, rid, "expected/scale-1m/default/scale-1m.totals.txt"));
    free(rid);
    /* bad requests */
    snprintf(path, sizeof path, "/api/sessions/%s/replay?speed=fast", id);
    CHECK(srv_req(&s, "POST", path, s.admin, NULL, NULL, 0, &r) == 400);
    httpc_resp_dispose(&r);
    snprintf(path, sizeof path, "/api/sessions/%s/replay?speed=max&from=99999999999999999", id);
    CHECK(srv_req(&s, "POST", path, s.admin, NULL, NULL, 0, &r) == 400);
    httpc_resp_dispose(&r);
    /* the command line: offline totals, and streaming into the server */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s replay '%s/sessions/%s'", tu_liveprof(), s.data, id);
    uint8_t *out;
    size_t on;
    CHECK(tu_run(cmd, &out, &on) == 0);
    size_t wn;
    uint8_t *want_txt = tu_read_file(tu_data("expected/scale-1m/default/scale-1m.totals.txt"), &wn);
    CHECK(out && want_txt && on == wn && !memcmp(out, want_txt, wn));
    free(out);
    snprintf(cmd, sizeof cmd, "%s replay '%s/sessions/%s' --speed max --to %s --token %s",
             tu_liveprof(), s.data, id, s.url, s.admin);
    CHECK(tu_run(cmd, &out, &on) == 0);
    while (out && on && out[on - 1] == '\n')
        out[--on] = 0;
    if (out) {
        char *state = srv_wait_session(&s, (char *)out, s.admin, 60);
        CHECK(state && !strcmp(state, "done"));
        free(state);
        CHECK(srv_totals_equal(&s, (char *)out, "expected/scale-1m/default/scale-1m.totals.txt"));
    }
    free(out);
    free(want_txt);
    free(id);
    free(b);
    CHECK(srv_stop(&s) == 0);
}

/* A range replay: the index skips the segments before it; the new session starts with the saved
 * header and decodes. A 20 MB log, for segments of whole 2 MiB blocks. */
TEST(durable_replay_range_skips_segments)
{
    if (test_skip_slow()) return;
    srv_t s;
    srv_start(&s, NULL, "--segment-size 1M");
    size_t n;
    uint8_t *b = tu_read_file(tu_data("eventlogs/scale-20m.eventlog"), &n);
    REQUIRE(b);
    char *id = post_log(&s, b, n);
    REQUIRE(id);
    free(srv_wait_session(&s, id, s.admin, 120));
    uint64_t first, span = span_ns(b, n, &first);
    char q[96], path[200];
    snprintf(q, sizeof q, "speed=max&from=%llu", (unsigned long long)(first + span / 2));
    char *rid = replay(&s, id, q);
    REQUIRE(rid);
    char *state = srv_wait_session(&s, rid, s.admin, 120);
    CHECKF(state && !strcmp(state, "done"), "range replay: %s", state ? state : "(timeout)");
    free(state);
    snprintf(path, sizeof path, "/api/sessions/%s/eventlog", rid);
    httpc_resp_t r;
    CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
    CHECKF(r.len > 0 && r.len < n * 3 / 4, "range replay holds %zu of %zu bytes", r.len, n);
    CHECK(r.len > 4 && !memcmp(r.body, "hdrb", 4));
    /* its tail is the original's tail */
    size_t tail = r.len > 100000 ? 100000 : r.len;
    CHECK(!memcmp(r.body + r.len - tail, b + n - tail, tail));
    httpc_resp_dispose(&r);
    free(rid);
    free(id);
    free(b);
    CHECK(srv_stop(&s) == 0);
}

/* ---- retention ----------------------------------------------------------------------------------
 */

static uint64_t dir_bytes(const char *dir, char *first, size_t cap)
{
    char names[256][64];
    int n = seg_files(dir, names, 256);
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        char p[1000];
        struct stat sb;
        snprintf(p, sizeof p, "%.699s/%.63s", dir, names[i]);
        if (stat(p, &sb) == 0) total += (uint64_t)sb.st_size;
    }
    snprintf(first, cap, "%s", n ? names[0] : "");
    return total;
}

TEST(durable_retention_keeps_coarse_tiers)
{
    srv_t s;
    if (test_skip_slow()) return;
    const char *flags = "--segment-size 1M --retain-session 6M";
    srv_start(&s, NULL, flags);
    httpc_resp_t r;
    /* the settings over REST: admins only */
    CHECK(srv_req(&s, "GET", "/api/admin/retention", NULL, NULL, NULL, 0, &r) == 401);
    httpc_resp_dispose(&r);
    CHECK(srv_req(&s, "GET", "/api/admin/retention", s.admin, NULL, NULL, 0, &r) == 200);
    CHECK(srv_json_int(r.body, "session_max_bytes") == 6 << 20);
    httpc_resp_dispose(&r);
    const char *bad = "{\"session_max_bytes\":-1}";
    CHECK(srv_req(&s, "PUT", "/api/admin/retention", s.admin, "application/json", bad, strlen(bad),
                  &r) == 400);
    httpc_resp_dispose(&r);
    size_t n;
    uint8_t *b = tu_read_file(tu_data("eventlogs/scale-20m.eventlog"), &n);
    REQUIRE(b);
    char *id = post_log(&s, b, n);
    REQUIRE(id);
    free(srv_wait_session(&s, id, s.admin, 120));
    const char *totals = "expected/scale-20m/totals/scale-20m.totals.txt";
    char dir[700], first[64];
    snprintf(dir, sizeof dir, "%s/sessions/%s", s.data, id);
    uint64_t disk = 0;
    for (int i = 0; i < 100 && (disk = dir_bytes(dir, first, sizeof first)) > (9u << 20); i++)
        usleep(100000);
    CHECKF(disk <= (9u << 20), "retention left %llu bytes", (unsigned long long)disk);
    CHECKF(strcmp(first, "seg-00000000.lps") > 0, "the oldest segment %s is still there", first);
    CHECK(srv_totals_equal(&s, id, totals));
    char path[200];
    snprintf(path, sizeof path, "/api/sessions/%s/eventlog", id);
    CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 410);
    httpc_resp_dispose(&r);
    /* after a restart: totals and the coarse tiers from the snapshot */
    char data[512];
    snprintf(data, sizeof data, "%s", s.data);
    CHECK(srv_stop(&s) == 0);
    srv_start(&s, data, flags);
    char *state = srv_wait_session(&s, id, s.admin, 10);
    CHECK(state && !strcmp(state, "done"));
    free(state);
    CHECK(srv_totals_equal(&s, id, totals));
    snprintf(path, sizeof path, "/api/sessions/%s/aggregates?series=threads", id);
    CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
    CHECK(r.body && strstr(r.body, "\"coarse\":true") && strstr(r.body, "\"values\":[0."));
    httpc_resp_dispose(&r);
    /* an admin lifts the limit; it survives a restart */
    const char *none = "{\"session_max_bytes\":0,\"max_age_s\":86400}";
    CHECK(srv_req(&s, "PUT", "/api/admin/retention", s.admin, "application/json", none,
                  strlen(none), &r) == 200);
    httpc_resp_dispose(&r);
    CHECK(srv_stop(&s) == 0);
    srv_start(&s, data, flags);
    CHECK(srv_req(&s, "GET", "/api/admin/retention", s.admin, NULL, NULL, 0, &r) == 200);
    CHECK(srv_json_int(r.body, "session_max_bytes") == 0 &&
          srv_json_int(r.body, "max_age_s") == 86400);
    httpc_resp_dispose(&r);
    CHECK(srv_stop(&s) == 0);
    free(id);
    free(b);
}

/* A session's own limit, the coarse series kept and their age: a session with a byte limit
 * loses its oldest segments while another keeps all of its own; after a restart the first
 * answers from its snapshot for the kept series only, and every setting is still there. */
TEST(durable_retention_per_session_and_coarse_series)
{
    srv_t s;
    const char *flags = "--segment-size 256K --retain-coarse threads,labels "
                        "--retain-coarse-age 3600";
    srv_start(&s, NULL, flags);
    httpc_resp_t r;
    CHECK(srv_req(&s, "GET", "/api/admin/retention", s.admin, NULL, NULL, 0, &r) == 200);
    CHECKF(r.body && strstr(r.body, "\"coarse_series\":[\"labels\",\"threads\"]") &&
               srv_json_int(r.body, "coarse_keep_s") == 3600,
           "%s", r.body ? r.body : "");
    httpc_resp_dispose(&r);
    const char *bad_series = "{\"coarse_series\":[\"threads\",\"nope\"]}";
    CHECK(srv_req(&s, "PUT", "/api/admin/retention", s.admin, "application/json", bad_series,
                  strlen(bad_series), &r) == 400);
    httpc_resp_dispose(&r);
    size_t n;
    uint8_t *b = tu_read_file(tu_data("eventlogs/scale-1m.eventlog"), &n);
    REQUIRE(b);
    char *ids[2];
    for (int i = 0; i < 2; i++) {
        ids[i] = post_log(&s, b, n);
        REQUIRE(ids[i]);
        free(srv_wait_session(&s, ids[i], s.admin, 60));
    }
    char path[200];
    snprintf(path, sizeof path, "/api/sessions/%s/retention", ids[0]);
    CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
    CHECKF(r.body && strstr(r.body, "\"max_bytes\":null"), "%s", r.body ? r.body : "");
    httpc_resp_dispose(&r);
    static const char *const bad[] = {"{\"max_bytes\":-1}", "{\"max_bytes\":\"1\"}",
                                      "{\"max_size\":1}", "[1]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECKF(srv_req(&s, "PUT", path, s.admin, "application/json", bad[i], strlen(bad[i]), &r) ==
                   400,
               "%s", bad[i]);
        httpc_resp_dispose(&r);
    }
    const char *limit = "{\"max_bytes\":300000}";
    CHECK(srv_req(&s, "PUT", path, s.admin, "application/json", limit, strlen(limit), &r) == 200);
    CHECKF(r.body && strstr(r.body, "\"effective\":{\"max_age_s\":0,\"max_bytes\":300000"), "%s",
           r.body ? r.body : "");
    httpc_resp_dispose(&r);
    char dir[2][700], first[2][64];
    for (int i = 0; i < 2; i++)
        snprintf(dir[i], sizeof dir[i], "%s/sessions/%s", s.data, ids[i]);
    uint64_t disk = 0;
    for (int i = 0; i < 100 && (disk = dir_bytes(dir[0], first[0], sizeof first[0])) > 600000; i++)
        usleep(100000);
    CHECKF(disk <= 600000, "the limited session keeps %llu bytes", (unsigned long long)disk);
    CHECKF(strcmp(first[0], "seg-00000000.lps") > 0, "its oldest segment %s is there", first[0]);
    dir_bytes(dir[1], first[1], sizeof first[1]);
    CHECKF(!strcmp(first[1], "seg-00000000.lps"), "the other session lost %s", first[1]);
    const char *totals = "expected/scale-1m/default/scale-1m.totals.txt";
    char data[512];
    snprintf(data, sizeof data, "%s", s.data);
    CHECK(srv_stop(&s) == 0);
    srv_start(&s, data, "--segment-size 256K");
    for (int i = 0; i < 2; i++) {
        char *state = srv_wait_session(&s, ids[i], s.admin, 30);
        CHECK(state && !strcmp(state, "done"));
        free(state);
        CHECK(srv_totals_equal(&s, ids[i], totals));
    }
    /* the restored session: the kept series, cut to their age; not the others */
    snprintf(path, sizeof path, "/api/sessions/%s/aggregates?series=threads", ids[0]);
    CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
    CHECK(r.body && strstr(r.body, "\"coarse\":true"));
    httpc_resp_dispose(&r);
    snprintf(path, sizeof path, "/api/sessions/%s/aggregates?series=gc", ids[0]);
    CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 410);
    CHECK(r.body && strstr(r.body, "not_kept"));
    httpc_resp_dispose(&r);
    snprintf(path, sizeof path, "/api/sessions/%s/aggregates?series=gc", ids[1]);
    CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
    httpc_resp_dispose(&r);
    /* the settings outlive the restart; null hands a session back to the global limits */
    snprintf(path, sizeof path, "/api/sessions/%s/retention", ids[0]);
    CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
    CHECK(r.body && srv_json_int(r.body, "max_bytes") == 300000);
    httpc_resp_dispose(&r);
    const char *unset = "{\"max_bytes\":null}";
    CHECK(srv_req(&s, "PUT", path, s.admin, "application/json", unset, strlen(unset), &r) == 200);
    CHECKF(r.body && strstr(r.body, "\"max_bytes\":null"), "%s", r.body ? r.body : "");
    httpc_resp_dispose(&r);
    CHECK(srv_req(&s, "GET", "/api/admin/retention", s.admin, NULL, NULL, 0, &r) == 200);
    CHECK(r.body && strstr(r.body, "\"coarse_series\":[\"labels\",\"threads\"]"));
    httpc_resp_dispose(&r);
    CHECK(srv_stop(&s) == 0);
    for (int i = 0; i < 2; i++)
        free(ids[i]);
    free(b);
}

/* A log of one thread running in short slices for 20 minutes, about 1.3 MB. */
static uint8_t *long_span_log(size_t *len)
{
    evwrite_t w;
    evwrite_init(&w);
    evwrite_header(&w, NULL, 0);
    uint64_t ts = 1000000;
    evwrite_block_begin(&w, 0, ts);
    evwrite_thread(&w, EVLOG_CREATE_THREAD, ts, 1);
    for (int i = 0; i < 40000; i++) {
        if (i % 1000 == 999) {
            evwrite_block_end(&w, ts);
            evwrite_block_begin(&w, 0, ts);
        }
        evwrite_thread(&w, EVLOG_RUN_THREAD, ts, 1);
        evwrite_stop_thread(&w, ts + 10000000, 1, 2, 0);
        ts += 30000000; /* 30 ms */
    }
    evwrite_block_end(&w, ts);
    evwrite_end(&w);
    uint8_t *b = evwrite_take(&w, len);
    evwrite_dispose(&w);
    return b;
}

/* --retain-coarse-age: a restored session's coarse bins cover only that much of the end. */
TEST(durable_retention_coarse_age)
{
    srv_t s;
    srv_start(&s, NULL, "--segment-size 256K --retain-coarse threads --retain-coarse-age 120");
    size_t n;
    uint8_t *b = long_span_log(&n);
    char *id = post_log(&s, b, n);
    REQUIRE(id);
    free(srv_wait_session(&s, id, s.admin, 60));
    httpc_resp_t r;
    char path[200];
    snprintf(path, sizeof path, "/api/sessions/%s/aggregates?series=threads", id);
    CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
    long long all_s =
        r.body ? (srv_json_int(r.body, "to_ns") - srv_json_int(r.body, "from_ns")) / 1000000000 : 0;
    httpc_resp_dispose(&r);
    snprintf(path, sizeof path, "/api/sessions/%s/retention", id);
    const char *limit = "{\"max_bytes\":300000}";
    CHECK(srv_req(&s, "PUT", path, s.admin, "application/json", limit, strlen(limit), &r) == 200);
    httpc_resp_dispose(&r);
    char dir[700], first[64];
    snprintf(dir, sizeof dir, "%s/sessions/%s", s.data, id);
    for (int i = 0; i < 100 && dir_bytes(dir, first, sizeof first) > 600000; i++)
        usleep(100000);
    char data[512];
    snprintf(data, sizeof data, "%s", s.data);
    CHECK(srv_stop(&s) == 0);
    srv_start(&s, data, "");
    free(srv_wait_session(&s, id, s.admin, 30));
    snprintf(path, sizeof path, "/api/sessions/%s/aggregates?series=threads", id);
    CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
    CHECKF(r.body && strstr(r.body, "\"coarse\":true"), "%s", r.body ? r.body : "");
    /* 120 s of bins of 65.536 s: two of them */
    long long kept_s =
        r.body ? (srv_json_int(r.body, "to_ns") - srv_json_int(r.body, "from_ns")) / 1000000000 : 0;
    CHECKF(all_s >= 1100 && kept_s >= 120 && kept_s <= 197, "%lld s in all, %lld s kept: %.300s",
           all_s, kept_s, r.body ? r.body : "");
    httpc_resp_dispose(&r);
    CHECK(srv_stop(&s) == 0);
    free(id);
    free(b);
}
