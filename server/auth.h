/* Who is calling and what they may do: users with roles, argon2id password hashes and random
 * bearer tokens (stored hashed, compared in constant time) in the metadata database; the
 * admin bootstrap on first start; the visibility rule for sessions. */
#ifndef LP_AUTH_H
#define LP_AUTH_H

#include <stdbool.h>
#include <stdint.h>

typedef struct db db_t;

typedef enum auth_role { AUTH_GUEST = 0, AUTH_USER = 1, AUTH_ADMIN = 2 } auth_role_t;

/* The caller of a request. A guest has user_id 0 and name "". */
typedef struct auth {
    int64_t user_id;
    char name[64];
    auth_role_t role;
    int64_t token_id; /* the token used (for logout), 0 for guests */
} auth_t;

/* Resolves a bearer token: fills *a and returns 0; LP_ENOT_FOUND for an unknown, expired or
 * revoked token. A token accepted lately is answered from memory while the database has had no
 * write since. HTTP thread (it reads the database). */
int auth_check_token(db_t *db, const char *token, auth_t *a);
/* On first start (no users): creates user "admin" with a random password and an API token,
 * writing the token to `token_path` with mode 0600. Returns 0 (also when users exist) or a
 * negative code. Called once at server start. */
int auth_bootstrap(db_t *db, const char *token_path);
/* May the caller read a session owned by `owner_id` with visibility public (true) or private? */
bool auth_can_read(const auth_t *a, int64_t owner_id, bool is_public);
/* May the caller change or delete that session (its owner, or an admin)? */
bool auth_can_write(const auth_t *a, int64_t owner_id);

/* ---- passwords, tokens and login (building blocks of the functions above) ---- */

#define AUTH_HASH_MAX 128   /* bytes of an argon2id hash string, NUL included */
#define AUTH_TOKEN_CHARS 64 /* a token is 32 random bytes written as lowercase hex */

typedef enum auth_token_kind { AUTH_TOKEN_API, AUTH_TOKEN_LOGIN } auth_token_kind_t;

/* Hashes a password with argon2id (libsodium's interactive limits) into out. Returns 0 or a
 * negative code. Any thread (takes ~0.1 s and 64 MiB). */
int auth_password_hash(const char *password, char out[AUTH_HASH_MAX]);
/* True when `password` matches the argon2id hash string `hash` (NULL: false). Any thread. */
bool auth_password_verify(const char *hash, const char *password);
/* Compares two token digests (hex text) in constant time. Any thread. */
bool auth_digest_equal(const char *a, const char *b);
/* Creates a random token for a user and stores only its hash. Login tokens expire after the
 * login lifetime, API tokens never (0 in *expires, which may be NULL). Writes the token text
 * into `token`. Returns 0 or a negative code. HTTP thread. */
int auth_token_create(db_t *db, int64_t user_id, auth_token_kind_t kind,
                      char token[AUTH_TOKEN_CHARS + 1], int64_t *expires);
/* Revokes a token by id. Returns 0 or LP_ENOT_FOUND. HTTP thread. */
int auth_token_revoke(db_t *db, int64_t token_id);
/* Revokes every login token of a user except `keep_token_id` (API tokens stay). Returns 0 or a
 * negative code. HTTP thread. */
int auth_revoke_logins(db_t *db, int64_t user_id, int64_t keep_token_id);
/* Checks a user name and password and on success creates a login token (see
 * auth_token_create). Returns 0, or LP_ENOT_FOUND for a wrong name or password (the same time is
 * spent either way). HTTP thread. */
int auth_login(db_t *db, const char *user, const char *password, char token[AUTH_TOKEN_CHARS + 1],
               int64_t *expires);
/* Sets the lifetime of new login tokens in seconds (default 30 days; negative counts as 0). Call
 * before the server starts. */
void auth_set_login_ttl(int64_t seconds);
/* The lifetime of new login tokens in seconds. */
int64_t auth_login_ttl(void);
/* Deletes the tokens that can never be used again: expired at `now` (Unix seconds) or revoked.
 * Returns how many, or a negative code. HTTP thread. */
int auth_purge_tokens(db_t *db, int64_t now);

#endif
