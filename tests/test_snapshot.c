/* Aggregate snapshots: the hand-written C FlatBuffers encoder checked by flatc's own readers
 * (the generated C++ Verifier, flatc --json against a golden file, flatc -b read back by the C
 * decoder), and the decoder on damaged buffers. */
#include "test.h"

#include "err.h"
#include "snapshot.h"
#include "snapshot_verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fixed snapshot with every field in use. */
static void sample(snapshot_t *s, snapshot_row_t *rows, snapshot_series_t *series,
                   snapshot_srow_t *srows, double *vals)
{
    memset(s, 0, sizeof *s);
    s->stream_offset = 1010157;
    s->events = 57515;
    s->state = 2;
    s->final = true;
    s->error = "none at all";
    rows[0] = (snapshot_row_t){0, "GC", 0};
    rows[1] = (snapshot_row_t){1, "GC", 123456789};
    rows[2] = (snapshot_row_t){2, "fib \xc3\xa9t\xc3\xa9", 42};
    s->totals = rows;
    s->ntotals = 3;
    for (int i = 0; i < 5; i++)
        vals[i] = i * 0.25;
    srows[0] = (snapshot_srow_t){"fib", "user", vals, 5};
    srows[1] = (snapshot_srow_t){"other", "other", vals + 1, 2};
    srows[2] = (snapshot_srow_t){"size", "last", vals, 0};
    series[0] = (snapshot_series_t){"labels", 0, 65536000000ull, srows, 2};
    series[1] = (snapshot_series_t){"heap", 65536000000ull, 131072000000ull, srows + 2, 1};
    s->series = series;
    s->nseries = 2;
}

static void same(const snapshot_t *a, const snapshot_t *b)
{
    CHECK_EQ_U64(a->stream_offset, b->stream_offset);
    CHECK_EQ_U64(a->events, b->events);
    CHECK(a->state == b->state && a->final == b->final);
    CHECK((!a->error && !b->error) || (a->error && b->error && !strcmp(a->error, b->error)));
    REQUIRE(a->ntotals == b->ntotals && a->nseries == b->nseries);
    for (size_t i = 0; i < a->ntotals; i++) {
        CHECK(a->totals[i].kind == b->totals[i].kind);
        CHECK(!strcmp(a->totals[i].title, b->totals[i].title));
        CHECK_EQ_U64(a->totals[i].total_ns, b->totals[i].total_ns);
    }
    for (size_t i = 0; i < a->nseries; i++) {
        const snapshot_series_t *x = &a->series[i], *y = &b->series[i];
        CHECK(!strcmp(x->name, y->name));
        CHECK(x->from_ns == y->from_ns && x->bin_ns == y->bin_ns);
        REQUIRE(x->nrows == y->nrows);
        for (size_t k = 0; k < x->nrows; k++) {
            CHECK(!strcmp(x->rows[k].name, y->rows[k].name));
            CHECK(!strcmp(x->rows[k].kind, y->rows[k].kind));
            REQUIRE(x->rows[k].nvalues == y->rows[k].nvalues);
            for (size_t v = 0; v < x->rows[k].nvalues; v++)
                CHECK(x->rows[k].values[v] == y->rows[k].values[v]);
        }
    }
}

TEST(snapshot_c_encoder_passes_flatc_verifier)
{
    snapshot_t s, back;
    snapshot_row_t rows[3];
    snapshot_series_t series[2];
    snapshot_srow_t srows[3];
    double vals[5];
    sample(&s, rows, series, srows, vals);
    size_t n;
    uint8_t *b = snapshot_encode(&s, &n);
    snapshot_seen_t seen;
    REQUIRE(snapshot_verify_cpp(b, n, &seen) == 0);
    CHECK_EQ_U64(seen.stream_offset, 1010157);
    CHECK_EQ_U64(seen.events, 57515);
    CHECK(seen.state == 2 && seen.final_);
    CHECK(!strcmp(seen.error, "none at all"));
    CHECK(seen.ntotals == 3 && !strcmp(seen.first_title, "GC"));
    CHECK_EQ_U64(seen.totals_sum, 123456789 + 42 + 0 + 1 + 2);
    CHECK(seen.nseries == 2 && seen.nrows == 3);
    CHECK(seen.value_sum == (0 + 0.25 + 0.5 + 0.75 + 1.0) + (0.25 + 0.5));
    REQUIRE(snapshot_decode(&back, b, n) == 0);
    same(&s, &back);
    snapshot_dispose(&back);
    /* an empty snapshot (no error string, no rows) too */
    snapshot_t empty;
    memset(&empty, 0, sizeof empty);
    uint8_t *e = snapshot_encode(&empty, &n);
    CHECK(snapshot_verify_cpp(e, n, &seen) == 0 && seen.ntotals == 0 && !seen.error[0]);
    REQUIRE(snapshot_decode(&back, e, n) == 0);
    CHECK(back.error == NULL && back.ntotals == 0 && back.nseries == 0);
    snapshot_dispose(&back);
    free(e);
    free(b);
}

/* flatc --json of the C encoding equals the golden file, and flatc -b of the golden file decodes
 * in C to the same snapshot. */
TEST(snapshot_flatc_json_golden)
{
    snapshot_t s, back;
    snapshot_row_t rows[3];
    snapshot_series_t series[2];
    snapshot_srow_t srows[3];
    double vals[5];
    sample(&s, rows, series, srows, vals);
    size_t n;
    uint8_t *b = snapshot_encode(&s, &n);
    char bin[600], cmd[2000], json[700];
    snprintf(bin, sizeof bin, "%s/snap.bin", tu_tmpdir());
    FILE *f = fopen(bin, "wb");
    REQUIRE(f && fwrite(b, 1, n, f) == n);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "flatc --json --strict-json --raw-binary -o '%s' proto/snapshot.fbs -- '%s' 2>&1",
             tu_tmpdir(), bin);
    uint8_t *out;
    size_t on;
    CHECKF(tu_run(cmd, &out, &on) == 0, "flatc --json: %.*s", (int)on, out ? (char *)out : "");
    free(out);
    snprintf(json, sizeof json, "%s/snap.json", tu_tmpdir());
    size_t gn, jn;
    uint8_t *golden = tu_read_file("tests/golden/snapshot.json", &gn);
    uint8_t *got = tu_read_file(json, &jn);
    REQUIRE(golden && got);
    CHECKF(gn == jn && !memcmp(golden, got, gn), "flatc --json differs from the golden file:\n%s",
           (char *)got);
    snprintf(cmd, sizeof cmd,
             "flatc -b -o '%s' proto/snapshot.fbs tests/golden/snapshot.json 2>&1 && cat "
             "'%s/snapshot.bin'",
             tu_tmpdir(), tu_tmpdir());
    CHECK(tu_run(cmd, &out, &on) == 0);
    REQUIRE(out);
    REQUIRE(snapshot_decode(&back, out, on) == 0);
    same(&s, &back);
    snapshot_dispose(&back);
    free(out);
    free(golden);
    free(got);
    free(b);
}

/* Truncated and bit-flipped buffers: a clean refusal or a decoded snapshot, never a read outside
 * the buffer (ASan watches); what the C++ Verifier rejects, the C decoder must not trust
 * further than its bounds either. */
TEST(snapshot_decode_damaged)
{
    snapshot_t s, back;
    snapshot_row_t rows[3];
    snapshot_series_t series[2];
    snapshot_srow_t srows[3];
    double vals[5];
    sample(&s, rows, series, srows, vals);
    size_t n;
    uint8_t *b = snapshot_encode(&s, &n);
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *c = malloc(cut ? cut : 1);
        memcpy(c, b, cut);
        int rc = snapshot_decode(&back, c, cut);
        CHECK(rc == 0 || rc == LP_ECORRUPT);
        snapshot_dispose(&back);
        free(c);
    }
    srand(3);
    int refused = 0;
    for (int i = 0; i < 3000; i++) {
        uint8_t *c = malloc(n);
        memcpy(c, b, n);
        for (int k = 0; k < 1 + i % 3; k++)
            c[(size_t)rand() % n] ^= (uint8_t)(1u << (rand() % 8));
        int rc = snapshot_decode(&back, c, n);
        CHECK(rc == 0 || rc == LP_ECORRUPT);
        refused += rc < 0;
        snapshot_dispose(&back);
        free(c);
    }
    CHECK(refused > 0);
    free(b);
}
