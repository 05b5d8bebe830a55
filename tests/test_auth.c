/* Authentication and authorization: argon2id passwords, token creation, checking, expiry and
 * revocation (only hashes stored, compared in constant time), login and logout, the admin
 * bootstrap and its token file, the session visibility rule and the users API's rules. */
#include "test.h"

#include "api.h"
#include "auth.h"
#include "db.h"
#include "dbutil.h"
#include "err.h"
#include "resources.h"
#include "session_meta.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    CHECKF(v, "bad test JSON %s: %s", text, e.text);
    REQUIRE(v);
    return v;
}

/* Creates a user through the declaration (so the password is hashed); returns its id. */
static int64_t make_user(db_t *db, const char *name, const char *password, const char *role)
{
    json_t *body = json_pack("{s:s, s:s, s:s}", "name", name, "password", password, "role", role);
    json_t *row, *stored;
    REQUIRE(resource_from_json(&resource_users, body, RESOURCE_CREATE, &row) == 0);
    REQUIRE(resource_insert(db, &resource_users, row, &stored) == 0);
    int64_t id = json_integer_value(json_object_get(stored, "id"));
    json_decref(stored);
    json_decref(row);
    json_decref(body);
    return id;
}

static int64_t count(db_t *db, const resource_t *res)
{
    int64_t n = -1;
    CHECK(resource_count(db, res, NULL, NULL, &n) == 0);
    return n;
}

static void expect(resource_reply_t *out, int status, const char *error, int line)
{
    if (out->status != status || (error && (!out->error || strcmp(out->error, error))))
        test_fail(__FILE__, line, "got %d %s (%s), want %d %s", out->status,
                  out->error ? out->error : "-", out->detail, status, error ? error : "-");
}
#define EXPECT(out, status, error) expect(out, status, error, __LINE__)

TEST(auth_password_argon2id)
{
    char h1[AUTH_HASH_MAX], h2[AUTH_HASH_MAX];
    REQUIRE(auth_password_hash("correct horse", h1) == 0);
    REQUIRE(auth_password_hash("correct horse", h2) == 0);
    CHECKF(!strncmp(h1, "$argon2id$", 10), "hash: %s", h1);
    CHECK(strcmp(h1, h2) != 0); /* salted */
    CHECK(auth_password_verify(h1, "correct horse"));
    CHECK(auth_password_verify(h2, "correct horse"));
    CHECK(!auth_password_verify(h1, "correct horsE"));
    CHECK(!auth_password_verify(h1, ""));
    CHECK(!auth_password_verify(NULL, "correct horse"));
    CHECK(!auth_password_verify("-", "correct horse"));
}

TEST(auth_token_lifecycle)
{
    db_t *db = tu_open_db("meta.db");
    int64_t uid = make_user(db, "carol", "password1", "user");
    char tok[AUTH_TOKEN_CHARS + 1];
    int64_t expires = -1;
    REQUIRE(auth_token_create(db, uid, AUTH_TOKEN_API, tok, &expires) == 0);
    CHECK(strlen(tok) == AUTH_TOKEN_CHARS && strspn(tok, "0123456789abcdef") == AUTH_TOKEN_CHARS);
    CHECK(expires == 0);
    auth_t a;
    REQUIRE(auth_check_token(db, tok, &a) == 0);
    CHECK(a.user_id == uid && !strcmp(a.name, "carol") && a.role == AUTH_USER && a.token_id > 0);

    /* Only a digest is stored, and the API token never expires. */
    json_t *rows;
    REQUIRE(resource_list(db, &resource_tokens, NULL, NULL, &rows) == 0);
    char *dump = json_dumps(rows, 0);
    CHECKF(!strstr(dump, tok), "token text stored: %s", dump);
    CHECK(json_is_null(json_object_get(json_array_get(rows, 0), "expires")));
    free(dump);
    json_decref(rows);

    char wrong[AUTH_TOKEN_CHARS + 1];
    memcpy(wrong, tok, sizeof wrong);
    wrong[AUTH_TOKEN_CHARS - 1] = wrong[AUTH_TOKEN_CHARS - 1] == '0' ? '1' : '0';
    a.user_id = 77;
    CHECK(auth_check_token(db, wrong, &a) == LP_ENOT_FOUND && a.user_id == 0 &&
          a.role == AUTH_GUEST);
    const char *malformed[] = {"", "abc",
                               "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
                               "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        CHECKF(auth_check_token(db, malformed[i], &a) == LP_ENOT_FOUND, "%s", malformed[i]);
    CHECK(auth_check_token(db, NULL, &a) == LP_ENOT_FOUND);

    /* Login tokens expire after the configured lifetime. */
    CHECK(auth_login_ttl() == 30 * 24 * 3600);
    char login[AUTH_TOKEN_CHARS + 1];
    time_t t0 = time(NULL);
    REQUIRE(auth_token_create(db, uid, AUTH_TOKEN_LOGIN, login, &expires) == 0);
    CHECK(expires >= (int64_t)t0 + 30 * 24 * 3600 &&
          expires <= (int64_t)time(NULL) + 30 * 24 * 3600);
    CHECK(auth_check_token(db, login, &a) == 0);
    auth_set_login_ttl(0);
    REQUIRE(auth_token_create(db, uid, AUTH_TOKEN_LOGIN, login, &expires) == 0);
    CHECK(auth_check_token(db, login, &a) == LP_ENOT_FOUND);
    auth_set_login_ttl(-5);
    CHECK(auth_login_ttl() == 0);
    auth_set_login_ttl(3600);
    REQUIRE(auth_token_create(db, uid, AUTH_TOKEN_LOGIN, login, &expires) == 0);
    REQUIRE(auth_check_token(db, login, &a) == 0);
    json_t *key = json_integer(a.token_id), *past = json_pack("{s:I}", "expires", (json_int_t)1);
    REQUIRE(resource_update(db, &resource_tokens, key, past) == 0);
    CHECK(auth_check_token(db, login, &a) == LP_ENOT_FOUND);
    json_decref(key);
    json_decref(past);

    /* Revocation, and tokens go with their user. */
    REQUIRE(auth_check_token(db, tok, &a) == 0);
    CHECK(auth_token_revoke(db, a.token_id) == 0);
    CHECK(auth_check_token(db, tok, &a) == LP_ENOT_FOUND);
    CHECK(auth_token_revoke(db, 12345) == LP_ENOT_FOUND);
    REQUIRE(auth_token_create(db, uid, AUTH_TOKEN_API, tok, NULL) == 0);
    REQUIRE(auth_check_token(db, tok, &a) == 0);
    json_t *ukey = json_integer(uid);
    REQUIRE(resource_delete(db, &resource_users, ukey) == 0);
    CHECK(auth_check_token(db, tok, &a) == LP_ENOT_FOUND);
    CHECK(count(db, &resource_tokens) == 0);
    json_decref(ukey);
    auth_set_login_ttl(30 * 24 * 3600);
    db_close(db);
}

/* A token checked a moment ago is answered from memory, yet never past a write to its database
 * (a role change here), past its expiry, or for another database. */
TEST(auth_token_recent_checks)
{
    db_t *db = tu_open_db("meta.db");
    int64_t uid = make_user(db, "dave", "password1", "user");
    char tok[AUTH_TOKEN_CHARS + 1];
    REQUIRE(auth_token_create(db, uid, AUTH_TOKEN_API, tok, NULL) == 0);
    auth_t a;
    for (int i = 0; i < 3; i++) {
        REQUIRE(auth_check_token(db, tok, &a) == 0);
        CHECK(a.user_id == uid && a.role == AUTH_USER && !strcmp(a.name, "dave"));
    }
    json_t *key = json_integer(uid), *admin = json_pack("{s:s}", "role", "admin");
    REQUIRE(resource_update(db, &resource_users, key, admin) == 0);
    REQUIRE(auth_check_token(db, tok, &a) == 0);
    CHECK(a.user_id == uid && a.role == AUTH_ADMIN);
    json_decref(key);
    json_decref(admin);

    /* the same token text means nothing to another database */
    db_t *other = tu_open_db("other.db");
    CHECK(auth_check_token(other, tok, &a) == LP_ENOT_FOUND && a.user_id == 0);
    db_close(other);

    /* a login token accepted a moment ago expires with no write in between */
    auth_set_login_ttl(1);
    char login[AUTH_TOKEN_CHARS + 1];
    int64_t expires;
    REQUIRE(auth_token_create(db, uid, AUTH_TOKEN_LOGIN, login, &expires) == 0);
    while ((int64_t)time(NULL) >= expires) { /* created just before the second turned */
        REQUIRE(auth_token_create(db, uid, AUTH_TOKEN_LOGIN, login, &expires) == 0);
    }
    REQUIRE(auth_check_token(db, login, &a) == 0);
    REQUIRE(auth_check_token(db, login, &a) == 0);
    while ((int64_t)time(NULL) < expires)
        usleep(50000);
    CHECK(auth_check_token(db, login, &a) == LP_ENOT_FOUND);
    auth_set_login_ttl(30 * 24 * 3600);
    db_close(db);
}

TEST(auth_constant_time_compare)
{
    const char *d = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    char e[65];
    memcpy(e, d, sizeof e);
    CHECK(auth_digest_equal(d, e));
    e[63] = '0';
    CHECK(!auth_digest_equal(d, e));
    e[63] = 'f';
    e[0] = '1';
    CHECK(!auth_digest_equal(d, e));
    CHECK(!auth_digest_equal(d, "0011"));
    CHECK(!auth_digest_equal(d, NULL) && !auth_digest_equal(NULL, d));
    /* The digest comparison in the source is libsodium's constant-time one, never memcmp. */
    size_t len;
    char *src = (char *)tu_read_file("server/auth.c", &len);
    REQUIRE(src);
    int plain = 0, sodium = 0;
    for (const char *p = src; (p = strstr(p, "memcmp(")); p++) {
        if (p >= src + 7 && !strncmp(p - 7, "sodium_", 7))
            sodium++;
        else
            plain++;
    }
    CHECK(sodium >= 1 && plain == 0);
    const char *check = strstr(src, "int auth_check_token(");
    CHECK(check && strstr(check, "auth_digest_equal("));
    free(src);
}

TEST(auth_login_and_logout)
{
    db_t *db = tu_open_db("meta.db");
    int64_t uid = make_user(db, "dora", "correct horse", "admin");
    char tok[AUTH_TOKEN_CHARS + 1];
    int64_t expires = 0;
    REQUIRE(auth_login(db, "dora", "correct horse", tok, &expires) == 0);
    CHECK(expires > (int64_t)time(NULL));
    auth_t a;
    REQUIRE(auth_check_token(db, tok, &a) == 0);
    CHECK(a.user_id == uid && a.role == AUTH_ADMIN);
    CHECK(auth_login(db, "dora", "wrong horse", tok, &expires) == LP_ENOT_FOUND);
    CHECK(auth_login(db, "nobody", "correct horse", tok, &expires) == LP_ENOT_FOUND);

    static const char *const bad[][2] = {
        {"{\"user\": \"dora\"}", "password: required"},
        {"{\"password\": \"x\"}", "user: required"},
        {"{\"user\": \"dora\", \"password\": \"x\", \"remember\": true}",
         "remember: unknown field"},
        {"{\"user\": 1, \"password\": \"x\"}", "user: must be a string"},
    };
    resource_reply_t out = {0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *body = J(bad[i][0]);
        api_auth_login(db, body, &out);
        EXPECT(&out, 400, "invalid");
        CHECKF(!strcmp(out.detail, bad[i][1]), "%s: %s", bad[i][0], out.detail);
        json_decref(body);
    }
    json_t *body = J("{\"user\": \"dora\", \"password\": \"wrong horse\"}");
    api_auth_login(db, body, &out);
    EXPECT(&out, 401, "bad_credentials");
    json_decref(body);
    body = J("{\"user\": \"nobody\", \"password\": \"wrong horse\"}");
    api_auth_login(db, body, &out);
    EXPECT(&out, 401, "bad_credentials");
    json_decref(body);
    body = J("{\"user\": \"dora\", \"password\": \"correct horse\"}");
    api_auth_login(db, body, &out);
    EXPECT(&out, 200, NULL);
    REQUIRE(out.body);
    const char *t = json_string_value(json_object_get(out.body, "token"));
    const char *exp = json_string_value(json_object_get(out.body, "expires"));
    REQUIRE(t && exp);
    CHECKF(strlen(exp) == 20 && exp[10] == 'T' && exp[19] == 'Z', "expires %s", exp);
    int64_t when = 0;
    CHECK(resource_time_parse(exp, &when) == 0 && when > (int64_t)time(NULL) + 29 * 86400);
    REQUIRE(auth_check_token(db, t, &a) == 0);
    json_decref(body);

    auth_t guest = {0};
    resource_reply_t lo = {0};
    api_auth_logout(db, &guest, &lo);
    EXPECT(&lo, 401, "unauthorized");
    api_auth_logout(db, &a, &lo);
    EXPECT(&lo, 204, NULL);
    CHECK(auth_check_token(db, t, &a) == LP_ENOT_FOUND);
    CHECK(auth_check_token(db, tok, &a) == 0); /* the other login stays */
    resource_reply_dispose(&out);

    json_t *me = api_auth_me(&guest), *want = J("{\"name\": null, \"role\": \"guest\"}");
    CHECK(json_equal(me, want));
    json_decref(me);
    json_decref(want);
    me = api_auth_me(&a);
    want = J("{\"name\": \"dora\", \"role\": \"admin\"}");
    CHECK(json_equal(me, want));
    json_decref(me);
    json_decref(want);
    db_close(db);
}

static char *token_file(const char *path)
{
    size_t n;
    return (char *)tu_read_file(path, &n);
}

TEST(auth_bootstrap_token_file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/admin.token", tu_tmpdir());
    umask(0); /* the mode must not depend on the umask */
    db_t *db = tu_open_db("meta.db");
    REQUIRE(auth_bootstrap(db, path) == 0);
    struct stat st;
    REQUIRE(stat(path, &st) == 0);
    CHECKF((st.st_mode & 0777) == 0600, "mode %o", (unsigned)(st.st_mode & 0777));
    char *first = token_file(path);
    REQUIRE(first);
    CHECKF(strlen(first) == AUTH_TOKEN_CHARS + 1 && first[AUTH_TOKEN_CHARS] == '\n', "file: %s",
           first);
    first[AUTH_TOKEN_CHARS] = 0;
    auth_t a;
    REQUIRE(auth_check_token(db, first, &a) == 0);
    CHECK(!strcmp(a.name, "admin") && a.role == AUTH_ADMIN);
    CHECK(count(db, &resource_users) == 1 && count(db, &resource_tokens) == 1);

    /* Idempotent: users exist, nothing changes. */
    REQUIRE(auth_bootstrap(db, path) == 0);
    char *again = token_file(path);
    CHECK(again && !strncmp(again, first, AUTH_TOKEN_CHARS));
    CHECK(count(db, &resource_users) == 1 && count(db, &resource_tokens) == 1);
    free(again);
    db_close(db);

    /* A fresh database keeps an existing token file and honours its token. */
    db = tu_open_db("other.db");
    REQUIRE(auth_bootstrap(db, path) == 0);
    again = token_file(path);
    CHECK(again && !strncmp(again, first, AUTH_TOKEN_CHARS));
    CHECK(auth_check_token(db, first, &a) == 0 && a.role == AUTH_ADMIN);
    free(again);
    db_close(db);

    /* A file that holds no token is an error, and nothing is created. */
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fputs("not a token\n", f);
    fclose(f);
    db = tu_open_db("third.db");
    CHECK(auth_bootstrap(db, path) == LP_EARG);
    CHECK(count(db, &resource_users) == 0);
    db_close(db);

    /* An unwritable place for the file leaves no admin behind. */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/missing/admin.token", tu_tmpdir());
    db = tu_open_db("fourth.db");
    CHECK(auth_bootstrap(db, bad) == LP_EIO);
    CHECK(count(db, &resource_users) == 0);
    db_close(db);
    free(first);
}

TEST(auth_can_read_write_table)
{
    const auth_t guest = {0}, owner = {7, "o", AUTH_USER, 1}, other = {8, "x", AUTH_USER, 2},
                 admin = {9, "a", AUTH_ADMIN, 3};
    const struct {
        const auth_t *a;
        int64_t owner;
        bool pub, read, write;
    } rows[] = {
        {&guest, 7, true, true, false}, {&guest, 7, false, false, false},
        {&guest, 0, true, true, false}, {&guest, 0, false, false, false},
        {&owner, 7, true, true, true},  {&owner, 7, false, true, true},
        {&other, 7, true, true, false}, {&other, 7, false, false, false},
        {&other, 0, true, true, false}, {&admin, 7, false, true, true},
        {&admin, 0, true, true, true},  {&admin, 0, false, true, true},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        CHECKF(auth_can_read(rows[i].a, rows[i].owner, rows[i].pub) == rows[i].read, "row %zu read",
               i);
        CHECKF(auth_can_write(rows[i].a, rows[i].owner) == rows[i].write, "row %zu write", i);
    }
}

TEST(auth_users_api_rules)
{
    db_t *db = tu_open_db("meta.db");
    const resource_api_t *api = &api_users_spec;
    auth_t guest = {0}, root = {make_user(db, "root", "password0", "admin"), "root", AUTH_ADMIN, 0};
    auth_t ann = {make_user(db, "ann", "password1", "user"), "ann", AUTH_USER, 0};
    resource_reply_t out = {0};
    json_t *body = J("{\"name\": \"dave\", \"password\": \"password2\"}");
    resource_api_list(db, api, &guest, &out);
    EXPECT(&out, 401, "unauthorized");
    resource_api_list(db, api, &ann, &out);
    EXPECT(&out, 403, "forbidden");
    resource_api_create(db, api, &ann, body, &out);
    EXPECT(&out, 403, "forbidden");
    resource_api_delete(db, api, &ann, "root", &out);
    EXPECT(&out, 403, "forbidden");

    resource_api_create(db, api, &root, body, &out);
    EXPECT(&out, 201, NULL);
    REQUIRE(out.body);
    CHECK(!strcmp(json_string_value(json_object_get(out.body, "role")), "user"));
    CHECK(!json_object_get(out.body, "password"));
    resource_reply_dispose(&out);
    resource_api_create(db, api, &root, body, &out);
    EXPECT(&out, 409, "conflict");
    CHECKF(!strcmp(out.detail, "name: already taken"), "%s", out.detail);
    json_decref(body);
    body = J("{\"name\": \"bad name\", \"password\": \"password2\"}");
    resource_api_create(db, api, &root, body, &out);
    EXPECT(&out, 400, "invalid");
    json_decref(body);
    resource_api_list(db, api, &root, &out);
    EXPECT(&out, 200, NULL);
    char *dump = json_dumps(out.body, 0);
    CHECKF(json_array_size(json_object_get(out.body, "users")) == 3 && !strstr(dump, "argon"), "%s",
           dump);
    free(dump);
    resource_reply_dispose(&out);
    resource_api_get(db, api, &root, "dave", &out);
    EXPECT(&out, 200, NULL);
    resource_reply_dispose(&out);
    resource_api_get(db, api, &root, "nobody", &out);
    EXPECT(&out, 404, "not_found");

    /* Admin rules: not yourself, never the last admin. */
    resource_api_delete(db, api, &root, "root", &out);
    EXPECT(&out, 409, "self");
    body = J("{\"role\": \"user\"}");
    resource_api_update(db, api, &root, "root", body, RESOURCE_PATCH, &out);
    EXPECT(&out, 409, "last_admin");
    auth_t stranger = {999, "gone", AUTH_ADMIN, 0};
    resource_api_delete(db, api, &stranger, "root", &out);
    EXPECT(&out, 409, "last_admin");
    json_t *promote = J("{\"role\": \"admin\"}");
    resource_api_update(db, api, &root, "dave", promote, RESOURCE_PATCH, &out);
    EXPECT(&out, 200, NULL);
    resource_reply_dispose(&out);
    resource_api_update(db, api, &root, "dave", body, RESOURCE_PATCH, &out);
    EXPECT(&out, 200, NULL);
    resource_reply_dispose(&out);
    resource_api_update(db, api, &root, "dave", promote, RESOURCE_PATCH, &out);
    resource_reply_dispose(&out);
    resource_api_update(db, api, &root, "root", body, RESOURCE_PATCH, &out);
    EXPECT(&out, 200, NULL); /* dave is an admin now */
    resource_reply_dispose(&out);
    json_decref(promote);
    json_decref(body);
    body = J("{\"id\": 5}");
    resource_api_update(db, api, &root, "ann", body, RESOURCE_PATCH, &out);
    EXPECT(&out, 400, "invalid");
    json_decref(body);

    /* A user who owns sessions stays until they are gone. */
    session_meta_t s = {
        .id = "0123456789abcdef0123456789abcdef", .owner = ann.user_id, .state = "done"};
    REQUIRE(session_meta_insert(db, &s) == 0);
    resource_api_delete(db, api, &root, "ann", &out);
    EXPECT(&out, 409, "owns_sessions");

    /* A password change signs the user's logins out; API tokens stay; renames keep tokens. */
    char l1[AUTH_TOKEN_CHARS + 1], l2[AUTH_TOKEN_CHARS + 1], api_tok[AUTH_TOKEN_CHARS + 1];
    REQUIRE(auth_login(db, "ann", "password1", l1, NULL) == 0);
    REQUIRE(auth_login(db, "ann", "password1", l2, NULL) == 0);
    REQUIRE(auth_token_create(db, ann.user_id, AUTH_TOKEN_API, api_tok, NULL) == 0);
    body = J("{\"password\": \"new password\"}");
    resource_api_update(db, api, &root, "ann", body, RESOURCE_PATCH, &out);
    EXPECT(&out, 200, NULL);
    resource_reply_dispose(&out);
    json_decref(body);
    auth_t a;
    CHECK(auth_check_token(db, l1, &a) == LP_ENOT_FOUND);
    CHECK(auth_check_token(db, l2, &a) == LP_ENOT_FOUND);
    CHECK(auth_check_token(db, api_tok, &a) == 0);
    CHECK(auth_login(db, "ann", "password1", l1, NULL) == LP_ENOT_FOUND);
    CHECK(auth_login(db, "ann", "new password", l1, NULL) == 0);
    body = J("{\"name\": \"anna\"}");
    resource_api_update(db, api, &root, "ann", body, RESOURCE_PATCH, &out);
    EXPECT(&out, 200, NULL);
    resource_reply_dispose(&out);
    json_decref(body);
    CHECK(auth_check_token(db, l1, &a) == 0 && !strcmp(a.name, "anna"));
    resource_api_get(db, api, &root, "ann", &out);
    EXPECT(&out, 404, "not_found");

    REQUIRE(session_meta_delete(db, s.id) == 0);
    resource_api_delete(db, api, &root, "anna", &out);
    EXPECT(&out, 204, NULL);
    CHECK(auth_check_token(db, api_tok, &a) == LP_ENOT_FOUND);
    db_close(db);
}
