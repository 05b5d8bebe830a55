/* Who is calling and what they may do: argon2id password hashes, random bearer tokens stored only
 * as BLAKE2b digests and compared in constant time, login with expiring tokens, the admin
 * bootstrap on first start and the session visibility rule. Rows go through the resource layer. */
#include "auth.h"

#include "db.h"
#include "err.h"
#include "resources.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

_Static_assert(AUTH_HASH_MAX >= crypto_pwhash_STRBYTES, "AUTH_HASH_MAX holds an argon2id hash");

static int64_t login_ttl = 30 * 24 * 3600;

void auth_set_login_ttl(int64_t seconds)
{
    login_ttl = seconds < 0 ? 0 : seconds;
}

int64_t auth_login_ttl(void)
{
    return login_ttl;
}

static int sodium_ready(void)
{
    return sodium_init() < 0 ? LP_EIO : 0;
}

/* ---- passwords ---------------------------------------------------------------------------- */

int auth_password_hash(const char *password, char out[AUTH_HASH_MAX])
{
    if (sodium_ready() < 0) return LP_EIO;
    if (crypto_pwhash_str_alg(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return LP_ENOMEM;
    return 0;
}

bool auth_password_verify(const char *hash, const char *password)
{
    if (!hash || !password || sodium_ready() < 0) return false;
    /* the library takes a buffer of crypto_pwhash_STRBYTES: a shorter stored string (a damaged
     * row) is copied into one, so that nothing past its end is read */
    char h[crypto_pwhash_STRBYTES] = {0};
    size_t n = strnlen(hash, sizeof h);
    if (n == sizeof h) return false; /* no hash is that long */
    memcpy(h, hash, n);
    return crypto_pwhash_str_verify(h, password, strlen(password)) == 0;
}

/* ---- tokens ------------------------------------------------------------------------------- */

/* The stored form of a token: the hex BLAKE2b-256 digest of its text. */
static void token_digest(const char *token, char hex[AUTH_TOKEN_CHARS + 1])
{
    unsigned char d[32];
    crypto_generichash(d, sizeof d, (const unsigned char *)token, strlen(token), NULL, 0);
    sodium_bin2hex(hex, AUTH_TOKEN_CHARS + 1, d, sizeof d);
}

/* True for 64 lowercase hex characters, the only shape a token has. */
static bool token_shaped(const char *t)
{
    size_t n = 0;
    for (; t[n]; n++)
        if (n >= AUTH_TOKEN_CHARS ||
            !((t[n] >= '0' && t[n] <= '9') || (t[n] >= 'a' && t[n] <= 'f')))
            return false;
    return n == AUTH_TOKEN_CHARS;
}

bool auth_digest_equal(const char *a, const char *b)
{
    if (!a || !b || strlen(a) != AUTH_TOKEN_CHARS || strlen(b) != AUTH_TOKEN_CHARS) return false;
    return sodium_memcmp(a, b, AUTH_TOKEN_CHARS) == 0;
}

/* Records the hash of `token` for a user. */
static int token_store(db_t *db, int64_t user_id, auth_token_kind_t kind, const char *token,
                       int64_t *expires)
{
    char digest[AUTH_TOKEN_CHARS + 1];
    token_digest(token, digest);
    int64_t until = kind == AUTH_TOKEN_LOGIN ? (int64_t)time(NULL) + login_ttl : 0;
    json_t *row = json_pack("{s:I, s:s, s:s, s:o}", "user", (json_int_t)user_id, "hash", digest,
                            "kind", kind == AUTH_TOKEN_LOGIN ? "login" : "api", "expires",
                            until ? json_integer(until) : json_null());
    if (!row) return LP_ENOMEM;
    int ret = resource_insert(db, &resource_tokens, row, NULL);
    json_decref(row);
    if (ret == 0 && expires) *expires = until;
    return ret;
}

int auth_token_create(db_t *db, int64_t user_id, auth_token_kind_t kind,
                      char token[AUTH_TOKEN_CHARS + 1], int64_t *expires)
{
    if (sodium_ready() < 0) return LP_EIO;
    unsigned char rnd[32];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(token, AUTH_TOKEN_CHARS + 1, rnd, sizeof rnd);
    sodium_memzero(rnd, sizeof rnd);
    return token_store(db, user_id, kind, token, expires);
}

/* Fills *a from the user row of a valid token row. */
static int caller_from(db_t *db, const json_t *tok, auth_t *a)
{
    json_t *user;
    int ret = resource_get(db, &resource_users, json_object_get(tok, "user"), &user);
    if (ret < 0) return ret;
    a->user_id = json_integer_value(json_object_get(user, "id"));
    snprintf(a->name, sizeof a->name, "%s", json_string_value(json_object_get(user, "name")));
    const char *role = json_string_value(json_object_get(user, "role"));
    a->role = role && !strcmp(role, "admin") ? AUTH_ADMIN : AUTH_USER;
    a->token_id = json_integer_value(json_object_get(tok, "id"));
    json_decref(user);
    return 0;
}

/* Tokens accepted lately. Checking one costs two SQLite lookups (the token, then its user), about
 * a quarter of a small request's time; an entry answers instead while its database has had no
 * write since (revoking, purging, deleting a user or changing a role are writes; so is any other,
 * which only costs a lookup more) and the token has not expired. A lock, for tests that run
 * servers side by side in one process. */
#define CACHE_SLOTS 64

typedef struct cached {
    uint64_t db;     /* db_serial, 0 for an empty slot */
    int64_t changes; /* db_changes when the token was looked up */
    int64_t expires; /* as the token's row says; 0: never */
    char digest[AUTH_TOKEN_CHARS + 1];
    auth_t a;
} cached_t;

static cached_t cache[CACHE_SLOTS];
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;

/* The slot of a digest (lowercase hex of a hash: its first two digits are as good as any). */
static cached_t *cache_slot(const char *digest)
{
    unsigned v = 0;
    for (int i = 0; i < 2; i++)
        v = v << 4 | (unsigned)(digest[i] <= '9' ? digest[i] - '0' : digest[i] - 'a' + 10);
    return &cache[v % CACHE_SLOTS];
}

int auth_check_token(db_t *db, const char *token, auth_t *a)
{
    memset(a, 0, sizeof *a);
    if (!token || !token_shaped(token) || sodium_ready() < 0) return LP_ENOT_FOUND;
    char digest[AUTH_TOKEN_CHARS + 1];
    token_digest(token, digest);
    int64_t changes = db_changes(db), now = (int64_t)time(NULL);
    cached_t *c = cache_slot(digest);
    pthread_mutex_lock(&cache_mu);
    bool hit = c->db == db_serial(db) && c->changes == changes &&
               (c->expires == 0 || now < c->expires) && auth_digest_equal(c->digest, digest);
    if (hit) *a = c->a;
    pthread_mutex_unlock(&cache_mu);
    if (hit) return 0;
    json_t *key = json_string(digest), *tok = NULL;
    int ret = key ? resource_find(db, &resource_tokens, "hash", key, &tok) : LP_ENOMEM;
    json_decref(key);
    json_t *exp = ret == 0 ? json_object_get(tok, "expires") : NULL;
    if (ret == 0) {
        if (!auth_digest_equal(json_string_value(json_object_get(tok, "hash")), digest) ||
            json_is_true(json_object_get(tok, "revoked")) ||
            (json_is_integer(exp) && now >= json_integer_value(exp)))
            ret = LP_ENOT_FOUND;
    }
    if (ret == 0) ret = caller_from(db, tok, a);
    if (ret == 0) {
        pthread_mutex_lock(&cache_mu);
        c->db = db_serial(db);
        c->changes = changes;
        c->expires = json_is_integer(exp) ? json_integer_value(exp) : 0;
        memcpy(c->digest, digest, sizeof c->digest);
        c->a = *a;
        pthread_mutex_unlock(&cache_mu);
    }
    json_decref(tok);
    if (ret < 0) memset(a, 0, sizeof *a);
    return ret;
}

int auth_token_revoke(db_t *db, int64_t token_id)
{
    json_t *key = json_integer(token_id), *changes = json_pack("{s:b}", "revoked", 1);
    int ret = key && changes ? resource_update(db, &resource_tokens, key, changes) : LP_ENOMEM;
    json_decref(key);
    json_decref(changes);
    return ret;
}

int auth_revoke_logins(db_t *db, int64_t user_id, int64_t keep_token_id)
{
    json_t *uid = json_integer(user_id), *rows = NULL, *tok;
    int ret = uid ? resource_list(db, &resource_tokens, "user", uid, &rows) : LP_ENOMEM;
    json_decref(uid);
    size_t i;
    json_array_foreach(rows, i, tok)
    {
        int64_t id = json_integer_value(json_object_get(tok, "id"));
        const char *kind = json_string_value(json_object_get(tok, "kind"));
        if (ret == 0 && id != keep_token_id && kind && !strcmp(kind, "login") &&
            !json_is_true(json_object_get(tok, "revoked")))
            ret = auth_token_revoke(db, id);
    }
    json_decref(rows);
    return ret;
}

int auth_purge_tokens(db_t *db, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db_handle(db),
                                "DELETE FROM tokens WHERE revoked != 0 OR "
                                "(expires IS NOT NULL AND expires <= ?1)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 1, now);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_status(rc);
    return sqlite3_changes(db_handle(db));
}

/* ---- login -------------------------------------------------------------------------------- */

/* A hash no password is known for, verified against when the user does not exist so that an
 * unknown name costs as much time as a wrong password. */
static const char *decoy_hash(void)
{
    static char hash[AUTH_HASH_MAX];
    if (!hash[0]) {
        unsigned char rnd[16];
        char pw[33];
        randombytes_buf(rnd, sizeof rnd);
        sodium_bin2hex(pw, sizeof pw, rnd, sizeof rnd);
        if (auth_password_hash(pw, hash) < 0) hash[0] = 0;
    }
    return hash[0] ? hash : NULL;
}

int auth_login(db_t *db, const char *user, const char *password, char token[AUTH_TOKEN_CHARS + 1],
               int64_t *expires)
{
    if (sodium_ready() < 0) return LP_EIO;
    json_t *name = json_string(user), *row = NULL;
    int ret = name ? resource_find(db, &resource_users, "name", name, &row) : LP_ENOT_FOUND;
    json_decref(name);
    if (ret == LP_ENOT_FOUND) {
        auth_password_verify(decoy_hash(), password);
        return LP_ENOT_FOUND;
    }
    if (ret < 0) return ret;
    bool ok = auth_password_verify(json_string_value(json_object_get(row, "password")), password);
    int64_t id = json_integer_value(json_object_get(row, "id"));
    json_decref(row);
    if (!ok) return LP_ENOT_FOUND;
    return auth_token_create(db, id, AUTH_TOKEN_LOGIN, token, expires);
}

/* ---- bootstrap ---------------------------------------------------------------------------- */

/* Reads an existing token file: 0 and the token, LP_ENOT_FOUND when absent, LP_EARG when it does
 * not hold a token, LP_EIO when unreadable. */
static int read_token_file(const char *path, char token[AUTH_TOKEN_CHARS + 1])
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? LP_ENOT_FOUND : LP_EIO;
    char buf[AUTH_TOKEN_CHARS + 16];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0) return LP_EIO;
    while (n > 0 && strchr(" \t\r\n", buf[n - 1]))
        n--;
    buf[n] = 0;
    if (!token_shaped(buf)) return LP_EARG;
    memcpy(token, buf, AUTH_TOKEN_CHARS + 1);
    sodium_memzero(buf, sizeof buf);
    return 0;
}

/* Writes the token (and a newline) to `path`, mode 0600, durably: a temporary file, fsync,
 * rename, fsync of the directory. */
static int write_token_file(const char *path, const char *token)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return LP_EARG;
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = 0;
    else if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return LP_EIO;
    char line[AUTH_TOKEN_CHARS + 2];
    snprintf(line, sizeof line, "%s\n", token);
    bool ok = fchmod(fd, 0600) == 0 && write(fd, line, strlen(line)) == (ssize_t)strlen(line) &&
              fsync(fd) == 0;
    sodium_memzero(line, sizeof line);
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) < 0) {
        unlink(tmp);
        return LP_EIO;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* Creates user "admin" with a random password nobody knows (set one with PATCH /api/users). */
static int create_admin(db_t *db, int64_t *id)
{
    unsigned char rnd[32];
    char pw[65];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(pw, sizeof pw, rnd, sizeof rnd);
    json_t *body = json_pack("{s:s, s:s, s:s}", "name", "admin", "password", pw, "role", "admin");
    sodium_memzero(pw, sizeof pw);
    json_t *row = NULL, *stored = NULL;
    int ret = body ? resource_from_json(&resource_users, body, RESOURCE_CREATE, &row) : LP_ENOMEM;
    if (ret == 0) ret = resource_insert(db, &resource_users, row, &stored);
    if (ret == 0) *id = json_integer_value(json_object_get(stored, "id"));
    json_decref(body);
    json_decref(row);
    json_decref(stored);
    return ret;
}

int auth_bootstrap(db_t *db, const char *token_path)
{
    int64_t users;
    int ret = resource_count(db, &resource_users, NULL, NULL, &users);
    if (ret < 0 || users > 0) return ret;
    if (sodium_ready() < 0) return LP_EIO;
    char token[AUTH_TOKEN_CHARS + 1];
    ret = read_token_file(token_path, token);
    bool existing = ret == 0;
    if (ret == LP_ENOT_FOUND) {
        unsigned char rnd[32];
        randombytes_buf(rnd, sizeof rnd);
        sodium_bin2hex(token, sizeof token, rnd, sizeof rnd);
        ret = 0;
    }
    if (ret < 0) return ret;
    int64_t admin = 0;
    ret = db_begin(db);
    if (ret < 0) return ret;
    ret = create_admin(db, &admin);
    if (ret == 0) ret = token_store(db, admin, AUTH_TOKEN_API, token, NULL);
    bool wrote = false;
    if (ret == 0 && !existing) {
        ret = write_token_file(token_path, token);
        wrote = ret == 0;
    }
    if (ret == 0) ret = db_commit(db);
    if (ret < 0) {
        db_rollback(db);
        if (wrote) unlink(token_path);
    }
    sodium_memzero(token, sizeof token);
    return ret;
}

/* ---- access rules ------------------------------------------------------------------------- */

bool auth_can_read(const auth_t *a, int64_t owner_id, bool is_public)
{
    return is_public || auth_can_write(a, owner_id);
}

bool auth_can_write(const auth_t *a, int64_t owner_id)
{
    if (a->role == AUTH_ADMIN) return true;
    return a->role != AUTH_GUEST && a->user_id != 0 && a->user_id == owner_id;
}
