/* Runs a command several times and prints its median, fastest and slowest wall time and its
 * peak RSS and least CPU time (from wait4, so no /usr/bin/time is needed), with the input file's
 * page cache warmed or evicted before every run. The bench stage scripts time every CLI run with
 * it. */
#include "clock.h"
#include "pagecache.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t child = 0;

static void on_alarm(int sig)
{
    (void)sig;
    if (child > 0) kill((pid_t)child, SIGKILL);
}

/* Runs argv once with stdout to out and stderr to err; returns its exit status (128 + signal
 * when killed, 124 on timeout, 127 when it cannot start) and sets its peak RSS in KB and its
 * CPU time (user + system, seconds). */
static int run_once(char **argv, const char *out, const char *err, unsigned timeout, long *rss,
                    double *cpu)
{
    pid_t pid = fork();
    if (pid < 0) return 127;
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (o < 0 || e < 0 || dup2(o, STDOUT_FILENO) < 0 || dup2(e, STDERR_FILENO) < 0) _exit(127);
        execvp(argv[0], argv);
        fprintf(stderr, "bench-timeit: %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    child = pid;
    alarm(timeout);
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {
    }
    unsigned left = alarm(0);
    child = 0;
    *rss = ru.ru_maxrss;
    *cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    if (WIFSIGNALED(st))
        return timeout && !left && WTERMSIG(st) == SIGKILL ? 124 : 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench-timeit [-n N] [--warm FILE|--cold FILE] [-o OUT] [-e ERR] [-t SECS]\n"
               "                    -- CMD [ARGS...]\n"
               "Runs CMD N times (default 3), stdout to OUT (default /dev/null), stderr appended\n"
               "to ERR (default /dev/null), each run killed after SECS (default 0 = never), and\n"
               "prints one line: runs, median/min/max seconds, peak RSS (KB, max over runs), the\n"
               "last non-zero exit status, and the least CPU time (user + system) of a run, which\n"
               "other load on the machine disturbs far less than wall time. --warm reads FILE\n"
               "into the page cache before the first run, --cold evicts it before every run.\n"
               "Stops at the first failing run.\n");
}

int main(int argc, char **argv)
{
    int n = 3, i = 1;
    unsigned timeout = 0;
    const char *out = "/dev/null", *err = "/dev/null", *warm = NULL, *cold = NULL;
    for (; i < argc && strcmp(argv[i], "--"); i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            usage(stderr);
            return 2;
        }
        if (!strcmp(a, "-n"))
            n = atoi(v);
        else if (!strcmp(a, "-t"))
            timeout = (unsigned)atoi(v);
        else if (!strcmp(a, "-o"))
            out = v;
        else if (!strcmp(a, "-e"))
            err = v;
        else if (!strcmp(a, "--warm"))
            warm = v;
        else if (!strcmp(a, "--cold"))
            cold = v;
        else {
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (i + 1 >= argc || n < 1 || n > 1000) {
        usage(stderr);
        return 2;
    }
    char **cmd = argv + i + 1;
    signal(SIGALRM, on_alarm);
    double *secs = calloc((size_t)n, sizeof *secs);
    if (!secs) return 1;
    if (warm) pagecache_warm(warm);
    const char *cache = cold ? "none" : warm ? "warm" : "as-is";
    long rss = 0;
    double cpu_min = -1;
    int rc = 0, runs = 0;
    while (runs < n && rc == 0) {
        if (cold) cache = pagecache_drop(cold);
        double t0 = now_s();
        long r = 0;
        double c = 0;
        rc = run_once(cmd, out, err, timeout, &r, &c);
        secs[runs++] = now_s() - t0;
        if (r > rss) rss = r;
        if (cpu_min < 0 || c < cpu_min) cpu_min = c;
    }
    qsort(secs, (size_t)runs, sizeof *secs, cmp_double);
    printf("timeit runs=%d median_s=%.4f min_s=%.4f max_s=%.4f cpu_min_s=%.4f rss_kb=%ld rc=%d "
           "cache=%s\n",
           runs, secs[(runs - 1) / 2], secs[0], secs[runs - 1], cpu_min, rss, rc, cache);
    free(secs);
    return 0;
}
