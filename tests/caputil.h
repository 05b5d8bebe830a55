/* Helpers for the live-capture end-to-end tests: run the real monitor and Haskell programs as
 * children, connect the real server to a monitor, wait for a program's session. */
#ifndef LP_CAPUTIL_H
#define LP_CAPUTIL_H

#include "srvutil.h"

#include <stdbool.h>
#include <sys/types.h>

typedef struct mon {
    pid_t pid;
    int port;
    char sock[512], tee[512], log[512];
} mon_t;

/* A free TCP port on 127.0.0.1. */
int cap_free_port(void);
/* Starts build/liveprof-monitor with its leech socket (one per test: a restarted monitor takes
 * it over), tee dir and log under the test's temp dir (name distinguishes tee dirs and logs),
 * listening on `port` (0 = pick one), plus extra args (may be ""). */
void cap_mon_start(mon_t *m, const char *name, int port, const char *extra);
/* Kills the monitor with `sig` and waits for it. */
void cap_mon_stop(mon_t *m, int sig);
/* Runs a shell command in the background (stdout/stderr to log); returns its pid. */
pid_t cap_spawn(const char *cmd, const char *log);
/* Runs build/hs/labels-main ARGS (+RTS -N2) with the leech into monitor m as program `prog`,
 * until it exits (a failed check when it fails). */
void cap_run_labels(const mon_t *m, const char *prog, const char *args);
/* Waits for a child; returns its exit status (128 + signal when killed; -1 on timeout). */
int cap_wait(pid_t pid, int seconds);
/* Creates connection to the monitor's port with `token` (NULL = none) and connects it; returns
 * its id. */
int cap_connect(const srv_t *s, int port, const char *token);
/* Polls the connection's status until program `prog` (NULL = the first listed) has ended and
 * its session is done; copies the session id into sid (33 bytes) and the program id into
 * prog_out (may be NULL). Returns the status JSON text (malloc'd) or NULL on timeout. */
char *cap_wait_program(const srv_t *s, int conn, const char *prog, char *sid, char *prog_out,
                       int seconds);
/* Fails the test unless the session's /totals.txt equals `liveprof analyze` of `log`. */
void cap_check_totals(const srv_t *s, const char *sid, const char *log);
/* Bytes in a file (-1 when absent). */
long long cap_file_size(const char *path);

#endif
