/* Uploads faster than the server: chunks past the segment writer's soft bound are held
 * unanswered (never refused with 503) and go on when it has room, and a live pass the bytes
 * outrun (32 MiB ahead, or 4 MiB coming twice as fast) waits for the exact pass, catching up when
 * they pause; every session comes out exact. */
#include "test.h"

#include "evwrite.h"
#include "srvutil.h"
#include "wsclient.h"
#include "wsmsg.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UPLOADS 4

typedef struct upjob {
    const srv_t *s;
    const char *file;
    char err[512]; /* the upload command's stderr file */
    char id[64];
    int status;
} upjob_t;

static void *upload_main(void *arg)
{
    upjob_t *j = arg;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' upload '%s' --server %s --token %s --chunk 8M --wait 2>'%s'",
             tu_liveprof(), j->file, j->s->url, j->s->admin, j->err);
    uint8_t *out = NULL;
    size_t len = 0;
    j->status = tu_run(cmd, &out, &len);
    /* the session id is the last line */
    while (len && (out[len - 1] == '\n' || out[len - 1] == '\r'))
        len--;
    size_t b = len;
    while (b && out[b - 1] != '\n')
        b--;
    snprintf(j->id, sizeof j->id, "%.*s", (int)(len - b), out ? (char *)out + b : "");
    free(out);
    return NULL;
}

TEST(upload_chunks_held_not_refused)
{
    if (test_skip_slow()) return;
    size_t len;
    uint8_t *log = tu_read_file(tu_data("eventlogs/scale-20m.eventlog"), &len);
    REQUIRE(log != NULL);
    char file[512];
    snprintf(file, sizeof file, "%s/scale-20m.eventlog", tu_tmpdir());
    FILE *f = fopen(file, "wb");
    REQUIRE(f && fwrite(log, 1, len, f) == len);
    fclose(f);
    free(log);
    srv_t s;
    srv_start(&s, NULL, "--write-queue 1M"); /* any chunk that comes while one is queued waits */
    upjob_t jobs[UPLOADS];
    pthread_t th[UPLOADS];
    for (int i = 0; i < UPLOADS; i++) {
        jobs[i] = (upjob_t){.s = &s, .file = file};
        snprintf(jobs[i].err, sizeof jobs[i].err, "%s/upload-%d.err", tu_tmpdir(), i);
        REQUIRE(pthread_create(&th[i], NULL, upload_main, &jobs[i]) == 0);
    }
    for (int i = 0; i < UPLOADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < UPLOADS; i++) {
        CHECKF(jobs[i].status == 0, "upload %d exited %d", i, jobs[i].status);
        size_t n;
        char *err = (char *)tu_read_file(jobs[i].err, &n);
        CHECKF(!err || !strstr(err, "retrying"), "upload %d retried: %s", i, err);
        free(err);
        CHECKF(srv_totals_equal(&s, jobs[i].id, "expected/scale-20m/totals/scale-20m.totals.txt"),
               "upload %d (session '%s'): totals.txt differs", i, jobs[i].id);
    }
    httpc_resp_t r;
    REQUIRE(srv_req(&s, "GET", "/metrics", s.admin, NULL, NULL, 0, &r) == 200);
    const char *m = strstr((const char *)r.body, "\nliveprof_upload_chunks_held_total ");
    long long held = m ? atoll(m + 35) : -1;
    /* four uploads of 8 MiB chunks at once: some arrive while another is still queued */
    CHECKF(held > 0, "chunks held: %lld", held);
    httpc_resp_dispose(&r);
    CHECK(srv_stop(&s) == 0);
}

/* About `mib` MiB of two capabilities running 1000 threads in 5 us slices. */
static uint8_t *busy_log(size_t mib, size_t *len)
{
    evwrite_t w;
    evwrite_init(&w);
    evwrite_header(&w, NULL, 0);
    uint64_t ts[2] = {1000, 1000};
    for (uint16_t cap = 0; cap < 2; cap++) {
        evwrite_block_begin(&w, cap, ts[cap]);
        for (uint32_t t = 0; t < 500; t++)
            evwrite_thread(&w, EVLOG_CREATE_THREAD, ts[cap], 1 + 2 * t + cap);
        evwrite_block_end(&w, ts[cap]);
    }
    for (uint32_t i = 0; evwrite_bytes(&w) < ((uint64_t)mib << 20); i++) {
        uint16_t cap = (uint16_t)(i / 1000 % 2);
        evwrite_block_begin(&w, cap, ts[cap]);
        for (uint32_t j = 0; j < 1000; j++) {
            uint32_t tid = 1 + 2 * ((i * 7 + j) % 500) + cap;
            evwrite_thread(&w, EVLOG_RUN_THREAD, ts[cap], tid);
            evwrite_stop_thread(&w, ts[cap] + 5000, tid, 2, 0);
            ts[cap] += 6000;
        }
        evwrite_block_end(&w, ts[cap]);
    }
    evwrite_end(&w);
    uint8_t *b = evwrite_take(&w, len);
    evwrite_dispose(&w);
    return b;
}

/* PUT bytes [off, off + len) of the log to upload `up`; returns the status. */
static int put_chunk(const srv_t *s, const char *up, const uint8_t *log, size_t off, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "/api/uploads/%s?offset=%zu", up, off);
    httpc_resp_t r;
    int st = srv_req(s, "PUT", path, s->admin, "application/octet-stream", log + off, len, &r);
    httpc_resp_dispose(&r);
    return st;
}

static long long live_waits(const srv_t *s)
{
    httpc_resp_t r;
    long long n = -1;
    if (srv_req(s, "GET", "/metrics", s->admin, NULL, NULL, 0, &r) == 200) {
        static const char key[] = "\nliveprof_live_waits_total ";
        const char *m = strstr((const char *)r.body, key);
        n = m ? atoll(m + sizeof key - 1) : -1;
    }
    httpc_resp_dispose(&r);
    return n;
}

/* Uploads a log of `mib` MiB: its first `head` bytes at once in chunks of `chunk`, then a trickle
 * until the live pass has waited (counted in /metrics), a pause in which it catches up with every
 * byte, then the rest; the finished session's totals equal those of the same log stored whole. */
static void outrun_and_catch_up(size_t mib, size_t head, size_t chunk)
{
    size_t n;
    uint8_t *log = busy_log(mib, &n);
    REQUIRE(log != NULL && n > head + (1u << 20));
    srv_t s;
    srv_start(&s, NULL, "");
    CHECK(live_waits(&s) == 0);
    httpc_resp_t r;
    REQUIRE(srv_req(&s, "POST", "/api/uploads?name=w", s.admin, NULL, NULL, 0, &r) == 201);
    char *up = srv_json_str(r.body, "id"), *sid = srv_json_str(r.body, "session");
    httpc_resp_dispose(&r);
    REQUIRE(up && sid);
    size_t sent = 0;
    char path[256];
    while (sent < head) {
        size_t k = head - sent < chunk ? head - sent : chunk;
        REQUIRE(put_chunk(&s, up, log, sent, k) == 200);
        sent += k;
    }
    /* bytes keep coming, a trickle now, until the worker has seen how far behind its live
     * pass is (at nice 10 it may not get a core while the upload takes both) */
    long long waits = live_waits(&s);
    for (int i = 0; i < 64 && waits < 1; i++) {
        usleep(20000);
        REQUIRE(put_chunk(&s, up, log, sent, 64u << 10) == 200);
        sent += 64u << 10;
        waits = live_waits(&s);
    }
    CHECKF(waits >= 1, "the live pass never waited: %lld", waits);
    /* the bytes pause: the live pass takes every one of them */
    snprintf(path, sizeof path, "/api/sessions/%s", sid);
    long long ingested = -1;
    for (int i = 0; i < 600 && ingested != (long long)sent; i++) {
        if (i) usleep(100000);
        REQUIRE(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
        ingested = srv_json_int(r.body, "bytes_ingested");
        httpc_resp_dispose(&r);
    }
    CHECKF(ingested == (long long)sent, "the live pass took %lld of %zu bytes", ingested, sent);
    REQUIRE(put_chunk(&s, up, log, sent, n - sent) == 200);
    snprintf(path, sizeof path, "/api/uploads/%s/finish", up);
    REQUIRE(srv_req(&s, "POST", path, s.admin, NULL, NULL, 0, &r) == 200);
    httpc_resp_dispose(&r);
    REQUIRE(srv_req(&s, "POST", "/api/sessions?name=whole", s.admin, "application/octet-stream",
                    log, n, &r) == 201);
    char *whole = srv_json_str(r.body, "id");
    httpc_resp_dispose(&r);
    REQUIRE(whole);
    char *st[2] = {srv_wait_session(&s, sid, s.admin, 120),
                   srv_wait_session(&s, whole, s.admin, 120)};
    CHECKF(st[0] && st[1] && !strcmp(st[0], "done") && !strcmp(st[1], "done"), "states %s, %s",
           st[0] ? st[0] : "?", st[1] ? st[1] : "?");
    httpc_resp_t t[2];
    snprintf(path, sizeof path, "/api/sessions/%s/totals.txt", sid);
    REQUIRE(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &t[0]) == 200);
    snprintf(path, sizeof path, "/api/sessions/%s/totals.txt", whole);
    REQUIRE(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &t[1]) == 200);
    CHECK(t[0].len > 0 && t[0].len == t[1].len && !memcmp(t[0].body, t[1].body, t[0].len));
    httpc_resp_dispose(&t[0]);
    httpc_resp_dispose(&t[1]);
    CHECK(srv_stop(&s) == 0);
    for (int i = 0; i < 2; i++)
        free(st[i]);
    free(whole);
    free(up);
    free(sid);
    free(log);
}

/* An upload that outruns its live pass by more than 32 MiB, in 8 MiB chunks. */
TEST(upload_live_pass_waits_and_catches_up)
{
    if (test_skip_slow()) return;
    outrun_and_catch_up(80, (80u - 8u) << 20, 8u << 20);
}

/* An upload from this machine, in the command line's 2 MiB chunks, that never gets 32 MiB ahead
 * (20 MiB, then a trickle): its bytes come more than twice as fast as the pass goes, so the pass
 * waits once 4 MiB behind. */
TEST(upload_live_pass_waits_for_a_fast_upload)
{
    outrun_and_catch_up(28, 20u << 20, 2u << 20);
}

/* Takes the WebSocket messages that have come; for each State, its state into st and its bytes
 * into *bytes, counting in *between those that show a session still ingesting part way to `n`. */
static void ws_states(wsc_t *c, char st[16], long long *bytes, long long n, long long *between)
{
    uint8_t *msg;
    size_t len;
    int op;
    while (wsc_recv(c, &msg, &len, &op, 0) > 0) {
        static uint8_t arena[1u << 20];
        wsmsg_t m;
        if (op == 2 && wsmsg_decode(msg, len, &m, arena, sizeof arena) == 0 &&
            m.type == WSMSG_STATE) {
            snprintf(st, 16, "%s", m.u.state.state.p);
            *bytes = (long long)m.u.state.bytes_ingested;
            if (!strcmp(st, "ingesting") && *bytes > 0 && *bytes < n) ++*between;
        }
        free(msg);
    }
}

/* A log sent whole settles with no live pass before it: its bytes_ingested counts what the
 * exact pass has analysed, so it rises from 0 to the log's size while the session settles, and
 * never goes back; a browser following the session sees it rise too (WebSocket State). */
TEST(upload_settle_progress_rises)
{
    if (test_skip_slow()) return;
    size_t n;
    uint8_t *log = busy_log(64, &n);
    REQUIRE(log != NULL);
    srv_t s;
    srv_start(&s, NULL, "--fsync-ms 0"); /* every byte durable at once: only the analysis counts */
    httpc_resp_t r;
    REQUIRE(srv_req(&s, "POST", "/api/sessions?name=p", s.admin, "application/octet-stream", log, n,
                    &r) == 201);
    char *id = srv_json_str(r.body, "id");
    httpc_resp_dispose(&r);
    REQUIRE(id);
    char path[256];
    snprintf(path, sizeof path, "/ws?session=%s&token=%s", id, s.admin);
    wsc_t c;
    REQUIRE(wsc_connect(&c, s.ws_port, path, 0) == 0);
    char ws_st[16] = "";
    long long ws_bytes = 0, ws_between = 0;
    snprintf(path, sizeof path, "/api/sessions/%s", id);
    long long last = 0, between = 0, done = -1;
    long long last_ev = 0, ev_first = 0, ev_done = -1; /* the same of `events` */
    bool back = false;
    for (int i = 0; i < 60000 && done < 0; i++) {
        REQUIRE(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
        char *st = srv_json_str(r.body, "state");
        long long b = srv_json_int(r.body, "bytes_ingested");
        long long ev = srv_json_int(r.body, "events");
        httpc_resp_dispose(&r);
        back |= b < last || ev < last_ev;
        last = b;
        last_ev = ev;
        if (st && !strcmp(st, "done")) {
            done = b;
            ev_done = ev;
        } else if (b > 0 && b < (long long)n) {
            between++;
            if (ev_first == 0) ev_first = ev; /* the first that counted any */
        }
        CHECKF(st && (!strcmp(st, "ingesting") || !strcmp(st, "done")), "state %s", st ? st : "?");
        free(st);
        ws_states(&c, ws_st, &ws_bytes, (long long)n, &ws_between);
        usleep(1000);
    }
    CHECKF(done == (long long)n, "bytes_ingested %lld of %zu when done", done, n);
    CHECK(!back);
    CHECKF(between > 0, "no answer showed the settling pass part way");
    CHECKF(ev_first > 0 && ev_first < ev_done, "events: %lld part way, %lld when done", ev_first,
           ev_done);
    for (int i = 0; i < 1000 && strcmp(ws_st, "done"); i++) {
        usleep(10000);
        ws_states(&c, ws_st, &ws_bytes, (long long)n, &ws_between);
    }
    CHECKF(!strcmp(ws_st, "done") && ws_bytes == (long long)n, "WebSocket State %s, %lld bytes",
           ws_st, ws_bytes);
    CHECKF(ws_between > 0, "no WebSocket State showed the settling pass part way");
    wsc_close(&c);
    CHECK(srv_stop(&s) == 0);
    free(id);
    free(log);
}
