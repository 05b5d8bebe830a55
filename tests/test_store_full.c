/* A server that cannot store what it is sent (a full disk; here every file it writes is limited
 * to a few MB, which fails its writes the same way): the upload is refused with 507 or the
 * session fails with that reason, what was stored stays a clean prefix whose results it serves,
 * nothing hangs, and the server goes on serving other sessions. Big request bodies spill into
 * the data directory, not /tmp. */
#include "test.h"

#include "srvutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LIMIT (3ll << 20)

static const char *big_log(size_t *len)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/big.eventlog", tu_tmpdir());
    uint8_t *b = tu_read_file(tu_data("eventlogs/scale-20m.eventlog"), len);
    REQUIRE(b && *len > 4 * (size_t)LIMIT);
    FILE *f = fopen(path, "wb");
    REQUIRE(f && fwrite(b, 1, *len, f) == *len && fclose(f) == 0);
    free(b);
    return path;
}

/* Waits for the session to fail for want of room; *stored gets the bytes it had stored and
 * analysed (its bytes_ingested, which counts durable bytes only: the next group commit makes
 * them so, within a second). */
static void check_failed(const srv_t *s, const char *id, long long *stored)
{
    char *st = srv_wait_session(s, id, s->admin, 120);
    CHECKF(st && !strcmp(st, "failed"), "session %s: %s", id, st ? st : "(no answer)");
    free(st);
    char path[128];
    snprintf(path, sizeof path, "/api/sessions/%s", id);
    httpc_resp_t r;
    REQUIRE(srv_req(s, "GET", path, s->admin, NULL, NULL, 0, &r) == 200);
    char *err = srv_json_str(r.body, "error");
    CHECKF(err && strstr(err, "could not store the whole eventlog") && strstr(err, "no room"),
           "error: %s", err ? err : "(none)");
    free(err);
    for (int i = 0; i < 100 && srv_json_int(r.body, "bytes_ingested") <= 0; i++) {
        httpc_resp_dispose(&r);
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
        REQUIRE(srv_req(s, "GET", path, s->admin, NULL, NULL, 0, &r) == 200);
    }
    *stored = srv_json_int(r.body, "bytes_ingested");
    CHECKF(*stored > 0 && *stored <= LIMIT, "bytes_ingested %lld: %s", *stored, r.body);
    CHECK(srv_json_int(r.body, "bytes_durable") == *stored);
    httpc_resp_dispose(&r);
    /* the stored prefix is analysed: its totals are served */
    snprintf(path, sizeof path, "/api/sessions/%s/totals.txt", id);
    CHECK(srv_req(s, "GET", path, s->admin, NULL, NULL, 0, &r) == 200);
    httpc_resp_dispose(&r);
}

TEST(server_store_full_refuses_and_goes_on)
{
    srv_t s;
    srv_start_limited(&s, NULL, "", LIMIT);
    size_t len;
    const char *big = big_log(&len);

    /* a chunked upload: 507 on a chunk after the writer failed, or, when every chunk was taken
     * before, the session's failure through --wait; either way a clear error and exit 1 */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s upload '%s' --server %s --token %s --wait --name big 2>&1",
             tu_liveprof(), big, s.url, s.admin);
    uint8_t *out = NULL;
    size_t n;
    int st = tu_run(cmd, &out, &n);
    CHECKF(st == 1, "upload exited %d", st);
    REQUIRE(out);
    CHECKF(strstr((char *)out, "507 (insufficient storage): no room to store it") ||
               strstr((char *)out, "could not store the whole eventlog"),
           "upload said: %s", (char *)out);
    free(out);
    char sid[33], state[32];
    REQUIRE(srv_session_named(&s, "big", sid, state, sizeof state, NULL) == 1);
    long long big_stored, stored;
    check_failed(&s, sid, &big_stored);

    /* a raw upload: taken whole (201), written by the writer later, then failed. (8 MB: a body
     * over 16 MB would go to a temporary file of the HTTP library, which the limit stops too.) */
    httpc_resp_t r;
    uint8_t *body = tu_read_file(big, &len);
    REQUIRE(body);
    st = srv_req(&s, "POST", "/api/sessions?name=raw", s.admin, "application/octet-stream", body,
                 8u << 20, &r);
    free(body);
    CHECKF(st == 201, "raw upload: %d %s", st, r.body ? r.body : "");
    char *raw = srv_json_str(r.body, "id");
    httpc_resp_dispose(&r);
    REQUIRE(raw);
    check_failed(&s, raw, &stored);

    /* a chunked upload by hand, 1 MiB a chunk until one is refused with 507 */
    REQUIRE(srv_req(&s, "POST", "/api/uploads?name=hand", s.admin, NULL, NULL, 0, &r) == 201);
    char *upload = srv_json_str(r.body, "id"), *hand = srv_json_str(r.body, "session");
    httpc_resp_dispose(&r);
    REQUIRE(upload && hand);
    body = tu_read_file(big, &len);
    REQUIRE(body);
    char path[128];
    long long sent = 0;
    for (st = 200; st == 200 && sent < 16 << 20; sent += 1 << 20) {
        snprintf(path, sizeof path, "/api/uploads/%s?offset=%lld", upload, sent);
        st =
            srv_req(&s, "PUT", path, s.admin, "application/octet-stream", body + sent, 1 << 20, &r);
        httpc_resp_dispose(&r);
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    free(body);
    CHECKF(st == 507, "a chunk at %lld MiB: %d", sent >> 20, st);
    long long hand_stored;
    check_failed(&s, hand, &hand_stored);

    /* other sessions are stored and analysed as ever */
    snprintf(cmd, sizeof cmd, "%s upload '%s' --server %s --token %s --wait 2>/dev/null | tail -1",
             tu_liveprof(), tu_data("eventlogs/small.eventlog"), s.url, s.admin);
    st = tu_run(cmd, &out, &n);
    CHECKF(st == 0, "small upload exited %d", st);
    REQUIRE(out && n > 1);
    out[strcspn((char *)out, "\n")] = 0;
    CHECK(srv_totals_equal(&s, (char *)out, "expected/small/default/small.totals.txt"));
    free(out);

    /* after a restart (with room again) they are still failed, with the same error, over the
     * same prefix (before, they were `ingesting` again, waiting for bytes after the hole), and
     * the upload is finished: it takes no more chunks; so after a second restart */
    char data[600];
    snprintf(data, sizeof data, "%s", s.data);
    const char *failed[3] = {sid, raw, hand};
    const long long held[3] = {big_stored, stored, hand_stored};
    for (int round = 0; round < 2; round++) {
        CHECK(srv_stop(&s) == 0);
        srv_start(&s, data, "");
        for (int i = 0; i < 3; i++) {
            long long again;
            check_failed(&s, failed[i], &again);
            CHECKF(again == held[i], "%s: %lld bytes after a restart, %lld before", failed[i],
                   again, held[i]);
        }
        snprintf(path, sizeof path, "/api/uploads/%s", upload);
        REQUIRE(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
        CHECKF(strstr(r.body, "\"finished\":true"), "%s", r.body);
        httpc_resp_dispose(&r);
        snprintf(path, sizeof path, "/api/uploads/%s?offset=%lld", upload, hand_stored);
        CHECK(srv_req(&s, "PUT", path, s.admin, "application/octet-stream", "x", 1, &r) == 409);
        httpc_resp_dispose(&r);
    }
    free(upload);
    free(hand);

    /* the failed ones can be deleted (their space is the remedy) */
    snprintf(path, sizeof path, "/api/sessions/%s", raw);
    CHECK(srv_req(&s, "DELETE", path, s.admin, NULL, NULL, 0, &r) == 204);
    httpc_resp_dispose(&r);
    free(raw);
    CHECK(srv_stop(&s) == 0);
}

/* Request bodies over 16 MB spill to DATA/tmp, never /tmp: with DATA/tmp a dangling link, such a
 * body cannot be taken (the connection closes without an answer) while smaller ones are; the
 * server goes on. */
TEST(server_big_bodies_spill_to_data_dir)
{
    char data[600], link[700];
    snprintf(data, sizeof data, "%s/data", tu_tmpdir());
    snprintf(link, sizeof link, "%s/tmp", data);
    REQUIRE(mkdir(data, 0700) == 0 && symlink("nowhere", link) == 0);
    srv_t s;
    srv_start(&s, data, "");
    size_t len;
    const char *big = big_log(&len);
    uint8_t *body = tu_read_file(big, &len);
    REQUIRE(body && len > (17u << 20));
    httpc_resp_t r;
    int st = srv_req(&s, "POST", "/api/sessions?name=big", s.admin, "application/octet-stream",
                     body, len, &r);
    CHECKF(st == -1, "a body over 16 MB with nowhere to spill: %d", st);
    if (st >= 0) httpc_resp_dispose(&r);
    st = srv_req(&s, "POST", "/api/sessions?name=small", s.admin, "application/octet-stream", body,
                 8u << 20, &r);
    CHECK(st == 201);
    httpc_resp_dispose(&r);
    free(body);
    CHECK(srv_stop(&s) == 0);
}
