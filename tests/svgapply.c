/* The test applier of SVG delta items: a tree of elements and text parts, written back
 * byte for byte. Lookups walk the tree (tests only need correctness, not speed). */
#include "svgapply.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sa_part {
    char *text;    /* a text run, or NULL */
    sa_node_t *el; /* an element, or NULL */
} sa_part_t;

struct sa_node {
    char *tag;   /* the opening tag as written */
    char *close; /* the closing tag, NULL when the element is empty ("/>") */
    char *id;    /* NULL when none */
    sa_part_t *parts;
    size_t n, cap;
};

static char *dup(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

static void node_free(sa_node_t *e)
{
    if (!e) return;
    for (size_t i = 0; i < e->n; i++) {
        free(e->parts[i].text);
        node_free(e->parts[i].el);
    }
    free(e->parts);
    free(e->tag);
    free(e->close);
    free(e->id);
    free(e);
}

static void insert(sa_node_t *e, size_t at, sa_part_t p)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 8;
        e->parts = realloc(e->parts, e->cap * sizeof *e->parts);
        if (!e->parts) abort();
    }
    memmove(e->parts + at + 1, e->parts + at, (e->n - at) * sizeof *e->parts);
    e->parts[at] = p;
    e->n++;
}

/* The end of the tag at p ('<'), just after '>', or NULL. */
static const char *tag_end(const char *p, const char *end)
{
    char q = 0;
    for (p++; p < end; p++) {
        if (q) {
            if (*p == q) q = 0;
        } else if (*p == '"') {
            q = '"';
        } else if (*p == '>') {
            return p + 1;
        }
    }
    return NULL;
}

static char *id_of(const char *tag, size_t n)
{
    const char *s = memmem(tag, n, " id=\"", 5);
    if (!s) return NULL;
    s += 5;
    const char *q = memchr(s, '"', n - (size_t)(s - tag));
    return q ? dup(s, (size_t)(q - s)) : NULL;
}

/* Parses the element at *pp; advances *pp past it. */
static sa_node_t *parse(const char **pp, const char *end)
{
    const char *p = *pp, *te = p < end && *p == '<' ? tag_end(p, end) : NULL;
    if (!te || p[1] == '/') return NULL;
    sa_node_t *e = calloc(1, sizeof *e);
    if (!e) abort();
    e->tag = dup(p, (size_t)(te - p));
    e->id = id_of(p, (size_t)(te - p));
    p = te;
    if (te[-2] != '/') {
        for (;;) {
            const char *lt = memchr(p, '<', (size_t)(end - p));
            if (!lt) goto bad;
            if (lt > p) insert(e, e->n, (sa_part_t){dup(p, (size_t)(lt - p)), NULL});
            p = lt;
            if (p + 1 < end && p[1] == '/') {
                const char *ce = tag_end(p, end);
                if (!ce) goto bad;
                e->close = dup(p, (size_t)(ce - p));
                p = ce;
                break;
            }
            sa_node_t *c = parse(&p, end);
            if (!c) goto bad;
            insert(e, e->n, (sa_part_t){NULL, c});
        }
    }
    *pp = p;
    return e;
bad:
    node_free(e);
    return NULL;
}

int svgapply_load(svgapply_t *s, const char *svg, size_t len)
{
    memset(s, 0, sizeof *s);
    const char *r = strstr(svg, "<svg ");
    if (!r) return -1;
    s->prolog = dup(svg, (size_t)(r - svg));
    s->root = parse(&r, svg + len);
    if (!s->root || r != svg + len - 1 || *r != '\n') {
        svgapply_free(s);
        return -1;
    }
    return 0;
}

/* Finds the element with `id` under e: sets *parent and *at. */
static sa_node_t *find(sa_node_t *e, const char *id, sa_node_t **parent, size_t *at)
{
    for (size_t i = 0; i < e->n; i++) {
        sa_node_t *c = e->parts[i].el;
        if (!c) continue;
        if (c->id && !strcmp(c->id, id)) {
            *parent = e;
            *at = i;
            return c;
        }
        sa_node_t *f = find(c, id, parent, at);
        if (f) return f;
    }
    return NULL;
}

static sa_node_t *lookup(svgapply_t *s, const char *id, sa_node_t **parent, size_t *at)
{
    if (!strcmp(id, "root")) {
        *parent = NULL;
        *at = 0;
        return s->root;
    }
    return find(s->root, id, parent, at);
}

static sa_node_t *parse_markup(wsmsg_str_t svg)
{
    const char *p = svg.p;
    sa_node_t *e = parse(&p, svg.p + svg.len);
    if (e && p != svg.p + svg.len) {
        node_free(e);
        return NULL;
    }
    return e;
}

/* Rewrites e's tag with the attribute changes (set in place, append, remove). */
static int set_attrs(sa_node_t *e, const wsmsg_attr_t *a, uint32_t n)
{
    enum { MAX = 64 };
    char *names[MAX], *values[MAX];
    int k = 0, rc = 0;
    const char *p = e->tag + 1, *name = p;
    while (*p != ' ' && *p != '>' && *p != '/')
        p++;
    int name_len = (int)(p - name);
    while (*p == ' ' && k < MAX) {
        const char *eq = strchr(p, '='), *v = eq ? eq + 2 : NULL, *q = v ? strchr(v, '"') : NULL;
        if (!q) return -1;
        names[k] = dup(p + 1, (size_t)(eq - p - 1));
        values[k] = dup(v, (size_t)(q - v));
        k++;
        p = q + 1;
    }
    bool empty = *p == '/';
    for (uint32_t i = 0; i < n && !rc; i++) {
        int j = 0;
        while (j < k && strcmp(names[j], a[i].name.p))
            j++;
        if (a[i].remove) {
            if (j == k) {
                rc = -1;
                break;
            }
            free(names[j]);
            free(values[j]);
            memmove(names + j, names + j + 1, (size_t)(k - j - 1) * sizeof names[0]);
            memmove(values + j, values + j + 1, (size_t)(k - j - 1) * sizeof values[0]);
            k--;
            continue;
        }
        if (j == k) {
            if (k == MAX) {
                rc = -1;
                break;
            }
            names[k] = dup(a[i].name.p, a[i].name.len);
            values[k++] = NULL;
        }
        if (a[i].splice) { /* values[j][0, at) + value + values[j][at + cut, ...) */
            size_t old = values[j] ? strlen(values[j]) : 0;
            if (!values[j] || a[i].at > old || a[i].cut > old - a[i].at) {
                rc = -1;
                break;
            }
            char *v = malloc(old - a[i].cut + a[i].value.len + 1);
            if (!v) abort();
            memcpy(v, values[j], a[i].at);
            memcpy(v + a[i].at, a[i].value.p, a[i].value.len);
            strcpy(v + a[i].at + a[i].value.len, values[j] + a[i].at + a[i].cut);
            free(values[j]);
            values[j] = v;
            continue;
        }
        free(values[j]);
        values[j] = dup(a[i].value.p, a[i].value.len);
    }
    size_t cap = 64 + (size_t)name_len;
    for (int i = 0; i < k; i++)
        cap += strlen(names[i]) + strlen(values[i]) + 4;
    char *t = malloc(cap), *w = t;
    if (!t) abort();
    w += sprintf(w, "<%.*s", name_len, name);
    for (int i = 0; i < k; i++) {
        w += sprintf(w, " %s=\"%s\"", names[i], values[i]);
        free(names[i]);
        free(values[i]);
    }
    sprintf(w, empty ? "/>" : ">");
    if (rc) {
        free(t);
        return rc;
    }
    free(e->tag);
    e->tag = t;
    free(e->id);
    e->id = id_of(t, strlen(t));
    return 0;
}

int svgapply_item(svgapply_t *s, const wsmsg_item_t *it)
{
    sa_node_t *parent = NULL, *e;
    size_t at = 0;
    switch (it->op) {
    case WSMSG_REMOVE:
        if (!(e = lookup(s, it->id.p, &parent, &at)) || !parent) return -1;
        node_free(e);
        memmove(parent->parts + at, parent->parts + at + 1,
                (parent->n - at - 1) * sizeof(sa_part_t));
        parent->n--;
        if (parent == s->root && at < parent->n && parent->parts[at].text &&
            !strcmp(parent->parts[at].text, "\n")) {
            free(parent->parts[at].text);
            memmove(parent->parts + at, parent->parts + at + 1,
                    (parent->n - at - 1) * sizeof(sa_part_t));
            parent->n--;
        }
        return 0;
    case WSMSG_UPDATE:
        if (!(e = lookup(s, it->id.p, &parent, &at))) return -1;
        if (it->svg.len) {
            sa_node_t *r = parse_markup(it->svg);
            if (!r || !parent) {
                node_free(r);
                return -1;
            }
            node_free(e);
            parent->parts[at].el = r;
            return 0;
        }
        return set_attrs(e, it->attrs, it->nattrs);
    default: {
        sa_node_t *dummy;
        if (lookup(s, it->id.p, &dummy, &at)) return -1; /* duplicate id */
        sa_node_t *p = it->parent.len ? lookup(s, it->parent.p, &dummy, &at) : s->root;
        if (!p) return -1;
        size_t pos = p->n;
        if (p == s->root) pos = p->n; /* after the last newline */
        if (it->before.len) {
            pos = SIZE_MAX;
            for (size_t i = 0; i < p->n; i++)
                if (p->parts[i].el && p->parts[i].el->id &&
                    !strcmp(p->parts[i].el->id, it->before.p))
                    pos = i;
            if (pos == SIZE_MAX) return -1;
        }
        sa_node_t *r = parse_markup(it->svg);
        if (!r) return -1;
        if (p == s->root) insert(p, pos, (sa_part_t){dup("\n", 1), NULL});
        insert(p, pos, (sa_part_t){NULL, r});
        return 0;
    }
    }
}

static void emit(FILE *f, const sa_node_t *e)
{
    fputs(e->tag, f);
    for (size_t i = 0; i < e->n; i++) {
        if (e->parts[i].text)
            fputs(e->parts[i].text, f);
        else
            emit(f, e->parts[i].el);
    }
    if (e->close) fputs(e->close, f);
}

char *svgapply_text(const svgapply_t *s, size_t *len)
{
    char *t = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&t, &n);
    if (!f) abort();
    fputs(s->prolog, f);
    emit(f, s->root);
    fputc('\n', f);
    fclose(f);
    if (len) *len = n;
    return t;
}

void svgapply_free(svgapply_t *s)
{
    free(s->prolog);
    node_free(s->root);
    memset(s, 0, sizeof *s);
}
