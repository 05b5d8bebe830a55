/* The admin's retention settings over REST: GET and PUT /api/admin/retention with
 * {"max_age_s","session_max_bytes","total_max_bytes"} (0 = no limit), kept in
 * DIR/retention.json. */
#include "routes.h"

#include "server.h"
#include "session.h"

#include <string.h>

static bool admin_only(http_req_t *r)
{
    if (r->auth.role == AUTH_ADMIN) return true;
    http_send_error(r, r->auth.role == AUTH_GUEST ? 401 : 403, "forbidden",
                    "only an admin may read or change retention");
    return false;
}

static json_t *retention_json(const retention_t *t)
{
    return json_pack("{s:I,s:I,s:I}", "max_age_s", (json_int_t)t->age_s, "session_max_bytes",
                     (json_int_t)t->session_bytes, "total_max_bytes", (json_int_t)t->total_bytes);
}

static void get_retention(http_req_t *r)
{
    if (admin_only(r))
        http_send_json(r, 200, retention_json(registry_retention(server_registry(r->srv))));
}

static void put_retention(http_req_t *r)
{
    if (!admin_only(r)) return;
    json_t *body = http_body_json(r);
    if (!body) return;
    retention_t next = *registry_retention(server_registry(r->srv));
    static const char *const keys[] = {"max_age_s", "session_max_bytes", "total_max_bytes"};
    uint64_t *fields[] = {&next.age_s, &next.session_bytes, &next.total_bytes};
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        size_t k = 0;
        while (k < 3 && strcmp(key, keys[k]))
            k++;
        if (k == 3 || !json_is_integer(v) || json_integer_value(v) < 0) {
            char detail[160];
            snprintf(detail, sizeof detail, "%.60s: %s", key,
                     k == 3 ? "unknown field" : "must be a whole number >= 0 (0 = no limit)");
            json_decref(body);
            http_send_error(r, 400, "invalid", detail);
            return;
        }
        *fields[k] = (uint64_t)json_integer_value(v);
    }
    json_decref(body);
    registry_t *reg = server_registry(r->srv);
    *registry_retention(reg) = next;
    if (retention_save(reg) < 0) {
        http_send_error(r, 500, "internal", "cannot write retention.json");
        return;
    }
    http_send_json(r, 200, retention_json(&next));
}

const http_route_t api_retention_routes[] = {
    {"GET", "/api/admin/retention", get_retention},
    {"PUT", "/api/admin/retention", put_retention},
};
const size_t api_retention_nroutes = sizeof api_retention_routes / sizeof api_retention_routes[0];
