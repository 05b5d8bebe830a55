/* The route tables of the auth, users and connections APIs, the plain functions behind their
 * handlers (so tests can call them without HTTP), and what those handlers need from the server. */
#ifndef LP_API_H
#define LP_API_H

#include "http.h"
#include "resource.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct server server_t;

/* The metadata database (implemented by the server). HTTP thread. */
db_t *server_db(server_t *srv);

/* POST /api/auth/login, POST /api/auth/logout, GET /api/me. */
extern const http_route_t api_auth_routes[];
extern const size_t api_auth_nroutes;
/* GET|POST /api/users, GET|PATCH|DELETE /api/users/{name} (admins only). */
extern const http_route_t api_users_routes[];
extern const size_t api_users_nroutes;
/* GET|POST /api/connections, GET|PUT|PATCH|DELETE /api/connections/{id},
 * POST /api/connections/{id}/connect and /disconnect (signed-in users; own rows, admins all). */
extern const http_route_t api_connections_routes[];
extern const size_t api_connections_nroutes;

/* How users and connections are served (access rules and hooks) for the resource_api_*
 * operations. */
extern const resource_api_t api_users_spec;
extern const resource_api_t api_connections_spec;

/* Login: validates {"user","password"} (borrowed), answers 200 {"token","expires"}, 400 for a
 * malformed body, 401 for wrong credentials. `out` starts zeroed. HTTP thread. */
void api_auth_login(db_t *db, const json_t *body, resource_reply_t *out);
/* Logout: revokes the caller's token; 204, or 401 for a guest. HTTP thread. */
void api_auth_logout(db_t *db, const auth_t *a, resource_reply_t *out);
/* {"name","role"} of the caller, or {"name":null,"role":"guest"}. Returns a new object. */
json_t *api_auth_me(const auth_t *a);
/* Records a connect (true) or disconnect request in the connection's `wanted` field and answers
 * 202 with the row (404 when the caller may not see it). HTTP thread. */
void api_connections_want(db_t *db, const auth_t *a, const char *id, bool connect,
                          resource_reply_t *out);
/* Dials every connection whose `wanted` is "connected" (after a restart). HTTP thread. */
void api_connections_resume(server_t *srv);

#endif
