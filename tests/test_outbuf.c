/* The output buffer: integer formatting, flushing to a descriptor versus growing in memory, and
 * sticky write errors. */
#include "test.h"

#include "dumputil.h"
#include "outbuf.h"

#include <stdlib.h>
#include <string.h>

TEST(outbuf_integers)
{
    outbuf_t o;
    REQUIRE(outbuf_init(&o, -1, 0) == 0);
    char want[64 * 1024];
    size_t wl = 0;
    uint64_t v = 1;
    for (int i = 0; i < 20; i++, v *= 10) {
        uint64_t vals[] = {v - 1, v, v + 1, v * 7 / 3};
        for (int k = 0; k < 4; k++) {
            outbuf_u64(&o, vals[k]);
            outbuf_putc(&o, ' ');
            wl += (size_t)sprintf(want + wl, "%llu ", (unsigned long long)vals[k]);
        }
    }
    int64_t s[] = {0, -1, 1, -10, 99, INT64_MIN, INT64_MAX};
    for (int k = 0; k < 7; k++) {
        outbuf_i64(&o, s[k]);
        outbuf_putc(&o, ' ');
        wl += (size_t)sprintf(want + wl, "%lld ", (long long)s[k]);
    }
    outbuf_u64(&o, UINT64_MAX);
    wl += (size_t)sprintf(want + wl, "%llu", (unsigned long long)UINT64_MAX);
    CHECK(o.err == 0);
    du_same("integers", o.buf, o.len, want, wl);
    outbuf_dispose(&o);
}

TEST(outbuf_flushes_to_fd)
{
    const char *path = du_tmp_path("out.bin");
    FILE *f = fopen(path, "wb");
    REQUIRE(f);
    outbuf_t o, m;
    REQUIRE(outbuf_init(&o, fileno(f), 64) == 0); /* tiny: flushes all the time */
    REQUIRE(outbuf_init(&m, -1, 64) == 0);        /* memory: grows */
    static char big[5000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    for (int i = 0; i < 2000; i++) {
        outbuf_t *b[2] = {&o, &m};
        for (int k = 0; k < 2; k++) {
            outbuf_puts(b[k], "line ");
            outbuf_u64(b[k], (uint64_t)i * 1000003u);
            outbuf_put(b[k], big, (size_t)(i * 37) % sizeof big);
            outbuf_putc(b[k], '\n');
        }
    }
    CHECK(outbuf_flush(&o) == 0);
    fclose(f);
    size_t n;
    uint8_t *got = tu_read_file(path, &n);
    REQUIRE(got);
    du_same("fd vs memory", got, n, m.buf, m.len);
    free(got);
    outbuf_dispose(&o);
    outbuf_dispose(&m);
    /* A failed write is sticky and reported. */
    REQUIRE(outbuf_init(&o, 1000, 64) == 0); /* not an open descriptor */
    outbuf_put(&o, big, 1000);
    CHECK(outbuf_flush(&o) < 0 && o.err_errno != 0);
    outbuf_dispose(&o);
}
