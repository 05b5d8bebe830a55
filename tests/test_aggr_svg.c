/* Tests of the aggregate diagrams (lib/aggr_svg.h): every kind is a well-formed standalone XML
 * document (checked by a small parser below: nesting, attributes, entities, UTF-8, unique ids)
 * with the expected rows, colours, opacities and element ids. */
#include "test.h"

#include "aggr_svg.h"
#include "err.h"
#include "hsshow.h"
#include "order.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- a tiny XML checker ------------------------------------------------------------------- */

typedef struct xml {
    char err[160];
    char **ids;
    size_t nids, cap;
    size_t elems;
} xml_t;

static bool name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && ((c >= '0' && c <= '9') || c == '-' || c == '.'));
}

/* Length of the name at p (0 when none). */
static size_t name_len(const char *p)
{
    size_t n = 0;
    while (name_char(p[n], n == 0))
        n++;
    return n;
}

/* Checks an entity at p ('&'); returns its length or 0. */
static size_t entity(const char *p)
{
    static const char *const named[5] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (int i = 0; i < 5; i++)
        if (!strncmp(p, named[i], strlen(named[i]))) return strlen(named[i]);
    size_t n = 2;
    bool hex = p[1] == '#' && p[2] == 'x';
    if (p[1] != '#') return 0;
    if (hex) n = 3;
    size_t d = 0;
    while ((hex ? strchr("0123456789abcdefABCDEF", p[n]) : strchr("0123456789", p[n])) && p[n])
        n++, d++;
    return d && p[n] == ';' ? n + 1 : 0;
}

static int fail(xml_t *x, const char *doc, const char *p, const char *what)
{
    snprintf(x->err, sizeof x->err, "%s at byte %zu", what, (size_t)(p - doc));
    return -1;
}

/* Checks `doc`: one root element, balanced tags, quoted attributes without '<' and with valid
 * entities, no duplicate attribute, valid entities in text, valid UTF-8, unique ids (collected
 * in x->ids). Returns 0 or -1 with x->err. */
static int xml_check(const char *doc, xml_t *x)
{
    memset(x, 0, sizeof *x);
    if (!hsshow_utf8_valid((const uint8_t *)doc, strlen(doc))) return fail(x, doc, doc, "UTF-8");
    const char *stack[64], *p = doc;
    size_t slen[64], depth = 0, roots = 0;
    if (!strncmp(p, "<?xml", 5)) {
        p = strstr(p, "?>");
        if (!p) return fail(x, doc, doc, "prolog");
        p += 2;
    }
    while (*p) {
        if (*p != '<') {
            if (*p == '&' && !entity(p)) return fail(x, doc, p, "entity");
            if (!depth && !strchr(" \t\r\n", *p)) return fail(x, doc, p, "text outside root");
            p++;
            continue;
        }
        if (!strncmp(p, "<!--", 4)) {
            const char *e = strstr(p, "-->");
            if (!e) return fail(x, doc, p, "comment");
            p = e + 3;
            continue;
        }
        if (p[1] == '/') {
            size_t n = name_len(p + 2);
            if (!depth || n != slen[depth - 1] || strncmp(p + 2, stack[depth - 1], n) ||
                p[2 + n] != '>')
                return fail(x, doc, p, "mismatched end tag");
            depth--;
            p += 3 + n;
            continue;
        }
        size_t n = name_len(p + 1);
        if (!n) return fail(x, doc, p, "element name");
        if (!depth && roots++) return fail(x, doc, p, "second root");
        const char *tag = p + 1, *attrs[32];
        size_t alen[32], na = 0;
        p += 1 + n;
        x->elems++;
        for (;;) {
            while (strchr(" \t\r\n", *p) && *p)
                p++;
            if (*p == '>' || (p[0] == '/' && p[1] == '>')) break;
            size_t an = name_len(p);
            if (!an || p[an] != '=' || p[an + 1] != '"') return fail(x, doc, p, "attribute");
            for (size_t i = 0; i < na; i++)
                if (alen[i] == an && !strncmp(attrs[i], p, an))
                    return fail(x, doc, p, "duplicate attribute");
            if (na < 32) {
                attrs[na] = p;
                alen[na++] = an;
            }
            const char *v = p + an + 2, *q = v;
            while (*q && *q != '"') {
                if (*q == '<') return fail(x, doc, q, "'<' in attribute");
                if (*q == '&' && !entity(q)) return fail(x, doc, q, "entity in attribute");
                q++;
            }
            if (!*q) return fail(x, doc, p, "unterminated attribute");
            if (an == 2 && !strncmp(p, "id", 2)) {
                if (x->nids == x->cap) {
                    x->cap = x->cap ? 2 * x->cap : 64;
                    x->ids = realloc(x->ids, x->cap * sizeof *x->ids);
                }
                x->ids[x->nids++] = strndup(v, (size_t)(q - v));
            }
            p = q + 1;
        }
        if (*p == '/') {
            p += 2;
        } else {
            if (depth == 64) return fail(x, doc, p, "too deep");
            stack[depth] = tag;
            slen[depth++] = n;
            p++;
        }
    }
    if (depth || roots != 1) return fail(x, doc, p, "unbalanced document");
    qsort(x->ids, x->nids, sizeof *x->ids, (int (*)(const void *, const void *))strcmp);
    for (size_t i = 1; i < x->nids; i++)
        if (!strcmp(x->ids[i - 1], x->ids[i])) return fail(x, doc, p, "duplicate id");
    return 0;
}

static void xml_free(xml_t *x)
{
    for (size_t i = 0; i < x->nids; i++)
        free(x->ids[i]);
    free(x->ids);
}

/* Ids that start with prefix. */
static size_t ids_with(const xml_t *x, const char *prefix)
{
    size_t n = 0;
    for (size_t i = 0; i < x->nids; i++)
        n += !strncmp(x->ids[i], prefix, strlen(prefix));
    return n;
}

static bool has_id(const xml_t *x, const char *id)
{
    for (size_t i = 0; i < x->nids; i++)
        if (!strcmp(x->ids[i], id)) return true;
    return false;
}

TEST(aggr_svg_xml_checker_rejects)
{
    static const char *const bad[] = {
        "<a><b></a></b>", "<a x=\"1\" x=\"2\"/>",          "<a>&bogus;</a>", "<a x=\"<\"/>",
        "<a/><b/>",       "<a id=\"i\"><b id=\"i\"/></a>", "<a>\xff</a>",    "<a>"};
    xml_t x;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECKF(xml_check(bad[i], &x) != 0, "accepted %s", bad[i]);
        xml_free(&x);
    }
    CHECK(xml_check("<?xml version=\"1.0\"?>\n<a id=\"x\">t &amp; &#10;<!-- c --><b/></a>\n", &x) ==
          0);
    CHECK(x.nids == 1 && x.elems == 2);
    xml_free(&x);
}

/* ---- diagrams ----------------------------------------------------------------------------- */

static int feed(void *ctx, const evlog_event_t *ev)
{
    aggr_event(ctx, ev);
    return 0;
}

static aggr_t *load(const char *name)
{
    size_t len;
    char rel[256];
    snprintf(rel, sizeof rel, "eventlogs/%s.eventlog", name);
    uint8_t *buf = tu_read_file(tu_data(rel), &len);
    REQUIRE(buf);
    aggr_t *a = aggr_create(NULL);
    evlog_t d;
    evlog_init(&d, NULL);
    order_source_t src = {.buf = buf, .len = len, .fd = -1};
    REQUIRE(order_log(&d, &src, feed, a, NULL) == 0);
    evlog_dispose(&d);
    free(buf);
    return a;
}

/* Renders kind to memory, checks it parses, returns the text (caller frees) and its ids. */
static char *render(const aggr_t *a, const char *kind, uint32_t width, xml_t *x)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    REQUIRE(f);
    int rc = aggr_svg(a, kind, 0, 0, width, f);
    fclose(f);
    CHECKF(rc == 0, "%s: %s", kind, lp_errname(rc));
    CHECKF(xml_check(text, x) == 0, "%s: %s", kind, x->err);
    CHECK(strstr(text, "<svg xmlns=\"http://www.w3.org/2000/svg\"") != NULL);
    return text;
}

/* Every cell path of row `id` has fill `rgb`, one subpath per "bin:q" value in its data-q, and
 * the opacity 0.3 + 0.7 q of each of them rounded to the level its id names; returns the cells. */
static size_t check_cells(const char *svg, const char *id, const char *rgb)
{
    char pat[128];
    snprintf(pat, sizeof pat, "<path id=\"%s-o", id);
    size_t n = 0;
    for (const char *p = strstr(svg, pat); p; p = strstr(p + 1, pat)) {
        const char *end = strstr(p, "/>");
        REQUIRE(end);
        const char *fill = strstr(p, " fill=\""), *op = strstr(p, "fill-opacity=\"");
        const char *d = strstr(p, " d=\""), *q = strstr(p, "data-q=\"");
        REQUIRE(fill && op && d && q && fill < end && op < end && d < end && q < end);
        CHECKF(!strncmp(fill + 7, rgb, strlen(rgb)), "%s: fill %.20s", id, fill + 7);
        int level = atoi(p + strlen(pat));
        double o = strtod(op + 14, NULL);
        CHECKF(fabs(o - (0.3 + 0.7 * level / 20)) < 1e-9, "%s: opacity %.6f at level %d", id, o,
               level);
        size_t subpaths = 0, values = 0;
        for (const char *s = d + 4; *s != '"'; s++)
            subpaths += *s == 'M';
        for (const char *s = q + 8; *s != '"';) {
            char *e;
            strtoull(s, &e, 10);
            REQUIRE(*e == ':');
            double v = strtod(e + 1, &e);
            int lv = (int)(v * 20 + 0.5); /* shares above 1 (overlapping labels) draw at 1 */
            CHECKF(v > 0 && (lv > 20 ? 20 : lv) == level, "%s: q %.6f at level %d", id, v, level);
            values++;
            s = *e == ' ' ? e + 1 : e;
        }
        CHECK_EQ_U64(subpaths, values);
        n += values;
    }
    return n;
}

TEST(aggr_svg_grid_rows_and_colours)
{
    aggr_t *a = load("fib-labels");
    xml_t x;
    char *svg = render(a, "grid", 0, &x);
    CHECK(has_id(&x, "gc-pause") && has_id(&x, "labels-fib") && has_id(&x, "labels-sleep"));
    CHECK(has_id(&x, "threads-6") && has_id(&x, "time-axis"));
    CHECK(strstr(svg, ">USER EVENTS<") && strstr(svg, ">THREAD EVENTS<"));
    CHECK(strstr(svg, ">worker-1:6<") != NULL);
    /* user rows take the 13-colour cycle by report position: GC 0, section 1, fib 2 ... */
    CHECK(check_cells(svg, "labels-fib", "rgb(95,158,160)") > 0);      /* cadetblue */
    CHECK(check_cells(svg, "labels-main-fib", "rgb(255,127,80)") > 0); /* coral */
    CHECK(check_cells(svg, "gc-pause", "rgb(255,0,0)") > 0);
    CHECK(check_cells(svg, "threads-6", "rgb(0,0,255)") > 0);
    CHECK(strstr(svg, "class=\"life\"") != NULL);
    free(svg);
    xml_free(&x);
    svg = render(a, "grid", 640, &x);
    CHECK(strstr(svg, "width=\"640\"") != NULL);
    free(svg);
    xml_free(&x);
    aggr_destroy(a);
}

TEST(aggr_svg_every_kind)
{
    struct {
        const char *log, *kind, *ids[4];
        size_t min_bins; /* elements with a prefix id ("-b" bins, "-s" pieces, "-h" hover areas) */
    } cases[] = {
        {"fib-labels", "caps", {"caps-0", "caps-1", "caps-0-running-s", "caps-1-idle-s"}, 10},
        {"fib-labels", "gc", {"gc-pause", "gc-pause-b", "value-axis", NULL}, 5},
        {"heap",
         "heap",
         {"heap-size-last", "heap-live-last", "heap-allocated-last", "heap-h"},
         12}, /* 8 bins each */
        {"heap", "heapprof", {"heapprof-_other", "heapprof-STACK", "heapprof-h", NULL}, 12},
        {"sparks",
         "sparks",
         {"sparks-created", "sparks-fizzled", "sparks-remaining", "sparks-h"},
         2}, /* an 11 ms run: 1 ms bins */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        aggr_t *a = load(cases[i].log);
        xml_t x;
        char *svg = render(a, cases[i].kind, 0, &x);
        for (int k = 0; k < 4 && cases[i].ids[k]; k++) {
            const char *id = cases[i].ids[k];
            bool prefix = id[strlen(id) - 2] == '-';
            CHECKF(prefix ? ids_with(&x, id) >= cases[i].min_bins : has_id(&x, id), "%s %s: no %s",
                   cases[i].log, cases[i].kind, id);
        }
        if (!strcmp(cases[i].kind, "heapprof")) { /* top 10 bands plus other */
            size_t bands = 0;
            for (const char *p = strstr(svg, "<g id=\"heapprof-"); p;
                 p = strstr(p + 1, "<g id=\"heapprof-"))
                bands++;
            CHECK_EQ_U64(bands, 11);
        }
        free(svg);
        xml_free(&x);
        aggr_destroy(a);
    }
}

TEST(aggr_svg_errors_escapes_and_provisional)
{
    aggr_t *a = aggr_create(NULL);
    FILE *f = fopen("/dev/null", "w");
    REQUIRE(f);
    CHECK(aggr_svg(a, "pie", 0, 0, 0, f) == LP_EARG);
    CHECK(aggr_svg(a, "grid", 0, 0, 100, f) == LP_ERANGE);
    CHECK(aggr_svg(a, "grid", 5, 4, 0, f) == LP_ERANGE);
    fclose(f);
    static const char *const kinds[6] = {"grid", "caps", "gc", "heap", "heapprof", "sparks"};
    xml_t x;
    for (int k = 0; k < 6; k++) { /* no data: still a valid document */
        free(render(a, kinds[k], 0, &x));
        xml_free(&x);
    }
    evlog_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.known = true;
    ev.type = EVLOG_USER_MSG;
    static const char msg[] = "START a<b&\"c\xff\x01 \xe2\x82\xac";
    ev.f.msg.text.p = (const uint8_t *)msg;
    ev.f.msg.text.len = sizeof msg - 1;
    ev.ts = 1000000;
    aggr_event(a, &ev);
    ev.type = EVLOG_RUN_THREAD; /* moves "now" on: the label is open up to it */
    ev.ts = 9000000;
    aggr_event(a, &ev);
    char *svg = render(a, "grid", 0, &x);
    CHECK(ids_with(&x, "labels-a_b__c______-x") >= 2); /* sanitized, hashed: row and cells */
    CHECK(strstr(svg, "a&lt;b&amp;&quot;c\xef\xbf\xbd\xef\xbf\xbd \xe2\x82\xac") != NULL);
    CHECK(strstr(svg, "<rect id=\"provisional\" class=\"p\"") != NULL); /* the open label */
    free(svg);
    xml_free(&x);
    aggr_destroy(a);
}

/* The value of attribute `name` of the root element, as a number. */
static unsigned long long root_attr(const char *svg, const char *name)
{
    char pat[64];
    snprintf(pat, sizeof pat, " %s=\"", name);
    const char *p = strstr(svg, pat);
    REQUIRE(p);
    return strtoull(p + strlen(pat), NULL, 10);
}

/* The value axis has five labels and no two read the same. */
static void check_axis_labels(const char *svg, const char *what)
{
    const char *g = strstr(svg, "<g id=\"value-axis\""), *end = g ? strstr(g, "</g>") : NULL;
    REQUIRE(g && end);
    char labels[5][32];
    int n = 0;
    for (const char *p = strstr(g, "<text"); p && p < end; p = strstr(p + 1, "<text")) {
        const char *a = strchr(p, '>') + 1, *b = strstr(a, "</text>");
        REQUIRE(n < 5 && b && (size_t)(b - a) < sizeof labels[0]);
        snprintf(labels[n++], sizeof labels[0], "%.*s", (int)(b - a), a);
    }
    CHECKF(n == 5, "%s: %d labels", what, n);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            CHECKF(strcmp(labels[i], labels[j]), "%s: label %s twice", what, labels[i]);
}

TEST(aggr_svg_empty_charts_say_so_and_axis_labels_differ)
{
    aggr_t *a = load("fib-labels"); /* no heap profile, no sparks */
    xml_t x;
    char *svg = render(a, "heapprof", 0, &x);
    CHECK(strstr(svg, "<text id=\"empty\"") &&
          strstr(svg, ">no heap-profile samples in this range<"));
    CHECK(!strstr(svg, "value-axis"));
    free(svg);
    xml_free(&x);
    svg = render(a, "sparks", 0, &x);
    CHECK(strstr(svg, ">no spark events in this range<") && !strstr(svg, "value-axis"));
    free(svg);
    xml_free(&x);
    svg = render(a, "gc", 0, &x);
    CHECK(!strstr(svg, "id=\"empty\""));
    check_axis_labels(svg, "fib-labels gc");
    free(svg);
    xml_free(&x);
    aggr_destroy(a);
    static const char *const cases[3][2] = {
        {"heap", "heap"}, {"heap", "heapprof"}, {"sparks", "sparks"}};
    for (int i = 0; i < 3; i++) {
        a = load(cases[i][0]);
        svg = render(a, cases[i][1], 0, &x);
        CHECK(!strstr(svg, "id=\"empty\""));
        check_axis_labels(svg, cases[i][1]);
        free(svg);
        xml_free(&x);
        aggr_destroy(a);
    }
    /* a tiny series: counts step by whole numbers at least */
    a = aggr_create(NULL);
    evlog_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.known = true;
    ev.type = EVLOG_SPARK_COUNTERS;
    ev.ts = 2000000;
    ev.f.spark_counters.v[0] = 1;
    aggr_event(a, &ev);
    svg = render(a, "sparks", 0, &x);
    check_axis_labels(svg, "one spark");
    CHECK(strstr(svg, ">4</text>") != NULL);
    free(svg);
    xml_free(&x);
    aggr_destroy(a);
}

TEST(aggr_svg_kinds_share_one_range)
{
    static const char *const kinds[6] = {"grid", "caps", "gc", "heap", "heapprof", "sparks"};
    aggr_t *a = load("fib-labels");
    unsigned long long from = 0, to = 0;
    uint64_t follow = 0;
    for (int k = 0; k < 6; k++) {
        xml_t x;
        char *svg = render(a, kinds[k], 0, &x);
        unsigned long long f = root_attr(svg, "data-from-ns"), t = root_attr(svg, "data-to-ns");
        if (!k) from = f, to = t;
        CHECKF(f == from && t == to && t > f, "%s: [%llu, %llu) vs [%llu, %llu)", kinds[k], f, t,
               from, to);
        free(svg);
        xml_free(&x);
        uint64_t fw;
        CHECK(aggr_svg_follow(a, kinds[k], 1000, &fw) == 0);
        if (!k) follow = fw;
        CHECKF(fw == follow && fw >= to, "%s: follows to %llu, grid to %llu", kinds[k],
               (unsigned long long)fw, (unsigned long long)follow);
    }
    aggr_destroy(a);
}

/* Counts the code points of s[0..n). */
static size_t code_points(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

/* A legend shows its whole name when it fits its room (the GC chart's one entry has a line of
 * its own), else its first code points and an ellipsis; the tooltip has the whole name. */
TEST(aggr_svg_legends_cut_to_their_room)
{
    struct {
        const char *log, *kind;
        size_t room, cut; /* code points shown at most; entries seen cut at least */
    } cases[] = {{"fib-labels", "gc", 110, 0}, {"heap", "heapprof", 26, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        aggr_t *a = load(cases[i].log);
        xml_t x;
        char *svg = render(a, cases[i].kind, 0, &x);
        size_t entries = 0, cut = 0;
        for (const char *p = strstr(svg, "class=\"legend\"><title>"); p;
             p = strstr(p + 1, "class=\"legend\"><title>")) {
            const char *name = p + strlen("class=\"legend\"><title>"), *name_end;
            name_end = strstr(name, "</title>");
            const char *shown = strstr(name_end, "<text"), *shown_end;
            REQUIRE(name_end && shown);
            shown = strchr(shown, '>') + 1;
            shown_end = strstr(shown, "</text>");
            REQUIRE(shown_end);
            size_t nn = (size_t)(name_end - name), ns = (size_t)(shown_end - shown);
            entries++;
            if (memchr(name, '&', nn)) continue; /* escaped: compared as text elsewhere */
            if (code_points(name, nn) <= cases[i].room) {
                CHECKF(ns == nn && !memcmp(name, shown, nn), "%s: %.*s shown as %.*s",
                       cases[i].kind, (int)nn, name, (int)ns, shown);
            } else {
                cut++;
                CHECKF(ns > 3 && !memcmp(shown + ns - 3, "\xe2\x80\xa6", 3) &&
                           code_points(shown, ns - 3) == cases[i].room &&
                           !memcmp(name, shown, ns - 3),
                       "%s: %.*s shown as %.*s", cases[i].kind, (int)nn, name, (int)ns, shown);
            }
        }
        CHECKF(entries > 0, "%s: no legend", cases[i].kind);
        CHECKF(cut >= cases[i].cut, "%s: %zu names cut", cases[i].kind, cut);
        if (!strcmp(cases[i].kind, "gc"))
            CHECK(strstr(svg, ">GC pause (fraction of each bin)</text>") != NULL);
        free(svg);
        xml_free(&x);
        aggr_destroy(a);
    }
}

/* A short run holds the bins it uses, not every level's thousands of slots: the aggregates of
 * the 0.5 s small.eventlog (every series, five levels of 4096 bins) take a few hundred KiB, where
 * slots for every bin took about 4 MiB; and what they hold draws the same diagram as before. */
TEST(aggr_short_run_holds_few_slots)
{
    aggr_t *a = load("small");
    size_t mem = aggr_bins_memory(a);
    CHECKF(mem > 0 && mem < (768u << 10), "bins memory %zu", mem);
    xml_t x;
    char *svg = render(a, "grid", 0, &x);
    CHECK(ids_with(&x, "labels-") >= 10);
    free(svg);
    xml_free(&x);
    aggr_destroy(a);
}
