/* Wire frame codec tests: round trips, limits, every truncation and random corruption, and the
 * cross-check with flatc's own readers (generated C++ verifier, flatc --json golden files). */
#include "test.h"

#include "err.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>

static wire_frame_t data_frame(const uint8_t *p, uint32_t n)
{
    wire_frame_t f = {0};
    f.kind = WIRE_DATA;
    f.program = wire_cstr("prog-1");
    f.seq = 5;
    f.offset = 1234567;
    f.flags = WIRE_FLAG_BLOCK_START;
    f.data.p = p;
    f.data.len = n;
    return f;
}

TEST(wire_roundtrip)
{
    static uint8_t buf[WIRE_MAX_FRAME], payload[WIRE_MAX_DATA];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i ^ (i >> 8));
    wire_frame_t f = data_frame(payload, WIRE_MAX_DATA), g;
    int n = wire_encode(&f, buf, sizeof buf);
    REQUIRE(n > 0 && (size_t)n <= WIRE_MAX_FRAME);
    REQUIRE(wire_decode(&g, buf, (size_t)n) == 0);
    CHECK(g.kind == WIRE_DATA && g.seq == 5 && g.offset == 1234567 && g.flags == 1);
    CHECK(g.data.len == WIRE_MAX_DATA && memcmp(g.data.p, payload, WIRE_MAX_DATA) == 0);
    CHECK(g.program.len == 6 && memcmp(g.program.p, "prog-1", 6) == 0);
    CHECK(g.token.p == NULL && g.nprogs == 0);

    wire_program_t ps[2] = {{wire_cstr("a"), wire_cstr("name-a"), 10, 1, false},
                            {wire_cstr("b"), {0}, 20, 2, true}};
    wire_frame_t l = {.kind = WIRE_PROGRAMS, .progs = ps, .nprogs = 2};
    n = wire_encode(&l, buf, sizeof buf);
    REQUIRE(n > 0);
    REQUIRE(wire_decode(&g, buf, (size_t)n) == 0);
    REQUIRE(g.nprogs == 2);
    wire_program_t p;
    REQUIRE(wire_program_at(&g, 1, &p) == 0);
    CHECK(p.bytes == 20 && p.pid == 2 && p.ended && p.name.p == NULL && p.id.len == 1);
    CHECK(wire_program_at(&g, 2, &p) == LP_ERANGE);
}

TEST(wire_encode_head_then_data)
{
    static uint8_t whole[WIRE_MAX_FRAME], head[WIRE_MAX_FRAME], payload[WIRE_MAX_DATA];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7 + 3);
    static const uint32_t lens[] = {0, 1, 3, 1000, WIRE_MAX_DATA};
    static const char *const ids[] = {"p", "prog-1", "a-program-id-of-some-length.x"};
    for (size_t k = 0; k < sizeof ids / sizeof *ids; k++)
        for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
            wire_frame_t f = data_frame(payload, lens[i]);
            f.program = wire_cstr(ids[k]);
            int n = wire_encode(&f, whole, sizeof whole);
            int h = wire_encode_head(&f, head, sizeof head);
            REQUIRE(n > 0 && h > 0);
            CHECK((uint32_t)n == (uint32_t)h + lens[i]);
            CHECK(memcmp(head, whole, (size_t)h) == 0);
            CHECK(memcmp(whole + h, payload, lens[i]) == 0);
        }
    wire_frame_t f = data_frame(payload, 10);
    f.token = wire_cstr("t");
    CHECK(wire_encode_head(&f, head, sizeof head) == LP_EARG);
    f = data_frame(NULL, 0);
    CHECK(wire_encode_head(&f, head, sizeof head) == LP_EARG);
    f = data_frame(payload, WIRE_MAX_DATA + 1);
    CHECK(wire_encode_head(&f, head, sizeof head) == LP_ERANGE);
}

TEST(wire_limits)
{
    static uint8_t buf[WIRE_MAX_FRAME], payload[WIRE_MAX_DATA + 1];
    wire_frame_t f = data_frame(payload, WIRE_MAX_DATA + 1);
    CHECK(wire_encode(&f, buf, sizeof buf) == LP_ERANGE);
    f = data_frame(payload, 100);
    CHECK(wire_encode(&f, buf, 50) == LP_ERANGE);
    char longid[WIRE_MAX_PROGRAM + 2];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = 0;
    f.program = wire_cstr(longid);
    CHECK(wire_encode(&f, buf, sizeof buf) == LP_ERANGE);
    f = data_frame(payload, 10);
    f.kind = (wire_kind_t)WIRE_KIND_COUNT;
    CHECK(wire_encode(&f, buf, sizeof buf) == LP_EARG);
    wire_frame_t g;
    CHECK(wire_decode(&g, buf, 0) == LP_EPROTO);
    CHECK(wire_decode(&g, (const uint8_t *)"\x08\0\0\0LPWX", 8) == LP_EPROTO);
    CHECK(wire_token_equal(wire_cstr("abc"), "abc"));
    CHECK(!wire_token_equal(wire_cstr("abc"), "abd"));
    CHECK(!wire_token_equal(wire_cstr("abc"), "abcd"));
    CHECK(!wire_token_equal(wire_cstr(""), "a"));
}

/* Every prefix is rejected, and random corruption never crashes or reads out of bounds (the
 * test runs under ASan too): what decodes must still lie inside the buffer. */
TEST(wire_truncation_corruption)
{
    static uint8_t buf[WIRE_MAX_FRAME], copy[WIRE_MAX_FRAME];
    uint8_t payload[300];
    memset(payload, 7, sizeof payload);
    wire_program_t ps[3] = {{wire_cstr("a"), wire_cstr("n"), 1, 1, false},
                            {wire_cstr("bb"), {0}, 2, 2, true},
                            {wire_cstr("ccc"), wire_cstr("m"), 3, 3, false}};
    wire_frame_t f = data_frame(payload, sizeof payload);
    f.token = wire_cstr("tok");
    f.progs = ps;
    f.nprogs = 3;
    int n = wire_encode(&f, buf, sizeof buf);
    REQUIRE(n > 0);
    wire_frame_t g;
    for (int i = 0; i < n; i++) {
        uint8_t *t = malloc((size_t)i + 1); /* exact-size copies let ASan see overreads */
        memcpy(t, buf, (size_t)i);
        CHECKF(wire_decode(&g, t, (size_t)i) == LP_EPROTO, "prefix %d decoded", i);
        free(t);
    }
    srand(42);
    int ok = 0;
    for (int round = 0; round < 20000; round++) {
        memcpy(copy, buf, (size_t)n);
        int flips = 1 + rand() % 4;
        for (int k = 0; k < flips; k++)
            copy[rand() % n] = (uint8_t)rand();
        uint8_t *t = malloc((size_t)n);
        memcpy(t, copy, (size_t)n);
        if (wire_decode(&g, t, (size_t)n) == 0) {
            ok++;
            if (g.data.p) CHECK(g.data.p >= t && g.data.p + g.data.len <= t + n);
            for (uint32_t i = 0; i < g.nprogs; i++) {
                wire_program_t p;
                CHECK(wire_program_at(&g, i, &p) == 0);
                if (p.id.p) CHECK(p.id.p >= t && p.id.p + p.id.len <= t + n);
            }
        }
        free(t);
    }
    CHECK(ok > 0); /* flips in payload bytes keep the frame valid */
}

static const char *const golden[] = {"hello", "programs",  "subscribe", "data",
                                     "gap",   "heartbeat", "error",     "state"};

/* The generated C++ verifier accepts C's frames and C decodes the builder's (build/wire_check);
 * flatc --json prints C's frames exactly as the golden files; flatc -b of each golden file
 * decodes in C and re-encodes to the same JSON. */
TEST(wire_flatc_cross)
{
    const char *dir = tu_tmpdir();
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "build/wire_check %s 2>&1", dir);
    uint8_t *out = NULL;
    size_t len = 0;
    int rc = tu_run(cmd, &out, &len);
    CHECKF(rc == 0, "wire_check failed: %.*s", (int)len, out ? (char *)out : "");
    free(out);
    for (size_t i = 0; i < sizeof golden / sizeof golden[0]; i++) {
        snprintf(cmd, sizeof cmd,
                 "flatc --json --strict-json --raw-binary -o %s/c proto/wire.fbs -- %s/%s.bin "
                 "&& cmp %s/c/%s.json tests/data/wire/%s.json",
                 dir, dir, golden[i], dir, golden[i], golden[i]);
        CHECKF(tu_run(cmd, NULL, NULL) == 0, "flatc json of C frame %s differs", golden[i]);
        snprintf(cmd, sizeof cmd, "flatc -b -o %s/b proto/wire.fbs tests/data/wire/%s.json", dir,
                 golden[i]);
        REQUIRE(tu_run(cmd, NULL, NULL) == 0);
        char path[512];
        snprintf(path, sizeof path, "%s/b/%s.bin", dir, golden[i]);
        size_t blen = 0;
        uint8_t *bin = tu_read_file(path, &blen);
        REQUIRE(bin);
        wire_frame_t g;
        CHECKF(wire_decode(&g, bin, blen) == 0, "C cannot decode flatc's %s", golden[i]);
        static uint8_t re[WIRE_MAX_FRAME];
        int n = wire_encode(&g, re, sizeof re);
        free(bin);
        REQUIRE(n > 0);
        snprintf(path, sizeof path, "%s/re-%s.bin", dir, golden[i]);
        FILE *f = fopen(path, "wb");
        REQUIRE(f && fwrite(re, 1, (size_t)n, f) == (size_t)n);
        fclose(f);
        snprintf(cmd, sizeof cmd,
                 "flatc --json --strict-json --raw-binary -o %s proto/wire.fbs -- %s && cmp "
                 "%s/re-%s.json tests/data/wire/%s.json",
                 dir, path, dir, golden[i], golden[i]);
        CHECKF(tu_run(cmd, NULL, NULL) == 0, "round trip of flatc's %s differs", golden[i]);
    }
}
