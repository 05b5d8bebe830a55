/* The users API (admins only): CRUD from the users declaration plus the rules that keep the server
 * administrable — no deleting yourself, no deleting or demoting the last admin, no deleting a user
 * who still owns sessions — and a password change signs the user's other logins out. */
#include "api.h"

#include "err.h"
#include "resources.h"

#include <string.h>

/* The number of admins, or -1 when it cannot be counted. */
static int64_t admin_count(db_t *db)
{
    json_t *v = json_string("admin");
    int64_t n = 0;
    if (!v || resource_count(db, &resource_users, "role", v, &n) < 0) n = -1;
    json_decref(v);
    return n;
}

static int users_check(db_t *db, const auth_t *a, resource_op_t op, const json_t *old,
                       const json_t *row, resource_reply_t *out)
{
    if (op == RESOURCE_OP_CREATE) return 0;
    json_t *id = json_object_get(old, "id");
    const char *role = json_string_value(json_object_get(old, "role"));
    const char *new_role = row ? json_string_value(json_object_get(row, "role")) : NULL;
    if (op == RESOURCE_OP_DELETE && json_integer_value(id) == a->user_id) {
        resource_reply_error(out, 409, "self", "you cannot delete your own user");
        return -1;
    }
    bool leaves_admins = role && !strcmp(role, "admin") &&
                         (op == RESOURCE_OP_DELETE || (new_role && strcmp(new_role, "admin")));
    if (leaves_admins && admin_count(db) <= 1) {
        resource_reply_error(out, 409, "last_admin", "the last admin cannot be deleted or demoted");
        return -1;
    }
    if (op == RESOURCE_OP_DELETE) {
        int64_t n = 0;
        if (resource_count(db, &resource_sessions, "owner", id, &n) < 0) {
            resource_reply_error(out, 500, "internal", "cannot count the user's sessions");
            return -1;
        }
        if (n > 0) {
            resource_reply_error(out, 409, "owns_sessions",
                                 "the user owns %lld session(s); delete them first", (long long)n);
            return -1;
        }
    }
    return 0;
}

static void users_after(db_t *db, const auth_t *a, resource_op_t op, const json_t *old,
                        const json_t *row)
{
    if (op == RESOURCE_OP_UPDATE && json_object_get(row, "password"))
        auth_revoke_logins(db, json_integer_value(json_object_get(old, "id")), a->token_id);
}

const resource_api_t api_users_spec = {
    .res = &resource_users,
    .path_field = "name",
    .min_role = AUTH_ADMIN,
    .check = users_check,
    .after = users_after,
};

static void on_list(http_req_t *r)
{
    resource_http_list(r, &api_users_spec);
}

static void on_create(http_req_t *r)
{
    resource_http_create(r, &api_users_spec);
}

static void on_get(http_req_t *r)
{
    resource_http_get(r, &api_users_spec);
}

static void on_patch(http_req_t *r)
{
    resource_http_update(r, &api_users_spec, RESOURCE_PATCH);
}

static void on_delete(http_req_t *r)
{
    resource_http_delete(r, &api_users_spec);
}

const http_route_t api_users_routes[] = {
    {"GET", "/api/users", on_list},         {"POST", "/api/users", on_create},
    {"GET", "/api/users/{}", on_get},       {"PATCH", "/api/users/{}", on_patch},
    {"DELETE", "/api/users/{}", on_delete},
};
const size_t api_users_nroutes = sizeof api_users_routes / sizeof api_users_routes[0];
