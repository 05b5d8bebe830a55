/* Tests for the timed report writers (lib/report_svg.c, lib/report_txt.c, lib/report_json.c) on a
 * small hand-built report: value cells, set-but-zero cells, values over 1, thread lifetimes, the
 * extra bucket N, sections and a sum; the SVG is read back with tests/svgcells.c. */
#include "test.h"

#include "err.h"
#include "hsfmt.h"
#include "report_out.h"
#include "svgcells.h"

#include <stdlib.h>
#include <string.h>

/* Adds a row; vals/sets describe buckets [blo, blo + bn). */
static void add_row(report_t *r, report_kind_t kind, const char *title, uint64_t total,
                    uint32_t rgb, int64_t blo, uint32_t bn, const double *vals, const uint8_t *sets)
{
    r->rows = realloc(r->rows, (r->nrows + 1) * sizeof *r->rows);
    REQUIRE(r->rows);
    report_row_t *row = &r->rows[r->nrows++];
    memset(row, 0, sizeof *row);
    row->kind = kind;
    row->title = strdup(title);
    row->total = total;
    row->rgb = rgb;
    row->blo = blo;
    row->bn = bn;
    if (bn) {
        row->val = malloc(bn * sizeof *row->val);
        row->set = malloc(bn);
        REQUIRE(row->val && row->set);
        memcpy(row->val, vals, bn * sizeof *vals);
        memcpy(row->set, sets, bn);
    }
}

/* The small report used throughout (startup 1000 ns, 10 buckets of 100 ns). */
static void small_report(report_t *r)
{
    memset(r, 0, sizeof *r);
    r->startup = 1000;
    r->end = 2000;
    r->bucket_ns = 100;
    r->buckets = 10;
    add_row(r, REPORT_GC, "GC", 250, 0xff0000, 2, 3, (double[]){0.5, 1.0, 0.0},
            (uint8_t[]){1, 1, 1});
    add_row(r, REPORT_SECTION, "USER EVENTS", 0, 0, 0, 0, NULL, NULL);
    add_row(r, REPORT_USER, "a<b & \"c\"", 1234, 0x8a2be2, 0, 4, (double[]){0.015, 0.0, 1.5, 0.005},
            (uint8_t[]){1, 0, 1, 1});
    r->rows[r->nrows - 1].sub = 3;
    add_row(r, REPORT_SUM, "TOTAL", 99, 0x8a2be2, 1, 2, (double[]){12.5, 0.125}, (uint8_t[]){1, 1});
    add_row(r, REPORT_SECTION, "THREAD EVENTS", 0, 0, 0, 0, NULL, NULL);
    add_row(r, REPORT_THREAD, "worker-1:6", 80, 0x0000ff, 5, 2, (double[]){0.8312, 0.0004},
            (uint8_t[]){1, 1});
    r->rows[r->nrows - 1].tid = 6;
    r->rows[r->nrows - 1].has_bg = true;
    r->rows[r->nrows - 1].bg_from = 4;
    r->rows[r->nrows - 1].bg_to = 7;
    add_row(r, REPORT_THREAD, "24", 25, 0x0000ff, 10, 1, (double[]){0.25}, (uint8_t[]){1});
    r->rows[r->nrows - 1].tid = 24;
    r->rows[r->nrows - 1].has_bg = true;
    r->rows[r->nrows - 1].bg_from = 9;
    r->rows[r->nrows - 1].bg_to = 10;
}

/* What the old tool's cells.tsv would hold for the small report (labels escaped as blaze-svg
 * writes them). */
static const char small_cells[] =
    "row\tlabel\tbucket\tkind\trgb\topacity\n"
    "0\tGC\t2\tvalue\trgb(255,0,0)\t0.650000\n"
    "0\tGC\t3\tvalue\trgb(255,0,0)\t1.000000\n"
    "1\ta&lt;b &amp; &quot;c&quot;\t0\tvalue\trgb(138,43,226)\t0.310500\n"
    "1\ta&lt;b &amp; &quot;c&quot;\t2\tvalue\trgb(138,43,226)\t1.350000\n"
    "1\ta&lt;b &amp; &quot;c&quot;\t3\tvalue\trgb(138,43,226)\t0.303500\n"
    "2\tTOTAL\t1\tvalue\trgb(138,43,226)\t9.050000\n"
    "2\tTOTAL\t2\tvalue\trgb(138,43,226)\t0.387500\n"
    "3\tworker-1:6\t4\tbg\trgb(0,0,0)\t0.100000\n"
    "3\tworker-1:6\t5\tbg\trgb(0,0,0)\t0.100000\n"
    "3\tworker-1:6\t6\tbg\trgb(0,0,0)\t0.100000\n"
    "3\tworker-1:6\t7\tbg\trgb(0,0,0)\t0.100000\n"
    "3\tworker-1:6\t5\tvalue\trgb(0,0,255)\t0.881840\n"
    "3\tworker-1:6\t6\tvalue\trgb(0,0,255)\t0.300280\n"
    "4\t24\t9\tbg\trgb(0,0,0)\t0.100000\n"
    "4\t24\t10\tbg\trgb(0,0,0)\t0.100000\n"
    "4\t24\t10\tvalue\trgb(0,0,255)\t0.475000\n";

/* Runs a writer into memory; returns the text (caller frees) and its result in *rc. */
#define CAPTURE(buf, len, rc, call)                                                                \
    do {                                                                                           \
        FILE *f_ = open_memstream(&(buf), &(len));                                                 \
        REQUIRE(f_);                                                                               \
        FILE *f = f_;                                                                              \
        (rc) = (call);                                                                             \
        fclose(f_);                                                                                \
    } while (0)

/* A small XML well-formedness check: tags balance, attributes are quoted, every '&' starts a
 * known entity or a character reference, no raw '<' in text. Returns NULL or what is wrong. */
static const char *xml_check(const char *s)
{
    static char why[200];
    const char *stack[64];
    size_t depth = 0;
    const char *p = strstr(s, "<svg");
    if (!p || strncmp(s, "<?xml", 5) != 0) return "no xml declaration or <svg>";
    while (*p) {
        if (*p == '&') {
            if (strncmp(p, "&amp;", 5) && strncmp(p, "&lt;", 4) && strncmp(p, "&gt;", 4) &&
                strncmp(p, "&quot;", 6) && strncmp(p, "&#", 2))
                return "bare &";
            p++;
            continue;
        }
        if (*p != '<') {
            if ((unsigned char)*p < 0x20 && *p != '\n') return "control character";
            p++;
            continue;
        }
        bool closing = p[1] == '/';
        const char *name = p + 1 + closing;
        size_t nl = strcspn(name, " />");
        const char *q = name + nl;
        while (*q && *q != '>') {
            if (*q == '"') {
                const char *e = strchr(q + 1, '"');
                if (!e) return "unterminated attribute";
                if (memchr(q + 1, '<', (size_t)(e - q - 1))) return "'<' in an attribute";
                q = e;
            }
            q++;
        }
        if (!*q) return "unterminated tag";
        bool self = q[-1] == '/';
        if (closing) {
            if (depth == 0 || strncmp(stack[depth - 1], name, nl) != 0 ||
                strcspn(stack[depth - 1], " />") != nl) {
                snprintf(why, sizeof why, "mismatched </%.*s>", (int)nl, name);
                return why;
            }
            depth--;
        } else if (!self) {
            if (depth == 64) return "too deep";
            stack[depth++] = name;
        }
        p = q + 1;
        if (depth == 0) break;
    }
    return depth == 0 ? NULL : "unclosed element";
}

TEST(report_svg_cells_round_trip)
{
    report_t r;
    small_report(&r);
    char *svg = NULL;
    size_t len = 0;
    int rc;
    CAPTURE(svg, len, rc, report_write_svg(&r, NULL, f));
    CHECK(rc == 0);
    const char *bad = xml_check(svg);
    CHECKF(!bad, "not well-formed: %s", bad);
    svgcells_t got;
    char err[200] = "";
    CHECKF(svgcells_parse(svg, &got, err, sizeof err) == 0, "parse: %s", err);
    CHECK_EQ_U64(got.nrows, 5);
    /* the set-but-zero GC bucket 4 is drawn, transparent black as the old tool writes it */
    CHECK_EQ_U64(got.zero, 1);
    CHECK(strstr(svg, "<rect class=\"v\" data-b=\"4\" x=\"") != NULL);
    CHECK(strstr(svg, " fill=\"rgb(0,0,0)\" fill-opacity=\"0\"><title>GC bucket 4: 0 (0 ns)") !=
          NULL);
    if (got.nrows == 5) {
        CHECK(strcmp(got.labels[1], "a<b & \"c\"") == 0);
        CHECK(strcmp(got.labels[4], "24") == 0);
    }
    char msg[2000];
    size_t d = svgcells_compare_tsv(&got, small_cells, msg, sizeof msg);
    CHECKF(d == 0, "%zu differences:\n%s", d, msg);
    svgcells_free(&got);
    /* the raw label never appears unescaped; sections are title rows of their own */
    CHECK(strstr(svg, "a&lt;b &amp; &quot;c&quot;") != NULL);
    CHECK(strstr(svg, "a<b") == NULL);
    CHECK(strstr(svg, "<g class=\"section\"") != NULL);
    CHECK(strstr(svg, ">THREAD EVENTS</text>") != NULL);
    /* tooltips carry the exact value and the time it stands for */
    CHECK(strstr(svg, "<title>worker-1:6 bucket 5: 0.8312 (83 ns)</title>") != NULL);
    /* alternating backgrounds: GC (fragment 1) ghostwhite, the user row (fragment 3) too,
     * TOTAL (fragment 4) white */
    const char *gc = strstr(svg, "data-row=\"0\"");
    const char *total = strstr(svg, "data-row=\"2\"");
    REQUIRE(gc && total);
    CHECK(strncmp(strstr(gc, "fill="), "fill=\"rgb(248,248,255)\"", 23) == 0);
    CHECK(strncmp(strstr(total, "fill="), "fill=\"rgb(255,255,255)\"", 23) == 0);
    free(svg);
    report_dispose(&r);
}

TEST(report_svg_compare_detects_differences)
{
    report_t r;
    small_report(&r);
    char *svg = NULL;
    size_t len = 0;
    int rc;
    CAPTURE(svg, len, rc, report_write_svg(&r, NULL, f));
    REQUIRE(rc == 0);
    char err[200], msg[2000];
    svgcells_t got;
    REQUIRE(svgcells_parse(svg, &got, err, sizeof err) == 0);
    /* an opacity off by 2e-6, a missing line, a wrong colour, a wrong label */
    const char *edits[][2] = {
        {"0.475000", "0.475002"},
        {"0\tGC\t3\tvalue\trgb(255,0,0)\t1.000000\n", ""},
        {"2\tTOTAL\t2\tvalue\trgb(138,43,226)", "2\tTOTAL\t2\tvalue\trgb(0,0,255)"},
        {"4\t24\t9", "4\t25\t9"}};
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        char tsv[sizeof small_cells + 16];
        const char *at = strstr(small_cells, edits[e][0]);
        REQUIRE(at);
        size_t pre = (size_t)(at - small_cells);
        snprintf(tsv, sizeof tsv, "%.*s%s%s", (int)pre, small_cells, edits[e][1],
                 at + strlen(edits[e][0]));
        size_t d = svgcells_compare_tsv(&got, tsv, msg, sizeof msg);
        CHECKF(d == 1, "edit %zu: %zu differences", e, d);
    }
    /* an opacity off by less than 1e-6 still matches */
    char tsv[sizeof small_cells];
    strcpy(tsv, small_cells);
    memcpy(strstr(tsv, "0.475000"), "0.475001", 8);
    CHECK(svgcells_compare_tsv(&got, tsv, msg, sizeof msg) == 0);
    svgcells_free(&got);
    free(svg);
    report_dispose(&r);
}

TEST(report_svg_escapes_and_replaces_bad_text)
{
    report_t r = {.startup = 0, .end = 10, .bucket_ns = 1, .buckets = 10};
    add_row(&r, REPORT_USER, "t\tx\x01y\xff\xc3\xa9'&", 1, 0x8a2be2, 0, 1, (double[]){1},
            (uint8_t[]){1});
    char *svg = NULL;
    size_t len = 0;
    int rc;
    CAPTURE(svg, len, rc, report_write_svg(&r, NULL, f));
    CHECK(rc == 0);
    CHECK(strstr(svg, ">t&#9;x\xef\xbf\xbdy\xef\xbf\xbd\xc3\xa9&#39;&amp;<title>") != NULL);
    const char *bad = xml_check(svg);
    CHECKF(!bad, "not well-formed: %s", bad);
    svgcells_t got;
    char err[200];
    CHECK(svgcells_parse(svg, &got, err, sizeof err) == 0);
    CHECK(got.nrows == 1 && strcmp(got.labels[0], "t\tx\xef\xbf\xbdy\xef\xbf\xbd\xc3\xa9'&") == 0);
    svgcells_free(&got);
    free(svg);
    report_dispose(&r);
}

/* The texts of the timeline labels, joined by '|'. */
static void tick_labels(const char *svg, char *out, size_t cap)
{
    out[0] = 0;
    const char *g = strstr(svg, "<g class=\"ticks\"");
    const char *end = g ? strstr(g, "</g>") : NULL;
    for (const char *t = g ? strstr(g, "<text") : NULL; t && t < end; t = strstr(t + 1, "<text")) {
        const char *b = strchr(t, '>') + 1;
        size_t used = strlen(out);
        snprintf(out + used, cap - used, "%s%.*s", used ? "|" : "", (int)strcspn(b, "<"), b);
    }
}

static size_t count(const char *hay, const char *needle, const char *end)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p && p < end; p = strstr(p + 1, needle))
        n++;
    return n;
}

TEST(report_svg_timeline_ticks_and_options)
{
    report_t r = {.startup = 0, .end = 300000000, .bucket_ns = 15000000, .buckets = 20};
    add_row(&r, REPORT_GC, "GC", 1, 0xff0000, 0, 1, (double[]){1}, (uint8_t[]){1});
    report_svg_opts_t o = report_svg_opts_default();
    CHECK(o.bucket_width == 14 && o.bucket_height == 14 && o.border_width == 0.1 &&
          o.tick_every == 1 && !o.ms);
    o.tick_every = 2;
    o.bucket_width = 10;
    o.bucket_height = 6;
    char *svg = NULL;
    size_t len = 0;
    int rc;
    CAPTURE(svg, len, rc, report_write_svg(&r, &o, f));
    REQUIRE(rc == 0);
    char labels[200];
    tick_labels(svg, labels, sizeof labels);
    /* big ticks at buckets 0 and 10: 150 ms is 0.15 s, which Haskell rounds to 0.2 */
    CHECKF(strcmp(labels, "0.0s|0.2s") == 0, "labels %s", labels);
    const char *tl = strstr(svg, "<g class=\"timeline\"");
    REQUIRE(tl);
    const char *tle = strstr(tl, "</g>");
    CHECK_EQ_U64(count(tl, "v4", tle), 2);
    CHECK_EQ_U64(count(tl, "v3", tle), 8);
    CHECK(strstr(svg, " width=\"10\" height=\"6\" fill=\"rgb(255,0,0)\"") != NULL);
    svgcells_t got;
    char err[200];
    CHECKF(svgcells_parse(svg, &got, err, sizeof err) == 0, "parse: %s", err);
    svgcells_free(&got);
    free(svg);
    o.ms = true;
    o.border_width = 0;
    CAPTURE(svg, len, rc, report_write_svg(&r, &o, f));
    REQUIRE(rc == 0);
    tick_labels(svg, labels, sizeof labels);
    CHECKF(strcmp(labels, "0.0ms|150.0ms") == 0, "labels %s", labels);
    CHECK(strstr(svg, "<g stroke=\"none\">") != NULL);
    free(svg);
    o.bucket_width = 0;
    CAPTURE(svg, len, rc, report_write_svg(&r, &o, f));
    CHECK(rc == LP_EARG);
    free(svg);
    report_dispose(&r);
}

TEST(report_timed_txt_small)
{
    /* Haskell's rounding of the cases below, checked against hsfmt (the reference for "%0.2f") */
    char b[32];
    REQUIRE(hsfmt_fixed(b, sizeof b, 0.015, 2) == 4 && strcmp(b, "0.02") == 0);
    REQUIRE(hsfmt_fixed(b, sizeof b, 0.005, 2) == 4 && strcmp(b, "0.00") == 0);
    REQUIRE(hsfmt_fixed(b, sizeof b, 0.125, 2) == 4 && strcmp(b, "0.12") == 0);
    report_t r;
    small_report(&r);
    char *txt = NULL;
    size_t len = 0;
    int rc;
    CAPTURE(txt, len, rc, report_write_timed_txt(&r, f));
    CHECK(rc == 0);
    const char *want = "GC          0.00  0.00  0.50  1.00  0.00\n"
                       "\n"
                       "USER EVENTS\n"
                       "a<b & \"c\"   0.02  0.00  1.50  0.00\n"
                       "TOTAL       0.00 12.50  0.12\n"
                       "\n"
                       "THREAD EVENTS\n"
                       "worker-1:6  0.00  0.00  0.00  0.00  0.00  0.83  0.00\n"
                       "24          0.00  0.00  0.00  0.00  0.00  0.00  0.00  0.00  0.00  0.00  "
                       "0.25\n";
    CHECKF(strcmp(txt, want) == 0, "got:\n%s", txt);
    free(txt);
    report_dispose(&r);
}

TEST(report_timed_txt_widths_count_characters)
{
    report_t r = {.startup = 0, .end = 10, .bucket_ns = 1, .buckets = 10};
    add_row(&r, REPORT_SECTION, "S", 0, 0, 0, 0, NULL, NULL);
    add_row(&r, REPORT_USER, "\xc3\xa9t\xc3\xa9", 1, 0, 1, 1, (double[]){2.675}, (uint8_t[]){1});
    add_row(&r, REPORT_USER, "ab", 1, 0, 0, 0, NULL, NULL);
    add_row(&r, REPORT_USER, "\xff", 1, 0, 0, 1, (double[]){0.045}, (uint8_t[]){1});
    char *txt = NULL;
    size_t len = 0;
    int rc;
    CAPTURE(txt, len, rc, report_write_timed_txt(&r, f));
    CHECK(rc == 0);
    /* 2.675 -> 2.68 and 0.045 -> 0.04 (Haskell), a row without values is its padded header */
    const char *want = "\nS\n\xc3\xa9t\xc3\xa9 0.00 2.68\nab \n\xff   0.04\n";
    CHECKF(strcmp(txt, want) == 0, "got:\n%s", txt);
    free(txt);
    report_dispose(&r);
}

/* The totals table: titles padded by characters (not bytes), numbers right-aligned in columns
 * as wide as their widest entry, three spaces between columns, sections on lines of their own
 * after a blank one; a title longer than any line made before still fits. */
TEST(report_totals_txt_columns_count_characters)
{
    report_t r = {0};
    add_row(&r, REPORT_SECTION, "USER EVENTS", 0, 0, 0, 0, NULL, NULL);
    add_row(&r, REPORT_USER, "\xc3\xa9\xe6\x97\xa5\xe6\x9c\xac", 1500000000, 0, 0, 0, NULL, NULL);
    add_row(&r, REPORT_USER, "a", 7, 0, 0, 0, NULL, NULL);
    add_row(&r, REPORT_SECTION, "THREAD EVENTS", 0, 0, 0, 0, NULL, NULL);
    char long_title[300];
    memset(long_title, 'x', sizeof long_title - 1);
    long_title[sizeof long_title - 1] = 0;
    add_row(&r, REPORT_THREAD, long_title, 123456789012, 0, 0, 0, NULL, NULL);
    char *txt = NULL;
    size_t len = 0;
    int rc;
    CAPTURE(txt, len, rc, report_write_totals(&r, f));
    CHECK(rc == 0);
    char want[2048];
    snprintf(want, sizeof want,
             "\nUSER EVENTS\n"
             "\xc3\xa9\xe6\x97\xa5\xe6\x9c\xac%296s   %14s   %8s\n"
             "a%298s   %14s   %8s\n"
             "\nTHREAD EVENTS\n"
             "%s   %14s   %8s\n",
             "", "1500000000ns", "1.500s", "", "7ns", "0.000s", long_title, "123456789012ns",
             "123.457s");
    CHECKF(len == strlen(want) && strcmp(txt, want) == 0, "got:\n%s", txt);
    free(txt);
    report_dispose(&r);
}

static const char small_json[] =
    "{\"startup_ns\":1000,\"end_ns\":2000,\"bucket_ns\":100,\"buckets\":10,\"rows\":["
    "{\"kind\":\"gc\",\"name\":\"GC\",\"total_ns\":250,\"cells\":[[2,0.5],[3,1]]},"
    "{\"kind\":\"section\",\"name\":\"USER EVENTS\"},"
    "{\"kind\":\"user\",\"name\":\"a<b & \\\"c\\\"\",\"subscript\":3,\"total_ns\":1234,"
    "\"cells\":[[0,0.015],[2,1.5],[3,0.005]]},"
    "{\"kind\":\"sum\",\"name\":\"TOTAL\",\"total_ns\":99,\"cells\":[[1,12.5],[2,0.125]]},"
    "{\"kind\":\"section\",\"name\":\"THREAD EVENTS\"},"
    "{\"kind\":\"thread\",\"name\":\"worker-1:6\",\"tid\":6,\"total_ns\":80,"
    "\"cells\":[[5,0.8312],[6,0.0004]]},"
    "{\"kind\":\"thread\",\"name\":\"24\",\"tid\":24,\"total_ns\":25,\"cells\":[[10,0.25]]}]}";

TEST(report_json_small)
{
    report_t r;
    small_report(&r);
    const report_t *one[] = {&r};
    char *js = NULL;
    size_t len = 0;
    int rc;
    CAPTURE(js, len, rc, report_write_json(one, 1, false, f));
    CHECK(rc == 0);
    char want[sizeof small_json * 2 + 8];
    snprintf(want, sizeof want, "%s\n", small_json);
    CHECKF(strcmp(js, want) == 0, "got:\n%s", js);
    free(js);
    /* --window: an array, one object per window */
    report_t empty = {.startup = 5, .end = 5, .bucket_ns = 1, .buckets = 10};
    const report_t *two[] = {&r, &empty};
    CAPTURE(js, len, rc, report_write_json(two, 2, true, f));
    CHECK(rc == 0);
    snprintf(want, sizeof want,
             "[%s,{\"startup_ns\":5,\"end_ns\":5,\"bucket_ns\":1,\"buckets\":10,\"rows\":[]}]\n",
             small_json);
    CHECKF(strcmp(js, want) == 0, "got:\n%s", js);
    free(js);
    CAPTURE(js, len, rc, report_write_json(two, 0, true, f));
    CHECK(rc == 0 && strcmp(js, "[]\n") == 0);
    free(js);
    CAPTURE(js, len, rc, report_write_json(two, 2, false, f));
    CHECK(rc == LP_EARG);
    free(js);
    report_dispose(&r);
}

TEST(report_json_escapes_names_and_keeps_precision)
{
    report_t r = {.startup = 0, .end = 10, .bucket_ns = 1, .buckets = 10};
    add_row(&r, REPORT_USER, "t\x01\n\xff\xc3\xa9\\", 1, 0, 0, 2, (double[]){0.1 + 0.2, 1e-300},
            (uint8_t[]){1, 1});
    r.rows[0].sub = -2;
    const report_t *one[] = {&r};
    char *js = NULL;
    size_t len = 0;
    int rc;
    CAPTURE(js, len, rc, report_write_json(one, 1, false, f));
    CHECK(rc == 0);
    CHECKF(strstr(js, "\"name\":\"t\\u0001\\n\xef\xbf\xbd\xc3\xa9\\\\\",\"subscript\":-2,") != NULL,
           "got %s", js);
    /* 0.1 + 0.2 needs 17 digits to read back */
    CHECKF(strstr(js, "\"cells\":[[0,0.30000000000000004],[1,1e-300]]") != NULL, "got %s", js);
    free(js);
    report_dispose(&r);
}

TEST(report_writers_report_write_errors)
{
    FILE *f = fopen("/dev/full", "w");
    if (!f) {
        /* no /dev/full: nothing to test the error path against */
        CHECKF(false, "cannot open /dev/full");
        return;
    }
    report_t r;
    small_report(&r);
    const report_t *one[] = {&r};
    CHECK(report_write_svg(&r, NULL, f) == LP_EIO);
    clearerr(f);
    CHECK(report_write_timed_txt(&r, f) == LP_EIO);
    clearerr(f);
    CHECK(report_write_json(one, 1, false, f) == LP_EIO);
    fclose(f);
    report_dispose(&r);
}
