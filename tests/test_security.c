/* Security tests against the real server: a table over every route x role (admin, user, other
 * user, guest, bad token) x private/public session; login tokens that expire, are revoked by
 * logout and purged; login rate limiting with 429 and Retry-After; the data dir's modes.
 *
 * Constant-time token comparison is asserted by review, not by timing: auth_check_token
 * (server/auth.c) looks tokens up by their BLAKE2b digest and compares digests only with
 * auth_digest_equal, which is sodium_memcmp over the fixed 64 hex characters; passwords are
 * checked by crypto_pwhash_str_verify, and an unknown user name is verified against a decoy hash
 * so that it costs the same time as a wrong password. */
#include "test.h"

#include "srvutil.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { ADMIN, ALICE, BOB, GUEST, BAD, NROLES };
static const char *const role_names[NROLES] = {"admin", "user", "other user", "guest", "bad token"};
/* What a row's path names: nothing, alice's private or public session, her upload or her
 * monitor connection. */
enum { NONE, PRIV, PUB, UPLOAD, CONN };

typedef struct row {
    const char *method, *path; /* "%s" stands for the object */
    int object;
    const char *body;   /* JSON, or NULL */
    int expect[NROLES]; /* 0: not tried (changes state; covered below) */
} row_t;

/* Every route of docs/api.md with the status each role must get. */
static const row_t table[] = {
    {"GET", "/api/me", NONE, NULL, {200, 200, 200, 200, 401}},
    {"GET", "/metrics", NONE, NULL, {200, 200, 200, 200, 401}},
    {"GET", "/api/sessions", NONE, NULL, {200, 200, 200, 200, 401}},
    {"GET", "/api/sessions/%s", PRIV, NULL, {200, 200, 404, 404, 401}},
    {"GET", "/api/sessions/%s", PUB, NULL, {200, 200, 200, 200, 401}},
    {"GET", "/api/sessions/%s/totals", PRIV, NULL, {200, 200, 404, 404, 401}},
    {"GET", "/api/sessions/%s/totals", PUB, NULL, {200, 200, 200, 200, 401}},
    {"GET", "/api/sessions/%s/totals.txt", PRIV, NULL, {200, 200, 404, 404, 401}},
    {"GET", "/api/sessions/%s/totals.txt", PUB, NULL, {200, 200, 200, 200, 401}},
    {"GET", "/api/sessions/%s/aggregates?series=threads", PRIV, NULL, {200, 200, 404, 404, 401}},
    {"GET", "/api/sessions/%s/aggregates?series=threads", PUB, NULL, {200, 200, 200, 200, 401}},
    {"GET", "/api/sessions/%s/diagram.svg", PRIV, NULL, {200, 200, 404, 404, 401}},
    {"GET", "/api/sessions/%s/diagram.svg", PUB, NULL, {200, 200, 200, 200, 401}},
    {"PATCH", "/api/sessions/%s", PRIV, "{\"name\":\"n\"}", {200, 200, 404, 404, 401}},
    {"PATCH", "/api/sessions/%s", PUB, "{\"name\":\"n\"}", {200, 200, 403, 403, 401}},
    {"DELETE", "/api/sessions/%s", PRIV, NULL, {0, 0, 404, 404, 401}},
    {"DELETE", "/api/sessions/%s", PUB, NULL, {0, 0, 403, 403, 401}},
    {"GET", "/api/uploads/%s", UPLOAD, NULL, {200, 200, 404, 404, 401}},
    {"PUT", "/api/uploads/%s?offset=999", UPLOAD, NULL, {409, 409, 404, 404, 401}},
    {"POST", "/api/uploads/%s/finish", UPLOAD, NULL, {0, 0, 404, 404, 401}},
    {"GET", "/api/users", NONE, NULL, {200, 403, 403, 401, 401}},
    {"POST",
     "/api/users",
     NONE,
     "{\"name\":\"eve\",\"password\":\"eve-secret-1\"}",
     {0, 403, 403, 401, 401}},
    {"GET", "/api/users/bob", NONE, NULL, {200, 403, 403, 401, 401}},
    {"PATCH", "/api/users/bob", NONE, "{\"role\":\"admin\"}", {0, 403, 403, 401, 401}},
    {"DELETE", "/api/users/bob", NONE, NULL, {0, 403, 403, 401, 401}},
    {"GET", "/api/connections", NONE, NULL, {200, 200, 200, 401, 401}},
    {"POST",
     "/api/connections",
     NONE,
     "{\"name\":\"m\",\"host\":\"127.0.0.1\",\"port\":9}",
     {0, 0, 0, 401, 401}},
    {"GET", "/api/connections/%s", CONN, NULL, {200, 200, 404, 401, 401}},
    {"PUT",
     "/api/connections/%s",
     CONN,
     "{\"name\":\"m\",\"host\":\"h\",\"port\":1}",
     {0, 0, 404, 401, 401}},
    {"PATCH", "/api/connections/%s", CONN, "{\"name\":\"x\"}", {200, 200, 404, 401, 401}},
    {"DELETE", "/api/connections/%s", CONN, NULL, {0, 0, 404, 401, 401}},
    {"POST", "/api/connections/%s/connect", CONN, NULL, {202, 202, 404, 401, 401}},
    {"POST", "/api/connections/%s/disconnect", CONN, NULL, {202, 202, 404, 401, 401}},
    {"GET", "/api/admin/retention", NONE, NULL, {200, 403, 403, 401, 401}},
    {"PUT", "/api/admin/retention", NONE, "{}", {200, 403, 403, 401, 401}},
    {"GET", "/api/sessions/%s/retention", PRIV, NULL, {200, 200, 404, 404, 401}},
    {"GET", "/api/sessions/%s/retention", PUB, NULL, {200, 200, 403, 403, 401}},
    {"PUT", "/api/sessions/%s/retention", PRIV, "{}", {200, 403, 404, 404, 401}},
    {"PUT", "/api/sessions/%s/retention", PUB, "{}", {200, 403, 403, 401, 401}},
    {"POST", "/api/auth/logout", NONE, NULL, {0, 0, 0, 401, 401}},
};

static char *create(const srv_t *s, const char *method, const char *path, const char *token,
                    const char *ctype, const void *body, size_t len, const char *field)
{
    httpc_resp_t r;
    int st = srv_req(s, method, path, token, ctype, body, len, &r);
    CHECKF(st == 201, "%s %s: %d %s", method, path, st, r.body ? r.body : "");
    char *v = srv_json_str(r.body, field);
    httpc_resp_dispose(&r);
    REQUIRE(v);
    return v;
}

TEST(security_route_role_table)
{
    srv_t s;
    srv_start(&s, NULL, "");
    srv_add_user(&s, "alice", "alice-secret-1", "user");
    srv_add_user(&s, "bob", "bob-secret-22", "user");
    char *alice = srv_login(&s, "alice", "alice-secret-1", NULL);
    char *bob = srv_login(&s, "bob", "bob-secret-22", NULL);
    REQUIRE(alice && bob);
    const char *tokens[NROLES] = {
        s.admin, alice, bob, NULL,
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"};
    size_t n;
    uint8_t *log = tu_read_file(tu_data("eventlogs/fib-labels-user-only.eventlog"), &n);
    REQUIRE(log);
    const char *oct = "application/octet-stream", *js = "application/json";
    char *priv = create(&s, "POST", "/api/sessions?name=p", alice, oct, log, n, "id");
    char *pub = create(&s, "POST", "/api/sessions?name=q", alice, oct, log, n, "id");
    char path[256];
    snprintf(path, sizeof path, "/api/sessions/%s", pub);
    httpc_resp_t r;
    const char *vis = "{\"visibility\":\"public\"}";
    CHECK(srv_req(&s, "PATCH", path, alice, js, vis, strlen(vis), &r) == 200);
    httpc_resp_dispose(&r);
    free(srv_wait_session(&s, priv, alice, 30));
    free(srv_wait_session(&s, pub, alice, 30));
    char *upload = create(&s, "POST", "/api/uploads?name=u", alice, NULL, NULL, 0, "id");
    snprintf(path, sizeof path, "/api/uploads/%s?offset=0", upload);
    CHECK(srv_req(&s, "PUT", path, alice, oct, log, 1000, &r) == 200);
    httpc_resp_dispose(&r);
    const char *conn_body =
        "{\"name\":\"m\",\"host\":\"127.0.0.1\",\"port\":9,\"token\":\"sekrit\"}";
    char *conn = NULL;
    CHECK(srv_req(&s, "POST", "/api/connections", alice, js, conn_body, strlen(conn_body), &r) ==
          201);
    long long cid = srv_json_int(r.body, "id");
    httpc_resp_dispose(&r);
    REQUIRE(cid > 0 && asprintf(&conn, "%lld", cid) > 0);
    const char *objects[] = {"", priv, pub, upload, conn};

    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const row_t *t = &table[i];
        snprintf(path, sizeof path, t->path, objects[t->object]);
        for (int role = 0; role < NROLES; role++) {
            if (!t->expect[role]) continue;
            int st = srv_req(&s, t->method, path, tokens[role], t->body ? js : NULL, t->body,
                             t->body ? strlen(t->body) : 0, &r);
            CHECKF(st == t->expect[role], "%s %s as %s: %d, expected %d (%.160s)", t->method,
                   t->path, role_names[role], st, t->expect[role], r.body ? r.body : "");
            if (st >= 400) {
                char *err = srv_json_str(r.body, "error");
                CHECKF(err != NULL, "%s %s as %s: no JSON error", t->method, t->path,
                       role_names[role]);
                free(err);
            }
            /* nothing private in any answer to someone who may not read it */
            if (role == BOB || role == GUEST || role == BAD)
                CHECKF(!r.body || (!strstr(r.body, priv) && !strstr(r.body, "sekrit") &&
                                   !strstr(r.body, upload)),
                       "%s %s as %s leaks alice's data: %.200s", t->method, t->path,
                       role_names[role], r.body);
            if (role != ADMIN && role != ALICE && t->object == CONN)
                CHECKF(!r.body || !strstr(r.body, "\"owner\":\"alice\""), "%s %s as %s leaks",
                       t->method, t->path, role_names[role]);
            httpc_resp_dispose(&r);
        }
    }
    /* the lists show each caller what it may see, and write-only fields to nobody */
    const struct {
        int role;
        bool sees_priv;
    } lists[] = {{ADMIN, true}, {ALICE, true}, {BOB, false}, {GUEST, false}};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        CHECK(srv_req(&s, "GET", "/api/sessions", tokens[lists[i].role], NULL, NULL, 0, &r) == 200);
        CHECKF((strstr(r.body, priv) != NULL) == lists[i].sees_priv && strstr(r.body, pub),
               "the session list as %s", role_names[lists[i].role]);
        httpc_resp_dispose(&r);
    }
    CHECK(srv_req(&s, "GET", "/api/connections", alice, NULL, NULL, 0, &r) == 200);
    CHECK(strstr(r.body, "\"host\"") && !strstr(r.body, "sekrit"));
    httpc_resp_dispose(&r);
    CHECK(srv_req(&s, "GET", "/api/connections", bob, NULL, NULL, 0, &r) == 200);
    CHECK(!strstr(r.body, "\"host\""));
    httpc_resp_dispose(&r);
    /* /metrics labels the in-progress upload's session only for those who may read it */
    snprintf(path, sizeof path, "/api/uploads/%s", upload);
    CHECK(srv_req(&s, "GET", path, alice, NULL, NULL, 0, &r) == 200);
    char *upsession = srv_json_str(r.body, "session");
    httpc_resp_dispose(&r);
    REQUIRE(upsession);
    for (int role = 0; role < BAD; role++) {
        CHECK(srv_req(&s, "GET", "/metrics", tokens[role], NULL, NULL, 0, &r) == 200);
        bool listed = r.body && strstr(r.body, upsession);
        CHECKF(listed == (role == ADMIN || role == ALICE), "/metrics as %s: %s", role_names[role],
               listed ? "lists the private session" : "misses the session");
        httpc_resp_dispose(&r);
    }
    free(upsession);
    /* the allowed deletes, last */
    snprintf(path, sizeof path, "/api/sessions/%s", priv);
    CHECK(srv_req(&s, "DELETE", path, alice, NULL, NULL, 0, &r) == 204);
    httpc_resp_dispose(&r);
    snprintf(path, sizeof path, "/api/connections/%s", conn);
    CHECK(srv_req(&s, "DELETE", path, alice, NULL, NULL, 0, &r) == 204);
    httpc_resp_dispose(&r);
    free(priv), free(pub), free(upload), free(conn), free(log), free(alice), free(bob);
    CHECK(srv_stop(&s) == 0);
}

/* Counts token rows that can never be used again (expired or revoked) in the data dir's db. */
static int dead_tokens(const char *data)
{
    char path[700];
    snprintf(path, sizeof path, "%s/meta.sqlite", data);
    sqlite3 *db;
    int n = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db,
                               "SELECT count(*) FROM tokens WHERE revoked != 0 OR "
                               "(expires IS NOT NULL AND expires <= strftime('%s','now'))",
                               -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

TEST(security_tokens_expire_revoke_purge)
{
    srv_t s;
    srv_start(&s, NULL, "--login-ttl 3");
    srv_add_user(&s, "alice", "alice-secret-1", "user");
    char *t1 = srv_login(&s, "alice", "alice-secret-1", NULL);
    char *t2 = srv_login(&s, "alice", "alice-secret-1", NULL);
    REQUIRE(t1 && t2);
    httpc_resp_t r;
    CHECK(srv_req(&s, "GET", "/api/me", t1, NULL, NULL, 0, &r) == 200);
    CHECK(r.body && strstr(r.body, "alice"));
    httpc_resp_dispose(&r);
    /* logout revokes the token used, and only that one */
    CHECK(srv_req(&s, "POST", "/api/auth/logout", t2, NULL, NULL, 0, &r) == 204);
    httpc_resp_dispose(&r);
    CHECK(srv_req(&s, "GET", "/api/me", t2, NULL, NULL, 0, &r) == 401);
    httpc_resp_dispose(&r);
    /* the login lifetime passes: the other token expires too; the API token stays */
    sleep(4);
    CHECK(srv_req(&s, "GET", "/api/me", t1, NULL, NULL, 0, &r) == 401);
    CHECK(r.body && strstr(r.body, "\"error\""));
    httpc_resp_dispose(&r);
    CHECK(srv_req(&s, "GET", "/api/me", s.admin, NULL, NULL, 0, &r) == 200);
    httpc_resp_dispose(&r);
    CHECK(srv_stop(&s) == 0);
    CHECK(dead_tokens(s.data) == 2);
    /* the next start purges them */
    char data[512];
    snprintf(data, sizeof data, "%s", s.data);
    srv_start(&s, data, "--login-ttl 3");
    CHECK(dead_tokens(s.data) == 0);
    CHECK(srv_req(&s, "GET", "/api/me", s.admin, NULL, NULL, 0, &r) == 200);
    httpc_resp_dispose(&r);
    free(t1), free(t2);
    CHECK(srv_stop(&s) == 0);
}

/* Logs in through a raw request; returns the status and copies Retry-After into *retry. */
static int raw_login(const srv_t *s, const char *user, const char *pw, long *retry)
{
    char body[256], req[512];
    int bl = snprintf(body, sizeof body, "{\"user\":\"%s\",\"password\":\"%s\"}", user, pw);
    int rl = snprintf(req, sizeof req,
                      "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                      bl, body);
    char *resp = srv_raw(s, req, (size_t)rl, 10000, NULL);
    int st = srv_raw_status(resp);
    const char *ra = resp ? strcasestr(resp, "\r\nretry-after:") : NULL;
    *retry = ra ? atol(ra + 14) : -1;
    free(resp);
    return st;
}

TEST(security_login_rate_limit)
{
    srv_t s;
    srv_start(&s, NULL, "");
    srv_add_user(&s, "alice", "alice-secret-1", "user");
    srv_add_user(&s, "bob", "bob-secret-22", "user");
    long retry;
    for (int i = 0; i < 5; i++)
        CHECK(raw_login(&s, "alice", "wrong-password", &retry) == 401 && retry == -1);
    /* locked out: even the right password gets 429 with Retry-After, without a check */
    CHECK(raw_login(&s, "alice", "alice-secret-1", &retry) == 429);
    CHECKF(retry >= 1 && retry <= 900, "Retry-After %ld", retry);
    long wait = retry;
    CHECK(raw_login(&s, "alice", "wrong-password", &retry) == 429);
    /* other users are not affected */
    CHECK(raw_login(&s, "bob", "bob-secret-22", &retry) == 200);
    /* after the wait one more try; a failure doubles the wait */
    sleep((unsigned)wait + 1);
    CHECK(raw_login(&s, "alice", "wrong-password", &retry) == 401);
    CHECK(raw_login(&s, "alice", "alice-secret-1", &retry) == 429);
    CHECKF(retry >= 1 && retry <= 2, "Retry-After %ld after the sixth failure", retry);
    sleep((unsigned)retry + 1);
    CHECK(raw_login(&s, "alice", "alice-secret-1", &retry) == 200);
    /* success forgets the failures */
    CHECK(raw_login(&s, "alice", "wrong-password", &retry) == 401);
    CHECK(raw_login(&s, "alice", "alice-secret-1", &retry) == 200);
    CHECK(srv_stop(&s) == 0);
}

/* Every file and folder under dir is closed to group and others; returns how many were seen. */
static int check_modes(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int seen = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) < 0) continue;
        seen++;
        CHECKF((st.st_mode & 077) == 0, "%s has mode %03o", path, st.st_mode & 0777);
        if (S_ISDIR(st.st_mode)) seen += check_modes(path);
    }
    closedir(d);
    return seen;
}

TEST(security_data_dir_modes)
{
    srv_t s;
    umask(022); /* the usual umask: the server must not rely on its caller's */
    srv_start(&s, NULL, "");
    srv_add_user(&s, "alice", "alice-secret-1", "user");
    char *alice = srv_login(&s, "alice", "alice-secret-1", NULL);
    REQUIRE(alice);
    size_t n;
    uint8_t *log = tu_read_file(tu_data("eventlogs/fib-labels.eventlog"), &n);
    REQUIRE(log);
    httpc_resp_t r;
    CHECK(srv_req(&s, "POST", "/api/sessions", alice, "application/octet-stream", log, n, &r) ==
          201);
    char *id = srv_json_str(r.body, "id");
    httpc_resp_dispose(&r);
    REQUIRE(id);
    free(srv_wait_session(&s, id, alice, 30));
    CHECK(srv_req(&s, "POST", "/api/uploads", NULL, NULL, NULL, 0, &r) == 201);
    httpc_resp_dispose(&r);
    struct stat st;
    CHECK(stat(s.data, &st) == 0 && (st.st_mode & 077) == 0);
    int seen = check_modes(s.data);
    CHECKF(seen >= 4, "only %d entries in the data dir", seen);
    CHECK(srv_stop(&s) == 0);
    check_modes(s.data);
    free(id), free(log), free(alice);
}
