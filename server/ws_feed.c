/* Per-session diagram feeds for the WebSocket clients: views rendered from the session's
 * aggregates (queried under the session mutex, drawn and diffed outside it), deltas numbered by
 * one sequence per session, and a bounded history to replay to clients that reconnect. */
#include "ws_feed.h"

#include "aggr_svg.h"
#include "err.h"
#include "live.h"
#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>

#define HISTORY_BYTES (8u << 20) /* and at most this many bytes of deltas */
#define SNAPSHOT_SLACK 64        /* bytes of a Snapshot message around its document */

const char *const ws_feed_kinds[6] = {"grid", "caps", "gc", "heap", "heapprof", "sparks"};

int ws_feed_kind(const char *name, size_t len)
{
    for (int i = 0; i < 6; i++)
        if (strlen(ws_feed_kinds[i]) == len && !memcmp(ws_feed_kinds[i], name, len)) return i;
    return -1;
}

ws_msg_t *ws_msg_new(const wsmsg_t *m)
{
    wsmsg_buf_t b;
    wsmsg_buf_init(&b);
    if (wsmsg_encode(m, &b) < 0) {
        wsmsg_buf_dispose(&b);
        return NULL;
    }
    ws_msg_t *msg = xmalloc(sizeof *msg + WS_MSG_HEADROOM + b.len);
    msg->refs = 1;
    msg->seq = m->type == WSMSG_DELTA      ? m->u.delta.seq
               : m->type == WSMSG_SNAPSHOT ? m->u.snapshot.seq
                                           : 0;
    msg->len = b.len;
    msg->data = (uint8_t *)(msg + 1) + WS_MSG_HEADROOM;
    memcpy(msg->data, b.p, b.len);
    wsmsg_buf_dispose(&b);
    return msg;
}

ws_msg_t *ws_msg_ref(ws_msg_t *m)
{
    m->refs++;
    return m;
}

void ws_msg_unref(ws_msg_t *m)
{
    if (m && --m->refs == 0) free(m);
}

typedef struct hist {
    uint64_t seq;
    uint32_t view;
    ws_msg_t *msg;
} hist_t;

struct ws_feed {
    session_t *s;
    uint64_t seq;
    ws_view_t **views;
    size_t nviews, views_cap;
    uint32_t next_view;
    hist_t hist[WS_FEED_HISTORY];
    size_t hhead, hlen, hbytes;
    uint64_t hist_floor; /* every delta with seq > hist_floor is in the history (from 1) */
    /* the State last sent */
    int state;
    uint64_t bytes, events, end_ns;
    ws_msg_t *state_msg;
};

ws_feed_t *ws_feed_create(session_t *s)
{
    ws_feed_t *f = xcalloc(1, sizeof *f);
    f->s = s;
    f->state = -1;
    f->seq = 1; /* a snapshot before any delta carries 1, so a Hello can resume from it */
    f->hist_floor = 1;
    return f;
}

static void view_free(ws_view_t *v)
{
    diagram_dispose(&v->doc);
    ws_msg_unref(v->snapshot);
    free(v);
}

void ws_feed_destroy(ws_feed_t *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->nviews; i++)
        view_free(f->views[i]);
    for (size_t i = 0; i < f->hlen; i++)
        ws_msg_unref(f->hist[(f->hhead + i) % WS_FEED_HISTORY].msg);
    ws_msg_unref(f->state_msg);
    free(f->views);
    session_unref(f->s);
    free(f);
}

session_t *ws_feed_session(const ws_feed_t *f)
{
    return f->s;
}

uint64_t ws_feed_seq(const ws_feed_t *f)
{
    return f->seq;
}

size_t ws_feed_nviews(const ws_feed_t *f)
{
    return f->nviews;
}

/* ---- rendering ---------------------------------------------------------------------------- */

/* Queries every view in `vs` under the session mutex, then draws each into next[i]. Returns
 * false when the session has no aggregates to show. */
static bool render(ws_feed_t *f, ws_view_t **vs, size_t n, diagram_t *next, uint64_t *to)
{
    aggr_svg_data_t *data = xcalloc(n ? n : 1, sizeof *data);
    session_t *s = f->s;
    pthread_mutex_lock(&s->lock);
    const aggr_t *a = session_aggr(s);
    /* a settled session shows its data's range (as /diagram.svg without from and to), a live
     * one the live view's range; either is the same for every kind */
    bool settled = session_state(s) >= SESSION_DONE;
    for (size_t i = 0; i < n && a; i++) {
        const char *kind = ws_feed_kinds[vs[i]->kind];
        to[i] = vs[i]->to_req;
        if (!to[i] && !settled) aggr_svg_follow(a, kind, WS_VIEW_WIDTH, &to[i]);
        if (aggr_svg_query(a, kind, vs[i]->from, to[i], WS_VIEW_WIDTH, &data[i]) < 0)
            memset(&data[i], 0, sizeof data[i]);
        else if (!to[i])
            to[i] = data[i].to; /* the data's range as resolved by the query */
    }
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < n && a; i++) {
        memset(&next[i], 0, sizeof next[i]);
        if (data[i].nq) diagram_draw(&next[i], &data[i]);
        aggr_svg_data_dispose(&data[i]);
    }
    free(data);
    return a != NULL;
}

ws_view_t *ws_feed_view(ws_feed_t *f, int kind, uint64_t from, uint64_t to)
{
    for (size_t i = 0; i < f->nviews; i++) {
        ws_view_t *v = f->views[i];
        if (v->kind == kind && v->from == from && v->to_req == to) {
            v->users++;
            return v;
        }
    }
    ws_view_t *v = xcalloc(1, sizeof *v);
    v->id = ++f->next_view;
    v->kind = kind;
    v->from = from;
    v->to_req = to;
    v->users = 1;
    v->created_seq = f->seq;
    diagram_t next;
    memset(&next, 0, sizeof next);
    if (render(f, &v, 1, &next, &v->to)) v->doc = next;
    xgrow((void **)&f->views, &f->views_cap, f->nviews + 1, sizeof *f->views);
    f->views[f->nviews++] = v;
    return v;
}

void ws_feed_release(ws_feed_t *f, ws_view_t *v)
{
    if (--v->users > 0) return;
    for (size_t i = 0; i < f->nviews; i++)
        if (f->views[i] == v) {
            f->views[i] = f->views[--f->nviews];
            break;
        }
    view_free(v);
}

ws_msg_t *ws_feed_snapshot(ws_feed_t *f, ws_view_t *v)
{
    if (!v->snapshot) {
        wsmsg_t m = {.type = WSMSG_SNAPSHOT};
        const char *k = ws_feed_kinds[v->kind];
        m.u.snapshot.diagram = (wsmsg_str_t){k, (uint32_t)strlen(k)};
        m.u.snapshot.seq = f->seq;
        m.u.snapshot.svg = (wsmsg_str_t){v->doc.text, (uint32_t)v->doc.len};
        m.u.snapshot.from_ns = v->from;
        m.u.snapshot.to_ns = v->to;
        v->snapshot = ws_msg_new(&m);
    }
    return ws_msg_ref(v->snapshot);
}

/* ---- state -------------------------------------------------------------------------------- */

static ws_msg_t *state_msg(ws_feed_t *f)
{
    const char *name = session_state_name((session_state_t)f->state);
    wsmsg_t m = {.type = WSMSG_STATE};
    m.u.state.state = (wsmsg_str_t){name, (uint32_t)strlen(name)};
    m.u.state.bytes_ingested = f->bytes;
    m.u.state.events = f->events;
    m.u.state.end_ns = f->end_ns;
    return ws_msg_new(&m);
}

/* Reads the session's state and counters; true when they moved since the last call. */
static bool poll_state(ws_feed_t *f)
{
    session_t *s = f->s;
    int st = (int)session_state(s);
    uint64_t bytes = session_analysed(s);
    uint64_t events = session_events_analysed(s), end = 0;
    pthread_mutex_lock(&s->lock);
    const aggr_t *a = session_aggr(s);
    if (a) aggr_range(a, NULL, &end);
    pthread_mutex_unlock(&s->lock);
    if (st == f->state && bytes == f->bytes && events == f->events && end == f->end_ns &&
        f->state_msg)
        return false;
    f->state = st, f->bytes = bytes, f->events = events, f->end_ns = end;
    ws_msg_unref(f->state_msg);
    f->state_msg = state_msg(f);
    return true;
}

ws_msg_t *ws_feed_state(ws_feed_t *f)
{
    if (!f->state_msg) poll_state(f);
    return ws_msg_ref(f->state_msg);
}

/* ---- deltas and history ------------------------------------------------------------------- */

static void hist_push(ws_feed_t *f, uint32_t view, ws_msg_t *m)
{
    while (f->hlen && (f->hlen == WS_FEED_HISTORY || f->hbytes + m->len > HISTORY_BYTES)) {
        hist_t *h = &f->hist[f->hhead];
        f->hist_floor = h->seq;
        f->hbytes -= h->msg->len;
        ws_msg_unref(h->msg);
        f->hhead = (f->hhead + 1) % WS_FEED_HISTORY;
        f->hlen--;
    }
    f->hist[(f->hhead + f->hlen) % WS_FEED_HISTORY] = (hist_t){m->seq, view, ws_msg_ref(m)};
    f->hlen++;
    f->hbytes += m->len;
}

/* The delta message from v's document to `next`, or NULL when nothing changed; a change no
 * delta can express, or one whose delta would be larger than the document (every element of a
 * chart whose time axis doubled), makes the view's next Snapshot the message instead. */
static ws_msg_t *delta(ws_feed_t *f, ws_view_t *v, diagram_t *next, uint64_t to)
{
    diagram_delta_t x;
    diagram_delta_init(&x);
    int rc = diagram_diff(&v->doc, next, &x);
    ws_msg_t *m = NULL;
    if (rc == 0 && x.n == 0) {
        diagram_delta_dispose(&x);
        diagram_dispose(next);
        return NULL;
    }
    const char *k = ws_feed_kinds[v->kind];
    wsmsg_t d = {.type = WSMSG_DELTA};
    d.u.delta.seq = ++f->seq;
    d.u.delta.diagram = (wsmsg_str_t){k, (uint32_t)strlen(k)};
    d.u.delta.from_ns = v->from;
    d.u.delta.to_ns = to;
    if (rc == 0) {
        d.u.delta.items = x.items;
        d.u.delta.nitems = (uint32_t)x.n;
        m = ws_msg_new(&d);
        if (m && m->len > next->len + SNAPSHOT_SLACK) { /* a rescaled chart: all of it anew */
            ws_msg_unref(m);
            m = NULL;
        }
    }
    diagram_delta_dispose(&x);
    diagram_dispose(&v->doc);
    v->doc = *next;
    v->to = to;
    ws_msg_unref(v->snapshot);
    v->snapshot = NULL;
    if (!m) { /* no delta expresses it: the new snapshot carries this seq */
        m = ws_feed_snapshot(f, v);
    }
    return m;
}

int ws_feed_update(ws_feed_t *f, ws_out_t *out, int cap, ws_msg_t **state)
{
    *state = poll_state(f) ? ws_msg_ref(f->state_msg) : NULL;
    size_t n = f->nviews;
    if (!n) return 0;
    diagram_t *next = xcalloc(n, sizeof *next);
    uint64_t *to = xcalloc(n, sizeof *to);
    int k = 0;
    if (render(f, f->views, n, next, to)) {
        for (size_t i = 0; i < n; i++) {
            ws_view_t *v = f->views[i];
            if (!next[i].nnodes) continue; /* not drawable now: keep the last render */
            ws_msg_t *m = delta(f, v, &next[i], to[i]);
            if (!m) continue;
            hist_push(f, v->id, m);
            if (k < cap)
                out[k++] = (ws_out_t){v, m};
            else
                ws_msg_unref(m);
        }
    }
    free(next);
    free(to);
    return k;
}

int ws_feed_missed(ws_feed_t *f, uint64_t last_seq, ws_view_t *const *views, int nviews,
                   ws_msg_t **out, int cap)
{
    if (last_seq > f->seq || last_seq < f->hist_floor) return -1;
    for (int j = 0; j < nviews; j++)
        if (views[j]->created_seq > last_seq)
            return -1; /* the client's copy came from an
                           earlier view of that diagram */
    int k = 0;
    for (size_t i = 0; i < f->hlen; i++) {
        const hist_t *h = &f->hist[(f->hhead + i) % WS_FEED_HISTORY];
        if (h->seq <= last_seq) continue;
        bool mine = false;
        for (int j = 0; j < nviews; j++)
            mine |= views[j]->id == h->view;
        if (!mine) continue;
        if (k == cap) {
            while (k > 0)
                ws_msg_unref(out[--k]);
            return -1;
        }
        out[k++] = ws_msg_ref(h->msg);
    }
    return k;
}
