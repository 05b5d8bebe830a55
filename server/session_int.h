/* What the registry (server/session.c) and its workers (server/session_worker.c) share: the
 * registry's fields and the worker pool's slots. Internal to those two files. */
#ifndef LP_SESSION_INT_H
#define LP_SESSION_INT_H

#include "replay.h"
#include "session.h"

typedef struct worker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    session_t *head;
    bool wake, stop;
    registry_t *reg;
} worker_t;

struct registry {
    server_t *srv;
    http_server_t *http;
    http_notifier_t *news; /* workers -> HTTP thread: ring room, state changes */
    http_waitq_t *waiting; /* upload chunks held until the segment writer has room */
    script_t *totals_script;
    worker_t *workers;
    int nworkers, next_worker;
    size_t ring_bytes;
    persist_t *persist;
    replays_t *replays;
    retention_t retention;
    session_t **sessions;
    size_t nsessions, sessions_cap;
    upload_t **uploads;
    size_t nuploads, uploads_cap;
    _Atomic(const session_watch_t *) watch; /* told when a session's analysis changed */
    uint64_t ticks;                         /* on_tick calls */
};
/* Tells the registered watcher (the WebSocket feed) that s's analysis changed. A worker. */
void session_tell_watch(registry_t *reg, session_t *s);
/* A worker's thread body (arg: its worker_t): feeds each of its sessions' rings into the live
 * analysis and settles each session once its input has ended, until w->stop. */
void *session_worker_main(void *arg);

#endif
