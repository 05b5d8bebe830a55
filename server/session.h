/* Sessions: the registry of every session and upload (HTTP thread), each session's bytes on
 * disk and its SPSC ring towards the worker that owns it, the worker pool that decodes and
 * analyses them live, and the exact file pass that settles a finished session. */
#ifndef LP_SESSION_H
#define LP_SESSION_H

#include "http.h"
#include "report.h"
#include "script.h"
#include "session_meta.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct live live_t;
typedef struct aggr aggr_t;
typedef struct ring ring_t;

typedef enum session_state {
    SESSION_INGESTING = 0,
    SESSION_LIVE = 1,
    SESSION_DONE = 2,
    SESSION_FAILED = 3,
} session_state_t;

typedef struct session session_t;
struct session {
    /* HTTP thread: metadata and ingestion bookkeeping */
    session_meta_t meta;
    int raw_fd;        /* the session's bytes, appended as they arrive */
    uint64_t received; /* bytes in the raw file */
    uint64_t fed;      /* bytes handed to the ring */
    bool input_done;   /* no more bytes will come */
    bool ring_closed;
    bool direct;          /* all bytes came at once: no live pass, the worker settles directly */
    bool unsynced;        /* bytes written since the last fdatasync (group commit every 200 ms) */
    session_meta_t saved; /* what the database holds, to write only changes */
    /* shared: the worker feeds `live` and settles `final`; readers take `lock` */
    pthread_mutex_t lock;
    live_t *live;
    report_t final;     /* totals report of the exact file pass (when settled) */
    aggr_t *final_aggr; /* aggregates of the exact file pass (when settled) */
    bool settled;
    char error[256]; /* set before state becomes FAILED */
    ring_t *ring;
    _Atomic int state;         /* session_state_t; release by the worker, acquire by readers */
    _Atomic uint64_t consumed; /* bytes the worker took from the ring (relaxed: a counter) */
    _Atomic uint64_t events;   /* events decoded (relaxed: a counter) */
    _Atomic bool deleted;      /* set by the HTTP thread; the worker drops the session */
    _Atomic int refs;          /* registry + worker; the last one frees */
    int worker;
    session_t *next_in_worker; /* the worker's list (its mutex) */
};

typedef struct upload {
    char id[33];
    session_t *session;
    uint64_t offset; /* bytes durably received */
    bool finished;
} upload_t;

typedef struct registry registry_t;

/* Creates the registry, starts `workers` worker threads and loads every session of the
 * database (their bytes are analysed again in the background). HTTP thread, at start. */
registry_t *registry_create(server_t *srv, http_server_t *http, int workers, size_t ring_bytes);
/* Stops the workers and frees everything (NULL is a no-op). Main thread, at the end. */
void registry_destroy(registry_t *reg);
/* The default totals script (parsed once; read-only, any thread). */
const script_t *registry_totals_script(const registry_t *reg);
/* Writes changed session metadata to the database. HTTP thread. */
void registry_persist(registry_t *reg);

/* Creates a session owned by the caller (a guest's is public); its directory and raw file.
 * Returns it or NULL with a message. HTTP thread. */
session_t *session_create(registry_t *reg, const auth_t *owner, const char *name, char *err,
                          size_t cap);
/* The session with that id, or NULL. HTTP thread. */
session_t *session_find(registry_t *reg, const char *id);
/* Sessions in creation order: *n gets the count. HTTP thread. */
session_t **session_all(registry_t *reg, size_t *n);
/* The aggregates to answer queries from: the exact ones once settled, else the live ones.
 * Call with s->lock held. */
const aggr_t *session_aggr(const session_t *s);
/* Appends bytes to the session's raw file (made durable by the next group commit, within
 * 200 ms) and hands them towards its worker. Returns 0 or LP_EIO. HTTP thread. */
int session_append(registry_t *reg, session_t *s, const void *p, size_t n);
/* No more bytes will come: the worker settles the session when it has seen them all. */
void session_end_input(registry_t *reg, session_t *s);
/* Stores a whole log at once (a raw upload): no live pass, the worker settles it directly.
 * Returns 0 or LP_EIO. HTTP thread. */
int session_store_whole(registry_t *reg, session_t *s, const void *p, size_t n);
/* Deletes the session: its files, its metadata, its uploads. HTTP thread. */
void session_delete(registry_t *reg, session_t *s);
/* Marks a session fed by a running program as `live` (ingesting -> live). Returns 0, or -1
 * when it is no longer ingesting. HTTP thread. */
int session_mark_live(session_t *s);
/* The state, from the worker (acquire). */
session_state_t session_state(const session_t *s);
/* Refreshes s->meta from the live counters (state, bytes, events, error). HTTP thread. */
void session_sync_meta(session_t *s);

/* Uploads. HTTP thread. */
upload_t *upload_create(registry_t *reg, session_t *s);
upload_t *upload_find(registry_t *reg, const char *id);

/* The name of a state ("ingesting", ...). */
const char *session_state_name(session_state_t st);

#endif
