/* The /aggregates document through outbuf and gfmt: the same bytes printf and jansson gave,
 * several times faster (tests/test_aggrjson.c holds the two side by side). */
#include "aggrjson.h"

#include "gfmt.h"
#include "xmalloc.h"

#include <jansson.h>
#include <stdlib.h>

/* A string as a JSON value: printable ASCII without quotes or backslashes as it is (what
 * jansson writes for it), anything else escaped by jansson ("null" for NULL or bad UTF-8). */
static void put_string(outbuf_t *ob, const char *str)
{
    size_t n = 0;
    while (str && str[n] >= 0x20 && str[n] < 0x7f && str[n] != '"' && str[n] != '\\')
        n++;
    if (str && !str[n]) {
        outbuf_putc(ob, '"');
        outbuf_put(ob, str, n);
        outbuf_putc(ob, '"');
        return;
    }
    json_t *j = str ? json_string(str) : NULL;
    char *text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    outbuf_puts(ob, text ? text : "null");
    free(text);
    json_decref(j);
}

void aggrjson_write(outbuf_t *ob, const char *series, const aggr_result_t *res)
{
    if (outbuf_init(ob, -1, 4096 + res->nrows * (size_t)res->bins * 12) < 0) xoom(4096);
    outbuf_puts(ob, "{\"series\":\"");
    outbuf_puts(ob, series);
    outbuf_puts(ob, "\",\"from_ns\":");
    outbuf_u64(ob, res->from_ns);
    outbuf_puts(ob, ",\"to_ns\":");
    outbuf_u64(ob, res->to_ns);
    outbuf_puts(ob, ",\"bin_ns\":");
    outbuf_u64(ob, res->bin_ns);
    outbuf_puts(ob, ",\"rows\":[");
    for (size_t i = 0; i < res->nrows; i++) {
        outbuf_puts(ob, i ? ",{\"name\":" : "{\"name\":");
        put_string(ob, res->rows[i].name);
        outbuf_puts(ob, ",\"kind\":");
        put_string(ob, res->rows[i].kind);
        outbuf_puts(ob, ",\"values\":[");
        for (uint32_t b = 0; b < res->bins; b++) {
            double v = res->rows[i].values[b];
            if (b) outbuf_putc(ob, ',');
            if (v > -9e15 && v < 9e15 && v == (double)(int64_t)v) /* range first: no UB cast */
                outbuf_i64(ob, (int64_t)v);
            else if (v == v && v - v == 0)
                outbuf_commit(ob, gfmt_g(outbuf_reserve(ob, GFMT_MAX), v, 12));
            else
                outbuf_puts(ob, "null");
        }
        outbuf_puts(ob, "]}");
    }
    outbuf_puts(ob, "]}\n");
    if (ob->err) xoom(ob->cap);
}
