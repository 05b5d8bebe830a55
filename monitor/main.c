/* liveprof-monitor: the sidecar between running programs and the liveprof server. Leeches
 * connect to --socket; --exec runs an unmodified program with its eventlog in a FIFO; the
 * programs are served on --listen (ws://ADDR:PORT/monitor) and/or pushed to --push URL. */
#include "ingest.h"
#include "serve.h"
#include "sizearg.h"
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static const char help_text[] =
    "usage: liveprof-monitor --socket PATH [--listen ADDR:PORT] [--token T] [--tee DIR]\n"
    "                        [--push ws://HOST:PORT/monitor] [--backlog BYTES]\n"
    "                        [--timeout SECONDS] [--exec -- PROG ARGS...]\n"
    "\n"
    "Collects the eventlogs of running Haskell programs (linked with the leech, or run by\n"
    "--exec) and serves them to liveprof servers as live sessions (see docs/live.md).\n"
    "  --socket PATH      the Unix socket leeches connect to (required)\n"
    "  --listen ADDR:PORT serve the wire protocol at ws://ADDR:PORT/monitor for servers to\n"
    "                     dial (port 0 picks one; the first stdout line says which)\n"
    "  --push URL         dial a server instead, ws://HOST:PORT/monitor (behind NAT),\n"
    "                     reconnecting with backoff; at least one of --listen and --push\n"
    "  --token T          a dialling server must present T; a pushed link sends it (an API\n"
    "                     token of that server)\n"
    "  --tee DIR          also write each program's stream to DIR/<program-id>.eventlog\n"
    "  --backlog BYTES    per-program memory for resuming servers (default 64M, at least\n"
    "                     64K; K/M/G suffixes)\n"
    "  --timeout SECONDS  a WebSocket peer silent for half of it is pinged, for all of it\n"
    "                     dropped (default 30, 2 to 3600)\n"
    "  --exec -- PROG ARGS...  run PROG (built with -eventlog -rtsopts) with its eventlog\n"
    "                     sent here through a FIFO, no relink needed\n"
    "  --version          which build this is\n"
    "SIGTERM or SIGINT stops the monitor.\n";

/* A bad command line: the reason, a pointer to --help, exit status 2. */
__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "liveprof-monitor: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n'liveprof-monitor --help' lists the options.\n");
    return 2;
}

/* Runs argv with its eventlog redirected into a fresh FIFO the ingest thread reads. */
static pid_t start_exec(ingest_t *g, char **argv, char *fifo_dir, size_t cap)
{
    snprintf(fifo_dir, cap, "%s/liveprof-monitor-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : P_tmpdir);
    if (!mkdtemp(fifo_dir)) return -1;
    char fifo[4200], rts[4300];
    snprintf(fifo, sizeof fifo, "%s/eventlog", fifo_dir);
    if (mkfifo(fifo, 0600) != 0) return -1;
    int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -1;
    snprintf(rts, sizeof rts, "-ol%s", fifo);
    int argc = 0;
    while (argv[argc])
        argc++;
    char **args = calloc((size_t)argc + 5, sizeof *args);
    args[0] = argv[0];
    args[1] = "+RTS";
    args[2] = "-l";
    args[3] = rts;
    args[4] = "-RTS";
    for (int i = 1; i < argc; i++)
        args[4 + i] = argv[i];
    pid_t pid = fork();
    if (pid == 0) {
        execvp(args[0], args);
        fprintf(stderr, "liveprof-monitor: cannot run %s: %s\n", args[0], strerror(errno));
        _exit(127);
    }
    free(args);
    if (pid < 0) {
        close(fd);
        return -1;
    }
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    char id[WIRE_MAX_PROGRAM + 1];
    snprintf(id, sizeof id, "%.64s-%d-exec", base, (int)pid);
    for (char *c = id; *c; c++)
        if (*c == '/' || *c == '.' || *c == ' ') *c = '_';
    ingest_add_fifo(g, fd, id, base, (uint32_t)pid);
    printf("liveprof-monitor: running %s as program %s\n", argv[0], id);
    fflush(stdout);
    return pid;
}

int main(int argc, char **argv)
{
    const char *sock = NULL, *listen_at = NULL, *push = NULL;
    monitor_t m;
    memset(&m, 0, sizeof m);
    pthread_mutex_init(&m.mu, NULL);
    m.backlog_cap = 64u << 20;
    int timeout_s = 30;
    char **exec_argv = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help_text, stdout);
            return 0;
        }
        if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
            printf("liveprof-monitor %s\n", LIVEPROF_VERSION);
            return 0;
        }
        if (!strcmp(a, "--exec")) {
            if (v && !strcmp(v, "--")) i++;
            if (i + 1 >= argc) return usage_error("--exec needs a program: --exec -- PROG ARGS...");
            exec_argv = argv + i + 1;
            break;
        }
        static const char *const valued[] = {"--socket", "--listen",  "--token",  "--tee",
                                             "--push",   "--backlog", "--timeout"};
        bool known = false;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
            known |= !strcmp(a, valued[k]);
        if (!known) return usage_error("unknown option '%s'", a);
        if (!v) return usage_error("%s needs a value", a);
        char *end = NULL;
        if (!strcmp(a, "--socket")) {
            sock = v;
        } else if (!strcmp(a, "--listen")) {
            listen_at = v;
        } else if (!strcmp(a, "--token")) {
            m.token = v;
        } else if (!strcmp(a, "--tee")) {
            m.tee_dir = v;
        } else if (!strcmp(a, "--push")) {
            push = v;
        } else if (!strcmp(a, "--backlog")) {
            if (sizearg_parse(v, (uint64_t)1 << 40, &m.backlog_cap) < 0 || m.backlog_cap < 65536)
                return usage_error("--backlog takes a size of at least 64K, not '%s'", v);
        } else {
            long t = strtol(v, &end, 10);
            if (end == v || *end || t < 2 || t > 3600)
                return usage_error("--timeout takes seconds from 2 to 3600, not '%s'", v);
            timeout_s = (int)t;
        }
        i++;
    }
    if (!sock) return usage_error("--socket PATH is required (where leeches connect)");
    if (!listen_at && !push) return usage_error("at least one of --listen and --push is required");
    char host[256] = "127.0.0.1";
    int port = -1;
    if (listen_at) {
        const char *colon = strrchr(listen_at, ':');
        char *end = NULL;
        long p = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!colon || colon == listen_at || (size_t)(colon - listen_at) >= sizeof host ||
            end == colon + 1 || *end || p < 0 || p > 65535)
            return usage_error("--listen takes ADDR:PORT (port 0 to 65535), not '%s'", listen_at);
        memcpy(host, listen_at, (size_t)(colon - listen_at));
        host[colon - listen_at] = 0;
        port = (int)p;
    }
    if (m.tee_dir) mkdir(m.tee_dir, 0755);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    char err[512];
    serve_t *s = serve_create(&m, host, port, push, timeout_s, err, sizeof err);
    if (!s) {
        fprintf(stderr, "liveprof-monitor: %s\n", err);
        return 1;
    }
    ingest_t *g = ingest_create(&m, sock, serve_wake, s, err, sizeof err);
    if (!g) {
        fprintf(stderr, "liveprof-monitor: %s\n", err);
        serve_destroy(s);
        return 1;
    }
    if (port >= 0) printf("liveprof-monitor: serving ws://%s:%d/monitor\n", host, serve_port(s));
    printf("liveprof-monitor: leeches connect to %s\n", sock);
    fflush(stdout);
    char fifo_dir[4096] = "";
    pid_t child = exec_argv ? start_exec(g, exec_argv, fifo_dir, sizeof fifo_dir) : 0;
    if (child < 0) {
        fprintf(stderr, "liveprof-monitor: cannot start %s\n", exec_argv[0]);
        ingest_destroy(g);
        serve_destroy(s);
        return 1;
    }
    while (!stop_flag) {
        ingest_run(g, 100);
        int st;
        if (child > 0 && waitpid(child, &st, WNOHANG) == child) {
            printf("liveprof-monitor: %s exited with status %d\n", exec_argv[0],
                   WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
            fflush(stdout);
            child = 0;
        }
    }
    ingest_destroy(g);
    serve_destroy(s);
    if (fifo_dir[0]) {
        char fifo[4200];
        snprintf(fifo, sizeof fifo, "%s/eventlog", fifo_dir);
        unlink(fifo);
        rmdir(fifo_dir);
    }
    program_free_all(&m);
    return 0;
}
