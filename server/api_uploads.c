/* REST handlers for resumable chunked uploads: the session exists from the first call and
 * ingests each chunk as it arrives; a chunk at the wrong offset gets 409 with the offset the
 * server expects, so a client can always resume. */
#include "routes.h"

#include "httpreq.h"
#include "server.h"
#include "session.h"

#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The upload's state; "offset" is what the segments hold durably (the resume point), "received"
 * what was accepted. */
static json_t *upload_json(const upload_t *u, uint64_t offset)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(u->id));
    json_object_set_new(o, "session", json_string(u->session->meta.id));
    json_object_set_new(o, "offset", json_integer((json_int_t)offset));
    json_object_set_new(o, "received", json_integer((json_int_t)u->offset));
    json_object_set_new(o, "finished", json_boolean(u->finished));
    return o;
}

/* The upload named by the first path parameter, when the caller started it (guests' uploads
 * are reachable by their unguessable id); else sends 404. */
static upload_t *visible_upload(http_req_t *r)
{
    upload_t *u = upload_find(server_registry(r->srv), r->params[0]);
    if (!u || (u->session->meta.owner != 0 && u->session->meta.owner != r->auth.user_id &&
               r->auth.role != AUTH_ADMIN)) {
        http_send_error(r, 404, "not_found", "no such upload");
        return NULL;
    }
    return u;
}

static void create_upload(http_req_t *r)
{
    char name[256] = "", err[256];
    if (http_query(r, "name", name, sizeof name) < 0) name[0] = 0;
    registry_t *reg = server_registry(r->srv);
    session_t *s = session_create(reg, &r->auth, name, err, sizeof err);
    if (!s) {
        http_send_error(r, 500, "internal", err);
        return;
    }
    http_send_json(r, 201, upload_json(upload_create(reg, s), 0));
}

static void put_chunk(http_req_t *r)
{
    upload_t *u = visible_upload(r);
    if (!u || !api_raw_body_ok(r)) return;
    uint64_t off;
    if (httpreq_query_u64(r->query, "offset", 0, &off) != 0) {
        http_send_error(r, 400, "bad_query", "offset=N (a whole number) is required");
        return;
    }
    if (u->finished) {
        http_send_error(r, 409, "finished", "the upload is already finished");
        return;
    }
    if (off != u->offset) {
        json_t *o = json_object();
        json_object_set_new(o, "error", json_string("wrong_offset"));
        json_object_set_new(o, "detail",
                            json_string("the chunk does not start where the last ended"));
        json_object_set_new(o, "expected_offset", json_integer((json_int_t)u->offset));
        http_send_json(r, 409, o);
        return;
    }
    /* the writer is behind: the chunk waits (unanswered, so the client sends no more) */
    if (!session_append_or_hold(server_registry(r->srv), r, put_chunk)) return;
    int rc = session_append(server_registry(r->srv), u->session, r->body, r->body_len);
    if (rc == LP_ERANGE) {
        http_send_error(r, 503, "busy", "the disk writer is behind; send the chunk again soon");
        return;
    }
    if (rc < 0) {
        api_store_failed(r, rc);
        return;
    }
    u->offset += r->body_len;
    json_t *o = json_object();
    json_object_set_new(o, "offset", json_integer((json_int_t)u->offset));
    json_object_set_new(o, "durable", json_integer((json_int_t)session_durable(u->session)));
    http_send_json(r, 200, o);
}

static void get_upload(http_req_t *r)
{
    upload_t *u = visible_upload(r);
    /* the resume point: a group commit first, so that it is everything accepted */
    if (u)
        http_send_json(r, 200, upload_json(u, session_flush(server_registry(r->srv), u->session)));
}

static void finish_upload(http_req_t *r)
{
    upload_t *u = visible_upload(r);
    if (!u) return;
    if (!u->finished) {
        u->finished = true;
        session_end_input(server_registry(r->srv), u->session);
    }
    http_send_json(r, 200, upload_json(u, session_durable(u->session)));
}

const http_route_t api_upload_routes[] = {
    {"POST", "/api/uploads", create_upload},
    {"PUT", "/api/uploads/{}", put_chunk},
    {"GET", "/api/uploads/{}", get_upload},
    {"POST", "/api/uploads/{}/finish", finish_upload},
};
const size_t api_upload_nroutes = sizeof api_upload_routes / sizeof api_upload_routes[0];
