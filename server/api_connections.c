/* The connections API: monitors the server dials, one owner each (admins see all). CRUD comes
 * from the resource declaration; connect and disconnect record the wish for the dialer. */
#include "api.h"

#include "resources.h"

const resource_api_t api_connections_spec = {
    .res = &resource_connections,
    .owner_field = "owner",
    .min_role = AUTH_USER,
};

void api_connections_want(db_t *db, const auth_t *a, const char *id, bool connect,
                          resource_reply_t *out)
{
    json_t *changes = json_pack("{s:s}", "wanted", connect ? "connected" : "disconnected");
    if (!changes) {
        resource_reply_error(out, 500, "internal", "out of memory");
        return;
    }
    resource_api_set(db, &api_connections_spec, a, id, changes, 202, out);
    json_decref(changes);
}

static void on_list(http_req_t *r)
{
    resource_http_list(r, &api_connections_spec);
}

static void on_create(http_req_t *r)
{
    resource_http_create(r, &api_connections_spec);
}

static void on_get(http_req_t *r)
{
    resource_http_get(r, &api_connections_spec);
}

static void on_replace(http_req_t *r)
{
    resource_http_update(r, &api_connections_spec, RESOURCE_REPLACE);
}

static void on_patch(http_req_t *r)
{
    resource_http_update(r, &api_connections_spec, RESOURCE_PATCH);
}

static void on_delete(http_req_t *r)
{
    resource_http_delete(r, &api_connections_spec);
}

static void on_want(http_req_t *r, bool connect)
{
    resource_reply_t out = {0};
    api_connections_want(server_db(r->srv), &r->auth, r->nparams ? r->params[0] : "", connect,
                         &out);
    resource_http_send(r, &out);
}

static void on_connect(http_req_t *r)
{
    on_want(r, true);
}

static void on_disconnect(http_req_t *r)
{
    on_want(r, false);
}

const http_route_t api_connections_routes[] = {
    {"GET", "/api/connections", on_list},
    {"POST", "/api/connections", on_create},
    {"GET", "/api/connections/{}", on_get},
    {"PUT", "/api/connections/{}", on_replace},
    {"PATCH", "/api/connections/{}", on_patch},
    {"DELETE", "/api/connections/{}", on_delete},
    {"POST", "/api/connections/{}/connect", on_connect},
    {"POST", "/api/connections/{}/disconnect", on_disconnect},
};
const size_t api_connections_nroutes =
    sizeof api_connections_routes / sizeof api_connections_routes[0];
