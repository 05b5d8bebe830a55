/* SVG diagrams drawn from aggregate queries: a shared frame (document head, time axis, "now"
 * marker, value axis, legend) and one drawing per kind. Every drawn bin is one element whose id
 * names its series, row and absolute bin, so a client can patch single elements later. */
#include "aggr_svg.h"

#include "err.h"
#include "svgtext.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOP 30.0      /* height of the time axis band */
#define LABEL_W 220.0 /* grid: row header column */
#define AXIS_W 84.0   /* charts: value axis column */
#define ROW_H 14.0
#define CHART_H 200.0
#define LANE_H 24.0

/* The user-row colours of the old tool (its 13-colour cycle), reused for chart bands. */
static const char *const palette[13] = {
    "rgb(138,43,226)", "rgb(165,42,42)",  "rgb(95,158,160)", "rgb(255,127,80)", "rgb(100,149,237)",
    "rgb(220,20,60)",  "rgb(0,255,255)",  "rgb(0,139,139)",  "rgb(184,134,11)", "rgb(0,100,0)",
    "rgb(255,140,0)",  "rgb(218,165,32)", "rgb(0,128,0)"};

typedef struct cv {
    FILE *f;
    double w, h, x0, pw;
    uint64_t t0, t1, now, prov;
} cv_t;

/* ---- frame -------------------------------------------------------------------------------- */

static double xt(const cv_t *c, uint64_t t)
{
    if (t < c->t0) t = c->t0;
    if (t > c->t1) t = c->t1;
    return c->x0 + (double)(t - c->t0) / (double)(c->t1 - c->t0) * c->pw;
}

static void head(cv_t *c, const char *kind, const aggr_result_t *r)
{
    FILE *f = c->f;
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
            "id=\"root\" version=\"1.1\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
            "font-family=\"monospace\" font-size=\"10\" data-kind=\"%s\" data-from-ns=\"%llu\" "
            "data-to-ns=\"%llu\" data-bin-ns=\"%llu\" data-now-ns=\"%llu\" "
            "data-provisional-from-ns=\"%llu\" data-plot-x=\"%.0f\" data-plot-w=\"%.0f\">\n",
            c->w, c->h, c->w, c->h, kind, (unsigned long long)c->t0, (unsigned long long)c->t1,
            (unsigned long long)r->bin_ns, (unsigned long long)c->now, (unsigned long long)c->prov,
            c->x0, c->pw);
    fprintf(f, "<title id=\"title\">%s, ", kind);
    svgtext_time(f, c->t0);
    fputs(" to ", f);
    svgtext_time(f, c->t1);
    fputs(" after RTS start</title>\n<rect id=\"bg\" width=\"100%\" height=\"100%\" "
          "fill=\"white\"/>\n",
          f);
}

/* The time axis along the top, ticks about every 100 px at round times since RTS start. */
static void time_axis(const cv_t *c)
{
    FILE *f = c->f;
    double span = (double)(c->t1 - c->t0);
    double step = svgtext_nice(span * 100 / (c->pw > 1 ? c->pw : 1));
    if (step < 1) step = 1;
    fprintf(f,
            "<g id=\"time-axis\" stroke=\"#000\" stroke-width=\"0.5\"><path d=\"M%.2f,22H%.2f\"/>",
            c->x0, c->x0 + c->pw);
    double first = ceil((double)c->t0 / step) * step;
    for (double t = first; t <= (double)c->t1 && step > 0; t += step) {
        double x = xt(c, (uint64_t)t);
        fprintf(f,
                "<path d=\"M%.2f,22v5\"/><text x=\"%.2f\" y=\"16\" stroke=\"none\" "
                "text-anchor=\"middle\">",
                x, x);
        svgtext_time(f, (uint64_t)t);
        fputs("</text>", f);
    }
    fputs("</g>\n", f);
}

/* The provisional region (bins from the one holding provisional_from_ns on, whose open
 * intervals are counted up to now and still change) over [y0, y1]: one white veil,
 * <rect id="provisional" class="p">, so that only its x and width change as data comes. */
static void provisional(const cv_t *c, uint64_t bin_ns, double y0, double y1)
{
    if (!bin_ns || c->prov >= c->t1 || c->prov >= c->now) return;
    double x0 = xt(c, c->prov / bin_ns * bin_ns), x1 = xt(c, c->now / bin_ns * bin_ns + bin_ns);
    fputs("<rect id=\"provisional\" class=\"p\" x=\"", c->f);
    svgtext_px(c->f, x0);
    fputs("\" y=\"", c->f);
    svgtext_px(c->f, y0);
    fputs("\" width=\"", c->f);
    svgtext_px(c->f, x1 - x0);
    fputs("\" height=\"", c->f);
    svgtext_px(c->f, y1 - y0);
    fputs("\" fill=\"white\" fill-opacity=\"0.25\" pointer-events=\"none\"/>\n", c->f);
}

/* A dashed line at "now" when it falls inside the drawn range (the time is the root's
 * data-now-ns: as "now" moves, the line's d alone changes). */
static void now_line(const cv_t *c, double y0, double y1)
{
    if (c->now < c->t0 || c->now >= c->t1) return;
    double x = xt(c, c->now);
    fprintf(c->f,
            "<path id=\"now\" d=\"M%.2f,%.2fV%.2f\" stroke=\"rgb(255,0,0)\" "
            "stroke-width=\"0.8\" stroke-dasharray=\"3,2\"/>\n",
            x, y0, y1);
}

enum { Y_FRACTION, Y_BYTES, Y_COUNT };

/* Writes a value of the given axis type. */
static void put_value(FILE *f, double v, int type)
{
    if (type == Y_FRACTION)
        fprintf(f, "%.4g%%", v * 100);
    else if (type == Y_BYTES)
        svgtext_bytes(f, v);
    else
        fprintf(f, "%.0f", v);
}

/* A value axis of [0, max] over the chart band [y0, y0 + h] with four steps of a round size
 * (fractions: 25%; counts: whole numbers, at least 1; bytes: round in the binary unit the labels
 * use, at least 1 B), so no two labels read the same; returns the axis maximum. */
static double value_axis(const cv_t *c, double y0, double h, double max, int type)
{
    double step = 0.25;
    if (type == Y_BYTES) {
        double u = 1;
        while (max / u >= 1024)
            u *= 1024;
        step = max > 0 ? svgtext_nice(max / 4 / u) * u : 1;
        if (u == 1 && step < 1) step = 1;
    } else if (type == Y_COUNT || max > 1) {
        step = max > 0 ? svgtext_nice(max / 4) : 1;
        if (type == Y_COUNT && step < 1) step = 1;
    }
    double top = 4 * step;
    fprintf(c->f,
            "<g id=\"value-axis\" stroke=\"#000\" stroke-width=\"0.5\"><path d=\"M%.2f,%.2fV%.2f"
            "\"/>",
            c->x0, y0, y0 + h);
    for (int i = 0; i <= 4; i++) {
        double y = y0 + h - h * i / 4;
        fprintf(c->f,
                "<path d=\"M%.2f,%.2fh-4\"/><path d=\"M%.2f,%.2fH%.2f\" stroke=\"#ddd\"/>"
                "<text x=\"%.2f\" y=\"%.2f\" stroke=\"none\" text-anchor=\"end\">",
                c->x0, y, c->x0, y, c->x0 + c->pw, c->x0 - 6, y + 3);
        put_value(c->f, step * i, type);
        fputs("</text>", c->f);
    }
    fputs("</g>\n", c->f);
    return top;
}

/* The note drawn instead of a value axis when a chart has nothing to show in its range. */
static void empty_note(const cv_t *c, double y0, double h, const char *what)
{
    fprintf(c->f,
            "<text id=\"empty\" x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" "
            "fill=\"rgb(128,128,128)\" font-size=\"12\">no %s in this range</text>\n",
            c->x0 + c->pw / 2, y0 + h / 2, what);
}

/* Legend entry i (four per line, each 180 wide, the name cut to what `span` of them hold: 26
 * code points in one, 28 more in each further one; the whole name in the tooltip). */
static void legend(const cv_t *c, double y, const char *name, const char *colour, int i, int span)
{
    double x = c->x0 + (i % 4) * 180, yy = y + (i / 4) * 14;
    fprintf(c->f, "<g id=\"legend-%d\" class=\"legend\"><title>", i);
    svgtext_esc(c->f, name);
    fprintf(c->f,
            "</title><rect x=\"%.2f\" y=\"%.2f\" width=\"10\" height=\"10\" fill=\"%s\"/>"
            "<text x=\"%.2f\" y=\"%.2f\">",
            x, yy, colour, x + 14, yy + 9);
    char cut[4 * (26 + 28 * 3) + 4];
    size_t n = strlen(name), k = 0, most = 26 + 28 * (size_t)(span - 1);
    for (size_t chars = 0; k < n && k < sizeof cut - 4; k++) {
        if (((unsigned char)name[k] & 0xC0) != 0x80 && ++chars > most) break;
        cut[k] = name[k];
    }
    while (k < n && k > 0 && ((unsigned char)name[k] & 0xC0) == 0x80) /* a whole code point */
        k--;
    if (k < n) {
        memcpy(cut + k, "\xe2\x80\xa6", 3); /* an ellipsis */
        k += 3;
    }
    cut[k] = 0;
    svgtext_esc(c->f, cut);
    fputs("</text></g>\n", c->f);
}

/* Opening of a bin element: `<rect id="<row id>-b<n>"` with class p when provisional. */
static void bin_open(const cv_t *c, const aggr_result_t *r, const char *id, uint32_t i)
{
    uint64_t b0 = r->from_ns + (uint64_t)i * r->bin_ns;
    fprintf(c->f, "<rect id=\"%s-b%llu\"%s", id, (unsigned long long)(b0 / r->bin_ns),
            b0 + r->bin_ns > r->provisional_from_ns ? " class=\"p\"" : "");
}

/* ---- grid --------------------------------------------------------------------------------- */

/* Opacity levels of grid cells: q (a bin's share of time) is drawn at 0.3 + 0.7 * L / LEVELS
 * with L = round(q * LEVELS), the old tool's rule quantized to steps too small to see. */
#define LEVELS 20
#define GRID_CHUNK 16 /* cells per path of one row and level */

static int level_of(double q)
{
    double l = q * LEVELS + 0.5;
    return l >= LEVELS ? LEVELS : (int)l;
}

/* Writes the path of the cells of `row` at level `lv` in bins[a, b) (there are some). */
static void grid_path(const cv_t *c, const aggr_result_t *r, const aggr_row_t *row,
                      const char *colour, int lv, uint32_t chunk, uint32_t a, uint32_t b)
{
    FILE *f = c->f;
    fprintf(f, "<path id=\"%s-o%02d-c%u\" d=\"", row->id, lv, chunk);
    for (uint32_t i = a; i < b; i++) {
        uint64_t b0 = r->from_ns + (uint64_t)i * r->bin_ns;
        if (row->values[i] == 0 || level_of(row->values[i]) != lv) continue;
        double x0 = xt(c, b0), x1 = xt(c, b0 + r->bin_ns);
        fputc('M', f);
        svgtext_px(f, x0);
        fputs(",0h", f);
        svgtext_px(f, x1 - x0);
        fputc('v', f);
        svgtext_px(f, ROW_H);
        fputs("h-", f);
        svgtext_px(f, x1 - x0);
        fputc('z', f);
    }
    fprintf(f,
            "\" fill=\"%s\" fill-opacity=\"%.3f\" stroke=\"#000\" stroke-width=\"0.1\" "
            "data-q=\"",
            colour, 0.3 + 0.7 * lv / LEVELS);
    const char *sep = "";
    for (uint32_t i = a; i < b; i++) {
        uint64_t b0 = r->from_ns + (uint64_t)i * r->bin_ns;
        if (row->values[i] == 0 || level_of(row->values[i]) != lv) continue;
        svgtext_q(f, sep, b0 / r->bin_ns, row->values[i]);
        sep = " ";
    }
    fputs("\"/>", f);
}

/* The cells of one row at opacity level `lv`, in bin order, GRID_CHUNK to a <path
 * id="ROW-oLL-cJ"> (chunk J): a subpath per cell and the exact values in data-q ("bin:q" pairs,
 * bin numbered from 0 at time 0 in bins of data-bin-ns). New cells come at the end of a row,
 * so they change only its last chunk of a level, never more than GRID_CHUNK cells. */
static void grid_level(const cv_t *c, const aggr_result_t *r, const aggr_row_t *row,
                       const char *colour, int lv)
{
    uint32_t n = 0, a = 0;
    for (uint32_t i = 0; i < r->bins; i++) {
        if (row->values[i] == 0 || level_of(row->values[i]) != lv) continue;
        if (n % GRID_CHUNK == 0) a = i;
        if (++n % GRID_CHUNK == 0) grid_path(c, r, row, colour, lv, n / GRID_CHUNK - 1, a, i + 1);
    }
    if (n % GRID_CHUNK) grid_path(c, r, row, colour, lv, n / GRID_CHUNK, a, r->bins);
}

/* One grid row: a group holding its shade, its name, its lifetime and its cells, one <path> per
 * opacity level: few elements per row and, as live data changes a bin, attribute updates of one
 * or two of them. The row's total is the sum of its cells (the page adds them up on hover), so
 * a change of the newest bin changes nothing else in the row. */
static void grid_row(const cv_t *c, const aggr_result_t *r, const aggr_row_t *row, double y,
                     const char *colour, bool ghost)
{
    FILE *f = c->f;
    fprintf(f,
            "<g id=\"%s\" class=\"row\" transform=\"translate(0,%.2f)\"><rect id=\"%s-shade\" "
            "width=\"%.0f\" height=\"%.0f\" fill=\"%s\"/><text id=\"%s-name\" x=\"4\" "
            "y=\"10.5\">",
            row->id, y, row->id, c->w, ROW_H, ghost ? "rgb(248,248,255)" : "rgb(255,255,255)",
            row->id);
    svgtext_esc(f, row->name);
    fputs("</text>", f);
    if (row->life_to > row->life_from && row->life_to > c->t0 && row->life_from < c->t1) {
        double x0 = xt(c, row->life_from), x1 = xt(c, row->life_to);
        fprintf(f,
                "<rect id=\"%s-life\" class=\"life\" x=\"%.2f\" width=\"%.2f\" "
                "height=\"%.0f\" fill=\"rgb(0,0,0)\" fill-opacity=\"0.1\"/>",
                row->id, x0, x1 - x0, ROW_H);
    }
    for (int lv = 0; lv <= LEVELS; lv++)
        grid_level(c, r, row, colour, lv);
    fputs("</g>\n", f);
}

static void section(const cv_t *c, const char *id, const char *title, double y)
{
    fprintf(c->f,
            "<text id=\"%s\" class=\"section\" x=\"4\" y=\"%.2f\" font-size=\"14\" "
            "font-weight=\"bold\">%s</text>\n",
            id, y + 19, title);
}

static int draw_grid(cv_t *c, const aggr_result_t *res)
{
    const aggr_result_t *gc = &res[0], *lab = &res[1], *thr = &res[2];
    c->h = TOP + ROW_H * (double)(1 + lab->nrows + thr->nrows) + 4 * ROW_H + 4;
    head(c, "grid", gc->bins ? gc : lab->bins ? lab : thr); /* the bin width of the cells */
    time_axis(c);
    double y = TOP;
    size_t fragment = 0;
    if (gc->nrows) grid_row(c, gc, &gc->rows[0], y, "rgb(255,0,0)", false);
    y += ROW_H;
    fragment++;
    section(c, "section-user", "USER EVENTS", y);
    y += 2 * ROW_H;
    fragment++;
    for (size_t i = 0; i < lab->nrows; i++, fragment++, y += ROW_H)
        grid_row(c, lab, &lab->rows[i], y, palette[fragment % 13], (fragment + 1) % 2);
    section(c, "section-threads", "THREAD EVENTS", y);
    y += 2 * ROW_H;
    fragment++;
    for (size_t i = 0; i < thr->nrows; i++, fragment++, y += ROW_H)
        grid_row(c, thr, &thr->rows[i], y, "rgb(0,0,255)", (fragment + 1) % 2);
    const aggr_result_t *any = gc->bins ? gc : lab->bins ? lab : thr;
    provisional(c, any->bin_ns, TOP, y);
    now_line(c, TOP - 8, y);
    return 0;
}

/* ---- capabilities ------------------------------------------------------------------------- */

#define CAPS_PIECE 4 /* bins per bar path of a capability state */

/* The bars of state st of a lane in its bins [k * CAPS_PIECE, (k + 1) * CAPS_PIECE): one
 * <path id="caps-N-STATE-sK"> with a subpath per bar (stacked: running, gc, idle from the
 * bottom) and the exact "bin:q" shares in data-q, or nothing when there is no bar. */
static void caps_piece(const cv_t *c, const aggr_result_t *r, const aggr_row_t *rows, int st,
                       uint32_t k, const char *colour)
{
    FILE *f = c->f;
    uint32_t end = (k + 1) * CAPS_PIECE < r->bins ? (k + 1) * CAPS_PIECE : r->bins;
    bool open = false;
    for (int pass = 0; pass < 2; pass++) {
        const char *sep = "";
        for (uint32_t i = k * CAPS_PIECE; i < end; i++) {
            uint64_t b0 = r->from_ns + (uint64_t)i * r->bin_ns;
            double q = rows[st].values[i];
            if (q <= 0) continue;
            if (pass) {
                svgtext_q(f, sep, b0 / r->bin_ns, q);
                sep = " ";
                continue;
            }
            double base = LANE_H, hgt = 0;
            for (int s = 0; s <= st; s++) {
                double v = rows[s].values[i];
                hgt = v <= 0 ? 0 : (v > 1 ? 1 : v) * LANE_H;
                base -= hgt;
            }
            double x0 = xt(c, b0), x1 = xt(c, b0 + r->bin_ns);
            if (!open) fprintf(f, "<path id=\"%s-s%u\" d=\"", rows[st].id, k);
            open = true;
            fputc('M', f);
            svgtext_px(f, x0);
            fputc(',', f);
            svgtext_px(f, base);
            fputc('h', f);
            svgtext_px(f, x1 - x0);
            fputc('v', f);
            svgtext_px(f, hgt);
            fputs("h-", f);
            svgtext_px(f, x1 - x0);
            fputc('z', f);
        }
        if (!open) return;
        if (!pass) fprintf(f, "\" fill=\"%s\" data-q=\"", colour);
    }
    fputs("\"/>", f);
}

static int draw_caps(cv_t *c, const aggr_result_t *r)
{
    static const char *const colour[3] = {"rgb(0,160,0)", "rgb(255,140,0)", "rgb(215,215,215)"};
    size_t ncaps = r->nrows / 3;
    c->h = TOP + (double)ncaps * (LANE_H + 6) + 40;
    head(c, "caps", r);
    time_axis(c);
    if (!ncaps) empty_note(c, TOP, 40, "capability events");
    FILE *f = c->f;
    for (size_t k = 0; k < ncaps; k++) {
        const aggr_row_t *rows = &r->rows[3 * k];
        double y = TOP + (double)k * (LANE_H + 6);
        fprintf(f,
                "<g id=\"caps-%u\" class=\"lane\" transform=\"translate(0,%.2f)\"><text "
                "id=\"caps-%u-name\" x=\"4\" y=\"16\">",
                rows[0].key, y, rows[0].key);
        svgtext_esc(f, rows[0].name); /* utilisation: the page adds up the bars' shares */
        fputs("</text>", f);
        for (int st = 0; st < 3; st++)
            for (uint32_t pc = 0; pc * CAPS_PIECE < r->bins; pc++)
                caps_piece(c, r, rows, st, pc, colour[st]);
        fputs("</g>\n", f);
    }
    double ly = TOP + (double)ncaps * (LANE_H + 6) + 8;
    for (int s = 0; s < 3; s++)
        legend(c, ly, s == 0 ? "running" : s == 1 ? "gc" : "idle", colour[s], s, 1);
    provisional(c, r->bin_ns, TOP, ly - 8);
    now_line(c, TOP - 8, ly - 6);
    return 0;
}

/* ---- charts ------------------------------------------------------------------------------- */

/* Bins of r drawn by the charts: those that start at or before "now" (later ones have no data
 * yet, only the carried latest value, which would change with every new sample). */
static uint32_t upto_now(const cv_t *c, const aggr_result_t *r)
{
    if (!r->bin_ns || c->now < r->from_ns) return 0;
    uint64_t n = (c->now - r->from_ns) / r->bin_ns + 1;
    return n < r->bins ? (uint32_t)n : r->bins;
}

#define HOVER_PIECE 8 /* bins per hover element of a chart */

/* Transparent hover areas over the chart band, one per HOVER_PIECE bins up to "now"
 * (<rect id="SERIES-hK">), carrying the exact value of every row in each of those bins:
 * data-b the first bin's absolute number, data-v the bins' values separated by ",", each the
 * rows' values separated by " " in the order of the names in the "hover-rows" element written
 * first (which also says the unit). A new bin rewrites only the last area's data-v. */
static void hover(const cv_t *c, const aggr_result_t *r, const char *series, double y0, double h,
                  int type)
{
    FILE *f = c->f;
    fputs("<desc id=\"hover-rows\" data-names=\"", f);
    for (size_t k = 0; k < r->nrows; k++) {
        const aggr_row_t *row = &r->rows[k];
        if (k) fputs("&#10;", f);
        svgtext_esc(f, row->name);
        if (strcmp(row->kind, "last") && strcmp(row->kind, "counter") &&
            strcmp(row->kind, "residency"))
            fprintf(f, " (%s)", row->kind);
    }
    fprintf(f, "\" data-unit=\"%s\"/>\n", type == Y_BYTES ? "B" : "");
    uint32_t nb = upto_now(c, r);
    for (uint32_t p = 0; p * HOVER_PIECE < nb; p++) {
        uint32_t a = p * HOVER_PIECE, b = a + HOVER_PIECE < nb ? a + HOVER_PIECE : nb;
        uint64_t b0 = r->from_ns + (uint64_t)a * r->bin_ns;
        double x0 = xt(c, b0), x1 = xt(c, r->from_ns + (uint64_t)b * r->bin_ns);
        fprintf(f, "<rect id=\"%s-h%llu\" x=\"", series,
                (unsigned long long)(b0 / r->bin_ns / HOVER_PIECE));
        svgtext_px(f, x0);
        fprintf(f, "\" y=\"%.0f\" width=\"", y0);
        svgtext_px(f, x1 - x0);
        fprintf(f,
                "\" height=\"%.0f\" fill=\"none\" pointer-events=\"all\" data-b=\"%llu\" data-v=\"",
                h, (unsigned long long)(b0 / r->bin_ns));
        for (uint32_t i = a; i < b; i++)
            for (size_t k = 0; k < r->nrows; k++)
                svgtext_g(f, k ? " " : i > a ? "," : "", r->rows[k].values[i], 15);
        fputs("\"/>\n", f);
    }
}

#define PIECE 32 /* bins per path piece: a new bin at the end rewrites only the last piece */

static double yv(double v, double top, double y0, double h)
{
    v /= top;
    return y0 + h - (v > 1 ? 1 : v) * h;
}

/* A line through hi (lo NULL) or the area between lo and hi, x at each bin's end where its
 * latest value holds, up to the bin of "now", as <path id="ID-sK"> pieces of PIECE bins, each
 * joined to the previous piece's last point, inside the group the caller opened. */
static void pieces(const cv_t *c, const aggr_result_t *r, const char *id, const double *hi,
                   const double *lo, double y0, double h, double top)
{
    FILE *f = c->f;
    uint32_t nb = upto_now(c, r); /* later bins would only repeat the latest value */
    for (uint32_t k = 0; k * PIECE < nb; k++) {
        uint32_t a = k ? k * PIECE - 1 : 0, b = (k + 1) * PIECE < nb ? (k + 1) * PIECE : nb;
        fprintf(f, "<path id=\"%s-s%u\" d=\"", id, k);
        for (uint32_t i = a; i < b; i++) {
            fputc(i == a ? 'M' : 'L', f);
            svgtext_px(f, xt(c, r->from_ns + (i + 1) * r->bin_ns));
            fputc(',', f);
            svgtext_px(f, yv(hi[i], top, y0, h));
        }
        if (lo) {
            for (uint32_t i = b; i-- > a;) {
                fputc('L', f);
                svgtext_px(f, xt(c, r->from_ns + (i + 1) * r->bin_ns));
                fputc(',', f);
                svgtext_px(f, yv(lo[i], top, y0, h));
            }
            fputc('Z', f);
        }
        fputs("\"/>", f);
    }
}

/* A line of one row: a group of pieces. */
static void line(const cv_t *c, const aggr_result_t *r, const aggr_row_t *row, double y0, double h,
                 double top, const char *colour)
{
    fprintf(c->f, "<g id=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.2\">", row->id,
            colour);
    pieces(c, r, row->id, row->values, NULL, y0, h, top);
    fputs("</g>\n", c->f);
}

static int draw_gc(cv_t *c, const aggr_result_t *r)
{
    c->h = TOP + CHART_H + 40;
    head(c, "gc", r);
    time_axis(c);
    double y0 = TOP + 4, max = 0;
    const aggr_row_t *pause = &r->rows[0], *count = &r->rows[1]; /* aggr_query's order */
    bool any = false;
    for (uint32_t i = 0; r->nrows >= 2 && i < r->bins; i++) {
        if (pause->values[i] > max) max = pause->values[i];
        any |= pause->values[i] > 0 || count->values[i] > 0;
    }
    if (!any) {
        empty_note(c, y0, CHART_H, "garbage collections");
        return 0;
    }
    double top = value_axis(c, y0, CHART_H, max, Y_FRACTION);
    FILE *f = c->f;
    fputs("<g id=\"gc-pause\" fill=\"rgb(255,0,0)\">", f);
    for (uint32_t i = 0; i < r->bins; i++) {
        double q = pause->values[i];
        if (q <= 0 && count->values[i] <= 0) continue;
        uint64_t b0 = r->from_ns + (uint64_t)i * r->bin_ns;
        double x0 = xt(c, b0), x1 = xt(c, b0 + r->bin_ns), hgt = (q / top > 1 ? 1 : q / top);
        hgt *= CHART_H;
        bin_open(c, r, pause->id, i);
        fprintf(f,
                " x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" data-q=\"%.6g\" "
                "data-n=\"%.0f\"/>",
                x0, y0 + CHART_H - hgt, x1 - x0, hgt, q, count->values[i]);
    }
    fputs("</g>\n", f);
    legend(c, y0 + CHART_H + 12, "GC pause (fraction of each bin)", "rgb(255,0,0)", 0, 4);
    now_line(c, TOP - 8, y0 + CHART_H);
    return 0;
}

/* heap and sparks: a line per "last"/"counter" row, min..max bands for heap rows. */
static int draw_lines(cv_t *c, const aggr_result_t *r, const char *kind, int type)
{
    size_t nlines = 0;
    for (size_t k = 0; k < r->nrows; k++)
        nlines += strcmp(r->rows[k].kind, "min") && strcmp(r->rows[k].kind, "max");
    c->h = TOP + CHART_H + 24 + 14 * (double)((nlines + 3) / 4);
    head(c, kind, r);
    time_axis(c);
    double y0 = TOP + 4, max = 0;
    for (size_t k = 0; k < r->nrows; k++)
        for (uint32_t i = 0, nb = upto_now(c, r); i < nb; i++)
            if (r->rows[k].values[i] > max) max = r->rows[k].values[i];
    if (!nlines || !upto_now(c, r) || max <= 0) {
        empty_note(c, y0, CHART_H, type == Y_BYTES ? "heap samples" : "spark events");
        return 0;
    }
    double top = value_axis(c, y0, CHART_H, max, type);
    FILE *f = c->f;
    size_t li = 0;
    for (size_t k = 0; k < r->nrows; k++) {
        const aggr_row_t *row = &r->rows[k];
        if (!strcmp(row->kind, "min") || !strcmp(row->kind, "max")) continue;
        const char *colour = palette[(li * 4 + 2) % 13];
        if (k + 2 < r->nrows && !strcmp(r->rows[k + 1].kind, "min")) {
            const aggr_row_t *mn = &r->rows[k + 1], *mx = &r->rows[k + 2];
            fprintf(f, "<g id=\"%s-band\" fill=\"%s\" fill-opacity=\"0.15\" stroke=\"none\">",
                    row->id, colour);
            char band[300];
            snprintf(band, sizeof band, "%s-band", row->id);
            pieces(c, r, band, mx->values, mn->values, y0, CHART_H, top);
            fputs("</g>\n", f);
        }
        line(c, r, row, y0, CHART_H, top, colour);
        legend(c, y0 + CHART_H + 12, row->name, colour, (int)li++, 1);
    }
    hover(c, r, kind, y0, CHART_H, type);
    now_line(c, TOP - 8, y0 + CHART_H);
    return 0;
}

static int draw_heapprof(cv_t *c, const aggr_result_t *r)
{
    c->h = TOP + CHART_H + 24 + 14 * (double)((r->nrows + 3) / 4);
    head(c, "heapprof", r);
    time_axis(c);
    double y0 = TOP + 4, max = 0;
    for (uint32_t i = 0; i < r->bins; i++) {
        double s = 0;
        for (size_t k = 0; k < r->nrows; k++)
            s += r->rows[k].values[i];
        if (s > max) max = s;
    }
    if (!r->nrows || !upto_now(c, r) || max <= 0) {
        empty_note(c, y0, CHART_H, "heap-profile samples");
        return 0;
    }
    double top = value_axis(c, y0, CHART_H, max, Y_BYTES);
    FILE *f = c->f;
    double *below = calloc(r->bins + 1, sizeof *below);
    if (!below) return LP_ENOMEM;
    double *hi = calloc(r->bins + 1, sizeof *hi);
    if (!hi) {
        free(below);
        return LP_ENOMEM;
    }
    for (size_t k = 0; k < r->nrows; k++) {
        const aggr_row_t *row = &r->rows[k];
        const char *colour = !strcmp(row->kind, "other") ? "rgb(160,160,160)" : palette[k % 13];
        fprintf(f,
                "<g id=\"%s\" fill=\"%s\" fill-opacity=\"0.85\" stroke=\"none\"><title "
                "id=\"%s-title\">",
                row->id, colour, row->id);
        svgtext_esc(f, row->name);
        fputs("</title>", f);
        for (uint32_t i = 0; i < r->bins; i++)
            hi[i] = below[i] + row->values[i];
        pieces(c, r, row->id, hi, below, y0, CHART_H, top);
        memcpy(below, hi, r->bins * sizeof *hi);
        fputs("</g>\n", f);
        legend(c, y0 + CHART_H + 12, row->name, colour, (int)k, 1);
    }
    free(hi);
    free(below);
    hover(c, r, "heapprof", y0, CHART_H, Y_BYTES);
    now_line(c, TOP - 8, y0 + CHART_H);
    return 0;
}

/* ---- entry points ------------------------------------------------------------------------- */

static const char *const kinds[6] = {"grid", "caps", "gc", "heap", "heapprof", "sparks"};

static int kind_index(const char *kind)
{
    for (int i = 0; kind && i < 6; i++)
        if (!strcmp(kind, kinds[i])) return i;
    return -1;
}

/* Plot width and bins of kind k at `width` pixels. */
static uint32_t plot_bins(int k, uint32_t width, double *x0, double *pw)
{
    *x0 = k == 0 ? LABEL_W : AXIS_W;
    *pw = width - *x0 - 12;
    return (uint32_t)(*pw / (k == 0 ? 10 : 3));
}

int aggr_svg_query(const aggr_t *a, const char *kind, uint64_t from, uint64_t to, uint32_t width,
                   aggr_svg_data_t *d)
{
    memset(d, 0, sizeof *d);
    int k = kind_index(kind);
    if (!a || k < 0) return LP_EARG;
    if (!width) width = AGGR_SVG_DEFAULT_WIDTH;
    if (width < 200 || width > 100000) return LP_ERANGE;
    /* every kind of a session frames the same range: [from, to) as asked, 0s standing for the
     * data's first and latest event on the finest bins' edges */
    uint64_t first, last, fine = aggr_options(a)->fine_ns;
    if ((!from || !to) && aggr_range(a, &first, &last)) {
        if (!from) from = first / fine * fine;
        if (!to) to = (last / fine + 1) * fine;
        if (to <= from) to = from + fine;
    }
    d->kind = k;
    d->width = width;
    d->from = from;
    d->to = to;
    double x0, pw;
    uint32_t bins = plot_bins(k, width, &x0, &pw);
    static const char *const grid_series[3] = {"gc", "labels", "threads"};
    d->nq = k == 0 ? 3 : 1;
    int rc = 0;
    for (int i = 0; i < d->nq && !rc; i++) {
        aggr_query_t q = {.series = k == 0   ? grid_series[i]
                                    : k == 1 ? "caps"
                                             : kind,
                          .from = from,
                          .to = to,
                          .bins = bins,
                          .tier = -1,
                          .max_rows = k == 0 && i == 2 ? 256 : 0};
        rc = aggr_query_ex(a, &q, &d->res[i]);
    }
    if (rc) aggr_svg_data_dispose(d);
    return rc;
}

void aggr_svg_data_dispose(aggr_svg_data_t *d)
{
    for (int i = 0; i < 3; i++)
        aggr_result_dispose(&d->res[i]);
    d->nq = 0;
}

int aggr_svg_draw(const aggr_svg_data_t *d, FILE *f)
{
    if (!f || d->nq < 1) return LP_EARG;
    int k = d->kind, rc = 0;
    cv_t c = {.f = f, .w = d->width};
    plot_bins(k, d->width, &c.x0, &c.pw);
    const aggr_result_t *res = d->res;
    uint64_t t0 = UINT64_MAX, t1 = 0, prov = UINT64_MAX;
    for (int i = 0; i < d->nq; i++) {
        if (!res[i].bins) continue;
        if (res[i].from_ns < t0) t0 = res[i].from_ns;
        if (res[i].to_ns > t1) t1 = res[i].to_ns;
        if (res[i].provisional_from_ns < prov) prov = res[i].provisional_from_ns;
    }
    if (d->to > d->from) { /* the asked range, cutting the bins that stick out of it */
        t0 = d->from;
        t1 = d->to;
    } else if (t1 <= t0) { /* no data: an empty frame over [from, 1 ms on) */
        t0 = d->from;
        t1 = d->to > d->from ? d->to : d->from + 1000000;
    }
    c.t0 = t0;
    c.t1 = t1;
    c.now = res[0].now_ns;
    c.prov = prov == UINT64_MAX ? c.now : prov;
    switch (k) {
    case 0:
        rc = draw_grid(&c, res);
        break;
    case 1:
        rc = draw_caps(&c, &res[0]);
        break;
    case 2:
        rc = draw_gc(&c, &res[0]);
        break;
    case 3:
        rc = draw_lines(&c, &res[0], "heap", Y_BYTES);
        break;
    case 4:
        rc = draw_heapprof(&c, &res[0]);
        break;
    default:
        rc = draw_lines(&c, &res[0], "sparks", Y_COUNT);
        break;
    }
    if (!rc) fputs("</svg>\n", f);
    if (!rc && (ferror(f) || fflush(f) != 0)) rc = LP_EIO;
    return rc;
}

int aggr_svg(const aggr_t *a, const char *kind, uint64_t from, uint64_t to, uint32_t width, FILE *f)
{
    if (!a || !kind || !f) return LP_EARG;
    aggr_svg_data_t d;
    int rc = aggr_svg_query(a, kind, from, to, width, &d);
    if (rc) return rc;
    rc = aggr_svg_draw(&d, f);
    aggr_svg_data_dispose(&d);
    return rc;
}

int aggr_svg_follow(const aggr_t *a, const char *kind, uint32_t width, uint64_t *to)
{
    int k = kind_index(kind);
    *to = 0;
    if (!a || k < 0) return LP_EARG;
    if (!width) width = AGGR_SVG_DEFAULT_WIDTH;
    if (width < 200 || width > 100000) return LP_ERANGE;
    double x0, pw;
    uint64_t bins = plot_bins(1, width, &x0, &pw), first = 0, last = 0; /* the most bins */
    uint64_t bin = aggr_options(a)->fine_ns;
    aggr_range(a, &first, &last);
    for (;;) {
        uint64_t t = first / bin * bin + bins * bin;
        if (t > last || bin > UINT64_MAX / 4 / bins) {
            *to = t;
            return 0;
        }
        bin *= 2;
    }
}
