/* The test runner: runs every TEST (or those named on the command line) in its own process
 * with a timeout, and prints one line per test and, last, "N passed, N failed". */
#include "test.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define X(decl) decl;
#include "list.h"
#undef X
#undef TEST
#define TEST(name) {#name, test_##name},
static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
#define X(t) t
#include "list.h"
#undef X
};

static int failures;
static bool skip_slow;
static char tmpdir[256];

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    failures++;
}

_Noreturn void test_abort(void)
{
    fflush(NULL);
    _exit(1);
}

bool test_skip_slow(void)
{
    return skip_slow;
}

const char *tu_tmpdir(void)
{
    return tmpdir;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs one test in a child; returns true when it passed. */
static bool run_one(int i, int timeout)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/lptest.%d.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return false;
    }
    double t0 = now_s();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        alarm((unsigned)timeout);
        failures = 0;
        tests[i].fn();
        fflush(NULL);
        _exit(failures ? 1 : 0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    kill(-pid, SIGKILL); /* anything the test left running */
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    const char *why = "";
    if (WIFSIGNALED(st)) why = WTERMSIG(st) == SIGALRM ? " (timeout)" : " (crashed)";
    printf("%s %s (%.2fs)%s\n", ok ? "PASS" : "FAIL", tests[i].name, now_s() - t0, why);
    fflush(stdout);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return ok;
}

int main(int argc, char **argv)
{
    int timeout = 300, passed = 0, failed = 0, selected = 0;
    int n = (int)(sizeof tests / sizeof tests[0]);
    bool *want = calloc((size_t)n, 1);
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--timeout") && a + 1 < argc) {
            timeout = atoi(argv[++a]);
        } else if (!strcmp(argv[a], "--skip-slow")) {
            skip_slow = true;
        } else if (!strcmp(argv[a], "--match") && a + 1 < argc) {
            const char *sub = argv[++a];
            bool any = false;
            for (int i = 0; i < n; i++)
                if (strstr(tests[i].name, sub)) want[i] = any = true;
            if (!any) fprintf(stderr, "no test name contains %s\n", sub);
            selected++;
        } else if (!strcmp(argv[a], "--list")) {
            for (int i = 0; i < n; i++)
                printf("%s\n", tests[i].name);
            return 0;
        } else if (!strcmp(argv[a], "--help")) {
            printf("usage: tests [--timeout SECONDS] [--skip-slow] [--list] [--match SUBSTRING] "
                   "[NAME|PREFIX* ...]\n");
            return 0;
        } else {
            size_t l = strlen(argv[a]);
            bool prefix = l && argv[a][l - 1] == '*', any = false;
            for (int i = 0; i < n; i++)
                if (prefix ? !strncmp(tests[i].name, argv[a], l - 1)
                           : !strcmp(tests[i].name, argv[a]))
                    want[i] = any = true;
            if (!any) fprintf(stderr, "no test named %s\n", argv[a]);
            selected++;
        }
    }
    for (int i = 0; i < n; i++) {
        if (selected && !want[i]) continue;
        if (run_one(i, timeout))
            passed++;
        else
            failed++;
    }
    free(want);
    printf("%d passed, %d failed\n", passed, failed);
    return (failed || passed == 0) ? 1 : 0;
}
