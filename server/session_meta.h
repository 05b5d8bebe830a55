/* Sessions' metadata rows for the session registry: the struct the registry keeps in memory and
 * its persistence and JSON form, all through the "sessions" resource declaration. */
#ifndef LP_SESSION_META_H
#define LP_SESSION_META_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct db db_t;

typedef struct session_meta {
    char id[33]; /* 32 lowercase hex characters */
    char name[256];
    int64_t owner; /* user id; 0 = guest */
    bool is_public;
    char state[16]; /* ingesting | live | done | failed */
    uint64_t bytes_ingested, events;
    char error[256]; /* "" when none */
    int64_t created; /* Unix seconds; 0 on insert means now */
} session_meta_t;

/* Records a new session. Bytes of name or error that are not UTF-8 are dropped. Returns 0,
 * LP_ECONFLICT (id taken) or LP_EARG (a value the declaration rejects, e.g. an unknown state or
 * an id that is not 32 hex characters). HTTP thread. */
int session_meta_insert(db_t *db, const session_meta_t *m);
/* Writes every field but id, owner and created (bytes that are not UTF-8 dropped, as on insert).
 * Returns 0, LP_ENOT_FOUND or another negative code. HTTP thread. */
int session_meta_update(db_t *db, const session_meta_t *m);
/* Deletes a session's row. Returns 0 or LP_ENOT_FOUND. HTTP thread. */
int session_meta_delete(db_t *db, const char *id);
/* Calls fn(ctx, m) for every stored session, oldest id first (m is valid during the call only).
 * Returns 0 or a negative code. HTTP thread. */
int session_meta_load_all(db_t *db, void (*fn)(void *ctx, const session_meta_t *m), void *ctx);
/* The client's view {"id","name","owner","visibility","state","bytes_ingested","events","error",
 * "created"}: owner is the user's name (null for a guest), error null when empty. Returns a new
 * object or NULL. HTTP thread. */
json_t *session_meta_json(db_t *db, const session_meta_t *m);
/* Validates a PATCH body: {"name"?, "visibility"?: "public"|"private"}, nothing else. Returns 0,
 * or LP_EARG with "field: reason" in err. Any thread. */
int session_meta_validate_patch(json_t *body, char *err, size_t cap);
/* Validates a session name given outside JSON (e.g. ?name=): UTF-8, at most 255 bytes, no
 * control characters. Returns 0, or LP_EARG with "name: reason" in err. Any thread. */
int session_meta_validate_name(const char *name, char *err, size_t cap);

#endif
