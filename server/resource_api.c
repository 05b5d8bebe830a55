/* Resources declared once, part three: generic REST operations on a resource with its access
 * rules (role needed, owner-only rows, hooks), as plain functions returning an outcome, and the
 * thin HTTP handlers that send it. HTTP thread. */
#include "resource.h"

#include "api.h"
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void resource_reply_error(resource_reply_t *out, int status, const char *error, const char *fmt,
                          ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out->detail, sizeof out->detail, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof out->detail) { /* cut at a character boundary */
        size_t k = sizeof out->detail - 1;
        while (k > 0 && ((unsigned char)out->detail[k] & 0xc0) == 0x80)
            k--;
        out->detail[k] = 0;
    }
    json_decref(out->body);
    out->body = NULL;
    out->status = status;
    out->error = error;
}

void resource_reply_dispose(resource_reply_t *out)
{
    json_decref(out->body);
    out->body = NULL;
}

/* A successful outcome (body taken; NULL only for 204). */
static void reply_ok(resource_reply_t *out, int status, json_t *body)
{
    if (!body && status != 204) {
        resource_reply_error(out, 500, "internal", "out of memory");
        return;
    }
    out->status = status;
    out->body = body;
    out->error = NULL;
    out->detail[0] = 0;
}

/* The outcome for a failed database call. */
static void reply_code(resource_reply_t *out, const resource_t *res, int code)
{
    if (code == LP_ENOT_FOUND)
        resource_reply_error(out, 404, "not_found", "no such entry in %s", res->name);
    else if (code == LP_ECONFLICT)
        resource_reply_error(out, 409, "conflict", "conflicts with an existing entry in %s",
                             res->name);
    else if (code == LP_EARG)
        resource_reply_error(out, 400, "invalid", "the values break a constraint of %s", res->name);
    else
        resource_reply_error(out, 500, "internal", "database: %s", lp_strerror(code));
}

/* Whether the caller's role suffices; else fills the 401/403 outcome. */
static bool permitted(const resource_api_t *api, const auth_t *a, resource_reply_t *out)
{
    if (a->role >= api->min_role) return true;
    if (a->role == AUTH_GUEST)
        resource_reply_error(out, 401, "unauthorized", "sign in: Authorization: Bearer <token>");
    else
        resource_reply_error(out, 403, "forbidden", "only admins may use %s", api->res->name);
    return false;
}

/* Whether the caller may see the row (owner-only resources). */
static bool sees(const resource_api_t *api, const auth_t *a, const json_t *row)
{
    if (!api->owner_field || a->role == AUTH_ADMIN) return true;
    return a->user_id != 0 &&
           json_integer_value(json_object_get(row, api->owner_field)) == a->user_id;
}

static const resource_field_t *path_field(const resource_api_t *api)
{
    return api->path_field ? resource_field(api->res, api->path_field) : resource_key(api->res);
}

/* The value a path parameter stands for, or NULL when it cannot name a row. */
static json_t *param_value(const resource_api_t *api, const char *param)
{
    const resource_field_t *f = path_field(api);
    if (f->type != RT_INT) return json_string(param);
    size_t n = strlen(param);
    if (n == 0 || n > 18 || strspn(param, "0123456789") != n) return NULL;
    return json_integer(strtoll(param, NULL, 10));
}

/* Loads the row named by `param` that the caller may see into *row; else fills the outcome. */
static int load(db_t *db, const resource_api_t *api, const auth_t *a, const char *param,
                json_t **row, resource_reply_t *out)
{
    *row = NULL;
    json_t *v = param_value(api, param);
    int ret = v ? resource_find(db, api->res, path_field(api)->name, v, row) : LP_ENOT_FOUND;
    json_decref(v);
    if (ret == 0 && !sees(api, a, *row)) ret = LP_ENOT_FOUND;
    if (ret < 0) {
        json_decref(*row);
        *row = NULL;
        reply_code(out, api->res, ret);
    }
    return ret;
}

/* Fails with 409 when a unique field of `row` holds a value another row (key != self) has. */
static int check_unique(db_t *db, const resource_t *res, const json_t *row, const json_t *self,
                        resource_reply_t *out)
{
    const resource_field_t *kf = resource_key(res);
    for (size_t i = 0; i < res->nfields; i++) {
        const resource_field_t *f = &res->fields[i];
        json_t *v = json_object_get(row, f->name), *other = NULL;
        if (!(f->flags & RF_UNIQUE) || !v || json_is_null(v)) continue;
        int ret = resource_find(db, res, f->name, v, &other);
        bool taken = ret == 0 && !(self && json_equal(json_object_get(other, kf->name), self));
        json_decref(other);
        if (taken) {
            resource_reply_error(out, 409, "conflict", "%s: already taken", f->name);
            return -1;
        }
        if (ret < 0 && ret != LP_ENOT_FOUND) {
            reply_code(out, res, ret);
            return -1;
        }
    }
    return 0;
}

/* Answers `status` with the client view of the row with key `key`. */
static void reply_row(db_t *db, const resource_api_t *api, const json_t *key, int status,
                      resource_reply_t *out)
{
    json_t *row;
    int ret = resource_get(db, api->res, key, &row);
    if (ret < 0) {
        reply_code(out, api->res, ret);
        return;
    }
    reply_ok(out, status, resource_to_json(db, api->res, row));
    json_decref(row);
}

void resource_api_list(db_t *db, const resource_api_t *api, const auth_t *a, resource_reply_t *out)
{
    if (!permitted(api, a, out)) return;
    json_t *rows, *row, *uid = NULL;
    bool own = api->owner_field && a->role != AUTH_ADMIN;
    if (own) uid = json_integer(a->user_id);
    int ret = resource_list(db, api->res, own ? api->owner_field : NULL, uid, &rows);
    json_decref(uid);
    if (ret < 0) {
        reply_code(out, api->res, ret);
        return;
    }
    json_t *shown = json_array();
    size_t i;
    json_array_foreach(rows, i, row)
    {
        if (shown && json_array_append_new(shown, resource_to_json(db, api->res, row)) < 0) {
            json_decref(shown);
            shown = NULL;
        }
    }
    json_decref(rows);
    reply_ok(out, 200, shown ? json_pack("{s:o}", api->res->name, shown) : NULL);
}

void resource_api_get(db_t *db, const resource_api_t *api, const auth_t *a, const char *param,
                      resource_reply_t *out)
{
    json_t *row;
    if (!permitted(api, a, out) || load(db, api, a, param, &row, out) < 0) return;
    reply_ok(out, 200, resource_to_json(db, api->res, row));
    json_decref(row);
}

void resource_api_create(db_t *db, const resource_api_t *api, const auth_t *a, const json_t *body,
                         resource_reply_t *out)
{
    if (!permitted(api, a, out)) return;
    char err[240];
    if (resource_validate(api->res, body, RESOURCE_CREATE, err, sizeof err) < 0) {
        resource_reply_error(out, 400, "invalid", "%s", err);
        return;
    }
    json_t *row, *stored = NULL;
    int ret = resource_from_json(api->res, body, RESOURCE_CREATE, &row);
    if (ret == 0 && api->owner_field &&
        json_object_set_new(row, api->owner_field, json_integer(a->user_id)) < 0)
        ret = LP_ENOMEM;
    if (ret < 0) {
        json_decref(row);
        reply_code(out, api->res, ret);
        return;
    }
    if (check_unique(db, api->res, row, NULL, out) == 0 &&
        (!api->check || api->check(db, a, RESOURCE_OP_CREATE, NULL, row, out) == 0)) {
        ret = resource_insert(db, api->res, row, &stored);
        if (ret < 0) {
            reply_code(out, api->res, ret);
        } else {
            if (api->after) api->after(db, a, RESOURCE_OP_CREATE, NULL, stored);
            reply_ok(out, 201, resource_to_json(db, api->res, stored));
        }
    }
    json_decref(row);
    json_decref(stored);
}

void resource_api_update(db_t *db, const resource_api_t *api, const auth_t *a, const char *param,
                         const json_t *body, resource_mode_t mode, resource_reply_t *out)
{
    json_t *old, *changes;
    if (!permitted(api, a, out) || load(db, api, a, param, &old, out) < 0) return;
    char err[240];
    if (resource_validate(api->res, body, mode, err, sizeof err) < 0) {
        resource_reply_error(out, 400, "invalid", "%s", err);
        json_decref(old);
        return;
    }
    json_t *key = json_object_get(old, resource_key(api->res)->name);
    int ret = resource_from_json(api->res, body, mode, &changes);
    if (ret < 0) {
        reply_code(out, api->res, ret);
    } else if (check_unique(db, api->res, changes, key, out) == 0 &&
               (!api->check || api->check(db, a, RESOURCE_OP_UPDATE, old, changes, out) == 0)) {
        ret = resource_update(db, api->res, key, changes);
        if (ret < 0) {
            reply_code(out, api->res, ret);
        } else {
            if (api->after) api->after(db, a, RESOURCE_OP_UPDATE, old, changes);
            reply_row(db, api, key, 200, out);
        }
    }
    json_decref(changes);
    json_decref(old);
}

void resource_api_delete(db_t *db, const resource_api_t *api, const auth_t *a, const char *param,
                         resource_reply_t *out)
{
    json_t *old;
    if (!permitted(api, a, out) || load(db, api, a, param, &old, out) < 0) return;
    json_t *key = json_object_get(old, resource_key(api->res)->name);
    if (!api->check || api->check(db, a, RESOURCE_OP_DELETE, old, NULL, out) == 0) {
        int ret = resource_delete(db, api->res, key);
        if (ret < 0) {
            reply_code(out, api->res, ret);
        } else {
            if (api->after) api->after(db, a, RESOURCE_OP_DELETE, old, NULL);
            reply_ok(out, 204, NULL);
        }
    }
    json_decref(old);
}

void resource_api_set(db_t *db, const resource_api_t *api, const auth_t *a, const char *param,
                      const json_t *changes, int status, resource_reply_t *out)
{
    json_t *old;
    if (!permitted(api, a, out) || load(db, api, a, param, &old, out) < 0) return;
    json_t *key = json_object_get(old, resource_key(api->res)->name);
    int ret = resource_update(db, api->res, key, changes);
    if (ret < 0)
        reply_code(out, api->res, ret);
    else
        reply_row(db, api, key, status, out);
    json_decref(old);
}

/* ---- HTTP --------------------------------------------------------------------------------- */

json_t *resource_http_body(http_req_t *r)
{
    const char *ct = r->content_type;
    if (ct) {
        while (*ct == ' ' || *ct == '\t')
            ct++;
        size_t n = strlen("application/json");
        if (strncasecmp(ct, "application/json", n) != 0 || (ct[n] && !strchr("; \t", ct[n]))) {
            http_send_error(r, 415, "unsupported_media_type", "send the body as application/json");
            return NULL;
        }
    }
    return http_body_json(r);
}

void resource_http_send(http_req_t *r, resource_reply_t *out)
{
    if (out->status >= 400)
        http_send_error(r, out->status, out->error, out->detail);
    else if (out->body)
        http_send_json(r, out->status, out->body);
    else
        http_send_empty(r, out->status);
    out->body = NULL;
}

static const char *param0(const http_req_t *r)
{
    return r->nparams ? r->params[0] : "";
}

void resource_http_list(http_req_t *r, const resource_api_t *api)
{
    resource_reply_t out = {0};
    resource_api_list(server_db(r->srv), api, &r->auth, &out);
    resource_http_send(r, &out);
}

void resource_http_get(http_req_t *r, const resource_api_t *api)
{
    resource_reply_t out = {0};
    resource_api_get(server_db(r->srv), api, &r->auth, param0(r), &out);
    resource_http_send(r, &out);
}

void resource_http_create(http_req_t *r, const resource_api_t *api)
{
    resource_reply_t out = {0};
    if (!permitted(api, &r->auth, &out)) {
        resource_http_send(r, &out);
        return;
    }
    json_t *body = resource_http_body(r);
    if (!body) return;
    resource_api_create(server_db(r->srv), api, &r->auth, body, &out);
    json_decref(body);
    resource_http_send(r, &out);
}

void resource_http_update(http_req_t *r, const resource_api_t *api, resource_mode_t mode)
{
    resource_reply_t out = {0};
    if (!permitted(api, &r->auth, &out)) {
        resource_http_send(r, &out);
        return;
    }
    json_t *body = resource_http_body(r);
    if (!body) return;
    resource_api_update(server_db(r->srv), api, &r->auth, param0(r), body, mode, &out);
    json_decref(body);
    resource_http_send(r, &out);
}

void resource_http_delete(http_req_t *r, const resource_api_t *api)
{
    resource_reply_t out = {0};
    resource_api_delete(server_db(r->srv), api, &r->auth, param0(r), &out);
    resource_http_send(r, &out);
}
