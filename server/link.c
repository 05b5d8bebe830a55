/* Server side of the monitor links. The link thread (libwebsockets client) speaks the wire
 * protocol: Hello with the connection's token, then Subscribe for each listed program from the
 * offset the HTTP thread asks for; it gathers Data frames into whole units and queues them, with
 * Header, State, Gap and Bye, for the HTTP thread, which owns the sessions and the offsets. */
#include "link.h"

#include "link_int.h"

#include "err.h"
#include "resources.h"
#include "server.h"
#include "session.h"
#include "wire.h"
#include "ws.h"
#include "xmalloc.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

/* ---- link thread ------------------------------------------------------------------------- */

void link_push_op(links_t *l, dial_t *d, int kind, const wire_frame_t *f, const uint8_t *data,
                  size_t len)
{
    op_t *o = xcalloc(1, sizeof *o);
    o->kind = kind;
    snprintf(o->prog, sizeof o->prog, "%.*s", (int)f->program.len, wire_str_chars(f->program));
    o->offset = f->offset;
    o->length = f->length;
    if (len) {
        o->data = xmalloc(len);
        memcpy(o->data, data, len);
        o->len = len;
    }
    pthread_mutex_lock(&l->mu);
    o->conn = d->id;
    o->gen = d->gen;
    if (l->ops_tail)
        l->ops_tail->next = o;
    else
        l->ops_head = o;
    l->ops_tail = o;
    pthread_mutex_unlock(&l->mu);
    http_notify(l->notifier);
}

static unit_t *unit_of(dial_t *d, wire_str_t prog)
{
    unit_t *free_u = NULL;
    for (int i = 0; i < MAX_UNITS; i++) {
        unit_t *u = &d->units[i];
        if (u->prog[0] && strlen(u->prog) == prog.len && !memcmp(u->prog, prog.p, prog.len))
            return u;
        if (!u->prog[0] && !free_u) free_u = u;
    }
    if (free_u)
        snprintf(free_u->prog, sizeof free_u->prog, "%.*s", (int)prog.len, wire_str_chars(prog));
    return free_u;
}

void link_set_error(links_t *l, dial_t *d, const char *msg)
{
    pthread_mutex_lock(&l->mu);
    snprintf(d->error, sizeof d->error, "%.199s", msg);
    pthread_mutex_unlock(&l->mu);
    if (d->pushed)
        fprintf(stderr, "liveprof: pushed monitor link: %s\n", msg);
    else
        fprintf(stderr, "liveprof: monitor link %lld: %s\n", (long long)d->id, msg);
}

int link_rx(links_t *l, dial_t *d, struct lws *wsi, const void *in, size_t len, size_t *n)
{
    if (d->rx_len + len > WIRE_MAX_FRAME) {
        link_set_error(l, d, "message larger than 64 KiB from the monitor");
        return -1;
    }
    memcpy(d->rx + d->rx_len, in, len);
    d->rx_len += len;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) return 0;
    *n = d->rx_len;
    d->rx_len = 0;
    return 1;
}

/* A unit's buffer is a mapping of its own, grown in place where the kernel can: what a unit gives
 * up goes back to the system at once, instead of staying in the link thread's heap where the
 * next units may not fit into its holes. Capacity is a power of two from UNIT_MIN_CAP. */
#define UNIT_MIN_CAP (64u << 10)
#define RETRY_MS 20 /* how often held programs are looked at (retry_held) */

static size_t unit_capacity(size_t cap, size_t need)
{
    size_t c = cap ? cap : UNIT_MIN_CAP;
    while (c < need)
        c *= 2;
    return c;
}

static void unit_reserve(unit_t *u, size_t need)
{
    if (need <= u->cap) return;
    size_t c = unit_capacity(u->cap, need);
    void *p = u->buf ? mremap(u->buf, u->cap, c, MREMAP_MAYMOVE)
                     : mmap(NULL, c, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) xoom(c);
    u->buf = p;
    u->cap = c;
}

static void unit_release(unit_t *u)
{
    if (u->buf) munmap(u->buf, u->cap);
    u->buf = NULL;
    u->cap = 0;
}

void link_units_free(dial_t *d)
{
    for (int i = 0; i < MAX_UNITS; i++) {
        unit_t *u = &d->units[i];
        unit_release(u);
        u->len = 0;
        u->on = false;
    }
}

/* Bytes the buffers of d's units hold. */
static size_t units_held(const dial_t *d)
{
    size_t held = 0;
    for (int i = 0; i < MAX_UNITS; i++)
        held += d->units[i].cap;
    return held;
}

/* Memory of a connection's units is bounded: before u's buffer grows to hold `need` bytes, the
 * buffers of d's units stay within UNITS_MAX (idle units give theirs back first). Returns 0, or
 * -1 when the units in progress would need more. */
static int units_make_room(dial_t *d, const unit_t *u, size_t need)
{
    if (need <= u->cap) return 0;
    size_t grown = unit_capacity(u->cap, need);
    if (units_held(d) - u->cap + grown <= UNITS_MAX) return 0;
    for (int i = 0; i < MAX_UNITS; i++) {
        unit_t *x = &d->units[i];
        if (x == u || x->on) continue;
        unit_release(x);
    }
    return units_held(d) - u->cap + grown <= UNITS_MAX ? 0 : -1;
}

int link_on_frame(links_t *l, dial_t *d, const uint8_t *b, size_t n)
{
    wire_frame_t f;
    if (wire_decode(&f, b, n) < 0) {
        link_set_error(l, d, "malformed frame from the monitor");
        return -1;
    }
    switch (f.kind) {
    case WIRE_HELLO:
        if (f.version < 1) {
            link_set_error(l, d, "unsupported protocol version");
            return -1;
        }
        return 0;
    case WIRE_ERROR: {
        char msg[WIRE_MAX_TEXT + 32];
        snprintf(msg, sizeof msg, "monitor: %.*s", (int)f.text.len, wire_str_chars(f.text));
        link_set_error(l, d, msg);
        return -1;
    }
    case WIRE_PROGRAMS:
        for (uint32_t i = 0; i < f.nprogs; i++) {
            wire_program_t p;
            if (wire_program_at(&f, i, &p) < 0 || !p.id.len) continue;
            wire_frame_t g = {.program = p.id, .length = p.ended};
            link_push_op(l, d, OP_PROGRAM, &g, NULL, 0);
        }
        return 0;
    case WIRE_HEADER:
        link_push_op(l, d, OP_HEADER, &f, f.data.p, f.data.len);
        return 0;
    case WIRE_STATE:
        link_push_op(l, d, OP_STATE, &f, f.data.p, f.data.len);
        return 0;
    case WIRE_GAP:
        link_push_op(l, d, OP_GAP, &f, NULL, 0);
        return 0;
    case WIRE_BYE:
        if (f.program.len) link_push_op(l, d, OP_BYE, &f, NULL, 0);
        return 0;
    case WIRE_HEARTBEAT:
        return 0;
    case WIRE_DATA: {
        unit_t *u = unit_of(d, f.program);
        if (!u) return 0;
        if ((f.flags & WIRE_FLAG_BLOCK_START) || !u->on) {
            u->on = true;
            u->offset = f.offset;
            u->len = 0;
        } else if (f.offset != u->offset + u->len) {
            link_set_error(l, d, "data out of order from the monitor");
            return -1;
        }
        if (u->len + f.data.len > UNIT_MAX) {
            link_set_error(l, d, "unit too large");
            return -1;
        }
        if (units_make_room(d, u, u->len + f.data.len) < 0) {
            link_set_error(l, d, "units in progress over 128 MiB");
            return -1;
        }
        unit_reserve(u, u->len + f.data.len);
        if (f.data.len) /* (nothing to copy: the unit may have no buffer yet, data none) */
            memcpy(u->buf + u->len, f.data.p, f.data.len);
        u->len += f.data.len;
        if (f.flags & WIRE_FLAG_BLOCK_END) {
            wire_frame_t g = {.program = f.program, .offset = u->offset};
            link_push_op(l, d, OP_DATA, &g, u->buf, u->len);
            u->on = false;
            u->ack = u->offset + u->len;
            u->ack_due = true;
            if (u->cap > UNIT_KEEP) /* a huge unit's buffer is not kept for the next one */
                unit_release(u);
            lws_callback_on_writable(d->wsi);
        }
        return 0;
    }
    default:
        link_set_error(l, d, "unexpected frame from the monitor");
        return -1;
    }
}

static int send_frame(links_t *l, dial_t *d, const wire_frame_t *f)
{
    uint8_t *tx = d->pushed ? l->ptx : l->tx; /* one buffer per serving thread */
    int n = wire_encode(f, tx + LWS_PRE, WIRE_MAX_FRAME);
    if (n < 0) return -1;
    if (!d->pushed) return link_dial_send(d, tx + LWS_PRE, (size_t)n);
    return lws_write(d->wsi, tx + LWS_PRE, (size_t)n, LWS_WRITE_BINARY) < n ? -1 : 0;
}

int link_on_writeable(links_t *l, dial_t *d)
{
    if (d->closing) return -1;
    if (!d->hello_sent) {
        d->hello_sent = true;
        pthread_mutex_lock(&l->mu);
        wire_frame_t h = {.kind = WIRE_HELLO, .version = WIRE_VERSION};
        h.token = wire_cstr(d->token[0] ? d->token : NULL);
        h.text = wire_cstr("liveprof-server");
        int rc = send_frame(l, d, &h);
        pthread_mutex_unlock(&l->mu);
        return rc < 0 ? -1 : 1;
    }
    pthread_mutex_lock(&l->mu);
    if (d->nsubs) { /* in the order the programs were listed */
        sub_req_t r = d->subs[0];
        memmove(d->subs, d->subs + 1, --d->nsubs * sizeof d->subs[0]);
        pthread_mutex_unlock(&l->mu);
        wire_frame_t s = {.kind = WIRE_SUBSCRIBE, .program = wire_cstr(r.prog), .offset = r.offset};
        return send_frame(l, d, &s) < 0 ? -1 : 1;
    }
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < MAX_UNITS; i++) {
        unit_t *u = &d->units[i];
        if (!u->ack_due) continue;
        u->ack_due = false;
        wire_frame_t a = {.kind = WIRE_ACK, .program = wire_cstr(u->prog), .offset = u->ack};
        return send_frame(l, d, &a) < 0 ? -1 : 1;
    }
    return 0;
}

/* ---- HTTP thread --------------------------------------------------------------------------- */

static hprog_t *hprog_of(links_t *l, int64_t conn, const char *id)
{
    for (size_t i = 0; i < l->nprogs; i++)
        if (l->progs[i].conn == conn && !strcmp(l->progs[i].id, id)) return &l->progs[i];
    return NULL;
}

static session_t *hprog_session(links_t *l, const hprog_t *h)
{
    return h->sid[0] ? session_find(l->reg, h->sid) : NULL;
}

/* A session named after the program that is still open (after a server restart). */
static session_t *open_session_named(links_t *l, const char *name)
{
    size_t n = 0;
    session_t **all = session_all(l->reg, &n);
    for (size_t i = n; i-- > 0;)
        if (!strcmp(all[i]->meta.name, name) && !all[i]->input_done &&
            session_state(all[i]) != SESSION_FAILED)
            return all[i];
    return NULL;
}

/* Asks the monitor on connection `conn` for program h from byte h->expected; false when the
 * connection is gone or has too many requests pending. */
static bool subscribe(links_t *l, int64_t conn, const hprog_t *h)
{
    pthread_mutex_lock(&l->mu);
    dial_t *d = link_slot(l, conn);
    bool queued = d && d->nsubs < MAX_UNITS;
    if (queued) {
        snprintf(d->subs[d->nsubs].prog, sizeof d->subs[0].prog, "%s", h->id);
        d->subs[d->nsubs++].offset = h->expected;
    }
    pthread_mutex_unlock(&l->mu);
    struct lws_context *ctx = link_ctx_of(l, conn);
    if (queued && ctx) lws_cancel_service(ctx);
    return queued;
}

static void on_program(links_t *l, const op_t *o)
{
    hprog_t *h = hprog_of(l, o->conn, o->prog);
    if (!h) {
        auth_t owner = {0};
        pthread_mutex_lock(&l->mu);
        dial_t *d = link_slot(l, o->conn);
        if (d) owner = d->owner;
        pthread_mutex_unlock(&l->mu);
        session_t *s = open_session_named(l, o->prog);
        char err[256] = "";
        if (!s) s = session_create(l->reg, &owner, o->prog, err, sizeof err);
        if (!s) {
            fprintf(stderr, "liveprof: monitor link: no session for %s: %s\n", o->prog, err);
            return;
        }
        xgrow((void **)&l->progs, &l->progs_cap, l->nprogs + 1, sizeof *l->progs);
        h = &l->progs[l->nprogs++];
        memset(h, 0, sizeof *h);
        h->conn = o->conn;
        snprintf(h->id, sizeof h->id, "%s", o->prog);
        snprintf(h->sid, sizeof h->sid, "%s", s->meta.id);
        /* resume what an earlier run received (kept open across a server restart); a State
         * belongs right after the header only, never in the middle of resumed bytes */
        h->expected = h->appended = s->received;
        h->hdr_len = 0;
    }
    if (h->ended || h->gen == o->gen) return;
    h->gen = o->gen;
    if (h->hold) h->hold = HOLD_RESEND; /* the new link starts from `expected` */
    subscribe(l, o->conn, h);
}

/* Stores bytes of the program's stream; false when they were not taken: the session ended, or
 * the segment writer is too far behind (LP_ERANGE), when the program is held (hold_t, retry_held):
 * counting refused bytes as held would leave a hole in the stored stream. */
static bool append(links_t *l, hprog_t *h, session_t *s, const uint8_t *p, size_t n)
{
    int rc = session_append(l->reg, s, p, n);
    if (rc == LP_ERANGE) {
        if (h->holds++ % 64 == 0)
            fprintf(stderr,
                    "liveprof: monitor link: program %s: the segment writer is behind; its bytes "
                    "from offset %llu are asked for again when it has room (%llu times so far)\n",
                    h->id, (unsigned long long)h->expected, (unsigned long long)h->holds);
        h->hold = HOLD_ROOM;
        return false;
    }
    if (rc < 0) { /* its segments failed: the session ends with what they hold */
        fprintf(stderr,
                "liveprof: monitor link: program %s: cannot store its bytes (%s); its "
                "session ends here\n",
                h->id, lp_strerror(rc));
        session_end_input(l->reg, s);
        h->ended = true;
        return false;
    }
    h->appended += n;
    if (!h->live) h->live = session_mark_live(s) == 0;
    return true;
}

static void gap(hprog_t *h, uint64_t off, uint64_t len)
{
    h->gaps++;
    h->gap_bytes += len;
    h->expected = off + len;
    fprintf(stderr, "liveprof: monitor link: program %s: %llu bytes lost at offset %llu\n", h->id,
            (unsigned long long)len, (unsigned long long)off);
}

/* Data or a Gap for a session that holds nothing yet, before its Header: refused (the session would
 * be no eventlog), with the error on the connection. The Header, when it comes, starts it. */
static void data_before_header(links_t *l, int64_t conn, const hprog_t *h)
{
    char msg[WIRE_MAX_PROGRAM + 64];
    snprintf(msg, sizeof msg, "program %s: data or a gap before its header, ignored", h->id);
    pthread_mutex_lock(&l->mu);
    dial_t *d = link_slot(l, conn);
    if (d) snprintf(d->error, sizeof d->error, "%.199s", msg);
    pthread_mutex_unlock(&l->mu);
    fprintf(stderr, "liveprof: monitor link: %s\n", msg);
}

/* Records the time of a successful link in the connection's last_used. */
static void linked(links_t *l, int64_t conn)
{
    json_t *key = json_integer(conn);
    json_t *changes = json_pack("{s:I}", "last_used", (json_int_t)time(NULL));
    if (key && changes) (void)resource_update(l->db, &resource_connections, key, changes);
    json_decref(key);
    json_decref(changes);
}

static void on_op(links_t *l, const op_t *o)
{
    if (o->kind == OP_LINKED) {
        if (o->conn > 0) linked(l, o->conn);
        return;
    }
    if (o->kind == OP_HELLO) {
        link_push_hello(l, o->conn, o->gen);
        return;
    }
    if (o->kind == OP_PROGRAM) {
        on_program(l, o);
        return;
    }
    hprog_t *h = hprog_of(l, o->conn, o->prog);
    session_t *s = h ? hprog_session(l, h) : NULL;
    if (!s || h->ended || h->hold == HOLD_ROOM) return; /* all of it comes again (a Bye too) */
    if (h->hold == HOLD_RESEND) {
        /* sent before the new Subscribe, so it comes again: the resent stream starts with a unit
         * or a Gap at or before `expected` (after the header, from 0; the State may precede it) */
        if (o->kind == OP_BYE ||
            ((o->kind == OP_DATA || o->kind == OP_GAP) && o->offset > h->expected))
            return;
        if (o->kind != OP_STATE) h->hold = HOLD_NONE;
    }
    switch (o->kind) {
    case OP_HEADER:
        if (h->expected == 0 && append(l, h, s, o->data, o->len)) h->expected = h->hdr_len = o->len;
        break;
    case OP_STATE: /* a late joiner: the state goes right after the header, once */
        if (h->appended == h->hdr_len && h->hdr_len) append(l, h, s, o->data, o->len);
        break;
    case OP_GAP:
        if (!h->expected) {
            data_before_header(l, o->conn, h);
            break;
        }
        if (o->offset + o->length > h->expected && o->offset + o->length >= o->offset) {
            uint64_t from = o->offset > h->expected ? h->expected : o->offset;
            if (from < h->expected) from = h->expected;
            gap(h, from, o->offset + o->length - from);
        }
        break;
    case OP_DATA: {
        uint64_t off = o->offset;
        const uint8_t *p = o->data;
        size_t n = o->len;
        if (!h->expected) { /* a stream starts with its header: bytes before it are no eventlog */
            data_before_header(l, o->conn, h);
            break;
        }
        if (off + n <= h->expected || off + n < off) break; /* already held: no duplicate */
        if (off < h->expected) {
            p += h->expected - off;
            n -= h->expected - off;
            off = h->expected;
        }
        if (off > h->expected) gap(h, h->expected, off - h->expected);
        if (append(l, h, s, p, n)) h->expected = off + n;
        break;
    }
    case OP_BYE:
        h->ended = true;
        session_end_input(l->reg, s);
        break;
    default:
        break;
    }
}

/* Every RETRY_MS on the HTTP thread: a held program is subscribed again from the next byte its
 * session lacks once the segment writer is back below its soft bound (as held upload chunks are
 * answered), so its refused bytes come again from the monitor's backlog. */
static void retry_held(void *ctx)
{
    links_t *l = ctx;
    for (size_t i = 0; i < l->nprogs; i++) {
        hprog_t *h = &l->progs[i];
        if (h->hold != HOLD_ROOM || !session_room(l->reg, 0)) continue;
        if (h->ended || !hprog_session(l, h))
            h->hold = HOLD_NONE;
        else if (subscribe(l, h->conn, h))
            h->hold = HOLD_RESEND;
    }
}

static void on_news(void *ctx)
{
    links_t *l = ctx;
    pthread_mutex_lock(&l->mu);
    op_t *o = l->ops_head;
    l->ops_head = l->ops_tail = NULL;
    pthread_mutex_unlock(&l->mu);
    while (o) {
        op_t *next = o->next;
        on_op(l, o);
        free(o->data);
        free(o);
        o = next;
    }
}

dial_t *link_slot(links_t *l, int64_t id)
{
    if (id < 0 && id >= -MAX_PUSHES) return &l->pushes[-id - 1];
    for (int i = 0; i < MAX_DIALS && id > 0; i++)
        if (l->dials[i].id == id) return &l->dials[i];
    return NULL;
}

struct lws_context *link_ctx_of(links_t *l, int64_t id)
{
    return id < 0 ? (l->ws ? ws_context(l->ws) : NULL) : l->ctx;
}

links_t *links_create(registry_t *reg, http_server_t *http, db_t *db, ws_t *ws, char *err,
                      size_t cap)
{
    links_t *l = xcalloc(1, sizeof *l);
    l->reg = reg;
    l->db = db;
    pthread_mutex_init(&l->mu, NULL);
    for (int i = 0; i < MAX_DIALS; i++) {
        l->dials[i].owner_links = l;
        l->dials[i].rx = NULL;
    }
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = link_dial_protocols;
    info.user = l;
    info.pt_serv_buf_size = 4 * WIRE_MAX_FRAME; /* bytes a read(2) takes: not lws's 4 KiB */
    lws_set_log_level(LLL_ERR, NULL);
    l->ctx = lws_create_context(&info);
    if (!l->ctx) {
        snprintf(err, cap, "cannot start the monitor links");
        free(l);
        return NULL;
    }
    link_dial_start(l, server_opts(registry_server(reg))->ws_timeout_s);
    l->notifier = http_notifier_create(http, on_news, l);
    http_every(http, RETRY_MS, retry_held, l);
    if (ws && link_push_init(l, ws) < 0)
        fprintf(stderr, "liveprof: monitors cannot push to the WebSocket port\n");
    if (pthread_create(&l->thread, NULL, link_dial_service, l) != 0) {
        snprintf(err, cap, "cannot start the monitor link thread");
        http_notifier_destroy(l->notifier);
        lws_context_destroy(l->ctx);
        free(l);
        return NULL;
    }
    return l;
}

void links_destroy(links_t *l)
{
    if (!l) return;
    atomic_store(&l->stop, true);
    lws_cancel_service(l->ctx);
    pthread_join(l->thread, NULL);
    lws_context_destroy(l->ctx);
    http_notifier_destroy(l->notifier);
    for (op_t *o = l->ops_head, *n; o; o = n) {
        n = o->next;
        free(o->data);
        free(o);
    }
    for (int i = 0; i < MAX_DIALS + MAX_PUSHES; i++) {
        dial_t *d = i < MAX_DIALS ? &l->dials[i] : &l->pushes[i - MAX_DIALS];
        free(d->rx);
        link_units_free(d);
    }
    free(l->progs);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

void links_want(links_t *l, int64_t id, const char *host, int port, const char *token,
                const auth_t *owner, bool connect)
{
    pthread_mutex_lock(&l->mu);
    dial_t *d = NULL;
    for (int i = 0; i < MAX_DIALS && !d; i++)
        if (l->dials[i].id == id) d = &l->dials[i];
    for (int i = 0; i < MAX_DIALS && !d && connect; i++)
        if (!l->dials[i].id) { /* slots are never given back: a dial keeps its id */
            d = &l->dials[i];
            d->id = id;
            if (!d->rx) d->rx = xmalloc(WIRE_MAX_FRAME);
            snprintf(d->state, sizeof d->state, "disconnected");
        }
    if (d) {
        snprintf(d->host, sizeof d->host, "%s", host ? host : "");
        snprintf(d->token, sizeof d->token, "%s", token ? token : "");
        d->port = port;
        d->owner = *owner;
        d->want = connect;
        d->dirty = true;
    }
    pthread_mutex_unlock(&l->mu);
    lws_cancel_service(l->ctx);
}

json_t *links_status(links_t *l, int64_t id)
{
    json_t *progs = json_array();
    for (size_t i = 0; i < l->nprogs; i++) {
        const hprog_t *h = &l->progs[i];
        if (h->conn != id) continue;
        json_array_append_new(progs, json_pack("{s:s,s:s,s:I,s:I,s:I,s:b}", "id", h->id, "session",
                                               h->sid, "bytes", (json_int_t)h->expected, "gaps",
                                               (json_int_t)h->gaps, "gap_bytes",
                                               (json_int_t)h->gap_bytes, "ended", h->ended));
    }
    const char *state = "disconnected";
    char error[200] = "";
    pthread_mutex_lock(&l->mu);
    for (int i = 0; i < MAX_DIALS; i++)
        if (l->dials[i].id == id) {
            state = l->dials[i].state[0] ? l->dials[i].state : "disconnected";
            snprintf(error, sizeof error, "%s", l->dials[i].error);
        }
    json_t *o = json_pack("{s:s,s:s,s:o}", "state", state, "error", error, "programs", progs);
    pthread_mutex_unlock(&l->mu);
    return o;
}
