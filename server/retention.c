/* Retention of raw segments: every few seconds the HTTP thread drops the oldest closed segments
 * of sessions beyond the age and size limits — each session's own limits when an admin set
 * them, else the global ones, then across all sessions oldest first — never a segment the
 * analysis has not consumed yet. Before a session loses its first segment a snapshot of its
 * totals and the configured coarse series is written (and made durable), so the session keeps
 * its totals and minute-resolution series across restarts. */
#include "session.h"

#include "seg_log.h"
#include "server.h"
#include "xmalloc.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define TICK_NS 2000000000ull /* how often the limits are checked */

const char *const retention_series[RETENTION_NSERIES] = {"labels", "threads",  "caps",  "gc",
                                                         "heap",   "heapprof", "sparks"};

static int series_index(const char *name, size_t len)
{
    for (int i = 0; i < RETENTION_NSERIES; i++)
        if (strlen(retention_series[i]) == len && !memcmp(retention_series[i], name, len)) return i;
    return -1;
}

int retention_series_mask(const char *list, uint32_t *mask)
{
    uint32_t m = 0;
    if (!strcmp(list, "all")) {
        *mask = (1u << RETENTION_NSERIES) - 1;
        return 0;
    }
    if (strcmp(list, "none"))
        for (const char *p = list;;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            int i = series_index(p, len);
            if (i < 0) return -1;
            m |= 1u << i;
            if (!comma) break;
            p = comma + 1;
        }
    *mask = m;
    return 0;
}

json_t *retention_series_json(uint32_t mask)
{
    json_t *a = json_array();
    for (int i = 0; i < RETENTION_NSERIES; i++)
        if (mask >> i & 1) json_array_append_new(a, json_string(retention_series[i]));
    return a;
}

retention_session_t *retention_session(retention_t *r, const char *id, bool create)
{
    for (size_t i = 0; i < r->nsessions; i++)
        if (!strcmp(r->sessions[i].id, id)) return &r->sessions[i];
    if (!create || strlen(id) >= sizeof r->sessions[0].id) return NULL;
    xgrow((void **)&r->sessions, &r->sessions_cap, r->nsessions + 1, sizeof *r->sessions);
    retention_session_t *o = &r->sessions[r->nsessions++];
    snprintf(o->id, sizeof o->id, "%s", id);
    o->age_s = o->bytes = RETENTION_UNSET;
    return o;
}

void retention_effective(const retention_t *r, const char *id, uint64_t *age_s, uint64_t *bytes)
{
    *age_s = r->age_s;
    *bytes = r->session_bytes;
    for (size_t i = 0; i < r->nsessions; i++)
        if (!strcmp(r->sessions[i].id, id)) {
            if (r->sessions[i].age_s != RETENTION_UNSET) *age_s = r->sessions[i].age_s;
            if (r->sessions[i].bytes != RETENTION_UNSET) *bytes = r->sessions[i].bytes;
        }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void path_of(registry_t *reg, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/retention.json", server_opts(registry_server(reg))->data_dir);
}

static void load_u64(json_t *o, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v) && json_integer_value(v) >= 0) *out = (uint64_t)json_integer_value(v);
}

void retention_load(registry_t *reg)
{
    retention_t *r = registry_retention(reg);
    const server_opts_t *so = server_opts(registry_server(reg));
    r->coarse_series = so->retain_coarse;
    r->coarse_age_s = so->retain_coarse_age_s;
    char path[PATH_MAX + 32];
    path_of(reg, path, sizeof path);
    json_t *o = json_load_file(path, 0, NULL);
    if (!o) return;
    load_u64(o, "max_age_s", &r->age_s);
    load_u64(o, "session_max_bytes", &r->session_bytes);
    load_u64(o, "total_max_bytes", &r->total_bytes);
    load_u64(o, "coarse_keep_s", &r->coarse_age_s);
    json_t *a = json_object_get(o, "coarse_series"), *v;
    size_t i;
    if (json_is_array(a)) {
        r->coarse_series = 0;
        json_array_foreach(a, i, v)
        {
            int k =
                json_is_string(v) ? series_index(json_string_value(v), json_string_length(v)) : -1;
            if (k >= 0) r->coarse_series |= 1u << k;
        }
    }
    const char *id;
    json_object_foreach(json_object_get(o, "sessions"), id, v)
    {
        retention_session_t *s = retention_session(r, id, true);
        if (!s) continue;
        load_u64(v, "max_age_s", &s->age_s);
        load_u64(v, "max_bytes", &s->bytes);
    }
    json_decref(o);
}

static json_t *limit_json(uint64_t v)
{
    return v == RETENTION_UNSET ? json_null() : json_integer((json_int_t)v);
}

int retention_save(registry_t *reg)
{
    char path[PATH_MAX + 32], tmp[PATH_MAX + 40];
    path_of(reg, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    retention_t *r = registry_retention(reg);
    json_t *sessions = json_object();
    for (size_t i = 0; i < r->nsessions;) { /* the overrides of deleted sessions go */
        retention_session_t *s = &r->sessions[i];
        session_t *live = session_find(reg, s->id);
        if (!live || session_deleted(live) ||
            (s->age_s == RETENTION_UNSET && s->bytes == RETENTION_UNSET)) {
            *s = r->sessions[--r->nsessions];
            continue;
        }
        json_object_set_new(sessions, s->id,
                            json_pack("{s:o,s:o}", "max_age_s", limit_json(s->age_s), "max_bytes",
                                      limit_json(s->bytes)));
        i++;
    }
    json_t *o = json_pack("{s:I,s:I,s:I,s:o,s:I,s:o}", "max_age_s", (json_int_t)r->age_s,
                          "session_max_bytes", (json_int_t)r->session_bytes, "total_max_bytes",
                          (json_int_t)r->total_bytes, "coarse_series",
                          retention_series_json(r->coarse_series), "coarse_keep_s",
                          (json_int_t)r->coarse_age_s, "sessions", sessions);
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

/* True when some limit, global or of a session, is set. */
static bool any_limit(const retention_t *r)
{
    if (r->age_s || r->session_bytes || r->total_bytes) return true;
    for (size_t i = 0; i < r->nsessions; i++)
        if ((r->sessions[i].age_s && r->sessions[i].age_s != RETENTION_UNSET) ||
            (r->sessions[i].bytes && r->sessions[i].bytes != RETENTION_UNSET))
            return true;
    return false;
}

void retention_tick(registry_t *reg)
{
    static uint64_t last; /* HTTP thread only */
    uint64_t now = now_ns();
    if (now - last < TICK_NS) return;
    last = now;
    const retention_t *r = registry_retention(reg);
    if (!any_limit(r)) return;
    size_t n;
    session_t **all = session_all(reg, &n);
    bool snapped_stack[64];
    bool *snapped = n <= 64 ? snapped_stack : calloc(n, sizeof *snapped);
    if (!snapped) return;
    memset(snapped, 0, (n <= 64 ? 64 : n) * sizeof *snapped);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        session_t *s = all[i];
        uint64_t age_s, bytes;
        retention_effective(r, s->meta.id, &age_s, &bytes);
        while (droppable(s) && ((age_s && oldest_created(s) + age_s * 1000000000ull < now) ||
                                (bytes && seg_log_disk_bytes(&s->pt->log) > bytes)))
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
