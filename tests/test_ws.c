/* End-to-end tests of the WebSocket server (server/ws.c) with a real client (tests/wsclient.c)
 * against the real `liveprof serve`: snapshots and deltas of a session uploaded in chunks,
 * applied by tests/svgapply.c, end equal to the server's /diagram.svg of the same range;
 * resuming with the last seq; tokens and private sessions; malformed client messages and their
 * close codes; slow readers that must not hold up ingestion. */
#include "test.h"

#include "evwrite.h"
#include "srvutil.h"
#include "svgapply.h"
#include "wsclient.h"
#include "wsmsg.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const kinds[6] = {"grid", "caps", "gc", "heap", "heapprof", "sparks"};

typedef struct viewer {
    wsc_t c;
    svgapply_t doc[6];
    bool have[6];
    uint64_t to[6], seq;
    char state[16];
    int snapshots, deltas, states, errors;
    unsigned error_code;
    size_t max_len;         /* of the messages received */
    uint64_t log_seq[4096]; /* the seq of each Snapshot and Delta, in order */
    int log_type[4096], nlog;
} viewer_t;

static void log_msg(viewer_t *v, uint64_t seq, int type)
{
    REQUIRE(v->nlog < 4096);
    v->log_seq[v->nlog] = seq;
    v->log_type[v->nlog++] = type;
}

static int kind_of(wsmsg_str_t s)
{
    for (int k = 0; k < 6; k++)
        if (!strcmp(s.p, kinds[k])) return k;
    return -1;
}

/* Connects; token may be NULL. Returns the wsc_connect result. */
static int viewer_open(viewer_t *v, const srv_t *s, const char *sid, const char *token, int rcvbuf)
{
    memset(v, 0, sizeof *v);
    char target[512];
    snprintf(target, sizeof target, "/ws?session=%s%s%s", sid, token ? "&token=" : "",
             token ? token : "");
    return wsc_connect(&v->c, s->ws_port, target, rcvbuf);
}

static void viewer_send(viewer_t *v, const wsmsg_t *m)
{
    wsmsg_buf_t b;
    wsmsg_buf_init(&b);
    REQUIRE(wsmsg_encode(m, &b) == 0);
    REQUIRE(wsc_send(&v->c, 2, b.p, b.len) == 0);
    wsmsg_buf_dispose(&b);
}

/* Receives and applies one message: 1, 0 when closed, -1 on timeout. */
static int viewer_pump(viewer_t *v, int timeout_ms)
{
    uint8_t *msg;
    size_t len;
    int op;
    int rc = wsc_recv(&v->c, &msg, &len, &op, timeout_ms);
    if (rc <= 0) return rc;
    CHECK(op == 2);
    if (len > v->max_len) v->max_len = len;
    size_t cap = 16u << 20;
    void *arena = malloc(cap);
    wsmsg_t m;
    REQUIRE(arena && wsmsg_decode(msg, len, &m, arena, cap) == 0);
    if (m.type == WSMSG_SNAPSHOT) {
        int k = kind_of(m.u.snapshot.diagram);
        REQUIRE(k >= 0);
        svgapply_free(&v->doc[k]);
        REQUIRE(svgapply_load(&v->doc[k], m.u.snapshot.svg.p, m.u.snapshot.svg.len) == 0);
        v->have[k] = true;
        v->to[k] = m.u.snapshot.to_ns;
        if (m.u.snapshot.seq > v->seq) v->seq = m.u.snapshot.seq;
        v->snapshots++;
        log_msg(v, m.u.snapshot.seq, WSMSG_SNAPSHOT);
    } else if (m.type == WSMSG_DELTA) {
        int k = kind_of(m.u.delta.diagram);
        REQUIRE(k >= 0 && v->have[k]);
        CHECKF(m.u.delta.seq > v->seq, "seq %llu after %llu", (unsigned long long)m.u.delta.seq,
               (unsigned long long)v->seq);
        v->seq = m.u.delta.seq;
        for (uint32_t i = 0; i < m.u.delta.nitems; i++)
            CHECKF(svgapply_item(&v->doc[k], &m.u.delta.items[i]) == 0, "%s: item %u id %s",
                   kinds[k], i, m.u.delta.items[i].id.p);
        v->to[k] = m.u.delta.to_ns;
        v->deltas++;
        log_msg(v, m.u.delta.seq, WSMSG_DELTA);
    } else if (m.type == WSMSG_STATE) {
        snprintf(v->state, sizeof v->state, "%s", m.u.state.state.p);
        v->states++;
    } else if (m.type == WSMSG_ERROR) {
        v->errors++;
        v->error_code = m.u.error.code;
    }
    free(arena);
    free(msg);
    return 1;
}

static void viewer_free(viewer_t *v)
{
    for (int k = 0; k < 6; k++)
        svgapply_free(&v->doc[k]);
    wsc_close(&v->c);
}

/* Pumps until the state is `state` and then `quiet_ms` pass without a message. */
static void viewer_settle(viewer_t *v, const char *state, int quiet_ms)
{
    for (int i = 0; i < 20000; i++) {
        int rc = viewer_pump(v, strcmp(v->state, state) ? 10000 : quiet_ms);
        if (rc < 0 && !strcmp(v->state, state)) return;
        REQUIRE(rc > 0);
    }
}

/* The applied document of kind k equals the server's /diagram.svg of the same range. */
static void check_same_as_rest(const srv_t *s, viewer_t *v, const char *sid, int k)
{
    REQUIRE(v->have[k]);
    char path[256];
    snprintf(path, sizeof path, "/api/sessions/%s/diagram.svg?kind=%s&to=%llu&width=1000", sid,
             kinds[k], (unsigned long long)v->to[k]);
    httpc_resp_t r;
    REQUIRE(srv_req(s, "GET", path, s->admin, NULL, NULL, 0, &r) == 200);
    size_t len;
    char *doc = svgapply_text(&v->doc[k], &len);
    CHECKF(len == r.len && !memcmp(doc, r.body, len), "%s: applied %zu bytes, server %zu", kinds[k],
           len, r.len);
    free(doc);
    httpc_resp_dispose(&r);
}

typedef struct upload {
    char *up, *sid;
    uint8_t *b;
    size_t n, off;
} upload_t;

/* Opens a chunked upload of buf[0, n) (taken over). */
static void upload_begin_buf(const srv_t *s, upload_t *u, uint8_t *buf, size_t n)
{
    memset(u, 0, sizeof *u);
    u->b = buf;
    u->n = n;
    REQUIRE(u->b);
    httpc_resp_t r;
    REQUIRE(srv_req(s, "POST", "/api/uploads?name=ws", s->admin, NULL, NULL, 0, &r) == 201);
    u->up = srv_json_str(r.body, "id");
    u->sid = srv_json_str(r.body, "session");
    httpc_resp_dispose(&r);
    REQUIRE(u->up && u->sid);
}

/* Sends the next `k` bytes (or the rest); false when everything was sent. */
static bool upload_chunk(const srv_t *s, upload_t *u, size_t k)
{
    if (u->off >= u->n) return false;
    if (k > u->n - u->off) k = u->n - u->off;
    char path[256];
    httpc_resp_t r;
    snprintf(path, sizeof path, "/api/uploads/%s?offset=%zu", u->up, u->off);
    REQUIRE(srv_req(s, "PUT", path, s->admin, "application/octet-stream", u->b + u->off, k, &r) ==
            200);
    httpc_resp_dispose(&r);
    u->off += k;
    return true;
}

static void upload_finish(const srv_t *s, upload_t *u)
{
    char path[256];
    httpc_resp_t r;
    snprintf(path, sizeof path, "/api/uploads/%s/finish", u->up);
    REQUIRE(srv_req(s, "POST", path, s->admin, NULL, NULL, 0, &r) == 200);
    httpc_resp_dispose(&r);
}

static void upload_free(upload_t *u)
{
    free(u->up);
    free(u->sid);
    free(u->b);
}

/* A log whose blocks complete as it streams, so the live pass releases events before the end
 * (a smaller one, whose deltas come when it settles, under the sanitizers). */
static void upload_begin(const srv_t *s, upload_t *u, const char *log)
{
    size_t n;
    uint8_t *b = tu_read_file(tu_data(log), &n);
    upload_begin_buf(s, u, b, n);
}

static const char *live_log(void)
{
    return test_skip_slow() ? "eventlogs/small.eventlog" : "eventlogs/scale-20m.eventlog";
}

/* Opens v on u's session, sends the rest of u in pieces of `chunk` while v follows, and checks
 * that v's documents, once the session is done, are the server's /diagram.svg. */
static void follow_upload(const srv_t *s, upload_t *u, size_t chunk, viewer_t *v)
{
    REQUIRE(viewer_open(v, s, u->sid, s->admin, 0) == 0);
    while (v->snapshots < 3)
        REQUIRE(viewer_pump(v, 5000) > 0);
    while (upload_chunk(s, u, chunk))
        while (viewer_pump(v, 20) > 0) {
        }
    upload_finish(s, u);
    viewer_settle(v, "done", 400);
    CHECK(v->errors == 0);
    for (int k = 0; k < 6; k++)
        if (v->have[k]) check_same_as_rest(s, v, u->sid, k);
}

TEST(ws_snapshot_and_deltas_rebuild_the_diagrams)
{
    srv_t s;
    srv_start(&s, NULL, "");
    upload_t u;
    upload_begin(&s, &u, live_log());
    viewer_t v;
    follow_upload(&s, &u, 1 << 20, &v);
    CHECK(v.have[0] && v.have[1] && v.have[3] && v.states >= 1);
    /* The small log of the sanitizer runs is one block per capability: the live pass releases it
     * all at the end, which may come as one fresh snapshot rather than deltas; the applied state
     * is still compared with the REST render (follow_upload). */
    if (!test_skip_slow()) CHECKF(v.deltas > 3, "%d deltas", v.deltas);
    viewer_free(&v);
    upload_free(&u);
    CHECK(srv_stop(&s) == 0);
}

TEST(ws_resume_with_last_seq)
{
    srv_t s;
    srv_start(&s, NULL, "");
    upload_t u;
    upload_begin(&s, &u, live_log());
    size_t chunk = u.n / 12;
    viewer_t v;
    REQUIRE(viewer_open(&v, &s, u.sid, s.admin, 0) == 0);
    for (int i = 0; i < 6 && upload_chunk(&s, &u, chunk); i++)
        while (viewer_pump(&v, 30) > 0) {
        }
    while (viewer_pump(&v, 300) > 0) {
    }
    REQUIRE(v.snapshots >= 3); /* the first ones, and those of charts whose time axis doubled */
    /* an observer stays connected through what follows */
    viewer_t o;
    REQUIRE(viewer_open(&o, &s, u.sid, s.admin, 0) == 0);
    while (o.snapshots < 3)
        REQUIRE(viewer_pump(&o, 5000) > 0);
    /* the connection drops; more data comes; the client comes back with its last seq */
    wsc_close(&v.c);
    for (int i = 0; i < 2 && upload_chunk(&s, &u, chunk); i++)
        for (int t = 0; t < 3; t++)
            while (viewer_pump(&o, 20) > 0) {
            }
    while (viewer_pump(&o, 200) > 0) {
    }
    int from = 0, missed_deltas = 0; /* the observer's first message the client missed */
    while (from < o.nlog && o.log_seq[from] <= v.seq)
        from++;
    for (int i = from; i < o.nlog; i++)
        missed_deltas += o.log_type[i] == WSMSG_DELTA;
    /* (the small log of the sanitizer runs is one block per capability: nothing moves before
     * its end, so nothing was missed) */
    if (!test_skip_slow()) REQUIRE(missed_deltas > 0);
    viewer_t w;
    REQUIRE(viewer_open(&w, &s, u.sid, s.admin, 0) == 0);
    wsmsg_t hello = {.type = WSMSG_HELLO, .u.hello.last_seq = v.seq};
    viewer_send(&w, &hello);
    memcpy(w.doc, v.doc, sizeof w.doc); /* the documents the client kept */
    memcpy(w.have, v.have, sizeof w.have);
    memcpy(w.to, v.to, sizeof w.to);
    w.seq = v.seq;
    while (upload_chunk(&s, &u, chunk))
        while (viewer_pump(&w, 20) > 0 || viewer_pump(&o, 0) > 0) {
        }
    upload_finish(&s, &u);
    viewer_settle(&w, "done", 400);
    viewer_settle(&o, "done", 400);
    /* resumed: from its last seq on it got what the observer got, as it was sent (a fresh
     * start would have begun with snapshots of the current documents instead) */
    CHECKF(w.nlog == o.nlog - from, "%d messages after a resume, the observer %d", w.nlog,
           o.nlog - from);
    for (int i = 0, j = from; i < w.nlog && j < o.nlog; i++, j++)
        CHECKF(w.log_seq[i] == o.log_seq[j] && w.log_type[i] == o.log_type[j],
               "message %d after the resume: seq %llu type %d, the observer's %llu type %d", i,
               (unsigned long long)w.log_seq[i], w.log_type[i], (unsigned long long)o.log_seq[j],
               o.log_type[j]);
    CHECK(w.nlog > 0 && (test_skip_slow() || w.deltas > 0));
    viewer_free(&o);
    for (int k = 0; k < 6; k++)
        if (w.have[k]) check_same_as_rest(&s, &w, u.sid, k);
    /* a seq the server never sent: a fresh start with snapshots */
    viewer_t x;
    REQUIRE(viewer_open(&x, &s, u.sid, s.admin, 0) == 0);
    hello.u.hello.last_seq = w.seq + 1000;
    viewer_send(&x, &hello);
    while (x.snapshots < 3)
        REQUIRE(viewer_pump(&x, 5000) > 0);
    viewer_free(&x);
    viewer_free(&w);
    upload_free(&u);
    CHECK(srv_stop(&s) == 0);
}

/* A log of n threads that take turns on one capability for `rounds` rounds, each for its own
 * while: a grid of many rows full of cells of every shade. */
static uint8_t *many_threads_log(uint32_t n, int rounds, size_t *len)
{
    evwrite_t w;
    evwrite_init(&w);
    evwrite_header(&w, NULL, 0);
    evwrite_block_begin(&w, 0xFFFF, 100);
    evwrite_cap(&w, EVLOG_CAP_CREATE, 100, 0);
    evwrite_block_end(&w, 200);
    uint64_t t = 1000;
    evwrite_block_begin(&w, 0, t);
    for (uint32_t k = 1; k <= n; k++)
        evwrite_thread(&w, EVLOG_CREATE_THREAD, t, k);
    evwrite_block_end(&w, t);
    for (int r = 0; r < rounds; r++) {
        evwrite_block_begin(&w, 0, t);
        for (uint32_t k = 1; k <= n; k++) {
            evwrite_thread(&w, EVLOG_RUN_THREAD, t, k);
            t += 1000 + (k * 7919u + (uint32_t)r * 104729u) % 20000;
            evwrite_stop_thread(&w, t, k, 3, 0);
        }
        evwrite_block_end(&w, t);
    }
    evwrite_end(&w);
    uint8_t *buf = evwrite_take(&w, len);
    evwrite_dispose(&w);
    return buf;
}

/* Messages larger than one write batch (256 KiB) go alone through the library's framing, in
 * between batched ones, and the documents still rebuild exactly. */
TEST(ws_messages_larger_than_a_write_batch)
{
    srv_t s;
    srv_start(&s, NULL, "");
    upload_t u;
    size_t n;
    uint8_t *log = many_threads_log(300, 100, &n);
    upload_begin_buf(&s, &u, log, n);
    viewer_t v;
    follow_upload(&s, &u, n / 5 + 1, &v);
    CHECKF(v.max_len > (256u << 10), "the largest message has %zu bytes", v.max_len);
    viewer_free(&v);
    upload_free(&u);
    CHECK(srv_stop(&s) == 0);
}

/* Opens a connection and returns the close code it ends with (after an Error message). */
static int close_code_of(const srv_t *s, const char *sid, const char *token, const void *frame,
                         size_t len, int opcode, unsigned *error_code)
{
    viewer_t v;
    REQUIRE(viewer_open(&v, s, sid, token, 0) == 0);
    if (frame) REQUIRE(wsc_send(&v.c, opcode, frame, len) == 0);
    int rc;
    while ((rc = viewer_pump(&v, 5000)) > 0) {
    }
    *error_code = v.errors ? v.error_code : 0;
    int code = rc == 0 ? v.c.close_code : -1;
    viewer_free(&v);
    return code;
}

TEST(ws_tokens_and_private_sessions)
{
    srv_t s;
    srv_start(&s, NULL, "");
    size_t n;
    uint8_t *b = tu_read_file(tu_data("eventlogs/fib-labels.eventlog"), &n);
    REQUIRE(b);
    httpc_resp_t r;
    REQUIRE(srv_req(&s, "POST", "/api/sessions", s.admin, "application/octet-stream", b, n, &r) ==
            201);
    char *sid = srv_json_str(r.body, "id");
    httpc_resp_dispose(&r);
    unsigned err;
    CHECK(close_code_of(&s, sid, NULL, NULL, 0, 0, &err) == 4403 && err == 4403); /* guest */
    CHECK(close_code_of(&s, sid, "not-a-token", NULL, 0, 0, &err) == 4401 && err == 4401);
    CHECK(close_code_of(&s, "0123456789abcdef0123456789abcdef", s.admin, NULL, 0, 0, &err) == 4404);
    CHECK(close_code_of(&s, "short", NULL, NULL, 0, 0, &err) == 4404);
    char path[128];
    snprintf(path, sizeof path, "/api/sessions/%s", sid);
    const char *pub = "{\"visibility\":\"public\"}";
    REQUIRE(srv_req(&s, "PATCH", path, s.admin, "application/json", pub, strlen(pub), &r) == 200);
    httpc_resp_dispose(&r);
    viewer_t v; /* a guest sees a public session */
    REQUIRE(viewer_open(&v, &s, sid, NULL, 0) == 0);
    while (v.snapshots < 3)
        REQUIRE(viewer_pump(&v, 5000) > 0);
    CHECK(v.states >= 1 && v.errors == 0);
    /* made private again: the guest is closed within a second or two */
    viewer_t w;
    REQUIRE(viewer_open(&w, &s, sid, s.admin, 0) == 0);
    const char *priv = "{\"visibility\":\"private\"}";
    REQUIRE(srv_req(&s, "PATCH", path, s.admin, "application/json", priv, strlen(priv), &r) == 200);
    httpc_resp_dispose(&r);
    int rc;
    while ((rc = viewer_pump(&v, 5000)) > 0) {
    }
    CHECK(rc == 0 && v.c.close_code == 4403);
    /* deleting a followed session closes its connections */
    while (w.snapshots < 3)
        REQUIRE(viewer_pump(&w, 5000) > 0);
    REQUIRE(srv_req(&s, "DELETE", path, s.admin, NULL, NULL, 0, &r) == 204);
    httpc_resp_dispose(&r);
    while ((rc = viewer_pump(&w, 5000)) > 0) {
    }
    CHECK(rc == 0 && w.c.close_code == 4410 && w.error_code == 4410);
    viewer_free(&w);
    viewer_free(&v);
    free(sid);
    free(b);
    CHECK(srv_stop(&s) == 0);
}

TEST(ws_bad_client_messages_close_with_codes)
{
    srv_t s;
    srv_start(&s, NULL, "");
    upload_t u;
    upload_begin(&s, &u, "eventlogs/fib-labels.eventlog");
    unsigned err;
    CHECK(close_code_of(&s, u.sid, s.admin, "hello", 5, 1, &err) == 1003 && err == 1003);
    CHECK(close_code_of(&s, u.sid, s.admin, "\x01\x02\x03garbage", 10, 2, &err) == 1007);
    wsmsg_t snap = {.type = WSMSG_SNAPSHOT, .u.snapshot = {.seq = 1}};
    wsmsg_buf_t b;
    wsmsg_buf_init(&b);
    REQUIRE(wsmsg_encode(&snap, &b) == 0);
    CHECK(close_code_of(&s, u.sid, s.admin, b.p, b.len, 2, &err) == 1008 && err == 1008);
    wsmsg_str_t pie = {"pie", 3};
    wsmsg_t sub = {.type = WSMSG_SUBSCRIBE, .u.subscribe = {.diagrams = &pie, .ndiagrams = 1}};
    REQUIRE(wsmsg_encode(&sub, &b) == 0);
    CHECK(close_code_of(&s, u.sid, s.admin, b.p, b.len, 2, &err) == 1008);
    uint8_t big[8192];
    memset(big, 0, sizeof big);
    CHECK(close_code_of(&s, u.sid, s.admin, big, sizeof big, 2, &err) == 1009);
    /* a good subscription gets its snapshots */
    wsmsg_str_t two[2] = {{"gc", 2}, {"sparks", 6}};
    sub.u.subscribe = (wsmsg_subscribe_t){.diagrams = two, .ndiagrams = 2};
    viewer_t v;
    REQUIRE(viewer_open(&v, &s, u.sid, s.admin, 0) == 0);
    viewer_send(&v, &sub);
    while (v.snapshots < 2)
        REQUIRE(viewer_pump(&v, 5000) > 0);
    CHECK(v.have[2] && v.have[5] && !v.have[0]);
    viewer_free(&v);
    wsmsg_buf_dispose(&b);
    upload_free(&u);
    CHECK(srv_stop(&s) == 0);
}

TEST(ws_concurrent_slow_readers_do_not_hold_up_ingestion)
{
    srv_t s;
    srv_start(&s, NULL, "");
    upload_t a, c;
    upload_begin(&s, &a, "eventlogs/small.eventlog");
    upload_begin(&s, &c, "eventlogs/scale-1m.eventlog");
    viewer_t slow[4], v;
    for (int i = 0; i < 4; i++) /* they connect, then never read */
        REQUIRE(viewer_open(&slow[i], &s, i % 2 ? a.sid : c.sid, s.admin, 2048) == 0);
    REQUIRE(viewer_open(&v, &s, c.sid, s.admin, 0) == 0);
    while (upload_chunk(&s, &a, 65536) | upload_chunk(&s, &c, 65536))
        while (viewer_pump(&v, 5) > 0) {
        }
    upload_finish(&s, &a);
    upload_finish(&s, &c);
    viewer_settle(&v, "done", 300);
    char *st = srv_wait_session(&s, a.sid, s.admin, 60);
    CHECKF(st && !strcmp(st, "done"), "state %s", st ? st : "(timeout)");
    free(st);
    for (int k = 0; k < 6; k++)
        if (v.have[k]) check_same_as_rest(&s, &v, c.sid, k);
    for (int i = 0; i < 4; i++)
        viewer_free(&slow[i]);
    viewer_free(&v);
    upload_free(&a);
    upload_free(&c);
    CHECK(srv_stop(&s) == 0);
}
