/* Reading cells back from our timed SVG and from the reference cells.tsv files, and comparing
 * them: the check that our diagram draws what ghc-events-analyze drew (spec §8). */
#include "svgcells.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_ATTRS = 16 };

typedef struct attr {
    const char *name, *val;
    size_t nlen, vlen;
} attr_t;

static void set_err(char *err, size_t cap, const char *fmt, ...)
{
    if (!err || !cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* Appends code point c to d as UTF-8; returns the bytes written. */
static size_t put_utf8(char *d, unsigned long c)
{
    if (c < 0x80) {
        d[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        d[0] = (char)(0xc0 | c >> 6);
        d[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        d[0] = (char)(0xe0 | c >> 12);
        d[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        d[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    d[0] = (char)(0xf0 | c >> 18);
    d[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    d[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    d[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

char *svgcells_unescape(const char *t, size_t n)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    char *d = malloc(n + 1); /* an entity is never shorter than what it stands for */
    if (!d) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (t[i] != '&') {
            d[k++] = t[i++];
            continue;
        }
        bool done = false;
        for (size_t e = 0; e < sizeof named / sizeof named[0] && !done; e++) {
            size_t l = strlen(named[e].name);
            if (i + 1 + l <= n && memcmp(t + i + 1, named[e].name, l) == 0) {
                d[k++] = named[e].c;
                i += 1 + l;
                done = true;
            }
        }
        if (!done && i + 2 < n && t[i + 1] == '#') {
            bool hex = t[i + 2] == 'x';
            size_t j = i + (hex ? 3 : 2);
            unsigned long c = 0;
            size_t digits = 0;
            while (j < n && digits < 8 &&
                   (hex ? strchr("0123456789abcdefABCDEF", t[j]) != NULL
                        : t[j] >= '0' && t[j] <= '9') &&
                   t[j]) {
                c = c * (hex ? 16 : 10) +
                    (unsigned long)(t[j] <= '9' ? t[j] - '0' : (t[j] | 0x20) - 'a' + 10);
                j++;
                digits++;
            }
            if (digits && j < n && t[j] == ';' && c <= 0x10ffff && c > 0) {
                k += put_utf8(d + k, c);
                i = j + 1;
                done = true;
            }
        }
        if (!done) d[k++] = t[i++];
    }
    d[k] = 0;
    return d;
}

/* Parses the attributes of the tag whose name ends at p; returns the count (at most MAX_ATTRS)
 * and sets *end just past the closing '>' (or NULL when the tag never closes). */
static size_t parse_attrs(const char *p, attr_t *a, const char **end)
{
    size_t n = 0;
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
            p++;
        if (*p == '>' || (p[0] == '/' && p[1] == '>')) {
            *end = p + (*p == '>' ? 1 : 2);
            return n;
        }
        if (!*p) {
            *end = NULL;
            return n;
        }
        const char *name = p;
        while (*p && *p != '=' && *p != '>' && *p != ' ')
            p++;
        if (*p != '=' || (p[1] != '"' && p[1] != '\'')) {
            *end = NULL;
            return n;
        }
        char q = p[1];
        const char *val = p + 2;
        const char *close = strchr(val, q);
        if (!close) {
            *end = NULL;
            return n;
        }
        if (n < MAX_ATTRS) a[n++] = (attr_t){name, val, (size_t)(p - name), (size_t)(close - val)};
        p = close + 1;
    }
}

static const attr_t *find_attr(const attr_t *a, size_t n, const char *name)
{
    size_t l = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (a[i].nlen == l && memcmp(a[i].name, name, l) == 0) return &a[i];
    return NULL;
}

/* The attribute's value as a double; false when absent or not a number. */
static bool attr_double(const attr_t *a, size_t n, const char *name, double *v)
{
    const attr_t *x = find_attr(a, n, name);
    if (!x || x->vlen == 0 || x->vlen > 60) return false;
    char buf[64];
    memcpy(buf, x->val, x->vlen);
    buf[x->vlen] = 0;
    char *e;
    *v = strtod(buf, &e);
    return *e == 0;
}

static bool attr_is(const attr_t *a, size_t n, const char *name, const char *want)
{
    const attr_t *x = find_attr(a, n, name);
    return x && x->vlen == strlen(want) && memcmp(x->val, want, x->vlen) == 0;
}

static int add_cell(svgcells_t *c, const svgcell_t *cell)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        svgcell_t *nc = realloc(c->cells, cap * sizeof *nc);
        if (!nc) return -1;
        c->cells = nc;
        c->cap = cap;
    }
    c->cells[c->n++] = *cell;
    return 0;
}

static int add_label(svgcells_t *c, char *label)
{
    char **nl = realloc(c->labels, (c->nrows + 1) * sizeof *nl);
    if (!nl) return -1;
    c->labels = nl;
    c->labels[c->nrows++] = label;
    return 0;
}

/* The first `what` in [p, end), or NULL. memmem rather than strstr: under ASan every strstr
 * reads the whole rest of the text, which made a parse of many cells quadratic (minutes). */
static const char *find(const char *p, const char *end, const char *what)
{
    return p < end ? memmem(p, (size_t)(end - p), what, strlen(what)) : NULL;
}

/* Parses one <g class="row"> body from p (after its opening tag) up to its "</g>". */
static int parse_row(svgcells_t *out, const char *p, const char *gend, long row, double x0,
                     double bw, char *err, size_t cap)
{
    const char *text = find(p, gend, "<text");
    if (!text) {
        set_err(err, cap, "row %ld has no <text>", row);
        return -1;
    }
    attr_t a[MAX_ATTRS];
    const char *body;
    parse_attrs(text + 5, a, &body);
    if (!body) {
        set_err(err, cap, "row %ld: bad <text> tag", row);
        return -1;
    }
    const char *lt = body < gend ? memchr(body, '<', (size_t)(gend - body)) : NULL;
    char *label = svgcells_unescape(body, lt ? (size_t)(lt - body) : strlen(body));
    if (!label || add_label(out, label) != 0) {
        free(label);
        set_err(err, cap, "out of memory");
        return -1;
    }
    for (const char *r = find(p, gend, "<rect"); r; r = find(r + 5, gend, "<rect")) {
        const char *end;
        size_t n = parse_attrs(r + 5, a, &end);
        if (!end) {
            set_err(err, cap, "row %ld: bad <rect> tag", row);
            return -1;
        }
        if (attr_is(a, n, "class", "rb")) continue;
        svgcell_t cell = {.row = row};
        if (attr_is(a, n, "class", "v"))
            cell.kind = SVGCELL_VALUE;
        else if (attr_is(a, n, "class", "bg"))
            cell.kind = SVGCELL_BG;
        else {
            set_err(err, cap, "row %ld: <rect> without a known class", row);
            return -1;
        }
        double b, x;
        const attr_t *fill = find_attr(a, n, "fill");
        if (!attr_double(a, n, "data-b", &b) || b != floor(b) || !attr_double(a, n, "x", &x) ||
            !attr_double(a, n, "fill-opacity", &cell.opacity) || !fill ||
            fill->vlen >= sizeof cell.rgb) {
            set_err(err, cap, "row %ld: cell without data-b, x, fill or fill-opacity", row);
            return -1;
        }
        cell.bucket = (int64_t)b;
        if (bw > 0 && fabs(x - (x0 + b * bw)) > 1e-3) {
            set_err(err, cap, "row %ld bucket %lld: x=%g, expected %g", row, (long long)b, x,
                    x0 + b * bw);
            return -1;
        }
        memcpy(cell.rgb, fill->val, fill->vlen);
        cell.rgb[fill->vlen] = 0;
        if (cell.kind == SVGCELL_VALUE && cell.opacity == 0 && !strcmp(cell.rgb, "rgb(0,0,0)")) {
            out->zero++;
            continue;
        }
        cell.label = strdup(label);
        if (!cell.label || add_cell(out, &cell) != 0) {
            free(cell.label);
            set_err(err, cap, "out of memory");
            return -1;
        }
    }
    return 0;
}

int svgcells_parse(const char *svg, svgcells_t *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    const char *root = strstr(svg, "<svg");
    if (!root) {
        set_err(err, cap, "no <svg> element");
        return -1;
    }
    attr_t a[MAX_ATTRS];
    const char *p;
    size_t n = parse_attrs(root + 4, a, &p);
    double x0 = 0, bw = 0;
    if (!p || !attr_double(a, n, "data-x0", &x0) || !attr_double(a, n, "data-bw", &bw)) {
        set_err(err, cap, "<svg> without data-x0/data-bw");
        return -1;
    }
    long row = 0;
    const char *end = svg + strlen(svg);
    for (const char *g = find(p, end, "<g class=\"row\""); g;
         g = find(g + 1, end, "<g class=\"row\"")) {
        const char *body;
        n = parse_attrs(g + 2, a, &body);
        double idx;
        if (!body || !attr_double(a, n, "data-row", &idx) || idx != (double)row) {
            set_err(err, cap, "row group %ld: missing or wrong data-row", row);
            return -1;
        }
        const char *gend = find(body, end, "</g>");
        if (!gend) {
            set_err(err, cap, "row %ld is not closed", row);
            return -1;
        }
        if (parse_row(out, body, gend, row, x0, bw, err, cap) != 0) return -1;
        row++;
    }
    if (!strstr(p, "</svg>")) {
        set_err(err, cap, "no </svg>");
        return -1;
    }
    return 0;
}

int svgcells_parse_tsv(const char *tsv, svgcells_t *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    const char *p = strchr(tsv, '\n');
    if (strncmp(tsv, "row\tlabel\tbucket\tkind\trgb\topacity", 33) != 0 || !p) {
        set_err(err, cap, "not a cells.tsv header");
        return -1;
    }
    long line = 1;
    for (p++; *p; line++) {
        const char *eol = strchr(p, '\n');
        if (!eol) eol = p + strlen(p);
        const char *f[6];
        size_t fl[6], nf = 0;
        const char *q = p;
        while (nf < 6) {
            const char *tab = memchr(q, '\t', (size_t)(eol - q));
            const char *e = tab && nf < 5 ? tab : eol;
            f[nf] = q;
            fl[nf++] = (size_t)(e - q);
            if (e == eol) break;
            q = e + 1;
        }
        if (nf != 6 || fl[4] >= sizeof((svgcell_t *)0)->rgb) {
            set_err(err, cap, "tsv line %ld: expected 6 fields", line + 1);
            return -1;
        }
        svgcell_t cell = {0};
        char *e;
        cell.row = strtol(f[0], &e, 10);
        cell.bucket = strtoll(f[2], &e, 10);
        cell.opacity = strtod(f[5], &e);
        if (fl[3] == 2 && memcmp(f[3], "bg", 2) == 0)
            cell.kind = SVGCELL_BG;
        else if (fl[3] == 5 && memcmp(f[3], "value", 5) == 0)
            cell.kind = SVGCELL_VALUE;
        else {
            set_err(err, cap, "tsv line %ld: bad kind", line + 1);
            return -1;
        }
        memcpy(cell.rgb, f[4], fl[4]);
        cell.rgb[fl[4]] = 0;
        cell.label = svgcells_unescape(f[1], fl[1]);
        if (!cell.label || add_cell(out, &cell) != 0) {
            free(cell.label);
            set_err(err, cap, "out of memory");
            return -1;
        }
        p = *eol ? eol + 1 : eol;
    }
    return 0;
}

static int cell_key_cmp(const svgcell_t *a, const svgcell_t *b)
{
    if (a->row != b->row) return a->row < b->row ? -1 : 1;
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    if (a->bucket != b->bucket) return a->bucket < b->bucket ? -1 : 1;
    return 0;
}

static int cell_qsort_cmp(const void *a, const void *b)
{
    return cell_key_cmp(a, b);
}

void svgcells_sort(svgcells_t *c)
{
    if (c->n > 1) qsort(c->cells, c->n, sizeof *c->cells, cell_qsort_cmp);
}

void svgcells_free(svgcells_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->cells[i].label);
    for (size_t i = 0; i < c->nrows; i++)
        free(c->labels[i]);
    free(c->cells);
    free(c->labels);
    memset(c, 0, sizeof *c);
}

/* Appends one difference to msg (at most 10 are described). */
static void note(char *msg, size_t cap, size_t *count, const char *fmt, ...)
{
    if (++*count > 10 || !msg || !cap) return;
    size_t used = strlen(msg);
    if (used + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + used, cap - used, fmt, ap);
    va_end(ap);
}

static const char *kind_str(svgcell_kind_t k)
{
    return k == SVGCELL_BG ? "bg" : "value";
}

size_t svgcells_compare_tsv(svgcells_t *got, const char *tsv, char *msg, size_t cap)
{
    if (msg && cap) msg[0] = 0;
    svgcells_t want;
    char err[200];
    if (svgcells_parse_tsv(tsv, &want, err, sizeof err) != 0) {
        size_t one = 0;
        note(msg, cap, &one, "expected cells: %s\n", err);
        svgcells_free(&want);
        return 1;
    }
    svgcells_sort(got);
    svgcells_sort(&want);
    size_t i = 0, j = 0, diffs = 0;
    while (i < got->n || j < want.n) {
        const svgcell_t *g = i < got->n ? &got->cells[i] : NULL;
        const svgcell_t *w = j < want.n ? &want.cells[j] : NULL;
        int c = !g ? 1 : !w ? -1 : cell_key_cmp(g, w);
        if (c < 0) {
            note(msg, cap, &diffs, "extra cell: row %ld (%s) %s bucket %lld\n", g->row, g->label,
                 kind_str(g->kind), (long long)g->bucket);
            i++;
            continue;
        }
        if (c > 0) {
            note(msg, cap, &diffs, "missing cell: row %ld (%s) %s bucket %lld opacity %f\n", w->row,
                 w->label, kind_str(w->kind), (long long)w->bucket, w->opacity);
            j++;
            continue;
        }
        if (strcmp(g->label, w->label) != 0 || strcmp(g->rgb, w->rgb) != 0 ||
            !(fabs(g->opacity - w->opacity) <= 1e-6 + 1e-12))
            note(msg, cap, &diffs,
                 "row %ld %s bucket %lld: got (%s, %s, %.9f), expected (%s, %s, %.6f)\n", g->row,
                 kind_str(g->kind), (long long)g->bucket, g->label, g->rgb, g->opacity, w->label,
                 w->rgb, w->opacity);
        i++;
        j++;
    }
    svgcells_free(&want);
    return diffs;
}
