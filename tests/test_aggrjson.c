/* The /aggregates writer against the way it was written before (fprintf "%lld" and "%.12g",
 * jansson for the names): the same bytes for tricky names (quotes, backslashes, controls,
 * UTF-8, bad UTF-8, NULL) and values (whole numbers near the 9e15 edge, fractions, 12+ digit
 * values, negative and signed zero, NaN, infinities). */
#include "test.h"

#include "aggrjson.h"
#include "dumputil.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The reference: the writer as api_sessions.c had it, with printf and jansson. */
static char *reference(const char *series, const aggr_result_t *res, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    fprintf(f, "{\"series\":\"%s\",\"from_ns\":%llu,\"to_ns\":%llu,\"bin_ns\":%llu,\"rows\":[",
            series, (unsigned long long)res->from_ns, (unsigned long long)res->to_ns,
            (unsigned long long)res->bin_ns);
    for (size_t i = 0; i < res->nrows; i++) {
        json_t *name = json_string(res->rows[i].name), *kind = json_string(res->rows[i].kind);
        fprintf(f, "%s{\"name\":", i ? "," : "");
        json_dumpf(name ? name : json_null(), f, JSON_ENCODE_ANY);
        fputs(",\"kind\":", f);
        json_dumpf(kind ? kind : json_null(), f, JSON_ENCODE_ANY);
        json_decref(name);
        json_decref(kind);
        fputs(",\"values\":[", f);
        for (uint32_t b = 0; b < res->bins; b++) {
            double v = res->rows[i].values[b];
            if (b) fputc(',', f);
            if (v > -9e15 && v < 9e15 && v == (double)(int64_t)v)
                fprintf(f, "%lld", (long long)v);
            else if (v == v && v - v == 0)
                fprintf(f, "%.12g", v);
            else
                fputs("null", f);
        }
        fputs("]}", f);
    }
    fputs("]}\n", f);
    fclose(f);
    return text;
}

static void same_as_reference(const char *what, const char *series, const aggr_result_t *res)
{
    size_t wl;
    char *want = reference(series, res, &wl);
    outbuf_t ob;
    aggrjson_write(&ob, series, res);
    du_same(what, ob.buf, ob.len, want, wl);
    /* and it is JSON */
    json_error_t e;
    json_t *doc = json_loadb(ob.buf, ob.len, 0, &e);
    CHECKF(doc != NULL, "%s: not JSON: %s", what, e.text);
    json_decref(doc);
    outbuf_dispose(&ob);
    free(want);
}

TEST(aggrjson_names_and_edges)
{
    static const char *names[] = {
        "fib",     "with \"quotes\"", "back\\slash", "tab\there", "nl\nx",       "\x01\x1f",
        "del\x7f", "caf\xc3\xa9",     "bad\xff\xfe", "",          "a/b <c> & d", NULL};
    double vals[] = {0,
                     -0.0,
                     1,
                     -1,
                     0.5,
                     1.0 / 3,
                     -2.0 / 3,
                     123456789012.5,
                     1234567890123456.0,
                     8999999999999999.0,
                     9e15,
                     -9e15,
                     9.5e15,
                     1e300,
                     -1e-300,
                     5e-324,
                     NAN,
                     INFINITY,
                     -INFINITY,
                     0.1 + 0.2,
                     299792458.000001,
                     4503599627370495.5};
    size_t nn = sizeof names / sizeof names[0], nv = sizeof vals / sizeof vals[0];
    aggr_row_t rows[sizeof names / sizeof names[0]];
    memset(rows, 0, sizeof rows);
    for (size_t i = 0; i < nn; i++) {
        rows[i].name = names[i];
        rows[i].kind = i % 3 ? "user" : "counter";
        rows[i].values = vals;
    }
    rows[2].kind = NULL;
    aggr_result_t res = {.from_ns = 5,
                         .to_ns = 5 + 22 * 1000,
                         .bin_ns = 1000,
                         .bins = (uint32_t)nv,
                         .rows = rows,
                         .nrows = nn};
    same_as_reference("edges", "labels", &res);
    res.nrows = 0;
    same_as_reference("no rows", "gc", &res);
}

TEST(aggrjson_random_values)
{
    enum { ROWS = 40, BINS = 500 };
    static double vals[ROWS][BINS];
    aggr_row_t rows[ROWS];
    memset(rows, 0, sizeof rows);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < ROWS; i++) {
        for (int b = 0; b < BINS; b++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            double u = (double)(x >> 11) / 9007199254740992.0;
            switch (x % 5) {
            case 0:
                vals[i][b] = (double)(x % 100000);
                break; /* counts */
            case 1:
                vals[i][b] = u;
                break; /* fractions */
            case 2:
                vals[i][b] = u * pow(10, (int)(x % 40) - 20);
                break; /* any scale */
            case 3:
                vals[i][b] = -u * 1e9;
                break; /* negative sums */
            default:
                vals[i][b] = (double)(x % 1000) / 8;
                break; /* exact halves */
            }
        }
        rows[i].name = "row";
        rows[i].kind = "user";
        rows[i].values = vals[i];
    }
    aggr_result_t res = {
        .from_ns = 0, .to_ns = BINS * 7, .bin_ns = 7, .bins = BINS, .rows = rows, .nrows = ROWS};
    same_as_reference("random", "threads", &res);
}
