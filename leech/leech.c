/* The leech's RTS side: the EventLogWriter callbacks (a non-blocking send when the link is idle,
 * else a copy into the queue; never a wait),
 * the drain thread (repair, then send to the monitor), configuration from the environment,
 * and the two ways to attach. Process-wide state: the RTS writer API has no context pointer. */
#include "liveprof_leech.h"

#include "ghcversion.h"

#include "leech_link.h"
#include "leech_queue.h"
#include "leech_repair.h"
#include "sizearg.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CAP (64ull << 20)
#define EXIT_WAIT_NS (5000000000ull)

static struct {
    pthread_mutex_t mu; /* start/stop of the drain thread */
    bool started;
    pthread_t thread;
    leech_queue_t q;
    leech_repair_t repair;
    leech_link_t link;
    _Atomic int session;     /* writer sessions started (init callbacks) */
    _Atomic bool attached;   /* the current session came from liveprof_leech_attach */
    _Atomic bool stopping;   /* the process exits: send what is left, then end */
    pthread_mutex_t link_mu; /* guards link and repair: held to repair and to send */
    pthread_mutex_t done_mu; /* guards `drained` and `up`; done_cv announces their changes */
    pthread_cond_t done_cv;
    uint64_t drained; /* every buffer of the first `drained` puts is sent */
    bool up;          /* the drain thread's link is up */
    _Atomic uint64_t bytes_in, bytes_sent, junk, connects, gaps, direct; /* counters (relaxed) */
    char program[WIRE_MAX_PROGRAM + 1];
    char rts_id[64];
} lk = {.mu = PTHREAD_MUTEX_INITIALIZER,
        .link_mu = PTHREAD_MUTEX_INITIALIZER,
        .done_mu = PTHREAD_MUTEX_INITIALIZER,
        .done_cv = PTHREAD_COND_INITIALIZER};

/* LIVEPROF_LEECH_CAP: a size (lib/sizearg.h) of at least 64 KiB, else the default (the leech
 * never writes to its host's stderr). */
static uint64_t parse_cap(const char *s, uint64_t def)
{
    uint64_t v;
    return s && sizearg_parse(s, (uint64_t)1 << 40, &v) == 0 && v >= 65536 ? v : def;
}

/* Tells stop_writer how far the sending got: the link is up or not, and (when `drained`) every
 * buffer of the first `puts` is sent. link_mu held, so the news come in the order they
 * happened. */
static void publish(bool up, bool drained, uint64_t puts)
{
    pthread_mutex_lock(&lk.done_mu);
    lk.up = up;
    if (drained && puts > lk.drained) lk.drained = puts;
    pthread_cond_broadcast(&lk.done_cv);
    pthread_mutex_unlock(&lk.done_mu);
}

/* One round of the drain thread, link_mu held: repairs every raw entry, connects when needed
 * and sends the oldest out entry. Returns whether the link is up; *drained tells whether
 * everything queued is sent. */
static bool drain_round(uint64_t now, bool *drained)
{
    uint64_t dropped = 0; /* raw bytes dropped since the previous take */
    lq_entry_t *e;
    while ((e = leech_queue_take_raw(&lk.q, 0, &dropped)) != NULL) {
        uint64_t tag = e->offset;
        (void)leech_repair_feed(&lk.repair, e, (int)(tag >> 1), tag & 1, dropped, &lk.q);
    }
    lk.repair.next_off += dropped; /* dropped buffers leave a jump: the sender reports the gap */
    if (leech_link_ready(&lk.link, &lk.repair, now)) {
        lq_entry_t *o = leech_queue_peek_out(&lk.q);
        if (o) {
            int rc = leech_link_send(&lk.link, o);
            if (rc == 0) atomic_fetch_add_explicit(&lk.bytes_sent, o->len, memory_order_relaxed);
            leech_queue_done_out(&lk.q, rc == 0);
        }
    }
    atomic_store_explicit(&lk.junk, lk.repair.junk, memory_order_relaxed);
    atomic_store_explicit(&lk.connects, lk.link.connects, memory_order_relaxed);
    atomic_store_explicit(&lk.gaps, lk.link.gaps, memory_order_relaxed);
    size_t nraw = 0, nout = 0;
    leech_queue_pending(&lk.q, &nraw, &nout);
    bool up = lk.link.fd >= 0;
    *drained = up && !nraw && !nout;
    return up;
}

static void *drain(void *arg)
{
    (void)arg;
    uint64_t exit_by = 0, told = 0;
    bool was_up = false, more = false;
    for (;;) {
        /* wait for buffers unless there is more to send right away */
        leech_queue_wait_raw(&lk.q, more ? 0 : 20);
        /* counted before this round's takes: each of these buffers is taken in this round or
         * was before */
        uint64_t puts = leech_queue_puts(&lk.q);
        /* acquire: pairs with at_exit's release store; read after the wait, so the wake-up
         * leech_queue_stop gives is acted on in this round */
        bool stopping = atomic_load_explicit(&lk.stopping, memory_order_acquire);
        uint64_t now = leech_now_ns();
        if (stopping && !exit_by) exit_by = now + EXIT_WAIT_NS;
        bool drained;
        pthread_mutex_lock(&lk.link_mu);
        bool up = drain_round(now, &drained);
        if (up != was_up || (drained && puts != told)) {
            publish(up, drained, puts);
            was_up = up;
            if (drained) told = puts;
        }
        pthread_mutex_unlock(&lk.link_mu);
        more = up && !drained;
        if (stopping && (drained || !up || now > exit_by)) break;
    }
    pthread_mutex_lock(&lk.link_mu);
    leech_link_close(&lk.link, true);
    publish(false, false, 0);
    pthread_mutex_unlock(&lk.link_mu);
    return NULL;
}

static void at_exit(void)
{
    pthread_mutex_lock(&lk.mu);
    if (lk.started) {
        /* release: the drain thread reads `stopping` with acquire, then sends what is left */
        atomic_store_explicit(&lk.stopping, true, memory_order_release);
        leech_queue_stop(&lk.q); /* no more waiting for buffers: there will be none */
        pthread_join(lk.thread, NULL);
        lk.started = false;
    }
    pthread_mutex_unlock(&lk.mu);
}

/* Starts the queue and the drain thread once per process. */
static void ensure_started(void)
{
    pthread_mutex_lock(&lk.mu);
    if (!lk.started) {
        const char *sock = getenv("LIVEPROF_SOCKET");
        leech_queue_init(&lk.q, parse_cap(getenv("LIVEPROF_LEECH_CAP"), DEFAULT_CAP));
        static char *argv_store[64];
        int argc = 0;
        char **argv = NULL;
        getProgArgv(&argc, &argv);
        size_t n = 0;
        for (int i = 0; i < argc && n < 64; i++)
            argv_store[n++] = argv[i];
        const char *base = n && argv_store[0] ? strrchr(argv_store[0], '/') : NULL;
        base = base ? base + 1 : (n && argv_store[0] ? argv_store[0] : "program");
        snprintf(lk.rts_id, sizeof lk.rts_id, "GHC-%s rts_thr_l", __GLASGOW_HASKELL_FULL_VERSION__);
        leech_proc_t proc = {.ncaps = enabled_capabilities,
                             .pid = (uint32_t)getpid(),
                             .ppid = (uint32_t)getppid(),
                             .rts_id = lk.rts_id,
                             .argv = (const char *const *)argv_store,
                             .argc = n};
        leech_repair_init(&lk.repair, &proc);
        const char *given = getenv("LIVEPROF_PROGRAM");
        unsigned rnd = (unsigned)(leech_now_ns() ^ ((uint64_t)getpid() << 16));
        if (given && *given)
            snprintf(lk.program, sizeof lk.program, "%.100s", given);
        else
            snprintf(lk.program, sizeof lk.program, "%.64s-%u-%08x", base, (unsigned)getpid(), rnd);
        for (char *c = lk.program; *c; c++)
            if (!(*c == '-' || *c == '_' || *c == '.' || (*c >= '0' && *c <= '9') ||
                  (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
                *c = '_';
        leech_link_init(&lk.link, sock, lk.program, base, (uint32_t)getpid(),
                        getenv("LIVEPROF_TOKEN"));
        if (pthread_create(&lk.thread, NULL, drain, NULL) == 0) {
            lk.started = true;
            atexit(at_exit);
        }
    }
    pthread_mutex_unlock(&lk.mu);
}

static void init_writer(void)
{
    ensure_started();
    atomic_fetch_add_explicit(&lk.session, 1, memory_order_relaxed);
}

/* The common case, done on the RTS's own thread like a file writer's write(): when the link is
 * up and idle (nothing queued, the drain thread not busy with it), the buffer needs no repair
 * and the socket has room, the buffer goes to the monitor straight from the RTS's memory:
 * no copy, no page of fresh memory, no wake-up of the drain thread. Returns whether the buffer
 * is taken care of (sent, or queued for the drain thread to send); false: nothing happened.
 * Never waits: a trylock and a non-blocking send. */
static bool write_now(const uint8_t *buf, size_t size, int session)
{
    if (pthread_mutex_trylock(&lk.link_mu) != 0) return false;
    uint64_t puts = 0;
    bool taken = lk.link.fd >= 0 && lk.link.sndbuf > 0 &&
                 leech_repair_can_pass(&lk.repair, session, buf, size) &&
                 lk.link.sent_end == lk.repair.next_off && leech_queue_claim_empty(&lk.q, &puts);
    if (taken) {
        uint64_t off = leech_repair_pass(&lk.repair, size);
        if (leech_link_send_now(&lk.link, off, buf, size) == 0) {
            atomic_fetch_add_explicit(&lk.bytes_sent, size, memory_order_relaxed);
            atomic_fetch_add_explicit(&lk.direct, 1, memory_order_relaxed);
            publish(true, true, puts);
        } else { /* not (all) sent: the drain thread sends it, at the offset it has now */
            lq_entry_t *e = leech_queue_entry(&lk.q, size); /* NULL: out of memory, the
                                                               offsets jump, a gap is sent */
            if (e) {
                memcpy(e->data, buf, size);
                e->offset = off;
                e->block_start = true;
                leech_queue_put_out(&lk.q, e);
            }
            publish(lk.link.fd >= 0, false, 0);
            leech_queue_wake(&lk.q);
        }
    }
    pthread_mutex_unlock(&lk.link_mu);
    return taken;
}

static bool write_log(void *buf, size_t size)
{
    int s = atomic_load_explicit(&lk.session, memory_order_relaxed);
    bool a = atomic_load_explicit(&lk.attached, memory_order_relaxed);
    atomic_fetch_add_explicit(&lk.bytes_in, size, memory_order_relaxed);
    if (!write_now(buf, size, s))
        leech_queue_put_raw(&lk.q, buf, size, (uint64_t)s << 1 | (a ? 1 : 0));
    return true; /* never fail the RTS: losses are accounted as gaps */
}

static void flush_log(void) {}

/* The RTS stops this writer (exit or endEventLogging): while the drain thread is connected,
 * wait (at most EXIT_WAIT_NS) until it has sent every buffer handed over so far, so a normal
 * exit delivers everything. The drain thread announces its progress: no polling, no sleep. */
static void stop_writer(void)
{
    uint64_t target = lk.started ? leech_queue_puts(&lk.q) : 0;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until); /* the clock of PTHREAD_COND_INITIALIZER */
    until.tv_sec += (time_t)(EXIT_WAIT_NS / 1000000000ull);
    pthread_mutex_lock(&lk.done_mu);
    while (lk.started && lk.up && lk.drained < target)
        if (pthread_cond_timedwait(&lk.done_cv, &lk.done_mu, &until)) break;
    pthread_mutex_unlock(&lk.done_mu);
}

const EventLogWriter liveprof_leech_writer = {
    .initEventLogWriter = init_writer,
    .writeEventLog = write_log,
    .flushEventLog = flush_log,
    .stopEventLogWriter = stop_writer,
};

int liveprof_leech_configure(RtsConfig *conf)
{
    const char *sock = getenv("LIVEPROF_SOCKET");
    if (!sock || !*sock) return 0;
    conf->eventlog_writer = &liveprof_leech_writer;
    if (!conf->rts_opts) conf->rts_opts = "-l";
    return 1;
}

int liveprof_leech_attach(void)
{
    const char *sock = getenv("LIVEPROF_SOCKET");
    if (!sock || !*sock) return 0;
    if (eventLogStatus() == EVENTLOG_RUNNING && atomic_load(&lk.session) > 0)
        return 1; /* the leech already writes (attach mode a) */
    atomic_store_explicit(&lk.attached, true, memory_order_relaxed);
    if (eventLogStatus() == EVENTLOG_RUNNING) endEventLogging();
    return startEventLogging(&liveprof_leech_writer) ? 1 : 0;
}

void liveprof_leech_stats(liveprof_leech_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->bytes_in = atomic_load(&lk.bytes_in);
    out->bytes_sent = atomic_load(&lk.bytes_sent);
    if (!lk.started) return;
    pthread_mutex_lock(&lk.q.mu);
    out->bytes_dropped = lk.q.dropped_total;
    pthread_mutex_unlock(&lk.q.mu);
    out->bytes_junk = atomic_load(&lk.junk);
    out->connects = atomic_load(&lk.connects);
    out->gaps = atomic_load(&lk.gaps);
    out->sent_direct = atomic_load(&lk.direct);
}
