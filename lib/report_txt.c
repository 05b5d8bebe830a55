/* The timed report as text: one table of per-bucket values, laid out like the old tool's
 * timed.txt but without its transpose bug (each row keeps its own values). Numbers use Haskell's
 * "%0.2f" rounding (hsfmt), widths count characters as Haskell's length does. */
#include "report_out.h"

#include "err.h"
#include "hsfmt.h"
#include "hsshow.h"
#include "outbuf.h"

#include <string.h>

enum { DRAIN_AT = 1 << 16, NUM_CAP = 400 };

/* Characters in p[0..n) as Haskell counts them after UTF-8 decoding: one per valid sequence,
 * one per byte that does not start one (it decodes to U+FFFD). */
static size_t text_chars(const char *p, size_t n)
{
    const uint8_t *u = (const uint8_t *)p;
    size_t i = 0, c = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = u[i] < 0x80 ? 1 : hsshow_utf8_next(u + i, n - i, &cp);
        i += k ? k : 1;
        c++;
    }
    return c;
}

/* One past the row's last bucket with a value, counted from bucket 0 (0 = no values). */
static uint64_t row_cells(const report_row_t *row)
{
    if (!row->set) return 0;
    for (uint32_t i = row->bn; i > 0; i--) {
        int64_t b = row->blo + (int64_t)(i - 1);
        if (row->set[i - 1] && b >= 0) return (uint64_t)b + 1;
    }
    return 0;
}

/* The value of bucket b of the row as the old tool prints it ("0.00" when untouched). */
static int format_cell(const report_row_t *row, uint64_t b, char *buf)
{
    int64_t i = (int64_t)b - row->blo;
    if (i < 0 || i >= (int64_t)row->bn || !row->set[i] || !row->val) {
        memcpy(buf, "0.00", 5);
        return 4;
    }
    int k = hsfmt_fixed(buf, NUM_CAP, row->val[i], 2);
    return k < 0 ? 0 : k;
}

static void put_spaces(outbuf_t *o, size_t n)
{
    static const char sp[] = "                                ";
    while (n > 0) {
        size_t k = n < sizeof sp - 1 ? n : sizeof sp - 1;
        outbuf_put(o, sp, k);
        n -= k;
    }
}

static void drain(outbuf_t *o, FILE *f, int *err, bool all)
{
    if (o->len < DRAIN_AT && !(all && o->len)) return;
    if (!*err && fwrite(o->buf, 1, o->len, f) != o->len) *err = LP_EIO;
    o->len = 0;
}

int report_write_timed_txt(const report_t *r, FILE *f)
{
    if (!r || !f || (r->nrows && !r->rows)) return LP_EARG;
    /* pass 1: the header column's width and the widest number */
    size_t hw = 0, nw = 0;
    char num[NUM_CAP];
    for (size_t i = 0; i < r->nrows; i++) {
        const report_row_t *row = &r->rows[i];
        if (row->kind == REPORT_SECTION) continue;
        const char *t = row->title ? row->title : "";
        size_t w = text_chars(t, strlen(t));
        if (w > hw) hw = w;
        uint64_t n = row_cells(row);
        if (n > 0 && nw < 4) nw = 4; /* every number is at least "0.00" wide */
        if (!row->set) continue;
        for (uint32_t j = 0; j < row->bn; j++) {
            int64_t b = row->blo + (int64_t)j;
            if (!row->set[j] || b < 0) continue;
            size_t k = (size_t)format_cell(row, (uint64_t)b, num);
            if (k > nw) nw = k;
        }
    }
    /* pass 2: the rows */
    outbuf_t o;
    if (outbuf_init(&o, -1, DRAIN_AT + 4096) != 0) return LP_ENOMEM;
    int err = 0;
    for (size_t i = 0; i < r->nrows; i++) {
        const report_row_t *row = &r->rows[i];
        const char *t = row->title ? row->title : "";
        size_t tl = strlen(t);
        if (row->kind == REPORT_SECTION) {
            outbuf_putc(&o, '\n');
            outbuf_put(&o, t, tl);
            outbuf_putc(&o, '\n');
            continue;
        }
        outbuf_put(&o, t, tl);
        put_spaces(&o, hw - text_chars(t, tl));
        uint64_t n = row_cells(row);
        for (uint64_t b = 0; b < n; b++) {
            size_t k = (size_t)format_cell(row, b, num);
            outbuf_putc(&o, ' ');
            put_spaces(&o, nw - k);
            outbuf_put(&o, num, k);
            drain(&o, f, &err, false);
        }
        outbuf_putc(&o, '\n');
        drain(&o, f, &err, false);
    }
    drain(&o, f, &err, true);
    if (!err) err = o.err;
    outbuf_dispose(&o);
    if (!err && fflush(f) != 0) err = LP_EIO;
    return err;
}
