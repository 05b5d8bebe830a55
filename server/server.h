/* `liveprof serve`: the server's options, its shared context and its main loop. One HTTP thread
 * (h2o evloop) owns the metadata database and every HTTP request; a small pool of session
 * workers decodes and analyses the sessions' bytes. */
#ifndef LP_SERVER_H
#define LP_SERVER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct server_opts {
    char http_host[64];
    int http_port;
    char ws_host[64];
    int ws_port;
    char data_dir[PATH_MAX];
    char web_dir[PATH_MAX];        /* static files served at "/" (may be empty) */
    uint64_t max_body;             /* bytes of one request body */
    int workers;                   /* session worker threads (0: one per core) */
    size_t ring_bytes;             /* per-session ring capacity (power of two) */
    size_t aggr_bytes;             /* per-session bound on the binned aggregates */
    uint64_t fsync_ms;             /* group commit interval of the segments (0: every write) */
    uint64_t write_queue;          /* upload bytes queued for the segment writer before chunks
                                      are held (default 32 MiB) */
    uint64_t seg_bytes;            /* segment size before rolling */
    uint64_t seg_age_s;            /* segment age before rolling (0: never by age) */
    int zstd_level;                /* compression of chunk records (0: none) */
    uint64_t retain_age_s;         /* raw segments older than this are dropped (0: kept) */
    uint64_t retain_session_bytes; /* raw segment bytes kept per session (0: all) */
    uint64_t retain_total_bytes;   /* raw segment bytes kept in all (0: all) */
    uint32_t retain_coarse;        /* series kept as coarse bins in snapshots (bit per series) */
    uint64_t retain_coarse_age_s;  /* seconds of coarse bins a snapshot keeps (0: all held) */
    int64_t login_ttl;             /* lifetime of login tokens in seconds (default 30 days) */
    int ws_timeout_s; /* WebSocket port: a connection silent to pings this long is closed */
} server_opts_t;

/* Fills the design's defaults: 127.0.0.1:8080, 127.0.0.1:8081, ./liveprof-data, 1 GiB. */
void server_opts_default(server_opts_t *o);
/* Makes the calling thread a batch thread named `name` (at most 15 bytes): SCHED_BATCH (it never
 * preempts a thread that wakes) and nice BATCH_NICE (a thread that serves requests gets several
 * times its share of a busy core), so that the HTTP and WebSocket threads answer at once while
 * every core ingests. For the analysis and segment writing threads; any of them, once, first. */
void server_thread_batch(const char *name);
#define BATCH_NICE 10
/* Nanoseconds of CLOCK_MONOTONIC: the server's clock for intervals. Any thread. */
uint64_t server_mono_ns(void);
/* Makes the calling thread (the HTTP thread, once its other threads are started: they would
 * inherit it) a serving thread: nice SERVING_NICE, so that a request that arrives while the
 * cores ingest waits less for one (a third of the run-queue wait measured at nice 0 under a
 * 1 GB upload). Lowering a nice value needs CAP_SYS_NICE (root); without it the thread stays as
 * it is and the server works the same. Returns whether the priority was raised. */
bool server_thread_serving(void);
#define SERVING_NICE (-10)
/* The series names "labels", "threads", "caps", "gc", "heap", "heapprof", "sparks" as a bit
 * mask (bit i: the i-th of them) from a comma-separated LIST, "all" or "none"; returns 0 or -1
 * for an unknown name. Any thread. */
int retention_series_mask(const char *list, uint32_t *mask);
/* Runs the server until SIGTERM or SIGINT; returns the process exit status. Main thread. */
int server_run(const server_opts_t *o);

typedef struct server server_t;
typedef struct db db_t;
typedef struct registry registry_t;

/* The metadata database. HTTP thread only. */
db_t *server_db(server_t *srv);
/* The session registry. */
registry_t *server_registry(server_t *srv);
/* The monitor links (NULL when they could not start). */
typedef struct links links_t;
links_t *server_links(server_t *srv);
/* The options the server runs with. */
const server_opts_t *server_opts(const server_t *srv);

/* Server-wide counters for /metrics (updated with relaxed atomics: they order nothing). */
#define HTTP_TURN_BUCKETS 7 /* the last is +Inf */
extern const double http_turn_le[HTTP_TURN_BUCKETS - 1];

typedef struct server_stats {
    _Atomic uint64_t http_requests;
    _Atomic uint64_t http_errors;
    _Atomic uint64_t bytes_received;
    _Atomic uint64_t sessions_created;
    _Atomic uint64_t late_events;
    /* sessions brought back at start: settled ones resumed from their snapshot alone, and ones
     * analysed again from their raw segments (with the bytes that analysis reads) */
    _Atomic uint64_t sessions_resumed;
    _Atomic uint64_t sessions_reanalysed;
    _Atomic uint64_t reanalysed_bytes;
    _Atomic uint64_t chunks_held; /* upload chunks that waited for the segment writer */
    _Atomic uint64_t live_waits;  /* times an upload's live pass stopped to let it run ahead */
    /* CPU time of the HTTP thread's event-loop turns (server/http.c): turns that took at most
     * http_turn_le[i] seconds, cumulative as Prometheus buckets are; their sum and the longest */
    _Atomic uint64_t http_turns[HTTP_TURN_BUCKETS];
    _Atomic uint64_t http_turn_ns_sum, http_turn_ns_max;
    uint64_t started_unix;
} server_stats_t;

server_stats_t *server_stats(server_t *srv);

#endif
