/* The footer index's sets against a plain reference: every label's and type's bins and every
 * second's thread set, for labels that share their first and last bytes and thread ids on both
 * sides of the repeat caches' limits, built by the writer's walk and by the decoder's events. */
#include "test.h"

#include "bitmap.h"
#include "evlog.h"
#include "evwrite.h"
#include "seg_index.h"
#include "segment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NLABELS 48
#define NTIDS 40
#define NBINS 72 /* 100 ms label bins: 7.2 s */

typedef struct ref {
    char text[NLABELS][48];
    size_t len[NLABELS];
    bool label_bin[NLABELS][NBINS];
    uint32_t tid[NTIDS];
    bool tid_sec[NTIDS][NBINS / 10 + 1];
    bool type_bin[3][NBINS]; /* of the types in `types` below */
} ref_t;

static const uint16_t types[3] = {EVLOG_USER_MSG, EVLOG_RUN_THREAD, EVLOG_CREATE_THREAD};

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A log of one block per 64 events, times jumping back and forth over 6.4 s, with START/STOP
 * messages of every label, look-alike messages that name none, and thread events; `r` gets what
 * each label's and thread's bins must be. */
static uint8_t *make_log(ref_t *r, size_t *n)
{
    memset(r, 0, sizeof *r);
    for (int i = 0; i < NLABELS; i++) {
        if (i < 20) /* 1..20 bytes: the short paths */
            for (int k = 0; k <= i; k++)
                r->text[i][k] = (char)('a' + (k * 7 + i) % 26);
        else /* 17..44 bytes, all with the same first and last 8 bytes per length pair */
            snprintf(r->text[i], sizeof r->text[i], "ABCDEFGH%.*s%c12345678", (i - 20) / 2,
                     "mmmmmmmmmmmmmmmmmmmmmmmmmmmm", 'p' + i % 2);
        r->len[i] = strlen(r->text[i]);
    }
    /* five ids from each base, across a word of the bit set, the bit set's end and the
     * cache's size */
    static const uint32_t base[] = {0,   61,    4093,     65533,   65536 + 4093,
                                    100, 30000, 1u << 20, 1u << 31};
    for (int t = 0; t < NTIDS; t++)
        r->tid[t] = base[t % 9] + (uint32_t)(t / 9);
    evwrite_t w;
    REQUIRE(evwrite_init(&w) == 0);
    REQUIRE(evwrite_header(&w, NULL, 0) == 0);
    uint64_t s = 88172645463325252ull;
    for (int b = 0; b < 200; b++) {
        /* events stay below second 7 (bin 70), which only the last block has */
        uint64_t t0 = rnd(&s) % ((NBINS - 12) * 100000000ull);
        REQUIRE(evwrite_block_begin(&w, (uint16_t)(b % 3), t0) == 0);
        for (int e = 0; e < 64; e++) {
            uint64_t ts = t0 + rnd(&s) % 150000000ull; /* may cross a bin or a second */
            uint64_t pick = rnd(&s);
            int l = (int)(pick % NLABELS), t = (int)(pick / NLABELS % NTIDS);
            char msg[64];
            switch (pick / 7919 % 5) {
            case 0:
            case 1: {
                const char *verb = pick / 7 % 2 ? "START " : "STOP ";
                int m = snprintf(msg, sizeof msg, "%s%s", verb, r->text[l]);
                REQUIRE(evwrite_msg(&w, EVLOG_USER_MSG, ts, msg, (size_t)m) == 0);
                r->label_bin[l][ts / 100000000ull] = true;
                r->type_bin[0][ts / 100000000ull] = true;
                break;
            }
            case 2: /* names no label */
                REQUIRE(evwrite_msg(&w, EVLOG_USER_MSG, ts, pick % 2 ? "START " : "STOPx",
                                    5 + pick % 2) == 0);
                r->type_bin[0][ts / 100000000ull] = true;
                break;
            default:
                REQUIRE(evwrite_thread(&w, pick % 2 ? EVLOG_RUN_THREAD : EVLOG_CREATE_THREAD, ts,
                                       r->tid[t]) == 0);
                r->tid_sec[t][ts / 1000000000ull] = true;
                r->type_bin[pick % 2 ? 1 : 2][ts / 100000000ull] = true;
            }
        }
        REQUIRE(evwrite_block_end(&w, t0 + 150000000ull) == 0);
    }
    /* the last block alone in its bin and second: its sets are the ones held back at the end */
    uint64_t t0 = 7050000000ull;
    REQUIRE(evwrite_block_begin(&w, 0, t0) == 0);
    REQUIRE(evwrite_msg(&w, EVLOG_USER_MSG, t0 + 1, "START a", 7) == 0); /* label 0 is "a" */
    REQUIRE(evwrite_thread(&w, EVLOG_RUN_THREAD, t0 + 2, r->tid[0]) == 0);
    REQUIRE(evwrite_thread(&w, EVLOG_CREATE_THREAD, t0 + 3, r->tid[NTIDS - 1]) == 0);
    REQUIRE(evwrite_block_end(&w, t0 + 4) == 0);
    r->label_bin[0][70] = r->type_bin[0][70] = r->type_bin[1][70] = r->type_bin[2][70] = true;
    r->tid_sec[0][7] = r->tid_sec[NTIDS - 1][7] = true;
    REQUIRE(evwrite_end(&w) == 0);
    uint8_t *out = evwrite_take(&w, n);
    evwrite_dispose(&w);
    return out;
}

static void check_sets(const char *how, seg_index_t *x, const ref_t *r)
{
    seg_index_flush(x); /* what the index held back */
    for (int k = 0; k < 3; k++) {
        const seg_index_map_t *m = seg_index_find(x, SEG_MAP_TYPE, types[k]);
        uint64_t want = 0;
        for (int b = 0; b < NBINS; b++) {
            want += r->type_bin[k][b];
            if (r->type_bin[k][b])
                CHECKF(m && bitmap_contains(m->bins, (uint32_t)b), "%s: type %u lacks bin %d", how,
                       types[k], b);
        }
        CHECKF((m ? bitmap_count(m->bins) : 0) == want, "%s: type %u in %llu bins, not %llu", how,
               types[k], (unsigned long long)(m ? bitmap_count(m->bins) : 0),
               (unsigned long long)want);
    }
    size_t labels = 0;
    for (size_t i = 0; i < x->nmaps; i++)
        labels += x->maps[i].kind == SEG_MAP_LABEL;
    size_t want_labels = 0;
    for (int l = 0; l < NLABELS; l++) {
        uint64_t bins = 0;
        for (int b = 0; b < NBINS; b++)
            bins += r->label_bin[l][b];
        if (!bins) continue;
        want_labels++;
        const seg_index_map_t *m = NULL;
        for (size_t i = 0; i < x->nmaps; i++)
            if (x->maps[i].kind == SEG_MAP_LABEL && x->maps[i].name_len == r->len[l] &&
                !memcmp(x->maps[i].name, r->text[l], r->len[l]))
                m = &x->maps[i];
        CHECKF(m, "%s: no map for label %s", how, r->text[l]);
        if (!m) continue;
        CHECKF(bitmap_count(m->bins) == bins, "%s: label %s in %llu bins, not %llu", how,
               r->text[l], (unsigned long long)bitmap_count(m->bins), (unsigned long long)bins);
        for (int b = 0; b < NBINS; b++)
            if (r->label_bin[l][b])
                CHECKF(bitmap_contains(m->bins, (uint32_t)b), "%s: %s bin %d", how, r->text[l], b);
    }
    CHECK_EQ_U64(labels, want_labels);
    for (int sec = 0; sec <= NBINS / 10; sec++) {
        const seg_index_map_t *m = seg_index_find(x, SEG_MAP_THREAD, (uint32_t)sec);
        uint64_t want = 0;
        for (int t = 0; t < NTIDS; t++)
            if (r->tid_sec[t][sec]) {
                want++;
                CHECKF(m && bitmap_contains(m->bins, r->tid[t]), "%s: second %d lacks thread %u",
                       how, sec, r->tid[t]);
            }
        CHECKF((m ? bitmap_count(m->bins) : 0) == want, "%s: second %d: %llu threads, not %llu",
               how, sec, (unsigned long long)(m ? bitmap_count(m->bins) : 0),
               (unsigned long long)want);
    }
}

static int on_event(void *ctx, const evlog_event_t *ev)
{
    seg_index_event(ctx, ev, ev->offset);
    return 0;
}

TEST(segment_index_sets_exact)
{
    ref_t *r = malloc(sizeof *r);
    REQUIRE(r);
    size_t n;
    uint8_t *b = make_log(r, &n);
    REQUIRE(b);
    /* the decoder's events */
    seg_index_t x;
    seg_index_init(&x, 0);
    evlog_t d;
    REQUIRE(evlog_init(&d, &(evlog_sink_t){.on_event = on_event, .ctx = &x}) == 0);
    evlog_set_raw(&d, true);
    evlog_feed(&d, b, n);
    evlog_dispose(&d);
    check_sets("decoded", &x, r);
    seg_index_dispose(&x);
    /* the walk, after the decoder read the header */
    REQUIRE(evlog_init(&d, &(evlog_sink_t){0}) == 0);
    size_t i = 0;
    while (i < n && !evlog_at_event(&d))
        evlog_feed(&d, b + i++, 1);
    REQUIRE(evlog_at_event(&d));
    seg_index_init(&x, i);
    size_t used;
    CHECK(seg_index_scan(&x, evlog_types(&d), b + i, n - i, i, false, &used) == SEG_SCAN_ODD);
    CHECK_EQ_U64(used, n - i - 2); /* all but the end marker */
    check_sets("walked", &x, r);
    seg_index_dispose(&x);
    evlog_dispose(&d);
    free(b);
    free(r);
}
