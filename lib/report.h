/* A report: a script evaluated against one analysed window, as the flat list of sections and
 * rows the old tool's totals and timed reports print (headers, totals, per-bucket values,
 * thread lifetimes, colours). The writers (totals text, timed text, SVG, JSON) only format it. */
#ifndef LP_REPORT_H
#define LP_REPORT_H

#include "gea.h"
#include "script.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum report_kind {
    REPORT_SECTION, /* a section title */
    REPORT_GC,      /* the GC id */
    REPORT_USER,    /* one user id */
    REPORT_THREAD,  /* one thread id */
    REPORT_SUM,     /* the sum of a filter's ids */
} report_kind_t;

typedef struct report_row {
    report_kind_t kind;
    char *title;    /* section title or row header (owned) */
    uint64_t total; /* ns (not for sections) */
    int64_t sub;    /* REPORT_USER subscript */
    uint32_t tid;   /* REPORT_THREAD */
    /* Per-bucket values for buckets [blo, blo + bn): val[i] sums the fractions, set[i] tells
     * whether any interval touched the bucket (the old tool draws such a cell even at 0). */
    int64_t blo;
    uint32_t bn;
    double *val;   /* owned, unless borrowed */
    uint8_t *set;  /* owned, unless borrowed */
    bool borrowed; /* val and set are the analysis' own (a row of one id): valid while it is */
    bool has_bg;   /* thread lifetime background from bucket bg_from to bg_to inclusive */
    int64_t bg_from, bg_to;
    uint32_t rgb; /* 0xRRGGBB: GC red, threads blue, user rows from the 13-colour cycle */
} report_row_t;

typedef struct report {
    report_row_t *rows;
    size_t nrows;
    uint64_t startup, end; /* the window's startup and end, ns since RTS start */
    uint64_t bucket_ns;    /* 0 when the report has no per-bucket values */
    uint32_t buckets;      /* N as given */
} report_t;

/* Evaluates script `s` against window `w` (both borrowed) into `r`. With `timed`, rows carry
 * per-bucket values and backgrounds (the window must have been analysed with bucketing) and
 * `buckets` is N; a row of one id borrows that id's values (report_row_t.borrowed), so the
 * analysis must outlive the report and not change meanwhile. Out of memory is fatal. Calling
 * thread only. */
void report_build(report_t *r, const gea_window_t *w, const script_t *s, bool timed,
                  uint32_t buckets);
/* Frees the rows. */
void report_dispose(report_t *r);
/* Writes the totals report exactly as the old tool does (spec §8) to `f`. Returns 0 or LP_EIO. */
int report_write_totals(const report_t *r, FILE *f);

#endif
