/* The pure parsing of a request's target (percent-decoding, query strings, whole numbers, route
 * patterns), kept apart from h2o so that tests and fuzzers can drive it directly. */
#include "httpreq.h"

#include "err.h"

#include <string.h>

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

int httpreq_decode(const char *s, size_t n, char *out, size_t cap, bool plus)
{
    size_t k = 0;
    if (cap == 0) return -1;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        if (k + 1 >= cap) return -1;
        out[k++] = (char)c;
    }
    out[k] = 0;
    return (int)k;
}

/* Finds parameter `name` in query: true with its raw value (val NULL for "name" alone). */
static bool lookup(const char *query, const char *name, const char **val, size_t *vlen)
{
    size_t nl = strlen(name);
    for (const char *p = query; *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t kl = eq ? (size_t)(eq - p) : len;
        char key[128];
        if (httpreq_decode(p, kl, key, sizeof key, true) == (int)nl && !memcmp(key, name, nl)) {
            *val = eq ? eq + 1 : NULL;
            *vlen = eq ? len - kl - 1 : 0;
            return true;
        }
        if (!amp) break;
        p = amp + 1;
    }
    return false;
}

int httpreq_query(const char *query, const char *name, char *buf, size_t cap)
{
    const char *val;
    size_t vlen;
    if (!lookup(query, name, &val, &vlen)) return -1;
    if (!val) return cap ? (buf[0] = 0, 0) : -1;
    return httpreq_decode(val, vlen, buf, cap, true);
}

int httpreq_query_u64(const char *query, const char *name, uint64_t dflt, uint64_t *out)
{
    const char *val;
    size_t vlen;
    char buf[32];
    *out = dflt;
    if (!lookup(query, name, &val, &vlen)) return 1;
    int n = val ? httpreq_decode(val, vlen, buf, sizeof buf, true) : 0;
    if (n <= 0 || n > 20) return LP_EARG;
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        unsigned d = (unsigned)(buf[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10) return LP_EARG;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

bool httpreq_match(const char *pattern, const char *path, httpreq_span_t *params, size_t max,
                   size_t *n)
{
    const char *p = pattern, *q = path;
    *n = 0;
    while (*p && *q) {
        if (p[0] == '{' && p[1] == '}') {
            const char *end = strchr(q, '/');
            size_t len = end ? (size_t)(end - q) : strlen(q);
            if (len == 0 || *n == max) return false;
            params[*n].off = (size_t)(q - path);
            params[*n].len = len;
            ++*n;
            p += 2;
            q += len;
            continue;
        }
        if (*p++ != *q++) return false;
    }
    return *p == 0 && *q == 0;
}
