/* The timed report as JSON for `liveprof analyze --json` (the contract in ../shared/design.md):
 * the window's times, then its rows with totals and the non-zero bucket fractions. */
#include "report_out.h"

#include "err.h"
#include "evjson.h"
#include "outbuf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { DRAIN_AT = 1 << 16 };

static void drain(outbuf_t *o, FILE *f, int *err, bool all)
{
    if (o->len < DRAIN_AT && !(all && o->len)) return;
    if (!*err && fwrite(o->buf, 1, o->len, f) != o->len) *err = LP_EIO;
    o->len = 0;
}

/* Appends v in the shortest of %.15g, %.16g, %.17g that reads back as the same double (null for
 * a value JSON cannot hold). */
static void put_double(outbuf_t *o, double v)
{
    if (!isfinite(v)) {
        outbuf_puts(o, "null");
        return;
    }
    char *d = outbuf_reserve(o, 32);
    int k = 0;
    for (int prec = 15; prec <= 17; prec++) {
        k = snprintf(d, 32, "%.*g", prec, v);
        if (strtod(d, NULL) == v) break;
    }
    outbuf_commit(o, (size_t)k);
}

static const char *kind_name(report_kind_t k)
{
    switch (k) {
    case REPORT_SECTION:
        return "section";
    case REPORT_GC:
        return "gc";
    case REPORT_USER:
        return "user";
    case REPORT_THREAD:
        return "thread";
    case REPORT_SUM:
        return "sum";
    }
    return "unknown";
}

static void put_row(outbuf_t *o, const report_row_t *row, FILE *f, int *err)
{
    const char *t = row->title ? row->title : "";
    outbuf_puts(o, "{\"kind\":\"");
    outbuf_puts(o, kind_name(row->kind));
    outbuf_puts(o, "\",\"name\":");
    evjson_text(o, (const uint8_t *)t, strlen(t));
    if (row->kind == REPORT_SECTION) {
        outbuf_putc(o, '}');
        return;
    }
    if (row->kind == REPORT_USER) {
        outbuf_puts(o, ",\"subscript\":");
        outbuf_i64(o, row->sub);
    } else if (row->kind == REPORT_THREAD) {
        outbuf_puts(o, ",\"tid\":");
        outbuf_u64(o, row->tid);
    }
    outbuf_puts(o, ",\"total_ns\":");
    outbuf_u64(o, row->total);
    outbuf_puts(o, ",\"cells\":[");
    bool first = true;
    for (uint32_t i = 0; row->set && row->val && i < row->bn; i++) {
        double q = row->val[i];
        if (!row->set[i] || !(q > 0)) continue;
        outbuf_puts(o, first ? "[" : ",[");
        first = false;
        outbuf_i64(o, row->blo + (int64_t)i);
        outbuf_putc(o, ',');
        put_double(o, q);
        outbuf_putc(o, ']');
        drain(o, f, err, false);
    }
    outbuf_puts(o, "]}");
}

static void put_report(outbuf_t *o, const report_t *r, FILE *f, int *err)
{
    outbuf_puts(o, "{\"startup_ns\":");
    outbuf_u64(o, r->startup);
    outbuf_puts(o, ",\"end_ns\":");
    outbuf_u64(o, r->end);
    outbuf_puts(o, ",\"bucket_ns\":");
    outbuf_u64(o, r->bucket_ns);
    outbuf_puts(o, ",\"buckets\":");
    outbuf_u64(o, r->buckets);
    outbuf_puts(o, ",\"rows\":[");
    for (size_t i = 0; i < r->nrows; i++) {
        if (i) outbuf_putc(o, ',');
        put_row(o, &r->rows[i], f, err);
        drain(o, f, err, false);
    }
    outbuf_puts(o, "]}");
}

int report_write_json(const report_t *const *reports, size_t n, bool array, FILE *f)
{
    if (!f || (n && !reports) || (!array && n != 1)) return LP_EARG;
    for (size_t i = 0; i < n; i++)
        if (!reports[i] || (reports[i]->nrows && !reports[i]->rows)) return LP_EARG;
    outbuf_t o;
    if (outbuf_init(&o, -1, DRAIN_AT + 4096) != 0) return LP_ENOMEM;
    int err = 0;
    if (array) outbuf_putc(&o, '[');
    for (size_t i = 0; i < n; i++) {
        if (i) outbuf_putc(&o, ',');
        put_report(&o, reports[i], f, &err);
    }
    if (array) outbuf_putc(&o, ']');
    outbuf_putc(&o, '\n');
    drain(&o, f, &err, true);
    if (!err) err = o.err;
    outbuf_dispose(&o);
    if (!err && fflush(f) != 0) err = LP_EIO;
    return err;
}

int report_write_totals_json(const report_t *r, bool final, FILE *f)
{
    if (!f || !r || (r->nrows && !r->rows)) return LP_EARG;
    outbuf_t o;
    if (outbuf_init(&o, -1, DRAIN_AT + 4096) != 0) return LP_ENOMEM;
    int err = 0;
    outbuf_puts(&o, "{\"rows\":[");
    for (size_t i = 0; i < r->nrows; i++) {
        const report_row_t *row = &r->rows[i];
        const char *t = row->title ? row->title : "";
        outbuf_puts(&o, i ? ",{\"kind\":\"" : "{\"kind\":\"");
        outbuf_puts(&o, kind_name(row->kind));
        outbuf_puts(&o, "\",\"name\":");
        evjson_text(&o, (const uint8_t *)t, strlen(t));
        if (row->kind != REPORT_SECTION) {
            outbuf_puts(&o, ",\"total_ns\":");
            outbuf_u64(&o, row->total);
        }
        outbuf_putc(&o, '}');
        drain(&o, f, &err, false);
    }
    outbuf_puts(&o, final ? "],\"final\":true}\n" : "],\"final\":false}\n");
    drain(&o, f, &err, true);
    if (!err) err = o.err;
    outbuf_dispose(&o);
    if (!err && fflush(f) != 0) err = LP_EIO;
    return err;
}
