/* Writes the seed-* inputs of the wsmsg, wire, snapshot, segment and ingest corpora with the
 * project's own encoders and segment writer, so every seed is what liveprof itself sends or stores.
 * Run from the repository root: `make fuzz-seeds` (existing seed files are overwritten). */
#include "aggr.h"
#include "aggr_snap.h"
#include "evlog.h"
#include "seg_log.h"
#include "seg_writer.h"
#include "segment.h"
#include "snapshot.h"
#include "wire.h"
#include "wsmsg.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_PATH "../shared/data/eventlogs/fib-labels-user-only.eventlog"

/* Writes fuzz/corpus/TARGET/PREFIX-NAME ("seed" for hand-made inputs, "regress" for findings). */
static void put_as(const char *target, const char *prefix, const char *name, const void *p,
                   size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "fuzz/corpus/%s", target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "fuzz/corpus/%s/%s-%s", target, prefix, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "seeds: cannot write %s\n", path);
        exit(1);
    }
}

static void put(const char *target, const char *name, const void *p, size_t n)
{
    put_as(target, "seed", name, p, n);
}

static wsmsg_str_t ws(const char *s)
{
    return (wsmsg_str_t){s, (uint32_t)strlen(s)};
}

static void wsmsg_seeds(void)
{
    wsmsg_buf_t b;
    wsmsg_buf_init(&b);
    wsmsg_attr_t attrs[2] = {{ws("fill"), ws("#c33"), false}, {ws("title"), ws(""), true}};
    /* a splice, and an attribute name shared with the item before */
    wsmsg_attr_t cell[1] = {{ws("fill"), ws("M9,0h3z"), .splice = true, .at = 40, .cut = 2}};
    wsmsg_item_t items[4] = {
        {.op = WSMSG_ADD,
         .id = ws("r1"),
         .parent = ws("g0"),
         .svg = ws("<rect/>"),
         .before = ws("r2")},
        {.op = WSMSG_UPDATE, .id = ws("r2"), .attrs = attrs, .nattrs = 2},
        {.op = WSMSG_REMOVE, .id = ws("r3")},
        {.op = WSMSG_UPDATE, .id = ws("r4"), .attrs = cell, .nattrs = 1},
    };
    wsmsg_str_t diagrams[2] = {ws("heap"), ws("threads")};
    struct {
        const char *name;
        wsmsg_t m;
    } seeds[] = {
        {"snapshot",
         {WSMSG_SNAPSHOT,
          .u.snapshot = {ws("heap"), ws("<svg xmlns='http://www.w3.org/2000/svg'/>"), 7, 1000,
                         2000000}}},
        {"delta", {WSMSG_DELTA, .u.delta = {8, 0, 5000, ws("heap"), items, 4}}},
        {"state", {WSMSG_STATE, .u.state = {ws("live"), 123456, 789, 1000000000}}},
        {"error", {WSMSG_ERROR, .u.error = {404, ws("no such diagram")}}},
        {"hello", {WSMSG_HELLO, .u.hello = {42}}},
        {"hello-zero", {WSMSG_HELLO, .u.hello = {0}}},
        {"subscribe", {WSMSG_SUBSCRIBE, .u.subscribe = {diagrams, 2, 0, 18446744073709551615ull}}},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        if (wsmsg_encode(&seeds[i].m, &b) != 0) exit(1);
        put("wsmsg", seeds[i].name, b.p, b.len);
    }
    wsmsg_buf_dispose(&b);
}

static void wire_seeds(void)
{
    static uint8_t buf[WIRE_MAX_FRAME], payload[WIRE_MAX_DATA + 8];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7);
    wire_program_t progs[2] = {
        {wire_cstr("prog-1"), wire_cstr("fib"), 4096, 1234, false},
        {wire_cstr("prog-2"), wire_cstr("server +RTS -l"), 0, 99, true},
    };
    struct {
        const char *name;
        wire_frame_t f;
    } seeds[] = {
        {"hello",
         {.kind = WIRE_HELLO,
          .version = WIRE_VERSION,
          .token = wire_cstr("secret-token"),
          .text = wire_cstr("leech 1")}},
        {"programs", {.kind = WIRE_PROGRAMS, .version = WIRE_VERSION, .progs = progs, .nprogs = 2}},
        {"subscribe", {.kind = WIRE_SUBSCRIBE, .program = wire_cstr("prog-1"), .offset = 100}},
        {"header",
         {.kind = WIRE_HEADER,
          .program = wire_cstr("prog-1"),
          .data = {(const uint8_t *)"hdrbhetbhetehdredatb", 20}}},
        {"data",
         {.kind = WIRE_DATA,
          .program = wire_cstr("prog-1"),
          .seq = 3,
          .offset = 20,
          .flags = WIRE_FLAG_BLOCK_START | WIRE_FLAG_BLOCK_END,
          .data = {payload, 64}}},
        {"gap", {.kind = WIRE_GAP, .program = wire_cstr("prog-1"), .offset = 84, .length = 4096}},
        {"ack", {.kind = WIRE_ACK, .seq = 3, .offset = 84}},
        {"heartbeat", {.kind = WIRE_HEARTBEAT, .time_ns = 1764150000000000000ull}},
        {"bye", {.kind = WIRE_BYE, .text = wire_cstr("done")}},
        {"error", {.kind = WIRE_ERROR, .text = wire_cstr("bad token")}},
        {"state", {.kind = WIRE_STATE, .program = wire_cstr("p"), .data = {payload, 8}}},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        int n = wire_encode(&seeds[i].f, buf, sizeof buf);
        if (n < 0) exit(1);
        put("wire", seeds[i].name, buf, (size_t)n);
    }
    /* a Data frame of the most data the encoder allows, then one byte more (the vector is the
     * frame's last part: grow its length and append the byte): the decoder took it (finding) */
    wire_frame_t big = {
        .kind = WIRE_DATA, .program = wire_cstr("p"), .data = {payload, WIRE_MAX_DATA}};
    int n = wire_encode(&big, buf, sizeof buf);
    if (n < 0) exit(1);
    put("wire", "data-max", buf, (size_t)n);
    size_t at = (size_t)n - WIRE_MAX_DATA - 4;
    buf[at] = (uint8_t)(WIRE_MAX_DATA + 1);
    buf[at + 1] = (uint8_t)((WIRE_MAX_DATA + 1) >> 8);
    buf[n] = 0x5a;
    put_as("wire", "regress", "data-over-max", buf, (size_t)n + 1);
}

static void snapshot_seeds(void)
{
    double v1[4] = {0, 0.25, 1e300, -3}, v2[2] = {1, 2};
    snapshot_srow_t srows[2] = {{"heap", "gauge", v1, 4}, {"ARR_WORDS", "heapprof", v2, 2}};
    snapshot_series_t series[1] = {{"heap", 1000, 100000000, srows, 2}};
    snapshot_row_t rows[2] = {{1, "GC", 123456789}, {3, "main", 42}};
    snapshot_t s = {1010157, 57515, 2, true, "none at all", rows, 2, series, 1};
    size_t n;
    uint8_t *b = snapshot_encode(&s, &n);
    put("snapshot", "full", b, n);
    free(b);
    snapshot_t e = {0};
    b = snapshot_encode(&e, &n);
    put("snapshot", "empty", b, n);
    free(b);
    /* with the whole aggregate state: a capability that runs, a GC, a label and a heap sample */
    aggr_t *a = aggr_create(&(aggr_opts_t){.bins_per_tier = 16, .tiers = 2});
    static const struct {
        uint16_t type;
        uint64_t ts;
    } evs[] = {{EVLOG_RUN_THREAD, 1000},
               {EVLOG_GC_START, 5000000},
               {EVLOG_GC_END, 6000000},
               {EVLOG_STOP_THREAD, 9000000},
               {EVLOG_HEAP_SIZE, 9500000}};
    for (size_t i = 0; i < sizeof evs / sizeof *evs; i++) {
        evlog_event_t ev;
        memset(&ev, 0, sizeof ev);
        ev.type = evs[i].type;
        ev.ts = evs[i].ts;
        ev.cap = 0;
        ev.known = true;
        aggr_event(a, &ev);
    }
    snapshot_aggr_t whole;
    aggr_snap_export(a, &whole);
    snapshot_t w = {
        .stream_offset = 100, .final = true, .version = SNAPSHOT_VERSION, .aggr = &whole};
    b = snapshot_encode(&w, &n);
    put("snapshot", "aggr", b, n);
    free(b);
    aggr_snap_release(&whole);
    aggr_destroy(a);
}

/* Concatenates the segment files of `dir` (in name order, as a scan sees them) after flag byte
 * `flags` into one segment-target input. */
static void put_segments(const char *dir, const char *name, uint8_t flags)
{
    static uint8_t out[1 << 17];
    size_t n = 0;
    out[n++] = flags;
    for (unsigned seq = 0;; seq++) {
        char p[600];
        snprintf(p, sizeof p, "%s/" SEG_NAME_FMT, dir, (unsigned long long)seq);
        FILE *f = fopen(p, "rb");
        if (!f) break;
        n += fread(out + n, 1, sizeof out - n, f);
        fclose(f);
        unlink(p);
    }
    rmdir(dir);
    put("segment", name, out, n);
}

static void segment_seeds(void)
{
    static uint8_t log[1 << 14];
    FILE *f = fopen(LOG_PATH, "rb");
    if (!f) {
        fprintf(stderr, "seeds: cannot read %s\n", LOG_PATH);
        exit(1);
    }
    size_t n = fread(log, 1, sizeof log, f);
    fclose(f);
    struct {
        const char *name;
        int zstd;
        bool close, end;
        size_t roll;
    } seeds[] = {
        {"open", 0, false, false, 0},
        {"closed-ended", 0, true, true, 0},
        {"zstd-closed", 3, true, true, 0},
        {"rolled", 0, true, false, 1500},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        char dir[512], err[256];
        snprintf(dir, sizeof dir, "build/fuzz/seed-segments-%zu", i);
        mkdir("build", 0755);
        mkdir("build/fuzz", 0755);
        seg_log_t l;
        if (seg_log_init(&l, dir) != 0) exit(1);
        seg_writer_opts_t o = {.max_bytes = seeds[i].roll ? seeds[i].roll : 64u << 20,
                               .zstd_level = seeds[i].zstd};
        seg_writer_t *w = seg_writer_create(&l, &o, err, sizeof err);
        if (!w) exit(1);
        seg_writer_record(w, SEG_REC_UPLOAD, "0123456789abcdef0123456789abcdef", 32);
        for (size_t at = 0; at < n; at += 1000)
            if (seg_writer_append(w, log + at, n - at < 1000 ? n - at : 1000) != 0) exit(1);
        snapshot_t s = {n, 10, 1, false, NULL, NULL, 0, NULL, 0};
        size_t sn;
        uint8_t *sb = snapshot_encode(&s, &sn);
        seg_writer_record(w, SEG_REC_SNAPSHOT, sb, sn);
        free(sb);
        if (seeds[i].end) seg_writer_end(w);
        if (seeds[i].close) seg_writer_close(w);
        seg_writer_sync(w);
        seg_writer_destroy(w);
        seg_log_dispose(&l);
        put_segments(dir, seeds[i].name, 1);
    }
}

/* Appends one length-prefixed frame (as a leech writes them) to out. */
static size_t frame(uint8_t *out, size_t at, const wire_frame_t *f)
{
    int n = wire_encode(f, out + at + 4, WIRE_MAX_FRAME);
    if (n < 0) exit(1);
    uint32_t len = (uint32_t)n;
    memcpy(out + at, &len, 4);
    return at + 4 + (size_t)n;
}

/* What a leech sends the monitor: hello, the eventlog's header, state, the data in units of
 * several frames, a gap, heartbeat, bye (and variants out of order). */
static void ingest_seeds(void)
{
    static uint8_t log[1 << 14], out[1 << 16];
    FILE *f = fopen(LOG_PATH, "rb");
    if (!f) exit(1);
    size_t n = fread(log, 1, sizeof log, f);
    fclose(f);
    const uint8_t *datb = memmem(log, n, "datb", 4);
    if (!datb) exit(1);
    size_t hl = (size_t)(datb - log) + 4, at = 0;
    wire_frame_t hello = {.kind = WIRE_HELLO,
                          .version = WIRE_VERSION,
                          .program = wire_cstr("fib"),
                          .text = wire_cstr("fib 4242")};
    at = frame(out, at, &hello);
    at = frame(out, at, &(wire_frame_t){.kind = WIRE_HEADER, .data = {log, (uint32_t)hl}});
    at = frame(out, at, &(wire_frame_t){.kind = WIRE_STATE, .data = {log + hl, 16}});
    size_t head_only = at;
    uint64_t seq = 0;
    for (size_t off = hl; off < n; off += 1500) { /* units of three frames of 500 bytes */
        for (size_t k = 0; k < 3 && off + 500 * k < n; k++) {
            size_t o = off + 500 * k, len = n - o < 500 ? n - o : 500;
            uint32_t fl = (k == 0 ? WIRE_FLAG_BLOCK_START : 0) |
                          (k == 2 || o + len == n ? WIRE_FLAG_BLOCK_END : 0);
            at = frame(out, at,
                       &(wire_frame_t){.kind = WIRE_DATA,
                                       .seq = seq++,
                                       .offset = o,
                                       .flags = fl,
                                       .data = {log + o, (uint32_t)len}});
        }
    }
    at = frame(out, at, &(wire_frame_t){.kind = WIRE_GAP, .offset = n, .length = 4096});
    at = frame(out, at, &(wire_frame_t){.kind = WIRE_HEARTBEAT, .time_ns = 1});
    at = frame(out, at, &(wire_frame_t){.kind = WIRE_BYE});
    put("ingest", "session", out, at);
    put("ingest", "hello-header-state", out, head_only);
    /* data before the header, and a second hello */
    at = frame(out, 0, &hello);
    at = frame(out, at,
               &(wire_frame_t){.kind = WIRE_DATA, .offset = 0, .flags = 3, .data = {log, 100}});
    put("ingest", "data-before-header", out, at);
    at = frame(out, 0, &hello);
    at = frame(out, at, &hello);
    put("ingest", "hello-twice", out, at);
}

int main(void)
{
    wsmsg_seeds();
    wire_seeds();
    snapshot_seeds();
    segment_seeds();
    ingest_seeds();
    return 0;
}
