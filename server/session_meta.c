/* Sessions' metadata through the "sessions" resource declaration: the registry's struct becomes a
 * row and back, so no field has SQL or JSON code of its own here. */
#include "session_meta.h"

#include "db.h"
#include "err.h"
#include "resources.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Sets o[k] = v (taking v); false when v is NULL or out of memory. */
static bool put(json_t *o, const char *k, json_t *v)
{
    return v && json_object_set_new(o, k, v) == 0;
}

/* A JSON string of s with the bytes that are not UTF-8 dropped (e.g. a character cut in two by
 * truncation), so the text never grows; jansson judges each sequence. */
static json_t *utf8_text(const char *s)
{
    json_t *v = json_string(s);
    if (v) return v;
    size_t n = strlen(s), o = 0;
    char *buf = malloc(n + 1);
    if (!buf) return NULL;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80             ? 1
                     : (c & 0xe0) == 0xc0 ? 2
                     : (c & 0xf0) == 0xe0 ? 3
                     : (c & 0xf8) == 0xf0 ? 4
                                          : 0;
        json_t *seq = len && i + len <= n ? json_stringn(s + i, len) : NULL;
        if (seq) {
            memcpy(buf + o, s + i, len);
            o += len;
            i += len;
            json_decref(seq);
        } else {
            i++;
        }
    }
    v = json_stringn(buf, o);
    free(buf);
    return v;
}

/* The row for m: the fields an update writes, plus id, owner and created when `whole`. NULL when
 * out of memory. */
static json_t *meta_row(const session_meta_t *m, bool whole)
{
    json_t *row = json_object();
    bool ok = row && put(row, "name", utf8_text(m->name)) &&
              put(row, "visibility", json_string(m->is_public ? "public" : "private")) &&
              put(row, "state", json_string(m->state)) &&
              put(row, "bytes_ingested", json_integer((json_int_t)m->bytes_ingested)) &&
              put(row, "events", json_integer((json_int_t)m->events)) &&
              put(row, "error", m->error[0] ? utf8_text(m->error) : json_null());
    if (ok && whole)
        ok = put(row, "id", utf8_text(m->id)) && put(row, "owner", json_integer(m->owner)) &&
             put(row, "created", json_integer(m->created ? m->created : (int64_t)time(NULL)));
    if (!ok) {
        json_decref(row);
        return NULL;
    }
    return row;
}

static void meta_from_row(const json_t *row, session_meta_t *m)
{
    memset(m, 0, sizeof *m);
    const char *vis = json_string_value(json_object_get(row, "visibility"));
    const char *err = json_string_value(json_object_get(row, "error"));
    snprintf(m->id, sizeof m->id, "%s", json_string_value(json_object_get(row, "id")));
    snprintf(m->name, sizeof m->name, "%s", json_string_value(json_object_get(row, "name")));
    m->owner = json_integer_value(json_object_get(row, "owner"));
    m->is_public = vis && !strcmp(vis, "public");
    snprintf(m->state, sizeof m->state, "%s", json_string_value(json_object_get(row, "state")));
    m->bytes_ingested = (uint64_t)json_integer_value(json_object_get(row, "bytes_ingested"));
    m->events = (uint64_t)json_integer_value(json_object_get(row, "events"));
    snprintf(m->error, sizeof m->error, "%s", err ? err : "");
    m->created = json_integer_value(json_object_get(row, "created"));
}

int session_meta_insert(db_t *db, const session_meta_t *m)
{
    json_t *row = meta_row(m, true);
    int ret = row ? resource_insert(db, &resource_sessions, row, NULL) : LP_EARG;
    json_decref(row);
    return ret;
}

int session_meta_update(db_t *db, const session_meta_t *m)
{
    json_t *row = meta_row(m, false), *key = json_string(m->id);
    int ret = row && key ? resource_update(db, &resource_sessions, key, row) : LP_EARG;
    json_decref(row);
    json_decref(key);
    return ret;
}

int session_meta_delete(db_t *db, const char *id)
{
    json_t *key = json_string(id);
    int ret = key ? resource_delete(db, &resource_sessions, key) : LP_ENOT_FOUND;
    json_decref(key);
    return ret;
}

int session_meta_load_all(db_t *db, void (*fn)(void *ctx, const session_meta_t *m), void *ctx)
{
    json_t *rows, *row;
    int ret = resource_list(db, &resource_sessions, NULL, NULL, &rows);
    if (ret < 0) return ret;
    size_t i;
    session_meta_t m;
    json_array_foreach(rows, i, row)
    {
        meta_from_row(row, &m);
        fn(ctx, &m);
    }
    json_decref(rows);
    return 0;
}

json_t *session_meta_json(db_t *db, const session_meta_t *m)
{
    json_t *row = meta_row(m, true);
    json_t *out = row ? resource_to_json(db, &resource_sessions, row) : NULL;
    json_decref(row);
    return out;
}

int session_meta_validate_patch(json_t *body, char *err, size_t cap)
{
    return resource_validate(&resource_sessions, body, RESOURCE_PATCH, err, cap);
}

int session_meta_validate_name(const char *name, char *err, size_t cap)
{
    json_t *body = json_pack("{s:s}", "name", name);
    if (!body) {
        snprintf(err, cap, "name: must be UTF-8 text");
        return LP_EARG;
    }
    int ret = resource_validate(&resource_sessions, body, RESOURCE_PATCH, err, cap);
    json_decref(body);
    return ret;
}
