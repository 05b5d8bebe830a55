/* Tests of the diagram model and its deltas (lib/diagram.h): a log fed to the live pipeline in
 * many small pieces is rendered after each piece in the live view (aggr_svg_follow); each
 * render's delta from the previous one, sent through the FlatBuffers codec and applied to the
 * first snapshot by a small applier (tests/svgapply.c), reproduces that render byte for byte,
 * and the last one equals the /diagram.svg rendering of the same range. */
#include "test.h"

#include "aggr_svg.h"
#include "diagram.h"
#include "err.h"
#include "live.h"
#include "svgapply.h"
#include "wsmsg.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int render(diagram_t *d, const aggr_t *a, const char *kind, uint32_t width, uint64_t *to)
{
    REQUIRE(aggr_svg_follow(a, kind, width, to) == 0);
    aggr_svg_data_t data;
    int rc = aggr_svg_query(a, kind, 0, *to, width, &data);
    if (rc) return rc;
    rc = diagram_draw(d, &data);
    aggr_svg_data_dispose(&data);
    return rc;
}

typedef struct stats {
    size_t steps, snapshots, delta_bytes, snapshot_bytes, items, splices;
} stats_t;

/* Sends the delta between prev and cur through the codec and applies it to `doc`. */
static void step(svgapply_t *doc, const diagram_t *prev, const diagram_t *cur, stats_t *st,
                 const char *what, bool same_range)
{
    diagram_delta_t x;
    diagram_delta_init(&x);
    int rc = diagram_diff(prev, cur, &x);
    st->steps++;
    if (same_range) st->snapshot_bytes += cur->len;
    if (rc == LP_ERANGE) { /* a fresh snapshot */
        svgapply_free(doc);
        REQUIRE(svgapply_load(doc, cur->text, cur->len) == 0);
        st->snapshots++;
    } else {
        REQUIRE(rc == 0);
        wsmsg_t m = {.type = WSMSG_DELTA,
                     .u.delta = {.seq = st->steps, .items = x.items, .nitems = (uint32_t)x.n}};
        wsmsg_buf_t b;
        wsmsg_buf_init(&b);
        REQUIRE(wsmsg_encode(&m, &b) == 0);
        if (same_range) st->delta_bytes += b.len;
        st->items += x.n;
        for (size_t i = 0; i < x.nattrs; i++)
            st->splices += x.attrs[i].splice;
        size_t cap = 64 + x.n * sizeof(wsmsg_item_t) + x.nattrs * sizeof(wsmsg_attr_t);
        void *arena = malloc(cap + 16);
        wsmsg_t back;
        REQUIRE(arena && wsmsg_decode(b.p, b.len, &back, arena, cap + 16) == 0);
        REQUIRE(back.u.delta.nitems == x.n);
        for (uint32_t i = 0; i < back.u.delta.nitems; i++) {
            const wsmsg_item_t *it = &back.u.delta.items[i];
            CHECKF(svgapply_item(doc, it) == 0, "%s: item %u (op %d, id %s) does not apply", what,
                   i, it->op, it->id.p);
        }
        free(arena);
        wsmsg_buf_dispose(&b);
    }
    size_t len;
    char *text = svgapply_text(doc, &len);
    CHECKF(len == cur->len && !memcmp(text, cur->text, len),
           "%s step %zu: applied document differs from the render (%zu vs %zu bytes)", what,
           st->steps, len, cur->len);
    if (len != cur->len || memcmp(text, cur->text, len)) {
        size_t k = 0;
        while (k < len && k < cur->len && text[k] == cur->text[k])
            k++;
        test_fail(__FILE__, __LINE__, "first difference at %zu:\n  got  %.160s\n  want %.160s", k,
                  text + (k > 40 ? k - 40 : 0), cur->text + (k > 40 ? k - 40 : 0));
        test_abort();
    }
    free(text);
    diagram_delta_dispose(&x);
}

/* The chart says it has nothing to show (its first data then comes as a whole). */
static bool empty(const diagram_t *d)
{
    return d->text && strstr(d->text, "<text id=\"empty\"") != NULL;
}

/* Feeds `log` in pieces, checks every step, and that while the range stays (and the chart had
 * data before the step) the deltas' bytes stay under `ratio` times the documents' bytes. */
static void feed_in_pieces(const char *log, const char *kind, uint32_t width, size_t piece,
                           double ratio)
{
    char rel[128];
    snprintf(rel, sizeof rel, "eventlogs/%s.eventlog", log);
    size_t len;
    uint8_t *buf = tu_read_file(tu_data(rel), &len);
    REQUIRE(buf);
    live_opts_t lo = {.window_events = 256}; /* events reach the aggregates as they come */
    live_t *l = live_create(&lo);
    diagram_t prev, cur;
    memset(&prev, 0, sizeof prev);
    memset(&cur, 0, sizeof cur);
    svgapply_t doc;
    memset(&doc, 0, sizeof doc);
    stats_t st = {0};
    uint64_t to = 0;
    char what[160];
    snprintf(what, sizeof what, "%s %s", log, kind);
    REQUIRE(render(&prev, live_aggr(l), kind, width, &to) == 0);
    REQUIRE(svgapply_load(&doc, prev.text, prev.len) == 0);
    for (size_t off = 0; off < len; off += piece) {
        size_t n = len - off < piece ? len - off : piece;
        REQUIRE(live_feed(l, buf + off, n) == 0);
        uint64_t was = to;
        REQUIRE(render(&cur, live_aggr(l), kind, width, &to) == 0);
        step(&doc, &prev, &cur, &st, what, was == to && !empty(&prev));
        diagram_t t = prev;
        prev = cur;
        cur = t;
    }
    live_finish(l);
    uint64_t was = to;
    REQUIRE(render(&cur, live_aggr(l), kind, width, &to) == 0);
    step(&doc, &prev, &cur, &st, what, was == to && !empty(&prev));
    /* the /diagram.svg rendering of the same range is the same document */
    char *full = NULL;
    size_t flen = 0;
    FILE *f = open_memstream(&full, &flen);
    REQUIRE(f && aggr_svg(live_aggr(l), kind, 0, to, width, f) == 0);
    fclose(f);
    CHECKF(flen == cur.len && !memcmp(full, cur.text, flen), "%s: final render differs", what);
    /* while the range stays, deltas are much smaller than re-sending the document (a chart
     * that never had data, as GC in a run without one, sends neither) */
    CHECKF((double)st.delta_bytes <= ratio * (double)st.snapshot_bytes,
           "%s: %zu delta bytes for %zu snapshot bytes", what, st.delta_bytes, st.snapshot_bytes);
    CHECKF(st.snapshots * 4 < st.steps, "%s: %zu snapshots in %zu steps", what, st.snapshots,
           st.steps);
    if (!strcmp(kind, "grid")) /* cells come at the end of their rows' paths */
        CHECKF(st.splices > 0, "%s: no attribute was spliced", what);
    free(full);
    svgapply_free(&doc);
    diagram_dispose(&prev);
    diagram_dispose(&cur);
    live_destroy(l);
    free(buf);
}

TEST(diagram_deltas_rebuild_every_render_grid)
{
    feed_in_pieces("fib-labels", "grid", 0, 613, 0.4); /* row totals change too */
    feed_in_pieces("concurrent", "grid", 900, 4001, 0.4);
}

TEST(diagram_deltas_rebuild_every_render_caps_gc)
{
    feed_in_pieces("fib-labels", "caps", 0, 777, 0.3);
    feed_in_pieces("concurrent", "gc", 0, 3001, 0.3);
}

TEST(diagram_deltas_rebuild_every_render_heap_kinds)
{
    feed_in_pieces("heap", "heap", 0, 3001, 0.3);
    feed_in_pieces("heap", "heapprof", 0, 3001, 0.6); /* the stacked axis rescales often */
    feed_in_pieces("sparks", "sparks", 0, 501, 0.3);
}

/* Diffs two one-element documents and returns the attribute changes (x keeps them). */
static const wsmsg_attr_t *attr_diff(const char *ta, const char *tb, diagram_delta_t *x,
                                     diagram_t *a, diagram_t *b)
{
    REQUIRE(diagram_parse(a, strdup(ta), strlen(ta)) == 0);
    REQUIRE(diagram_parse(b, strdup(tb), strlen(tb)) == 0);
    diagram_delta_init(x);
    REQUIRE(diagram_diff(a, b, x) == 0);
    svgapply_t doc;
    stats_t st = {0};
    REQUIRE(svgapply_load(&doc, ta, strlen(ta)) == 0);
    step(&doc, a, b, &st, "attribute", true); /* applied through the codec: the same bytes */
    svgapply_free(&doc);
    REQUIRE(x->n == 1 && x->items[0].op == WSMSG_UPDATE && x->items[0].nattrs == 1);
    return &x->items[0].attrs[0];
}

TEST(diagram_splices_long_attribute_values)
{
    static const char head[] = "<svg id=\"root\">\n<path id=\"p\" d=\"";
    static const char cells[] = "M10,0h3v14h-3zM13,0h3v14h-3zM16,0h3v14h-3z";
    char ta[256], tb[256];
    diagram_t a, b;
    diagram_delta_t x;
    /* a cell appended: only the cell travels */
    snprintf(ta, sizeof ta, "%s%s\"/>\n</svg>\n", head, cells);
    snprintf(tb, sizeof tb, "%s%sM19,0h3v14h-3z\"/>\n</svg>\n", head, cells);
    const wsmsg_attr_t *at = attr_diff(ta, tb, &x, &a, &b);
    CHECK(at->splice && at->at == strlen(cells) && at->cut == 0);
    CHECK(at->value.len == 14 && !memcmp(at->value.p, "M19,0h3v14h-3z", 14));
    diagram_delta_dispose(&x), diagram_dispose(&a), diagram_dispose(&b);
    /* a cell in the middle replaced by a longer one, repeated bytes around it */
    snprintf(tb, sizeof tb,
             "%sM10,0h3v14h-3zM13,0h3v14h-3zM13,0h3v14h-3zM16,0h3v14h-3z\"/>\n</svg>\n", head);
    at = attr_diff(ta, tb, &x, &a, &b);
    CHECK(at->splice && at->value.len == 14 && at->cut == 0);
    diagram_delta_dispose(&x), diagram_dispose(&a), diagram_dispose(&b);
    /* too little in common, or not plain ASCII: the whole value */
    at = attr_diff("<svg id=\"root\">\n<rect id=\"r\" x=\"12.5\"/>\n</svg>\n",
                   "<svg id=\"root\">\n<rect id=\"r\" x=\"13.5\"/>\n</svg>\n", &x, &a, &b);
    CHECK(!at->splice && at->value.len == 4);
    diagram_delta_dispose(&x), diagram_dispose(&a), diagram_dispose(&b);
    snprintf(tb, sizeof tb, "%s%s&amp;\"/>\n</svg>\n", head, cells);
    at = attr_diff(ta, tb, &x, &a, &b);
    CHECK(!at->splice);
    diagram_delta_dispose(&x), diagram_dispose(&a), diagram_dispose(&b);
}

TEST(diagram_parse_rejects_other_layouts)
{
    static const char *const bad[] = {
        "<svg id=\"root\">\n<rect/>\n</svg>\n",                      /* no id */
        "<svg id=\"root\">\n<a id=\"x\"/>\n<b id=\"x\"/>\n</svg>\n", /* duplicate */
        "<svg id=\"root\">\n<a id=\"x\"/>text\n</svg>\n",            /* text between */
        "<svg id=\"root\">\n<a id=\"x\">\n</svg>\n",                 /* not closed */
        "<svg>\n</svg>\n",                                           /* root without id */
        "<html id=\"root\">\n</html>\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        diagram_t d;
        CHECKF(diagram_parse(&d, strdup(bad[i]), strlen(bad[i])) == LP_EPROTO, "case %zu", i);
        diagram_dispose(&d);
    }
    diagram_t a, b;
    const char *ta = "<svg id=\"root\" h=\"1\">\n<g id=\"g\"><r id=\"r1\"/><r id=\"r2\"/></g>\n"
                     "<t id=\"t\">x</t>\n</svg>\n";
    const char *tb = "<svg id=\"root\" h=\"2\">\n<t id=\"t\">x</t>\n<g id=\"g\" k=\"v\"><r "
                     "id=\"r2\"/><r id=\"r3\"/></g>\n</svg>\n";
    REQUIRE(diagram_parse(&a, strdup(ta), strlen(ta)) == 0);
    REQUIRE(diagram_parse(&b, strdup(tb), strlen(tb)) == 0);
    CHECK(a.nnodes == 5 && a.nodes[1].n == 2);
    svgapply_t doc;
    REQUIRE(svgapply_load(&doc, ta, strlen(ta)) == 0);
    stats_t st = {0};
    step(&doc, &a, &b, &st, "moved group", true); /* t moves before g: g is removed and added */
    CHECKF(st.items == 3 && st.snapshots == 0, "%zu items", st.items); /* remove, root, add */
    svgapply_free(&doc);
    diagram_dispose(&a);
    diagram_dispose(&b);
}
