/* Decoder properties on the shared logs: any split into chunks decodes to the same events, a
 * log cut at any offset keeps every whole event before the cut and names the offset of the
 * broken one, and random corruption never crashes or hangs it. */
#include "test.h"

#include "err.h"
#include "evlog.h"

#include <stdlib.h>
#include <string.h>

/* One decoded event, reduced to what identifies it. */
typedef struct rec {
    uint64_t offset, ts, payload_hash;
    int32_t cap;
    uint32_t size;
    uint16_t type;
    bool known;
} rec_t;

typedef struct run {
    rec_t *r;
    size_t n, cap;
    int rc;
    uint64_t err_off, warnings;
} run_t;

static uint64_t hash(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static int on_event(void *ctx, const evlog_event_t *ev)
{
    run_t *x = ctx;
    if (x->n == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 4096;
        x->r = realloc(x->r, x->cap * sizeof *x->r);
    }
    rec_t *r = &x->r[x->n++];
    memset(r, 0, sizeof *r); /* records are compared with memcmp: no stray padding bytes */
    r->offset = ev->offset;
    r->ts = ev->ts;
    r->payload_hash = hash(ev->payload, ev->size);
    r->cap = ev->cap;
    r->size = ev->size;
    r->type = ev->type;
    r->known = ev->known;
    return 0;
}

static void on_warning(void *ctx, evlog_warning_t w, uint64_t off, uint64_t count)
{
    (void)w;
    ((run_t *)ctx)->warnings += 1 + off + count; /* any difference shows */
}

/* Decodes buf in chunks: sizes from `seed` in [1, maxchunk] (maxchunk 0 = one piece). */
static run_t decode(const uint8_t *buf, size_t len, size_t maxchunk, uint32_t seed)
{
    run_t x = {0};
    evlog_t d;
    evlog_sink_t sink = {.on_event = on_event, .on_warning = on_warning, .ctx = &x};
    REQUIRE(evlog_init(&d, &sink) == 0);
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0;) {
        size_t k = len - i;
        if (maxchunk) {
            seed = seed * 1103515245u + 12345u;
            size_t c = 1 + (seed >> 8) % maxchunk;
            if (c < k) k = c;
        }
        rc = evlog_feed(&d, buf + i, k);
        i += k;
    }
    if (rc == 0) rc = evlog_finish(&d);
    x.rc = rc;
    x.err_off = evlog_error_offset(&d);
    evlog_dispose(&d);
    return x;
}

static bool same(const run_t *a, const run_t *b, size_t n)
{
    return a->n >= n && b->n >= n && (n == 0 || !memcmp(a->r, b->r, n * sizeof *a->r));
}

static const char *const logs[] = {
    "fib-labels",
    "fib-labels-user-only",
    "sparks",
    "leech-main",
    "leech-attach-file",
    "leech-restart-0.raw",
    "leech-restart-1.raw",
    "leech-deferred-0.raw",
    "concurrent",
    "heap",
    "heap-nonmoving",
    "small",
    "scale-1m",
};

TEST(evlog_chunk_split_equivalence)
{
    for (size_t l = 0; l < sizeof logs / sizeof logs[0]; l++) {
        char path[256];
        snprintf(path, sizeof path, "eventlogs/%s.eventlog", logs[l]);
        size_t len;
        uint8_t *buf = tu_read_file(tu_data(path), &len);
        REQUIRE(buf);
        run_t whole = decode(buf, len, 0, 0);
        CHECKF(whole.rc == 0, "%s: %d", logs[l], whole.rc);
        for (uint32_t seed = 1; seed <= 4; seed++) { /* random chunks of 1 B .. 64 KiB */
            run_t parts = decode(buf, len, seed == 1 ? 7 : 65536, seed);
            CHECKF(parts.rc == whole.rc && parts.n == whole.n && same(&parts, &whole, whole.n) &&
                       parts.warnings == whole.warnings,
                   "%s: chunks (seed %u) decode differently", logs[l], seed);
            free(parts.r);
        }
        if (len < 40000 && !test_skip_slow()) { /* byte by byte */
            run_t bytes = decode(buf, len, 1, 0);
            CHECKF(bytes.n == whole.n && same(&bytes, &whole, whole.n) && bytes.rc == whole.rc,
                   "%s: byte-by-byte decoding differs", logs[l]);
            free(bytes.r);
        }
        free(whole.r);
        free(buf);
    }
}

TEST(evlog_truncation_at_every_offset)
{
    size_t len;
    uint8_t *buf = tu_read_file(tu_data("eventlogs/fib-labels-user-only.eventlog"), &len);
    REQUIRE(buf);
    run_t whole = decode(buf, len, 0, 0);
    REQUIRE(whole.rc == 0 && whole.n > 0);
    size_t first = (size_t)whole.r[0].offset; /* the header ends here */
    for (size_t cut = 0; cut <= len; cut++) {
        run_t part = decode(buf, cut, cut % 3 ? 97 : 0, (uint32_t)cut);
        /* the events wholly before the cut (each ends where the next starts; the last one
         * where the end marker does) */
        size_t k = 0;
        while (k < whole.n && (k + 1 < whole.n ? whole.r[k + 1].offset : len - 2) <= cut)
            k++;
        CHECKF(part.n == k && same(&part, &whole, k), "cut %zu: %zu events, %zu expected", cut,
               part.n, k);
        if (cut < 4) {
            CHECKF(part.rc == LP_ENO_HEADER, "cut %zu: rc %d", cut, part.rc);
        } else if (cut < first) {
            CHECKF(part.rc == LP_ETRUNCATED && part.err_off == 0, "cut %zu: rc %d at %llu", cut,
                   part.rc, (unsigned long long)part.err_off);
        } else {
            bool boundary =
                cut == len || cut == len - 2 || (k < whole.n && whole.r[k].offset == cut);
            if (boundary)
                CHECKF(part.rc == 0, "cut %zu at a boundary: rc %d", cut, part.rc);
            else if (cut == len - 1) /* half an end marker */
                CHECKF(part.rc == LP_ETRUNCATED && part.err_off == len - 2, "cut %zu: rc %d", cut,
                       part.rc);
            else
                CHECKF(part.rc == LP_ETRUNCATED && k < whole.n && part.err_off == whole.r[k].offset,
                       "cut %zu: rc %d at %llu", cut, part.rc, (unsigned long long)part.err_off);
        }
        free(part.r);
    }
    free(whole.r);
    free(buf);
}

TEST(evlog_random_corruption)
{
    size_t len;
    uint8_t *orig = tu_read_file(tu_data("eventlogs/fib-labels.eventlog"), &len);
    REQUIRE(orig);
    uint8_t *buf = malloc(len);
    uint32_t seed = 12345;
    int rounds = test_skip_slow() ? 300 : 3000;
    for (int i = 0; i < rounds; i++) {
        memcpy(buf, orig, len);
        seed = seed * 1103515245u + 12345u;
        int flips = 1 + (int)((seed >> 8) % 16);
        for (int f = 0; f < flips; f++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 4) % len;
            seed = seed * 1103515245u + 12345u;
            buf[at] = (uint8_t)(seed >> 16);
        }
        seed = seed * 1103515245u + 12345u;
        size_t cut = (seed >> 3) % 8 == 0 ? (seed >> 9) % len : len;
        run_t x = decode(buf, cut, (seed >> 12) % 2 ? 4096 : 0, seed);
        /* bad input: an error or a clean end, never more events than bytes allow */
        CHECKF(x.rc <= 0 && x.n <= cut / 10 + 1, "round %d: rc %d, %zu events", i, x.rc, x.n);
        free(x.r);
    }
    free(buf);
    free(orig);
}

/* Found by fuzz/evlog.c: a repeated header whose "hdrb" is split across two chunks (the first
 * ending with "h", "hd" or "hdr") lost the bytes that completed it and failed as malformed. */
TEST(evlog_restart_split_inside_hdrb)
{
    size_t len;
    uint8_t *one = tu_read_file(tu_data("eventlogs/fib-labels-user-only.eventlog"), &len);
    REQUIRE(one && len > 2);
    size_t second = len - 2, total = second + len; /* logging restarted: no end marker */
    uint8_t *buf = malloc(total);
    memcpy(buf, one, second);
    memcpy(buf + second, one, len);
    run_t whole = decode(buf, total, 0, 0);
    REQUIRE(whole.rc == 0 && whole.n > 0);
    for (size_t cut = second - 3; cut <= second + 6; cut++) {
        run_t x = {0};
        evlog_t d;
        evlog_sink_t sink = {.on_event = on_event, .on_warning = on_warning, .ctx = &x};
        REQUIRE(evlog_init(&d, &sink) == 0);
        int rc = evlog_feed(&d, buf, cut);
        if (rc == 0) rc = evlog_feed(&d, buf + cut, total - cut);
        if (rc == 0) rc = evlog_finish(&d);
        evlog_dispose(&d);
        CHECKF(rc == 0 && x.n == whole.n && same(&x, &whole, whole.n) &&
                   x.warnings == whole.warnings,
               "split at %zu (header at %zu): rc %d, %zu of %zu events", cut, second, rc, x.n,
               whole.n);
        free(x.r);
    }
    free(whole.r);
    free(buf);
    free(one);
}

/* evlog_fields_may_fail names every type whose fixed-size payload decoding may refuse (the event
 * pipe's producer relies on it to leave such events out safely): payloads of every length, all
 * 0xFF (no string ends) or all 0 (counts of nothing), with `var` false. */
TEST(evlog_fields_may_fail_is_complete)
{
    static uint8_t ff[300], zero[300];
    memset(ff, 0xFF, sizeof ff);
    size_t refused = 0;
    for (uint32_t type = 0; type < 1024; type++)
        for (uint32_t n = 0; n <= sizeof ff; n++)
            for (int k = 0; k < 2; k++) {
                evlog_event_t ev = {.type = (uint16_t)type, .size = n, .payload = k ? ff : zero};
                if (evlog_decode_fields(&ev, false) == 0) continue;
                refused++;
                CHECKF(evlog_fields_may_fail((uint16_t)type),
                       "type %u refuses a %u-byte payload but is not listed", type, n);
            }
    CHECK(refused > 0);
}
