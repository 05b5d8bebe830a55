/* Live capture end to end with real processes: Haskell programs built by ghc with the leech
 * (both attach modes) or unmodified (--exec), the real monitor and the real server. A finished
 * program's session must give the same totals as `liveprof analyze` of the monitor's tee. */
#include "test.h"

#include "caputil.h"

#include "wire.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Runs `prog_cmd` with the leech pointed at a fresh monitor the server is connected to, then
 * checks the session. */
static void run_leech_case(const char *prog_cmd, const char *prog_id)
{
    srv_t s;
    srv_start(&s, NULL, "");
    mon_t m;
    cap_mon_start(&m, "mon", 0, "");
    int conn = cap_connect(&s, m.port, NULL);
    char cmd[2048], log[600];
    snprintf(log, sizeof log, "%s/prog.log", tu_tmpdir());
    snprintf(cmd, sizeof cmd, "LIVEPROF_SOCKET=%s LIVEPROF_PROGRAM=%s exec %s", m.sock, prog_id,
             prog_cmd);
    pid_t p = cap_spawn(cmd, log);
    CHECK(cap_wait(p, 60) == 0);
    char sid[33] = "";
    char *status = cap_wait_program(&s, conn, prog_id, sid, NULL, 30);
    REQUIRE(status);
    CHECKF(strstr(status, "\"gaps\": 0") || strstr(status, "\"gaps\":0"), "%s", status);
    free(status);
    char tee[700];
    snprintf(tee, sizeof tee, "%s/%s.eventlog", m.tee, prog_id);
    cap_check_totals(&s, sid, tee);
    char path[64];
    snprintf(path, sizeof path, "/api/connections/%d", conn);
    httpc_resp_t r;
    CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
    CHECKF(strstr(r.body, "\"last_used\":\"") != NULL, "last_used not set: %s", r.body);
    httpc_resp_dispose(&r);
    cap_mon_stop(&m, SIGTERM);
    CHECK(srv_stop(&s) == 0);
}

/* Attach mode (a): liveprof-ghc's C main installs the leech from the first event. */
TEST(capture_leech_main)
{
    run_leech_case("build/hs/labels-main 40 2 20 +RTS -N2 -RTS", "labels-a");
}

/* Attach mode (b): the program runs with +RTS -l to a file and switches to the leech from
 * Haskell; the leech repairs the restarted stream (junk, missing init events). */
TEST(capture_leech_attach)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "build/hs/labels-attach 40 2 20 attach +RTS -N2 -l -ol%s/f.eventlog",
             tu_tmpdir());
    run_leech_case(cmd, "labels-b");
}

/* No relink: --exec runs the unmodified program with its eventlog in a FIFO. */
TEST(capture_exec)
{
    srv_t s;
    srv_start(&s, NULL, "");
    mon_t m;
    cap_mon_start(&m, "mon", 0, "--exec -- build/hs/plain 40 2 20");
    int conn = cap_connect(&s, m.port, NULL);
    char sid[33] = "", prog[129] = "";
    char *status = cap_wait_program(&s, conn, NULL, sid, prog, 60);
    REQUIRE(status);
    free(status);
    CHECK(strncmp(prog, "plain-", 6) == 0);
    char tee[700];
    snprintf(tee, sizeof tee, "%s/%s.eventlog", m.tee, prog);
    cap_check_totals(&s, sid, tee);
    cap_mon_stop(&m, SIGTERM);
    CHECK(srv_stop(&s) == 0);
}

/* A late joiner: the server (started with `flags`) connects to the monitor after program `prog`
 * (labels-main ARGS) ended; the program's session is waited for and checked against the tee
 * (tee_out: its path) with no gap. The server and monitor keep running. */
static void late_join(srv_t *s, mon_t *m, const char *flags, const char *prog, const char *args,
                      char sid[33], char tee_out[700])
{
    srv_start(s, NULL, flags);
    cap_mon_start(m, "mon", 0, "");
    cap_run_labels(m, prog, args);
    snprintf(tee_out, 700, "%s/%s.eventlog", m->tee, prog);
    int conn = cap_connect(s, m->port, NULL);
    char *status = cap_wait_program(s, conn, prog, sid, NULL, 120);
    REQUIRE(status);
    CHECKF(strstr(status, "\"gaps\": 0") || strstr(status, "\"gaps\":0"), "%s", status);
    free(status);
    cap_check_totals(s, sid, tee_out);
}

/* The server connects after the program ended: the backlog gives it everything, thread labels
 * included. */
TEST(capture_late_joiner)
{
    srv_t s;
    mon_t m;
    char sid[33] = "", tee[700];
    late_join(&s, &m, "", "late", "30 2 0", sid, tee);
    char path[128];
    snprintf(path, sizeof path, "/api/sessions/%s/totals.txt", sid);
    httpc_resp_t r;
    CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
    CHECKF(strstr(r.body, "worker-1") && strstr(r.body, "main"), "labels missing:\n%s", r.body);
    httpc_resp_dispose(&r);
    cap_mon_stop(&m, SIGTERM);
    CHECK(srv_stop(&s) == 0);
}

static long long status_int(const srv_t *s, int conn, const char *field)
{
    char path[128];
    snprintf(path, sizeof path, "/api/connections/%d/status", conn);
    httpc_resp_t r;
    long long v = -1;
    if (srv_req(s, "GET", path, s->admin, NULL, NULL, 0, &r) == 200) {
        const char *at = strstr(r.body, field);
        if (at) {
            at += strlen(field);
            while (*at == ':' || *at == ' ')
                at++;
            v = atoll(at);
        }
    }
    httpc_resp_dispose(&r);
    return v;
}

/* (Also under TSan: the link thread and the HTTP thread hand bytes over all the way.)
 * The monitor dies (kill -9) while the program runs and while the server holds less than the
 * monitor had: a new monitor on the same socket and port takes the program over, the server
 * resumes the same session from its last byte and reports the lost range as a gap; the
 * program never notices. */
TEST(capture_concurrent_monitor_restart)
{
    if (test_skip_slow()) return;
    srv_t s;
    srv_start(&s, NULL, "");
    mon_t m;
    cap_mon_start(&m, "mon", 0, "");
    int conn = cap_connect(&s, m.port, NULL);
    char cmd[1024], log[600];
    snprintf(log, sizeof log, "%s/prog.log", tu_tmpdir());
    snprintf(cmd, sizeof cmd,
             "LIVEPROF_SOCKET=%s LIVEPROF_PROGRAM=rs exec build/hs/labels-main 1200 2 100 +RTS -N2",
             m.sock);
    pid_t p = cap_spawn(cmd, log);
    /* wait until the server's session has the header, then cut the server off */
    for (int i = 0; i < 500 && status_int(&s, conn, "\"bytes\"") <= 0; i++)
        usleep(20000);
    CHECK(status_int(&s, conn, "\"bytes\"") > 0);
    httpc_resp_t r;
    char path[128];
    snprintf(path, sizeof path, "/api/connections/%d/disconnect", conn);
    CHECK(srv_req(&s, "POST", path, s.admin, NULL, NULL, 0, &r) == 202);
    httpc_resp_dispose(&r);
    char tee[700];
    snprintf(tee, sizeof tee, "%s/rs.eventlog", m.tee);
    for (int i = 0; i < 1000 && cap_file_size(tee) < (2 << 20); i++) /* a buffer arrived */
        usleep(20000);
    CHECK(cap_file_size(tee) >= (2 << 20));
    cap_mon_stop(&m, SIGKILL);
    mon_t m2;
    cap_mon_start(&m2, "mon2", m.port, "");
    /* the link comes back by itself on reconnect; ask for it again as a user would */
    snprintf(path, sizeof path, "/api/connections/%d/connect", conn);
    CHECK(srv_req(&s, "POST", path, s.admin, NULL, NULL, 0, &r) == 202);
    httpc_resp_dispose(&r);
    CHECK(cap_wait(p, 120) == 0);
    char sid[33] = "";
    char *status = cap_wait_program(&s, conn, "rs", sid, NULL, 60);
    if (!status) {
        snprintf(path, sizeof path, "/api/connections/%d/status", conn);
        srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r);
        size_t n = 0;
        uint8_t *ml = tu_read_file(m2.log, &n);
        CHECKF(0, "status %s\nmonitor log: %s", r.body, ml ? (char *)ml : "");
        free(ml);
        httpc_resp_dispose(&r);
    }
    REQUIRE(status);
    CHECKF(!strstr(status, "\"gaps\": 0,") && !strstr(status, "\"gaps\":0,"), "no gap reported: %s",
           status);
    free(status);
    /* the session settled over what it received: header, the part before the cut, the rest */
    snprintf(path, sizeof path, "/api/sessions/%s/totals.txt", sid);
    CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
    CHECK(strstr(r.body, "job1") != NULL);
    httpc_resp_dispose(&r);
    cap_mon_stop(&m2, SIGTERM);
    CHECK(srv_stop(&s) == 0);
}

static void sock_send(const char *path, const void *p, size_t n)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    REQUIRE(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(write(fd, p, n) == (ssize_t)n);
    usleep(100000);
    close(fd);
}

static void tcp_send(int port, const void *p, size_t n)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    REQUIRE(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(write(fd, p, n) == (ssize_t)n);
    usleep(100000);
    close(fd);
}

static bool log_has(const char *log, const char *text)
{
    size_t n = 0;
    uint8_t *d = tu_read_file(log, &n);
    bool has = d && strstr((char *)d, text);
    free(d);
    return has;
}

/* Garbage on every socket: the monitor's leech socket (junk, a bad length, a malformed frame,
 * data before hello), its WebSocket port (junk, a wrong token), and a "monitor" that answers
 * the server's link with junk. Each gets a clear message; nothing crashes; real programs still
 * stream afterwards. */
TEST(capture_garbage)
{
    srv_t s;
    srv_start(&s, NULL, "");
    mon_t m;
    cap_mon_start(&m, "mon", 0, "--token right");
    sock_send(m.sock, "GET / HTTP/1.0\r\n\r\n", 18);
    uint8_t frame[64];
    memset(frame, 0xa5, sizeof frame);
    uint32_t len = 60;
    memcpy(frame, &len, 4);
    sock_send(m.sock, frame, sizeof frame);
    uint8_t data[WIRE_MAX_FRAME + 4];
    wire_frame_t f = {.kind = WIRE_DATA, .program = wire_cstr("x"), .data = {frame, 8}};
    int n = wire_encode(&f, data + 4, WIRE_MAX_FRAME);
    REQUIRE(n > 0);
    memcpy(data, &n, 4);
    sock_send(m.sock, data, (size_t)n + 4);
    tcp_send(m.port, "\x16\x03\x01 garbage \r\n\r\n", 16);
    for (int i = 0; i < 50 && !log_has(m.log, "not hello"); i++)
        usleep(20000);
    CHECK(log_has(m.log, "bad frame length"));
    CHECK(log_has(m.log, "malformed frame"));
    CHECK(log_has(m.log, "the first frame is not hello"));
    CHECK(kill(m.pid, 0) == 0);

    /* the wrong token: the monitor says why and the link shows it */
    int bad = cap_connect(&s, m.port, "wrong");
    char path[128];
    snprintf(path, sizeof path, "/api/connections/%d/status", bad);
    httpc_resp_t r;
    bool said = false;
    for (int i = 0; i < 100 && !said; i++) {
        if (srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200)
            said = strstr(r.body, "bad token") != NULL;
        httpc_resp_dispose(&r);
        usleep(20000);
    }
    CHECK(said);
    snprintf(path, sizeof path, "/api/connections/%d/disconnect", bad);
    CHECK(srv_req(&s, "POST", path, s.admin, NULL, NULL, 0, &r) == 202);
    httpc_resp_dispose(&r);

    /* a "monitor" that answers with junk */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    REQUIRE(bind(lfd, (struct sockaddr *)&a, sizeof a) == 0 && listen(lfd, 4) == 0);
    getsockname(lfd, (struct sockaddr *)&a, &al);
    int junk = cap_connect(&s, ntohs(a.sin_port), NULL);
    int cfd = accept(lfd, NULL, NULL);
    REQUIRE(cfd >= 0);
    char buf[1024];
    CHECK(read(cfd, buf, sizeof buf) > 0);
    const char *reply = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n\x01\x02\x03\x04\x05";
    CHECK(write(cfd, reply, strlen(reply)) > 0);
    close(cfd);
    snprintf(path, sizeof path, "/api/connections/%d/status", junk);
    said = false;
    for (int i = 0; i < 100 && !said; i++) {
        if (srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200)
            said = !strstr(r.body, "\"error\": \"\"") && !strstr(r.body, "\"error\":\"\"");
        httpc_resp_dispose(&r);
        usleep(20000);
    }
    CHECK(said);
    snprintf(path, sizeof path, "/api/connections/%d/disconnect", junk);
    CHECK(srv_req(&s, "POST", path, s.admin, NULL, NULL, 0, &r) == 202);
    httpc_resp_dispose(&r);
    close(lfd);

    /* everything still works: a real program streams to the right-token link */
    int good = cap_connect(&s, m.port, "right");
    char cmd[1024], log[600];
    snprintf(log, sizeof log, "%s/prog.log", tu_tmpdir());
    snprintf(cmd, sizeof cmd,
             "LIVEPROF_SOCKET=%s LIVEPROF_PROGRAM=after exec build/hs/labels-main 10 1 0", m.sock);
    CHECK(cap_wait(cap_spawn(cmd, log), 60) == 0);
    char sid[33] = "";
    char *status = cap_wait_program(&s, good, "after", sid, NULL, 30);
    CHECK(status != NULL);
    free(status);
    cap_mon_stop(&m, SIGTERM);
    CHECK(srv_stop(&s) == 0);
}

/* Without LIVEPROF_SOCKET the program runs as without the leech; with a monitor that is not
 * there it runs normally too, and does not wait for it at exit. */
TEST(capture_no_monitor)
{
    char log[600], cmd[1024];
    snprintf(log, sizeof log, "%s/prog.log", tu_tmpdir());
    CHECK(cap_wait(cap_spawn("exec build/hs/labels-main 5 1 0", log), 60) == 0);
    snprintf(cmd, sizeof cmd, "LIVEPROF_SOCKET=%s/absent.sock exec build/hs/labels-main 5 1 0",
             tu_tmpdir());
    pid_t p = cap_spawn(cmd, log);
    CHECK(cap_wait(p, 3) == 0);
    CHECK(log_has(log, "labels done"));
}

/* The server is stopped and started again while the program runs: it dials the monitor again
 * by itself (the connection is still wanted) and the program continues in the same session
 * (still open: its segments hold a prefix of the stream) from the bytes it holds; its totals
 * equal `liveprof analyze` of the monitor's tee. */
TEST(capture_server_restart)
{
    if (test_skip_slow()) return;
    srv_t s;
    srv_start(&s, NULL, "");
    char data[512];
    snprintf(data, sizeof data, "%s", s.data);
    mon_t m;
    cap_mon_start(&m, "mon", 0, "");
    int conn = cap_connect(&s, m.port, NULL);
    char cmd[1024], log[600];
    snprintf(log, sizeof log, "%s/prog.log", tu_tmpdir());
    snprintf(cmd, sizeof cmd,
             "LIVEPROF_SOCKET=%s LIVEPROF_PROGRAM=sr exec build/hs/labels-main 800 2 100 +RTS -N2",
             m.sock);
    pid_t p = cap_spawn(cmd, log);
    for (int i = 0; i < 500 && status_int(&s, conn, "\"bytes\"") < (2 << 20); i++)
        usleep(20000);
    CHECK(status_int(&s, conn, "\"bytes\"") >= (2 << 20));
    char before[33] = "", path[128];
    snprintf(path, sizeof path, "/api/connections/%d/status", conn);
    httpc_resp_t r;
    if (srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200) {
        const char *at = strstr(r.body, "\"session\"");
        if (at && (at = strchr(at + 9, '"')) && strlen(at) > 33) snprintf(before, 33, "%s", at + 1);
    }
    httpc_resp_dispose(&r);
    CHECK(strlen(before) == 32);
    CHECK(srv_stop(&s) == 0);
    srv_start(&s, data, "");
    CHECK(cap_wait(p, 120) == 0);
    char sid[33] = "";
    char *status = cap_wait_program(&s, conn, "sr", sid, NULL, 60);
    REQUIRE(status);
    free(status);
    CHECKF(!strcmp(sid, before), "the session changed: %s before the restart, %s after", before,
           sid);
    char tee[700];
    snprintf(tee, sizeof tee, "%s/sr.eventlog", m.tee);
    cap_check_totals(&s, sid, tee);
    cap_mon_stop(&m, SIGTERM);
    CHECK(srv_stop(&s) == 0);
}

/* The state of connection `conn` ("connected", ...) into out (32 bytes), or "" on error. */
static void status_state(const srv_t *s, int conn, char *out)
{
    char path[128];
    snprintf(path, sizeof path, "/api/connections/%d/status", conn);
    httpc_resp_t r;
    out[0] = 0;
    if (srv_req(s, "GET", path, s->admin, NULL, NULL, 0, &r) == 200) {
        const char *at = strstr(r.body, "\"state\":\"");
        if (at) sscanf(at + 9, "%31[a-z]", out);
    }
    httpc_resp_dispose(&r);
}

/* Polls the connection's state into st until it is (is = true) or is no longer `want`, for at
 * most tries x 20 ms. */
static void await_state(const srv_t *s, int conn, const char *want, bool is, int tries, char *st)
{
    status_state(s, conn, st);
    for (int i = 0; i < tries && !strcmp(st, want) != is; i++) {
        usleep(20000);
        status_state(s, conn, st);
    }
}

/* A dialled monitor that stops answering (its process stopped: the connection stays open, as
 * when its host goes away without closing it) is pinged after half of --ws-timeout and dropped
 * after all of it; once it answers again the server has dialled it again by itself. */
TEST(capture_silent_monitor_dropped)
{
    srv_t s;
    srv_start(&s, NULL, "--ws-timeout 2");
    mon_t m;
    cap_mon_start(&m, "mon", 0, "");
    int conn = cap_connect(&s, m.port, NULL);
    char st[32] = "";
    await_state(&s, conn, "connected", true, 250, st);
    REQUIRE(!strcmp(st, "connected"));
    usleep(3000000); /* a quiet monitor that answers pings stays connected */
    status_state(&s, conn, st);
    CHECKF(!strcmp(st, "connected"), "a quiet monitor was dropped: %s", st);
    kill(m.pid, SIGSTOP);
    await_state(&s, conn, "connected", false, 300, st);
    CHECKF(strcmp(st, "connected") != 0, "a stopped monitor still shows %s", st);
    char path[128];
    snprintf(path, sizeof path, "/api/connections/%d/status", conn);
    httpc_resp_t r;
    CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
    CHECKF(strstr(r.body, "answered nothing"), "status: %s", r.body);
    httpc_resp_dispose(&r);
    kill(m.pid, SIGCONT);
    await_state(&s, conn, "connected", true, 500, st);
    CHECKF(!strcmp(st, "connected"), "not dialled again: %s", st);
    cap_mon_stop(&m, SIGTERM);
    CHECK(srv_stop(&s) == 0);
}

/* The segment writer falls behind a link (every chunk compressed at zstd level 19, with room for
 * 64 KiB queued and 512 KiB at most): the bytes it refuses are asked for again from the monitor's
 * backlog once it has room, so the session holds the whole stream, with no gap, and its totals are
 * exact. (Before, refused bytes were counted as held: the stored stream had holes.) */
TEST(capture_writer_behind_asks_again)
{
    srv_t s;
    mon_t m;
    char sid[33] = "", tee[700];
    late_join(&s, &m, "--write-queue 64K --compress 19", "behind", "2 0 30000", sid, tee);
    CHECKF(cap_file_size(tee) > (4 << 20), "the program wrote %lld bytes", cap_file_size(tee));
    char slog[600];
    snprintf(slog, sizeof slog, "%s.log", s.data);
    size_t n;
    char *text = (char *)tu_read_file(slog, &n);
    CHECKF(text && strstr(text, "are asked for again"), "the writer never refused bytes:\n%s",
           text ? text : "(no log)");
    free(text);
    cap_mon_stop(&m, SIGTERM);
    CHECK(srv_stop(&s) == 0);
}
