/* REST handlers for sessions: create by raw upload, list, get, patch, delete, and their
 * results (totals as JSON and text, aggregates, diagrams). */
#include "routes.h"

#include "aggr.h"
#include "aggr_svg.h"
#include "auth.h"
#include "httpreq.h"
#include "live.h"
#include "report.h"
#include "script.h"
#include "server.h"
#include "session.h"
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The session named by the first path parameter, when the caller may see it; else sends 404. */
session_t *api_visible_session(http_req_t *r)
{
    session_t *s = session_find(server_registry(r->srv), r->params[0]);
    if (!s || !auth_can_read(&r->auth, s->meta.owner, s->meta.is_public)) {
        http_send_error(r, 404, "not_found", "no such session");
        return NULL;
    }
    return s;
}

static json_t *session_json(http_req_t *r, session_t *s)
{
    session_sync_meta(s);
    return session_meta_json(server_db(r->srv), &s->meta);
}

/* Raw bodies: application/octet-stream or no content type at all. */
bool api_raw_body_ok(http_req_t *r)
{
    if (!r->content_type || !strncmp(r->content_type, "application/octet-stream", 24)) return true;
    http_send_error(r, 415, "unsupported_media_type",
                    "send the eventlog as application/octet-stream");
    return false;
}

static void create_session(http_req_t *r)
{
    if (!api_raw_body_ok(r)) return;
    char name[256] = "", err[256];
    if (http_query(r, "name", name, sizeof name) < 0) name[0] = 0;
    registry_t *reg = server_registry(r->srv);
    session_t *s = session_create(reg, &r->auth, name, err, sizeof err);
    if (!s) {
        http_send_error(r, 500, "internal", err);
        return;
    }
    if (session_store_whole(reg, s, r->body, r->body_len) < 0) {
        http_send_error(r, 500, "internal", "cannot store the eventlog");
        return;
    }
    http_send_json(r, 201, session_json(r, s));
}

static void list_sessions(http_req_t *r)
{
    size_t n;
    session_t **all = session_all(server_registry(r->srv), &n);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        if (auth_can_read(&r->auth, all[i]->meta.owner, all[i]->meta.is_public))
            json_array_append_new(arr, session_json(r, all[i]));
    json_t *o = json_object();
    json_object_set_new(o, "sessions", arr);
    http_send_json(r, 200, o);
}

static void get_session(http_req_t *r)
{
    session_t *s = api_visible_session(r);
    if (s) http_send_json(r, 200, session_json(r, s));
}

static void patch_session(http_req_t *r)
{
    session_t *s = api_visible_session(r);
    if (!s) return;
    if (!auth_can_write(&r->auth, s->meta.owner)) {
        http_send_error(r, 403, "forbidden", "only the session's owner or an admin may change it");
        return;
    }
    json_t *body = http_body_json(r);
    if (!body) return;
    char err[256];
    if (session_meta_validate_patch(body, err, sizeof err) < 0) {
        json_decref(body);
        http_send_error(r, 400, "invalid", err);
        return;
    }
    json_t *v = json_object_get(body, "name");
    if (json_is_string(v)) snprintf(s->meta.name, sizeof s->meta.name, "%s", json_string_value(v));
    v = json_object_get(body, "visibility");
    if (json_is_string(v)) s->meta.is_public = !strcmp(json_string_value(v), "public");
    json_decref(body);
    registry_persist(server_registry(r->srv));
    http_send_json(r, 200, session_json(r, s));
}

static void delete_session(http_req_t *r)
{
    session_t *s = api_visible_session(r);
    if (!s) return;
    if (!auth_can_write(&r->auth, s->meta.owner)) {
        http_send_error(r, 403, "forbidden", "only the session's owner or an admin may delete it");
        return;
    }
    session_delete(server_registry(r->srv), s);
    http_send_empty(r, 204);
}

/* ---- results ------------------------------------------------------------------------------ */

/* Builds the totals report: the exact one when settled, else the live one so far. The caller
 * disposes it. */
static void totals_report(registry_t *reg, session_t *s, report_t *out)
{
    const script_t *script = registry_totals_script(reg);
    pthread_mutex_lock(&s->lock);
    if (s->settled) {
        memset(out, 0, sizeof *out);
        out->nrows = s->final.nrows;
        out->rows = xcalloc(out->nrows ? out->nrows : 1, sizeof *out->rows);
        for (size_t i = 0; i < out->nrows; i++) {
            out->rows[i] = s->final.rows[i];
            out->rows[i].title = xstrndup(s->final.rows[i].title, strlen(s->final.rows[i].title));
            out->rows[i].val = NULL;
            out->rows[i].set = NULL;
        }
    } else {
        const gea_t *g = live_gea(s->live);
        report_build(out, gea_output(g, 0), script, false, 1000);
    }
    pthread_mutex_unlock(&s->lock);
}

static const char *kind_name(report_kind_t k)
{
    static const char *const names[] = {"section", "gc", "user", "thread", "sum"};
    return names[k];
}

static void get_totals(http_req_t *r)
{
    session_t *s = api_visible_session(r);
    if (!s) return;
    report_t rep;
    totals_report(server_registry(r->srv), s, &rep);
    json_t *rows = json_array();
    for (size_t i = 0; i < rep.nrows; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "kind", json_string(kind_name(rep.rows[i].kind)));
        json_object_set_new(o, "name", json_string(rep.rows[i].title));
        if (rep.rows[i].kind != REPORT_SECTION)
            json_object_set_new(o, "total_ns", json_integer((json_int_t)rep.rows[i].total));
        json_array_append_new(rows, o);
    }
    report_dispose(&rep);
    json_t *o = json_object();
    json_object_set_new(o, "rows", rows);
    json_object_set_new(o, "final", json_boolean(session_state(s) >= SESSION_DONE));
    http_send_json(r, 200, o);
}

static void get_totals_txt(http_req_t *r)
{
    session_t *s = api_visible_session(r);
    if (!s) return;
    report_t rep;
    totals_report(server_registry(r->srv), s, &rep);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    report_write_totals(&rep, f);
    fclose(f);
    report_dispose(&rep);
    http_send(r, 200, "text/plain; charset=utf-8", text, len);
    free(text);
}

/* Reads an optional unsigned query parameter; false after sending 400 for a bad one. */
static bool query_u64(http_req_t *r, const char *name, uint64_t *out, uint64_t dflt)
{
    if (httpreq_query_u64(r->query, name, dflt, out) < 0) {
        char detail[96];
        snprintf(detail, sizeof detail, "'%s' must be a whole number", name);
        http_send_error(r, 400, "bad_query", detail);
        return false;
    }
    return true;
}

static void get_aggregates(http_req_t *r)
{
    session_t *s = api_visible_session(r);
    if (!s) return;
    char series[32];
    if (http_query(r, "series", series, sizeof series) <= 0) {
        http_send_error(r, 400, "bad_query", "series=labels|threads|caps|gc|heap|heapprof|sparks");
        return;
    }
    uint64_t from, to, bins;
    if (!query_u64(r, "from", &from, 0) || !query_u64(r, "to", &to, 0) ||
        !query_u64(r, "bins", &bins, 100))
        return;
    if (bins == 0 || bins > 100000 || (to && from >= to)) {
        http_send_error(r, 400, "bad_range", "need from < to and 1 <= bins <= 100000");
        return;
    }
    aggr_result_t res;
    pthread_mutex_lock(&s->lock);
    int rc = aggr_query(session_aggr(s), series, from, to, (uint32_t)bins, &res);
    pthread_mutex_unlock(&s->lock);
    if (rc < 0) {
        http_send_error(r, 400, "bad_query", "unknown series or an empty range");
        return;
    }
    /* Written directly: a jansson tree of up to 100,000 numbers costs more than the query. */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fprintf(f, "{\"series\":\"%s\",\"from_ns\":%llu,\"to_ns\":%llu,\"bin_ns\":%llu,\"rows\":[",
            series, (unsigned long long)res.from_ns, (unsigned long long)res.to_ns,
            (unsigned long long)res.bin_ns);
    for (size_t i = 0; i < res.nrows; i++) {
        json_t *name = json_string(res.rows[i].name), *kind = json_string(res.rows[i].kind);
        fprintf(f, "%s{\"name\":", i ? "," : "");
        json_dumpf(name ? name : json_null(), f, JSON_ENCODE_ANY);
        fputs(",\"kind\":", f);
        json_dumpf(kind ? kind : json_null(), f, JSON_ENCODE_ANY);
        json_decref(name);
        json_decref(kind);
        fputs(",\"values\":[", f);
        for (uint32_t b = 0; b < res.bins; b++) {
            double v = res.rows[i].values[b];
            if (b) fputc(',', f);
            if (v == (double)(int64_t)v && v > -9e15 && v < 9e15)
                fprintf(f, "%lld", (long long)v);
            else if (v == v && v - v == 0)
                fprintf(f, "%.12g", v);
            else
                fputs("null", f);
        }
        fputs("]}", f);
    }
    fputs("]}\n", f);
    fclose(f);
    aggr_result_dispose(&res);
    http_send(r, 200, "application/json", text, len);
    free(text);
}

static void get_diagram(http_req_t *r)
{
    session_t *s = api_visible_session(r);
    if (!s) return;
    char kind[16] = "grid";
    http_query(r, "kind", kind, sizeof kind);
    uint64_t from, to, width;
    if (!query_u64(r, "from", &from, 0) || !query_u64(r, "to", &to, 0) ||
        !query_u64(r, "width", &width, 1000))
        return;
    if (width == 0 || width > 20000 || (to && from >= to)) {
        http_send_error(r, 400, "bad_range", "need from < to and 1 <= width <= 20000");
        return;
    }
    char *svg = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&svg, &len);
    pthread_mutex_lock(&s->lock);
    int rc = aggr_svg(session_aggr(s), kind, from, to, (uint32_t)width, f);
    pthread_mutex_unlock(&s->lock);
    fclose(f);
    if (rc < 0)
        http_send_error(r, 400, "bad_query", "kind=grid|caps|gc|heap|heapprof|sparks");
    else
        http_send(r, 200, "image/svg+xml", svg, len);
    free(svg);
}

const http_route_t api_session_routes[] = {
    {"POST", "/api/sessions", create_session},
    {"GET", "/api/sessions", list_sessions},
    {"GET", "/api/sessions/{}", get_session},
    {"PATCH", "/api/sessions/{}", patch_session},
    {"DELETE", "/api/sessions/{}", delete_session},
    {"GET", "/api/sessions/{}/totals", get_totals},
    {"GET", "/api/sessions/{}/totals.txt", get_totals_txt},
    {"GET", "/api/sessions/{}/aggregates", get_aggregates},
    {"GET", "/api/sessions/{}/diagram.svg", get_diagram},
};
const size_t api_session_nroutes = sizeof api_session_routes / sizeof api_session_routes[0];
