/* Resources declared once, part one: the declarations' instances, their consistency check, the
 * SQLite schema they imply (created, and extended when fields were added), the validation of JSON
 * input and the mapping between JSON and rows. */
#include "resource.h"
#include "resources.h"

#include "auth.h"
#include "db.h"
#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const resource_t resource_users = RESOURCE_INIT("users", RESOURCE_USERS);
const resource_t resource_tokens = RESOURCE_INIT("tokens", RESOURCE_TOKENS);
const resource_t resource_connections = RESOURCE_INIT("connections", RESOURCE_CONNECTIONS);
const resource_t resource_sessions = RESOURCE_INIT("sessions", RESOURCE_SESSIONS);
const resource_t *const resource_all[] = {&resource_users, &resource_tokens, &resource_connections,
                                          &resource_sessions};
const size_t resource_nall = sizeof resource_all / sizeof resource_all[0];

#define MAX_FIELDS 64 /* a resource's fields fit one 64-bit mask */

static bool integer_type(resource_type_t t)
{
    return t == RT_INT || t == RT_BOOL || t == RT_TIME || t == RT_USER;
}

static bool accepted(const resource_field_t *f)
{
    return !(f->flags & (RF_RO | RF_HIDDEN));
}

const resource_field_t *resource_field(const resource_t *res, const char *name)
{
    for (size_t i = 0; i < res->nfields; i++)
        if (!strcmp(res->fields[i].name, name)) return &res->fields[i];
    return NULL;
}

const resource_field_t *resource_key(const resource_t *res)
{
    for (size_t i = 0; i < res->nfields; i++)
        if (res->fields[i].flags & RF_KEY) return &res->fields[i];
    return NULL;
}

/* ---- declarations ------------------------------------------------------------------------- */

static bool parse_int(const char *s, int64_t *v)
{
    char *end;
    if (!*s) return false;
    long long x = strtoll(s, &end, 10);
    *v = x;
    return *end == 0;
}

static bool enum_has(const resource_field_t *f, const char *s)
{
    for (const char *const *v = f->values; v && *v; v++)
        if (!strcmp(*v, s)) return true;
    return false;
}

/* True when the declared default suits the field's type. */
static bool default_ok(const resource_field_t *f)
{
    int64_t v;
    if (f->type == RT_BOOL) return !strcmp(f->def, "0") || !strcmp(f->def, "1");
    if (integer_type(f->type)) return parse_int(f->def, &v);
    if (f->type == RT_ENUM) return enum_has(f, f->def);
    return f->type == RT_TEXT;
}

/* Why the field's declaration is inconsistent, or NULL. */
static const char *field_problem(const resource_field_t *f)
{
    unsigned vis = f->flags & (RF_RO | RF_WO | RF_HIDDEN);
    if (vis & (vis - 1)) return "read-only, write-only and hidden exclude each other";
    if ((f->flags & RF_KEY) && f->type != RT_INT && f->type != RT_TEXT)
        return "a key is an int or a text";
    if ((f->flags & RF_KEY) && (f->flags & RF_NULL)) return "a key cannot be null";
    if (f->type == RT_ENUM && (!f->values || !f->values[0])) return "an enum needs values";
    if (f->type == RT_PASSWORD && !(f->flags & RF_WO)) return "a password is write-only";
    if (f->type == RT_PASSWORD && (f->flags & RF_UNIQUE)) return "a password cannot be unique";
    if (f->type == RT_USER && accepted(f)) return "a user reference is read-only or hidden";
    if ((f->flags & RF_CASCADE) && f->type != RT_USER) return "only a user reference cascades";
    if ((f->flags & RF_NOW) && f->type != RT_TIME) return "only a time defaults to now";
    if (f->min < 0 && f->type != RT_INT) return "a length cannot be negative";
    if (f->max < f->min && (f->type == RT_INT || f->max)) return "max is below min";
    if (f->def && !default_ok(f)) return "the default does not suit the type";
    if (accepted(f) && !(f->flags & (RF_REQUIRED | RF_NULL | RF_KEY)) && !f->def)
        return "an optional input needs a default or null";
    return NULL;
}

int resource_check(const resource_t *res, char *err, size_t cap)
{
    size_t keys = 0;
    if (res->nfields > MAX_FIELDS) {
        snprintf(err, cap, "more than %d fields", MAX_FIELDS);
        return LP_EARG;
    }
    for (size_t i = 0; i < res->nfields; i++) {
        const resource_field_t *f = &res->fields[i];
        const char *why = field_problem(f);
        for (size_t j = 0; j < i && !why; j++)
            if (!strcmp(res->fields[j].name, f->name)) why = "declared twice";
        if (why) {
            snprintf(err, cap, "%s: %s", f->name, why);
            return LP_EARG;
        }
        keys += (f->flags & RF_KEY) != 0;
    }
    if (keys != 1) {
        snprintf(err, cap, "a resource needs exactly one key");
        return LP_EARG;
    }
    return 0;
}

/* ---- schema ------------------------------------------------------------------------------- */

/* Appends the column definition of f; `added` for ALTER TABLE ADD COLUMN, which takes no key or
 * unique constraint and no NOT NULL without a default. */
static void column_sql(sqlite3_str *s, const resource_field_t *f, bool added)
{
    bool integer = integer_type(f->type);
    sqlite3_str_appendf(s, "\"%w\" %s", f->name, integer ? "INTEGER" : "TEXT");
    if ((f->flags & RF_KEY) && !added)
        sqlite3_str_appendall(s, integer ? " PRIMARY KEY AUTOINCREMENT" : " PRIMARY KEY");
    if (!(f->flags & RF_NULL) && (!added || f->def)) sqlite3_str_appendall(s, " NOT NULL");
    if ((f->flags & RF_UNIQUE) && !added) sqlite3_str_appendall(s, " UNIQUE");
    if (f->def) sqlite3_str_appendf(s, integer ? " DEFAULT %s" : " DEFAULT %Q", f->def);
    if (f->type == RT_ENUM) {
        sqlite3_str_appendf(s, " CHECK (\"%w\" IN (", f->name);
        for (const char *const *v = f->values; *v; v++)
            sqlite3_str_appendf(s, "%s%Q", v == f->values ? "" : ", ", *v);
        sqlite3_str_appendall(s, "))");
    }
    if (f->type == RT_BOOL) sqlite3_str_appendf(s, " CHECK (\"%w\" IN (0, 1))", f->name);
    if (f->type == RT_INT && (f->min || f->max))
        sqlite3_str_appendf(s, " CHECK (\"%w\" BETWEEN %lld AND %lld)", f->name, (long long)f->min,
                            (long long)f->max);
    if (f->type == RT_TEXT && (f->min || f->max))
        sqlite3_str_appendf(s, " CHECK (length(CAST(\"%w\" AS BLOB)) BETWEEN %lld AND %lld)",
                            f->name, (long long)f->min, (long long)(f->max ? f->max : INT64_MAX));
    if (f->flags & RF_CASCADE) sqlite3_str_appendall(s, " REFERENCES users(id) ON DELETE CASCADE");
}

static int exec_str(db_t *db, sqlite3_str *s)
{
    char *sql = sqlite3_str_finish(s);
    if (!sql) return LP_ENOMEM;
    int ret = db_exec(db, sql);
    sqlite3_free(sql);
    return ret;
}

/* Sets a bit per declared field that the existing table has. */
static int existing_columns(db_t *db, const resource_t *res, uint64_t *have)
{
    sqlite3_stmt *st;
    int rc =
        sqlite3_prepare_v2(db_handle(db), "SELECT name FROM pragma_table_info(?)", -1, &st, NULL);
    if (rc != SQLITE_OK) return db_status(rc);
    sqlite3_bind_text(st, 1, res->name, -1, SQLITE_STATIC);
    *have = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        for (size_t i = 0; name && i < res->nfields; i++)
            if (!strcmp(res->fields[i].name, name)) *have |= 1ull << i;
    }
    sqlite3_finalize(st);
    return db_status(rc);
}

int resource_create_table(db_t *db, const resource_t *res)
{
    sqlite3_str *s = sqlite3_str_new(db_handle(db));
    sqlite3_str_appendf(s, "CREATE TABLE IF NOT EXISTS \"%w\" (", res->name);
    for (size_t i = 0; i < res->nfields; i++) {
        if (i) sqlite3_str_appendall(s, ", ");
        column_sql(s, &res->fields[i], false);
    }
    sqlite3_str_appendall(s, ")");
    int ret = exec_str(db, s);
    uint64_t have = 0;
    if (ret == 0) ret = existing_columns(db, res, &have);
    for (size_t i = 0; ret == 0 && i < res->nfields; i++) {
        const resource_field_t *f = &res->fields[i];
        if (have & (1ull << i)) continue;
        if (f->flags & RF_KEY) return LP_EARG; /* a key cannot be added to a table */
        s = sqlite3_str_new(db_handle(db));
        sqlite3_str_appendf(s, "ALTER TABLE \"%w\" ADD COLUMN ", res->name);
        column_sql(s, f, true);
        ret = exec_str(db, s);
        if (ret == 0 && (f->flags & RF_UNIQUE)) {
            s = sqlite3_str_new(db_handle(db));
            sqlite3_str_appendf(s, "CREATE UNIQUE INDEX IF NOT EXISTS \"%w_%w\" ON \"%w\"(\"%w\")",
                                res->name, f->name, res->name, f->name);
            ret = exec_str(db, s);
        }
    }
    return ret;
}

/* ---- validation --------------------------------------------------------------------------- */

static bool charset_has(resource_charset_t cs, unsigned char c)
{
    bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    switch (cs) {
    case RC_NAME:
        return alnum || c == '_' || c == '.' || c == '-';
    case RC_HEX:
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    case RC_HOST:
        return alnum || strchr("_.:[]-", c) != NULL;
    case RC_VISIBLE:
        return c > 0x20 && c < 0x7f;
    case RC_TEXT:
        break;
    }
    return c >= 0x20 && c != 0x7f;
}

static const char *charset_rule(resource_charset_t cs)
{
    switch (cs) {
    case RC_NAME:
        return "may contain only letters, digits, '_', '.' and '-'";
    case RC_HEX:
        return "must be lowercase hexadecimal";
    case RC_HOST:
        return "must be a host name or an IP address";
    case RC_VISIBLE:
        return "must be printable ASCII without spaces";
    case RC_TEXT:
        break;
    }
    return "must not contain control characters";
}

/* Checks a text value's length and characters; writes the reason and returns -1 when wrong. */
static int text_problem(const resource_field_t *f, const json_t *v, char *why, size_t cap)
{
    const char *s = json_string_value(v);
    int64_t n = (int64_t)json_string_length(v);
    const char *unit = f->charset == RC_TEXT ? "bytes" : "characters";
    long long lo = f->min, hi = f->max;
    if (memchr(s, 0, (size_t)n)) {
        snprintf(why, cap, "must not contain NUL characters");
        return -1;
    }
    if (n < f->min || (f->max && n > f->max)) {
        if (hi && lo == hi)
            snprintf(why, cap, "must be exactly %lld %s long", hi, unit);
        else if (hi && lo > 0)
            snprintf(why, cap, "must be %lld to %lld %s long", lo, hi, unit);
        else if (hi)
            snprintf(why, cap, "must be at most %lld %s long", hi, unit);
        else
            snprintf(why, cap, "must be at least %lld %s long", lo, unit);
        return -1;
    }
    if (f->type == RT_PASSWORD) return 0; /* any characters but NUL */
    for (int64_t i = 0; i < n; i++)
        if (!charset_has(f->charset, (unsigned char)s[i])) {
            snprintf(why, cap, "%s", charset_rule(f->charset));
            return -1;
        }
    return 0;
}

/* Checks one input value against its field; writes the reason and returns -1 when wrong. */
static int value_problem(const resource_field_t *f, const json_t *v, char *why, size_t cap)
{
    int64_t t;
    if (json_is_null(v)) {
        if (f->flags & RF_NULL) return 0;
        snprintf(why, cap, "must not be null");
        return -1;
    }
    switch (f->type) {
    case RT_INT:
        if (!json_is_integer(v)) {
            snprintf(why, cap, "must be an integer");
            return -1;
        }
        t = json_integer_value(v);
        if ((f->min || f->max) && (t < f->min || t > f->max)) {
            snprintf(why, cap, "must be between %lld and %lld", (long long)f->min,
                     (long long)f->max);
            return -1;
        }
        return 0;
    case RT_BOOL:
        if (json_is_boolean(v)) return 0;
        snprintf(why, cap, "must be true or false");
        return -1;
    case RT_TIME:
        if (json_is_string(v) && resource_time_parse(json_string_value(v), &t) == 0) return 0;
        snprintf(why, cap, "must be a UTC time like 2024-05-01T12:00:00Z");
        return -1;
    case RT_ENUM: {
        if (json_is_string(v) && enum_has(f, json_string_value(v))) return 0;
        size_t n = (size_t)snprintf(why, cap, "must be one of");
        for (const char *const *e = f->values; *e && n < cap; e++)
            n += (size_t)snprintf(why + n, cap - n, "%s %s", e == f->values ? "" : ",", *e);
        return -1;
    }
    case RT_TEXT:
    case RT_PASSWORD:
        if (json_is_string(v)) return text_problem(f, v, why, cap);
        snprintf(why, cap, "must be a string");
        return -1;
    case RT_USER:
        break;
    }
    snprintf(why, cap, "cannot be set");
    return -1;
}

/* Copies at most `max` bytes of UTF-8 text s into out, never cutting a character. */
static void clip_utf8(const char *s, size_t max, char *out)
{
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(out, s, n);
    out[n] = 0;
}

int resource_validate(const resource_t *res, const json_t *body, resource_mode_t mode, char *err,
                      size_t cap)
{
    if (!json_is_object(body)) {
        snprintf(err, cap, "the body must be a JSON object");
        return LP_EARG;
    }
    const char *k;
    json_t *v;
    char why[160], name[68];
    json_object_foreach((json_t *)body, k, v)
    {
        const resource_field_t *f = resource_field(res, k);
        clip_utf8(k, 64, name);
        if (!f || (f->flags & RF_HIDDEN)) {
            snprintf(err, cap, "%s: unknown field", name);
            return LP_EARG;
        }
        if (f->flags & RF_RO) {
            snprintf(err, cap, "%s: read-only field", name);
            return LP_EARG;
        }
        if (value_problem(f, v, why, sizeof why) < 0) {
            snprintf(err, cap, "%s: %s", name, why);
            return LP_EARG;
        }
    }
    for (size_t i = 0; mode != RESOURCE_PATCH && i < res->nfields; i++) {
        const resource_field_t *f = &res->fields[i];
        if ((f->flags & RF_REQUIRED) && !json_object_get(body, f->name)) {
            snprintf(err, cap, "%s: required", f->name);
            return LP_EARG;
        }
    }
    return 0;
}

/* ---- mapping ------------------------------------------------------------------------------ */

void resource_time_text(int64_t t, char *out, size_t cap)
{
    struct tm tm;
    time_t tt = (time_t)t;
    /* four-digit years always (strftime's %Y writes year 12 as "12", which does not parse) */
    if (!gmtime_r(&tt, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
        snprintf(out, cap, "1970-01-01T00:00:00Z");
    else
        snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int resource_time_parse(const char *s, int64_t *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (strlen(s) != 20) return LP_EARG;
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end) return LP_EARG;
    *t = (int64_t)timegm(&tm);
    return 0;
}

/* The default of f as a row value (null when it has none). */
static json_t *default_value(const resource_field_t *f)
{
    int64_t v = 0;
    if (!f->def) return json_null();
    if (f->type == RT_BOOL) return json_boolean(f->def[0] == '1');
    if (integer_type(f->type)) return parse_int(f->def, &v) ? json_integer(v) : json_null();
    return json_string(f->def);
}

/* The row value for one validated input value. */
static int input_value(const resource_field_t *f, const json_t *v, json_t **out)
{
    *out = NULL;
    if (json_is_null(v)) {
        *out = json_null();
    } else if (f->type == RT_PASSWORD) {
        char hash[AUTH_HASH_MAX];
        int ret = auth_password_hash(json_string_value(v), hash);
        if (ret < 0) return ret;
        *out = json_string(hash);
    } else if (f->type == RT_TIME) {
        int64_t t;
        if (!json_is_string(v) || resource_time_parse(json_string_value(v), &t) < 0) return LP_EARG;
        *out = json_integer(t);
    } else {
        *out = json_deep_copy(v);
    }
    return *out ? 0 : LP_ENOMEM;
}

int resource_from_json(const resource_t *res, const json_t *body, resource_mode_t mode,
                       json_t **row)
{
    *row = NULL;
    json_t *out = json_object();
    if (!out) return LP_ENOMEM;
    const char *k;
    json_t *v;
    int ret = 0;
    json_object_foreach((json_t *)body, k, v)
    {
        const resource_field_t *f = resource_field(res, k);
        json_t *val;
        if (!f || !accepted(f)) ret = LP_EARG;
        if (ret == 0) ret = input_value(f, v, &val);
        if (ret == 0 && json_object_set_new(out, f->name, val) < 0) ret = LP_ENOMEM;
        if (ret < 0) break;
    }
    for (size_t i = 0; ret == 0 && mode == RESOURCE_REPLACE && i < res->nfields; i++) {
        const resource_field_t *f = &res->fields[i];
        if (accepted(f) && !(f->flags & RF_KEY) && !json_object_get(out, f->name) &&
            json_object_set_new(out, f->name, default_value(f)) < 0)
            ret = LP_ENOMEM;
    }
    if (ret < 0) {
        json_decref(out);
        return ret;
    }
    *row = out;
    return 0;
}

/* The name of user `id` (a new string), or null for a guest or a user that is gone. */
static json_t *user_name(db_t *db, const json_t *id)
{
    json_t *u = NULL, *name = NULL;
    if (json_integer_value(id) != 0 && resource_get(db, &resource_users, id, &u) == 0)
        name = json_incref(json_object_get(u, "name"));
    json_decref(u);
    return name ? name : json_null();
}

json_t *resource_to_json(db_t *db, const resource_t *res, const json_t *row)
{
    json_t *out = json_object();
    for (size_t i = 0; out && i < res->nfields; i++) {
        const resource_field_t *f = &res->fields[i];
        json_t *v = json_object_get(row, f->name), *shown;
        if (!v || (f->flags & (RF_WO | RF_HIDDEN))) continue;
        if (json_is_null(v)) {
            shown = json_null();
        } else if (f->type == RT_TIME) {
            char t[32];
            resource_time_text(json_integer_value(v), t, sizeof t);
            shown = json_string(t);
        } else if (f->type == RT_USER) {
            shown = user_name(db, v);
        } else {
            shown = json_incref(v);
        }
        if (json_object_set_new(out, f->name, shown) < 0) {
            json_decref(out);
            out = NULL;
        }
    }
    return out;
}
