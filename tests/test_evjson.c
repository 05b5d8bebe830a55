/* `liveprof dump --format json`: every line parses and matches the hs dump's timestamp,
 * capability and constructor; exact lines for real and generated events. */
#include "test.h"

#include "dumputil.h"
#include "evlog.h"
#include "evwrite.h"

#include <stdlib.h>
#include <string.h>

/* Each json line must carry the ts, cap and constructor of the matching hs line, and parse. */
static void check_json_vs_hs(const char *log)
{
    char rel[256], args[600];
    snprintf(rel, sizeof rel, "eventlogs/%s.eventlog", log);
    snprintf(args, sizeof args, "'%s' --format json", tu_data(rel));
    du_run_t r;
    du_run(&r, args);
    CHECK(r.rc == 0 && r.err_len == 0);
    du_text_t d;
    du_text_load(&d, log);
    size_t lines = 0, at = 0;
    while (at < r.out_len) {
        char *nl = memchr(r.out + at, '\n', r.out_len - at);
        REQUIRE(nl);
        REQUIRE(lines < d.nev);
        unsigned long long ts;
        char cap[16], name[64], want[160];
        REQUIRE(sscanf((char *)d.buf + d.ev_start[lines], "%llu %15s %63[A-Za-z]", &ts, cap,
                       name) == 3);
        int n = snprintf(want, sizeof want, "{\"ts\":%llu,\"cap\":%s,\"type\":", ts,
                         strcmp(cap, "-") ? cap : "null");
        CHECKF(!strncmp((char *)r.out + at, want, (size_t)n), "%s line %zu: %.*s", log, lines + 1,
               (int)(nl - (char *)r.out - at), r.out + at);
        snprintf(want, sizeof want, ",\"name\":\"%s\",\"fields\":{", name);
        *nl = 0;
        CHECKF(strstr((char *)r.out + at, want) && nl[-1] == '}' && nl[-2] == '}',
               "%s line %zu: %s", log, lines + 1, r.out + at);
        *nl = '\n';
        at = (size_t)(nl - (char *)r.out) + 1;
        lines++;
    }
    CHECKF(lines == d.nev, "%s: %zu json lines, %zu events", log, lines, d.nev);
    /* Every line is a JSON object of the documented shape (python's json module). */
    const char *path = du_tmp_path("out.json");
    du_write_file(path, r.out, r.out_len);
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,sys\n"
             "for l in open(sys.argv[1], encoding=\"utf-8\"):\n"
             "  o = json.loads(l)\n"
             "  assert sorted(o) == [\"cap\",\"fields\",\"name\",\"ts\",\"type\"], l\n"
             "  assert isinstance(o[\"fields\"], dict), l\n' '%s'",
             path);
    CHECKF(tu_run(cmd, NULL, NULL) == 0, "%s: python3 rejects the json", log);
    du_text_free(&d);
    du_run_free(&r);
}

TEST(dump_json_concurrent)
{
    check_json_vs_hs("concurrent");
}
TEST(dump_json_heap)
{
    check_json_vs_hs("heap");
}
TEST(dump_json_fib_labels)
{
    check_json_vs_hs("fib-labels");
}

/* Finds the json line of the event with timestamp ts in out and compares it with want. */
static void check_json_line(const uint8_t *out, size_t len, unsigned long long ts, const char *want)
{
    char key[40];
    int n = snprintf(key, sizeof key, "{\"ts\":%llu,", ts);
    const char *p = memmem(out, len, key, (size_t)n);
    CHECKF(p, "no json line for ts %llu", ts);
    if (!p) return;
    const char *e = memchr(p, '\n', len - (size_t)(p - (const char *)out));
    size_t l = e ? (size_t)(e - p) : strlen(p);
    CHECKF(l == strlen(want) && !memcmp(p, want, l), "ts %llu:\n  got:  %.*s\n  want: %s", ts,
           (int)l, p, want);
}

TEST(dump_json_exact_lines)
{
    char args[600];
    snprintf(args, sizeof args, "'%s' --format=json", tu_data("eventlogs/fib-labels.eventlog"));
    du_run_t r;
    du_run(&r, args);
    CHECK(r.rc == 0);
    check_json_line(r.out, r.out_len, 212809,
                    "{\"ts\":212809,\"cap\":0,\"type\":34,\"name\":\"SparkCounters\",\"fields\":{"
                    "\"sparksCreated\":0,\"sparksDud\":0,\"sparksOverflowed\":0,"
                    "\"sparksConverted\":0,\"sparksFizzled\":0,\"sparksGCd\":0,"
                    "\"sparksRemaining\":0}}");
    check_json_line(r.out, r.out_len, 5082681,
                    "{\"ts\":5082681,\"cap\":0,\"type\":19,\"name\":\"UserMessage\",\"fields\":{"
                    "\"msg\":\"START round-w3\"}}");
    check_json_line(r.out, r.out_len, 952115,
                    "{\"ts\":952115,\"cap\":0,\"type\":2,\"name\":\"StopThread\",\"fields\":{"
                    "\"thread\":2,\"status\":\"ForeignCall\"}}");
    check_json_line(r.out, r.out_len, 6024717,
                    "{\"ts\":6024717,\"cap\":0,\"type\":53,\"name\":\"GCStatsGHC\",\"fields\":{"
                    "\"heapCapset\":0,\"gen\":0,\"copied\":30328,\"slop\":10664,\"frag\":897024,"
                    "\"parNThreads\":2,\"parMaxCopied\":27784,\"parTotCopied\":30328,"
                    "\"parBalancedCopied\":5024}}");
    du_run_free(&r);

    /* Generated events: escapes, invalid UTF-8, Maybe, enums, lists, unknown types. */
    size_t nd;
    const evwrite_type_t *def = evwrite_default_types(&nd);
    evwrite_type_t types[100];
    memcpy(types, def, nd * sizeof *def);
    for (size_t i = 0; i < nd; i++)
        if (types[i].num == EVLOG_GC_STATS_GHC) types[i].size = 50;
    types[nd] = (evwrite_type_t){300, 3, "Mystery", NULL, 0};
    evwrite_t w;
    REQUIRE(evwrite_init(&w) == 0);
    REQUIRE(evwrite_header(&w, types, nd + 1) == 0);
    evwrite_block_begin(&w, 1, 1);
    evwrite_msg(&w, EVLOG_USER_MSG, 2, "q\"b\\\n\t\001\177 \303\251 \377\342\202!", 16);
    evwrite_stop_thread(&w, 3, 5, 8, 77);
    evwrite_gc_stats(&w, 4, 0, 1, 2, 3, 4, 5, 6, 7, 8);
    evwrite_block_end(&w, 5);
    evwrite_capset_create(&w, 6, 1, 3);
    const char *args2[] = {"prog", "-x", ""};
    evwrite_capset_strings(&w, EVLOG_PROGRAM_ARGS, 7, 0, args2, 3);
    evwrite_msg(&w, EVLOG_USER_BINARY_MSG, 8, "\000\377A", 3);
    evwrite_event(&w, 300, 9, "abc", 3);
    evwrite_task_create(&w, 10, 1, 2, 3);
    evwrite_hp_begin(&w, 11, 1, 2, 9, NULL);
    uint32_t stack[] = {4, 5};
    evwrite_hp_sample_cc(&w, 12, 1, 100, 2, stack);
    evwrite_end(&w);
    REQUIRE(evwrite_error(&w) == 0);
    size_t n;
    const uint8_t *p = evwrite_data(&w, &n);
    const char *path = du_tmp_path("gen.eventlog");
    du_write_file(path, p, n);
    snprintf(args, sizeof args, "--format json '%s'", path);
    du_run(&r, args);
    CHECK(r.rc == 0 && r.err_len == 0);
    check_json_line(
        r.out, r.out_len, 2,
        "{\"ts\":2,\"cap\":1,\"type\":19,\"name\":\"UserMessage\",\"fields\":{\"msg\":"
        "\"q\\\"b\\\\\\n\\t\\u0001\177 \303\251 \357\277\275\357\277\275\357\277\275!\"}}");
    check_json_line(
        r.out, r.out_len, 3,
        "{\"ts\":3,\"cap\":1,\"type\":2,\"name\":\"StopThread\",\"fields\":{\"thread\":5,"
        "\"status\":\"BlockedOnBlackHoleOwnedBy\",\"blackHoleOwner\":77}}");
    check_json_line(r.out, r.out_len, 4,
                    "{\"ts\":4,\"cap\":1,\"type\":53,\"name\":\"GCStatsGHC\",\"fields\":{"
                    "\"heapCapset\":0,\"gen\":1,\"copied\":2,\"slop\":3,\"frag\":4,"
                    "\"parNThreads\":5,\"parMaxCopied\":6,\"parTotCopied\":7,"
                    "\"parBalancedCopied\":null}}");
    check_json_line(r.out, r.out_len, 6,
                    "{\"ts\":6,\"cap\":null,\"type\":25,\"name\":\"CapsetCreate\",\"fields\":{"
                    "\"capset\":1,\"capsetType\":\"CapsetClockDomain\"}}");
    check_json_line(r.out, r.out_len, 7,
                    "{\"ts\":7,\"cap\":null,\"type\":30,\"name\":\"ProgramArgs\",\"fields\":{"
                    "\"capset\":0,\"args\":[\"prog\",\"-x\"]}}");
    check_json_line(r.out, r.out_len, 8,
                    "{\"ts\":8,\"cap\":null,\"type\":181,\"name\":\"UserBinaryMessage\","
                    "\"fields\":{\"payload\":\"00ff41\"}}");
    check_json_line(r.out, r.out_len, 9,
                    "{\"ts\":9,\"cap\":null,\"type\":300,\"name\":\"UnknownEvent\",\"fields\":{"
                    "\"ref\":300}}");
    check_json_line(r.out, r.out_len, 10,
                    "{\"ts\":10,\"cap\":null,\"type\":55,\"name\":\"TaskCreate\",\"fields\":{"
                    "\"taskId\":1,\"cap\":2,\"tid\":3}}");
    check_json_line(r.out, r.out_len, 11,
                    "{\"ts\":11,\"cap\":null,\"type\":160,\"name\":\"HeapProfBegin\",\"fields\":{"
                    "\"heapProfId\":1,\"heapProfSamplingPeriod\":2,\"heapProfBreakdown\":null,"
                    "\"heapProfModuleFilter\":\"\",\"heapProfClosureDescrFilter\":\"\","
                    "\"heapProfTypeDescrFilter\":\"\",\"heapProfCostCentreFilter\":\"\","
                    "\"heapProfCostCentreStackFilter\":\"\",\"heapProfRetainerFilter\":\"\","
                    "\"heapProfBiographyFilter\":\"\"}}");
    check_json_line(r.out, r.out_len, 12,
                    "{\"ts\":12,\"cap\":null,\"type\":163,\"name\":\"HeapProfSampleCostCentre\","
                    "\"fields\":{\"heapProfId\":1,\"heapProfResidency\":100,"
                    "\"heapProfStackDepth\":2,\"heapProfStack\":[4,5]}}");
    size_t lines = 0;
    for (size_t i = 0; i < r.out_len; i++)
        lines += r.out[i] == '\n';
    CHECK_EQ_U64(lines, 10);
    du_run_free(&r);
    evwrite_dispose(&w);
}
