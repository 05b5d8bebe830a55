/* Sessions: the registry of every session and upload (HTTP thread), each session's bytes in its
 * segment files (written by the persist thread) and its SPSC ring towards the worker that owns
 * it, the worker pool that decodes and analyses them live, and the exact pass over the saved
 * bytes that settles a finished session. */
#ifndef LP_SESSION_H
#define LP_SESSION_H

#include "http.h"
#include "persist.h"
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
typedef struct seg_reader seg_reader_t;
typedef struct snapshot snapshot_t;

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
    persist_target_t *pt; /* the session's segments (bytes handed to the persist thread) */
    uint64_t received;    /* bytes accepted (enqueued for the segments) */
    bool input_done;      /* no more bytes will come */
    session_meta_t saved; /* what the database holds, to write only changes */
    bool saving;          /* written in the transaction being committed */
    /* shared: the worker feeds `live` and settles `final`; readers take `lock` */
    pthread_mutex_t lock;
    live_t *live;
    report_t final;     /* totals report of the exact file pass (when settled) */
    aggr_t *final_aggr; /* aggregates of the exact file pass (when settled) */
    bool settled;
    /* the totals documents of a settled session (JSON, text), made by the first request that
     * asks: they never change after settling (session_forget_totals drops them when `final` is
     * replaced; a response still sending one holds a reference of its own) */
    blob_t *totals_doc[2];
    snapshot_t *snap; /* restored from a snapshot: totals and coarse series only (raw dropped) */
    char error[256];  /* set before state becomes FAILED */
    /* restored: the error of a session that failed before its input ended (its writes failed,
     * say); it settles failed with it (set before session_start) */
    char failed_before[256];
    ring_t *ring;
    /* the worker: it moves the written bytes from the segments into the ring itself */
    seg_reader_t *pump_rd; /* reads the segments back for the ring */
    uint64_t fed;          /* bytes put into the ring */
    bool ring_closed;
    bool skip_live;        /* the live pass stops: the exact pass will redo it all */
    bool live_waiting;     /* the live pass waits for an upload that outruns it */
    uint64_t seen_end;     /* the segments' end when the worker last looked */
    uint64_t seen_grew_ns; /* when that end last grew (CLOCK_MONOTONIC) */
    /* since the bytes last began to come after a pause: the end and the bytes the live pass had
     * taken then (how fast they come against how fast it goes) */
    uint64_t burst_from, burst_taken;
    /* all bytes came at once: no live pass, the worker settles directly (release by the HTTP
     * thread, acquire by the worker) */
    _Atomic bool direct;
    _Atomic int state;         /* session_state_t; release by the worker, acquire by readers */
    _Atomic uint64_t consumed; /* bytes the worker took from the ring (relaxed: a counter) */
    /* bytes the exact pass at the end has analysed so far (relaxed: a counter, for display) */
    _Atomic uint64_t settle_done;
    _Atomic uint64_t settle_events; /* and its events (relaxed: a counter, for display) */
    _Atomic uint64_t events;        /* events decoded (relaxed: a counter) */
    _Atomic bool deleted;           /* set by the HTTP thread; the worker drops the session */
    _Atomic int refs;               /* registry + worker; the last one frees */
    int worker;
    session_t *next_in_worker; /* the worker's list (its mutex) */
};

typedef struct upload {
    char id[33];
    session_t *session;
    uint64_t offset; /* bytes accepted (the next chunk's offset); durable: persist_durable */
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
/* Hands bytes to the persist thread for the session's segments (durable by the next group
 * commit) and, once written, towards its worker. Returns 0, LP_ERANGE when the writer is too
 * far behind (answer 503; the client retries), or the write error that made the session's
 * segments give up (persist_error: LP_ENOSPACE answers 507). HTTP thread. */
int session_append(registry_t *reg, session_t *s, const void *p, size_t n);
/* Whether the segment writer has room for n more bytes: below its soft bound (serve
 * --write-queue), as held upload chunks wait for. HTTP thread. */
bool session_room(registry_t *reg, size_t n);
/* Backpressure for a request whose body is bytes to append: true when the segment writer has
 * room for them now; else holds the request (no answer yet) and returns false, and fn(r) runs
 * again on the HTTP thread once the writer has caught up. HTTP thread, from a handler. */
bool session_append_or_hold(registry_t *reg, http_req_t *r, http_handler_fn fn);
/* No more bytes will come: the worker settles the session when it has seen them all. */
void session_end_input(registry_t *reg, session_t *s);
/* Stores a whole log at once (a raw upload): no live pass, the worker settles it directly.
 * Returns 0 or the write error of session_append (never LP_ERANGE). HTTP thread. */
int session_store_whole(registry_t *reg, session_t *s, const void *p, size_t n);
/* Deletes the session: its files, its metadata, its uploads. HTTP thread. */
void session_delete(registry_t *reg, session_t *s);
/* True once the session was deleted (acquire). */
bool session_deleted(const session_t *s);
/* The running replays. */
struct replays *registry_replays(registry_t *reg);
/* Marks a session fed by a running program as `live` (ingesting -> live). Returns 0, or -1
 * when it is no longer ingesting. HTTP thread. */
int session_mark_live(session_t *s);
/* The state, from the worker (acquire). */
session_state_t session_state(const session_t *s);
/* Refreshes s->meta from the live counters (state, bytes, events, error). HTTP thread. */
void session_sync_meta(session_t *s);

/* Bytes of the session that are durable (at most `received`). Any thread. */
uint64_t session_durable(const session_t *s);
/* Bytes of the session analysed so far, by the live pass or, once the input has ended, by the
 * exact pass that settles it (whichever went further, so the count only grows while it settles).
 * Any thread. */
uint64_t session_analysed(const session_t *s);
/* Events of the session analysed so far, as session_analysed counts bytes (the count only grows
 * while it settles). Any thread. */
uint64_t session_events_analysed(const session_t *s);
/* Makes everything accepted so far durable now (waits for one group commit, at most 2 s):
 * for rare requests such as an upload's resume query. Returns session_durable. HTTP thread. */
uint64_t session_flush(registry_t *reg, session_t *s);
/* The persist thread (segments of every session). */
persist_t *registry_persister(registry_t *reg);

/* Uploads. upload_create records the upload's id in the session's segments durably before it
 * returns (one group commit). HTTP thread. */
upload_t *upload_create(registry_t *reg, session_t *s);
upload_t *upload_find(registry_t *reg, const char *id);

/* Another reference to the session, for a holder on another thread (the WebSocket thread);
 * session_unref releases it and the last reference frees the session. Any thread. */
session_t *session_ref(session_t *s);
void session_unref(session_t *s);
/* Drops the cached totals documents (a new `final` report is coming). Caller holds s->lock. */
void session_forget_totals(session_t *s);

/* A watcher told on a worker thread, right after a session's analysis changed (bytes fed, or
 * settled): fn(ctx, s) must be quick and must not block on the worker. */
typedef struct session_watch {
    void (*fn)(void *ctx, session_t *s);
    void *ctx;
} session_watch_t;
/* Installs the watcher (borrowed for the registry's life; NULL removes it). Any thread. */
void registry_watch(registry_t *reg, const session_watch_t *w);

/* Snapshots (server/session_snap.c). Writes one of the session's current totals, counters and
 * coarse series to its segments; any thread but the session's lock must not be held. */
void session_save_snapshot(registry_t *reg, session_t *s);
/* Restores a session from its latest snapshot: one whose oldest raw segments were dropped (its
 * totals and coarse series), or a settled one that still has every raw byte, when the snapshot
 * holds its whole aggregate state and covers every byte (then no raw byte is read again). False
 * when it cannot (then a finished session is analysed again from its raw segments). HTTP thread,
 * at start. */
bool session_restore_snapshot(registry_t *reg, session_t *s);
/* Retention (server/retention.c): the limits on raw segments (0: none), from the flags, or from
 * DIR/retention.json once an admin changed them, with per-session overrides; retention_tick
 * drops the oldest raw segments beyond them (each session's results and a snapshot with the
 * kept coarse series stay). HTTP thread. */
#define RETENTION_NSERIES 7
#define RETENTION_UNSET UINT64_MAX /* a session's limit that follows the global one */
extern const char *const retention_series[RETENTION_NSERIES];
typedef struct retention_session {
    char id[33];
    uint64_t age_s, bytes; /* this session's limits (0: none), or RETENTION_UNSET */
} retention_session_t;
typedef struct retention {
    uint64_t age_s;         /* raw segments older than this */
    uint64_t session_bytes; /* raw segment bytes per session */
    uint64_t total_bytes;   /* raw segment bytes in all */
    uint32_t coarse_series; /* bit i: retention_series[i] is kept in snapshots */
    uint64_t coarse_age_s;  /* seconds of coarse bins a snapshot keeps (0: all the tier holds) */
    retention_session_t *sessions; /* overrides, owned */
    size_t nsessions, sessions_cap;
} retention_t;
retention_t *registry_retention(registry_t *reg);
server_t *registry_server(registry_t *reg);
void retention_load(registry_t *reg);
int retention_save(registry_t *reg);
void retention_tick(registry_t *reg);
/* The override of session ID (created unset when `create`), or NULL. */
retention_session_t *retention_session(retention_t *r, const char *id, bool create);
/* Session ID's limits in effect: its overrides, else the global ones. */
void retention_effective(const retention_t *r, const char *id, uint64_t *age_s, uint64_t *bytes);
/* retention_series names for a mask, as a new JSON array. */
json_t *retention_series_json(uint32_t mask);
/* The session's upload, if any. HTTP thread. */
upload_t *session_upload(registry_t *reg, session_t *s);

/* The name of a state ("ingesting", ...). */
const char *session_state_name(session_state_t st);

#endif
