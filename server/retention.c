/* Retention of raw segments: every few seconds the HTTP thread drops the oldest closed segments
 * of sessions beyond the age and size limits — per session, then across all sessions oldest
 * first — never a segment the analysis has not consumed yet. Before a session loses its first
 * segment a snapshot of its totals and coarse series is written (and made durable), so the
 * session keeps its totals and minute-resolution series across restarts. */
#include "session.h"

#include "seg_log.h"
#include "server.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define TICK_NS 2000000000ull /* how often the limits are checked */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void path_of(registry_t *reg, char *buf, size_t cap)
{
    (void)reg;
    snprintf(buf, cap, "%s/retention.json", server_opts(registry_server(reg))->data_dir);
}

void retention_load(registry_t *reg)
{
    char path[PATH_MAX + 32];
    path_of(reg, path, sizeof path);
    json_t *o = json_load_file(path, 0, NULL);
    if (!o) return;
    retention_t *r = registry_retention(reg);
    json_t *v;
    if (json_is_integer(v = json_object_get(o, "max_age_s"))) r->age_s = json_integer_value(v);
    if (json_is_integer(v = json_object_get(o, "session_max_bytes")))
        r->session_bytes = json_integer_value(v);
    if (json_is_integer(v = json_object_get(o, "total_max_bytes")))
        r->total_bytes = json_integer_value(v);
    json_decref(o);
}

int retention_save(registry_t *reg)
{
    char path[PATH_MAX + 32], tmp[PATH_MAX + 40];
    path_of(reg, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    const retention_t *r = registry_retention(reg);
    json_t *o =
        json_pack("{s:I,s:I,s:I}", "max_age_s", (json_int_t)r->age_s, "session_max_bytes",
                  (json_int_t)r->session_bytes, "total_max_bytes", (json_int_t)r->total_bytes);
    int rc = json_dump_file(o, tmp, JSON_INDENT(2)) == 0 && rename(tmp, path) == 0 ? 0 : -1;
    json_decref(o);
    return rc;
}

static bool settled(session_t *s)
{
    pthread_mutex_lock(&s->lock); /* the worker sets it under the lock */
    bool yes = s->settled;
    pthread_mutex_unlock(&s->lock);
    return yes;
}

/* True when the session's oldest segment may go: closed, not the last, and consumed. */
static bool droppable(session_t *s)
{
    seg_log_t *l = &s->pt->log;
    uint64_t consumed = atomic_load_explicit(&s->consumed, memory_order_relaxed);
    bool done = settled(s);
    pthread_mutex_lock(&l->mu);
    bool ok = l->nfiles >= 2 && l->files[0].closed && (done || consumed >= l->files[0].stream_end);
    pthread_mutex_unlock(&l->mu);
    return ok;
}

static uint64_t oldest_created(session_t *s)
{
    seg_log_t *l = &s->pt->log;
    pthread_mutex_lock(&l->mu);
    uint64_t c = l->nfiles ? l->files[0].created_ns : UINT64_MAX;
    pthread_mutex_unlock(&l->mu);
    return c;
}

/* Drops s's oldest segment, after a durable snapshot the first time in this round (a settled
 * session wrote its final one when it settled, into its last segment, which is never dropped). */
static uint64_t drop_one(registry_t *reg, session_t *s, bool *snapped)
{
    if (!*snapped && !settled(s)) {
        session_save_snapshot(reg, s);
        persist_flush(registry_persister(reg), 2000);
        *snapped = true;
    }
    uint64_t freed = seg_log_drop_oldest(&s->pt->log);
    if (freed)
        fprintf(stderr, "serve: retention: session %s: dropped %llu bytes of raw segments\n",
                s->meta.id, (unsigned long long)freed);
    return freed;
}

void retention_tick(registry_t *reg)
{
    static uint64_t last; /* HTTP thread only */
    uint64_t now = now_ns();
    if (now - last < TICK_NS) return;
    last = now;
    const retention_t *r = registry_retention(reg);
    if (!r->age_s && !r->session_bytes && !r->total_bytes) return;
    size_t n;
    session_t **all = session_all(reg, &n);
    bool snapped_stack[64];
    bool *snapped = n <= 64 ? snapped_stack : calloc(n, sizeof *snapped);
    if (!snapped) return;
    memset(snapped, 0, (n <= 64 ? 64 : n) * sizeof *snapped);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        session_t *s = all[i];
        while (droppable(s) &&
               ((r->age_s && oldest_created(s) + r->age_s * 1000000000ull < now) ||
                (r->session_bytes && seg_log_disk_bytes(&s->pt->log) > r->session_bytes)))
            if (!drop_one(reg, s, &snapped[i])) break;
        total += seg_log_disk_bytes(&s->pt->log);
    }
    while (r->total_bytes && total > r->total_bytes) {
        size_t pick = n;
        for (size_t i = 0; i < n; i++)
            if (droppable(all[i]) &&
                (pick == n || oldest_created(all[i]) < oldest_created(all[pick])))
                pick = i;
        if (pick == n) break;
        uint64_t freed = drop_one(reg, all[pick], &snapped[pick]);
        if (!freed) break;
        total -= freed < total ? freed : total;
    }
    if (snapped != snapped_stack) free(snapped);
}
