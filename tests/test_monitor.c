/* The monitor's program state: units, overlap (no duplicate), jumps (explicit gaps), trimming
 * into the late-joiner state, released backlogs of ended programs, the registry's limits; and
 * its command line. */
#include "test.h"

#include "evlog.h"
#include "program.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void mon_init(monitor_t *m, size_t cap)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    m->backlog_cap = cap;
}

/* Concatenates the backlog's bytes; counts gap units. */
static size_t backlog_bytes(const monitor_t *m, const program_t *p, uint8_t *out, int *gaps)
{
    size_t n = 0;
    *gaps = 0;
    for (const unit_t *u = p->head; u; u = u->next) {
        if (u->gap) ++*gaps;
        program_unit_read(m, u, out + n);
        n += u->len;
    }
    return n;
}

TEST(monitor_program_units)
{
    monitor_t m;
    mon_init(&m, 1 << 30);
    program_t *p = program_get(&m, "p", true);
    REQUIRE(p && program_get(&m, "p", false) == p);
    uint8_t hdr[10] = "0123456789", d[200000], out[400000];
    for (size_t i = 0; i < sizeof d; i++)
        d[i] = (uint8_t)(i * 31);
    program_header(&m, p, hdr, sizeof hdr);
    CHECK_EQ_U64(p->end, 10);
    program_commit(&m, p, 10, d, 100000);
    program_commit(&m, p, 10, d, 50000);             /* already held: dropped */
    program_commit(&m, p, 50010, d + 50000, 100000); /* overlaps: only the new tail */
    CHECK_EQ_U64(p->end, 150010);
    int gaps;
    size_t n = backlog_bytes(&m, p, out, &gaps);
    CHECK(n == 150000 && memcmp(out, d, n) == 0 && gaps == 0);
    program_commit(&m, p, 160010, d, 1000); /* a jump: a gap unit first */
    CHECK_EQ_U64(p->gaps, 1);
    CHECK_EQ_U64(p->gap_bytes, 10000);
    CHECK_EQ_U64(p->end, 161010);
    const unit_t *u = program_unit_at(p, 150010);
    REQUIRE(u);
    CHECK(u->gap == 10000 && u->offset == 150010);
    u = program_unit_at(p, 10);
    CHECK(u && u->offset == 10 && (u->flags & WIRE_FLAG_BLOCK_START));
    for (u = p->head; u; u = u->next)
        CHECK(u->len <= WIRE_MAX_DATA);
    program_gap(&m, p, 100, 50); /* inside what is held: nothing */
    CHECK_EQ_U64(p->gaps, 1);
    program_free_all(&m);
}

/* Units stored as their frames arrive and committed whole (the ingest's way): a unit sent again
 * after a lost link overlaps what is held mid-piece and adds only its new bytes; one cut short
 * is freed without a trace; the tee gets exactly the committed bytes. */
static unit_t *chain(monitor_t *m, uint64_t off, const uint8_t *d, size_t n, size_t piece)
{
    unit_t *head = NULL, **tail = &head;
    for (size_t at = 0; at < n; at += piece) {
        *tail = program_unit_new(m, off + at, d + at, n - at < piece ? n - at : piece);
        tail = &(*tail)->next;
    }
    return head;
}

TEST(monitor_commit_stored_units)
{
    monitor_t m;
    mon_init(&m, 1 << 30);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/tee-units", tu_tmpdir());
    mkdir(dir, 0755);
    m.tee_dir = dir;
    program_t *p = program_get(&m, "q", true);
    static uint8_t d[300000], out[600000];
    for (size_t i = 0; i < sizeof d; i++)
        d[i] = (uint8_t)(i * 13 + 1);
    program_header(&m, p, d, 100);
    program_commit_units(&m, p, chain(&m, 100, d + 100, 100000, 30000));
    program_units_free(&m, chain(&m, 100100, d + 100100, 50000, 30000)); /* cut short */
    /* the same unit again from 70100 (mid-piece of what is held) to 200100 */
    program_commit_units(&m, p, chain(&m, 70100, d + 70100, 130000, WIRE_MAX_DATA));
    CHECK_EQ_U64(p->end, 200100);
    int gaps;
    size_t n = backlog_bytes(&m, p, out, &gaps);
    CHECK(n == 200000 && memcmp(out, d + 100, n) == 0 && gaps == 0);
    int starts = 0, ends = 0;
    for (const unit_t *u = p->head; u; u = u->next) {
        starts += (u->flags & WIRE_FLAG_BLOCK_START) != 0;
        ends += (u->flags & WIRE_FLAG_BLOCK_END) != 0;
    }
    CHECK(starts == 2 && ends == 2);
    program_commit_units(&m, p, chain(&m, 100, d + 100, 1000, 500));       /* all held: dropped */
    program_commit_units(&m, p, chain(&m, 210100, d + 210100, 1000, 500)); /* a jump */
    CHECK_EQ_U64(p->gap_bytes, 10000);
    char path[600];
    snprintf(path, sizeof path, "%s/q.eventlog", dir);
    size_t tn = 0;
    uint8_t *tee = tu_read_file(path, &tn);
    REQUIRE(tee);
    CHECK(tn == 200100 + 1000 && memcmp(tee, d, 200100) == 0 &&
          memcmp(tee + 200100, d + 210100, 1000) == 0);
    free(tee);
    size_t held = m.units.chunks;
    program_free_all(&m);
    CHECK(held > 0 && m.units.chunks == 0);
}

/* Trimming keeps the backlog starting at a whole block: a subscriber that resumes at its head
 * after a gap gets a block's first unit, never the middle of a block whose start was dropped
 * (the server takes that for data out of order and drops the link). */
TEST(monitor_trim_keeps_whole_blocks)
{
    monitor_t m;
    mon_init(&m, 150000);
    program_t *p = program_get(&m, "p", true);
    REQUIRE(p);
    uint8_t hdr[10] = "0123456789", d[100000];
    memset(d, 7, sizeof d);
    program_header(&m, p, hdr, sizeof hdr);
    for (int b = 0; b < 5; b++) { /* blocks of two units each (WIRE_MAX_DATA + the rest) */
        program_commit(&m, p, 10 + (uint64_t)b * sizeof d, d, sizeof d);
        REQUIRE(p->head);
        CHECKF(p->head->gap || (p->head->flags & WIRE_FLAG_BLOCK_START),
               "block %d: the backlog starts at offset %llu, inside a block", b,
               (unsigned long long)p->head->offset);
        CHECKF(p->bytes <= m.backlog_cap || p->head->next == NULL, "block %d: %zu bytes held", b,
               p->bytes);
    }
    program_free_all(&m);
}

/* A real log through a small backlog: what leaves it becomes the late-joiner state, whose
 * events (after the header) decode and name the labelled threads; once the whole backlog is
 * folded in (the program ended long ago) the capabilities are there too. */
static int state_event(void *ctx, const evlog_event_t *ev)
{
    int *c = ctx;
    if (ev->type == EVLOG_CAP_CREATE) c[0]++;
    if (ev->type == EVLOG_THREAD_LABEL) c[1]++;
    if (ev->type == EVLOG_WALL_CLOCK_TIME) c[2]++;
    return 0;
}

TEST(monitor_program_joiner_state)
{
    size_t n = 0;
    uint8_t *d = tu_read_file(tu_data("eventlogs/concurrent.eventlog"), &n);
    REQUIRE(d);
    const uint8_t *datb = memmem(d, n, "datb", 4);
    REQUIRE(datb);
    size_t h = (size_t)(datb - d) + 4;
    monitor_t m;
    mon_init(&m, 65536);
    program_t *p = program_get(&m, "c", true);
    program_header(&m, p, d, h);
    for (size_t at = h; at < n; at += 4096)
        program_commit(&m, p, at, d + at, at + 4096 < n ? 4096 : n - at);
    CHECK(p->bytes <= 65536 + 2 * (WIRE_MAX_DATA + sizeof(unit_t)));
    CHECK(p->head->offset > h);
    size_t sn = 0;
    uint8_t *st = program_state(p, &sn);
    REQUIRE(st && sn > 0);
    /* header + state decodes as a log */
    uint8_t *log = malloc(h + sn);
    memcpy(log, d, h);
    memcpy(log + h, st, sn);
    int counts[3] = {0};
    evlog_t dec;
    evlog_sink_t sink = {.on_event = state_event, .ctx = counts};
    REQUIRE(evlog_init(&dec, &sink) == 0);
    CHECK(evlog_feed(&dec, log, h + sn) == 0);
    CHECK(evlog_finish(&dec) == 0);
    evlog_dispose(&dec);
    CHECK(counts[1] > 0);
    free(log);
    free(st);
    p->acked = p->end; /* a subscriber holds all of it */
    program_end(&m, p);
    for (int i = 0; i < MONITOR_KEEP_ENDED; i++) { /* newer ended programs push it out */
        char id[16];
        snprintf(id, sizeof id, "x%d", i);
        program_t *x = program_get(&m, id, true);
        program_header(&m, x, d, h);
        program_commit(&m, x, h, d + h, 100);
        x->acked = x->end;
        program_end(&m, x);
    }
    CHECK(p->head == NULL);
    st = program_state(p, &sn);
    REQUIRE(st);
    log = malloc(h + sn);
    memcpy(log, d, h);
    memcpy(log + h, st, sn);
    memset(counts, 0, sizeof counts);
    REQUIRE(evlog_init(&dec, &sink) == 0);
    CHECK(evlog_feed(&dec, log, h + sn) == 0);
    evlog_dispose(&dec);
    CHECK(counts[0] >= 2);
    CHECK(counts[2] == 1);
    free(log);
    free(st);
    free(d);
    program_free_all(&m);
}

TEST(monitor_program_end_and_limits)
{
    monitor_t m;
    mon_init(&m, 1 << 20);
    uint8_t hdr[4] = "hdrb", d[1000] = {0};
    char id[32];
    for (int i = 0; i < MONITOR_KEEP_ENDED + 3; i++) {
        snprintf(id, sizeof id, "p%d", i);
        program_t *p = program_get(&m, id, true);
        program_header(&m, p, hdr, 4);
        program_commit(&m, p, 4, d, sizeof d);
        p->acked = p->end;
        program_end(&m, p);
    }
    int with_backlog = 0;
    for (size_t i = 0; i < m.nprogs; i++)
        with_backlog += m.progs[i]->head != NULL;
    CHECK_EQ_U64(with_backlog, MONITOR_KEEP_ENDED);
    CHECK(m.progs[0]->head == NULL && m.progs[0]->hdr != NULL); /* the oldest: header kept */
    /* a full registry forgets the oldest ended program, never a running one */
    for (int i = (int)m.nprogs; i < MONITOR_MAX_PROGRAMS; i++) {
        snprintf(id, sizeof id, "q%d", i);
        program_t *p = program_get(&m, id, true);
        REQUIRE(p);
        p->connected = true;
    }
    CHECK(program_get(&m, "new", true) != NULL);
    CHECK(program_get(&m, "p0", false) == NULL);
    for (size_t i = 0; i < m.nprogs; i++)
        m.progs[i]->ended = false;
    CHECK(program_get(&m, "another", true) == NULL);
    program_free_all(&m);
}

/* Ended programs a subscriber has not fully acknowledged keep their backlogs (a server that
 * subscribes late still gets every byte) within a budget of MONITOR_UNACKED_BACKLOGS x the
 * backlog cap, oldest released first; an acknowledgement lets the usual limit apply. */
TEST(monitor_unacked_backlogs_kept_within_budget)
{
    monitor_t m;
    mon_init(&m, 65536);
    uint8_t hdr[4] = "hdrb", d[60000] = {0};
    char id[32];
    int n = MONITOR_KEEP_ENDED + 2 * MONITOR_UNACKED_BACKLOGS;
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "u%d", i);
        program_t *p = program_get(&m, id, true);
        program_header(&m, p, hdr, 4);
        program_commit(&m, p, 4, d, sizeof d);
        program_end(&m, p);
    }
    int with_backlog = 0;
    for (size_t i = 0; i < m.nprogs; i++)
        with_backlog += m.progs[i]->head != NULL;
    /* each backlog holds about 60 KB of a 256 KiB budget: the newest four stay */
    CHECK_EQ_U64(with_backlog, MONITOR_UNACKED_BACKLOGS);
    CHECK(m.progs[n - 1]->head != NULL && m.progs[0]->head == NULL);
    for (size_t i = 0; i < m.nprogs; i++) /* delivered at last: the usual limit */
        m.progs[i]->acked = m.progs[i]->end;
    snprintf(id, sizeof id, "last");
    program_t *p = program_get(&m, id, true);
    program_header(&m, p, hdr, 4);
    program_end(&m, p);
    with_backlog = 0;
    for (size_t i = 0; i < m.nprogs; i++)
        with_backlog += m.progs[i]->head != NULL;
    CHECK(with_backlog <= MONITOR_KEEP_ENDED);
    program_free_all(&m);
}

/* The monitor's command line: --help on stdout with status 0; each mistake named on stderr,
 * with status 2, before anything starts. */
TEST(monitor_command_line)
{
    REQUIRE(access("build/liveprof-monitor", X_OK) == 0);
    uint8_t *out = NULL;
    size_t n = 0;
    CHECK(tu_run("build/liveprof-monitor --help 2>/dev/null", &out, &n) == 0);
    CHECKF(out && strstr((char *)out, "usage: liveprof-monitor --socket PATH") &&
               strstr((char *)out, "  --backlog BYTES"),
           "%s", out ? (char *)out : "");
    free(out);
    static const char *const cases[][2] = {
        {"--bogus", "unknown option '--bogus'"},
        {"--socket", "--socket needs a value"},
        {"--listen 127.0.0.1:0", "--socket PATH is required"},
        {"--socket S", "at least one of --listen and --push is required"},
        {"--socket S --listen :0", "--listen takes ADDR:PORT (port 0 to 65535), not ':0'"},
        {"--socket S --listen h:70000", "not 'h:70000'"},
        {"--socket S --listen h:1 --backlog 1k", "--backlog takes a size of at least 64K"},
        {"--socket S --listen h:1 --timeout 9x", "--timeout takes seconds from 2 to 3600"},
        {"--socket S --listen h:1 --exec", "--exec needs a program"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "build/liveprof-monitor %s 2>&1 >/dev/null", cases[i][0]);
        out = NULL;
        int rc = tu_run(cmd, &out, &n);
        CHECKF(rc == 2 && out && strstr((char *)out, cases[i][1]) &&
                   strstr((char *)out, "'liveprof-monitor --help' lists the options."),
               "%s: exit %d: %s", cases[i][0], rc, out ? (char *)out : "");
        free(out);
    }
    /* a --push URL that is not ws://HOST:PORT[/PATH]: named, status 1, nothing dialled */
    static const char *const urls[] = {"ws://127.0.0.1:12abc/monitor", "ws://:80/monitor",
                                       "http://127.0.0.1:80/monitor", "ws://h:0/monitor"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd,
                 "timeout 5 build/liveprof-monitor --socket %s/push.sock --push %s 2>&1 >/dev/null",
                 tu_tmpdir(), urls[i]);
        out = NULL;
        int rc = tu_run(cmd, &out, &n);
        CHECKF(rc == 1 && out && strstr((char *)out, "bad --push URL") &&
                   !strstr((char *)out, "failed: Unable to connect"),
               "%s: exit %d: %s", urls[i], rc, out ? (char *)out : "");
        free(out);
    }
}
