/* The leech's RTS side (leech/leech.c) without a Haskell runtime: writer callbacks from several
 * threads at once, as the RTS's capabilities make them, against the real monitor. Every buffer
 * reaches the monitor's tee exactly once, whole, in each thread's order, whether it went out
 * from the callback itself (an idle link) or through the queue (a global block, a busy link). The
 * RTS entry points the leech calls are provided here. One leech per process: only this file drives
 * it. */
#include "liveprof_leech.h"
#undef CHECK /* Rts.h's own; the tests' CHECK follows */

#include "caputil.h"
#include "evwrite.h"
#include "test.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint32_t enabled_capabilities = 2;
static char *writer_argv[] = {"leech-writer-test", NULL};
void getProgArgv(int *argc, char **argv[])
{
    *argc = 1;
    *argv = writer_argv;
}
enum EventLogStatus eventLogStatus(void)
{
    return EVENTLOG_RUNNING;
}
bool startEventLogging(const EventLogWriter *w)
{
    (void)w;
    return true;
}
void endEventLogging(void) {}

enum { THREADS = 3, BUFFERS = 40, PACED = THREADS }; /* PACED: the main thread's buffers */

/* Buffer `seq` of thread `t`: a size from 1 KiB to about 700 KiB; its first bytes name it (and
 * are no block marker: event type 0), the rest is a pattern of both. */
static size_t buffer_len(int t, int seq)
{
    return 1024 + (size_t)((seq * 7919 + t * 104729) % (700 << 10));
}

static void buffer_fill(uint8_t *b, size_t n, int t, int seq)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(i * 7 + (size_t)t * 31 + (size_t)seq);
    b[0] = b[1] = 0;
    b[2] = (uint8_t)t;
    b[3] = (uint8_t)seq;
    memcpy(b + 4, &n, sizeof(uint32_t));
}

static void *writer(void *arg)
{
    int t = (int)(intptr_t)arg;
    uint8_t *b = malloc(800 << 10);
    for (int seq = 0; seq < BUFFERS; seq++) {
        size_t n = buffer_len(t, seq);
        buffer_fill(b, n, t, seq);
        liveprof_leech_writer.writeEventLog(b, n); /* the RTS reuses its buffer right after */
        if (seq % 8 == 7) usleep(2000);
    }
    free(b);
    return NULL;
}

TEST(leech_concurrent_writers_deliver_every_buffer_once)
{
    mon_t m;
    cap_mon_start(&m, "writers", 0, "");
    setenv("LIVEPROF_SOCKET", m.sock, 1);
    setenv("LIVEPROF_PROGRAM", "writers", 1);
    size_t ln = 0;
    uint8_t *log = tu_read_file(tu_data("eventlogs/leech-main.eventlog"), &ln);
    REQUIRE(log);
    const uint8_t *datb = memmem(log, ln, "datb", 4);
    REQUIRE(datb);
    size_t hlen = (size_t)(datb - log) + 4;
    /* a global block (init events may be in it): always repaired, so always queued */
    evwrite_t w;
    REQUIRE(evwrite_init(&w) == 0);
    REQUIRE(evwrite_block_begin(&w, 0xFFFF, 1) == 0);
    REQUIRE(evwrite_block_end(&w, 2) == 0);
    size_t glen = 0;
    const uint8_t *global = evwrite_data(&w, &glen);
    liveprof_leech_writer.initEventLogWriter();
    liveprof_leech_writer.writeEventLog(log, hlen);
    liveprof_leech_writer.writeEventLog((void *)global, glen);
    liveprof_leech_stats_t st;
    for (int i = 0; i < 500; i++) { /* connected, everything sent: the link is idle */
        liveprof_leech_stats(&st);
        if (st.bytes_sent == hlen + glen) break;
        usleep(10000);
    }
    CHECK_EQ_U64(st.bytes_sent, hlen + glen);
    CHECK_EQ_U64(st.sent_direct, 0);
    uint8_t *b = malloc(800 << 10);
    size_t total = hlen + glen;
    for (int seq = 0; seq < 5; seq++) { /* one at a time: these go from the callback */
        size_t k = buffer_len(PACED, seq);
        buffer_fill(b, k, PACED, seq);
        liveprof_leech_writer.writeEventLog(b, k);
        total += k;
        usleep(20000);
    }
    free(b);
    liveprof_leech_stats(&st);
    CHECKF(st.sent_direct >= 1, "%llu of 5 paced buffers sent from the callback",
           (unsigned long long)st.sent_direct);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        REQUIRE(pthread_create(&th[t], NULL, writer, (void *)(intptr_t)t) == 0);
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        for (int seq = 0; seq < BUFFERS; seq++)
            total += buffer_len(t, seq);
    }
    liveprof_leech_writer.stopEventLogWriter(); /* returns once everything is sent */
    liveprof_leech_stats(&st);
    CHECK_EQ_U64(st.bytes_in, total);
    CHECK_EQ_U64(st.bytes_sent, total);
    CHECK_EQ_U64(st.bytes_dropped, 0);

    char tee[600];
    snprintf(tee, sizeof tee, "%s/writers.eventlog", m.tee);
    for (int i = 0; i < 500 && cap_file_size(tee) < (long long)total; i++)
        usleep(10000);
    size_t n = 0;
    uint8_t *d = tu_read_file(tee, &n);
    REQUIRE(d);
    CHECK_EQ_U64(n, total);
    CHECK(memcmp(d, log, hlen) == 0 && memcmp(d + hlen, global, glen) == 0);
    int next[THREADS + 1] = {0};
    uint8_t *want = malloc(800 << 10);
    bool ok = true;
    for (size_t at = hlen + glen; ok && at + 8 <= n;) {
        int t = d[at + 2], seq = d[at + 3];
        ok = t <= PACED && seq == next[t] && (t == PACED || next[PACED] == 5);
        CHECKF(ok, "at %zu: buffer %d of thread %d, expected %d", at, seq, t,
               t <= PACED ? next[t] : -1);
        if (!ok) break;
        size_t k = buffer_len(t, seq);
        buffer_fill(want, k, t, seq);
        ok = at + k <= n && memcmp(d + at, want, k) == 0;
        CHECKF(ok, "buffer %d of thread %d differs", seq, t);
        next[t]++;
        at += k;
    }
    for (int t = 0; t < THREADS; t++)
        CHECK(next[t] == BUFFERS);
    CHECK(next[PACED] == 5);
    evwrite_dispose(&w);
    free(want);
    free(d);
    free(log);
    cap_mon_stop(&m, SIGTERM);
}
