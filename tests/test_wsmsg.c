/* Tests of the hand-written FlatBuffers code for proto/ws.fbs (lib/wsmsg.h) against flatc's
 * own code: every C encoding passes flatc's Verifier and reads back the same through the
 * generated C++ accessors; buffers built by flatc's C++ builder decode the same in C; the C
 * encodings print as the golden JSON under tests/golden/ws/ through `flatc --json`
 * (LIVEPROF_UPDATE_GOLDEN=1 rewrites them after a deliberate schema change); corrupt
 * buffers never crash the decoder, and whatever the Verifier rejects, the decoder rejects. */
#include "test.h"

#include "cxx/wsfb.h"
#include "err.h"
#include "wsmsg.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- the canonical text of a decoded message (the format of tests/cxx/wsfb.cc) ----------- */

typedef struct desc {
    char *p;
    size_t len, cap;
} desc_t;

static void add(desc_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(desc_t *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (d->len + (size_t)n + 1 > d->cap) {
        d->cap = (d->len + (size_t)n + 1) * 2;
        d->p = realloc(d->p, d->cap);
        REQUIRE(d->p);
    }
    va_start(ap, fmt);
    vsnprintf(d->p + d->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    d->len += (size_t)n;
}

static void s(desc_t *d, const char *name, wsmsg_str_t v)
{
    add(d, " %s=%.*s", name, (int)v.len, v.p ? v.p : "");
}

static void u(desc_t *d, const char *name, unsigned long long v)
{
    add(d, " %s=%llu", name, v);
}

static char *describe(const wsmsg_t *m)
{
    desc_t d = {0};
    add(&d, "%s", wsmsg_type_name(m->type));
    switch (m->type) {
    case WSMSG_SNAPSHOT:
        s(&d, "diagram", m->u.snapshot.diagram);
        u(&d, "seq", m->u.snapshot.seq);
        s(&d, "svg", m->u.snapshot.svg);
        u(&d, "from", m->u.snapshot.from_ns);
        u(&d, "to", m->u.snapshot.to_ns);
        break;
    case WSMSG_DELTA:
        u(&d, "seq", m->u.delta.seq);
        s(&d, "diagram", m->u.delta.diagram);
        u(&d, "from", m->u.delta.from_ns);
        u(&d, "to", m->u.delta.to_ns);
        u(&d, "items", m->u.delta.nitems);
        for (uint32_t i = 0; i < m->u.delta.nitems; i++) {
            const wsmsg_item_t *it = &m->u.delta.items[i];
            add(&d, "\n item");
            u(&d, "op", it->op);
            s(&d, "id", it->id);
            s(&d, "parent", it->parent);
            s(&d, "svg", it->svg);
            s(&d, "before", it->before);
            u(&d, "attrs", it->nattrs);
            for (uint32_t k = 0; k < it->nattrs; k++) {
                add(&d, "\n  attr");
                s(&d, "name", it->attrs[k].name);
                s(&d, "value", it->attrs[k].value);
                u(&d, "remove", it->attrs[k].remove);
                u(&d, "splice", it->attrs[k].splice);
                u(&d, "at", it->attrs[k].at);
                u(&d, "cut", it->attrs[k].cut);
            }
        }
        break;
    case WSMSG_STATE:
        s(&d, "state", m->u.state.state);
        u(&d, "bytes", m->u.state.bytes_ingested);
        u(&d, "events", m->u.state.events);
        u(&d, "end", m->u.state.end_ns);
        break;
    case WSMSG_ERROR:
        u(&d, "code", m->u.error.code);
        s(&d, "message", m->u.error.message);
        break;
    case WSMSG_HELLO:
        u(&d, "last_seq", m->u.hello.last_seq);
        break;
    case WSMSG_SUBSCRIBE:
        u(&d, "diagrams", m->u.subscribe.ndiagrams);
        for (uint32_t i = 0; i < m->u.subscribe.ndiagrams; i++)
            s(&d, "d", m->u.subscribe.diagrams[i]);
        u(&d, "from", m->u.subscribe.from_ns);
        u(&d, "to", m->u.subscribe.to_ns);
        break;
    default:
        break;
    }
    return d.p;
}

/* ---- random messages ---------------------------------------------------------------------- */

typedef struct gen {
    uint64_t x;
    char text[256][48];
    int ntext;
    wsmsg_attr_t attrs[64];
    wsmsg_item_t items[16];
    wsmsg_str_t names[8];
} gen_t;

static uint64_t rnd(gen_t *g)
{
    g->x ^= g->x << 13;
    g->x ^= g->x >> 7;
    g->x ^= g->x << 17;
    return g->x;
}

static wsmsg_str_t rstr(gen_t *g)
{
    if (rnd(g) % 4 == 0) return (wsmsg_str_t){NULL, 0};
    char *t = g->text[g->ntext++ % 256];
    int n = (int)(rnd(g) % 40);
    for (int i = 0; i < n; i++)
        t[i] = (char)(' ' + rnd(g) % 95);
    t[n] = 0;
    return (wsmsg_str_t){t, (uint32_t)n};
}

static uint64_t rnum(gen_t *g)
{
    uint64_t r = rnd(g);
    return r % 3 == 0 ? 0 : r % 3 == 1 ? r % 1000 : rnd(g);
}

static void random_msg(gen_t *g, wsmsg_t *m)
{
    memset(m, 0, sizeof *m);
    g->ntext = 0;
    m->type = (wsmsg_type_t)(1 + rnd(g) % 6);
    switch (m->type) {
    case WSMSG_SNAPSHOT:
        m->u.snapshot = (wsmsg_snapshot_t){rstr(g), rstr(g), rnum(g), rnum(g), rnum(g)};
        break;
    case WSMSG_DELTA: {
        wsmsg_delta_t *d = &m->u.delta;
        d->seq = rnum(g), d->from_ns = rnum(g), d->to_ns = rnum(g), d->diagram = rstr(g);
        d->nitems = (uint32_t)(rnd(g) % 16);
        size_t na = 0;
        for (uint32_t i = 0; i < d->nitems; i++) {
            wsmsg_item_t *it = &g->items[i];
            it->op = (wsmsg_op_t)(rnd(g) % 3);
            it->id = rstr(g), it->parent = rstr(g), it->svg = rstr(g), it->before = rstr(g);
            it->nattrs = (uint32_t)(rnd(g) % 4);
            it->attrs = &g->attrs[na];
            for (uint32_t k = 0; k < it->nattrs; k++, na++)
                g->attrs[na] = (wsmsg_attr_t){rstr(g), rstr(g), rnd(g) % 2, rnd(g) % 2};
            for (uint32_t k = 0; k < it->nattrs; k++) /* a splice's place: any 32-bit value */
                if (it->attrs[k].splice) {
                    g->attrs[na - it->nattrs + k].at = (uint32_t)rnum(g);
                    g->attrs[na - it->nattrs + k].cut = (uint32_t)rnum(g);
                }
        }
        d->items = g->items;
        break;
    }
    case WSMSG_STATE:
        m->u.state = (wsmsg_state_t){rstr(g), rnum(g), rnum(g), rnum(g)};
        break;
    case WSMSG_ERROR:
        m->u.error = (wsmsg_error_t){(uint16_t)rnum(g), rstr(g)};
        break;
    case WSMSG_HELLO:
        m->u.hello.last_seq = rnum(g);
        break;
    default:
        m->u.subscribe.ndiagrams = (uint32_t)(rnd(g) % 8);
        for (uint32_t i = 0; i < m->u.subscribe.ndiagrams; i++) {
            g->names[i] = rstr(g);
            if (!g->names[i].p) g->names[i] = (wsmsg_str_t){"", 0};
        }
        m->u.subscribe.diagrams = g->names;
        m->u.subscribe.from_ns = rnum(g), m->u.subscribe.to_ns = rnum(g);
        break;
    }
}

static uint64_t arena[1 << 13];

TEST(wsmsg_c_encodings_verify_and_read_back_in_cxx)
{
    gen_t g = {.x = 0x9e3779b97f4a7c15ull};
    wsmsg_buf_t b;
    wsmsg_buf_init(&b);
    static char cxx[1 << 16];
    for (int round = 0; round < 3000; round++) {
        wsmsg_t m, back;
        random_msg(&g, &m);
        REQUIRE(wsmsg_encode(&m, &b) == 0);
        REQUIRE(wsfb_verify(b.p, b.len));
        char *want = describe(&m);
        REQUIRE(wsfb_describe(b.p, b.len, cxx, sizeof cxx) > 0);
        CHECKF(!strcmp(want, cxx), "round %d:\nC:   %s\nC++: %s", round, want, cxx);
        REQUIRE(wsmsg_decode(b.p, b.len, &back, arena, sizeof arena) == 0);
        char *got = describe(&back);
        CHECKF(!strcmp(want, got), "round %d decode:\n%s\n%s", round, want, got);
        free(want);
        free(got);
    }
    wsmsg_buf_dispose(&b);
}

TEST(wsmsg_cxx_builder_buffers_decode_in_c)
{
    static uint8_t buf[4096];
    static char cxx[1 << 14];
    for (int i = 0; i < WSFB_SAMPLES; i++) {
        size_t n = wsfb_build(i, buf, sizeof buf);
        REQUIRE(n > 0);
        wsmsg_t m;
        int rc = wsmsg_decode(buf, n, &m, arena, sizeof arena);
        if (i == 7) { /* no body: not a message we can act on */
            CHECK(rc == LP_EPROTO);
            continue;
        }
        REQUIRE(rc == 0);
        char *got = describe(&m);
        REQUIRE(wsfb_describe(buf, n, cxx, sizeof cxx) > 0);
        CHECKF(!strcmp(got, cxx), "sample %d:\nC:   %s\nC++: %s", i, got, cxx);
        free(got);
    }
}

TEST(wsmsg_decoder_bounds_arena_and_rejects_what_the_verifier_rejects)
{
    gen_t g = {.x = 12345};
    wsmsg_buf_t b;
    wsmsg_buf_init(&b);
    uint8_t *copy = malloc(1 << 16);
    REQUIRE(copy);
    size_t verified_bad = 0;
    for (int round = 0; round < 4000; round++) {
        wsmsg_t m, back;
        random_msg(&g, &m);
        REQUIRE(wsmsg_encode(&m, &b) == 0);
        REQUIRE(b.len <= 1 << 16);
        /* every truncation fails cleanly */
        if (round % 50 == 0)
            for (size_t cut = 0; cut < b.len; cut++) {
                memcpy(copy, b.p, cut);
                int rc = wsmsg_decode(copy, cut, &back, arena, sizeof arena);
                if (rc == 0)
                    CHECKF(wsfb_verify(copy, cut), "round %d cut %zu accepted", round, cut);
            }
        /* random byte flips */
        memcpy(copy, b.p, b.len);
        int flips = 1 + (int)(rnd(&g) % 4);
        for (int k = 0; k < flips; k++)
            copy[rnd(&g) % b.len] ^= (uint8_t)(1 + rnd(&g) % 255);
        int rc = wsmsg_decode(copy, b.len, &back, arena, sizeof arena);
        int ok = wsfb_verify(copy, b.len);
        if (!ok) {
            verified_bad++;
            CHECKF(rc < 0, "round %d: the verifier rejects, the decoder accepts", round);
        }
        if (rc == 0 && ok) { /* both accept: both read the same */
            static char cxx[1 << 16];
            char *got = describe(&back);
            if (wsfb_describe(copy, b.len, cxx, sizeof cxx))
                CHECKF(!strcmp(got, cxx), "round %d:\nC:   %s\nC++: %s", round, got, cxx);
            free(got);
        }
        /* a small arena is an error, never an overrun */
        if (m.type == WSMSG_DELTA && m.u.delta.nitems > 2)
            CHECK(wsmsg_decode(b.p, b.len, &back, arena, 2 * sizeof(wsmsg_item_t)) == LP_ENOMEM);
    }
    CHECK(verified_bad > 100);
    /* hand-made bad inputs */
    wsmsg_t back;
    CHECK(wsmsg_decode(NULL, 0, &back, arena, sizeof arena) == LP_EPROTO);
    CHECK(wsmsg_decode((const uint8_t *)"\x08\0\0\0LPWS", 8, &back, arena, sizeof arena) ==
          LP_EPROTO);
    wsmsg_t m = {.type = WSMSG_ERROR, .u.error = {1008, {"a\0b", 3}}};
    REQUIRE(wsmsg_encode(&m, &b) == 0);
    CHECK(wsmsg_decode(b.p, b.len, &back, arena, sizeof arena) == LP_EPROTO); /* inner NUL */
    m = (wsmsg_t){.type = 9};
    CHECK(wsmsg_encode(&m, &b) == LP_EARG);
    free(copy);
    wsmsg_buf_dispose(&b);
}

/* The fixed messages of the golden files, in file order. */
static void golden_msg(int i, wsmsg_t *m)
{
#define S(x) ((wsmsg_str_t){x, sizeof x - 1})
    static wsmsg_attr_t attrs[2] = {{S("height"), S("314"), false}, {S("class"), {0}, true}};
    /* two items naming "d": one shared string; a splice appending a cell */
    static wsmsg_attr_t cells[2][1] = {{{S("d"), S("M0,0h3v14h-3z")}},
                                       {{S("d"), S("M9,0h3v14h-3z"), .splice = true, .at = 26}}};
    static wsmsg_item_t items[5] = {
        {.op = WSMSG_ADD,
         .id = S("labels-fib-b7"),
         .parent = S("labels-fib"),
         .svg = S("<rect id=\"labels-fib-b7\" x=\"290.00\"/>"),
         .before = S("labels-fib-b8")},
        {.op = WSMSG_UPDATE, .id = S("root"), .attrs = attrs, .nattrs = 2},
        {.op = WSMSG_REMOVE, .id = S("threads-9")},
        {.op = WSMSG_UPDATE, .id = S("labels-fib-o20-c0"), .attrs = cells[0], .nattrs = 1},
        {.op = WSMSG_UPDATE, .id = S("labels-fib-o19-c0"), .attrs = cells[1], .nattrs = 1}};
    static wsmsg_str_t names[3] = {S("grid"), S("caps"), S("heap")};
    memset(m, 0, sizeof *m);
    switch (i) {
    case 0:
        m->type = WSMSG_SNAPSHOT;
        m->u.snapshot =
            (wsmsg_snapshot_t){S("grid"), S("<svg id=\"root\"></svg>"), 12, 0, 96000000};
        break;
    case 1:
        m->type = WSMSG_DELTA;
        m->u.delta = (wsmsg_delta_t){13, 0, 96000000, S("grid"), items, 5};
        break;
    case 2:
        m->type = WSMSG_STATE;
        m->u.state = (wsmsg_state_t){S("live"), 1048576, 20000, 1500000000};
        break;
    case 3:
        m->type = WSMSG_ERROR;
        m->u.error = (wsmsg_error_t){1008, S("this session is private")};
        break;
    case 4:
        m->type = WSMSG_HELLO;
        m->u.hello.last_seq = 13;
        break;
    default:
        m->type = WSMSG_SUBSCRIBE;
        m->u.subscribe = (wsmsg_subscribe_t){names, 3, 5000000, 0};
        break;
    }
#undef S
}

TEST(wsmsg_golden_json_through_flatc)
{
    static const char *const files[6] = {"snapshot", "delta", "state",
                                         "error",    "hello", "subscribe"};
    wsmsg_buf_t b;
    wsmsg_buf_init(&b);
    for (int i = 0; i < 6; i++) {
        wsmsg_t m;
        golden_msg(i, &m);
        REQUIRE(wsmsg_encode(&m, &b) == 0);
        char bin[600], cmd[2000], gold[256];
        snprintf(bin, sizeof bin, "%s/%s.bin", tu_tmpdir(), files[i]);
        FILE *f = fopen(bin, "wb");
        REQUIRE(f && fwrite(b.p, 1, b.len, f) == b.len);
        fclose(f);
        snprintf(cmd, sizeof cmd,
                 "flatc -t --strict-json --raw-binary -o %s proto/ws.fbs -- %s && cat %s/%s.json",
                 tu_tmpdir(), bin, tu_tmpdir(), files[i]);
        uint8_t *out = NULL;
        size_t len = 0;
        CHECKF(tu_run(cmd, &out, &len) == 0, "%s", cmd);
        snprintf(gold, sizeof gold, "tests/golden/ws/%s.json", files[i]);
        if (getenv("LIVEPROF_UPDATE_GOLDEN") && out) { /* regenerates the files on purpose */
            FILE *g = fopen(gold, "wb");
            REQUIRE(g && fwrite(out, 1, len, g) == len);
            fclose(g);
        }
        size_t glen = 0;
        uint8_t *want = tu_read_file(gold, &glen);
        CHECKF(want && out && glen == len && !memcmp(want, out, len), "%s differs:\n%.*s", gold,
               (int)len, out ? (const char *)out : "");
        free(want);
        free(out);
    }
    wsmsg_buf_dispose(&b);
}
