/* The connections API: monitors the server dials, one owner each (admins see all). CRUD comes
 * from the resource declaration; connect and disconnect record the wish for the dialer. */
#include "api.h"

#include "link.h"
#include "resources.h"
#include "server.h"

#include <stdlib.h>

const resource_api_t api_connections_spec = {
    .res = &resource_connections,
    .owner_field = "owner",
    .min_role = AUTH_USER,
};

/* Hands a connection row to the monitor links (connect when `connect`, else disconnect). */
static void dial_row(server_t *srv, const json_t *row, bool connect)
{
    links_t *l = server_links(srv);
    if (!l || !row) return;
    auth_t owner = {.user_id = json_integer_value(json_object_get(row, "owner")),
                    .role = AUTH_USER};
    links_want(l, json_integer_value(json_object_get(row, "id")),
               json_string_value(json_object_get(row, "host")),
               (int)json_integer_value(json_object_get(row, "port")),
               json_string_value(json_object_get(row, "token")), &owner, connect);
}

/* The stored row (token included) of connection `id`, or NULL. */
static json_t *row_of(server_t *srv, const char *id)
{
    json_t *key = json_integer(strtoll(id, NULL, 10)), *row = NULL;
    if (resource_get(server_db(srv), &resource_connections, key, &row) < 0) row = NULL;
    json_decref(key);
    return row;
}

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
    json_t *row = r->nparams ? row_of(r->srv, r->params[0]) : NULL;
    resource_http_delete(r, &api_connections_spec);
    json_t *after = row ? row_of(r->srv, r->params[0]) : NULL;
    if (row && !after) dial_row(r->srv, row, false); /* deleted: hang up */
    json_decref(after);
    json_decref(row);
}

void api_connections_resume(server_t *srv)
{
    json_t *v = json_string("connected"), *rows = NULL;
    if (resource_list(server_db(srv), &resource_connections, "wanted", v, &rows) == 0) {
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row) dial_row(srv, row, true);
    }
    json_decref(rows);
    json_decref(v);
}

static void on_want(http_req_t *r, bool connect)
{
    resource_reply_t out = {0};
    const char *id = r->nparams ? r->params[0] : "";
    api_connections_want(server_db(r->srv), &r->auth, id, connect, &out);
    if (out.status == 202) {
        json_t *row = row_of(r->srv, id);
        dial_row(r->srv, row, connect);
        json_decref(row);
    }
    resource_http_send(r, &out);
}

static void on_status(http_req_t *r)
{
    resource_reply_t out = {0};
    const char *id = r->nparams ? r->params[0] : "";
    resource_api_get(server_db(r->srv), &api_connections_spec, &r->auth, id, &out);
    if (out.status != 200 || !server_links(r->srv)) {
        resource_http_send(r, &out);
        return;
    }
    resource_reply_dispose(&out);
    http_send_json(r, 200, links_status(server_links(r->srv), strtoll(id, NULL, 10)));
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
    {"GET", "/api/connections/{}/status", on_status},
};
const size_t api_connections_nroutes =
    sizeof api_connections_routes / sizeof api_connections_routes[0];
