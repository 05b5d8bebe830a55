/* Waits for a session to settle the way a light client would: GET PATH every few milliseconds on
 * one keep-alive connection until the JSON body's "state" is "done" or "failed". A poll costs
 * the server and this process tens of microseconds, so the wait barely takes CPU time from the
 * ingest it times (a curl process per poll would take a good part of a core). Prints the state;
 * exits 0 for done, 1 for failed, 2 for errors or the timeout. */
#include "clock.h"
#include "httpc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench-waitdone BASE_URL PATH TOKEN INTERVAL_MS TIMEOUT_S\n"
                        "  GET PATH every INTERVAL_MS on one connection until its \"state\" is\n"
                        "  done or failed; prints the state\n");
        return 2;
    }
    char err[256], auth[1100];
    httpc_t *h = httpc_create(argv[1], err, sizeof err);
    if (!h) {
        fprintf(stderr, "bench-waitdone: %s\n", err);
        return 2;
    }
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", argv[3]);
    const char *const headers[] = {auth, NULL};
    double interval = atof(argv[4]) / 1000, deadline = now_s() + atof(argv[5]);
    if (interval <= 0 || interval > 10) {
        fprintf(stderr, "bench-waitdone: INTERVAL_MS must be above 0 and at most 10000\n");
        return 2;
    }
    int rc = 2;
    while (rc == 2 && now_s() < deadline) {
        httpc_resp_t r;
        if (httpc_request(h, "GET", argv[2], headers, NULL, 0, &r) != 0) {
            fprintf(stderr, "bench-waitdone: %s\n", httpc_error(h));
            break;
        }
        json_t *js = r.status == 200 ? json_loadb(r.body, r.len, 0, NULL) : NULL;
        const char *state = json_string_value(json_object_get(js, "state"));
        if (r.status != 200 || !state) {
            fprintf(stderr, "bench-waitdone: status %d, no state\n", r.status);
            json_decref(js);
            httpc_resp_dispose(&r);
            break;
        }
        if (!strcmp(state, "done") || !strcmp(state, "failed")) {
            printf("%s\n", state);
            rc = strcmp(state, "done") ? 1 : 0;
        }
        json_decref(js);
        httpc_resp_dispose(&r);
        if (rc == 2) {
            struct timespec w = {0, (long)(interval * 1e9)};
            nanosleep(&w, NULL);
        }
    }
    if (rc == 2 && now_s() >= deadline) fprintf(stderr, "bench-waitdone: timed out\n");
    httpc_destroy(h);
    return rc;
}
