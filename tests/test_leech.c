/* The leech's RTS-independent parts: the capped queue (whole entries dropped oldest first,
 * never the one in flight), the link's direct send and stream repair on the recorded leech captures
 * of
 * ../shared/data (junk before the header, repeated headers, missing init events). */
#include "test.h"

#include "err.h"
#include "evlog.h"
#include "evwrite.h"
#include "leech_link.h"
#include "leech_queue.h"
#include "leech_repair.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

TEST(leech_queue_cap)
{
    leech_queue_t q;
    REQUIRE(leech_queue_init(&q, 100000) == 0);
    uint8_t buf[30000];
    memset(buf, 1, sizeof buf);
    for (int i = 0; i < 10; i++) { /* repaired entries at offsets 0, 30000, ... */
        lq_entry_t *e = leech_queue_entry(NULL, sizeof buf);
        memcpy(e->data, buf, sizeof buf);
        e->offset = (uint64_t)i * sizeof buf;
        leech_queue_put_out(&q, e);
    }
    CHECK(q.bytes <= 100000);
    CHECK_EQ_U64(q.dropped_total, 7 * sizeof buf);
    lq_entry_t *e = leech_queue_peek_out(&q);
    REQUIRE(e);
    CHECK_EQ_U64(e->offset, 7 * sizeof buf); /* the newest whole entries are kept */
    /* the entry in flight survives further pressure; the one after it goes */
    lq_entry_t *f = leech_queue_entry(NULL, 90000);
    f->offset = 10 * sizeof buf;
    leech_queue_put_out(&q, f);
    CHECK(leech_queue_peek_out(&q) == e);
    leech_queue_done_out(&q, true);
    e = leech_queue_peek_out(&q);
    REQUIRE(e);
    CHECK_EQ_U64(e->offset, 10 * sizeof buf);
    leech_queue_done_out(&q, true);
    CHECK(leech_queue_peek_out(&q) == NULL);
    leech_queue_done_out(&q, false);
    /* raw entries are kept until the header is safe, then dropped and counted */
    for (int i = 0; i < 5; i++)
        CHECK(leech_queue_put_raw(&q, buf, sizeof buf, 2));
    CHECK_EQ_U64(q.raw_dropped, 0);
    q.raw_droppable = true;
    CHECK(leech_queue_put_raw(&q, buf, sizeof buf, 2));
    CHECK(q.raw_dropped >= 3 * sizeof buf);
    uint64_t dropped = 0;
    lq_entry_t *r = leech_queue_take_raw(&q, 0, &dropped);
    CHECK(r && r->offset == 2 && dropped >= 3 * sizeof buf);
    free(r);
    leech_queue_dispose(&q);
}

typedef struct counts {
    uint64_t events, caps, warnings;
} counts_t;

static int count_event(void *ctx, const evlog_event_t *ev)
{
    counts_t *c = ctx;
    c->events += ev->type != EVLOG_BLOCK_MARKER;
    c->caps += ev->type == EVLOG_CAP_CREATE;
    return 0;
}

static void count_warning(void *ctx, evlog_warning_t w, uint64_t offset, uint64_t count)
{
    (void)w, (void)offset, (void)count;
    ((counts_t *)ctx)->warnings++;
}

/* Repairs `log` fed as writer calls of `chunk` bytes in one session (attached or not) and
 * returns the repaired stream (malloc'd). */
static uint8_t *repair(const char *log, size_t chunk, bool attached, size_t *out_len,
                       leech_repair_t *r)
{
    size_t n = 0;
    uint8_t *d = tu_read_file(tu_data(log), &n);
    REQUIRE(d);
    const char *argv[] = {"prog", "1"};
    leech_proc_t proc = {
        .ncaps = 2, .pid = 7, .ppid = 1, .rts_id = "GHC-9.0.2 rts_thr_l", .argv = argv, .argc = 2};
    leech_repair_init(r, &proc);
    leech_queue_t q;
    leech_queue_init(&q, SIZE_MAX);
    for (size_t at = 0; at < n; at += chunk) {
        size_t k = n - at < chunk ? n - at : chunk;
        lq_entry_t *e = leech_queue_entry(NULL, k);
        memcpy(e->data, d + at, k);
        REQUIRE(leech_repair_feed(r, e, 1, attached, 0, &q) == 0);
    }
    uint8_t *out = malloc(n + 65536);
    size_t len = 0;
    lq_entry_t *e;
    while ((e = leech_queue_peek_out(&q)) != NULL) {
        CHECK_EQ_U64(e->offset, len); /* contiguous stream offsets */
        memcpy(out + len, e->data, e->len);
        len += e->len;
        leech_queue_done_out(&q, true);
    }
    leech_queue_dispose(&q);
    free(d);
    *out_len = len;
    return out;
}

static counts_t decode(const uint8_t *p, size_t n)
{
    counts_t c = {0};
    evlog_t d;
    evlog_sink_t sink = {.on_event = count_event, .on_warning = count_warning, .ctx = &c};
    REQUIRE(evlog_init(&d, &sink) == 0);
    CHECK(evlog_feed(&d, p, n) == 0);
    CHECK(evlog_finish(&d) == 0);
    CHECK(evlog_headers(&d) == 1);
    evlog_dispose(&d);
    return c;
}

/* A clean capture passes through unchanged, however the writer calls split it. */
TEST(leech_repair_clean)
{
    size_t n = 0, len = 0;
    uint8_t *want = tu_read_file(tu_data("eventlogs/leech-main.eventlog"), &n);
    size_t chunks[] = {1, 7, 2688, 4096, 1 << 20};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        leech_repair_t r;
        uint8_t *out = repair("eventlogs/leech-main.eventlog", chunks[i], false, &len, &r);
        CHECKF(len == n && memcmp(out, want, n) == 0, "chunk %zu changed the stream", chunks[i]);
        CHECK_EQ_U64(r.junk, 0);
        leech_repair_dispose(&r);
        free(out);
    }
    free(want);
}

/* Restarted captures: junk before the header goes, the init events the RTS did not resend are
 * made up (none were seen) and put right after the header. */
TEST(leech_repair_restart)
{
    const char *logs[] = {"eventlogs/leech-restart-0.raw.eventlog",
                          "eventlogs/leech-restart-1.raw.eventlog"};
    for (int i = 0; i < 2; i++) {
        leech_repair_t r;
        size_t len = 0;
        uint8_t *out = repair(logs[i], 4096, true, &len, &r);
        REQUIRE(len > 4 && memcmp(out, "hdrb", 4) == 0);
        counts_t c = decode(out, len);
        CHECK(r.junk > 0);
        CHECK_EQ_U64(r.synthesized, 1);
        CHECK_EQ_U64(c.caps, 2);
        CHECK_EQ_U64(c.warnings, 0);
        leech_repair_dispose(&r);
        free(out);
    }
}

/* A deferred start: events posted before the header (heap info, tasks) come first; the heap
 * info is kept and re-sent after the header with its own timestamp, and the capabilities the
 * RTS never sent are made up. */
TEST(leech_repair_deferred)
{
    leech_repair_t r;
    size_t len = 0;
    uint8_t *out = repair("eventlogs/leech-deferred-0.raw.eventlog", 65536, true, &len, &r);
    REQUIRE(len > 4 && memcmp(out, "hdrb", 4) == 0);
    counts_t c = decode(out, len);
    CHECK_EQ_U64(r.synthesized, 1);
    CHECK(r.init_len > 0);
    CHECK_EQ_U64(c.caps, 2);
    CHECK(r.junk >= 262);
    leech_repair_dispose(&r);
    free(out);
}

/* A second session (logging restarted) continues the same stream without a second header. */
TEST(leech_repair_two_sessions)
{
    size_t n = 0;
    uint8_t *d = tu_read_file(tu_data("eventlogs/leech-main.eventlog"), &n);
    REQUIRE(d && n > 2);
    leech_repair_t r;
    leech_proc_t proc = {.ncaps = 1};
    leech_repair_init(&r, &proc);
    leech_queue_t q;
    leech_queue_init(&q, SIZE_MAX);
    for (int session = 1; session <= 2; session++) {
        lq_entry_t *e = leech_queue_entry(NULL, n - 2); /* without the end marker */
        memcpy(e->data, d, n - 2);
        REQUIRE(leech_repair_feed(&r, e, session, false, 0, &q) == 0);
    }
    uint8_t *out = malloc(2 * n);
    size_t len = 0;
    lq_entry_t *e;
    while ((e = leech_queue_peek_out(&q)) != NULL) {
        memcpy(out + len, e->data, e->len);
        len += e->len;
        leech_queue_done_out(&q, true);
    }
    counts_t c = decode(out, len);
    CHECK_EQ_U64(r.hdr_len, 2688);
    CHECK_EQ_U64(len, 2 * (n - 2) - r.hdr_len);
    CHECK(c.events > 0);
    leech_queue_dispose(&q);
    leech_repair_dispose(&r);
    free(out);
    free(d);
}

/* Sent and dropped entries become spares that the next buffers reuse (no fresh memory for the
 * host program to fault in); a bigger buffer than every spare gets a new entry. */
TEST(leech_queue_reuses_entries)
{
    leech_queue_t q;
    REQUIRE(leech_queue_init(&q, 1 << 20) == 0);
    uint8_t buf[4096] = {1, 2, 3};
    REQUIRE(leech_queue_put_raw(&q, buf, sizeof buf, 0));
    uint64_t dropped;
    lq_entry_t *e = leech_queue_take_raw(&q, 0, &dropped);
    REQUIRE(e);
    CHECK(e->len == sizeof buf && e->cap >= sizeof buf && e->data[2] == 3);
    leech_queue_put_out(&q, e);
    CHECK(leech_queue_peek_out(&q) == e);
    leech_queue_done_out(&q, true); /* sent: a spare now */
    CHECK_EQ_U64(q.nspare, 1);
    lq_entry_t *again = leech_queue_entry(&q, 1000);
    CHECK(again == e && again->len == 1000 && again->next == NULL);
    CHECK_EQ_U64(q.nspare, 0);
    leech_queue_free(&q, again);
    lq_entry_t *big = leech_queue_entry(&q, 8192);
    CHECK(big && big != e && big->cap == 8192);
    CHECK_EQ_U64(q.nspare, 1);
    leech_queue_free(&q, big);
    for (int i = 0; i < LQ_SPARE + 3; i++)
        leech_queue_free(&q, leech_queue_entry(NULL, 100));
    CHECK(q.nspare == LQ_SPARE);
    leech_queue_dispose(&q);
}

/* The writer's direct send counts a buffer only when the queue holds nothing at all (every
 * buffer counted before it is then sent): not with a raw entry, an out entry or one in flight. */
TEST(leech_queue_claim_empty)
{
    leech_queue_t q;
    REQUIRE(leech_queue_init(&q, 1 << 20) == 0);
    uint64_t puts = 0;
    CHECK(leech_queue_claim_empty(&q, &puts) && puts == 1);
    uint8_t buf[100] = {0};
    REQUIRE(leech_queue_put_raw(&q, buf, sizeof buf, 0));
    CHECK_EQ_U64(leech_queue_puts(&q), 2);
    CHECK(!leech_queue_claim_empty(&q, &puts) && puts == 1); /* a raw entry waits */
    uint64_t dropped;
    lq_entry_t *e = leech_queue_take_raw(&q, 0, &dropped);
    REQUIRE(e);
    CHECK(leech_queue_claim_empty(&q, &puts) && puts == 3); /* taken: the caller holds it */
    leech_queue_put_out(&q, e);
    CHECK(!leech_queue_claim_empty(&q, &puts)); /* an out entry waits */
    CHECK(leech_queue_peek_out(&q) == e);
    CHECK(!leech_queue_claim_empty(&q, &puts)); /* in flight */
    leech_queue_done_out(&q, true);
    CHECK(leech_queue_claim_empty(&q, &puts) && puts == 4);
    CHECK_EQ_U64(leech_queue_puts(&q), 4);
    leech_queue_dispose(&q);
}

/* Past the header, a buffer of the same session passes unrepaired (and gets the next offsets);
 * a global block (init events to keep) or another session's buffer does not. */
TEST(leech_repair_can_pass)
{
    size_t len = 0;
    leech_repair_t r;
    uint8_t *out = repair("eventlogs/leech-main.eventlog", 65536, false, &len, &r);
    REQUIRE(out && len > 0);
    uint8_t cap_block[64] = {0};
    memcpy(cap_block, out + len - 64, 64); /* the stream's last events: no global marker */
    evwrite_t w;
    REQUIRE(evwrite_init(&w) == 0);
    REQUIRE(evwrite_block_begin(&w, 0xFFFF, 5) == 0);
    REQUIRE(evwrite_block_end(&w, 6) == 0);
    size_t gn = 0;
    const uint8_t *global = evwrite_data(&w, &gn);
    CHECK(!leech_repair_can_pass(&r, 1, global, gn));
    CHECK(leech_repair_can_pass(&r, 1, cap_block, sizeof cap_block));
    CHECK(!leech_repair_can_pass(&r, 2, cap_block, sizeof cap_block)); /* a new session */
    CHECK(!leech_repair_can_pass(&r, 1, cap_block, 0));
    CHECK_EQ_U64(leech_repair_pass(&r, 64), len);
    CHECK_EQ_U64(leech_repair_pass(&r, 10), len + 64);
    evwrite_dispose(&w);
    leech_repair_dispose(&r);
    free(out);
}

/* Reads the frames in fd (until EAGAIN or EOF) and checks they are Data frames of whole units
 * from `off` on; returns the data bytes (in out) and counts units and a unit left open. */
static size_t read_units(int fd, uint64_t off, uint8_t *out, int *units, bool *open_unit)
{
    static uint8_t buf[8 << 20];
    size_t n = 0, len = 0;
    for (;;) {
        ssize_t r = recv(fd, buf + n, sizeof buf - n, MSG_DONTWAIT);
        if (r <= 0) break;
        n += (size_t)r;
    }
    *units = 0;
    *open_unit = false;
    for (size_t at = 0; at + 4 <= n;) {
        uint32_t fl;
        memcpy(&fl, buf + at, 4);
        if (at + 4 + fl > n) break;
        wire_frame_t f;
        REQUIRE(wire_decode(&f, buf + at + 4, fl) == 0);
        CHECK(f.kind == WIRE_DATA && f.offset == off + len);
        CHECK(((f.flags & WIRE_FLAG_BLOCK_START) != 0) == !*open_unit);
        memcpy(out + len, f.data.p, f.data.len);
        len += f.data.len;
        *open_unit = !(f.flags & WIRE_FLAG_BLOCK_END);
        *units += !*open_unit;
        at += 4 + fl;
    }
    return len;
}

/* The direct send: a unit goes whole from where its bytes are, or nothing goes (the link stays
 * as it was) when the socket lacks room or a gap is pending; a socket that takes only a part
 * closes the link, so the monitor drops the part. */
TEST(leech_link_send_now)
{
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int sz = 1 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    leech_link_t *l = calloc(1, sizeof *l);
    REQUIRE(l);
    leech_link_init(l, "", "prog-x", "prog", 7, NULL);
    l->fd = sv[0];
    socklen_t sl = sizeof l->sndbuf;
    REQUIRE(getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &l->sndbuf, &sl) == 0);
    l->sent_end = 100; /* the header went */
    enum { N = 200000 };
    static uint8_t d[N], out[8 << 20];
    for (size_t i = 0; i < N; i++)
        d[i] = (uint8_t)(i * 29 + 5);
    CHECK(leech_link_send_now(l, 100, d, N) == 0);
    CHECK_EQ_U64(l->sent_end, 100 + N);
    CHECK(leech_link_send_now(l, 100 + N + 50, d, N) == LP_ETIMEOUT); /* a gap is pending */
    int units;
    bool open_unit;
    CHECK_EQ_U64(read_units(sv[1], 100, out, &units, &open_unit), N);
    CHECK(units == 1 && !open_unit && memcmp(out, d, N) == 0);

    /* nobody reads: sends go whole until the room check refuses, untouched link */
    uint64_t off = 100 + N;
    int sent = 0, rc;
    while ((rc = leech_link_send_now(l, off, d, N)) == 0) {
        off += N;
        sent++;
    }
    uint64_t seq = l->seq;
    CHECK(rc == LP_ETIMEOUT && sent >= 1 && l->fd == sv[0] && l->sent_end == off);
    CHECK(leech_link_send_now(l, off, d, N) == LP_ETIMEOUT && l->seq == seq);
    CHECK_EQ_U64(read_units(sv[1], 100 + N, out, &units, &open_unit), (uint64_t)sent * N);
    CHECK(units == sent && !open_unit);

    /* a socket smaller than it claims: a part goes, the link closes */
    l->sndbuf = 64 << 20;
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    uint8_t *big = calloc(1, 2 << 20);
    REQUIRE(big);
    CHECK(leech_link_send_now(l, off, big, 2 << 20) == LP_ENET);
    CHECK(l->fd < 0 && l->sent_end == off);
    size_t got = 0; /* some bytes, not the whole unit: the monitor sees it cut short */
    ssize_t r;
    while ((r = recv(sv[1], out + got, sizeof out - got, MSG_DONTWAIT)) > 0)
        got += (size_t)r;
    CHECK(got > 0 && got < (2u << 20));
    free(big);
    free(l);
    close(sv[1]);
}
