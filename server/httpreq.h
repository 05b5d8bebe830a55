/* The pure parsing of a request's target, apart from h2o so that tests and fuzzers can drive it:
 * percent-decoding, query-string lookup, whole-number query values and route pattern matching. */
#ifndef LP_HTTPREQ_H
#define LP_HTTPREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One path parameter: `len` bytes at `off` in the matched path. */
typedef struct httpreq_span {
    size_t off, len;
} httpreq_span_t;

/* Percent-decodes s[0..n) into out (cap bytes, NUL-terminated); with `plus`, '+' is a space (query
 * strings). A '%' not followed by two hex digits stays as it is. Returns the decoded length, or -1
 * when it does not fit. Pure; any thread. */
int httpreq_decode(const char *s, size_t n, char *out, size_t cap, bool plus);
/* Looks up parameter `name` in the raw query string `query` (no '?'; borrowed) and percent-decodes
 * its value into buf (NUL-terminated; "name" without '=' is the empty value). Returns the value's
 * length, or -1 when absent or longer than cap - 1. Pure; any thread. */
int httpreq_query(const char *query, const char *name, char *buf, size_t cap);
/* Reads query parameter `name` as a whole number into *out. Returns 0; 1 when absent (*out =
 * dflt); LP_EARG for anything but 1 to 20 decimal digits that fit in 64 bits (empty, a sign,
 * spaces, junk, overflow). Pure; any thread. */
int httpreq_query_u64(const char *query, const char *name, uint64_t dflt, uint64_t *out);
/* Matches `path` against `pattern`, where each "{}" matches one non-empty path segment. Fills
 * params[0..*n) (at most `max`) with the segments' places in path. Returns whether it matched.
 * Pure; any thread. */
bool httpreq_match(const char *pattern, const char *path, httpreq_span_t *params, size_t max,
                   size_t *n);

#endif
