/* Paced replay reading (lib/pace.h). A raw-mode decoder runs ahead of what was handed out to learn
 * the events' offsets and times; the first event's time is the replay's time zero. */
#include "pace.h"

#include "err.h"
#include "evlog.h"
#include "seg_reader.h"
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOOKAHEAD (64u << 10)

typedef struct mark {
    uint64_t voff, ts;
} mark_t;

struct pace {
    seg_log_t *l;
    seg_reader_t *rd;
    uint8_t *hdr; /* the eventlog header when the range does not start at 0 */
    size_t hdr_len;
    uint64_t a, b; /* log stream range */
    uint64_t done; /* virtual bytes handed out */
    double speed;
    uint64_t from;
    evlog_t dec;
    bool dec_ok;
    uint64_t dec_pos; /* virtual bytes decoded */
    bool have_t0;
    uint64_t t0;
    mark_t *q; /* decoded events not yet handed out, in file order */
    size_t qh, qn, qcap;
    uint8_t *buf;
};

static int on_event(void *ctx, const evlog_event_t *ev)
{
    pace_t *p = ctx;
    if (ev->type == EVLOG_BLOCK_MARKER) return 0;
    if (!p->have_t0) {
        p->have_t0 = true;
        p->t0 = ev->ts > p->from ? ev->ts : p->from;
    }
    if (p->qh + p->qn == p->qcap) {
        if (p->qh) {
            memmove(p->q, p->q + p->qh, p->qn * sizeof *p->q);
            p->qh = 0;
        } else {
            xgrow((void **)&p->q, &p->qcap, p->qcap + 1, sizeof *p->q);
        }
    }
    p->q[p->qh + p->qn++] = (mark_t){ev->offset, ev->ts};
    return 0;
}

/* Copies virtual bytes [v, v + n) into out; returns the count or LP_EIO. */
static long read_virtual(pace_t *p, uint64_t v, uint8_t *out, size_t n)
{
    size_t done = 0;
    if (v < p->hdr_len) {
        size_t k = p->hdr_len - v < n ? (size_t)(p->hdr_len - v) : n;
        memcpy(out, p->hdr + v, k);
        done = k;
    }
    while (done < n) {
        uint64_t off = p->a + (v + done - p->hdr_len);
        long k = seg_reader_pread(p->rd, out + done, n - done, off);
        if (k <= 0) return k < 0 ? LP_EIO : (long)done;
        done += (size_t)k;
    }
    return (long)done;
}

pace_t *pace_create(seg_log_t *l, uint64_t from, uint64_t to, double speed, char *err, size_t cap)
{
    pace_t *p = xcalloc(1, sizeof *p);
    p->l = l;
    p->speed = speed;
    p->from = from;
    pthread_mutex_lock(&l->mu);
    p->a = l->start;
    p->b = l->end;
    bool ranged = from > 0 || to > 0;
    if (ranged) { /* the segments whose events overlap [from, to) */
        size_t i = 0, j = l->nfiles;
        while (i < l->nfiles && (l->files[i].events == 0 || l->files[i].last_ts < from))
            i++;
        while (j > i && (l->files[j - 1].events == 0 || (to && l->files[j - 1].first_ts >= to)))
            j--;
        if (i < j) {
            p->a = l->files[i].stream_start;
            p->b = l->files[j - 1].stream_end;
        } else {
            p->a = p->b;
        }
    }
    if (p->a > 0 && l->evheader) {
        p->hdr = xmalloc(l->evheader_len);
        memcpy(p->hdr, l->evheader, l->evheader_len);
        p->hdr_len = l->evheader_len;
    }
    bool missing_header = p->a > 0 && !l->evheader;
    pthread_mutex_unlock(&l->mu);
    if (p->a >= p->b || missing_header) {
        snprintf(err, cap, "%s",
                 missing_header ? "the saved eventlog header is missing"
                                : "no saved segment holds events in that range");
        free(p->hdr);
        free(p);
        return NULL;
    }
    p->rd = seg_reader_create(l);
    p->buf = xmalloc(LOOKAHEAD);
    evlog_sink_t sink = {.on_event = on_event, .ctx = p};
    p->dec_ok = speed > 0 && evlog_init(&p->dec, &sink) == 0;
    if (p->dec_ok) evlog_set_raw(&p->dec, true);
    return p;
}

void pace_destroy(pace_t *p)
{
    if (!p) return;
    if (p->speed > 0) evlog_dispose(&p->dec);
    seg_reader_destroy(p->rd);
    free(p->hdr);
    free(p->q);
    free(p->buf);
    free(p);
}

uint64_t pace_len(const pace_t *p)
{
    return p->hdr_len + (p->b - p->a);
}

uint64_t pace_done(const pace_t *p)
{
    return p->done;
}

/* Decodes ahead until an event is queued or the stream is decoded. */
static void lookahead(pace_t *p)
{
    while (p->qn == 0 && p->dec_ok && p->dec_pos < pace_len(p)) {
        size_t want =
            pace_len(p) - p->dec_pos < LOOKAHEAD ? (size_t)(pace_len(p) - p->dec_pos) : LOOKAHEAD;
        long k = read_virtual(p, p->dec_pos, p->buf, want);
        if (k <= 0 || evlog_feed(&p->dec, p->buf, (size_t)k) < 0) {
            p->dec_ok = false; /* no more times: the rest is due at once */
            break;
        }
        p->dec_pos += (uint64_t)k;
    }
}

/* The virtual offset up to which bytes are due at `elapsed`. */
static uint64_t due_until(pace_t *p, uint64_t elapsed)
{
    if (p->speed <= 0) return pace_len(p);
    for (;;) {
        lookahead(p);
        if (p->qn == 0) return p->dec_ok ? p->dec_pos : pace_len(p);
        const mark_t *m = &p->q[p->qh];
        uint64_t at = m->ts > p->t0 ? (uint64_t)((double)(m->ts - p->t0) / p->speed) : 0;
        if (at > elapsed) return m->voff > p->done ? m->voff : p->done;
        p->qh++;
        p->qn--;
    }
}

long pace_next(pace_t *p, uint64_t elapsed_ns, uint8_t *out, size_t cap)
{
    uint64_t until = due_until(p, elapsed_ns);
    if (until <= p->done) return 0;
    size_t n = until - p->done < cap ? (size_t)(until - p->done) : cap;
    long k = read_virtual(p, p->done, out, n);
    if (k > 0) p->done += (uint64_t)k;
    return k < 0 ? LP_EIO : k;
}

uint64_t pace_due_ns(pace_t *p)
{
    if (p->speed <= 0) return 0;
    lookahead(p);
    if (p->qn == 0) return 0;
    const mark_t *m = &p->q[p->qh];
    return m->ts > p->t0 ? (uint64_t)((double)(m->ts - p->t0) / p->speed) : 0;
}
