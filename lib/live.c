/* One session's live pipeline: decoder -> reorder window -> analysis and aggregates. The
 * watermark is the minimum over active capabilities of the time up to which each is complete:
 * a capability's events arrive in blocks, so it is complete up to the end time of its last whole
 * block. Until the set of capabilities is known (given, announced by Startup/CapCreate, or some
 * capability has sent a second block, by which time the others have usually sent their first)
 * nothing is released early, as a capability not seen yet may still send older events. */
#include "live.h"

#include "err.h"
#include "reorder.h"
#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>

typedef struct lcap {
    uint64_t safe;   /* no later event of this capability is expected before this time */
    uint32_t blocks; /* whole blocks received */
    bool active;
} lcap_t;

struct live {
    evlog_t dec;
    reorder_t *win;
    gea_t *gea;
    aggr_t *aggr;
    uint64_t bytes, last_ts, warnings;
    uint64_t late, forced; /* the window's counts, kept when it is given back */
    int err;
    bool finished;
    lcap_t *caps;
    size_t ncaps;
    bool caps_known;
    /* the block being received */
    bool in_block, bglobal;
    uint16_t bcap;
    uint64_t bend_off, bend_ts, bmax_ts;
};

static lcap_t *cap_at(live_t *l, uint32_t cap)
{
    if (cap >= l->ncaps) {
        size_t old = l->ncaps;
        xgrow((void **)&l->caps, &l->ncaps, (size_t)cap + 1, sizeof *l->caps);
        memset(l->caps + old, 0, (l->ncaps - old) * sizeof *l->caps);
    }
    return &l->caps[cap];
}

/* Releases what every active capability has completed, once the capability set is known. */
static void release(live_t *l)
{
    if (!l->caps_known) return;
    uint64_t wm = UINT64_MAX;
    bool any = false;
    for (size_t i = 0; i < l->ncaps; i++)
        if (l->caps[i].active) {
            any = true;
            if (l->caps[i].safe < wm) wm = l->caps[i].safe;
        }
    if (any) reorder_release(l->win, wm);
}

/* The block being received is whole: its capability is complete up to the block's end. */
static void block_close(live_t *l)
{
    if (!l->in_block) return;
    l->in_block = false;
    if (!l->bglobal) {
        lcap_t *c = cap_at(l, l->bcap);
        uint64_t t = l->bend_ts > l->bmax_ts ? l->bend_ts : l->bmax_ts;
        if (t > c->safe) c->safe = t;
        if (++c->blocks >= 2) l->caps_known = true;
    }
    release(l);
}

/* Capability set changes announced by events, applied on arrival; they take effect at the next
 * block boundary (the global block that carries them usually ends soon after). */
static void cap_event(live_t *l, const evlog_event_t *ev)
{
    if (!ev->known) return;
    switch (ev->type) {
    case EVLOG_STARTUP:
        for (uint32_t i = 0; i < ev->f.cap.cap; i++)
            cap_at(l, i)->active = true;
        break;
    case EVLOG_CAP_CREATE:
    case EVLOG_CAP_ENABLE:
        cap_at(l, ev->f.cap.cap)->active = true;
        break;
    case EVLOG_CAP_DELETE:
    case EVLOG_CAP_DISABLE:
        cap_at(l, ev->f.cap.cap)->active = false;
        break;
    default:
        return;
    }
    l->caps_known = true;
}

static int on_event(void *ctx, const evlog_event_t *ev)
{
    live_t *l = ctx;
    if (ev->type == EVLOG_BLOCK_MARKER) {
        block_close(l);
        uint16_t cap = ev->f.block.cap;
        l->in_block = true;
        l->bglobal = cap == 0xFFFF; /* the global block does not hold the watermark back */
        if (!l->bglobal) cap_at(l, cap)->active = true;
        l->bcap = cap;
        l->bend_off = ev->offset + ev->f.block.size;
        l->bend_ts = ev->f.block.end_time;
        l->bmax_ts = ev->ts;
        return 0;
    }
    if (l->in_block && ev->offset >= l->bend_off) block_close(l);
    if (ev->ts > l->last_ts) l->last_ts = ev->ts;
    if (l->in_block && ev->ts > l->bmax_ts) l->bmax_ts = ev->ts;
    cap_event(l, ev);
    reorder_push(l->win, ev);
    return 0;
}

static void on_warning(void *ctx, evlog_warning_t w, uint64_t offset, uint64_t count)
{
    (void)w;
    (void)offset;
    (void)count;
    ((live_t *)ctx)->warnings++;
}

static void on_release(void *ctx, const evlog_event_t *ev, bool late)
{
    live_t *l = ctx;
    (void)late;
    gea_event(l->gea, ev);
    aggr_event(l->aggr, ev);
}

live_t *live_create(const live_opts_t *o)
{
    live_opts_t d = o ? *o : (live_opts_t){0};
    if (!d.window_events) d.window_events = LIVE_DEFAULT_WINDOW;
    if (!d.pool_bytes) d.pool_bytes = d.window_events * 32;
    if (d.caps > 0x10000) return NULL;
    live_t *l = xcalloc(1, sizeof *l);
    l->aggr = aggr_create(&d.aggr);
    l->win = reorder_create(d.window_events, d.pool_bytes, on_release, l);
    evlog_sink_t sink = {.on_event = on_event, .on_warning = on_warning, .ctx = l};
    if (!l->aggr || !l->win || evlog_init(&l->dec, &sink) != 0) {
        live_destroy(l);
        return NULL;
    }
    l->gea = gea_create(NULL);
    for (uint32_t i = 0; i < d.caps; i++)
        cap_at(l, i)->active = true;
    l->caps_known = d.caps > 0;
    return l;
}

void live_destroy(live_t *l)
{
    if (!l) return;
    evlog_dispose(&l->dec);
    reorder_destroy(l->win);
    gea_destroy(l->gea);
    aggr_destroy(l->aggr);
    free(l->caps);
    free(l);
}

int live_feed(live_t *l, const uint8_t *p, size_t n)
{
    if (l->finished) return LP_EARG;
    if (l->err) return l->err;
    int rc = evlog_feed(&l->dec, p, n);
    l->bytes += n;
    if (l->in_block && l->bytes >= l->bend_off) block_close(l);
    if (rc < 0) {
        l->err = rc;
        reorder_flush(l->win);
    }
    return rc;
}

int live_finish(live_t *l)
{
    if (l->finished) return LP_EARG;
    l->finished = true;
    int rc = l->err ? l->err : evlog_finish(&l->dec);
    block_close(l);
    reorder_flush(l->win);
    if (rc < 0) l->err = rc;
    /* nothing more comes: the window (most of a pipeline's memory) and the decoder's tables
     * are given back; a finished pipeline keeps its analysis, aggregates and counts */
    l->late = reorder_late(l->win);
    l->forced = reorder_forced(l->win);
    reorder_destroy(l->win);
    l->win = NULL;
    evlog_dispose(&l->dec);
    return rc;
}

uint64_t live_events(const live_t *l)
{
    return evlog_events(&l->dec);
}

uint64_t live_bytes(const live_t *l)
{
    return l->bytes;
}

uint64_t live_late(const live_t *l)
{
    return l->win ? reorder_late(l->win) : l->late;
}

uint64_t live_forced(const live_t *l)
{
    return l->win ? reorder_forced(l->win) : l->forced;
}

size_t live_pending(const live_t *l)
{
    return l->win ? reorder_len(l->win) : 0;
}

uint64_t live_last_ts(const live_t *l)
{
    return l->last_ts;
}

uint64_t live_warnings(const live_t *l)
{
    return l->warnings;
}

int live_error(const live_t *l)
{
    return l->err;
}

const char *live_error_text(const live_t *l)
{
    if (!l->err) return "";
    const char *t = evlog_error_text(&l->dec);
    return t && *t ? t : lp_strerror(l->err);
}

uint64_t live_error_offset(const live_t *l)
{
    return l->err ? evlog_error_offset(&l->dec) : 0;
}

const gea_t *live_gea(const live_t *l)
{
    return l->gea;
}

const aggr_t *live_aggr(const live_t *l)
{
    return l->aggr;
}

size_t live_memory(const live_t *l)
{
    return sizeof *l + (l->win ? reorder_memory(l->win) + sizeof(evlog_types_t) : 0) +
           aggr_memory(l->aggr) + l->ncaps * sizeof *l->caps;
}
