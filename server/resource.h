/* Resources declared once: a resource is a table of fields (type, constraints, visibility) from
 * which everything else is derived — the SQLite schema, the validation of JSON input, the JSON
 * output, generic CRUD on rows and generic REST operations with access rules. Rows are jansson
 * objects keyed by field name holding the stored values (integers, strings, booleans, null). */
#ifndef LP_RESOURCE_H
#define LP_RESOURCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "http.h"

typedef struct db db_t;

typedef enum resource_type {
    RT_INT,      /* JSON integer; SQL INTEGER */
    RT_TEXT,     /* JSON string; SQL TEXT */
    RT_BOOL,     /* JSON true/false; SQL INTEGER 0/1 */
    RT_ENUM,     /* JSON string out of .values; SQL TEXT */
    RT_TIME,     /* JSON "2024-05-01T12:00:00Z" (UTC); SQL INTEGER Unix seconds */
    RT_PASSWORD, /* JSON string in, stored as an argon2id hash; must be write-only */
    RT_USER,     /* SQL INTEGER user id (0: guest); JSON the user's name, or null */
} resource_type_t;

enum resource_flag {
    RF_KEY = 1 << 0,      /* primary key (INTEGER keys are assigned on insert, never reused) */
    RF_REQUIRED = 1 << 1, /* must be given on create and on PUT */
    RF_UNIQUE = 1 << 2,   /* no two rows share a value */
    RF_NULL = 1 << 3,     /* may be null */
    RF_RO = 1 << 4,       /* read-only: shown, rejected in input (400) */
    RF_WO = 1 << 5,       /* write-only: accepted in input, never shown */
    RF_HIDDEN = 1 << 6,   /* internal: neither shown nor accepted (an unknown field to clients) */
    RF_NOW = 1 << 7,      /* set to the current time on insert when absent */
    RF_CASCADE = 1 << 8,  /* RT_USER: references users(id); the row goes when its user goes */
};

/* Characters a text field may hold. */
typedef enum resource_charset {
    RC_TEXT,    /* any UTF-8 without control characters */
    RC_NAME,    /* [A-Za-z0-9_.-] */
    RC_HEX,     /* [0-9a-f] */
    RC_HOST,    /* [A-Za-z0-9_.:[]-]: a host name or an IP address */
    RC_VISIBLE, /* printable ASCII without space */
} resource_charset_t;

typedef struct resource_field {
    const char *name;
    resource_type_t type;
    unsigned flags;
    int64_t min, max;          /* RT_INT: range (both 0: any); text: length in bytes (max 0: any) */
    const char *const *values; /* RT_ENUM: the allowed values, NULL-terminated */
    resource_charset_t charset;
    const char *def; /* default, as text ("user", "0"); NULL: none */
} resource_field_t;

typedef struct resource {
    const char *name; /* table name and the key of list answers */
    const resource_field_t *fields;
    size_t nfields;
} resource_t;

/* A declaration is an X-macro of F(name, type, flags, .min = ..., ...) lines, one per field;
 * RESOURCE_INIT turns it into the initializer of a resource_t at file scope. */
#define RESOURCE_VALUES(...) ((const char *const[]){__VA_ARGS__, NULL})
#define RESOURCE_FIELD_(fname, ftype, ...) {#fname, ftype, __VA_ARGS__},
#define RESOURCE_INIT(tname, FIELDS)                                                               \
    {                                                                                              \
        tname, (const resource_field_t[]){FIELDS(RESOURCE_FIELD_)},                                \
            sizeof((const resource_field_t[]){FIELDS(RESOURCE_FIELD_)}) / sizeof(resource_field_t) \
    }

typedef enum resource_mode {
    RESOURCE_CREATE,  /* a new row: required fields must be there */
    RESOURCE_REPLACE, /* PUT: like create; absent writable fields return to their default */
    RESOURCE_PATCH,   /* any subset of the writable fields */
} resource_mode_t;

/* ---- declarations, schema, validation, mapping (resource.c); any thread unless noted ---- */

/* The field called `name`, or NULL. */
const resource_field_t *resource_field(const resource_t *res, const char *name);
/* The key field of a resource. */
const resource_field_t *resource_key(const resource_t *res);
/* Checks a declaration for consistency (one key, enum values, defaults, visibility). Returns 0 or
 * LP_EARG with the reason in err. */
int resource_check(const resource_t *res, char *err, size_t cap);
/* Creates the table of `res` when missing and adds columns declared since (with their default).
 * Returns 0 or a negative code. Database thread. */
int resource_create_table(db_t *db, const resource_t *res);
/* Validates a JSON request body against the declaration: an object whose members are known,
 * writable fields with values of the right type and within the constraints; on create/replace
 * the required fields must be there. Returns 0, or LP_EARG with "field: reason" in err. */
int resource_validate(const resource_t *res, const json_t *body, resource_mode_t mode, char *err,
                      size_t cap);
/* Turns a validated body into row values (passwords hashed, times parsed; on replace absent
 * writable fields get their default or null). Returns 0 and a new object in *row, or a negative
 * code. */
int resource_from_json(const resource_t *res, const json_t *body, resource_mode_t mode,
                       json_t **row);
/* The JSON shown to clients for a row: visible fields only (never write-only or hidden ones),
 * times as text, users as names. Returns a new object, or NULL when out of memory. Borrows row.
 * Database thread (user names are looked up). */
json_t *resource_to_json(db_t *db, const resource_t *res, const json_t *row);
/* Formats Unix seconds as "YYYY-MM-DDTHH:MM:SSZ" into out (at least 32 bytes). */
void resource_time_text(int64_t t, char *out, size_t cap);
/* Parses such a text; returns 0 and *t, or LP_EARG. */
int resource_time_parse(const char *s, int64_t *t);

/* ---- generic CRUD on rows (resource_sql.c); database thread ---- */

/* Inserts a row (any fields, no input checks beyond the schema's; RF_NOW fields default to now).
 * Returns 0 and, when `stored` is not NULL, the stored row (new reference); LP_ECONFLICT when a
 * unique value or the key exists, LP_EARG when a constraint fails. Borrows row. */
int resource_insert(db_t *db, const resource_t *res, const json_t *row, json_t **stored);
/* The first row (by key) whose `field` equals `value`: 0 and a new object, or LP_ENOT_FOUND. */
int resource_find(db_t *db, const resource_t *res, const char *field, const json_t *value,
                  json_t **row);
/* The row with key `key`: 0 and a new object, or LP_ENOT_FOUND. */
int resource_get(db_t *db, const resource_t *res, const json_t *key, json_t **row);
/* All rows (field NULL) or those whose `field` equals `value`, by key: 0 and a new array. */
int resource_list(db_t *db, const resource_t *res, const char *field, const json_t *value,
                  json_t **rows);
/* Counts the rows whose `field` equals `value` (all rows when field is NULL). */
int resource_count(db_t *db, const resource_t *res, const char *field, const json_t *value,
                   int64_t *n);
/* Sets the fields of `changes` in the row with key `key`. Returns 0, LP_ENOT_FOUND,
 * LP_ECONFLICT or LP_EARG. Borrows changes. */
int resource_update(db_t *db, const resource_t *res, const json_t *key, const json_t *changes);
/* Deletes the row with key `key` (and, through the schema, rows that cascade from it). Returns 0
 * or LP_ENOT_FOUND. */
int resource_delete(db_t *db, const resource_t *res, const json_t *key);

/* ---- generic REST operations (resource_api.c); HTTP thread ---- */

/* The outcome of an operation: a status with a JSON body, or an error for http_send_error. */
typedef struct resource_reply {
    int status;
    json_t *body;      /* status < 400: the answer (owned), NULL for 204 */
    const char *error; /* status >= 400: short code ("invalid", "not_found", ...) */
    char detail[256];  /* status >= 400: human-readable detail */
} resource_reply_t;

typedef enum resource_op {
    RESOURCE_OP_CREATE,
    RESOURCE_OP_UPDATE,
    RESOURCE_OP_DELETE
} resource_op_t;

/* How a resource is served: its access rules and optional hooks. */
typedef struct resource_api {
    const resource_t *res;
    const char *path_field;  /* the field the path parameter names (NULL: the key) */
    const char *owner_field; /* RT_USER field of the row's owner: non-admins see only their own
                                rows (others are 404) and creation sets it to the caller */
    auth_role_t min_role;    /* AUTH_USER: signed-in users (guests 401); AUTH_ADMIN: admins only
                                (guests 401, users 403) */
    /* Vetoes a change before it is made: old is the row (NULL on create), row the new values
     * (the whole row on create, the changes on update, NULL on delete). Returns 0, or fills *out
     * with an error (resource_reply_error) and returns -1. */
    int (*check)(db_t *db, const auth_t *a, resource_op_t op, const json_t *old, const json_t *row,
                 resource_reply_t *out);
    /* Runs after a change was made, with the same arguments. */
    void (*after)(db_t *db, const auth_t *a, resource_op_t op, const json_t *old,
                  const json_t *row);
} resource_api_t;

/* Sets an error outcome (status, short code, printf-style detail). */
void resource_reply_error(resource_reply_t *out, int status, const char *error, const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));
/* Releases the body of an outcome. */
void resource_reply_dispose(resource_reply_t *out);
/* GET /api/<res>: 200 {"<res>": [...]} with the rows the caller may see. */
void resource_api_list(db_t *db, const resource_api_t *api, const auth_t *a, resource_reply_t *out);
/* GET /api/<res>/{param}: 200 with the row, or 404. */
void resource_api_get(db_t *db, const resource_api_t *api, const auth_t *a, const char *param,
                      resource_reply_t *out);
/* POST /api/<res>: validates `body` (borrowed), inserts, 201 with the row. */
void resource_api_create(db_t *db, const resource_api_t *api, const auth_t *a, const json_t *body,
                         resource_reply_t *out);
/* PATCH (mode RESOURCE_PATCH) or PUT (RESOURCE_REPLACE) /api/<res>/{param}: 200 with the row. */
void resource_api_update(db_t *db, const resource_api_t *api, const auth_t *a, const char *param,
                         const json_t *body, resource_mode_t mode, resource_reply_t *out);
/* DELETE /api/<res>/{param}: 204. */
void resource_api_delete(db_t *db, const resource_api_t *api, const auth_t *a, const char *param,
                         resource_reply_t *out);
/* Applies server-chosen `changes` (not input-checked: read-only fields allowed) to a row the
 * caller may see; answers `status` with the row. */
void resource_api_set(db_t *db, const resource_api_t *api, const auth_t *a, const char *param,
                      const json_t *changes, int status, resource_reply_t *out);

/* The request body as a JSON object (new reference), or NULL after answering 415 (a content type
 * other than application/json) or 400 (not a JSON object). */
json_t *resource_http_body(http_req_t *r);
/* Sends an outcome (and disposes it). */
void resource_http_send(http_req_t *r, resource_reply_t *out);
/* Complete handlers for the generic operations, taking the path parameter from r->params[0]. */
void resource_http_list(http_req_t *r, const resource_api_t *api);
void resource_http_get(http_req_t *r, const resource_api_t *api);
void resource_http_create(http_req_t *r, const resource_api_t *api);
void resource_http_update(http_req_t *r, const resource_api_t *api, resource_mode_t mode);
void resource_http_delete(http_req_t *r, const resource_api_t *api);

#endif
