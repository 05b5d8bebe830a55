/* FlatBuffers for proto/ws.fbs by hand. The encoder writes front to back: each table is laid
 * out (vtable, then the table with its 8-byte fields first) with its offset fields patched once
 * the strings, vectors and tables they point to have been appended after it, so every uoffset
 * points forward as the format requires. The decoder checks every read against the buffer. */
#include "wsmsg.h"

#include "err.h"
#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>

#define MAX_LEN 0x7fffffffu /* FlatBuffers' own limit (2 GiB - 1) */

/* ---- little-endian access (the format is little-endian; so is every target we build) ------ */

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}
static void wr(uint8_t *p, uint64_t v, int size)
{
    for (int i = 0; i < size; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- encoder ------------------------------------------------------------------------------ */

void wsmsg_buf_init(wsmsg_buf_t *b)
{
    memset(b, 0, sizeof *b);
}

void wsmsg_buf_dispose(wsmsg_buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

#define VT_CACHE 16 /* vtables remembered for sharing */
#define STR_CACHE 8 /* short strings remembered for sharing (attribute names) */

typedef struct enc {
    wsmsg_buf_t *b;
    bool too_big;
    size_t vt[VT_CACHE]; /* positions of vtables written */
    uint8_t vt_len[VT_CACHE];
    int nvt;
    wsmsg_str_t str[STR_CACHE]; /* shared strings, written by end_shared */
    int nstr;
    struct pend {
        size_t slot; /* a uoffset to patch ... */
        int str;     /* ... to this shared string */
    } * pend;
    size_t npend, pend_cap;
} enc_t;

typedef struct pend pend_t;

/* Appends n zero bytes; returns their position. */
static size_t grow(enc_t *e, size_t n)
{
    wsmsg_buf_t *b = e->b;
    if (b->len + n > MAX_LEN) {
        e->too_big = true;
        n = 0;
        if (b->len > MAX_LEN) b->len = MAX_LEN;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n)
            cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    size_t at = b->len;
    memset(b->p + at, 0, n);
    b->len += n;
    return at;
}

static void align(enc_t *e, size_t a)
{
    size_t pad = (a - e->b->len % a) % a;
    if (pad) grow(e, pad);
}

/* Points the uoffset at `slot` to `target` (which lies after it). */
static void patch(enc_t *e, size_t slot, size_t target)
{
    if (!e->too_big) wr(e->b->p + slot, target - slot, 4);
}

typedef struct fld {
    uint8_t id, size; /* bytes: 1, 2, 4 or 8 */
    bool off;         /* an offset (4 bytes), patched later */
    uint64_t v;
} fld_t;

typedef struct tbl {
    fld_t f[8];
    int n;
    size_t slot[8]; /* by field id: where the offset field was written */
} tbl_t;

static void scalar(tbl_t *t, uint8_t id, uint8_t size, uint64_t v, uint64_t dflt)
{
    if (v != dflt) t->f[t->n++] = (fld_t){id, size, false, v};
}
static void offset(tbl_t *t, uint8_t id)
{
    t->f[t->n++] = (fld_t){id, 4, true, 0};
}

/* Writes the table of `t` and its vtable, or points it at an identical vtable written before
 * (as flatc's builders share them: a delta's many items and attributes share a handful);
 * returns the table's position. */
static size_t put_table(enc_t *e, tbl_t *t)
{
    int nf = 0;
    bool wide = false;
    for (int i = 0; i < t->n; i++) {
        if (t->f[i].id + 1 > nf) nf = t->f[i].id + 1;
        wide |= t->f[i].size == 8;
    }
    uint16_t fo[8] = {0}, tsize = 4;
    for (int size = 8; size >= 1; size /= 2) /* 8-byte fields first: no padding inside */
        for (int i = 0; i < t->n; i++)
            if (t->f[i].size == size) {
                fo[t->f[i].id] = tsize;
                tsize += (uint16_t)size;
            }
    uint8_t v[4 + 2 * 8];
    size_t vlen = 4 + 2 * (size_t)nf;
    wr(v, vlen, 2);
    wr(v + 2, tsize, 2);
    for (int i = 0; i < nf; i++)
        wr(v + 4 + 2 * i, fo[i], 2);
    size_t vt = SIZE_MAX;
    for (int i = 0; i < e->nvt && !e->too_big; i++)
        if (e->vt_len[i] == vlen && !memcmp(e->b->p + e->vt[i], v, vlen)) vt = e->vt[i];
    if (vt == SIZE_MAX) {
        align(e, 2);
        vt = grow(e, vlen);
        if (!e->too_big) memcpy(e->b->p + vt, v, vlen);
        int k = e->nvt < VT_CACHE ? e->nvt++ : (int)(vt / 2 % VT_CACHE);
        e->vt[k] = vt;
        e->vt_len[k] = (uint8_t)vlen;
    }
    /* the table starts at 4 mod 8 when it has 8-byte fields, so they land 8-aligned */
    size_t pad = wide ? (12 - e->b->len % 8) % 8 : (4 - e->b->len % 4) % 4;
    if (pad) grow(e, pad);
    size_t tp = grow(e, tsize);
    if (e->too_big) return tp;
    uint8_t *p = e->b->p;
    wr(p + tp, (uint64_t)(tp - vt), 4); /* soffset: the vtable lies before the table */
    for (int i = 0; i < t->n; i++) {
        size_t at = tp + fo[t->f[i].id];
        if (t->f[i].off)
            t->slot[t->f[i].id] = at;
        else
            wr(p + at, t->f[i].v, t->f[i].size);
    }
    return tp;
}

static bool has(wsmsg_str_t s)
{
    return s.p && s.len;
}

static size_t put_str(enc_t *e, wsmsg_str_t s)
{
    align(e, 4);
    size_t at = grow(e, 4 + (size_t)s.len + 1);
    if (!e->too_big) {
        wr(e->b->p + at, s.len, 4);
        memcpy(e->b->p + at + 4, s.p, s.len);
    }
    return at;
}

/* A short string field shared by every table of the message that names it (the attribute
 * names of a delta's items): uoffsets only point forward, so the shared strings are written
 * at the end of the message (end_shared) and the slots patched then. Unshared when
 * STR_CACHE names are already held. */
static void str_field_shared(enc_t *e, tbl_t *t, uint8_t id, wsmsg_str_t s)
{
    if (!has(s)) return;
    int k = 0;
    while (k < e->nstr && !(e->str[k].len == s.len && !memcmp(e->str[k].p, s.p, s.len)))
        k++;
    if (k == STR_CACHE) {
        patch(e, t->slot[id], put_str(e, s));
        return;
    }
    if (k == e->nstr) e->str[e->nstr++] = s;
    xgrow((void **)&e->pend, &e->pend_cap, e->npend + 1, sizeof *e->pend);
    e->pend[e->npend++] = (pend_t){t->slot[id], k};
}

static void end_shared(enc_t *e)
{
    size_t pos[STR_CACHE];
    for (int k = 0; k < e->nstr; k++)
        pos[k] = put_str(e, e->str[k]);
    for (size_t i = 0; i < e->npend; i++)
        patch(e, e->pend[i].slot, pos[e->pend[i].str]);
    free(e->pend);
}

/* A string field: written after its table, then patched. */
static void str_field(enc_t *e, tbl_t *t, uint8_t id, wsmsg_str_t s)
{
    if (has(s)) patch(e, t->slot[id], put_str(e, s));
}

/* A vector of n offsets; returns its position (slots at pos + 4 + 4 i). */
static size_t put_vec(enc_t *e, uint32_t n)
{
    align(e, 4);
    size_t at = grow(e, 4 + 4 * (size_t)n);
    if (!e->too_big) wr(e->b->p + at, n, 4);
    return at;
}

static size_t put_attr(enc_t *e, const wsmsg_attr_t *a)
{
    tbl_t t = {.n = 0};
    if (has(a->name)) offset(&t, 0);
    if (has(a->value)) offset(&t, 1);
    scalar(&t, 2, 1, a->remove, 0);
    scalar(&t, 3, 1, a->splice, 0);
    scalar(&t, 4, 4, a->at, 0);
    scalar(&t, 5, 4, a->cut, 0);
    size_t tp = put_table(e, &t);
    str_field_shared(e, &t, 0, a->name);
    str_field(e, &t, 1, a->value);
    return tp;
}

static size_t put_item(enc_t *e, const wsmsg_item_t *it)
{
    tbl_t t = {.n = 0};
    scalar(&t, 0, 1, (uint64_t)it->op, 0);
    if (has(it->id)) offset(&t, 1);
    if (has(it->parent)) offset(&t, 2);
    if (has(it->svg)) offset(&t, 3);
    if (it->nattrs) offset(&t, 4);
    if (has(it->before)) offset(&t, 5);
    size_t tp = put_table(e, &t);
    str_field(e, &t, 1, it->id);
    str_field(e, &t, 2, it->parent);
    str_field(e, &t, 3, it->svg);
    if (it->nattrs) {
        size_t v = put_vec(e, it->nattrs);
        patch(e, t.slot[4], v);
        for (uint32_t i = 0; i < it->nattrs; i++)
            patch(e, v + 4 + 4 * (size_t)i, put_attr(e, &it->attrs[i]));
    }
    str_field(e, &t, 5, it->before);
    return tp;
}

static size_t put_body(enc_t *e, const wsmsg_t *m)
{
    tbl_t t = {.n = 0};
    size_t tp;
    switch (m->type) {
    case WSMSG_SNAPSHOT: {
        const wsmsg_snapshot_t *s = &m->u.snapshot;
        if (has(s->diagram)) offset(&t, 0);
        scalar(&t, 1, 8, s->seq, 0);
        if (has(s->svg)) offset(&t, 2);
        scalar(&t, 3, 8, s->from_ns, 0);
        scalar(&t, 4, 8, s->to_ns, 0);
        tp = put_table(e, &t);
        str_field(e, &t, 0, s->diagram);
        str_field(e, &t, 2, s->svg);
        return tp;
    }
    case WSMSG_DELTA: {
        const wsmsg_delta_t *d = &m->u.delta;
        scalar(&t, 0, 8, d->seq, 0);
        if (has(d->diagram)) offset(&t, 1);
        if (d->nitems) offset(&t, 2);
        scalar(&t, 3, 8, d->from_ns, 0);
        scalar(&t, 4, 8, d->to_ns, 0);
        tp = put_table(e, &t);
        str_field(e, &t, 1, d->diagram);
        if (d->nitems) {
            size_t v = put_vec(e, d->nitems);
            patch(e, t.slot[2], v);
            for (uint32_t i = 0; i < d->nitems; i++)
                patch(e, v + 4 + 4 * (size_t)i, put_item(e, &d->items[i]));
        }
        return tp;
    }
    case WSMSG_STATE: {
        const wsmsg_state_t *s = &m->u.state;
        if (has(s->state)) offset(&t, 0);
        scalar(&t, 1, 8, s->bytes_ingested, 0);
        scalar(&t, 2, 8, s->events, 0);
        scalar(&t, 3, 8, s->end_ns, 0);
        tp = put_table(e, &t);
        str_field(e, &t, 0, s->state);
        return tp;
    }
    case WSMSG_ERROR:
        scalar(&t, 0, 2, m->u.error.code, 0);
        if (has(m->u.error.message)) offset(&t, 1);
        tp = put_table(e, &t);
        str_field(e, &t, 1, m->u.error.message);
        return tp;
    case WSMSG_HELLO:
        scalar(&t, 0, 8, m->u.hello.last_seq, 0);
        return put_table(e, &t);
    default: { /* WSMSG_SUBSCRIBE */
        const wsmsg_subscribe_t *s = &m->u.subscribe;
        if (s->ndiagrams) offset(&t, 0);
        scalar(&t, 1, 8, s->from_ns, 0);
        scalar(&t, 2, 8, s->to_ns, 0);
        tp = put_table(e, &t);
        if (s->ndiagrams) {
            size_t v = put_vec(e, s->ndiagrams);
            patch(e, t.slot[0], v);
            for (uint32_t i = 0; i < s->ndiagrams; i++)
                patch(e, v + 4 + 4 * (size_t)i, put_str(e, s->diagrams[i]));
        }
        return tp;
    }
    }
}

int wsmsg_encode(const wsmsg_t *m, wsmsg_buf_t *b)
{
    if (m->type < WSMSG_SNAPSHOT || m->type > WSMSG_SUBSCRIBE) return LP_EARG;
    if (m->type == WSMSG_DELTA)
        for (uint32_t i = 0; i < m->u.delta.nitems; i++)
            if ((unsigned)m->u.delta.items[i].op > WSMSG_REMOVE) return LP_EARG;
    b->len = 0;
    enc_t e = {.b = b};
    size_t root = grow(&e, 8); /* root uoffset, then the file identifier */
    memcpy(b->p + root + 4, "LPWS", 4);
    tbl_t t = {.n = 0};
    scalar(&t, 0, 1, (uint64_t)m->type, 0);
    offset(&t, 1);
    size_t tp = put_table(&e, &t);
    patch(&e, root, tp);
    patch(&e, t.slot[1], put_body(&e, m));
    end_shared(&e);
    return e.too_big ? LP_ERANGE : 0;
}

/* ---- decoder ------------------------------------------------------------------------------ */

typedef struct dec {
    const uint8_t *b;
    uint64_t len;
    uint8_t *arena;
    size_t used, cap;
} dec_t;

typedef struct tab {
    uint64_t pos, vt;
    uint16_t vtsize, tsize;
} tab_t;

static void *take(dec_t *d, size_t n)
{
    static uint64_t none; /* what an empty array points to */
    if (n == 0) return &none;
    size_t need = (n + 7) & ~(size_t)7;
    if (need > d->cap - d->used) return NULL;
    void *p = d->arena + d->used;
    d->used += need;
    return p;
}

/* Follows the uoffset stored at `at` (4-aligned, in bounds); the target must leave room for
 * `min` bytes and be 4-aligned. */
static int follow(const dec_t *d, uint64_t at, uint64_t *target)
{
    if (at % 4 || at + 4 > d->len) return LP_EPROTO;
    uint32_t o = rd32(d->b + at);
    uint64_t t = at + o;
    if (o == 0 || t % 4 || t + 4 > d->len) return LP_EPROTO;
    *target = t;
    return 0;
}

static int table_at(const dec_t *d, uint64_t pos, tab_t *t)
{
    if (pos % 4 || pos + 4 > d->len) return LP_EPROTO;
    int64_t vt = (int64_t)pos - (int32_t)rd32(d->b + pos);
    if (vt < 0 || vt % 2 || (uint64_t)vt + 4 > d->len) return LP_EPROTO;
    t->pos = pos;
    t->vt = (uint64_t)vt;
    t->vtsize = rd16(d->b + t->vt);
    t->tsize = rd16(d->b + t->vt + 2);
    if (t->vtsize < 4 || t->vtsize % 2 || t->vt + t->vtsize > d->len) return LP_EPROTO;
    if (t->tsize < 4 || pos + t->tsize > d->len) return LP_EPROTO;
    return 0;
}

/* Where field `id` of `size` bytes lies: 0 when absent, 1 with *at set, or LP_EPROTO. */
static int field(const tab_t *t, const dec_t *d, int id, unsigned size, uint64_t *at)
{
    unsigned slot = 4 + 2 * (unsigned)id;
    if (slot + 2 > t->vtsize) return 0;
    uint16_t fo = rd16(d->b + t->vt + slot);
    if (fo == 0) return 0;
    if (fo < 4 || fo + size > t->tsize || (t->pos + fo) % size) return LP_EPROTO;
    *at = t->pos + fo;
    return 1;
}

static int get_scalar(const tab_t *t, const dec_t *d, int id, unsigned size, uint64_t *v)
{
    uint64_t at;
    int rc = field(t, d, id, size, &at);
    *v = 0;
    if (rc <= 0) return rc;
    *v = size == 8   ? rd64(d->b + at)
         : size == 4 ? rd32(d->b + at)
         : size == 2 ? rd16(d->b + at)
                     : d->b[at];
    return 0;
}

static int str_at(const dec_t *d, uint64_t pos, wsmsg_str_t *s)
{
    uint32_t n = rd32(d->b + pos);
    if (pos + 4 + (uint64_t)n + 1 > d->len || d->b[pos + 4 + n] != 0) return LP_EPROTO;
    if (memchr(d->b + pos + 4, 0, n)) return LP_EPROTO;
    s->p = (const char *)d->b + pos + 4;
    s->len = n;
    return 0;
}

static int get_str(const tab_t *t, const dec_t *d, int id, wsmsg_str_t *s)
{
    uint64_t at, pos;
    *s = (wsmsg_str_t){"", 0};
    int rc = field(t, d, id, 4, &at);
    if (rc <= 0) return rc;
    if ((rc = follow(d, at, &pos)) < 0) return rc;
    return str_at(d, pos, s);
}

/* A vector of offsets: its element count and the position of its first slot. */
static int get_vec(const tab_t *t, const dec_t *d, int id, uint64_t *first, uint32_t *n)
{
    uint64_t at, pos;
    *n = 0;
    int rc = field(t, d, id, 4, &at);
    if (rc <= 0) return rc;
    if ((rc = follow(d, at, &pos)) < 0) return rc;
    *n = rd32(d->b + pos);
    if (pos + 4 + 4 * (uint64_t)*n > d->len) return LP_EPROTO;
    *first = pos + 4;
    return 0;
}

static int sub_table(const dec_t *d, uint64_t slot, tab_t *t)
{
    uint64_t pos;
    int rc = follow(d, slot, &pos);
    return rc < 0 ? rc : table_at(d, pos, t);
}

static int dec_item(dec_t *d, const tab_t *t, wsmsg_item_t *it)
{
    uint64_t op, first = 0;
    int rc;
    if ((rc = get_scalar(t, d, 0, 1, &op)) < 0) return rc;
    if (op > WSMSG_REMOVE) return LP_EPROTO;
    it->op = (wsmsg_op_t)op;
    if ((rc = get_str(t, d, 1, &it->id)) < 0 || (rc = get_str(t, d, 2, &it->parent)) < 0 ||
        (rc = get_str(t, d, 3, &it->svg)) < 0 || (rc = get_vec(t, d, 4, &first, &it->nattrs)) < 0 ||
        (rc = get_str(t, d, 5, &it->before)) < 0)
        return rc;
    wsmsg_attr_t *attrs = take(d, (size_t)it->nattrs * sizeof *attrs);
    if (!attrs) return LP_ENOMEM;
    for (uint32_t i = 0; i < it->nattrs; i++) {
        tab_t at;
        uint64_t rm, sp, pos, cut;
        if ((rc = sub_table(d, first + 4 * (uint64_t)i, &at)) < 0 ||
            (rc = get_str(&at, d, 0, &attrs[i].name)) < 0 ||
            (rc = get_str(&at, d, 1, &attrs[i].value)) < 0 ||
            (rc = get_scalar(&at, d, 2, 1, &rm)) < 0 || (rc = get_scalar(&at, d, 3, 1, &sp)) < 0 ||
            (rc = get_scalar(&at, d, 4, 4, &pos)) < 0 || (rc = get_scalar(&at, d, 5, 4, &cut)) < 0)
            return rc;
        attrs[i].remove = rm != 0;
        attrs[i].splice = sp != 0;
        attrs[i].at = (uint32_t)pos;
        attrs[i].cut = (uint32_t)cut;
    }
    it->attrs = attrs;
    return 0;
}

static int dec_body(dec_t *d, const tab_t *t, wsmsg_t *m)
{
    int rc = 0;
    uint64_t v, first = 0;
    switch (m->type) {
    case WSMSG_SNAPSHOT: {
        wsmsg_snapshot_t *s = &m->u.snapshot;
        if ((rc = get_str(t, d, 0, &s->diagram)) < 0 ||
            (rc = get_scalar(t, d, 1, 8, &s->seq)) < 0 || (rc = get_str(t, d, 2, &s->svg)) < 0 ||
            (rc = get_scalar(t, d, 3, 8, &s->from_ns)) < 0 ||
            (rc = get_scalar(t, d, 4, 8, &s->to_ns)) < 0)
            return rc;
        return 0;
    }
    case WSMSG_DELTA: {
        wsmsg_delta_t *x = &m->u.delta;
        if ((rc = get_scalar(t, d, 0, 8, &x->seq)) < 0 ||
            (rc = get_str(t, d, 1, &x->diagram)) < 0 ||
            (rc = get_vec(t, d, 2, &first, &x->nitems)) < 0 ||
            (rc = get_scalar(t, d, 3, 8, &x->from_ns)) < 0 ||
            (rc = get_scalar(t, d, 4, 8, &x->to_ns)) < 0)
            return rc;
        wsmsg_item_t *items = take(d, (size_t)x->nitems * sizeof *items);
        if (!items) return LP_ENOMEM;
        for (uint32_t i = 0; i < x->nitems; i++) {
            tab_t it;
            memset(&items[i], 0, sizeof items[i]);
            if ((rc = sub_table(d, first + 4 * (uint64_t)i, &it)) < 0 ||
                (rc = dec_item(d, &it, &items[i])) < 0)
                return rc;
        }
        x->items = items;
        return 0;
    }
    case WSMSG_STATE: {
        wsmsg_state_t *s = &m->u.state;
        if ((rc = get_str(t, d, 0, &s->state)) < 0 ||
            (rc = get_scalar(t, d, 1, 8, &s->bytes_ingested)) < 0 ||
            (rc = get_scalar(t, d, 2, 8, &s->events)) < 0 ||
            (rc = get_scalar(t, d, 3, 8, &s->end_ns)) < 0)
            return rc;
        return 0;
    }
    case WSMSG_ERROR:
        if ((rc = get_scalar(t, d, 0, 2, &v)) < 0) return rc;
        m->u.error.code = (uint16_t)v;
        return get_str(t, d, 1, &m->u.error.message);
    case WSMSG_HELLO:
        return get_scalar(t, d, 0, 8, &m->u.hello.last_seq);
    default: {
        wsmsg_subscribe_t *s = &m->u.subscribe;
        if ((rc = get_vec(t, d, 0, &first, &s->ndiagrams)) < 0 ||
            (rc = get_scalar(t, d, 1, 8, &s->from_ns)) < 0 ||
            (rc = get_scalar(t, d, 2, 8, &s->to_ns)) < 0)
            return rc;
        wsmsg_str_t *names = take(d, (size_t)s->ndiagrams * sizeof *names);
        if (!names) return LP_ENOMEM;
        for (uint32_t i = 0; i < s->ndiagrams; i++) {
            uint64_t pos;
            if ((rc = follow(d, first + 4 * (uint64_t)i, &pos)) < 0 ||
                (rc = str_at(d, pos, &names[i])) < 0)
                return rc;
        }
        s->diagrams = names;
        return 0;
    }
    }
}

int wsmsg_decode(const uint8_t *buf, size_t len, wsmsg_t *out, void *arena, size_t cap)
{
    memset(out, 0, sizeof *out);
    if (!buf || len < 8 || len > MAX_LEN || memcmp(buf + 4, "LPWS", 4)) return LP_EPROTO;
    dec_t d = {.b = buf, .len = len, .arena = arena, .cap = arena ? cap : 0};
    size_t mis = (uintptr_t)d.arena % 8; /* carve 8-aligned pieces whatever the caller gave */
    if (mis) {
        size_t skip = 8 - mis;
        d.arena += skip < d.cap ? skip : d.cap;
        d.cap = skip < d.cap ? d.cap - skip : 0;
    }
    tab_t root, body;
    uint64_t type;
    int rc;
    if ((rc = sub_table(&d, 0, &root)) < 0 || (rc = get_scalar(&root, &d, 0, 1, &type)) < 0)
        return rc;
    if (type < WSMSG_SNAPSHOT || type > WSMSG_SUBSCRIBE) return LP_EPROTO;
    uint64_t at;
    if ((rc = field(&root, &d, 1, 4, &at)) <= 0) return rc < 0 ? rc : LP_EPROTO;
    if ((rc = sub_table(&d, at, &body)) < 0) return rc;
    out->type = (wsmsg_type_t)type;
    rc = dec_body(&d, &body, out);
    if (rc < 0) memset(out, 0, sizeof *out);
    return rc;
}

const char *wsmsg_type_name(wsmsg_type_t t)
{
    static const char *const names[] = {"NONE",  "Snapshot", "Delta",    "State",
                                        "Error", "Hello",    "Subscribe"};
    return (unsigned)t <= WSMSG_SUBSCRIBE ? names[t] : "NONE";
}
