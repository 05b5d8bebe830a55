/* Live-capture test helpers: real monitor and program processes, connections, waiting for a
 * program's session, totals comparison with `liveprof analyze` of the monitor's tee file. */
#include "caputil.h"

#include "test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int cap_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

pid_t cap_spawn(const char *cmd, const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

int cap_wait(pid_t pid, int seconds)
{
    for (int i = 0; i < seconds * 50; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(20000);
    }
    return -1;
}

long long cap_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

void cap_mon_start(mon_t *m, const char *name, int port, const char *extra)
{
    static const char *const progs[] = {"build/hs/labels-main", "build/hs/labels-attach",
                                        "build/hs/plain", "build/liveprof-monitor"};
    for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++)
        CHECKF(access(progs[i], X_OK) == 0, "%s is missing: run `make all hs`", progs[i]);
    const char *dir = tu_tmpdir();
    snprintf(m->sock, sizeof m->sock, "%s/leech.sock", dir);
    snprintf(m->tee, sizeof m->tee, "%s/%s-tee", dir, name);
    snprintf(m->log, sizeof m->log, "%s/%s.log", dir, name);
    m->port = port ? port : cap_free_port();
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "exec build/liveprof-monitor --socket %s --listen 127.0.0.1:%d --tee %s %s", m->sock,
             m->port, m->tee, extra);
    unlink(m->sock);
    m->pid = cap_spawn(cmd, m->log);
    for (int i = 0; i < 250 && cap_file_size(m->sock) < 0; i++)
        usleep(20000);
    REQUIRE(cap_file_size(m->sock) >= 0);
}

void cap_run_labels(const mon_t *m, const char *prog, const char *args)
{
    char cmd[1024], log[600];
    snprintf(log, sizeof log, "%s/prog.log", tu_tmpdir());
    snprintf(cmd, sizeof cmd,
             "LIVEPROF_SOCKET=%s LIVEPROF_PROGRAM=%s exec build/hs/labels-main %s +RTS -N2",
             m->sock, prog, args);
    CHECK(cap_wait(cap_spawn(cmd, log), 60) == 0);
}

void cap_mon_stop(mon_t *m, int sig)
{
    if (m->pid <= 0) return;
    kill(m->pid, sig);
    cap_wait(m->pid, 10);
    m->pid = 0;
}

int cap_connect(const srv_t *s, int port, const char *token)
{
    char body[512];
    if (token)
        snprintf(body, sizeof body,
                 "{\"name\":\"mon\",\"host\":\"127.0.0.1\",\"port\":%d,\"token\":\"%s\"}", port,
                 token);
    else
        snprintf(body, sizeof body, "{\"name\":\"mon\",\"host\":\"127.0.0.1\",\"port\":%d}", port);
    httpc_resp_t r;
    int st = srv_req(s, "POST", "/api/connections", s->admin, "application/json", body,
                     strlen(body), &r);
    long long id = srv_json_int(r.body, "id");
    httpc_resp_dispose(&r);
    REQUIRE(st == 201 && id > 0);
    char path[128];
    snprintf(path, sizeof path, "/api/connections/%lld/connect", id);
    st = srv_req(s, "POST", path, s->admin, NULL, NULL, 0, &r);
    httpc_resp_dispose(&r);
    REQUIRE(st == 202);
    return (int)id;
}

char *cap_wait_program(const srv_t *s, int conn, const char *prog, char *sid, char *prog_out,
                       int seconds)
{
    char path[128];
    snprintf(path, sizeof path, "/api/connections/%d/status", conn);
    for (int i = 0; i < seconds * 20; i++) {
        httpc_resp_t r;
        if (srv_req(s, "GET", path, s->admin, NULL, NULL, 0, &r) == 200) {
            json_t *j = json_loads(r.body, 0, NULL);
            json_t *ps = json_object_get(j, "programs");
            size_t k;
            json_t *p;
            json_array_foreach(ps, k, p)
            {
                const char *id = json_string_value(json_object_get(p, "id"));
                if (prog && (!id || strcmp(id, prog))) continue;
                if (!json_is_true(json_object_get(p, "ended"))) break;
                snprintf(sid, 33, "%s", json_string_value(json_object_get(p, "session")));
                if (prog_out) snprintf(prog_out, 129, "%s", id);
                char *state = srv_wait_session(s, sid, s->admin, 30);
                bool done = state && !strcmp(state, "done");
                free(state);
                json_decref(j);
                if (!done) {
                    httpc_resp_dispose(&r);
                    return NULL;
                }
                char *text = strdup(r.body);
                httpc_resp_dispose(&r);
                return text;
            }
            json_decref(j);
        }
        httpc_resp_dispose(&r);
        usleep(50000);
    }
    return NULL;
}

void cap_check_totals(const srv_t *s, const char *sid, const char *log)
{
    char path[256], cmd[2048];
    snprintf(path, sizeof path, "/api/sessions/%s/totals.txt", sid);
    httpc_resp_t r;
    int st = srv_req(s, "GET", path, s->admin, NULL, NULL, 0, &r);
    CHECK(st == 200);
    const char *dir = tu_tmpdir();
    snprintf(cmd, sizeof cmd, "mkdir -p %s/an && %s analyze %s --totals -o %s/an > /dev/null", dir,
             tu_liveprof(), log, dir);
    REQUIRE(tu_run(cmd, NULL, NULL) == 0);
    const char *base = strrchr(log, '/') ? strrchr(log, '/') + 1 : log;
    char want_path[1024];
    snprintf(want_path, sizeof want_path, "%s/an/%.*s.totals.txt", dir,
             (int)(strlen(base) - strlen(".eventlog")), base);
    size_t n = 0;
    uint8_t *want = tu_read_file(want_path, &n);
    REQUIRE(want);
    CHECKF(r.len == n && memcmp(r.body, want, n) == 0, "totals differ:\n%s\nvs analyze:\n%s",
           r.body, (char *)want);
    CHECK(strstr((char *)want, "job1") != NULL);
    free(want);
    httpc_resp_dispose(&r);
}
