/* Late-joiner state: an eventlog sink that keeps init events, the latest label per thread,
 * which threads still run and which START labels are open, and writes them back as events. */
#include "joiner.h"

#include "err.h"
#include "evwrite.h"
#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>

#define INIT_MAX (64u << 10)
#define TEXT_MAX (16u << 20)
#define LABELS_MAX 65536u

static uint32_t text_add(joiner_t *j, const uint8_t *p, uint32_t n)
{
    if (j->text_len + n > TEXT_MAX) return UINT32_MAX;
    xgrow((void **)&j->text, &j->text_cap, j->text_len + n, 1);
    memcpy(j->text + j->text_len, p, n);
    j->text_len += n;
    return (uint32_t)(j->text_len - n);
}

static joiner_thread_t *thread_of(joiner_t *j, uint32_t tid)
{
    uint32_t i = u32map_get(&j->by_tid, tid);
    if (i != U32MAP_NONE) return &j->threads[i];
    xgrow((void **)&j->threads, &j->threads_cap, j->nthreads + 1, sizeof *j->threads);
    joiner_thread_t *t = &j->threads[j->nthreads];
    memset(t, 0, sizeof *t);
    t->tid = tid;
    u32map_put(&j->by_tid, tid, (uint32_t)j->nthreads++);
    return t;
}

static void keep_init(joiner_t *j, const evlog_event_t *ev)
{
    size_t need = 14 + ev->size;
    if (j->init_len + need > INIT_MAX) return;
    xgrow((void **)&j->init, &j->init_cap, j->init_len + need, 1);
    uint8_t *p = j->init + j->init_len;
    memcpy(p, &ev->type, 2);
    memcpy(p + 2, &ev->ts, 8);
    memcpy(p + 10, &ev->size, 4);
    memcpy(p + 14, ev->payload, ev->size);
    j->init_len += need;
}

/* START x / STOP x: the open count of label x ("START " prefix kept in the stored text). */
static void user_msg(joiner_t *j, const evlog_event_t *ev)
{
    const uint8_t *m = ev->f.msg.text.p;
    uint32_t n = ev->f.msg.text.len;
    bool start = n > 6 && memcmp(m, "START ", 6) == 0;
    bool stop = n > 5 && memcmp(m, "STOP ", 5) == 0;
    if (!start && !stop) return;
    const uint8_t *name = m + (start ? 6 : 5);
    uint32_t nlen = n - (start ? 6 : 5);
    for (size_t i = 0; i < j->nlabels; i++) {
        joiner_label_t *l = &j->labels[i];
        if (l->text_len - 6 == nlen && memcmp(j->text + l->text_at + 6, name, nlen) == 0) {
            if (start && l->open++ == 0) l->ts = ev->ts;
            if (stop && l->open > 0) l->open--;
            return;
        }
    }
    if (!start || j->nlabels >= LABELS_MAX) return;
    uint32_t at = text_add(j, m, n);
    if (at == UINT32_MAX) return;
    xgrow((void **)&j->labels, &j->labels_cap, j->nlabels + 1, sizeof *j->labels);
    j->labels[j->nlabels++] = (joiner_label_t){at, n, ev->ts, 1};
}

static int on_event(void *ctx, const evlog_event_t *ev)
{
    joiner_t *j = ctx;
    if (!ev->known) return 0;
    switch (ev->type) {
    case EVLOG_CAPSET_CREATE:
    case EVLOG_CAPSET_ASSIGN_CAP:
    case EVLOG_RTS_IDENTIFIER:
    case EVLOG_PROGRAM_ARGS:
    case EVLOG_OSPROCESS_PID:
    case EVLOG_OSPROCESS_PPID:
    case EVLOG_WALL_CLOCK_TIME:
    case EVLOG_CAP_CREATE:
        keep_init(j, ev);
        break;
    case EVLOG_CREATE_THREAD: {
        joiner_thread_t *t = thread_of(j, ev->f.thread.tid);
        t->alive = true;
        t->created_ts = ev->ts;
        break;
    }
    case EVLOG_STOP_THREAD:
        if (ev->f.stop.status == 5) {
            joiner_thread_t *t = thread_of(j, ev->f.stop.tid);
            t->alive = false;
            t->finished = true;
        }
        break;
    case EVLOG_THREAD_LABEL: {
        joiner_thread_t *t = thread_of(j, ev->f.label.tid);
        uint32_t at = text_add(j, ev->f.label.text.p, ev->f.label.text.len);
        if (at != UINT32_MAX) {
            t->label_at = at;
            t->label_len = ev->f.label.text.len;
            t->label_ts = ev->ts;
        }
        break;
    }
    case EVLOG_USER_MSG:
        user_msg(j, ev);
        break;
    default:
        break;
    }
    return 0;
}

int joiner_init(joiner_t *j)
{
    memset(j, 0, sizeof *j);
    u32map_init(&j->by_tid);
    evlog_sink_t sink = {.on_event = on_event, .ctx = j};
    return evlog_init(&j->dec, &sink);
}

void joiner_dispose(joiner_t *j)
{
    evlog_dispose(&j->dec);
    free(j->init);
    free(j->threads);
    u32map_dispose(&j->by_tid);
    free(j->labels);
    free(j->text);
    memset(j, 0, sizeof *j);
}

void joiner_feed(joiner_t *j, const uint8_t *p, size_t n)
{
    if (j->failed) return;
    if (evlog_feed(&j->dec, p, n) < 0) j->failed = true;
}

uint8_t *joiner_events(const joiner_t *j, size_t *len)
{
    *len = 0;
    evwrite_t w;
    if (evwrite_init(&w) < 0) return NULL;
    int rc = evwrite_block_begin(&w, 0xFFFF, 0);
    uint64_t last = 0;
    for (size_t at = 0; rc == 0 && at < j->init_len;) {
        uint16_t type;
        uint64_t ts;
        uint32_t n;
        memcpy(&type, j->init + at, 2);
        memcpy(&ts, j->init + at + 2, 8);
        memcpy(&n, j->init + at + 10, 4);
        rc = evwrite_event(&w, type, ts, j->init + at + 14, n);
        last = ts > last ? ts : last;
        at += 14 + n;
    }
    for (size_t i = 0; rc == 0 && i < j->nthreads; i++) {
        const joiner_thread_t *t = &j->threads[i];
        if (t->finished) continue;
        if (t->alive) rc = evwrite_thread(&w, EVLOG_CREATE_THREAD, t->created_ts, t->tid);
        if (rc == 0 && t->label_len)
            rc = evwrite_thread_label(&w, t->label_ts, t->tid, j->text + t->label_at, t->label_len);
        last = t->label_ts > last ? t->label_ts : last;
    }
    for (size_t i = 0; rc == 0 && i < j->nlabels; i++) {
        const joiner_label_t *l = &j->labels[i];
        for (int32_t k = 0; rc == 0 && k < l->open; k++)
            rc = evwrite_msg(&w, EVLOG_USER_MSG, l->ts, j->text + l->text_at, l->text_len);
        last = l->open && l->ts > last ? l->ts : last;
    }
    if (rc == 0) rc = evwrite_block_end(&w, last);
    uint8_t *out = NULL;
    if (rc == 0 && evwrite_events(&w) > 0) out = evwrite_take(&w, len);
    evwrite_dispose(&w);
    return out;
}
