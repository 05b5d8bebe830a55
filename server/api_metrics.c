/* GET /metrics: Prometheus text exposition of the server's health and of every session that is
 * still ingesting or live. */
#include "routes.h"

#include "aggr.h"
#include "live.h"
#include "server.h"
#include "session.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/* the sanitizer runtime's allocator (sanitizer/allocator_interface.h, which gcc does not ship) */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

/* Bytes allocated and not yet freed, from whichever allocator the build has: glibc's (its arenas
 * in use plus whole mappings; glibc walks its arenas for this, cheap next to the rest of a
 * scrape), or a sanitizer's. */
static size_t heap_in_use(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return __sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#endif
}

static void get_metrics(http_req_t *r)
{
    server_stats_t *st = server_stats(r->srv);
    size_t n;
    session_t **all = session_all(server_registry(r->srv), &n);
    size_t by_state[4] = {0}, aggr_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        by_state[session_state(all[i])]++;
        pthread_mutex_lock(&all[i]->lock);
        const aggr_t *a = session_aggr(all[i]);
        aggr_bytes += a ? aggr_bins_memory(a) : 0;
        pthread_mutex_unlock(&all[i]->lock);
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
#define LOAD(x) ((unsigned long long)atomic_load_explicit(&st->x, memory_order_relaxed))
    fprintf(
        f,
        "# HELP liveprof_up Whether the server is up.\n# TYPE liveprof_up gauge\nliveprof_up 1\n"
        "# HELP liveprof_uptime_seconds Seconds since the server started.\n"
        "# TYPE liveprof_uptime_seconds gauge\nliveprof_uptime_seconds %llu\n"
        "# HELP liveprof_http_requests_total API requests served.\n"
        "# TYPE liveprof_http_requests_total counter\nliveprof_http_requests_total %llu\n"
        "# HELP liveprof_http_errors_total API requests answered with a 4xx or 5xx status.\n"
        "# TYPE liveprof_http_errors_total counter\nliveprof_http_errors_total %llu\n"
        "# HELP liveprof_bytes_received_total Eventlog bytes received.\n"
        "# TYPE liveprof_bytes_received_total counter\nliveprof_bytes_received_total %llu\n"
        "# HELP liveprof_sessions_created_total Sessions created since start.\n"
        "# TYPE liveprof_sessions_created_total counter\nliveprof_sessions_created_total %llu\n"
        "# HELP liveprof_sessions_restored_total Sessions brought back at start, by how: "
        "\"snapshot\" (settled, resumed from its snapshot alone, no raw byte analysed) or "
        "\"analysis\" (analysed again from its raw segments).\n"
        "# TYPE liveprof_sessions_restored_total counter\n"
        "liveprof_sessions_restored_total{how=\"snapshot\"} %llu\n"
        "liveprof_sessions_restored_total{how=\"analysis\"} %llu\n"
        "# HELP liveprof_restore_reanalysed_bytes Raw eventlog bytes that sessions brought back "
        "at start are analysed again from.\n"
        "# TYPE liveprof_restore_reanalysed_bytes gauge\nliveprof_restore_reanalysed_bytes %llu\n"
        "# HELP liveprof_upload_chunks_held_total Upload chunks held unanswered until the segment "
        "writer had room for them.\n"
        "# TYPE liveprof_upload_chunks_held_total counter\nliveprof_upload_chunks_held_total "
        "%llu\n"
        "# HELP liveprof_live_waits_total Times an upload's live analysis stopped while the "
        "bytes outran it (the exact pass at the end redoes it).\n"
        "# TYPE liveprof_live_waits_total counter\nliveprof_live_waits_total %llu\n",
        (unsigned long long)(time(NULL) - (time_t)st->started_unix), LOAD(http_requests),
        LOAD(http_errors), LOAD(bytes_received), LOAD(sessions_created), LOAD(sessions_resumed),
        LOAD(sessions_reanalysed), LOAD(reanalysed_bytes), LOAD(chunks_held), LOAD(live_waits));
    fprintf(f, "# HELP liveprof_http_turn_cpu_seconds CPU time of each turn of the HTTP thread's "
               "event loop (a request that arrives during a turn waits for it).\n"
               "# TYPE liveprof_http_turn_cpu_seconds histogram\n");
    for (int i = 0; i < HTTP_TURN_BUCKETS; i++) {
        unsigned long long c = LOAD(http_turns[i]);
        if (i < HTTP_TURN_BUCKETS - 1)
            fprintf(f, "liveprof_http_turn_cpu_seconds_bucket{le=\"%g\"} %llu\n", http_turn_le[i],
                    c);
        else
            fprintf(f,
                    "liveprof_http_turn_cpu_seconds_bucket{le=\"+Inf\"} %llu\n"
                    "liveprof_http_turn_cpu_seconds_count %llu\n",
                    c, c);
    }
    fprintf(f,
            "liveprof_http_turn_cpu_seconds_sum %.9f\n"
            "# HELP liveprof_http_turn_cpu_max_seconds The longest turn since the start.\n"
            "# TYPE liveprof_http_turn_cpu_max_seconds gauge\n"
            "liveprof_http_turn_cpu_max_seconds %.9f\n",
            LOAD(http_turn_ns_sum) / 1e9, LOAD(http_turn_ns_max) / 1e9);
#undef LOAD
    fprintf(f, "# HELP liveprof_sessions Sessions by state.\n# TYPE liveprof_sessions gauge\n");
    for (int s = 0; s < 4; s++)
        fprintf(f, "liveprof_sessions{state=\"%s\"} %zu\n", session_state_name(s), by_state[s]);
    fprintf(f,
            "# HELP liveprof_heap_bytes Bytes of the allocator's in use: what the server has "
            "allocated and not freed (unlike the RSS, it falls when memory is freed). Upload "
            "blocks and monitor units are mapped apart and not in it.\n"
            "# TYPE liveprof_heap_bytes gauge\nliveprof_heap_bytes %zu\n"
            "# HELP liveprof_aggregates_bytes Bytes of the binned aggregates every session holds "
            "in memory (each at most --session-memory): what grows with the number of sessions.\n"
            "# TYPE liveprof_aggregates_bytes gauge\nliveprof_aggregates_bytes %zu\n",
            heap_in_use(), aggr_bytes);
    fprintf(f, "# HELP liveprof_session_bytes_ingested Bytes analysed, per active session.\n"
               "# TYPE liveprof_session_bytes_ingested gauge\n"
               "# HELP liveprof_session_events Events decoded, per active session.\n"
               "# TYPE liveprof_session_events gauge\n"
               "# HELP liveprof_session_late_events Events that arrived behind the reorder "
               "window, per active session.\n# TYPE liveprof_session_late_events gauge\n");
    for (size_t i = 0; i < n; i++) {
        session_t *s = all[i];
        session_state_t state = session_state(s);
        if (state != SESSION_INGESTING && state != SESSION_LIVE) continue;
        /* per-session series only for sessions the caller may read (no private ids leak) */
        if (!auth_can_read(&r->auth, s->meta.owner, s->meta.is_public)) continue;
        pthread_mutex_lock(&s->lock);
        unsigned long long late = s->live ? live_late(s->live) : 0;
        pthread_mutex_unlock(&s->lock);
        fprintf(f, "liveprof_session_bytes_ingested{session=\"%s\"} %llu\n", s->meta.id,
                (unsigned long long)session_analysed(s));
        fprintf(f, "liveprof_session_events{session=\"%s\"} %llu\n", s->meta.id,
                (unsigned long long)session_events_analysed(s));
        fprintf(f, "liveprof_session_late_events{session=\"%s\"} %llu\n", s->meta.id, late);
    }
    fclose(f);
    http_send(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}

const http_route_t api_metrics_routes[] = {
    {"GET", "/metrics", get_metrics},
};
const size_t api_metrics_nroutes = sizeof api_metrics_routes / sizeof api_metrics_routes[0];
