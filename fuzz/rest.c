/* Fuzz target: what the REST API parses from a request before any handler logic — route matching
 * of percent-decoded paths against every route table, query strings and whole-number parameters
 * (upload offsets, from/to/bins), and JSON bodies through the resource validation and mapping.
 * The first input byte picks the parser, the rest is its input. Properties: no crash; matched
 * parameters are non-empty segments that rebuild the path; numbers parse exactly or are refused. */
#include "api.h"
#include "err.h"
#include "httpreq.h"
#include "resource.h"
#include "resources.h"
#include "routes.h"
#include "session_meta.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT 4096

static void fail(const char *what)
{
    fprintf(stderr, "rest: %s\n", what);
    abort();
}

/* Rebuilds the path from the pattern and the matched segments and compares. */
static void check_match(const char *pattern, const char *path, const httpreq_span_t *sp, size_t n)
{
    char rebuilt[2 * MAX_INPUT];
    size_t k = 0, used = 0;
    for (const char *p = pattern; *p;) {
        if (p[0] == '{' && p[1] == '}') {
            if (used >= n || sp[used].len == 0) fail("an empty or missing parameter");
            if (memchr(path + sp[used].off, '/', sp[used].len)) fail("a parameter holds a '/'");
            memcpy(rebuilt + k, path + sp[used].off, sp[used].len);
            k += sp[used].len;
            used++;
            p += 2;
        } else {
            rebuilt[k++] = *p++;
        }
    }
    rebuilt[k] = 0;
    if (used != n || strcmp(rebuilt, path)) fail("the parameters do not rebuild the path");
}

static void fuzz_path(const char *in, size_t n)
{
    char path[MAX_INPUT + 1];
    if (httpreq_decode(in, n, path, sizeof path, false) < 0) fail("a path does not decode");
    const http_route_t *tables[] = {api_session_routes, api_upload_routes, api_metrics_routes,
                                    api_auth_routes,    api_users_routes,  api_connections_routes};
    const size_t sizes[] = {api_session_nroutes, api_upload_nroutes, api_metrics_nroutes,
                            api_auth_nroutes,    api_users_nroutes,  api_connections_nroutes};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++)
        for (size_t i = 0; i < sizes[t]; i++) {
            httpreq_span_t sp[4];
            size_t np;
            if (httpreq_match(tables[t][i].pattern, path, sp, 4, &np))
                check_match(tables[t][i].pattern, path, sp, np);
        }
}

/* "NAME\nQUERY": looks NAME up in QUERY as every handler does. */
static void fuzz_query(const char *in, size_t n)
{
    const char *nl = memchr(in, '\n', n);
    char name[64], query[MAX_INPUT + 1], buf[300];
    size_t nlen = nl ? (size_t)(nl - in) : 0;
    if (nlen >= sizeof name) nlen = sizeof name - 1;
    memcpy(name, in, nlen);
    name[nlen] = 0;
    size_t qlen = nl ? n - (size_t)(nl + 1 - in) : n;
    memcpy(query, nl ? nl + 1 : in, qlen);
    query[qlen] = 0;
    for (size_t cap = 0; cap <= sizeof buf; cap += 37) {
        int len = httpreq_query(query, name, buf, cap);
        if (len >= 0 && ((size_t)len >= cap || buf[len] != 0)) fail("a query value overflows");
    }
    const char *names[] = {name, "offset", "from", "to", "bins", "name", "series", "width"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        uint64_t v;
        int rc = httpreq_query_u64(query, names[i], 42, &v);
        int len = httpreq_query(query, names[i], buf, sizeof buf);
        if (rc == 1 && (len >= 0 || v != 42)) fail("an absent number is not the default");
        if (rc == 0) {
            char back[32];
            snprintf(back, sizeof back, "%llu", (unsigned long long)v);
            const char *digits = buf;
            while (digits[0] == '0' && digits[1]) /* leading zeros are fine */
                digits++;
            if (len <= 0 || strcmp(back, digits)) fail("a number does not parse exactly");
        }
        if (rc != 0 && rc != 1 && rc != LP_EARG) fail("a number gives an unknown code");
    }
}

static void fuzz_json(const char *in, size_t n)
{
    json_error_t e;
    json_t *v = json_loadb(in, n, JSON_REJECT_DUPLICATES, &e);
    if (!v) return;
    char err[256];
    const resource_t *res[] = {&resource_users, &resource_tokens, &resource_connections,
                               &resource_sessions};
    for (size_t i = 0; i < sizeof res / sizeof res[0]; i++)
        for (int mode = RESOURCE_CREATE; mode <= RESOURCE_PATCH; mode++) {
            err[0] = 0;
            int rc = resource_validate(res[i], v, (resource_mode_t)mode, err, sizeof err);
            if (rc < 0 && !err[0]) fail("a refused body has no reason");
            /* mapping hashes passwords (slow by design): only for resources without one */
            if (rc == 0 && res[i] != &resource_users) {
                json_t *row = NULL;
                if (resource_from_json(res[i], v, (resource_mode_t)mode, &row) == 0 && !row)
                    fail("a mapped body gives no row");
                json_decref(row);
            }
        }
    session_meta_validate_patch(v, err, sizeof err);
    json_decref(v);
}

static void fuzz_time(const char *in, size_t n)
{
    char s[64];
    if (n >= sizeof s) n = sizeof s - 1;
    memcpy(s, in, n);
    s[n] = 0;
    int64_t t, t2;
    if (resource_time_parse(s, &t) < 0) return;
    char text[32];
    resource_time_text(t, text, sizeof text);
    if (resource_time_parse(text, &t2) < 0 || t2 != t) fail("a time does not round-trip");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_INPUT) return 0;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] & 3) {
    case 0:
        fuzz_path(in, n);
        break;
    case 1:
        fuzz_query(in, n);
        break;
    case 2:
        fuzz_json(in, n);
        break;
    default:
        fuzz_time(in, n);
        break;
    }
    return 0;
}
