/* Unit tests of the analysis rules (spec §2–§6) on small hand-made event sequences. */
#include "test.h"

#include "gea.h"

#include <string.h>

/* A known event of `type` at `ts`, fields zero. */
static evlog_event_t make_ev(uint16_t type, uint64_t ts)
{
    evlog_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.ts = ts;
    ev.known = true;
    return ev;
}

static void ev_simple(gea_t *g, uint16_t type, uint64_t ts)
{
    evlog_event_t ev = make_ev(type, ts);
    gea_event(g, &ev);
}

static void ev_thread(gea_t *g, uint16_t type, uint64_t ts, uint32_t tid)
{
    evlog_event_t ev = make_ev(type, ts);
    ev.f.thread.tid = tid;
    gea_event(g, &ev);
}

static void ev_stop(gea_t *g, uint64_t ts, uint32_t tid, uint16_t status)
{
    evlog_event_t ev = make_ev(EVLOG_STOP_THREAD, ts);
    ev.f.stop.tid = tid;
    ev.f.stop.status = status;
    gea_event(g, &ev);
}

static void ev_label(gea_t *g, uint64_t ts, uint32_t tid, const char *label)
{
    evlog_event_t ev = make_ev(EVLOG_THREAD_LABEL, ts);
    ev.f.label.tid = tid;
    ev.f.label.text.p = (const uint8_t *)label;
    ev.f.label.text.len = (uint32_t)strlen(label);
    gea_event(g, &ev);
}

static void ev_msg(gea_t *g, uint64_t ts, const char *msg)
{
    evlog_event_t ev = make_ev(EVLOG_USER_MSG, ts);
    ev.f.msg.text.p = (const uint8_t *)msg;
    ev.f.msg.text.len = (uint32_t)strlen(msg);
    gea_event(g, &ev);
}

static const gea_id_t *user(const gea_window_t *w, const char *label, int64_t sub)
{
    for (size_t i = 0; i < w->nids; i++)
        if (w->ids[i].kind == GEA_USER && w->ids[i].sub == sub &&
            w->ids[i].label_len == strlen(label) && !memcmp(w->ids[i].label, label, strlen(label)))
            return &w->ids[i];
    return NULL;
}

static const gea_id_t *kind_id(const gea_window_t *w, gea_kind_t k, uint32_t tid)
{
    for (size_t i = 0; i < w->nids; i++)
        if (w->ids[i].kind == k && (k != GEA_THREAD || w->ids[i].tid == tid)) return &w->ids[i];
    return NULL;
}

TEST(gea_nesting_by_counting)
{
    gea_t *g = gea_create(NULL);
    ev_simple(g, EVLOG_CAP_CREATE, 0);
    ev_msg(g, 10, "START a");
    ev_msg(g, 20, "START a"); /* nested: count 2, start kept */
    ev_msg(g, 30, "STOP a");
    ev_msg(g, 45, "STOP a"); /* 1 -> 0: [10, 45] */
    ev_msg(g, 50, "STOP a"); /* closed: ignored */
    const gea_id_t *a = user(gea_output(g, 0), "a", 0);
    REQUIRE(a);
    CHECK_EQ_U64(a->total, 35);
    CHECK_EQ_U64(a->intervals, 1);
    CHECK_EQ_U64(a->first_start, 10);
    gea_destroy(g);
}

TEST(gea_stop_without_start_and_open_at_end)
{
    gea_t *g = gea_create(NULL);
    ev_msg(g, 5, "STOP x");   /* never started: ignored */
    ev_msg(g, 10, "START y"); /* never stopped: dropped */
    ev_msg(g, 90, "START z");
    ev_msg(g, 95, "STOP z");
    const gea_window_t *w = gea_output(g, 0);
    CHECK(user(w, "x", 0) == NULL);
    REQUIRE(user(w, "y", 0));
    CHECK_EQ_U64(user(w, "y", 0)->intervals, 0);
    CHECK_EQ_U64(user(w, "z", 0)->total, 5);
    /* no CapCreate: the startup is the first event */
    CHECK_EQ_U64(gea_window_startup(w), 5);
    CHECK_EQ_U64(w->end, 95);
    gea_destroy(g);
}

TEST(gea_gc_correction)
{
    gea_t *g = gea_create(NULL);
    ev_simple(g, EVLOG_CAP_CREATE, 0);
    ev_msg(g, 100, "START u");
    ev_simple(g, EVLOG_GC_START, 200); /* u records [100, 200] */
    ev_simple(g, EVLOG_GC_START, 210); /* a second cap joins: count 2 */
    ev_simple(g, EVLOG_GC_END, 250);
    ev_simple(g, EVLOG_GC_END, 300); /* GC [200, 300]; u restarts at 300 */
    ev_msg(g, 400, "STOP u");        /* u records [300, 400] */
    const gea_window_t *w = gea_output(g, 0);
    CHECK_EQ_U64(user(w, "u", 0)->total, 200);
    CHECK_EQ_U64(user(w, "u", 0)->intervals, 2);
    CHECK_EQ_U64(kind_id(w, GEA_GC, 0)->total, 100);
    gea_destroy(g);
}

TEST(gea_subscripts_and_labels)
{
    const char *l;
    size_t n;
    int64_t sub;
    gea_parse_label("3 job", 5, &l, &n, &sub);
    CHECK(n == 3 && !memcmp(l, "job", 3) && sub == 3);
    gea_parse_label("-2 x", 4, &l, &n, &sub);
    CHECK(n == 1 && l[0] == 'x' && sub == -2);
    gea_parse_label(" job", 4, &l, &n, &sub); /* no number: untrimmed */
    CHECK(n == 4 && sub == 0);
    gea_parse_label("12", 2, &l, &n, &sub);
    CHECK(n == 0 && sub == 12);
    gea_t *g = gea_create(NULL);
    ev_msg(g, 1, "START 1 job");
    ev_msg(g, 2, "START 2 job");
    ev_msg(g, 5, "STOP 1 job");
    ev_msg(g, 9, "STOP 2 job");
    const gea_window_t *w = gea_output(g, 0);
    CHECK_EQ_U64(user(w, "job", 1)->total, 4);
    CHECK_EQ_U64(user(w, "job", 2)->total, 7);
    gea_destroy(g);
}

TEST(gea_thread_labels_collapse)
{
    gea_t *g = gea_create(NULL);
    ev_simple(g, EVLOG_CAP_CREATE, 0);
    ev_thread(g, EVLOG_CREATE_THREAD, 1, 7);
    ev_label(g, 2, 7, "worker");
    ev_label(g, 3, 7, "worker"); /* consecutive duplicate: collapsed */
    ev_label(g, 4, 7, "busy");
    ev_thread(g, EVLOG_RUN_THREAD, 5, 7);
    ev_stop(g, 8, 7, 3);
    ev_thread(g, EVLOG_RUN_THREAD, 10, 7);
    ev_stop(g, 20, 7, 5); /* finished: a stop, and the lifetime ends */
    const gea_window_t *w = gea_output(g, 0);
    char h[64];
    gea_thread_header(w, 7, h, sizeof h);
    CHECKF(!strcmp(h, "busy:worker:7"), "header %s", h);
    CHECK_EQ_U64(kind_id(w, GEA_THREAD, 7)->total, 13);
    const gea_thread_t *th = gea_window_thread(w, 7);
    REQUIRE(th);
    CHECK_EQ_U64(th->created, 1);
    CHECK_EQ_U64(th->finished, 20);
    gea_destroy(g);
}

TEST(gea_thread_without_create)
{
    gea_t *g = gea_create(NULL);
    ev_thread(g, EVLOG_RUN_THREAD, 5, 9); /* attached late: created on first sight */
    ev_stop(g, 15, 9, 3);
    const gea_window_t *w = gea_output(g, 0);
    CHECK_EQ_U64(kind_id(w, GEA_THREAD, 9)->total, 10);
    char h[32];
    gea_thread_header(w, 9, h, sizeof h);
    CHECK(!strcmp(h, "9"));
    gea_destroy(g);
}

TEST(gea_windows)
{
    gea_opts_t o = {.window = "w"};
    gea_t *g = gea_create(&o);
    ev_simple(g, EVLOG_CAP_CREATE, 0);
    ev_thread(g, EVLOG_CREATE_THREAD, 1, 3);
    ev_msg(g, 5, "START a"); /* outside any window: not recorded */
    ev_msg(g, 6, "STOP a");
    ev_msg(g, 10, "START w");
    ev_msg(g, 12, "START a");
    ev_thread(g, EVLOG_RUN_THREAD, 13, 3);
    ev_stop(g, 17, 3, 3);
    ev_msg(g, 18, "STOP a");
    ev_msg(g, 20, "STOP w");
    ev_msg(g, 30, "START w");
    ev_msg(g, 31, "START a");
    ev_msg(g, 35, "STOP a");
    ev_msg(g, 40, "STOP w");
    ev_msg(g, 50, "START a"); /* trailing analysis: dropped */
    ev_msg(g, 60, "STOP a");
    REQUIRE(gea_outputs(g) == 2);
    const gea_window_t *w0 = gea_output(g, 0), *w1 = gea_output(g, 1);
    CHECK_EQ_U64(user(w0, "a", 0)->total, 6);
    CHECK(user(w0, "w", 0) == NULL); /* window events are never rows */
    CHECK_EQ_U64(gea_window_startup(w0), 10);
    CHECK_EQ_U64(w0->end, 20);
    /* thread 3 was running when the window opened: created = window start */
    const gea_thread_t *th = gea_window_thread(w0, 3);
    REQUIRE(th);
    CHECK_EQ_U64(th->created, 10);
    CHECK_EQ_U64(th->finished, 20);
    CHECK_EQ_U64(user(w1, "a", 0)->total, 4);
    CHECK_EQ_U64(gea_window_startup(w1), 30);
    gea_destroy(g);
}

TEST(gea_window_never_closed)
{
    gea_opts_t o = {.window = "nope"};
    gea_t *g = gea_create(&o);
    ev_simple(g, EVLOG_CAP_CREATE, 0);
    ev_msg(g, 1, "START a");
    ev_msg(g, 2, "STOP a");
    REQUIRE(gea_outputs(g) == 1); /* one empty report */
    CHECK(gea_output(g, 0)->nids == 0);
    gea_destroy(g);
}

TEST(gea_buckets)
{
    gea_buckets_t b = {.startup = 0, .bs = 10};
    gea_opts_t o = {.buckets = &b, .nbuckets = 1};
    gea_t *g = gea_create(&o);
    ev_simple(g, EVLOG_CAP_CREATE, 0);
    ev_msg(g, 5, "START a");
    ev_msg(g, 32, "STOP a"); /* 0.5 in b0, 1 in b1 and b2, 0.2 in b3 */
    ev_msg(g, 40, "START z");
    ev_msg(g, 40, "STOP z"); /* zero-length: bucket 4 touched with 0 */
    ev_simple(g, EVLOG_CAP_DELETE, 100);
    const gea_window_t *w = gea_output(g, 0);
    const gea_id_t *a = user(w, "a", 0), *z = user(w, "z", 0);
    REQUIRE(a && a->bn == 4 && a->blo == 0);
    CHECK(a->bval[0] == 0.5 && a->bval[1] == 1.0 && a->bval[2] == 1.0);
    CHECK(a->bval[3] > 0.1999 && a->bval[3] < 0.2001);
    REQUIRE(z && z->bn == 1 && z->blo == 4);
    CHECK(z->bset[0] == 1 && z->bval[0] == 0.0);
    bool clamped;
    CHECK_EQ_U64(gea_window_bucket_size(w, 10, &clamped), 10);
    CHECK(!clamped);
    CHECK_EQ_U64(gea_window_bucket_size(w, 1000, &clamped), 1);
    CHECK(clamped);
    gea_destroy(g);
}

/* Labels of every length from 0 to 40 that differ from each other in a single byte, at every
 * position (and a subscript): each is an id of its own, found again by its STOP. */
TEST(gea_labels_differing_in_one_byte)
{
    gea_t *g = gea_create(NULL);
    char base[41], msg[64];
    memset(base, 'q', sizeof base);
    uint64_t t = 100;
    size_t nlabels = 0;
    for (size_t len = 0; len <= 40; len++)
        for (size_t pos = 0; pos <= len; pos++) { /* pos == len: the unchanged label */
            char label[41];
            memcpy(label, base, len);
            if (pos < len) label[pos] = 'r';
            for (int sub = 0; sub < 2; sub++) {
                int n = sub ? snprintf(msg, sizeof msg, "START 7 %.*s", (int)len, label)
                            : snprintf(msg, sizeof msg, "START %.*s", (int)len, label);
                (void)n;
                ev_msg(g, t, msg);
                memcpy(msg, "STOP ", 5);
                memmove(msg + 5, msg + 6, strlen(msg + 6) + 1); /* "START x" -> "STOP x" */
                ev_msg(g, t + len + 1, msg);
                t += 100;
            }
            nlabels++;
        }
    const gea_window_t *w = gea_output(g, 0);
    CHECK_EQ_U64(w->nids, 2 * nlabels);
    for (size_t len = 0; len <= 40; len += 7) {
        char label[41];
        memcpy(label, base, len);
        label[len] = 0;
        const gea_id_t *a = user(w, label, 0), *b = user(w, label, 7);
        REQUIRE(a && b);
        CHECK_EQ_U64(a->intervals, 1);
        CHECK_EQ_U64(a->total, len + 1);
        CHECK_EQ_U64(b->total, len + 1);
        if (len) {
            label[len - 1] = 'r';
            REQUIRE(user(w, label, 0));
            CHECK_EQ_U64(user(w, label, 0)->total, len + 1);
        }
    }
    gea_destroy(g);
}
