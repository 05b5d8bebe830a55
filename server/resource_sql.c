/* Resources declared once, part two: generic CRUD. Statements are built from the declaration
 * (names quoted, values always bound as parameters) and rows travel as jansson objects. */
#include "resource.h"

#include "db.h"
#include "err.h"

#include <string.h>
#include <time.h>

static bool integer_type(resource_type_t t)
{
    return t == RT_INT || t == RT_BOOL || t == RT_TIME || t == RT_USER;
}

/* Binds a row value to parameter i as the field's SQL type; LP_EARG when the JSON type is wrong. */
static int bind_value(sqlite3_stmt *st, int i, const resource_field_t *f, const json_t *v)
{
    if (!v || json_is_null(v)) return db_status(sqlite3_bind_null(st, i));
    if (f->type == RT_BOOL) {
        if (!json_is_boolean(v)) return LP_EARG;
        return db_status(sqlite3_bind_int(st, i, json_is_true(v)));
    }
    if (integer_type(f->type)) {
        if (!json_is_integer(v)) return LP_EARG;
        return db_status(sqlite3_bind_int64(st, i, json_integer_value(v)));
    }
    if (!json_is_string(v)) return LP_EARG;
    return db_status(sqlite3_bind_text64(st, i, json_string_value(v), json_string_length(v),
                                         SQLITE_TRANSIENT, SQLITE_UTF8));
}

/* Reads the current result row (columns in declaration order) into a new object. */
static json_t *read_row(const resource_t *res, sqlite3_stmt *st)
{
    json_t *row = json_object();
    for (size_t i = 0; row && i < res->nfields; i++) {
        const resource_field_t *f = &res->fields[i];
        int c = (int)i;
        json_t *v;
        if (sqlite3_column_type(st, c) == SQLITE_NULL)
            v = json_null();
        else if (f->type == RT_BOOL)
            v = json_boolean(sqlite3_column_int64(st, c) != 0);
        else if (integer_type(f->type))
            v = json_integer(sqlite3_column_int64(st, c));
        else
            v = json_stringn((const char *)sqlite3_column_text(st, c),
                             (size_t)sqlite3_column_bytes(st, c));
        if (!v) v = json_null(); /* text that is not UTF-8 (never written by this code) */
        if (json_object_set_new(row, f->name, v) < 0) {
            json_decref(row);
            row = NULL;
        }
    }
    return row;
}

static void select_sql(sqlite3_str *s, const resource_t *res)
{
    sqlite3_str_appendall(s, "SELECT ");
    for (size_t i = 0; i < res->nfields; i++)
        sqlite3_str_appendf(s, "%s\"%w\"", i ? ", " : "", res->fields[i].name);
    sqlite3_str_appendf(s, " FROM \"%w\"", res->name);
}

/* Prepares the statement built in s (which it consumes): kept prepared by the database for the
 * next time (db_prepare), handed back with db_finish. */
static int prepare(db_t *db, sqlite3_str *s, sqlite3_stmt **st)
{
    *st = NULL;
    char *sql = sqlite3_str_finish(s);
    if (!sql) return LP_ENOMEM;
    int ret = db_prepare(db, sql, st);
    sqlite3_free(sql);
    return ret;
}

/* Steps a statement without results to its end and hands it back. */
static int run(db_t *db, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    db_finish(db, st);
    return rc == SQLITE_DONE ? 0 : db_status(rc) ? db_status(rc) : LP_EIO;
}

/* Prepares "<prefix> WHERE field IS ?" (no WHERE when field is NULL) with value bound. */
static int prepare_where(db_t *db, const resource_t *res, sqlite3_str *s, const char *field,
                         const json_t *value, const char *suffix, sqlite3_stmt **st)
{
    const resource_field_t *f = field ? resource_field(res, field) : NULL;
    if (field && !f) {
        sqlite3_free(sqlite3_str_finish(s));
        return LP_EARG;
    }
    if (f) sqlite3_str_appendf(s, " WHERE \"%w\" IS ?", f->name);
    sqlite3_str_appendall(s, suffix);
    int ret = prepare(db, s, st);
    if (ret == 0 && f) ret = bind_value(*st, 1, f, value);
    if (ret < 0) {
        db_finish(db, *st);
        *st = NULL;
    }
    return ret;
}

/* Rows where field = value (every row when field is NULL, as prepare_where does), ordered by
 * the key, with `limit` (0: none). Returns 0 and a new array, or a negative code. */
static int select_rows(db_t *db, const resource_t *res, const char *field, const json_t *value,
                       int limit, json_t **rows)
{
    *rows = NULL;
    sqlite3_stmt *st;
    sqlite3_str *s = sqlite3_str_new(db_handle(db));
    select_sql(s, res);
    char suffix[96];
    sqlite3_snprintf(sizeof suffix, suffix,
                     limit ? " ORDER BY \"%w\" LIMIT %d" : " ORDER BY \"%w\"",
                     resource_key(res)->name, limit);
    int ret = prepare_where(db, res, s, field, value, suffix, &st);
    if (ret < 0) return ret;
    json_t *out = json_array();
    int rc = SQLITE_DONE;
    if (!out) ret = LP_ENOMEM;
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
        if (json_array_append_new(out, read_row(res, st)) < 0) ret = LP_ENOMEM;
    if (ret == 0 && rc != SQLITE_DONE) ret = db_status(rc) ? db_status(rc) : LP_EIO;
    db_finish(db, st);
    if (ret < 0) {
        json_decref(out);
        return ret;
    }
    *rows = out;
    return 0;
}

int resource_list(db_t *db, const resource_t *res, const char *field, const json_t *value,
                  json_t **rows)
{
    return select_rows(db, res, field, value, 0, rows);
}

int resource_find(db_t *db, const resource_t *res, const char *field, const json_t *value,
                  json_t **row)
{
    json_t *rows;
    *row = NULL;
    int ret = select_rows(db, res, field, value, 1, &rows);
    if (ret < 0) return ret;
    if (json_array_size(rows) == 0) {
        json_decref(rows);
        return LP_ENOT_FOUND;
    }
    *row = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return 0;
}

int resource_get(db_t *db, const resource_t *res, const json_t *key, json_t **row)
{
    return resource_find(db, res, resource_key(res)->name, key, row);
}

int resource_count(db_t *db, const resource_t *res, const char *field, const json_t *value,
                   int64_t *n)
{
    *n = 0;
    sqlite3_stmt *st;
    sqlite3_str *s = sqlite3_str_new(db_handle(db));
    sqlite3_str_appendf(s, "SELECT count(*) FROM \"%w\"", res->name);
    int ret = prepare_where(db, res, s, field, value, "", &st);
    if (ret < 0) return ret;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        ret = db_status(rc) ? db_status(rc) : LP_EIO;
    db_finish(db, st);
    return ret;
}

/* True when every member of row names a declared field. */
static bool all_declared(const resource_t *res, const json_t *row)
{
    const char *k;
    json_t *v;
    if (!json_is_object(row)) return false;
    json_object_foreach((json_t *)row, k, v)
    {
        if (!resource_field(res, k)) return false;
    }
    return true;
}

int resource_insert(db_t *db, const resource_t *res, const json_t *row, json_t **stored)
{
    if (stored) *stored = NULL;
    if (!all_declared(res, row)) return LP_EARG;
    json_t *now = json_integer((json_int_t)time(NULL));
    const json_t *vals[64];
    const resource_field_t *cols[64];
    size_t n = 0;
    for (size_t i = 0; i < res->nfields && n < 64; i++) {
        const resource_field_t *f = &res->fields[i];
        const json_t *v = json_object_get(row, f->name);
        if (!v && (f->flags & RF_NOW)) v = now;
        if (!v) continue;
        cols[n] = f;
        vals[n++] = v;
    }
    sqlite3_str *s = sqlite3_str_new(db_handle(db));
    sqlite3_str_appendf(s, "INSERT INTO \"%w\"", res->name);
    for (size_t i = 0; i < n; i++)
        sqlite3_str_appendf(s, "%s\"%w\"", i ? ", " : " (", cols[i]->name);
    sqlite3_str_appendall(s, n ? ") VALUES (" : " DEFAULT VALUES");
    for (size_t i = 0; i < n; i++)
        sqlite3_str_appendall(s, i ? ", ?" : "?");
    if (n) sqlite3_str_appendall(s, ")");
    sqlite3_stmt *st;
    int ret = prepare(db, s, &st);
    for (size_t i = 0; ret == 0 && i < n; i++)
        ret = bind_value(st, (int)i + 1, cols[i], vals[i]);
    if (ret == 0)
        ret = run(db, st);
    else
        db_finish(db, st);
    json_decref(now);
    if (ret < 0 || !stored) return ret;
    const resource_field_t *kf = resource_key(res);
    json_t *key = json_incref(json_object_get(row, kf->name));
    if (!key) key = json_integer(sqlite3_last_insert_rowid(db_handle(db)));
    ret = resource_get(db, res, key, stored);
    json_decref(key);
    return ret;
}

int resource_update(db_t *db, const resource_t *res, const json_t *key, const json_t *changes)
{
    if (!all_declared(res, changes)) return LP_EARG;
    if (json_object_size(changes) == 0) {
        json_t *row;
        int ret = resource_get(db, res, key, &row);
        json_decref(row);
        return ret;
    }
    const resource_field_t *kf = resource_key(res);
    sqlite3_str *s = sqlite3_str_new(db_handle(db));
    sqlite3_str_appendf(s, "UPDATE \"%w\" SET ", res->name);
    const char *k;
    json_t *v;
    size_t n = 0;
    json_object_foreach((json_t *)changes, k, v)
    {
        sqlite3_str_appendf(s, "%s\"%w\" = ?", n++ ? ", " : "", k);
    }
    sqlite3_str_appendf(s, " WHERE \"%w\" = ?", kf->name);
    sqlite3_stmt *st;
    int ret = prepare(db, s, &st);
    int i = 1;
    json_object_foreach((json_t *)changes, k, v)
    {
        if (ret == 0) ret = bind_value(st, i++, resource_field(res, k), v);
    }
    if (ret == 0) ret = bind_value(st, i, kf, key);
    if (ret < 0) {
        db_finish(db, st);
        return ret;
    }
    ret = run(db, st);
    if (ret == 0 && sqlite3_changes(db_handle(db)) == 0) ret = LP_ENOT_FOUND;
    return ret;
}

int resource_delete(db_t *db, const resource_t *res, const json_t *key)
{
    const resource_field_t *kf = resource_key(res);
    sqlite3_str *s = sqlite3_str_new(db_handle(db));
    sqlite3_str_appendf(s, "DELETE FROM \"%w\" WHERE \"%w\" = ?", res->name, kf->name);
    sqlite3_stmt *st;
    int ret = prepare(db, s, &st);
    if (ret == 0) ret = bind_value(st, 1, kf, key);
    if (ret < 0) {
        db_finish(db, st);
        return ret;
    }
    ret = run(db, st);
    if (ret == 0 && sqlite3_changes(db_handle(db)) == 0) ret = LP_ENOT_FOUND;
    return ret;
}
