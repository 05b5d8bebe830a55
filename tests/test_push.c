/* Monitors that push (liveprof-monitor --push ws://SERVER:WSPORT/monitor --token T) with real
 * programs, the real monitor and the real server: each program becomes a live session like a
 * dialled one, with the totals of `liveprof analyze` of the monitor's tee; a wrong token is
 * refused with a clear close and makes no session. */
#include "test.h"

#include "caputil.h"
#include "wire.h"
#include "wsclient.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The id, state and durable bytes of the (last) session named `name` (sid: 33 bytes; "" when
 * there is none). Returns how many sessions have that name. */
static bool file_has(const char *path, const char *text)
{
    size_t n = 0;
    uint8_t *d = tu_read_file(path, &n);
    bool has = d && strstr((char *)d, text);
    free(d);
    return has;
}

/* Starts a monitor that pushes to the server with `token`. */
static void mon_push(const srv_t *s, mon_t *m, const char *token)
{
    char extra[512];
    snprintf(extra, sizeof extra, "--token %s --push ws://127.0.0.1:%d/monitor", token, s->ws_port);
    cap_mon_start(m, "mon", 0, extra);
}

/* Runs the labels program with the leech into a monitor that pushes to the server with
 * `token`, until the program exits; the monitor keeps running. */
static void run_pushed(const srv_t *s, mon_t *m, const char *token, const char *prog)
{
    mon_push(s, m, token);
    cap_run_labels(m, prog, "40 2 20");
}

/* Waits (at most 30 s) until the session named `name` is done; its id into sid (33 bytes), its
 * state into state (32 bytes). */
static void wait_done(const srv_t *s, const char *name, char *sid, char *state)
{
    state[0] = 0;
    for (int i = 0; i < 1500 && strcmp(state, "done"); i++) {
        srv_session_named(s, name, sid, state, 32, NULL);
        if (strcmp(state, "done")) usleep(20000);
    }
}

/* (Also under TSan: the WebSocket thread and the HTTP thread hand bytes over.) The push
 * direction end to end: the session of the pushed program is live, then done, owned
 * by the token's user, with the totals of the tee. */
TEST(push_concurrent_monitor)
{
    srv_t s;
    srv_start(&s, NULL, "");
    mon_t m;
    run_pushed(&s, &m, s.admin, "pushed");
    char sid[33] = "", state[32] = "";
    wait_done(&s, "pushed", sid, state);
    CHECKF(!strcmp(state, "done"), "session of the pushed program: '%s' state '%s'", sid, state);
    char tee[700];
    snprintf(tee, sizeof tee, "%s/pushed.eventlog", m.tee);
    if (sid[0]) cap_check_totals(&s, sid, tee);
    cap_mon_stop(&m, SIGTERM);
    CHECK(srv_stop(&s) == 0);
}

/* A monitor pushing with a token the server does not know is refused with Error + close 4401
 * (the monitor says so), and its program gets no session. A raw client gets the same close, with
 * a wrong token and with none. */
TEST(push_bad_token)
{
    srv_t s;
    srv_start(&s, NULL, "");
    mon_t m;
    run_pushed(&s, &m, "0123456789abcdef", "refused");
    for (int i = 0; i < 250 && !file_has(m.log, "invalid or expired token"); i++)
        usleep(20000);
    CHECKF(file_has(m.log, "the peer closed the link: invalid or expired token"),
           "the monitor did not say it was refused");
    char sid[33], state[32];
    srv_session_named(&s, "refused", sid, state, sizeof state, NULL);
    CHECKF(!sid[0], "a refused monitor made session %s", sid);
    cap_mon_stop(&m, SIGTERM);

    wsc_t c;
    uint8_t buf[WIRE_MAX_FRAME];
    uint8_t *msg = NULL;
    size_t len = 0;
    int op = 0, n;
    const char *tokens[] = {"wrong", NULL}; /* NULL: a Hello without its token field */
    for (int t = 0; t < 2; t++) {
        REQUIRE(wsc_connect(&c, s.ws_port, "/monitor", 0) == 0);
        wire_frame_t h = {
            .kind = WIRE_HELLO, .version = WIRE_VERSION, .token = wire_cstr(tokens[t])};
        n = wire_encode(&h, buf, sizeof buf);
        REQUIRE(n > 0);
        CHECK(wsc_send(&c, 2, buf, (size_t)n) == 0);
        REQUIRE(wsc_recv(&c, &msg, &len, &op, 5000) == 1);
        wire_frame_t e;
        CHECK(wire_decode(&e, msg, len) == 0 && e.kind == WIRE_ERROR);
        CHECK(e.text.len == 24 && !memcmp(e.text.p, "invalid or expired token", 24));
        free(msg);
        CHECK(wsc_recv(&c, &msg, &len, &op, 5000) == 0);
        CHECKF(c.close_code == 4401, "token %d: close %d", t, c.close_code);
        wsc_close(&c);
    }

    /* anything but Hello first: a protocol error */
    REQUIRE(wsc_connect(&c, s.ws_port, "/monitor", 0) == 0);
    wire_frame_t b = {.kind = WIRE_HEARTBEAT};
    n = wire_encode(&b, buf, sizeof buf);
    CHECK(wsc_send(&c, 2, buf, (size_t)n) == 0);
    CHECK(wsc_recv(&c, &msg, &len, &op, 5000) == 0);
    CHECK(c.close_code == 1008);
    wsc_close(&c);
    CHECK(srv_stop(&s) == 0);
}

/* The server is stopped and started again (same ports) while the program runs: the monitor
 * pushes again by itself and the program continues in the SAME session, from the bytes its
 * segments hold; at the end the totals equal `liveprof analyze` of the tee. */
TEST(push_server_restart)
{
    if (test_skip_slow()) return;
    char flags[64];
    int ws_port = cap_free_port();
    snprintf(flags, sizeof flags, "--ws 127.0.0.1:%d", ws_port);
    srv_t s;
    srv_start(&s, NULL, flags);
    s.ws_port = ws_port;
    char data[512];
    snprintf(data, sizeof data, "%s", s.data);
    mon_t m;
    mon_push(&s, &m, s.admin);
    char cmd[1024], log[600];
    snprintf(log, sizeof log, "%s/prog.log", tu_tmpdir());
    snprintf(cmd, sizeof cmd,
             "LIVEPROF_SOCKET=%s LIVEPROF_PROGRAM=pr exec build/hs/labels-main 800 2 100 +RTS -N2",
             m.sock);
    pid_t p = cap_spawn(cmd, log);
    char sid[33] = "", state[32] = "";
    long long durable = 0;
    for (int i = 0; i < 1000 && durable < (2 << 20); i++) {
        srv_session_named(&s, "pr", sid, state, sizeof state, &durable);
        if (durable < (2 << 20)) usleep(20000);
    }
    REQUIRE(durable >= (2 << 20));
    CHECKF(!strcmp(state, "live"), "state before the restart: %s", state);
    CHECK(srv_stop(&s) == 0);
    srv_start(&s, data, flags);
    s.ws_port = ws_port;
    CHECK(cap_wait(p, 120) == 0);
    char sid2[33] = "";
    int n = 0;
    for (int i = 0; i < 3000 && strcmp(state, "done"); i++) {
        n = srv_session_named(&s, "pr", sid2, state, sizeof state, NULL);
        if (strcmp(state, "done")) usleep(20000);
    }
    CHECKF(!strcmp(state, "done"), "state after the restart: %s", state);
    CHECKF(n == 1 && !strcmp(sid, sid2), "%d sessions; before %s, after %s", n, sid, sid2);
    char tee[700];
    snprintf(tee, sizeof tee, "%s/pr.eventlog", m.tee);
    cap_check_totals(&s, sid2, tee);
    cap_mon_stop(&m, SIGTERM);
    CHECK(srv_stop(&s) == 0);
}

/* A server that stops answering (its process stopped: the connection stays open) is pinged by a
 * pushing monitor after half of --timeout and dropped after all of it; the monitor says so and
 * connects again, and once the server runs again the pushed program still becomes its session. */
TEST(push_silent_server_dropped)
{
    srv_t s;
    srv_start(&s, NULL, "");
    mon_t m;
    char extra[512];
    snprintf(extra, sizeof extra, "--timeout 2 --token %s --push ws://127.0.0.1:%d/monitor",
             s.admin, s.ws_port);
    cap_mon_start(&m, "mon", 0, extra);
    usleep(500000); /* the link is up */
    kill(s.pid, SIGSTOP);
    bool said = false;
    for (int i = 0; i < 300 && !said; i++) {
        usleep(20000);
        said = file_has(m.log, "closed, connecting again");
    }
    kill(s.pid, SIGCONT);
    CHECKF(said, "the monitor did not drop the silent server");
    cap_run_labels(&m, "after", "20 2 0");
    char sid[33] = "", state[32] = "";
    wait_done(&s, "after", sid, state);
    CHECKF(!strcmp(state, "done"), "session of the program after the stop: '%s' state '%s'", sid,
           state);
    cap_mon_stop(&m, SIGTERM);
    CHECK(srv_stop(&s) == 0);
}

/* A pushed link whose segment writer falls behind (zstd level 19, 64 KiB of queue): the refused
 * bytes are asked for again over the pushed connection, and the session gets the whole stream
 * (see capture_writer_behind_asks_again for the dialled direction). */
TEST(push_writer_behind_asks_again)
{
    srv_t s;
    srv_start(&s, NULL, "--write-queue 64K --compress 19");
    mon_t m;
    mon_push(&s, &m, s.admin);
    cap_run_labels(&m, "pbehind", "2 0 30000");
    char sid[33] = "", state[32] = "";
    for (int i = 0; i < 3000 && strcmp(state, "done"); i++) {
        srv_session_named(&s, "pbehind", sid, state, 32, NULL);
        if (strcmp(state, "done")) usleep(20000);
    }
    CHECKF(!strcmp(state, "done"), "session of the pushed program: '%s' state '%s'", sid, state);
    char tee[700], slog[600];
    snprintf(tee, sizeof tee, "%s/pbehind.eventlog", m.tee);
    if (sid[0]) cap_check_totals(&s, sid, tee);
    snprintf(slog, sizeof slog, "%s.log", s.data);
    CHECKF(file_has(slog, "are asked for again"), "the writer never refused bytes");
    cap_mon_stop(&m, SIGTERM);
    CHECK(srv_stop(&s) == 0);
}
