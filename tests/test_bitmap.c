/* lib/bitmap.c: sets of every container kind (array, bitset, run; with and without offsets in
 * the serialized form) survive save and load; corrupt or truncated serializations are refused
 * by the wrapper's own validation, and CRoaring never gets to print about them. */
#include "test.h"

#include "bitmap.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct saved {
    uint8_t *p;
    size_t n;
} saved_t;

static saved_t save(bitmap_t *b)
{
    saved_t s;
    s.n = bitmap_size(b);
    s.p = malloc(s.n + 1);
    REQUIRE(s.p && bitmap_save(b, s.p) == s.n);
    return s;
}

static uint64_t rnd(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x;
}

/* The sets of the test: empty, one array, one bitset, one run, and mixes over many keys. */
static bitmap_t *make(int which)
{
    bitmap_t *b = bitmap_create();
    uint64_t x = 88172645463325252ull + (uint64_t)which;
    switch (which) {
    case 0:
        break;
    case 1: /* an array */
        for (int i = 0; i < 100; i++)
            bitmap_add(b, (uint32_t)(rnd(&x) % 60000));
        break;
    case 2: /* a bitset */
        for (int i = 0; i < 20000; i++)
            bitmap_add(b, 70000 + (uint32_t)(rnd(&x) % 65536));
        break;
    case 3: /* runs */
        for (uint32_t v = 5; v < 30000; v++)
            if (v % 1000 < 700) bitmap_add(b, v);
        break;
    case 4: /* many keys, every kind: runs and offsets */
        for (uint32_t k = 0; k < 9; k++)
            for (int i = 0; i < 6000; i++)
                bitmap_add(b, k * 3 * 65536 + (k % 3 == 0   ? (uint32_t)i
                                               : k % 3 == 1 ? (uint32_t)(rnd(&x) % 65536)
                                                            : (uint32_t)(rnd(&x) % 65536) / 64));
        break;
    default: /* many array containers, no runs */
        for (uint32_t k = 0; k < 40; k++)
            for (int i = 0; i < 50; i++)
                bitmap_add(b, k * 65536 + (uint32_t)(rnd(&x) % 65536));
        break;
    }
    return b;
}

/* Redirects stderr into a file for the duration (restore with stderr_end, which returns the
 * bytes written to it). */
static int stderr_begin(char *path, size_t cap)
{
    snprintf(path, cap, "%s/stderr.txt", tu_tmpdir());
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    REQUIRE(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    return saved;
}

static long stderr_end(int saved, const char *path)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

TEST(bitmap_round_trip_every_container_kind)
{
    for (int w = 0; w < 6; w++) {
        bitmap_t *b = make(w);
        saved_t s = save(b);
        bitmap_t *c = bitmap_load(s.p, s.n);
        REQUIRE(c);
        CHECK_EQ_U64(bitmap_count(c), bitmap_count(b));
        CHECK_EQ_U64(bitmap_count_range(c, 1000, 1u << 20), bitmap_count_range(b, 1000, 1u << 20));
        for (uint32_t v = 0; v < (40u << 16); v += 97)
            if (bitmap_contains(b, v) != bitmap_contains(c, v)) {
                CHECKF(false, "set %d differs at %u", w, v);
                break;
            }
        /* exactly the bytes: one more or one fewer is no set */
        s.p[s.n] = 0;
        CHECK(!bitmap_load(s.p, s.n + 1));
        CHECK(!bitmap_load(s.p, s.n - 1));
        bitmap_destroy(c);
        bitmap_destroy(b);
        free(s.p);
    }
}

/* Every truncation and every byte changed (in turn, three ways) of every kind of set: refused or
 * a set, never a crash, never a word on stderr; and the hand-made corruptions of each part of
 * the format are refused. */
TEST(bitmap_corrupt_refused_quietly)
{
    char path[600];
    int saved_fd = stderr_begin(path, sizeof path);
    size_t refused = 0, tried = 0, truncated_taken = 0;
    for (int w = 0; w < 6; w++) {
        bitmap_t *b = make(w);
        saved_t s = save(b);
        for (size_t k = 0; k < s.n; k++) {
            bitmap_t *t = bitmap_load(s.p, k);
            truncated_taken += t != NULL;
            bitmap_destroy(t);
        }
        uint8_t *m = malloc(s.n);
        size_t step = s.n > 4096 ? s.n / 2048 : 1;
        for (size_t i = 0; i < s.n; i += step)
            for (int f = 0; f < 3; f++) {
                memcpy(m, s.p, s.n);
                m[i] = f == 0 ? (uint8_t)~m[i] : f == 1 ? (uint8_t)(m[i] + 1) : 0xFF;
                if (m[i] == s.p[i]) continue;
                bitmap_t *c = bitmap_load(m, s.n);
                tried++;
                refused += !c;
                if (c) (void)bitmap_count(c);
                bitmap_destroy(c);
            }
        free(m);
        bitmap_destroy(b);
        free(s.p);
    }
    /* hand-made: each inconsistency alone */
    static const struct {
        size_t n;
        uint8_t b[32];
    } bad[] = {
        {8, {0x3a, 0x30, 0, 1, 1, 0, 0, 0}}, /* a cookie of neither kind */
        {8, {0x3a, 0x30, 0, 0, 1, 0, 1, 0}}, /* no-run cookie, 65537 containers */
        {28, {0x3a, 0x30, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, /* keys 5, 5 */
              0,    0,    0, 0, 0, 0, 0, 0, 1, 0, 2, 0}},
        {13, {0x3b, 0x30, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0}},                     /* array 0, 0 */
        {19, {0x3b, 0x30, 0, 0, 1, 0, 0, 3, 0, 2, 0, 10, 0, 2, 0, 11, 0, 0, 0}}, /* runs overlap */
        {15, {0x3b, 0x30, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0xff, 0xff, 1, 0}},         /* past 16 bits */
        {15, {0x3b, 0x30, 0, 0, 1, 0, 0, 4, 0, 1, 0, 10, 0, 1, 0}},              /* card 2 vs 5 */
        {11, {0x3b, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 0}},                           /* no runs */
    };
    /* and their consistent twins load: so each was refused for its one fault */
    static const struct {
        size_t n;
        uint8_t b[32];
    } good[] = {
        {28, {0x3a, 0x30, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 6, 0,
              0,    0,    0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0}},
        {13, {0x3b, 0x30, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0}},
        {19, {0x3b, 0x30, 0, 0, 1, 0, 0, 3, 0, 2, 0, 10, 0, 2, 0, 13, 0, 0, 0}},
        {15, {0x3b, 0x30, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0xfe, 0xff, 1, 0}},
        {15, {0x3b, 0x30, 0, 0, 1, 0, 0, 1, 0, 1, 0, 10, 0, 1, 0}},
    };
    int bad_taken = -1, good_refused = -1; /* checked once stderr is back */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bitmap_t *g = bitmap_load(bad[i].b, bad[i].n);
        if (g) bad_taken = (int)i;
        bitmap_destroy(g);
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        bitmap_t *g = bitmap_load(good[i].b, good[i].n);
        if (!g) good_refused = (int)i;
        bitmap_destroy(g);
    }
    /* a bitset header whose bits do not add up to its cardinality */
    uint8_t bs[4 + 4 + 4 + 4 + 8192] = {0x3a, 0x30, 0, 0, 1, 0, 0, 0, 0, 0, 0x88, 0x13};
    memset(bs + 16, 0xff, 5001 / 8);
    bitmap_t *off_by_one = bitmap_load(bs, sizeof bs);
    bs[16 + 5001 / 8] = 0x01; /* 5001 bits: cardinality 0x1388 + 1 */
    bitmap_t *ok = bitmap_load(bs, sizeof bs);
    uint64_t ok_count = ok ? bitmap_count(ok) : 0;
    bitmap_destroy(ok);
    long said = stderr_end(saved_fd, path);
    size_t n = 0;
    uint8_t *text = tu_read_file(path, &n);
    CHECKF(said == 0, "%ld bytes on stderr: %s", said, text ? (char *)text : "");
    free(text);
    CHECKF(bad_taken < 0, "corruption %d accepted", bad_taken);
    CHECKF(good_refused < 0, "consistent set %d refused", good_refused);
    CHECK(!off_by_one && ok_count == 5001);
    bitmap_destroy(off_by_one);
    CHECK(truncated_taken == 0);
    CHECKF(refused > tried / 2, "only %zu of %zu corruptions refused", refused, tried);
}
