/* End-to-end tests of `liveprof serve` over real HTTP on 127.0.0.1: uploads of every shared
 * log against the old tool's totals, chunked and resumed uploads, privacy between users,
 * tokens, malformed requests, concurrency, and a clean restart. */
#include "test.h"

#include "server.h"
#include "srvutil.h"

#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static char *upload_raw(const srv_t *s, const char *token, const char *log, int *status)
{
    size_t n;
    uint8_t *b = tu_read_file(tu_data(log), &n);
    REQUIRE(b);
    httpc_resp_t r;
    *status =
        srv_req(s, "POST", "/api/sessions?name=test", token, "application/octet-stream", b, n, &r);
    free(b);
    char *id = srv_json_str(r.body, "id");
    httpc_resp_dispose(&r);
    return id;
}

/* True when /totals (JSON) has the rows of the old tool's totals file `expected`, in order:
 * sections by title, other rows as "<name> <total_ns>ns". */
static bool totals_json_match(const srv_t *s, const char *id, const char *expected)
{
    char path[160];
    snprintf(path, sizeof path, "/api/sessions/%s/totals", id);
    httpc_resp_t r;
    if (srv_req(s, "GET", path, s->admin, NULL, NULL, 0, &r) != 200) return false;
    json_t *doc = json_loads(r.body, 0, NULL);
    httpc_resp_dispose(&r);
    size_t len;
    char *want = (char *)tu_read_file(tu_data(expected), &len);
    json_t *rows = json_object_get(doc, "rows");
    bool ok = doc && want && json_is_array(rows) && json_array_size(rows) > 0 &&
              json_is_true(json_object_get(doc, "final"));
    const char *line = want;
    for (size_t i = 0; ok && i < json_array_size(rows); i++) {
        json_t *row = json_array_get(rows, i);
        const char *kind = json_string_value(json_object_get(row, "kind"));
        const char *name = json_string_value(json_object_get(row, "name"));
        while (line && *line == '\n')
            line++;
        const char *eol = line ? strchr(line, '\n') : NULL;
        if (!kind || !name || !eol) {
            ok = false;
            break;
        }
        char got[512];
        if (!strcmp(kind, "section"))
            snprintf(got, sizeof got, "%s", name);
        else
            snprintf(got, sizeof got, "%s %lldns", name,
                     (long long)json_integer_value(json_object_get(row, "total_ns")));
        /* the text pads the name to a column: compare with runs of spaces squeezed */
        char text[512];
        size_t k = 0;
        for (const char *c = line; c < eol && k + 1 < sizeof text; c++)
            if (*c != ' ' || (k && text[k - 1] != ' ')) text[k++] = *c;
        text[k] = 0;
        ok = strncmp(text, got, strlen(got)) == 0;
        line = eol + 1;
    }
    json_decref(doc);
    free(want);
    return ok;
}

/* Uploads a log and checks /totals.txt against the old tool's file. */
static void upload_and_compare(const srv_t *s, const char *log, const char *expected)
{
    int st;
    char *id = upload_raw(s, s->admin, log, &st);
    CHECKF(st == 201 && id, "%s: upload answered %d", log, st);
    if (!id) return;
    char *state = srv_wait_session(s, id, s->admin, 60);
    CHECKF(state && !strcmp(state, "done"), "%s: state %s", log, state ? state : "(timeout)");
    free(state);
    CHECKF(srv_totals_equal(s, id, expected), "%s: totals.txt differs from %s", log, expected);
    free(id);
}

TEST(server_upload_every_log)
{
    static const char *logs[] = {"concurrent", "fib-labels",     "fib-labels-user-only",
                                 "heap",       "heap-nonmoving", "leech-attach-file",
                                 "leech-main", "scale-1m",       "small",
                                 "sparks"};
    srv_t s;
    srv_start(&s, NULL, "");
    char log[256], exp[256];
    for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++) {
        snprintf(log, sizeof log, "eventlogs/%s.eventlog", logs[i]);
        snprintf(exp, sizeof exp, "expected/%s/default/%s.totals.txt", logs[i], logs[i]);
        upload_and_compare(&s, log, exp);
    }
    static const char *raw[] = {"leech-restart-0", "leech-restart-1", "leech-deferred-0"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(log, sizeof log, "eventlogs/%s.raw.eventlog", raw[i]);
        snprintf(exp, sizeof exp, "expected/%s.raw/fixed-default/%s.fixed.totals.txt", raw[i],
                 raw[i]);
        upload_and_compare(&s, log, exp);
    }
    CHECK(srv_stop(&s) == 0);
}

/* A chunked upload: a wrong offset gets 409 with the expected one; resuming from it works. */
TEST(server_chunked_upload_resume)
{
    srv_t s;
    srv_start(&s, NULL, "");
    size_t n;
    uint8_t *b = tu_read_file(tu_data("eventlogs/small.eventlog"), &n);
    REQUIRE(b);
    httpc_resp_t r;
    REQUIRE(srv_req(&s, "POST", "/api/uploads?name=chunked", s.admin, NULL, NULL, 0, &r) == 201);
    char *up = srv_json_str(r.body, "id"), *sid = srv_json_str(r.body, "session");
    httpc_resp_dispose(&r);
    REQUIRE(up && sid);
    size_t chunk = 100000, off = 0;
    char path[256];
    /* a chunk that skips ahead is refused with the offset the server has */
    snprintf(path, sizeof path, "/api/uploads/%s?offset=%zu", up, chunk);
    CHECK(srv_req(&s, "PUT", path, s.admin, "application/octet-stream", b, chunk, &r) == 409);
    CHECK(srv_json_int(r.body, "expected_offset") == 0);
    httpc_resp_dispose(&r);
    int i = 0;
    while (off < n) {
        size_t k = n - off < chunk ? n - off : chunk;
        if (i++ == 3) { /* "interrupted": ask the server where to go on from */
            snprintf(path, sizeof path, "/api/uploads/%s", up);
            CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
            CHECK((size_t)srv_json_int(r.body, "offset") == off);
            httpc_resp_dispose(&r);
        }
        snprintf(path, sizeof path, "/api/uploads/%s?offset=%zu", up, off);
        CHECK(srv_req(&s, "PUT", path, s.admin, "application/octet-stream", b + off, k, &r) == 200);
        CHECK((size_t)srv_json_int(r.body, "offset") == off + k);
        httpc_resp_dispose(&r);
        off += k;
    }
    snprintf(path, sizeof path, "/api/uploads/%s/finish", up);
    CHECK(srv_req(&s, "POST", path, s.admin, NULL, NULL, 0, &r) == 200);
    httpc_resp_dispose(&r);
    char *state = srv_wait_session(&s, sid, s.admin, 60);
    CHECKF(state && !strcmp(state, "done"), "state %s", state ? state : "(timeout)");
    CHECK(srv_totals_equal(&s, sid, "expected/small/default/small.totals.txt"));
    CHECK(totals_json_match(&s, sid, "expected/small/default/small.totals.txt"));
    free(state);
    free(up);
    free(sid);
    free(b);
    CHECK(srv_stop(&s) == 0);
}

static char *login(const srv_t *s, const char *user, const char *password)
{
    char body[256];
    snprintf(body, sizeof body, "{\"user\":\"%s\",\"password\":\"%s\"}", user, password);
    httpc_resp_t r;
    int st =
        srv_req(s, "POST", "/api/auth/login", NULL, "application/json", body, strlen(body), &r);
    char *tok = st == 200 ? srv_json_str(r.body, "token") : NULL;
    httpc_resp_dispose(&r);
    return tok;
}

static void add_user(const srv_t *s, const char *user, const char *password)
{
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"password\":\"%s\",\"role\":\"user\"}", user,
             password);
    httpc_resp_t r;
    int st = srv_req(s, "POST", "/api/users", s->admin, "application/json", body, strlen(body), &r);
    CHECKF(st == 201 || st == 200, "creating %s: %d %s", user, st, r.body ? r.body : "");
    httpc_resp_dispose(&r);
}

static int get_status(const srv_t *s, const char *path, const char *token)
{
    httpc_resp_t r;
    int st = srv_req(s, "GET", path, token, NULL, NULL, 0, &r);
    httpc_resp_dispose(&r);
    return st;
}

TEST(server_privacy_between_users)
{
    srv_t s;
    srv_start(&s, NULL, "");
    add_user(&s, "alice", "alice-secret-1");
    add_user(&s, "bob", "bob-secret-22");
    char *alice = login(&s, "alice", "alice-secret-1"), *bob = login(&s, "bob", "bob-secret-22");
    REQUIRE(alice && bob);
    CHECK(login(&s, "alice", "wrong") == NULL);
    int st;
    char *id = upload_raw(&s, alice, "eventlogs/fib-labels.eventlog", &st);
    REQUIRE(st == 201 && id);
    char path[128];
    snprintf(path, sizeof path, "/api/sessions/%s", id);
    CHECK(get_status(&s, path, alice) == 200);
    CHECK(get_status(&s, path, bob) == 404);  /* private: invisible to others */
    CHECK(get_status(&s, path, NULL) == 404); /* and to guests */
    CHECK(get_status(&s, path, s.admin) == 200);
    snprintf(path, sizeof path, "/api/sessions/%s/totals.txt", id);
    CHECK(get_status(&s, path, bob) == 404);
    /* the list shows it only to those who may see it */
    httpc_resp_t r;
    CHECK(srv_req(&s, "GET", "/api/sessions", bob, NULL, NULL, 0, &r) == 200);
    CHECK(!strstr(r.body, id));
    httpc_resp_dispose(&r);
    CHECK(srv_req(&s, "GET", "/api/sessions", alice, NULL, NULL, 0, &r) == 200);
    CHECK(strstr(r.body, id) != NULL);
    httpc_resp_dispose(&r);
    /* bob may not change it; alice makes it public */
    snprintf(path, sizeof path, "/api/sessions/%s", id);
    const char *pub = "{\"visibility\":\"public\"}";
    CHECK(srv_req(&s, "PATCH", path, bob, "application/json", pub, strlen(pub), &r) == 404);
    httpc_resp_dispose(&r);
    CHECK(srv_req(&s, "PATCH", path, alice, "application/json", pub, strlen(pub), &r) == 200);
    httpc_resp_dispose(&r);
    CHECK(get_status(&s, path, NULL) == 200);
    CHECK(get_status(&s, path, bob) == 200);
    CHECK(srv_req(&s, "DELETE", path, bob, NULL, NULL, 0, &r) == 403);
    httpc_resp_dispose(&r);
    /* a guest's upload is public */
    char *gid = upload_raw(&s, NULL, "eventlogs/sparks.eventlog", &st);
    CHECK(st == 201 && gid);
    snprintf(path, sizeof path, "/api/sessions/%s", gid);
    CHECK(get_status(&s, path, bob) == 200);
    /* delete */
    snprintf(path, sizeof path, "/api/sessions/%s", id);
    CHECK(srv_req(&s, "DELETE", path, alice, NULL, NULL, 0, &r) == 204);
    httpc_resp_dispose(&r);
    CHECK(get_status(&s, path, s.admin) == 404);
    free(id);
    free(gid);
    free(alice);
    free(bob);
    CHECK(srv_stop(&s) == 0);
}

/* A compressed log uploaded as it is: the session fails with the decoder's error and says which
 * compression the upload has; /api/sessions/{id} keeps saying so after a restart. */
TEST(server_compressed_upload_names_its_compression)
{
    char gz[600], cmd[1400];
    snprintf(gz, sizeof gz, "%s/small.eventlog.gz", tu_tmpdir());
    snprintf(cmd, sizeof cmd, "gzip -c '%s' > '%s'", tu_data("eventlogs/small.eventlog"), gz);
    REQUIRE(system(cmd) == 0);
    srv_t s;
    srv_start(&s, NULL, "");
    size_t n;
    uint8_t *b = tu_read_file(gz, &n);
    REQUIRE(b);
    httpc_resp_t r;
    CHECK(srv_req(&s, "POST", "/api/sessions?name=packed", s.admin, "application/octet-stream", b,
                  n, &r) == 201);
    free(b);
    char *id = srv_json_str(r.body, "id");
    httpc_resp_dispose(&r);
    REQUIRE(id);
    char *state = srv_wait_session(&s, id, s.admin, 30);
    CHECKF(state && !strcmp(state, "failed"), "state %s", state ? state : "(timeout)");
    free(state);
    char path[160];
    snprintf(path, sizeof path, "/api/sessions/%s", id);
    for (int round = 0; round < 2; round++) {
        CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
        char *err = srv_json_str(r.body, "error");
        CHECKF(err && strstr(err, "header begin marker not found at byte 0") &&
                   strstr(err, "the upload is gzip-compressed; decompress it"),
               "round %d: %s", round, err ? err : r.body);
        free(err);
        httpc_resp_dispose(&r);
        if (round == 0) {
            char data[sizeof s.data];
            snprintf(data, sizeof data, "%s", s.data);
            CHECK(srv_stop(&s) == 0);
            srv_start(&s, data, "");
        }
    }
    free(id);
    CHECK(srv_stop(&s) == 0);
}

/* A body over --max-body on a connection that brought a big body before (the HTTP library then
 * reads ahead of the refused body): the 413 and its JSON still arrive, every time, and the
 * server takes the next connections as before. */
TEST(server_413_reaches_a_busy_connection)
{
    srv_t s;
    srv_start(&s, NULL, "--max-body 3M");
    char err[128], auth[256];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", s.admin);
    const char *hdrs[] = {auth, "Content-Type: application/octet-stream", NULL};
    httpc_t *h = httpc_create(s.url, err, sizeof err);
    REQUIRE(h);
    size_t small = 2u << 20, big = 8u << 20;
    uint8_t *body = calloc(1, big);
    int got413 = 0;
    for (int i = 0; i < 10; i++) {
        httpc_resp_t r;
        /* 2 MiB to an upload that does not exist: read whole, answered 404 */
        CHECKF(httpc_request(h, "PUT", "/api/uploads/nope?offset=0", hdrs, body, small, &r) == 0,
               "%s", httpc_error(h));
        CHECK(r.status == 404);
        httpc_resp_dispose(&r);
        int rc = httpc_request(h, "POST", "/api/sessions", hdrs, body, big, &r);
        CHECKF(rc == 0, "attempt %d: %s", i, httpc_error(h));
        if (rc) continue;
        got413 += r.status == 413 && r.body && strstr(r.body, "\"payload_too_large\"");
        httpc_resp_dispose(&r);
    }
    CHECK(got413 == 10);
    httpc_destroy(h);
    free(body);
    CHECK(get_status(&s, "/api/sessions", s.admin) == 200);
    CHECK(srv_stop(&s) == 0);
}

TEST(server_bad_requests)
{
    srv_t s;
    srv_start(&s, NULL, "--max-body 100000");
    httpc_resp_t r;
    CHECK(get_status(&s, "/api/sessions", "not-a-token") == 401);
    CHECK(get_status(&s, "/api/users", NULL) == 401);
    CHECK(get_status(&s, "/api/sessions/0123456789abcdef0123456789abcdef", s.admin) == 404);
    CHECK(get_status(&s, "/api/nothing-here", NULL) == 404);
    CHECK(srv_req(&s, "DELETE", "/api/sessions", s.admin, NULL, NULL, 0, &r) == 405);
    CHECK(r.body && strstr(r.body, "\"error\""));
    httpc_resp_dispose(&r);
    /* wrong content type, oversized body */
    CHECK(srv_req(&s, "POST", "/api/sessions", s.admin, "text/plain", "x", 1, &r) == 415);
    CHECK(r.body && strstr(r.body, "\"error\""));
    httpc_resp_dispose(&r);
    size_t n;
    uint8_t *big = tu_read_file(tu_data("eventlogs/concurrent.eventlog"), &n);
    REQUIRE(big && n > 100000);
    CHECK(srv_req(&s, "POST", "/api/sessions", s.admin, "application/octet-stream", big, n, &r) ==
          413);
    httpc_resp_dispose(&r);
    free(big);
    /* bad JSON and bad ranges */
    int st;
    char *id = upload_raw(&s, s.admin, "eventlogs/fib-labels.eventlog", &st);
    REQUIRE(id);
    free(srv_wait_session(&s, id, s.admin, 30));
    char path[256];
    snprintf(path, sizeof path, "/api/sessions/%s", id);
    CHECK(srv_req(&s, "PATCH", path, s.admin, "application/json", "{bad", 4, &r) == 400);
    CHECK(r.body && strstr(r.body, "\"error\""));
    httpc_resp_dispose(&r);
    CHECK(srv_req(&s, "PATCH", path, s.admin, "application/json", "{\"owner\":3}", 11, &r) == 400);
    httpc_resp_dispose(&r);
    snprintf(path, sizeof path, "/api/sessions/%s/aggregates?series=labels&from=9&to=3", id);
    CHECK(get_status(&s, path, s.admin) == 400);
    snprintf(path, sizeof path, "/api/sessions/%s/aggregates?series=nope", id);
    CHECK(get_status(&s, path, s.admin) == 400);
    snprintf(path, sizeof path, "/api/sessions/%s/aggregates?series=labels&bins=x", id);
    CHECK(get_status(&s, path, s.admin) == 400);
    snprintf(path, sizeof path, "/api/sessions/%s/aggregates?series=threads&bins=50", id);
    CHECK(get_status(&s, path, s.admin) == 200);
    snprintf(path, sizeof path, "/api/uploads/nope?offset=0");
    CHECK(srv_req(&s, "PUT", path, s.admin, NULL, "x", 1, &r) == 404);
    httpc_resp_dispose(&r);
    free(id);
    CHECK(srv_stop(&s) == 0);
}

typedef struct job {
    const srv_t *s;
    const char *log, *expected;
    bool ok;
    char why[160];
} job_t;

static void *upload_job(void *arg)
{
    job_t *j = arg;
    int st;
    char *id = upload_raw(j->s, j->s->admin, j->log, &st);
    if (!id) {
        snprintf(j->why, sizeof j->why, "upload answered %d", st);
        return NULL;
    }
    char *state = srv_wait_session(j->s, id, j->s->admin, 120);
    snprintf(j->why, sizeof j->why, "session %s: state %s", id, state ? state : "(timeout)");
    j->ok = state && !strcmp(state, "done") && srv_totals_equal(j->s, id, j->expected);
    if (!j->ok)
        snprintf(j->why, sizeof j->why, "session %s: state %s, totals.txt differs", id,
                 state ? state : "(timeout)");
    free(state);
    free(id);
    return NULL;
}

static atomic_int stop_queries;

static void *query_job(void *arg)
{
    const srv_t *s = arg;
    while (!stop_queries) {
        httpc_resp_t r;
        srv_req(s, "GET", "/api/sessions", s->admin, NULL, NULL, 0, &r);
        httpc_resp_dispose(&r);
        srv_req(s, "GET", "/metrics", NULL, NULL, NULL, 0, &r);
        httpc_resp_dispose(&r);
    }
    return NULL;
}

TEST(server_concurrent_uploads)
{
    static const char *logs[][2] = {
        {"eventlogs/fib-labels.eventlog", "expected/fib-labels/default/fib-labels.totals.txt"},
        {"eventlogs/concurrent.eventlog", "expected/concurrent/default/concurrent.totals.txt"},
        {"eventlogs/heap.eventlog", "expected/heap/default/heap.totals.txt"},
        {"eventlogs/sparks.eventlog", "expected/sparks/default/sparks.totals.txt"},
        {"eventlogs/small.eventlog", "expected/small/default/small.totals.txt"},
    };
    srv_t s;
    srv_start(&s, NULL, "");
    job_t jobs[20];
    pthread_t th[20], q;
    pthread_create(&q, NULL, query_job, &s);
    for (int i = 0; i < 20; i++) {
        jobs[i] = (job_t){.s = &s, .log = logs[i % 5][0], .expected = logs[i % 5][1]};
        pthread_create(&th[i], NULL, upload_job, &jobs[i]);
    }
    for (int i = 0; i < 20; i++) {
        pthread_join(th[i], NULL);
        CHECKF(jobs[i].ok, "upload %d (%s) wrong or unfinished: %s", i, jobs[i].log, jobs[i].why);
    }
    stop_queries = 1;
    pthread_join(q, NULL);
    CHECK(srv_stop(&s) == 0);
}

TEST(server_restart_keeps_sessions)
{
    srv_t s;
    srv_start(&s, NULL, "");
    int st;
    char *id = upload_raw(&s, s.admin, "eventlogs/leech-main.eventlog", &st);
    REQUIRE(id);
    free(srv_wait_session(&s, id, s.admin, 30));
    char data[512];
    snprintf(data, sizeof data, "%s", s.data);
    CHECK(srv_stop(&s) == 0); /* SIGTERM: a clean exit */
    srv_start(&s, data, "");
    char *state = srv_wait_session(&s, id, s.admin, 30);
    CHECKF(state && !strcmp(state, "done"), "after restart: %s", state ? state : "(missing)");
    CHECK(srv_totals_equal(&s, id, "expected/leech-main/default/leech-main.totals.txt"));
    free(state);
    free(id);
    CHECK(srv_stop(&s) == 0);
}

/* The walk-through: `liveprof upload --wait` prints the session id last. */
TEST(server_upload_cli)
{
    srv_t s;
    srv_start(&s, NULL, "");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s upload '%s' --server %s --token %s --wait --chunk 200000 2>/dev/null",
             tu_liveprof(), tu_data("eventlogs/small.eventlog"), s.url, s.admin);
    uint8_t *out;
    size_t n;
    int st = tu_run(cmd, &out, &n);
    CHECKF(st == 0, "upload exited %d", st);
    REQUIRE(out && n > 0);
    while (n && out[n - 1] == '\n')
        out[--n] = 0;
    char *last = strrchr((char *)out, '\n');
    last = last ? last + 1 : (char *)out;
    CHECK(srv_totals_equal(&s, last, "expected/small/default/small.totals.txt"));
    free(out);
    CHECK(srv_stop(&s) == 0);
}

/* A chunked upload of `log` in chunks of `chunk` bytes, finished at once; returns the session. */
static char *upload_chunked(const srv_t *s, const uint8_t *b, size_t n, size_t chunk)
{
    httpc_resp_t r;
    REQUIRE(srv_req(s, "POST", "/api/uploads", s->admin, NULL, NULL, 0, &r) == 201);
    char *up = srv_json_str(r.body, "id"), *sid = srv_json_str(r.body, "session");
    httpc_resp_dispose(&r);
    REQUIRE(up && sid);
    char path[256];
    for (size_t off = 0; off < n; off += chunk) {
        size_t k = n - off < chunk ? n - off : chunk;
        snprintf(path, sizeof path, "/api/uploads/%s?offset=%zu", up, off);
        CHECK(srv_req(s, "PUT", path, s->admin, "application/octet-stream", b + off, k, &r) == 200);
        httpc_resp_dispose(&r);
    }
    snprintf(path, sizeof path, "/api/uploads/%s/finish", up);
    CHECK(srv_req(s, "POST", path, s->admin, NULL, NULL, 0, &r) == 200);
    httpc_resp_dispose(&r);
    free(up);
    return sid;
}

/* Whatever the live pass saw before the input ended (nothing, part, or all of it, with events
 * late or not), a finished session's aggregates are those of the exact pass: the same as a whole
 * log stored at once. */
TEST(server_chunked_aggregates_equal_whole_upload)
{
    static const char *const logs[] = {"eventlogs/small.eventlog", "eventlogs/heap.eventlog",
                                       "eventlogs/sparks.eventlog",
                                       "eventlogs/concurrent.eventlog"};
    static const char *const series[] = {"labels", "threads",  "caps",  "gc",
                                         "heap",   "heapprof", "sparks"};
    srv_t s;
    srv_start(&s, NULL, "");
    for (size_t l = 0; l < sizeof logs / sizeof logs[0]; l++) {
        size_t n;
        uint8_t *b = tu_read_file(tu_data(logs[l]), &n);
        REQUIRE(b);
        int st;
        char *ids[3] = {upload_raw(&s, s.admin, logs[l], &st), upload_chunked(&s, b, n, n),
                        upload_chunked(&s, b, n, 16384)};
        for (int k = 0; k < 3; k++) {
            char *state = ids[k] ? srv_wait_session(&s, ids[k], s.admin, 60) : NULL;
            CHECKF(state && !strcmp(state, "done"), "%s: state %s", logs[l], state ? state : "-");
            free(state);
        }
        for (size_t i = 0; i < sizeof series / sizeof series[0] && ids[0]; i++) {
            char *want = NULL;
            for (int k = 0; k < 3 && ids[k]; k++) {
                char path[256];
                snprintf(path, sizeof path, "/api/sessions/%s/aggregates?series=%s&bins=200",
                         ids[k], series[i]);
                httpc_resp_t r;
                CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
                if (k == 0)
                    want = strdup(r.body ? r.body : "");
                else
                    CHECKF(r.body && want && !strcmp(r.body, want), "%s %s: upload %d differs",
                           logs[l], series[i], k);
                httpc_resp_dispose(&r);
            }
            free(want);
        }
        for (int k = 0; k < 3; k++)
            free(ids[k]);
        free(b);
    }
    CHECK(srv_stop(&s) == 0);
}

/* The value of the unlabelled gauge `name` of /metrics, or -1. */
static long long gauge(const srv_t *s, const char *name)
{
    httpc_resp_t r;
    long long v = -1;
    char pat[96];
    snprintf(pat, sizeof pat, "\n%s ", name);
    if (srv_req(s, "GET", "/metrics", s->admin, NULL, NULL, 0, &r) == 200 && r.body) {
        const char *m = strstr(r.body, pat);
        if (m) v = atoll(m + strlen(pat));
    }
    httpc_resp_dispose(&r);
    return v;
}

static long long heap_bytes(const srv_t *s)
{
    return gauge(s, "liveprof_heap_bytes");
}

/* Uploads a shared log whole as the admin and waits until its session is done; returns its id. */
static char *upload_settled(const srv_t *s, const char *log)
{
    int st;
    char *id = upload_raw(s, s->admin, log, &st);
    REQUIRE(id && st == 201);
    char *state = srv_wait_session(s, id, s->admin, 60);
    CHECK(state && !strcmp(state, "done"));
    free(state);
    return id;
}

/* The allocated bytes /metrics reports grow with the sessions held and fall once they are
 * deleted: the gauge the load benchmark checks for leaks. The aggregates' gauge counts what the
 * sessions' binned series hold: a short log's well under 1 MB (its tiers hold the bins it uses,
 * not 4096 per tier and series), none once they are gone. */
TEST(server_metrics_heap_falls_when_sessions_go)
{
    srv_t s;
    srv_start(&s, NULL, "");
    long long h0 = heap_bytes(&s);
    CHECKF(h0 > 0, "liveprof_heap_bytes %lld", h0);
    CHECK(gauge(&s, "liveprof_aggregates_bytes") == 0);
    char *ids[4];
    for (int k = 0; k < 4; k++)
        ids[k] = upload_settled(&s, "eventlogs/small.eventlog");
    long long h1 = heap_bytes(&s), a1 = gauge(&s, "liveprof_aggregates_bytes");
    CHECKF(h1 > h0, "four sessions held: %lld bytes, none: %lld", h1, h0);
    CHECKF(a1 > 0 && a1 < 4 * (768ll << 10), "four sessions' aggregates: %lld bytes", a1);
    for (int k = 0; k < 4; k++) {
        char path[128];
        snprintf(path, sizeof path, "/api/sessions/%s", ids[k]);
        httpc_resp_t r;
        CHECK(srv_req(&s, "DELETE", path, s.admin, NULL, NULL, 0, &r) == 204);
        httpc_resp_dispose(&r);
        free(ids[k]);
    }
    long long h2 = h1;
    for (int i = 0; i < 50 && h2 >= h1; i++) { /* the workers let go of deleted sessions */
        usleep(100000);
        h2 = heap_bytes(&s);
    }
    CHECKF(h2 < h1, "after deleting them: %lld bytes, with them: %lld", h2, h1);
    CHECK(gauge(&s, "liveprof_aggregates_bytes") == 0);
    CHECK(srv_stop(&s) == 0);
}

/* A settled session's totals documents are made once and kept: later requests get the same
 * bytes, and the text still equals the old tool's. */
TEST(server_totals_kept_after_settling)
{
    srv_t s;
    srv_start(&s, NULL, "");
    char *id = upload_settled(&s, "eventlogs/small.eventlog");
    for (int k = 0; k < 2; k++) {
        char path[128];
        snprintf(path, sizeof path, "/api/sessions/%s/%s", id, k ? "totals.txt" : "totals");
        char *first = NULL;
        for (int i = 0; i < 3; i++) {
            httpc_resp_t r;
            CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
            if (i == 0)
                first = strdup(r.body ? r.body : "");
            else
                CHECKF(r.body && first && !strcmp(r.body, first), "%s: request %d differs", path,
                       i);
            httpc_resp_dispose(&r);
        }
        free(first);
    }
    CHECK(srv_totals_equal(&s, id, "expected/small/default/small.totals.txt"));
    free(id);
    CHECK(srv_stop(&s) == 0);
}

/* Whether this process may lower a thread's nice value to SERVING_NICE (as the server tries):
 * tried on a thread of its own, which then ends. */
static void *try_serving_nice(void *arg)
{
    *(bool *)arg = setpriority(PRIO_PROCESS, (id_t)gettid(), SERVING_NICE) == 0;
    return NULL;
}

/* One look at the server's threads: true when the HTTP thread, the workers, the segment writer
 * and the WebSocket thread are all there with the priorities below; else false, why in `why`. */
static bool threads_as_expected(int pid, bool can, char *why, size_t cap)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", pid);
    DIR *d = opendir(dir);
    REQUIRE(d);
    int seen_http = 0, seen_workers = 0, seen_writer = 0, seen_ws = 0;
    bool ok = true;
    snprintf(why, cap, "a thread is missing");
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[400], line[1024];
        snprintf(path, sizeof path, "%s/%s/stat", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t n = fread(line, 1, sizeof line - 1, f);
        fclose(f);
        line[n] = 0;
        /* "tid (comm) state ..." : nice is the 19th field, the policy the 41st */
        char *open = strchr(line, '('), *close = strrchr(line, ')');
        if (!open || !close) continue;
        *close = 0;
        const char *comm = open + 1;
        long field[64] = {0};
        int k = 3;
        for (char *p = strtok(close + 2, " "); p && k < 64; p = strtok(NULL, " "), k++)
            field[k] = strtol(p, NULL, 10);
        long nice = field[19], policy = field[41];
        bool good = true;
        if (atoi(e->d_name) == pid) {
            seen_http++;
            good = nice == (can ? SERVING_NICE : 0);
        } else if (!strcmp(comm, "lp-worker")) {
            seen_workers++;
            good = nice == BATCH_NICE && policy == SCHED_BATCH;
        } else if (!strcmp(comm, "lp-segments") || !strcmp(comm, "lp-websocket")) {
            *(comm[3] == 's' ? &seen_writer : &seen_ws) += 1;
            good = nice == 0 && policy == SCHED_OTHER;
        }
        if (!good) snprintf(why, cap, "%s: nice %ld, policy %ld", comm, nice, policy);
        ok = ok && good;
    }
    closedir(d);
    return ok && seen_http == 1 && seen_workers >= 1 && seen_writer == 1 && seen_ws == 1;
}

/* The threads' priorities, as `top -H` shows them: the HTTP thread serves at SERVING_NICE where
 * the server may raise it, the analysis threads are batch threads at BATCH_NICE, the segment
 * writer and the WebSocket thread keep the default. Each thread names itself and then sets its
 * priority, so a look right after the start may come in between: looked at again, for up to
 * 2 s, until every thread is as it stays. */
TEST(server_thread_priorities)
{
    bool can = false;
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, try_serving_nice, &can) == 0);
    pthread_join(th, NULL);
    srv_t s;
    srv_start(&s, NULL, "");
    char why[256];
    bool ok = false;
    for (int i = 0; i < 40 && !(ok = threads_as_expected((int)s.pid, can, why, sizeof why)); i++)
        usleep(50000);
    CHECKF(ok, "%s", why);
    srv_stop(&s);
}
