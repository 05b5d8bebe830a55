/* Diagram documents as elements keyed by id, and their deltas. Parsing only walks the layout
 * lib/aggr_svg.c writes (it trusts nothing it did not check); the diff matches elements of one
 * level by id, keeps those already in order, removes the rest and adds the missing ones before
 * their next sibling, so applying the items in order yields the new document byte for byte. */
#include "diagram.h"

#include "err.h"
#include "xmalloc.h"

#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

/* ---- parsing ------------------------------------------------------------------------------ */

/* The end of the tag that starts at p ('<'): just after its '>', or 0. */
static size_t tag_close(const char *t, size_t len, size_t p)
{
    char quote = 0;
    for (size_t i = p + 1; i < len; i++) {
        char c = t[i];
        if (quote) {
            if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '>') {
            return i + 1;
        }
    }
    return 0;
}

/* Scans the element at p: sets *tag_end and returns its end, or 0 when it is not well nested. */
static size_t element_end(const char *t, size_t len, size_t p, size_t *tag_end)
{
    size_t e = tag_close(t, len, p);
    if (!e || t[p] != '<' || t[p + 1] == '/' || t[p + 1] == '!' || t[p + 1] == '?') return 0;
    *tag_end = e;
    if (t[e - 2] == '/') return e;
    int depth = 1;
    for (size_t i = e; i < len; i++) {
        if (t[i] != '<') continue;
        size_t c = tag_close(t, len, i);
        if (!c) return 0;
        if (t[i + 1] == '/') {
            if (--depth == 0) return c;
        } else if (t[i + 1] != '!' && t[c - 2] != '/') {
            depth++;
        }
        i = c - 1;
    }
    return 0;
}

/* Finds ` id="..."` in the opening tag text[p, tag_end). */
static bool find_id(const char *t, size_t p, size_t tag_end, uint32_t *id, uint32_t *id_len)
{
    const char *s = memmem(t + p, tag_end - p, " id=\"", 5);
    if (!s) return false;
    size_t a = (size_t)(s - t) + 5;
    const char *q = memchr(t + a, '"', tag_end - a);
    if (!q || (size_t)(q - t) == a) return false;
    *id = (uint32_t)a;
    *id_len = (uint32_t)((size_t)(q - t) - a);
    return true;
}

static size_t add_node(diagram_t *d, size_t *cap)
{
    xgrow((void **)&d->nodes, cap, d->nnodes + 1, sizeof *d->nodes);
    memset(&d->nodes[d->nnodes], 0, sizeof *d->nodes);
    d->nodes[d->nnodes].n = -1;
    return d->nnodes++;
}

static bool same_id(const diagram_t *d, const diagram_node_t *a, const diagram_node_t *b)
{
    return a->id_len == b->id_len && !memcmp(d->text + a->id, d->text + b->id, a->id_len);
}

/* Ids of nodes[first, first + n) are unique (quadratic only for small levels: hashed below). */
static bool unique_ids(const diagram_t *d, size_t first, size_t n);

/* Tries to split the root-level <g> at index gi into its children. */
static void split_group(diagram_t *d, size_t gi, size_t *cap)
{
    diagram_node_t g = d->nodes[gi];
    if (strncmp(d->text + g.start, "<g ", 3) || g.end - g.tag_end < 4) return;
    size_t p = g.tag_end, stop = g.end - 4, first = d->nnodes;
    if (strncmp(d->text + stop, "</g>", 4)) return;
    while (p < stop) {
        size_t te, e = element_end(d->text, stop, p, &te);
        uint32_t id, id_len;
        if (!e || !find_id(d->text, p, te, &id, &id_len)) {
            d->nnodes = first; /* not splittable: forget the children seen */
            return;
        }
        size_t k = add_node(d, cap);
        d->nodes[k] = (diagram_node_t){(uint32_t)p, (uint32_t)e, (uint32_t)te, id, id_len, 0, -1};
        p = e;
    }
    if (!unique_ids(d, first, d->nnodes - first)) {
        d->nnodes = first;
        return;
    }
    d->nodes[gi].first = (int32_t)first;
    d->nodes[gi].n = (int32_t)(d->nnodes - first);
}

int diagram_parse(diagram_t *d, char *text, size_t len)
{
    memset(d, 0, sizeof *d);
    d->text = text;
    d->len = len;
    size_t cap = 0, p = 0, te;
    if (len >= 5 && !strncmp(text, "<?xml", 5)) {
        const char *q = memmem(text, len, "?>\n", 3);
        if (!q) goto bad;
        p = (size_t)(q - text) + 3;
    }
    if (len - p < 6 || strncmp(text + p, "<svg ", 5)) goto bad;
    size_t root_end = tag_close(text, len, p);
    static const char tail[] = "</svg>\n";
    if (!root_end || root_end >= len || text[root_end] != '\n' || len < sizeof tail - 1 ||
        memcmp(text + len - (sizeof tail - 1), tail, sizeof tail - 1))
        goto bad;
    size_t r = add_node(d, &cap);
    d->nodes[r] = (diagram_node_t){(uint32_t)p, (uint32_t)len - 1, (uint32_t)root_end, 0, 0, 1, 0};
    if (!find_id(text, p, root_end, &d->nodes[r].id, &d->nodes[r].id_len)) goto bad;
    size_t stop = len - (sizeof tail - 1);
    for (p = root_end + 1; p < stop;) {
        size_t e = element_end(text, stop, p, &te);
        uint32_t id, id_len;
        if (!e || e >= stop + 1 || text[e] != '\n' || !find_id(text, p, te, &id, &id_len)) goto bad;
        size_t k = add_node(d, &cap);
        d->nodes[k] = (diagram_node_t){(uint32_t)p, (uint32_t)e, (uint32_t)te, id, id_len, 0, -1};
        p = e + 1;
    }
    d->nodes[0].n = (int32_t)(d->nnodes - 1);
    if (!unique_ids(d, 1, d->nnodes - 1)) goto bad;
    for (size_t i = 1, n = (size_t)d->nodes[0].n; i <= n; i++)
        split_group(d, i, &cap);
    return 0;
bad:
    diagram_dispose(d);
    return LP_EPROTO;
}

void diagram_dispose(diagram_t *d)
{
    free(d->text);
    free(d->nodes);
    memset(d, 0, sizeof *d);
}

int diagram_draw(diagram_t *d, const aggr_svg_data_t *data)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return LP_ENOMEM;
    __fsetlocking(f, FSETLOCKING_BYCALLER); /* this thread's own stream: no lock per write */
    int rc = aggr_svg_draw(data, f);
    if (fclose(f) != 0 && !rc) rc = LP_EIO;
    diagram_dispose(d);
    if (rc) {
        free(text);
        return rc;
    }
    return diagram_parse(d, text, len);
}

/* ---- id index of one level ---------------------------------------------------------------- */

typedef struct index {
    int32_t *slot; /* node index or -1 */
    size_t mask;
} index_t;

static uint64_t hash_id(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
    return h;
}

static void index_build(index_t *x, const diagram_t *d, size_t first, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    x->slot = xmalloc(cap * sizeof *x->slot);
    memset(x->slot, 0xff, cap * sizeof *x->slot);
    x->mask = cap - 1;
    for (size_t i = first; i < first + n; i++) {
        const diagram_node_t *e = &d->nodes[i];
        size_t h = hash_id(d->text + e->id, e->id_len) & x->mask;
        while (x->slot[h] >= 0)
            h = (h + 1) & x->mask;
        x->slot[h] = (int32_t)i;
    }
}

/* The node of `d` indexed by x with the id of node `e` of `other`, or -1. */
static int32_t index_find(const index_t *x, const diagram_t *d, const diagram_t *other,
                          const diagram_node_t *e)
{
    size_t h = hash_id(other->text + e->id, e->id_len) & x->mask;
    for (; x->slot[h] >= 0; h = (h + 1) & x->mask) {
        const diagram_node_t *c = &d->nodes[x->slot[h]];
        if (c->id_len == e->id_len && !memcmp(d->text + c->id, other->text + e->id, e->id_len))
            return x->slot[h];
    }
    return -1;
}

static bool unique_ids(const diagram_t *d, size_t first, size_t n)
{
    index_t x;
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    x.slot = xmalloc(cap * sizeof *x.slot);
    memset(x.slot, 0xff, cap * sizeof *x.slot);
    x.mask = cap - 1;
    bool ok = true;
    for (size_t i = first; i < first + n && ok; i++) {
        const diagram_node_t *e = &d->nodes[i];
        size_t h = hash_id(d->text + e->id, e->id_len) & x.mask;
        for (; x.slot[h] >= 0; h = (h + 1) & x.mask)
            if (same_id(d, &d->nodes[x.slot[h]], e)) ok = false;
        x.slot[h] = (int32_t)i;
    }
    free(x.slot);
    return ok;
}

/* ---- attributes of an opening tag ---------------------------------------------------------- */

#define MAX_ATTRS 32

typedef struct tag {
    size_t name, name_len; /* element name */
    size_t an[MAX_ATTRS], anl[MAX_ATTRS], av[MAX_ATTRS], avl[MAX_ATTRS];
    int n;
    bool empty; /* "/>" */
} tag_t;

/* Parses a canonical tag `<name a="v" b="w">` (or `/>`); false for anything else. */
static bool tag_parse(const char *t, size_t p, size_t end, tag_t *g)
{
    size_t i = p + 1;
    g->name = i;
    while (i < end && t[i] != ' ' && t[i] != '>' && t[i] != '/')
        i++;
    g->name_len = i - g->name;
    g->n = 0;
    while (i < end && t[i] == ' ') {
        if (g->n == MAX_ATTRS) return false;
        size_t a = ++i;
        while (i < end && t[i] != '=' && t[i] != ' ' && t[i] != '"')
            i++;
        if (i + 1 >= end || t[i] != '=' || t[i + 1] != '"' || i == a) return false;
        size_t v = i + 2;
        const char *q = memchr(t + v, '"', end - v);
        if (!q) return false;
        g->an[g->n] = a, g->anl[g->n] = i - a, g->av[g->n] = v, g->avl[g->n] = (size_t)(q - t) - v;
        g->n++;
        i = (size_t)(q - t) + 1;
    }
    g->empty = i + 2 == end && t[i] == '/' && t[i + 1] == '>';
    return g->empty || (i + 1 == end && t[i] == '>');
}

static bool eq(const char *a, size_t al, const char *b, size_t bl)
{
    return al == bl && !memcmp(a, b, al);
}

static int find_attr(const char *t, const tag_t *g, const char *name, size_t len)
{
    for (int i = 0; i < g->n; i++)
        if (eq(t + g->an[i], g->anl[i], name, len)) return i;
    return -1;
}

/* ---- the diff ----------------------------------------------------------------------------- */

typedef struct ctx {
    const diagram_t *a, *b;
    diagram_delta_t *x;
    diagram_delta_t removes, adds; /* collected apart, then appended in order */
} ctx_t;

static wsmsg_str_t slice(const diagram_t *d, size_t p, size_t n)
{
    return (wsmsg_str_t){d->text + p, (uint32_t)n};
}

static wsmsg_item_t *push(diagram_delta_t *x, wsmsg_op_t op, wsmsg_str_t id)
{
    xgrow((void **)&x->items, &x->cap, x->n + 1, sizeof *x->items);
    wsmsg_item_t *it = &x->items[x->n++];
    memset(it, 0, sizeof *it);
    it->op = op;
    it->id = id;
    return it;
}

static void push_attr(diagram_delta_t *x, wsmsg_attr_t a)
{
    xgrow((void **)&x->attrs, &x->acap, x->nattrs + 1, sizeof *x->attrs);
    x->attrs[x->nattrs++] = a;
}

/* True when the attribute value t[0, n) reads the same as markup and as a DOM value, a byte a
 * character: printable ASCII without entities. */
static bool plain(const char *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (t[i] < 0x20 || t[i] > 0x7e || t[i] == '&') return false;
    return true;
}

#define SPLICE_MIN 24 /* bytes a splice must spare to be worth its three fields */

/* Turns `a`, the new value of an attribute whose old value is old[0, n), into a splice of the
 * bytes between their common prefix and suffix when that spares SPLICE_MIN bytes or more: a
 * cell appended to a path sends the cell, not the path. */
static void splice(wsmsg_attr_t *a, const char *old, size_t n)
{
    const char *v = a->value.p;
    size_t m = a->value.len, p = 0, s = 0;
    while (p < n && p < m && old[p] == v[p])
        p++;
    while (s < n - p && s < m - p && old[n - 1 - s] == v[m - 1 - s])
        s++;
    if (p + s < SPLICE_MIN || !plain(old, n) || !plain(v, m)) return;
    a->splice = true;
    a->at = (uint32_t)p;
    a->cut = (uint32_t)(n - p - s);
    a->value = (wsmsg_str_t){v + p, (uint32_t)(m - p - s)};
}

/* Emits an attribute update turning node o's opening tag into n's when that reproduces n's
 * tag exactly; returns false when it does not (the caller replaces the element). */
static bool attr_update(ctx_t *c, const diagram_node_t *o, const diagram_node_t *n)
{
    const char *ta = c->a->text, *tb = c->b->text;
    tag_t ga, gb;
    if (!tag_parse(ta, o->start, o->tag_end, &ga) || !tag_parse(tb, n->start, n->tag_end, &gb))
        return false;
    if (!eq(ta + ga.name, ga.name_len, tb + gb.name, gb.name_len) || ga.empty != gb.empty)
        return false;
    /* the applied order: old attributes that stay, in place, then new ones appended */
    int k = 0;
    for (int i = 0; i < ga.n; i++) {
        if (find_attr(tb, &gb, ta + ga.an[i], ga.anl[i]) < 0) continue;
        if (k >= gb.n || !eq(ta + ga.an[i], ga.anl[i], tb + gb.an[k], gb.anl[k])) return false;
        k++;
    }
    for (; k < gb.n; k++)
        if (find_attr(ta, &ga, tb + gb.an[k], gb.anl[k]) >= 0) return false;
    size_t first = c->x->nattrs;
    for (int i = 0; i < ga.n; i++)
        if (find_attr(tb, &gb, ta + ga.an[i], ga.anl[i]) < 0)
            push_attr(c->x, (wsmsg_attr_t){slice(c->a, ga.an[i], ga.anl[i]), {"", 0}, true});
    for (int i = 0; i < gb.n; i++) {
        int j = find_attr(ta, &ga, tb + gb.an[i], gb.anl[i]);
        if (j >= 0 && eq(ta + ga.av[j], ga.avl[j], tb + gb.av[i], gb.avl[i])) continue;
        wsmsg_attr_t a = {slice(c->b, gb.an[i], gb.anl[i]), slice(c->b, gb.av[i], gb.avl[i])};
        if (j >= 0) splice(&a, ta + ga.av[j], ga.avl[j]);
        push_attr(c->x, a);
    }
    if (c->x->nattrs == first) return true; /* the same tag */
    wsmsg_item_t *it = push(c->x, WSMSG_UPDATE, slice(c->b, n->id, n->id_len));
    it->attrs = (const wsmsg_attr_t *)(uintptr_t)first; /* an index until the end */
    it->nattrs = (uint32_t)(c->x->nattrs - first);
    return true;
}

static void diff_level(ctx_t *c, const diagram_node_t *pa, const diagram_node_t *pb, bool root);

/* Node o (old) and n (new) have the same id and stay in place. */
static void diff_node(ctx_t *c, const diagram_node_t *o, const diagram_node_t *n)
{
    const char *ta = c->a->text, *tb = c->b->text;
    size_t la = o->end - o->start, lb = n->end - n->start;
    if (la == lb && !memcmp(ta + o->start, tb + n->start, la)) return;
    bool same_tag = eq(ta + o->start, o->tag_end - o->start, tb + n->start, n->tag_end - n->start);
    if (o->n >= 0 && n->n >= 0) {
        if (same_tag || attr_update(c, o, n)) {
            diff_level(c, o, n, false);
            return;
        }
    } else if (eq(ta + o->tag_end, o->end - o->tag_end, tb + n->tag_end, n->end - n->tag_end)) {
        if (attr_update(c, o, n)) return;
    }
    wsmsg_item_t *it = push(c->x, WSMSG_UPDATE, slice(c->b, n->id, n->id_len));
    it->svg = slice(c->b, n->start, lb);
}

static void diff_level(ctx_t *c, const diagram_node_t *pa, const diagram_node_t *pb, bool root)
{
    const diagram_t *a = c->a, *b = c->b;
    size_t na = (size_t)pa->n, nb = (size_t)pb->n;
    index_t ia;
    index_build(&ia, a, (size_t)pa->first, na);
    int32_t *match = xmalloc((nb + 1) * sizeof *match); /* old node kept in place, or -1 */
    bool *kept = xcalloc(na + 1, 1);
    int32_t last = -1;
    for (size_t i = 0; i < nb; i++) {
        int32_t o = index_find(&ia, a, b, &b->nodes[(size_t)pb->first + i]);
        match[i] = o > last ? o : -1;
        if (o > last) {
            last = o;
            kept[(size_t)(o - pa->first)] = true;
        }
    }
    wsmsg_str_t parent = root ? (wsmsg_str_t){"", 0} : slice(b, pb->id, pb->id_len);
    for (size_t i = 0; i < na; i++)
        if (!kept[i]) {
            const diagram_node_t *e = &a->nodes[(size_t)pa->first + i];
            push(&c->removes, WSMSG_REMOVE, slice(a, e->id, e->id_len));
        }
    for (size_t i = 0; i < nb; i++)
        if (match[i] >= 0) diff_node(c, &a->nodes[match[i]], &b->nodes[(size_t)pb->first + i]);
    for (size_t i = nb; i-- > 0;) {
        if (match[i] >= 0) continue;
        const diagram_node_t *e = &b->nodes[(size_t)pb->first + i];
        wsmsg_item_t *it = push(&c->adds, WSMSG_ADD, slice(b, e->id, e->id_len));
        it->parent = parent;
        it->svg = slice(b, e->start, e->end - e->start);
        if (i + 1 < nb) {
            const diagram_node_t *nx = &b->nodes[(size_t)pb->first + i + 1];
            it->before = slice(b, nx->id, nx->id_len);
        }
    }
    free(match);
    free(kept);
    free(ia.slot);
}

void diagram_delta_init(diagram_delta_t *x)
{
    memset(x, 0, sizeof *x);
}

void diagram_delta_dispose(diagram_delta_t *x)
{
    free(x->items);
    free(x->attrs);
    memset(x, 0, sizeof *x);
}

int diagram_diff(const diagram_t *from, const diagram_t *to, diagram_delta_t *x)
{
    x->n = 0;
    x->nattrs = 0;
    if (!from->nnodes || !to->nnodes) return LP_ERANGE;
    ctx_t c = {.a = from, .b = to, .x = x};
    diagram_delta_init(&c.removes);
    diagram_delta_init(&c.adds);
    /* the root's own tag first: an update of "root" when it changed */
    const diagram_node_t *ra = &from->nodes[0], *rb = &to->nodes[0];
    int rc = 0;
    if (!eq(from->text, ra->tag_end, to->text, rb->tag_end) &&
        (!eq(from->text, ra->start, to->text, rb->start) || !attr_update(&c, ra, rb)))
        rc = LP_ERANGE; /* the prolog or the root's tag changed in a way no item expresses */
    else
        diff_level(&c, ra, rb, true);
    /* order: removes, updates (already in x), adds */
    size_t nupd = x->n;
    xgrow((void **)&x->items, &x->cap, c.removes.n + nupd + c.adds.n, sizeof *x->items);
    if (nupd && c.removes.n) memmove(x->items + c.removes.n, x->items, nupd * sizeof *x->items);
    if (c.removes.n) memcpy(x->items, c.removes.items, c.removes.n * sizeof *x->items);
    if (c.adds.n) memcpy(x->items + c.removes.n + nupd, c.adds.items, c.adds.n * sizeof *x->items);
    x->n = c.removes.n + nupd + c.adds.n;
    for (size_t i = 0; i < x->n; i++)
        if (x->items[i].nattrs) x->items[i].attrs = x->attrs + (uintptr_t)x->items[i].attrs;
    diagram_delta_dispose(&c.removes);
    diagram_delta_dispose(&c.adds);
    if (rc) x->n = x->nattrs = 0;
    return rc;
}
