/* Retention settings over REST. The admin's global ones: GET and PUT /api/admin/retention with
 * {"max_age_s","session_max_bytes","total_max_bytes"} (0 = no limit), "coarse_series" (the
 * series whose coarse bins snapshots keep) and "coarse_keep_s" (how many seconds of them; 0 =
 * all the coarsest tier holds). A session's own: GET (its owner or an admin) and PUT (an admin)
 * /api/sessions/{id}/retention with {"max_age_s","max_bytes"}, null following the global
 * limits. All kept in DIR/retention.json. */
#include "routes.h"

#include "auth.h"
#include "server.h"
#include "session.h"

#include <stdio.h>
#include <string.h>

static bool admin_only(http_req_t *r)
{
    if (r->auth.role == AUTH_ADMIN) return true;
    http_send_error(r, r->auth.role == AUTH_GUEST ? 401 : 403, "forbidden",
                    "only an admin may change retention");
    return false;
}

static json_t *retention_json(const retention_t *t)
{
    return json_pack("{s:I,s:I,s:I,s:o,s:I}", "max_age_s", (json_int_t)t->age_s,
                     "session_max_bytes", (json_int_t)t->session_bytes, "total_max_bytes",
                     (json_int_t)t->total_bytes, "coarse_series",
                     retention_series_json(t->coarse_series), "coarse_keep_s",
                     (json_int_t)t->coarse_age_s);
}

static void get_retention(http_req_t *r)
{
    if (admin_only(r))
        http_send_json(r, 200, retention_json(registry_retention(server_registry(r->srv))));
}

/* The series mask of a JSON array of names; -1 (with `detail` set) when it is not one. */
static int series_of(json_t *v, uint32_t *mask, char *detail, size_t cap)
{
    size_t i;
    json_t *e;
    *mask = 0;
    if (!json_is_array(v)) {
        snprintf(detail, cap, "coarse_series: must be an array of series names");
        return -1;
    }
    json_array_foreach(v, i, e)
    {
        uint32_t one;
        if (!json_is_string(e) || !strcmp(json_string_value(e), "all") ||
            !strcmp(json_string_value(e), "none") ||
            retention_series_mask(json_string_value(e), &one) < 0 || one == 0 ||
            strchr(json_string_value(e), ',')) {
            snprintf(detail, cap,
                     "coarse_series: unknown series (labels threads caps gc heap heapprof "
                     "sparks)");
            return -1;
        }
        *mask |= one;
    }
    return 0;
}

/* A whole number >= 0 from v; -1 (with `detail` set) when it is not one. */
static int count_of(const char *key, json_t *v, uint64_t *out, char *detail, size_t cap)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        snprintf(detail, cap, "%.60s: must be a whole number >= 0 (0 = no limit)", key);
        return -1;
    }
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static void put_retention(http_req_t *r)
{
    if (!admin_only(r)) return;
    json_t *body = http_body_json(r);
    if (!body) return;
    registry_t *reg = server_registry(r->srv);
    retention_t next = *registry_retention(reg);
    static const char *const keys[] = {"max_age_s", "session_max_bytes", "total_max_bytes",
                                       "coarse_keep_s"};
    uint64_t *fields[] = {&next.age_s, &next.session_bytes, &next.total_bytes, &next.coarse_age_s};
    const char *key;
    json_t *v;
    char detail[160] = "";
    json_object_foreach(body, key, v)
    {
        size_t k = 0;
        while (k < 4 && strcmp(key, keys[k]))
            k++;
        int bad = 0;
        if (k < 4)
            bad = count_of(key, v, fields[k], detail, sizeof detail);
        else if (!strcmp(key, "coarse_series"))
            bad = series_of(v, &next.coarse_series, detail, sizeof detail);
        else {
            snprintf(detail, sizeof detail, "%.60s: unknown field", key);
            bad = -1;
        }
        if (bad) break;
    }
    json_decref(body);
    if (detail[0]) {
        http_send_error(r, 400, "invalid", detail);
        return;
    }
    *registry_retention(reg) = next;
    if (retention_save(reg) < 0) {
        http_send_error(r, 500, "internal", "cannot write retention.json");
        return;
    }
    http_send_json(r, 200, retention_json(registry_retention(reg)));
}

static json_t *limit_json(uint64_t v)
{
    return v == RETENTION_UNSET ? json_null() : json_integer((json_int_t)v);
}

/* {"max_age_s","max_bytes"} of the session (null: the global one) and "effective". */
static json_t *session_retention_json(retention_t *t, const char *id)
{
    retention_session_t *o = retention_session(t, id, false);
    uint64_t age_s, bytes;
    retention_effective(t, id, &age_s, &bytes);
    return json_pack("{s:o,s:o,s:{s:I,s:I,s:I}}", "max_age_s",
                     limit_json(o ? o->age_s : RETENTION_UNSET), "max_bytes",
                     limit_json(o ? o->bytes : RETENTION_UNSET), "effective", "max_age_s",
                     (json_int_t)age_s, "max_bytes", (json_int_t)bytes, "total_max_bytes",
                     (json_int_t)t->total_bytes);
}

static void get_session_retention(http_req_t *r)
{
    session_t *s = api_visible_session(r);
    if (!s) return;
    if (!auth_can_write(&r->auth, s->meta.owner)) {
        http_send_error(r, 403, "forbidden",
                        "only the session's owner or an admin may read its retention");
        return;
    }
    http_send_json(r, 200,
                   session_retention_json(registry_retention(server_registry(r->srv)), s->meta.id));
}

static void put_session_retention(http_req_t *r)
{
    session_t *s = api_visible_session(r);
    if (!s || !admin_only(r)) return;
    json_t *body = http_body_json(r);
    if (!body) return;
    registry_t *reg = server_registry(r->srv);
    retention_session_t *o = retention_session(registry_retention(reg), s->meta.id, false);
    uint64_t age_s = o ? o->age_s : RETENTION_UNSET, bytes = o ? o->bytes : RETENTION_UNSET;
    const char *key;
    json_t *v;
    char detail[160] = "";
    json_object_foreach(body, key, v)
    {
        uint64_t *f = !strcmp(key, "max_age_s")   ? &age_s
                      : !strcmp(key, "max_bytes") ? &bytes
                                                  : NULL;
        if (!f) {
            snprintf(detail, sizeof detail, "%.60s: unknown field (max_age_s, max_bytes)", key);
            break;
        }
        if (json_is_null(v))
            *f = RETENTION_UNSET;
        else if (count_of(key, v, f, detail, sizeof detail) < 0)
            break;
    }
    json_decref(body);
    if (detail[0]) {
        http_send_error(r, 400, "invalid", detail);
        return;
    }
    o = retention_session(registry_retention(reg), s->meta.id, true);
    o->age_s = age_s;
    o->bytes = bytes;
    if (retention_save(reg) < 0) {
        http_send_error(r, 500, "internal", "cannot write retention.json");
        return;
    }
    http_send_json(r, 200, session_retention_json(registry_retention(reg), s->meta.id));
}

const http_route_t api_retention_routes[] = {
    {"GET", "/api/admin/retention", get_retention},
    {"PUT", "/api/admin/retention", put_retention},
    {"GET", "/api/sessions/{}/retention", get_session_retention},
    {"PUT", "/api/sessions/{}/retention", put_session_retention},
};
const size_t api_retention_nroutes = sizeof api_retention_routes / sizeof api_retention_routes[0];
