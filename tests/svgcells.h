/* Test helpers for the timed SVG: read back the cells that report_write_svg drew, read a
 * reference cells.tsv (../shared/data/README.md), and compare the two the way the spec asks. */
#ifndef LP_SVGCELLS_H
#define LP_SVGCELLS_H

#include <stddef.h>
#include <stdint.h>

/* Cell kinds, in the order cells.tsv sorts them ("bg" before "value"). */
typedef enum svgcell_kind { SVGCELL_BG = 0, SVGCELL_VALUE = 1 } svgcell_kind_t;

/* One drawn cell. */
typedef struct svgcell {
    long row;            /* 0-based labelled row (timeline and sections not counted) */
    char *label;         /* the row header, XML-unescaped (owned) */
    int64_t bucket;      /* bucket index (may be N or more) */
    svgcell_kind_t kind; /* value cell or thread-lifetime background */
    char rgb[32];        /* fill as written, e.g. "rgb(255,0,0)" */
    double opacity;      /* fill-opacity */
} svgcell_t;

/* A list of cells plus the labelled rows seen (also those without cells). */
typedef struct svgcells {
    svgcell_t *cells;
    size_t n, cap;
    char **labels; /* labels[i] = header of labelled row i, unescaped (owned) */
    size_t nrows;
    size_t zero; /* value cells left out as the reference extraction does: q == 0, black */
} svgcells_t;

/* Parses an SVG written by report_write_svg (NUL-terminated, borrowed) into `out` (zeroed by the
 * call): every <g class="row"> with its <text> label and its <rect class="v|bg"> cells. Value
 * cells filled black at opacity 0 (how the old tool writes q == 0) are counted in out->zero and
 * left out, as ../shared/data/ref/tools/svgcells.py leaves them out of cells.tsv. It also
 * checks the structure: rows numbered 0, 1, 2... in document order, each cell's x at bucket b
 * (data-x0 + b * data-bw of the root), the attributes a cell needs. Returns 0, or -1 with a
 * reason in err (cap bytes). `out` must be freed with svgcells_free either way. */
int svgcells_parse(const char *svg, svgcells_t *out, char *err, size_t cap);

/* Parses a cells.tsv text (header line, then row, label, bucket, kind, rgb, opacity separated by
 * tabs; labels XML-unescaped here) into `out`. Returns 0 or -1 with a reason in err. */
int svgcells_parse_tsv(const char *tsv, svgcells_t *out, char *err, size_t cap);

/* Sorts the cells by (row, kind, bucket), as cells.tsv is. */
void svgcells_sort(svgcells_t *c);

/* Frees everything `c` holds and zeroes it. */
void svgcells_free(svgcells_t *c);

/* Compares `got` (sorted by the call) with the expected cells.tsv text `tsv`: same (row, kind,
 * bucket) set, and per cell the same rgb, the same label and opacity within 1e-6. Returns the
 * number of differences (0 = equal; a tsv that does not parse counts as one) and describes the
 * first few in msg (cap bytes). */
size_t svgcells_compare_tsv(svgcells_t *got, const char *tsv, char *msg, size_t cap);

/* Returns text[0..len) (borrowed) with XML entities (&amp; &lt; &gt; &quot; &apos; &#N; &#xH;)
 * replaced, as a malloc'd NUL-terminated string the caller frees, or NULL when out of memory. */
char *svgcells_unescape(const char *text, size_t len);

#endif
