/* The timed report as an SVG diagram laid out like ghc-events-analyze 0.2.8's: a timeline, then
 * one row of bucket cells per report row (sections as title rows), with real <text> labels and a
 * structure tests can parse back (row groups, one <rect> per cell, data-b bucket numbers). */
#include "report_out.h"

#include "err.h"
#include "hsfmt.h"
#include "hsshow.h"
#include "outbuf.h"

#include <math.h>
#include <string.h>

#define TIMELINE_H 24.0 /* height of the timeline row (baseline at 12.5, ticks below it) */
#define TICK_FONT 8.0   /* font size of the timeline labels */
#define PAD 4.0         /* space left and right of a row header */
#define CHAR_EM 0.6     /* advance of a monospace character, in em */

enum { DRAIN_AT = 1 << 16 };

typedef struct svg {
    outbuf_t o;
    FILE *f;
    int err;
    const report_t *r;
    report_svg_opts_t opt;
    double x0;     /* left edge of bucket 0 (the header column's width) */
    double width;  /* document width */
    double height; /* document height */
    double fs;     /* row header font size */
    char wh[96];   /* ` width=".." height=".."` of a cell */
    outbuf_t esc;  /* the current row's header, XML-escaped (memory mode) */
} svg_t;

report_svg_opts_t report_svg_opts_default(void)
{
    return (report_svg_opts_t){
        .bucket_width = 14, .bucket_height = 14, .border_width = 0.1, .tick_every = 1, .ms = false};
}

/* Hands what is buffered to the FILE* once enough has piled up (or everything with `all`). */
static void drain(svg_t *s, bool all)
{
    if (s->o.len < DRAIN_AT && !(all && s->o.len)) return;
    if (!s->err && fwrite(s->o.buf, 1, s->o.len, s->f) != s->o.len) s->err = LP_EIO;
    s->o.len = 0;
}

/* Appends v with at most `dec` (0..9) decimals, trailing zeros dropped: 14, 0.5, 176.25. */
static void put_num(outbuf_t *o, double v, int dec)
{
    static const uint64_t p10[10] = {1,      10,      100,      1000,      10000,
                                     100000, 1000000, 10000000, 100000000, 1000000000};
    char *d = outbuf_reserve(o, 40);
    double a = fabs(v) * (double)p10[dec];
    if (!(a < 9e18)) { /* huge or not finite: no fixed form needed for a readable file */
        int k = snprintf(d, 40, "%.17g", isfinite(v) ? v : 0.0);
        outbuf_commit(o, (size_t)k);
        return;
    }
    uint64_t m = (uint64_t)llround(a);
    size_t k = 0;
    if (v < 0 && m) d[k++] = '-';
    k += outbuf_fmt_u64(d + k, m / p10[dec]);
    uint64_t fr = m % p10[dec];
    if (fr) {
        d[k++] = '.';
        for (int i = dec - 1; i >= 0; i--) {
            d[k + (size_t)i] = (char)('0' + fr % 10);
            fr /= 10;
        }
        k += (size_t)dec;
        while (d[k - 1] == '0')
            k--;
    }
    outbuf_commit(o, k);
}

/* Appends p[0..n) as XML character data: the five markup characters as entities, tab/newline/CR
 * as character references, other control characters, invalid UTF-8 and U+FFFE/U+FFFF (which XML
 * forbids) as U+FFFD. */
static void put_xml(outbuf_t *o, const char *p, size_t n)
{
    const uint8_t *u = (const uint8_t *)p;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && u[j] >= 0x20 && u[j] < 0x80 && u[j] != '&' && u[j] != '<' && u[j] != '>' &&
               u[j] != '"' && u[j] != '\'')
            j++;
        if (j > i) outbuf_put(o, u + i, j - i);
        if (j == n) return;
        i = j;
        uint8_t b = u[i];
        const char *rep = NULL;
        size_t k = 1;
        switch (b) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        case '\t':
            rep = "&#9;";
            break;
        case '\n':
            rep = "&#10;";
            break;
        case '\r':
            rep = "&#13;";
            break;
        default:
            if (b >= 0x80) {
                uint32_t cp;
                k = hsshow_utf8_next(u + i, n - i, &cp);
                if (k && cp != 0xfffe && cp != 0xffff) {
                    outbuf_put(o, u + i, k);
                    i += k;
                    continue;
                }
                if (!k) k = 1;
            }
            rep = "\xef\xbf\xbd";
        }
        outbuf_puts(o, rep);
        i += k;
    }
}

/* Width of p[0..n) in monospace character cells: one per code point, two for East Asian wide
 * ones (roughly U+2E80 and up, below the supplementary private use planes). */
static double text_cells(const char *p, size_t n)
{
    const uint8_t *u = (const uint8_t *)p;
    double w = 0;
    size_t i = 0;
    while (i < n) {
        uint32_t cp = u[i];
        size_t k = u[i] < 0x80 ? 1 : hsshow_utf8_next(u + i, n - i, &cp);
        if (!k) k = 1;
        w += cp >= 0x2e80 && cp < 0xf0000 ? 2 : 1;
        i += k;
    }
    return w;
}

/* Escapes `t` into s->esc (reused from row to row). */
static void escape_title(svg_t *s, const char *t)
{
    s->esc.len = 0;
    put_xml(&s->esc, t ? t : "", t ? strlen(t) : 0);
}

/* Last bucket a row draws anything in (values or background), or -1. */
static int64_t row_last_bucket(const report_row_t *row)
{
    int64_t last = -1;
    for (uint32_t i = row->bn; i > 0; i--)
        if (row->set && row->set[i - 1]) {
            last = row->blo + (int64_t)(i - 1);
            break;
        }
    if (row->has_bg && row->bg_to >= row->bg_from && row->bg_to > last) last = row->bg_to;
    return last;
}

/* Text of the big tick at bucket b: b * bucket size after startup, as the old tool prints it. */
static int tick_label(const svg_t *s, uint64_t b, char *buf, size_t cap)
{
    uint64_t ns = b * s->r->bucket_ns;
    double v = s->opt.ms ? (double)ns / 1e6 : (double)ns / 1e9;
    int k = hsfmt_fixed(buf, cap - 3, v, 1);
    if (k < 0) k = 0;
    strcpy(buf + k, s->opt.ms ? "ms" : "s");
    return k + (s->opt.ms ? 2 : 1);
}

/* Computes the header column, the document size and the cell attributes. */
static void layout(svg_t *s)
{
    const report_t *r = s->r;
    double bw = s->opt.bucket_width, bh = s->opt.bucket_height;
    double label_cells = 0, section_w = 0, h = TIMELINE_H;
    int64_t last = (int64_t)r->buckets - 1;
    s->fs = 0.75 * bh;
    for (size_t i = 0; i < r->nrows; i++) {
        const report_row_t *row = &r->rows[i];
        const char *t = row->title ? row->title : "";
        double w = text_cells(t, strlen(t));
        if (row->kind == REPORT_SECTION) {
            if (PAD + w * CHAR_EM * 1.1 * bh > section_w) section_w = PAD + w * CHAR_EM * 1.1 * bh;
            h += 2 * bh;
            continue;
        }
        if (w > label_cells) label_cells = w;
        int64_t lb = row_last_bucket(row);
        if (lb > last) last = lb;
        h += bh;
    }
    s->x0 = ceil(2 * PAD + label_cells * CHAR_EM * s->fs);
    s->width = s->x0 + (double)(last + 1) * bw;
    if (section_w > s->width) s->width = ceil(section_w);
    /* the last timeline label may stick out to the right */
    uint32_t k = s->opt.tick_every;
    if (r->buckets > 0) {
        uint64_t lastbig = ((uint64_t)(r->buckets - 1) / ((uint64_t)k * 5)) * (uint64_t)k * 5;
        char lab[64];
        int n = tick_label(s, lastbig, lab, sizeof lab);
        double end = s->x0 + (double)lastbig * bw + n * CHAR_EM * TICK_FONT + 1;
        if (end > s->width) s->width = ceil(end);
    }
    s->height = h;
    outbuf_t *o = &s->esc; /* free until the first row */
    o->len = 0;
    outbuf_puts(o, " width=\"");
    put_num(o, bw, 6);
    outbuf_puts(o, "\" height=\"");
    put_num(o, bh, 6);
    outbuf_puts(o, "\"");
    size_t n = o->len < sizeof s->wh ? o->len : 0;
    memcpy(s->wh, o->buf, n);
    s->wh[n] = 0;
}

/* The document head: size, and the geometry as data attributes for parsers. */
static void put_head(svg_t *s)
{
    outbuf_t *o = &s->o;
    outbuf_puts(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    outbuf_puts(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"");
    put_num(o, s->width, 3);
    outbuf_puts(o, "\" height=\"");
    put_num(o, s->height, 3);
    outbuf_puts(o, "\" viewBox=\"0 0 ");
    put_num(o, s->width, 3);
    outbuf_putc(o, ' ');
    put_num(o, s->height, 3);
    outbuf_puts(o, "\" font-family=\"monospace\" data-x0=\"");
    put_num(o, s->x0, 3);
    outbuf_puts(o, "\" data-bw=\"");
    put_num(o, s->opt.bucket_width, 6);
    outbuf_puts(o, "\" data-bh=\"");
    put_num(o, s->opt.bucket_height, 6);
    outbuf_puts(o, "\" data-buckets=\"");
    outbuf_u64(o, s->r->buckets);
    outbuf_puts(o, "\" data-bucket-ns=\"");
    outbuf_u64(o, s->r->bucket_ns);
    outbuf_puts(o, "\">\n");
}

/* The timeline: a baseline over buckets [0, N), a tick every tick_every buckets, a longer one
 * with a time label every 5 ticks (labels that would overlap the previous one are left out). */
static void put_timeline(svg_t *s)
{
    outbuf_t *o = &s->o;
    uint32_t n = s->r->buckets, k = s->opt.tick_every;
    double bw = s->opt.bucket_width;
    outbuf_puts(o, "<g class=\"timeline\" fill=\"none\" stroke=\"#000\" stroke-width=\"0.5\">"
                   "<path d=\"M");
    put_num(o, s->x0, 3);
    outbuf_puts(o, ",12.5H");
    put_num(o, s->x0 + (double)n * bw, 3);
    for (uint64_t b = 0; b < n; b += k) {
        outbuf_puts(o, " M");
        put_num(o, s->x0 + (double)b * bw, 3);
        outbuf_puts(o, (b / k) % 5 == 0 ? ",12.5v4" : ",12.5v3");
        drain(s, false);
    }
    outbuf_puts(o, "\"/></g>\n<g class=\"ticks\" font-size=\"8\">");
    double free_x = -1e300;
    for (uint64_t b = 0; b < n; b += (uint64_t)k * 5) {
        double x = s->x0 + (double)b * bw;
        if (x < free_x) continue;
        char lab[64];
        int len = tick_label(s, b, lab, sizeof lab);
        outbuf_puts(o, "<text x=\"");
        put_num(o, x, 3);
        outbuf_puts(o, "\" y=\"9\">");
        outbuf_put(o, lab, (size_t)len);
        outbuf_puts(o, "</text>");
        free_x = x + len * CHAR_EM * TICK_FONT + 2;
        drain(s, false);
    }
    outbuf_puts(o, "</g>\n");
}

/* Appends a human reading of a duration in ns: 830 ns, 12.3 us, 4.5 ms, 1.234 s. */
static void put_duration(outbuf_t *o, double ns)
{
    if (ns < 1e3) {
        put_num(o, ns, 0);
        outbuf_puts(o, " ns");
    } else if (ns < 1e6) {
        put_num(o, ns / 1e3, 1);
        outbuf_puts(o, " us");
    } else if (ns < 1e9) {
        put_num(o, ns / 1e6, 1);
        outbuf_puts(o, " ms");
    } else {
        put_num(o, ns / 1e9, 3);
        outbuf_puts(o, " s");
    }
}

/* Opening of one cell: `<rect class="C" data-b="B" x="X" width=.. height=..`. */
static void put_cell_start(svg_t *s, const char *cls, int64_t b)
{
    outbuf_t *o = &s->o;
    outbuf_puts(o, "<rect class=\"");
    outbuf_puts(o, cls);
    outbuf_puts(o, "\" data-b=\"");
    outbuf_i64(o, b);
    outbuf_puts(o, "\" x=\"");
    put_num(o, s->x0 + (double)b * s->opt.bucket_width, 3);
    outbuf_puts(o, "\"");
    outbuf_puts(o, s->wh);
}

/* One labelled row: background, header text, lifetime cells, value cells. */
static void put_row(svg_t *s, const report_row_t *row, size_t index, double y, bool ghost)
{
    outbuf_t *o = &s->o;
    double bh = s->opt.bucket_height;
    escape_title(s, row->title);
    outbuf_puts(o, "<g class=\"row\" data-row=\"");
    outbuf_u64(o, index);
    outbuf_puts(o, "\" transform=\"translate(0,");
    put_num(o, y, 3);
    outbuf_puts(o, ")\"><rect class=\"rb\" width=\"");
    put_num(o, s->width, 3);
    outbuf_puts(o, "\" height=\"");
    put_num(o, bh, 3);
    outbuf_puts(o, ghost ? "\" fill=\"rgb(248,248,255)\" stroke=\"none\"/>"
                         : "\" fill=\"rgb(255,255,255)\" stroke=\"none\"/>");
    outbuf_puts(o, "<text x=\"4\" y=\"");
    put_num(o, 0.5 * bh + 0.35 * s->fs, 3);
    outbuf_puts(o, "\" font-size=\"");
    put_num(o, s->fs, 3);
    outbuf_puts(o, "\" stroke=\"none\">");
    outbuf_put(o, s->esc.buf, s->esc.len);
    outbuf_puts(o, "<title>");
    outbuf_put(o, s->esc.buf, s->esc.len);
    outbuf_puts(o, ": total ");
    outbuf_u64(o, row->total);
    outbuf_puts(o, " ns</title></text>");
    if (row->has_bg) {
        for (int64_t b = row->bg_from < 0 ? 0 : row->bg_from; b <= row->bg_to; b++) {
            put_cell_start(s, "bg", b);
            outbuf_puts(o, " fill=\"rgb(0,0,0)\" fill-opacity=\"0.1\"/>");
            drain(s, false);
        }
    }
    char fill[40];
    snprintf(fill, sizeof fill, " fill=\"rgb(%u,%u,%u)\" fill-opacity=\"", (row->rgb >> 16) & 255,
             (row->rgb >> 8) & 255, row->rgb & 255);
    for (uint32_t i = 0; i < row->bn; i++) {
        int64_t b = row->blo + (int64_t)i;
        if (!row->set || !row->set[i] || b < 0) continue;
        double q = row->val ? row->val[i] : 0;
        put_cell_start(s, "v", b);
        if (q == 0) {
            /* the old tool's colour at opacity 0 is Data.Colour's transparent, i.e. black */
            outbuf_puts(o, " fill=\"rgb(0,0,0)\" fill-opacity=\"0");
        } else {
            outbuf_puts(o, fill);
            put_num(o, 0.3 + q * 0.7, 9);
        }
        outbuf_puts(o, "\"><title>");
        outbuf_put(o, s->esc.buf, s->esc.len);
        outbuf_puts(o, " bucket ");
        outbuf_i64(o, b);
        outbuf_puts(o, ": ");
        put_num(o, q, 4);
        outbuf_puts(o, " (");
        put_duration(o, q * (double)s->r->bucket_ns);
        outbuf_puts(o, ")</title></rect>");
        drain(s, false);
    }
    outbuf_puts(o, "</g>\n");
}

/* A section title row, twice as tall as a labelled row. */
static void put_section(svg_t *s, const report_row_t *row, double y)
{
    outbuf_t *o = &s->o;
    double bh = s->opt.bucket_height;
    escape_title(s, row->title);
    outbuf_puts(o, "<g class=\"section\" transform=\"translate(0,");
    put_num(o, y, 3);
    outbuf_puts(o, ")\"><text x=\"4\" y=\"");
    put_num(o, bh + 0.35 * bh, 3);
    outbuf_puts(o, "\" font-size=\"");
    put_num(o, bh, 3);
    outbuf_puts(o, "\" font-weight=\"bold\" stroke=\"none\">");
    outbuf_put(o, s->esc.buf, s->esc.len);
    outbuf_puts(o, "</text></g>\n");
}

int report_write_svg(const report_t *r, const report_svg_opts_t *o, FILE *f)
{
    if (!r || !f || (r->nrows && !r->rows)) return LP_EARG;
    svg_t s = {.f = f, .r = r, .opt = o ? *o : report_svg_opts_default()};
    if (!(s.opt.bucket_width > 0 && s.opt.bucket_width < 1e6 && s.opt.bucket_height > 0 &&
          s.opt.bucket_height < 1e6 && s.opt.border_width >= 0 && s.opt.border_width < 1e6))
        return LP_EARG;
    if (s.opt.tick_every == 0) s.opt.tick_every = 1;
    if (outbuf_init(&s.o, -1, DRAIN_AT + 4096) != 0) return LP_ENOMEM;
    if (outbuf_init(&s.esc, -1, 256) != 0) {
        outbuf_dispose(&s.o);
        return LP_ENOMEM;
    }
    layout(&s);
    put_head(&s);
    put_timeline(&s);
    if (s.opt.border_width > 0) {
        outbuf_puts(&s.o, "<g stroke=\"#000\" stroke-width=\"");
        put_num(&s.o, s.opt.border_width, 6);
        outbuf_puts(&s.o, "\">\n");
    } else {
        outbuf_puts(&s.o, "<g stroke=\"none\">\n");
    }
    double y = TIMELINE_H;
    size_t labelled = 0;
    for (size_t i = 0; i < r->nrows; i++) {
        const report_row_t *row = &r->rows[i];
        /* the timeline is fragment 0 (white); fragment i + 1 is ghostwhite when odd */
        if (row->kind == REPORT_SECTION) {
            put_section(&s, row, y);
            y += 2 * s.opt.bucket_height;
        } else {
            put_row(&s, row, labelled++, y, (i + 1) % 2 == 1);
            y += s.opt.bucket_height;
        }
        drain(&s, false);
    }
    outbuf_puts(&s.o, "</g>\n</svg>\n");
    drain(&s, true);
    int err = s.o.err ? s.o.err : s.esc.err ? s.esc.err : s.err;
    outbuf_dispose(&s.o);
    outbuf_dispose(&s.esc);
    if (!err && fflush(f) != 0) err = LP_EIO;
    return err;
}
