/* REST handlers for sessions: create by raw upload, list, get, patch, delete, and their
 * results (totals as JSON and text, aggregates, diagrams). */
#include "routes.h"

#include "aggr.h"
#include "aggrjson.h"
#include "aggr_svg.h"
#include "auth.h"
#include "httpreq.h"
#include "live.h"
#include "report.h"
#include "report_out.h"
#include "script.h"
#include "server.h"
#include "err.h"
#include "replay.h"
#include "seg_reader.h"
#include "session.h"
#include "snapshot.h"
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

/* The session's row, plus "bytes_received" (accepted, durable or not) and "bytes_durable". */
static json_t *session_json(http_req_t *r, session_t *s)
{
    session_sync_meta(s);
    json_t *o = session_meta_json(server_db(r->srv), &s->meta);
    if (o) {
        json_object_set_new(o, "bytes_received", json_integer((json_int_t)s->received));
        json_object_set_new(o, "bytes_durable", json_integer((json_int_t)session_durable(s)));
    }
    return o;
}

/* Raw bodies: application/octet-stream or no content type at all. */
bool api_raw_body_ok(http_req_t *r)
{
    if (!r->content_type || !strncmp(r->content_type, "application/octet-stream", 24)) return true;
    http_send_error(r, 415, "unsupported_media_type",
                    "send the eventlog as application/octet-stream");
    return false;
}

void api_store_failed(http_req_t *r, int rc)
{
    if (rc == LP_ENOSPACE) {
        http_send_error(r, 507, "insufficient_storage", lp_strerror(rc));
        return;
    }
    char d[160];
    snprintf(d, sizeof d, "the server cannot store the eventlog: %s", lp_strerror(rc));
    http_send_error(r, 500, "internal", d);
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
    int rc = session_store_whole(reg, s, r->body, r->body_len);
    if (rc < 0) {
        api_store_failed(r, rc);
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

/* Sends the totals report as the JSON document or as the text `liveprof analyze` writes. A
 * settled session's document is made once and kept (megabytes for thousands of threads), and
 * sent by reference. */
static void send_totals(http_req_t *r, bool json)
{
    session_t *s = api_visible_session(r);
    if (!s) return;
    const char *type = json ? "application/json" : "text/plain; charset=utf-8";
    int k = json ? 0 : 1;
    pthread_mutex_lock(&s->lock);
    blob_t *kept = s->settled && s->totals_doc[k] ? blob_ref(s->totals_doc[k]) : NULL;
    pthread_mutex_unlock(&s->lock);
    if (kept) { /* sent by reference: no copy of megabytes per request */
        http_send_blob(r, 200, type, kept);
        blob_unref(kept);
        return;
    }
    /* acquire: a final state comes after `final` was written (the worker's release) */
    bool final = session_state(s) >= SESSION_DONE;
    report_t rep;
    totals_report(server_registry(r->srv), s, &rep);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (json)
        report_write_totals_json(&rep, final, f);
    else
        report_write_totals(&rep, f);
    fclose(f);
    report_dispose(&rep);
    blob_t *doc = blob_create(text, len);
    http_send_blob(r, 200, type, doc);
    pthread_mutex_lock(&s->lock);
    if (final && s->settled && !s->totals_doc[k]) /* kept: handed over to the session */
        s->totals_doc[k] = blob_ref(doc);
    pthread_mutex_unlock(&s->lock);
    blob_unref(doc);
}

static void get_totals(http_req_t *r)
{
    send_totals(r, true);
}

static void get_totals_txt(http_req_t *r)
{
    send_totals(r, false);
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

/* A session restored from a snapshot (its raw segments dropped) answers with the stored coarse
 * bins that overlap [from, to). */
static void snapshot_aggregates(http_req_t *r, session_t *s, const char *series, uint64_t from,
                                uint64_t to)
{
    const snapshot_series_t *se = NULL;
    for (size_t i = 0; s->snap && i < s->snap->nseries; i++)
        if (!strcmp(s->snap->series[i].name, series)) se = &s->snap->series[i];
    bool known = false;
    for (size_t i = 0; i < RETENTION_NSERIES; i++)
        known |= !strcmp(series, retention_series[i]);
    if (!se && known) {
        http_send_error(r, 410, "not_kept",
                        "retention dropped the raw segments and kept no coarse bins of this "
                        "series (see coarse_series in /api/admin/retention)");
        return;
    }
    if (!se) {
        http_send_error(r, 400, "bad_query", "unknown series or an empty range");
        return;
    }
    size_t nb = se->nrows ? se->rows[0].nvalues : 0, lo = 0, hi = nb;
    uint64_t w = se->bin_ns ? se->bin_ns : 1;
    while (lo < nb && se->from_ns + (lo + 1) * w <= from)
        lo++;
    while (to && hi > lo && se->from_ns + (hi - 1) * w >= to)
        hi--;
    json_t *rows = json_array();
    for (size_t i = 0; i < se->nrows; i++) {
        json_t *vals = json_array();
        for (size_t b = lo; b < hi && b < se->rows[i].nvalues; b++)
            json_array_append_new(vals, json_real(se->rows[i].values[b]));
        json_array_append_new(rows, json_pack("{s:s,s:s,s:o}", "name", se->rows[i].name, "kind",
                                              se->rows[i].kind, "values", vals));
    }
    json_t *o =
        json_pack("{s:s,s:I,s:I,s:I,s:o,s:b}", "series", series, "from_ns",
                  (json_int_t)(se->from_ns + lo * w), "to_ns", (json_int_t)(se->from_ns + hi * w),
                  "bin_ns", (json_int_t)w, "rows", rows, "coarse", 1);
    http_send_json(r, 200, o);
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
    if (!session_aggr(s)) {
        pthread_mutex_unlock(&s->lock);
        snapshot_aggregates(r, s, series, from, to);
        return;
    }
    int rc = aggr_query(session_aggr(s), series, from, to, (uint32_t)bins, &res);
    pthread_mutex_unlock(&s->lock);
    if (rc < 0) {
        http_send_error(r, 400, "bad_query", "unknown series or an empty range");
        return;
    }
    outbuf_t ob;
    aggrjson_write(&ob, series, &res);
    aggr_result_dispose(&res);
    http_send(r, 200, "application/json", ob.buf, ob.len);
    outbuf_dispose(&ob);
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
    int rc = session_aggr(s) ? aggr_svg(session_aggr(s), kind, from, to, (uint32_t)width, f) : 1;
    pthread_mutex_unlock(&s->lock);
    fclose(f);
    if (rc == 1)
        http_send_error(r, 409, "raw_dropped",
                        "only coarse aggregates remain (see /aggregates): retention dropped the "
                        "raw segments");
    else if (rc < 0)
        http_send_error(r, 400, "bad_query", "kind=grid|caps|gc|heap|heapprof|sparks");
    else
        http_send(r, 200, "image/svg+xml", svg, len);
    free(svg);
}

/* ---- saved bytes ----------------------------------------------------------------------------- */

typedef struct download {
    persist_target_t *pt;
    seg_reader_t *rd;
    uint64_t off;
} download_t;

static long download_read(void *ctx, void *buf, size_t cap)
{
    download_t *d = ctx;
    long k = seg_reader_pread(d->rd, buf, cap, d->off);
    if (k > 0) d->off += (uint64_t)k;
    return k;
}

static void download_done(void *ctx)
{
    download_t *d = ctx;
    seg_reader_destroy(d->rd);
    persist_release(d->pt);
    free(d);
}

/* The original bytes, byte-identical, streamed from the segments. */
static void get_eventlog(http_req_t *r)
{
    session_t *s = api_visible_session(r);
    if (!s) return;
    seg_log_t *l = &s->pt->log;
    pthread_mutex_lock(&l->mu);
    uint64_t start = l->start, end = l->end;
    pthread_mutex_unlock(&l->mu);
    if (start > 0) {
        http_send_error(r, 410, "raw_dropped",
                        "retention dropped the oldest raw segments of this session");
        return;
    }
    download_t *d = xcalloc(1, sizeof *d);
    d->pt = persist_retain(s->pt);
    d->rd = seg_reader_create(l);
    http_send_stream(r, 200, "application/octet-stream", end, download_read, download_done, d);
}

/* POST .../replay?speed=max|realtime|N&from=&to=: a new session fed with the saved bytes. */
static void post_replay(http_req_t *r)
{
    session_t *src = api_visible_session(r);
    if (!src) return;
    char sp[32] = "max";
    http_query(r, "speed", sp, sizeof sp);
    double speed = 0;
    char *end = NULL;
    if (!strcmp(sp, "realtime"))
        speed = 1;
    else if (strcmp(sp, "max") != 0 &&
             (!(speed = strtod(sp, &end)) || *end || speed <= 0 || speed > 1e9)) {
        http_send_error(r, 400, "bad_query", "speed=max|realtime|N (N > 0, times real time)");
        return;
    }
    uint64_t from, to;
    if (!query_u64(r, "from", &from, 0) || !query_u64(r, "to", &to, 0)) return;
    if (to && from >= to) {
        http_send_error(r, 400, "bad_range", "need from < to");
        return;
    }
    registry_t *reg = server_registry(r->srv);
    char name[300], err[256];
    snprintf(name, sizeof name, "replay of %.200s", src->meta.name);
    session_t *dst = session_create(reg, &r->auth, name, err, sizeof err);
    if (!dst) {
        http_send_error(r, 500, "internal", err);
        return;
    }
    if (replays_start(registry_replays(reg), src, dst, from, to, speed, err, sizeof err) < 0) {
        session_delete(reg, dst);
        http_send_error(r, 400, "bad_range", err);
        return;
    }
    json_t *o = session_json(r, dst);
    json_object_set_new(o, "source", json_string(src->meta.id));
    http_send_json(r, 201, o);
}

const http_route_t api_session_routes[] = {
    {"GET", "/api/sessions/{}/eventlog", get_eventlog},
    {"POST", "/api/sessions/{}/replay", post_replay},
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
