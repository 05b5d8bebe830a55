/* Resuming finished sessions from their snapshots (the real server): after a restart every REST
 * answer about a settled session is byte-identical to the one before, and /metrics shows it was
 * resumed from its snapshot with no raw byte analysed again; a damaged or cut snapshot falls back
 * to the analysis of the raw segments, with the same answers. */
#include "test.h"

#include "segment.h"
#include "srvutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Logs whose whole aggregate state is small enough to be kept (server/session_snap.c: on disk,
 * compressed, at most 256 KiB or half the raw bytes): every kind of series among them. */
static const char *const logs[] = {
    "eventlogs/fib-labels.eventlog",     "eventlogs/concurrent.eventlog",
    "eventlogs/sparks.eventlog",         "eventlogs/heap.eventlog",
    "eventlogs/heap-nonmoving.eventlog", "eventlogs/scale-1m.eventlog",
};
#define NLOGS (sizeof logs / sizeof logs[0])

/* Every GET under /api/sessions/{id}/ with the query variants the web client uses. */
static const char *const queries[] = {
    "",
    "/totals",
    "/totals.txt",
    "/eventlog",
    "/aggregates?series=labels",
    "/aggregates?series=threads&bins=2000",
    "/aggregates?series=caps&bins=37",
    "/aggregates?series=gc&bins=500",
    "/aggregates?series=heap&bins=100",
    "/aggregates?series=heapprof&bins=100",
    "/aggregates?series=sparks&bins=100",
    "/aggregates?series=labels&from=1000000&to=90000000&bins=300",
    "/aggregates?series=threads&from=5000000&to=6000000&bins=10",
    "/diagram.svg",
    "/diagram.svg?kind=caps&width=700",
    "/diagram.svg?kind=gc",
    "/diagram.svg?kind=heap",
    "/diagram.svg?kind=heapprof",
    "/diagram.svg?kind=sparks",
    "/diagram.svg?kind=grid&from=2000000&to=40000000&width=400",
};
#define NQ (sizeof queries / sizeof queries[0])

typedef struct answer {
    int status;
    char *body;
    size_t len;
} answer_t;

static char *post_log(const srv_t *s, const char *log)
{
    size_t n;
    uint8_t *b = tu_read_file(tu_data(log), &n);
    if (!b) return NULL;
    httpc_resp_t r;
    int st =
        srv_req(s, "POST", "/api/sessions?name=r", s->admin, "application/octet-stream", b, n, &r);
    char *id = st == 201 ? srv_json_str(r.body, "id") : NULL;
    httpc_resp_dispose(&r);
    free(b);
    return id;
}

static void collect(const srv_t *s, const char *id, answer_t *out)
{
    for (size_t q = 0; q < NQ; q++) {
        char path[256];
        snprintf(path, sizeof path, "/api/sessions/%s%s", id, queries[q]);
        httpc_resp_t r;
        out[q].status = srv_req(s, "GET", path, s->admin, NULL, NULL, 0, &r);
        out[q].len = r.len;
        out[q].body = malloc(r.len + 1);
        if (r.len) memcpy(out[q].body, r.body, r.len);
        out[q].body[r.len] = 0;
        httpc_resp_dispose(&r);
    }
}

static void same_answers(const char *what, const answer_t *a, const answer_t *b)
{
    for (size_t q = 0; q < NQ; q++) {
        CHECKF(a[q].status == 200, "%s %s: status %d before", what, queries[q], a[q].status);
        CHECKF(a[q].status == b[q].status && a[q].len == b[q].len &&
                   !memcmp(a[q].body, b[q].body, a[q].len),
               "%s %s: the answer differs after the restart (%zu vs %zu bytes)", what, queries[q],
               a[q].len, b[q].len);
    }
}

static void free_answers(answer_t *a)
{
    for (size_t q = 0; q < NQ; q++)
        free(a[q].body);
}

/* A counter of /metrics (the first line starting with `name`), or -1. */
static long long metric(const srv_t *s, const char *name)
{
    httpc_resp_t r;
    long long v = -1;
    if (srv_req(s, "GET", "/metrics", s->admin, NULL, NULL, 0, &r) == 200 && r.body) {
        const char *p = r.body;
        size_t n = strlen(name);
        while ((p = strstr(p, name))) {
            if ((p == r.body || p[-1] == '\n') && p[n] == ' ') {
                v = atoll(p + n + 1);
                break;
            }
            p += n;
        }
    }
    httpc_resp_dispose(&r);
    return v;
}

#define RESUMED "liveprof_sessions_restored_total{how=\"snapshot\"}"
#define ANALYSED "liveprof_sessions_restored_total{how=\"analysis\"}"

/* Waits (at most 10 s) until every byte of the session is durable (the next group commit), so
 * that its row says what a restart finds. */
static void wait_durable(const srv_t *s, const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/api/sessions/%s", id);
    for (int tries = 0; tries < 200; tries++) {
        httpc_resp_t r;
        bool done =
            srv_req(s, "GET", path, s->admin, NULL, NULL, 0, &r) == 200 &&
            srv_json_int(r.body, "bytes_durable") == srv_json_int(r.body, "bytes_received") &&
            srv_json_int(r.body, "bytes_ingested") == srv_json_int(r.body, "bytes_received");
        httpc_resp_dispose(&r);
        if (done) return;
        usleep(50000);
    }
}

/* Checks that sessions ids[0..n) answer as they did before; with `last`, frees those answers
 * and the ids. */
static void check_same(const srv_t *s, size_t n, char **ids, answer_t (*before)[NQ], bool last)
{
    static answer_t after[NQ];
    for (size_t i = 0; i < n; i++) {
        collect(s, ids[i], after);
        same_answers(logs[i], before[i], after);
        free_answers(after);
        if (last) {
            free_answers(before[i]);
            free(ids[i]);
        }
    }
}

/* Ingests logs[0..n), waits for them to settle and records every answer. */
static void ingest(srv_t *s, size_t n, char **ids, answer_t (*before)[NQ])
{
    for (size_t i = 0; i < n; i++) {
        ids[i] = post_log(s, logs[i]);
        REQUIRE(ids[i]);
    }
    for (size_t i = 0; i < n; i++) {
        char *st = srv_wait_session(s, ids[i], s->admin, 120);
        CHECKF(st && !strcmp(st, "done"), "%s: %s", logs[i], st ? st : "(missing)");
        free(st);
        wait_durable(s, ids[i]);
        collect(s, ids[i], before[i]);
    }
}

TEST(resume_finished_sessions_from_snapshot)
{
    srv_t s;
    srv_start(&s, NULL, "--segment-size 300K");
    char *ids[NLOGS];
    static answer_t before[NLOGS][NQ];
    ingest(&s, NLOGS, ids, before);
    char data[512];
    snprintf(data, sizeof data, "%s", s.data);
    CHECK(srv_stop(&s) == 0);
    srv_start(&s, data, "--segment-size 300K");
    /* resumed at start: every session answers at once, settled, from its snapshot alone */
    CHECK(metric(&s, RESUMED) == (long long)NLOGS);
    CHECK(metric(&s, ANALYSED) == 0);
    CHECK(metric(&s, "liveprof_restore_reanalysed_bytes") == 0);
    check_same(&s, NLOGS, ids, before, false);
    /* and again: a resumed session's snapshot stays the one it was resumed from */
    CHECK(srv_stop(&s) == 0);
    srv_start(&s, data, "--segment-size 300K");
    CHECK(metric(&s, RESUMED) == (long long)NLOGS);
    check_same(&s, NLOGS, ids, before, true);
    CHECK(srv_stop(&s) == 0);
}

/* The newest segment file of a session directory (its last), in buf. */
static bool last_segment(const char *dir, char *buf, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d) return false;
    char best[64] = "";
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, "seg-", 4) && strlen(e->d_name) == 16 &&
            strcmp(e->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", e->d_name);
    closedir(d);
    snprintf(buf, cap, "%s/%s", dir, best);
    return best[0] != 0;
}

/* The file offset of the snapshot record of segment `path` and its payload length. */
static bool find_snapshot(const char *path, long *at, uint32_t *len)
{
    size_t n;
    uint8_t *b = tu_read_file(path, &n);
    if (!b) return false;
    bool found = false;
    for (size_t off = SEG_FILE_HDR; off + SEG_REC_HDR <= n;) {
        uint32_t l = seg_get32(b + off + 8);
        if (b[off + 4] == SEG_REC_SNAPSHOT) {
            *at = (long)off;
            *len = l;
            found = true;
        }
        if (b[off + 4] == SEG_REC_INDEX) break;
        off += SEG_REC_HDR + l;
    }
    free(b);
    return found;
}

TEST(resume_damaged_snapshot_falls_back_to_analysis)
{
    srv_t s;
    srv_start(&s, NULL, "--segment-size 300K");
    enum { N = 2 };
    char *ids[N];
    static answer_t before[N][NQ];
    ingest(&s, N, ids, before);
    char data[512];
    snprintf(data, sizeof data, "%s", s.data);
    CHECK(srv_stop(&s) == 0);
    for (int i = 0; i < N; i++) {
        char dir[700], path[800];
        snprintf(dir, sizeof dir, "%s/sessions/%s", data, ids[i]);
        REQUIRE(last_segment(dir, path, sizeof path));
        long at;
        uint32_t len;
        REQUIRE(find_snapshot(path, &at, &len));
        if (i == 0) { /* a bit flip inside the snapshot's payload: its checksum fails */
            FILE *f = fopen(path, "r+b");
            REQUIRE(f);
            fseek(f, at + SEG_REC_HDR + len / 2, SEEK_SET);
            int c = fgetc(f);
            fseek(f, at + SEG_REC_HDR + len / 2, SEEK_SET);
            fputc(c ^ 0x10, f);
            fclose(f);
        } else { /* cut in the middle of the snapshot (a crash while it was written) */
            REQUIRE(truncate(path, at + SEG_REC_HDR + len / 2) == 0);
        }
    }
    srv_start(&s, data, "--segment-size 300K");
    for (int i = 0; i < N; i++) {
        char *st = srv_wait_session(&s, ids[i], s.admin, 120);
        free(st);
    }
    CHECK(metric(&s, RESUMED) == 0);
    CHECK(metric(&s, ANALYSED) == N);
    CHECK(metric(&s, "liveprof_restore_reanalysed_bytes") > 0);
    check_same(&s, N, ids, before, false);
    /* the analysis wrote a new snapshot: the next start resumes from it */
    CHECK(srv_stop(&s) == 0);
    srv_start(&s, data, "--segment-size 300K");
    CHECK(metric(&s, RESUMED) == N);
    check_same(&s, N, ids, before, true);
    CHECK(srv_stop(&s) == 0);
}
