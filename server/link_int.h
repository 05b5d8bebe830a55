/* What the two ends of a monitor link share: the connection slots (dialled by the server or
 * pushed by a monitor), the ops they queue for the HTTP thread, and the frame handling, which
 * does not depend on who dialled. Internal to server/link.c, server/link_dial.c and
 * server/link_push.c. */
#ifndef LP_LINK_INT_H
#define LP_LINK_INT_H

#include "link.h"

#include "wire.h"
#include "wsframe.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>

#define MAX_DIALS 64
#define MAX_PUSHES 64 /* monitors connected to the WebSocket port at once */
#define MAX_UNITS 64
#define UNIT_MAX (64u << 20)   /* bytes of one unit */
#define UNITS_MAX (128u << 20) /* bytes of all units a connection has in progress */
#define UNIT_KEEP (4u << 20)   /* a committed unit's buffer over this is given back */

enum { OP_PROGRAM, OP_HEADER, OP_STATE, OP_DATA, OP_GAP, OP_BYE, OP_LINKED, OP_HELLO };

typedef struct op op_t;
struct op {
    op_t *next;
    int64_t conn;
    uint64_t gen; /* the link's connection number (a new one re-subscribes) */
    int kind;
    char prog[WIRE_MAX_PROGRAM + 1];
    uint64_t offset, length;
    uint8_t *data;
    size_t len;
};

typedef struct unit { /* link thread: a Data unit being gathered */
    char prog[WIRE_MAX_PROGRAM + 1];
    uint64_t offset, ack;
    uint8_t *buf;
    size_t len, cap;
    bool on, ack_due;
} unit_t;

typedef struct sub_req {
    char prog[WIRE_MAX_PROGRAM + 1];
    uint64_t offset;
} sub_req_t;

typedef struct ws ws_t;

/* One monitor connection: a dial (id = the connection's id, the link thread serves it) or a
 * pushed connection (id < 0, the WebSocket thread serves it). */
typedef struct dial {
    int64_t id; /* 0 = free */
    /* under links.mu */
    char host[256], token[1025];
    int port;
    bool want, dirty;
    char state[16], error[200];
    sub_req_t subs[MAX_UNITS];
    size_t nsubs;
    auth_t owner;
    uint64_t gen;
    int verdict; /* pushed: 0 before Hello, 2 while its token is checked, 1 accepted, -1 refused */
    /* the serving thread only */
    struct lws *wsi;
    bool hello_sent, closing;
    unsigned backoff_ms;
    lws_sorted_usec_list_t sul;
    unit_t units[MAX_UNITS];
    uint8_t *rx;
    size_t rx_len;
    struct links *owner_links;
    bool pushed; /* a pushed connection */
    /* dialled: the WebSocket client over a raw socket (server/link_dial.c) */
    char key[WSFRAME_KEY_LEN + 1];
    bool req_sent, upgraded, pong_due;
    uint8_t hs[WSFRAME_RESPONSE_MAX]; /* the response head while it arrives */
    size_t hs_len;
    uint8_t pong[WSFRAME_MAX_CONTROL]; /* a ping's payload to answer */
    size_t pong_len;
    wsframe_rx_t wrx;
    int64_t heard_ms;      /* when the monitor last sent anything (monotonic ms) */
    bool ping_due, pinged; /* a ping to send; one went since the monitor was last heard */
} dial_t;

typedef struct hprog { /* HTTP thread: one program of one connection */
    int64_t conn;
    char id[WIRE_MAX_PROGRAM + 1];
    char sid[33];      /* the session's id (looked up on use: it may have been deleted) */
    uint64_t expected; /* stream offset of the next byte the session needs */
    uint64_t hdr_len, appended, gaps, gap_bytes, gen;
    uint64_t holds; /* times the segment writer refused its bytes */
    bool ended, live;
    uint8_t hold; /* hold_t: after the segment writer refused some of its bytes */
} hprog_t;

/* A program whose bytes the segment writer refused (it was too far behind) takes no frames until
 * the writer has room (HOLD_ROOM); it is then subscribed again from `expected` and drops the frames
 * the monitor sent before that Subscribe until the resent stream begins (HOLD_RESEND). */
typedef enum { HOLD_NONE, HOLD_ROOM, HOLD_RESEND } hold_t;

struct links {
    registry_t *reg;
    db_t *db;
    http_notifier_t *notifier;
    struct lws_context *ctx;
    pthread_t thread;
    _Atomic bool stop;
    pthread_mutex_t mu;
    dial_t dials[MAX_DIALS];
    op_t *ops_head, *ops_tail;
    hprog_t *progs; /* HTTP thread */
    size_t nprogs, progs_cap;
    uint8_t tx[LWS_PRE + WIRE_MAX_FRAME]; /* link thread */
    int timeout_s;                        /* a dialled monitor silent this long is dropped */
    lws_sorted_usec_list_t live_sul;      /* the link thread's check of that, every second */
    /* pushed connections */
    ws_t *ws;
    struct lws_protocols push_proto[1];
    dial_t pushes[MAX_PUSHES];             /* id -(i + 1); under mu like dials */
    uint8_t ptx[LWS_PRE + WIRE_MAX_FRAME]; /* WebSocket thread */
};

/* Queues an op of `kind` for connection d (copying `len` bytes of data) and wakes the HTTP
 * thread. The thread serving d's connection. */
void link_push_op(links_t *l, dial_t *d, int kind, const wire_frame_t *f, const uint8_t *data,
                  size_t len);
/* Records an error of d's connection (shown in the status) and prints it. Any thread. */
void link_set_error(links_t *l, dial_t *d, const char *msg);
/* Handles one whole message from the monitor. Returns 0, or -1 to close the connection. The
 * thread serving d's connection. */
int link_on_frame(links_t *l, dial_t *d, const uint8_t *b, size_t n);
/* Adds one received piece of a WebSocket message to d->rx. Returns 1 when the message is whole
 * (its bytes are d->rx[0..*n), and d->rx is free again), 0 when more is to come, or -1 (the
 * error is set) for a message over 64 KiB. WebSocket or link thread, the connection's own. */
int link_rx(links_t *l, dial_t *d, struct lws *wsi, const void *in, size_t len, size_t *n);
/* Frees the buffers of d's units (its link closed; a unit in progress comes again whole). The
 * thread serving d's connection. */
void link_units_free(dial_t *d);
/* Sends one pending frame (Hello, Subscribe, Ack) on d's connection; 1 when more may follow, 0
 * when idle, -1 to close. The thread serving d's connection, in its writeable callback. */
int link_on_writeable(links_t *l, dial_t *d);

/* ---- dialled connections (server/link_dial.c) ---- */

/* The protocol the link context is created with. */
extern const struct lws_protocols link_dial_protocols[];
/* Starts the link thread's liveness check of dialled monitors (silent for timeout_s: pinged after
 * half of it, dropped after all of it). Main thread, before the link thread starts. */
void link_dial_start(links_t *l, int timeout_s);
/* The link thread's body: serves the dialled connections until l->stop. */
void *link_dial_service(void *arg);
/* Sends the n payload bytes at p (with WSFRAME_MAX_HEADER bytes of room before them, which it
 * overwrites, and masks p in place) as one binary frame on dialled connection d. Returns 0 or
 * -1. Link thread. */
int link_dial_send(dial_t *d, uint8_t *p, size_t n);

/* ---- pushed connections (server/link_push.c) ---- */

/* Registers /monitor on the server's WebSocket port (before ws_start). Returns 0 or a negative
 * code. Main thread, from links_create. */
int link_push_init(links_t *l, ws_t *ws);
/* The HTTP thread's half of a pushed monitor's Hello: checks its token as an API token and
 * tells the WebSocket thread the verdict. HTTP thread. */
void link_push_hello(links_t *l, int64_t conn, uint64_t gen);
/* The slot of connection `id` (negative ids are pushed connections) or NULL. Caller holds
 * l->mu or is the thread serving the slot. */
dial_t *link_slot(links_t *l, int64_t id);
/* The lws context serving connection `id` (to wake it with lws_cancel_service). Any thread. */
struct lws_context *link_ctx_of(links_t *l, int64_t id);

#endif
