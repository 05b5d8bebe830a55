/* The real server as a child process for end-to-end tests. */
#include "srvutil.h"

#include "test.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) < 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

void srv_start(srv_t *s, const char *data, const char *flags)
{
    srv_start_limited(s, data, flags, 0);
}

void srv_start_limited(srv_t *s, const char *data, const char *flags, long long max_file)
{
    memset(s, 0, sizeof *s);
    if (data)
        snprintf(s->data, sizeof s->data, "%s", data);
    else
        snprintf(s->data, sizeof s->data, "%s/data", tu_tmpdir());
    for (int attempt = 0; attempt < 5; attempt++) {
        s->port = free_port();
        int ws = free_port();
        s->ws_port = ws;
        char cmd[2048];
        snprintf(cmd, sizeof cmd,
                 "ASAN_OPTIONS=detect_leaks=0 exec %s serve --http 127.0.0.1:%d --ws 127.0.0.1:%d "
                 "--data '%s' --web '' %s "
                 "> '%s.log' 2>&1",
                 tu_liveprof(), s->port, ws, s->data, flags ? flags : "", s->data);
        s->pid = fork();
        if (s->pid == 0) {
            if (max_file > 0) { /* both survive exec: writes past the limit fail with EFBIG */
                signal(SIGXFSZ, SIG_IGN);
                struct rlimit rl = {(rlim_t)max_file, (rlim_t)max_file};
                if (setrlimit(RLIMIT_FSIZE, &rl) < 0) _exit(126);
            }
            execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
            _exit(127);
        }
        snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", s->port);
        for (int i = 0; i < 200; i++) { /* up to 10 s */
            httpc_resp_t r;
            if (srv_req(s, "GET", "/api/me", NULL, NULL, NULL, 0, &r) == 200) {
                httpc_resp_dispose(&r);
                char path[600];
                snprintf(path, sizeof path, "%s/admin.token", s->data);
                size_t n;
                char *tok = (char *)tu_read_file(path, &n);
                REQUIRE(tok);
                while (n && (tok[n - 1] == '\n' || tok[n - 1] == '\r'))
                    tok[--n] = 0;
                snprintf(s->admin, sizeof s->admin, "%s", tok);
                free(tok);
                return;
            }
            int st;
            if (waitpid(s->pid, &st, WNOHANG) == s->pid) break; /* died: port taken? retry */
            usleep(50000);
        }
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
    }
    char log[600];
    snprintf(log, sizeof log, "%s.log", s->data);
    size_t n;
    char *text = (char *)tu_read_file(log, &n);
    CHECKF(false, "the server did not start: %s", text ? text : "(no log)");
    free(text);
    test_abort();
}

/* Prints the server's log to stderr (for a failing test). */
static void show_log(const srv_t *s)
{
    char log[600];
    snprintf(log, sizeof log, "%s.log", s->data);
    size_t n;
    char *text = (char *)tu_read_file(log, &n);
    fprintf(stderr, "    server log:\n%s\n", text ? text : "(none)");
    free(text);
}

int srv_stop(srv_t *s)
{
    int st = 0, rc = -1;
    kill(s->pid, SIGTERM);
    for (int i = 0; i < 200 && rc < 0; i++) {
        if (waitpid(s->pid, &st, WNOHANG) == s->pid)
            rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        else
            usleep(50000);
    }
    if (rc < 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &st, 0);
    }
    if (rc != 0) show_log(s);
    return rc;
}

int srv_req(const srv_t *s, const char *method, const char *path, const char *token,
            const char *ctype, const void *body, size_t len, httpc_resp_t *out)
{
    char err[128], auth[256], ct[160];
    const char *headers[3] = {NULL, NULL, NULL};
    size_t nh = 0;
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        headers[nh++] = auth;
    }
    if (ctype) {
        snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
        headers[nh++] = ct;
    }
    httpc_t *h = httpc_create(s->url, err, sizeof err);
    if (!h) return -1;
    httpc_set_max_body(h, 1u << 30);
    memset(out, 0, sizeof *out);
    int rc = httpc_request(h, method, path, headers, body, len, out);
    httpc_destroy(h);
    return rc == 0 ? out->status : -1;
}

char *srv_json_str(const char *body, const char *field)
{
    json_t *v = json_loads(body ? body : "", 0, NULL);
    json_t *f = v ? json_object_get(v, field) : NULL;
    char *out = json_is_string(f) ? strdup(json_string_value(f)) : NULL;
    json_decref(v);
    return out;
}

long long srv_json_int(const char *body, const char *field)
{
    json_t *v = json_loads(body ? body : "", 0, NULL);
    json_t *f = v ? json_object_get(v, field) : NULL;
    long long out = json_is_integer(f) ? (long long)json_integer_value(f) : -1;
    json_decref(v);
    return out;
}

char *srv_wait_session(const srv_t *s, const char *id, const char *token, int seconds)
{
    char path[128];
    snprintf(path, sizeof path, "/api/sessions/%s", id);
    for (int i = 0; i < seconds * 20; i++) {
        httpc_resp_t r;
        if (srv_req(s, "GET", path, token, NULL, NULL, 0, &r) == 200) {
            char *state = srv_json_str(r.body, "state");
            httpc_resp_dispose(&r);
            if (state && (!strcmp(state, "done") || !strcmp(state, "failed"))) return state;
            free(state);
        } else {
            httpc_resp_dispose(&r);
        }
        usleep(50000);
    }
    return NULL;
}

void srv_add_user(const srv_t *s, const char *user, const char *password, const char *role)
{
    char body[512];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"password\":\"%s\",\"role\":\"%s\"}", user,
             password, role);
    httpc_resp_t r;
    int st = srv_req(s, "POST", "/api/users", s->admin, "application/json", body, strlen(body), &r);
    CHECKF(st == 201, "creating %s: %d %s", user, st, r.body ? r.body : "");
    httpc_resp_dispose(&r);
}

char *srv_login(const srv_t *s, const char *user, const char *password, int *status)
{
    char body[512];
    snprintf(body, sizeof body, "{\"user\":\"%s\",\"password\":\"%s\"}", user, password);
    httpc_resp_t r;
    int st =
        srv_req(s, "POST", "/api/auth/login", NULL, "application/json", body, strlen(body), &r);
    char *tok = st == 200 ? srv_json_str(r.body, "token") : NULL;
    httpc_resp_dispose(&r);
    if (status) *status = st;
    return tok;
}

long srv_rss_kb(const srv_t *s)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)s->pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}

int srv_connect(const srv_t *s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)s->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) return fd;
    if (fd >= 0) close(fd);
    return -1;
}

char *srv_raw(const srv_t *s, const void *req, size_t len, int ms, size_t *out_len)
{
    int fd = srv_connect(s);
    if (fd < 0) return NULL;
    for (size_t at = 0; at < len;) {
        ssize_t w = send(fd, (const char *)req + at, len - at, MSG_NOSIGNAL);
        if (w <= 0) break; /* the server may refuse early; read what it said */
        at += (size_t)w;
    }
    size_t n = 0, cap = 4096;
    char *buf = malloc(cap);
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, ms) <= 0) break;
        if (n + 1 >= cap) buf = realloc(buf, cap *= 2);
        ssize_t r = recv(fd, buf + n, cap - n - 1, 0);
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    if (out_len) *out_len = n;
    return buf;
}

int srv_raw_status(const char *resp)
{
    if (!resp || strncmp(resp, "HTTP/1.", 7) || strlen(resp) < 12) return -1;
    return atoi(resp + 9);
}

bool srv_totals_equal(const srv_t *s, const char *id, const char *expected)
{
    char path[128];
    snprintf(path, sizeof path, "/api/sessions/%s/totals.txt", id);
    httpc_resp_t r;
    size_t n;
    char *want = (char *)tu_read_file(tu_data(expected), &n);
    bool ok = srv_req(s, "GET", path, s->admin, NULL, NULL, 0, &r) == 200 && want && r.len == n &&
              !memcmp(r.body, want, n);
    free(want);
    httpc_resp_dispose(&r);
    return ok;
}

int srv_session_named(const srv_t *s, const char *name, char *sid, char *state, size_t cap,
                      long long *durable)
{
    int count = 0;
    sid[0] = 0;
    if (state) state[0] = 0;
    httpc_resp_t r;
    if (srv_req(s, "GET", "/api/sessions", s->admin, NULL, NULL, 0, &r) == 200) {
        json_t *o = json_loadb(r.body, r.len, 0, NULL);
        json_t *arr = json_object_get(o, "sessions");
        for (size_t i = 0; i < json_array_size(arr); i++) {
            json_t *x = json_array_get(arr, i);
            const char *n = json_string_value(json_object_get(x, "name"));
            if (!n || strcmp(n, name)) continue;
            snprintf(sid, 33, "%s", json_string_value(json_object_get(x, "id")));
            const char *st = json_string_value(json_object_get(x, "state"));
            if (state) snprintf(state, cap, "%s", st ? st : "");
            if (durable) *durable = json_integer_value(json_object_get(x, "bytes_durable"));
            count++;
        }
        json_decref(o);
    }
    httpc_resp_dispose(&r);
    return count;
}
