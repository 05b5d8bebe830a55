/* The ghc-events `show` of every constructor the shared logs lack, checked byte for byte against
 * the reference dumper (build/ref/evdump, ghc-events 0.17.0.3) on logs generated with evwrite:
 * rare constructors, all stop statuses, string escapes, odd header sizes, invalid UTF-8. */
#include "test.h"

#include "dumputil.h"
#include "evlog.h"
#include "evwrite.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REF_DUMPER "build/ref/evdump"

static void require_ref(void)
{
    if (access(REF_DUMPER, X_OK) != 0) {
        test_fail(__FILE__, __LINE__, "%s is missing: build it with `make ref`", REF_DUMPER);
        test_abort();
    }
}

/* Dumps the log in w with liveprof and with the reference; stdout must be identical. Returns
 * liveprof's exit code; its stderr is left in *err (malloc'd). */
static int check_vs_ref(const char *what, evwrite_t *w, int ref_rc, char **err)
{
    require_ref();
    REQUIRE(evwrite_error(w) == 0);
    size_t n;
    const uint8_t *p = evwrite_data(w, &n);
    const char *path = du_tmp_path("gen.eventlog");
    du_write_file(path, p, n);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "%s dump '%s' 2>/dev/null", REF_DUMPER, path);
    uint8_t *ref;
    size_t rl;
    int rc = tu_run(cmd, &ref, &rl);
    REQUIRE(ref);
    CHECKF(rc == ref_rc, "%s: reference exit %d, want %d", what, rc, ref_rc);
    snprintf(cmd, sizeof cmd, "'%s'", path);
    du_run_t r;
    du_run(&r, cmd);
    du_same(what, r.out, r.out_len, ref, rl);
    free(ref);
    free(r.out);
    if (err)
        *err = r.err;
    else
        free(r.err);
    return r.rc;
}

static void gen_begin(evwrite_t *w)
{
    REQUIRE(evwrite_init(w) == 0);
    REQUIRE(evwrite_header(w, NULL, 0) == 0);
}

TEST(dump_ref_rare_constructors)
{
    evwrite_t w;
    gen_begin(&w);
    uint64_t ts = 100;
    evwrite_block_begin(&w, 1, ts++);
    evwrite_thread(&w, EVLOG_THREAD_RUNNABLE, ts++, 7);
    evwrite_thread(&w, EVLOG_CREATE_SPARK_THREAD, ts++, 8);
    uint16_t sparks[] = {EVLOG_SPARK_CREATE, EVLOG_SPARK_DUD,    EVLOG_SPARK_OVERFLOW,
                         EVLOG_SPARK_RUN,    EVLOG_SPARK_FIZZLE, EVLOG_SPARK_GC};
    for (size_t i = 0; i < 6; i++)
        evwrite_empty(&w, sparks[i], ts++);
    evwrite_cap(&w, EVLOG_SPARK_STEAL, ts++, 1);
    uint64_t sc[7] = {1, 2, 3, 4, 5, 6, 7};
    evwrite_spark_counters(&w, ts++, sc);
    evwrite_cap(&w, EVLOG_CAP_DISABLE, ts++, 1);
    evwrite_cap(&w, EVLOG_CAP_ENABLE, ts++, 1);
    evwrite_cap(&w, EVLOG_CONC_UPD_REM_SET_FLUSH, ts++, 1);
    evwrite_empty(&w, EVLOG_HACK_BUG_T9003, ts++);
    evwrite_msg(&w, EVLOG_USER_MARKER, ts++, "mark", 4);
    evwrite_msg(&w, EVLOG_LOG_MSG, ts++, "log line", 8);
    evwrite_thread_label(&w, ts++, 7, "w\303\251rker 1", 10);
    evwrite_block_end(&w, ts++);
    evwrite_block_begin(&w, 0xFFFF, ts++);
    evwrite_task_create(&w, ts++, 140000000000ull, 2, 4242);
    evwrite_task_migrate(&w, ts++, 140000000000ull, 0, 1);
    evwrite_task_delete(&w, ts++, 140000000000ull);
    for (uint16_t t = 0; t < 6; t++)
        evwrite_capset_create(&w, ts++, 3, t);
    const char *args[] = {"prog", "", "+RTS", "-l"};
    evwrite_capset_strings(&w, EVLOG_PROGRAM_ARGS, ts++, 0, args, 4);
    evwrite_capset_text(&w, EVLOG_PROGRAM_ARGS, ts++, 0, "", 0);
    evwrite_capset_text(&w, EVLOG_PROGRAM_ARGS, ts++, 0, "a\0\0b\0\0", 6);
    evwrite_capset_text(&w, EVLOG_PROGRAM_ENV, ts++, 0, "\0\0x=1", 5);
    evwrite_capset_text(&w, EVLOG_PROGRAM_ENV, ts++, 0, "HOME=/r\0PATH=/b\0", 16);
    evwrite_capset_text(&w, EVLOG_RTS_IDENTIFIER, ts++, 1, "GHC-9.0.2 rts_thr", 17);
    evwrite_pid(&w, EVLOG_OSPROCESS_PPID, ts++, 0, 17);
    evwrite_wall_clock(&w, ts++, 1, 1700000000, 999999999);
    evwrite_heap_info(&w, ts++, 0, 2, 0, 1048576, 1048576, 4096);
    evwrite_heap(&w, EVLOG_HEAP_LIVE, ts++, 0, 123456);
    const char *filters[7] = {"Main", "", "T", "cc", "ccs", "r", "b"};
    for (uint32_t b = 1; b <= 8; b++)
        evwrite_hp_begin(&w, ts++, 1, 10000000, b, b == 1 ? filters : NULL);
    evwrite_hp_cost_centre(&w, ts++, 42, "main", "Main", "Main.hs:3:1-10", 1);
    evwrite_hp_cost_centre(&w, ts++, 43, "f\303\251", "M", "<built-in>", 0);
    uint32_t stack[] = {42, 43, 4000000000u};
    evwrite_hp_sample_cc(&w, ts++, 1, 65536, 3, stack);
    evwrite_hp_sample_cc(&w, ts++, 1, 0, 0, stack);
    evwrite_era(&w, EVLOG_HEAP_PROF_SAMPLE_BEGIN, ts++, 5);
    evwrite_hp_sample_string(&w, ts++, 1, 4096, "ghc-prim:GHC.Types.:");
    evwrite_era(&w, EVLOG_HEAP_PROF_SAMPLE_END, ts++, 5);
    evwrite_bio_begin(&w, ts++, 6, 123456789);
    evwrite_prof_begin(&w, ts++, 10000000);
    evwrite_prof_sample(&w, ts++, 1, 77, 2, stack);
    evwrite_conc_mark_end(&w, ts++, 4096);
    evwrite_census(&w, ts++, 4, 1, 2, 3);
    uint8_t bin[256];
    for (int i = 0; i < 256; i++)
        bin[i] = (uint8_t)i;
    evwrite_msg(&w, EVLOG_USER_BINARY_MSG, ts++, bin, 256);
    evwrite_msg(&w, EVLOG_USER_BINARY_MSG, ts++, "", 0);
    evwrite_block_end(&w, ts++);
    evwrite_thread(&w, EVLOG_RUN_THREAD, ts++, 7); /* outside any block */
    evwrite_end(&w);
    CHECK(check_vs_ref("rare", &w, 0, NULL) == 0);
    evwrite_dispose(&w);
}

TEST(dump_ref_stop_statuses)
{
    evwrite_t w;
    gen_begin(&w);
    uint64_t ts = 1;
    for (uint16_t s = 0; s <= 24; s++)
        evwrite_stop_thread(&w, ts++, 5, s, s == 8 ? 0 : s);
    evwrite_stop_thread(&w, ts++, 5, 8, 77); /* BlockedOnBlackHoleOwnedBy 77 */
    evwrite_stop_thread(&w, ts++, 5, 100, 0);
    evwrite_stop_thread(&w, ts++, 4294967295u, 65535, 4294967295u);
    evwrite_end(&w);
    CHECK(check_vs_ref("stop statuses", &w, 0, NULL) == 0);
    evwrite_dispose(&w);
}

/* Appends the UTF-8 encoding of cp to s. */
static size_t utf8_put(uint8_t *s, uint32_t cp)
{
    if (cp < 0x80) return s[0] = (uint8_t)cp, 1;
    if (cp < 0x800) return s[0] = (uint8_t)(0xc0 | cp >> 6), s[1] = (uint8_t)(0x80 | (cp & 63)), 2;
    if (cp < 0x10000) {
        s[0] = (uint8_t)(0xe0 | cp >> 12);
        s[1] = (uint8_t)(0x80 | ((cp >> 6) & 63));
        s[2] = (uint8_t)(0x80 | (cp & 63));
        return 3;
    }
    s[0] = (uint8_t)(0xf0 | cp >> 18);
    s[1] = (uint8_t)(0x80 | ((cp >> 12) & 63));
    s[2] = (uint8_t)(0x80 | ((cp >> 6) & 63));
    s[3] = (uint8_t)(0x80 | (cp & 63));
    return 4;
}

TEST(dump_ref_strings)
{
    evwrite_t w;
    gen_begin(&w);
    uint64_t ts = 1;
    const char *spec = "tab\there\nnl \"q\" back\\ \001\177\302\200 \303\2519 \016H \303\210x end";
    evwrite_msg(&w, EVLOG_USER_MSG, ts++, spec, strlen(spec));
    const char *tricky[] = {"\0161",
                            "\016\016H",
                            "\177"
                            "1",
                            "\0001",
                            "\302\2000\302\200a",
                            "\\&",
                            "\"\"",
                            "H\016",
                            "\a\b\f\v\r\033\037 ~"};
    size_t lens[] = {2, 3, 2, 2, 6, 2, 2, 2, 9};
    for (size_t i = 0; i < 9; i++)
        evwrite_msg(&w, EVLOG_USER_MSG, ts++, tricky[i], lens[i]);
    static uint8_t all[8000];
    size_t n = 0;
    for (uint32_t cp = 1; cp < 0x800; cp++)
        n += utf8_put(all + n, cp);
    evwrite_msg(&w, EVLOG_USER_MSG, ts++, all, n);
    uint32_t high[] = {0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x1f680, 0x10ffff, '7'};
    n = 0;
    for (size_t i = 0; i < 8; i++)
        n += utf8_put(all + n, high[i]);
    evwrite_msg(&w, EVLOG_USER_MARKER, ts++, all, n);
    evwrite_thread_label(&w, ts++, 3, all, n);
    evwrite_end(&w);
    CHECK(check_vs_ref("strings", &w, 0, NULL) == 0);
    evwrite_dispose(&w);
}

/* A custom header: added types, other sizes (padding, too small, GCStatsGHC without its last
 * field), types without a parser. */
TEST(dump_ref_header_sizes)
{
    size_t nd;
    const evwrite_type_t *def = evwrite_default_types(&nd);
    evwrite_type_t types[100];
    memcpy(types, def, nd * sizeof *def);
    for (size_t i = 0; i < nd; i++) {
        if (types[i].num == EVLOG_RUN_THREAD) types[i].size = 6;
        if (types[i].num == EVLOG_GC_STATS_GHC) types[i].size = 50;
        if (types[i].num == EVLOG_TASK_MIGRATE) types[i].size = 11;
        if (types[i].num == EVLOG_NONMOVING_HEAP_CENSUS) types[i].size = 14;
    }
    evwrite_type_t more[] = {{17, 2, "Startup", NULL, 0},     {7, 0, "Shutdown", NULL, 0},
                             {90, 16, "Mem return", NULL, 0}, {91, 12, "Blocks size", NULL, 0},
                             {300, 3, "Mystery", NULL, 0},    {301, EVLOG_VAR_SIZE, "Var", NULL, 0},
                             {5, 0, "Unknown five", NULL, 0}};
    memcpy(types + nd, more, sizeof more);
    evwrite_t w;
    REQUIRE(evwrite_init(&w) == 0);
    REQUIRE(evwrite_header(&w, types, nd + sizeof more / sizeof more[0]) == 0);
    uint64_t ts = 1;
    evwrite_cap(&w, 17, ts++, 4);
    evwrite_event(&w, 7, ts++, "", 0);
    evwrite_event(&w, 90, ts++, "\0\0\0\1\0\0\0\2\0\0\0\3\0\0\0\4", 16);
    evwrite_event(&w, 91, ts++, "\0\0\0\1\0\0\0\0\0\0\1\0", 12);
    evwrite_event(&w, 300, ts++, "abc", 3);
    evwrite_event(&w, 301, ts++, "hello", 5);
    evwrite_event(&w, 5, ts++, "", 0);
    evwrite_event(&w, EVLOG_RUN_THREAD, ts++, "\0\0\0\7\1\2", 6);
    evwrite_gc_stats(&w, ts++, 0, 1, 2, 3, 4, 5, 6, 7, 8);
    evwrite_task_migrate(&w, ts++, 9, 0, 1);
    evwrite_event(&w, EVLOG_NONMOVING_HEAP_CENSUS, ts++, "\5\0\0\0\1\0\0\0\2\0\0\0\3\377", 14);
    evwrite_thread(&w, EVLOG_CREATE_THREAD, ts++, 1);
    evwrite_end(&w);
    CHECK(check_vs_ref("header sizes", &w, 0, NULL) == 0);
    evwrite_dispose(&w);
}

/* ghc-events 0.17.0.3 decodes text with decodeUtf8' and stops at invalid UTF-8; so does the hs
 * format (with our error line), while json replaces the bad bytes. */
TEST(dump_ref_invalid_text_stops)
{
    struct {
        uint16_t type;
        const char *text;
        size_t len;
    } cases[] = {
        {EVLOG_USER_MSG, "a\377b", 3},
        {EVLOG_USER_MSG, "x\303", 2},
        {EVLOG_USER_MARKER, "\300\257", 2},
        {EVLOG_LOG_MSG, "\355\240\200", 3},
        {EVLOG_THREAD_LABEL, "\364\220\200\200", 4},
        {EVLOG_PROGRAM_ARGS, "ok\0\342\202\0", 6},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        evwrite_t w;
        gen_begin(&w);
        evwrite_msg(&w, EVLOG_USER_MSG, 10, "before", 6);
        size_t at = evwrite_bytes(&w);
        if (cases[i].type == EVLOG_THREAD_LABEL)
            evwrite_thread_label(&w, 11, 1, cases[i].text, cases[i].len);
        else if (cases[i].type == EVLOG_PROGRAM_ARGS)
            evwrite_capset_text(&w, EVLOG_PROGRAM_ARGS, 11, 0, cases[i].text, cases[i].len);
        else
            evwrite_msg(&w, cases[i].type, 11, cases[i].text, cases[i].len);
        evwrite_msg(&w, EVLOG_USER_MSG, 12, "after", 5);
        evwrite_end(&w);
        char *err;
        int rc = check_vs_ref("invalid UTF-8", &w, 2, &err);
        char want[64];
        snprintf(want, sizeof want, " at byte %zu\n", at);
        CHECKF(rc == 1, "case %zu: exit %d", i, rc);
        CHECKF(!strncmp(err, "error: invalid UTF-8 in ", 24) && strstr(err, want) &&
                   strlen(strstr(err, want)) == strlen(want),
               "case %zu: stderr %s", i, err);
        free(err);
        evwrite_dispose(&w);
    }
    /* An unknown heap profile breakdown stops ghc-events too. */
    evwrite_t w;
    gen_begin(&w);
    evwrite_hp_begin(&w, 1, 0, 0, 9, NULL);
    evwrite_end(&w);
    char *err;
    CHECK(check_vs_ref("breakdown 9", &w, 2, &err) == 1);
    CHECKF(!strcmp(err, "error: unknown heapProfBreakdown 9 in HeapProfBegin at byte 2688\n"),
           "stderr %s", err);
    free(err);
    evwrite_dispose(&w);
}
