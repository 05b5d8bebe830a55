/* The auth API: login (a login token for a name and password), logout (revokes the token used)
 * and who the caller is. The login body is checked by a resource declaration of its own. */
#include "api.h"

#include "auth_limit.h"
#include "err.h"

#include <sodium.h>
#include <stdio.h>

#define LOGIN_FIELDS(F)                                                                            \
    F(user, RT_TEXT, RF_REQUIRED, .min = 1, .max = 63)                                             \
    F(password, RT_PASSWORD, RF_REQUIRED | RF_WO, .max = 1024)

static const resource_t login_form = RESOURCE_INIT("login", LOGIN_FIELDS);

void api_auth_login(db_t *db, const json_t *body, resource_reply_t *out)
{
    char err[240];
    if (resource_validate(&login_form, body, RESOURCE_CREATE, err, sizeof err) < 0) {
        resource_reply_error(out, 400, "invalid", "%s", err);
        return;
    }
    char token[AUTH_TOKEN_CHARS + 1], until[32];
    int64_t expires = 0;
    int ret = auth_login(db, json_string_value(json_object_get(body, "user")),
                         json_string_value(json_object_get(body, "password")), token, &expires);
    if (ret == LP_ENOT_FOUND) {
        resource_reply_error(out, 401, "bad_credentials", "wrong user name or password");
        return;
    }
    if (ret < 0) {
        resource_reply_error(out, 500, "internal", "cannot sign in: %s", lp_strerror(ret));
        return;
    }
    resource_time_text(expires, until, sizeof until);
    json_t *answer = json_pack("{s:s, s:s}", "token", token, "expires", until);
    sodium_memzero(token, sizeof token);
    if (!answer) {
        resource_reply_error(out, 500, "internal", "out of memory");
        return;
    }
    out->status = 200;
    out->body = answer;
}

void api_auth_logout(db_t *db, const auth_t *a, resource_reply_t *out)
{
    if (a->role == AUTH_GUEST || a->token_id == 0) {
        resource_reply_error(out, 401, "unauthorized", "not signed in");
        return;
    }
    int ret = auth_token_revoke(db, a->token_id);
    if (ret < 0)
        resource_reply_error(out, 500, "internal", "cannot revoke the token: %s", lp_strerror(ret));
    else
        out->status = 204;
}

json_t *api_auth_me(const auth_t *a)
{
    if (a->role == AUTH_GUEST) return json_pack("{s:n, s:s}", "name", "role", "guest");
    return json_pack("{s:s, s:s}", "name", a->name, "role",
                     a->role == AUTH_ADMIN ? "admin" : "user");
}

/* Login with rate limiting per (user name, client address): see auth_limit.h. */
static void on_login(http_req_t *r)
{
    json_t *body = resource_http_body(r);
    if (!body) return;
    const char *user = json_string_value(json_object_get(body, "user"));
    int64_t wait = auth_limit_wait(user, r->peer, auth_limit_now());
    if (wait > 0) {
        char secs[24], detail[96];
        snprintf(secs, sizeof secs, "%lld", (long long)wait);
        snprintf(detail, sizeof detail, "too many failed logins; retry in %lld s", (long long)wait);
        json_decref(body);
        http_add_header(r, "retry-after", secs);
        http_send_error(r, 429, "too_many_requests", detail);
        return;
    }
    resource_reply_t out = {0};
    api_auth_login(server_db(r->srv), body, &out);
    /* the time after the (slow) password check: the lockout starts when the answer leaves */
    if (out.status == 401) auth_limit_fail(user, r->peer, auth_limit_now());
    if (out.status == 200) auth_limit_success(user, r->peer, auth_limit_now());
    json_decref(body);
    resource_http_send(r, &out);
}

static void on_logout(http_req_t *r)
{
    resource_reply_t out = {0};
    api_auth_logout(server_db(r->srv), &r->auth, &out);
    resource_http_send(r, &out);
}

static void on_me(http_req_t *r)
{
    json_t *me = api_auth_me(&r->auth);
    if (me)
        http_send_json(r, 200, me);
    else
        http_send_error(r, 500, "internal", "out of memory");
}

const http_route_t api_auth_routes[] = {
    {"POST", "/api/auth/login", on_login},
    {"POST", "/api/auth/logout", on_logout},
    {"GET", "/api/me", on_me},
};
const size_t api_auth_nroutes = sizeof api_auth_routes / sizeof api_auth_routes[0];
