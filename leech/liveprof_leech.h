/* liveprof leech: streams a running GHC program's eventlog to the liveprof monitor.
 *
 * The leech is an RTS EventLogWriter sending to the monitor listening on the Unix socket named
 * by the LIVEPROF_SOCKET environment variable; the RTS never waits for it. An RTS buffer goes
 * out from the writer callback itself when the link is idle and the socket has room for it (a
 * non-blocking send); otherwise it is copied into memory and a background thread sends it. When the
 * monitor is absent or slow the leech keeps the header and the newest whole buffers up to a cap
 * (LIVEPROF_LEECH_CAP bytes, default 64 MiB; suffixes K, M, G), drops the oldest whole buffers
 * (the monitor is told the exact byte range as a gap) and reconnects with backoff. Without
 * LIVEPROF_SOCKET the program runs exactly as without the leech.
 *
 * Two ways to attach (docs/live.md has complete examples):
 *  (a) from the first event: a C main() (link with -no-hs-main) that calls
 *      liveprof_leech_configure(&conf) before hs_main(); `liveprof-ghc` links one in.
 *  (b) at run time: call liveprof_leech_attach() (Haskell: LiveprofLeech.attach) from main;
 *      the program must run with the eventlog enabled (+RTS -l). The file writer is stopped
 *      and the leech takes over; it removes the junk the RTS sends before the repeated header
 *      and re-inserts the init events (capabilities, capsets, process) that a restarted RTS
 *      does not send again.
 *
 * GHC 9.0.2 hands data over per full 2 MiB capability buffer and at exit; it has no flush
 * interval, so a quiet program's events arrive late (see docs/live.md). */
#ifndef LIVEPROF_LEECH_H
#define LIVEPROF_LEECH_H

#include "Rts.h"

#include <stdint.h>

/* The writer; install it through RtsConfig.eventlog_writer or startEventLogging(). */
extern const EventLogWriter liveprof_leech_writer;

/* When LIVEPROF_SOCKET is set: sets conf->eventlog_writer to the leech, enables the eventlog
 * (conf->rts_opts = "-l" unless the caller set rts_opts) and returns 1; otherwise leaves conf
 * alone and returns 0. Call from main() before hs_main(). */
int liveprof_leech_configure(RtsConfig *conf);

/* Switches the running program's eventlog over to the leech (attach mode b): ends the current
 * writer if one runs, then starts the leech. Returns 1 when the leech now receives the
 * eventlog (also when it already did), 0 when LIVEPROF_SOCKET is unset or the RTS refused.
 * Call from a Haskell thread (a safe foreign call) after the RTS started. */
int liveprof_leech_attach(void);

/* Counters for tests and benchmarks (approximate while the program runs). */
typedef struct liveprof_leech_stats {
    uint64_t bytes_in;      /* bytes the RTS handed over */
    uint64_t bytes_dropped; /* bytes dropped because the monitor was absent or slow */
    uint64_t bytes_junk;    /* bytes removed by stream repair (junk, repeated headers) */
    uint64_t bytes_sent;    /* stream bytes sent to the monitor */
    uint64_t connects, gaps;
    uint64_t sent_direct; /* RTS buffers sent from the writer callback itself (not queued) */
} liveprof_leech_stats_t;
void liveprof_leech_stats(liveprof_leech_stats_t *out);

#endif
