/* The server's life: options, the data directory, the metadata database, the admin bootstrap,
 * the HTTP thread's loop with the route tables, the session registry, and a clean shutdown on
 * SIGTERM or SIGINT (stop accepting, let the workers finish their step, write the metadata). */
#include "server.h"

#include "api.h"
#include "auth.h"
#include "db.h"
#include "http.h"
#include "link.h"
#include "routes.h"
#include "session.h"
#include "ws.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sodium.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct server {
    server_opts_t opts;
    db_t *db;
    registry_t *reg;
    links_t *links;
    server_stats_t stats;
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

/* Deletes expired and revoked tokens (at start and every minute). HTTP thread. */
static void purge_tokens(void *ctx)
{
    server_t *srv = ctx;
    int n = auth_purge_tokens(srv->db, (int64_t)time(NULL));
    if (n < 0) fprintf(stderr, "serve: cannot purge expired tokens: %s\n", db_errmsg(srv->db));
}

void server_thread_batch(const char *name)
{
    pthread_setname_np(pthread_self(), name);
    struct sched_param sp = {0};
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
    /* Linux: the nice value of a thread, by its id; the threads it starts inherit it */
    setpriority(PRIO_PROCESS, (id_t)gettid(), BATCH_NICE);
}

uint64_t server_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool server_thread_serving(void)
{
    return setpriority(PRIO_PROCESS, (id_t)gettid(), SERVING_NICE) == 0;
}

void server_opts_default(server_opts_t *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->http_host, sizeof o->http_host, "127.0.0.1");
    o->http_port = 8080;
    snprintf(o->ws_host, sizeof o->ws_host, "127.0.0.1");
    o->ws_port = 8081;
    snprintf(o->data_dir, sizeof o->data_dir, "./liveprof-data");
    o->max_body = 1ull << 30;
    o->ring_bytes = 4u << 20;
    o->aggr_bytes = 16u << 20;
    o->fsync_ms = 1000;
    o->write_queue = 32u << 20;
    o->seg_bytes = 64u << 20;
    o->login_ttl = 30 * 24 * 3600;
    retention_series_mask("all", &o->retain_coarse);
    o->ws_timeout_s = 30;
}

db_t *server_db(server_t *srv)
{
    return srv->db;
}

links_t *server_links(server_t *srv)
{
    return srv->links;
}

registry_t *server_registry(server_t *srv)
{
    return srv->reg;
}

const server_opts_t *server_opts(const server_t *srv)
{
    return &srv->opts;
}

server_stats_t *server_stats(server_t *srv)
{
    return &srv->stats;
}

int server_run(const server_opts_t *o)
{
    server_t srv;
    memset(&srv, 0, sizeof srv);
    srv.opts = *o;
    srv.stats.started_unix = (uint64_t)time(NULL);
    /* Nothing the server writes (database, raw logs, tokens) is for other users to read. */
    umask(077);
    auth_set_login_ttl(o->login_ttl);
    if (sodium_init() < 0) {
        fprintf(stderr, "serve: libsodium cannot initialise\n");
        return 1;
    }
    if (mkdir(o->data_dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "serve: cannot create %s: %s\n", o->data_dir, strerror(errno));
        return 1;
    }
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/meta.sqlite", o->data_dir);
    if (db_open(path, &srv.db) < 0) {
        fprintf(stderr, "serve: cannot open the database %s\n", path);
        return 1;
    }
    snprintf(path, sizeof path, "%s/admin.token", o->data_dir);
    if (auth_bootstrap(srv.db, path) < 0) {
        fprintf(stderr, "serve: cannot create the admin user and %s\n", path);
        db_close(srv.db);
        return 1;
    }
    const http_route_t *tables[] = {api_session_routes,  api_upload_routes, api_metrics_routes,
                                    api_auth_routes,     api_users_routes,  api_connections_routes,
                                    api_retention_routes};
    const size_t sizes[] = {api_session_nroutes,  api_upload_nroutes, api_metrics_nroutes,
                            api_auth_nroutes,     api_users_nroutes,  api_connections_nroutes,
                            api_retention_nroutes};
    char err[256], spill[PATH_MAX + 8];
    snprintf(spill, sizeof spill, "%s/tmp", o->data_dir);
    http_server_t *h =
        http_spill_to(spill, err, sizeof err) < 0
            ? NULL
            : http_create(&srv, o->http_host, o->http_port, o->web_dir, o->max_body, tables, sizes,
                          sizeof sizes / sizeof sizes[0], err, sizeof err);
    if (!h) {
        fprintf(stderr, "serve: %s\n", err);
        db_close(srv.db);
        return 1;
    }
    purge_tokens(&srv);
    http_every(h, 60000, purge_tokens, &srv);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    srv.reg = registry_create(&srv, h, o->workers > 0 ? o->workers : (int)(cores > 0 ? cores : 2),
                              o->ring_bytes);
    ws_t *ws = ws_create(&srv, h, o->ws_host, o->ws_port);
    /* before ws_start: the links register the WebSocket port's /monitor (pushing monitors) */
    srv.links = links_create(srv.reg, h, srv.db, ws, err, sizeof err);
    if (!srv.links) fprintf(stderr, "serve: %s (monitor links disabled)\n", err);
    if (ws_start(ws, err, sizeof err) < 0) {
        fprintf(stderr, "serve: %s\n", err);
        ws_destroy(ws);
        links_destroy(srv.links);
        registry_destroy(srv.reg);
        http_destroy(h);
        db_close(srv.db);
        return 1;
    }
    if (srv.links) api_connections_resume(&srv);
    server_thread_serving(); /* last: the threads started above keep their own priority */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    printf("liveprof: serving http://%s:%d/ and ws://%s:%d/ws (data in %s)\n", o->http_host,
           http_port(h), o->ws_host, ws_port(ws), o->data_dir);
    fflush(stdout);
    int status = 0;
    while (!stopping)
        if (http_run(h, 100) < 0) {
            fprintf(stderr, "serve: the event loop failed\n");
            status = 1;
            break;
        }
    http_stop_accepting(h);
    ws_stop(ws); /* before the workers go: the feeds read sessions */
    registry_destroy(srv.reg);
    ws_destroy(ws);
    links_destroy(srv.links); /* after ws_destroy: it closes the pushed monitors' connections */
    http_destroy(h);
    db_close(srv.db);
    fprintf(stderr, "liveprof: stopped\n");
    return status;
}
