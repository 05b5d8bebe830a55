/* Helpers for end-to-end tests: start the real `liveprof serve` on 127.0.0.1 with a free port
 * and a fresh data directory, talk to it over real HTTP, stop it with SIGTERM. */
#ifndef LP_SRVUTIL_H
#define LP_SRVUTIL_H

#include "httpc.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct srv {
    pid_t pid;
    int port;
    int ws_port; /* the WebSocket port */
    char url[64];
    char data[512];
    char admin[128]; /* the admin's API token */
} srv_t;

/* Starts the server with extra flags (may be ""), data in `data` (created under the test's
 * temp dir when NULL). Fails the test when it does not come up. */
void srv_start(srv_t *s, const char *data, const char *flags);
/* srv_start with every file the server writes limited to max_file bytes (RLIMIT_FSIZE, SIGXFSZ
 * ignored): its writes past that fail with EFBIG, as on a full disk. */
void srv_start_limited(srv_t *s, const char *data, const char *flags, long long max_file);
/* SIGTERM and wait; returns the exit status. */
int srv_stop(srv_t *s);
/* One request with an optional bearer token (NULL = guest) and content type; fills *out
 * (dispose it). Returns the HTTP status or -1. */
int srv_req(const srv_t *s, const char *method, const char *path, const char *token,
            const char *ctype, const void *body, size_t len, httpc_resp_t *out);
/* Waits until the session's state is done or failed (at most `seconds`); returns the state
 * (malloc'd) or NULL. */
/* True when the session's /totals.txt (as admin) equals the shared file `expected`
 * (a path below ../shared/data) byte for byte. */
bool srv_totals_equal(const srv_t *s, const char *id, const char *expected);
char *srv_wait_session(const srv_t *s, const char *id, const char *token, int seconds);
/* The string value of a top-level JSON field of a response body, malloc'd, or NULL. */
char *srv_json_str(const char *body, const char *field);
/* The integer value of a top-level JSON field, or -1. */
long long srv_json_int(const char *body, const char *field);

/* Creates a user with role "user" or "admin" through the admin's token (the test fails
 * otherwise). */
void srv_add_user(const srv_t *s, const char *user, const char *password, const char *role);
/* Logs in; returns the login token (malloc'd) or NULL, and the HTTP status in *status (may be
 * NULL). */
char *srv_login(const srv_t *s, const char *user, const char *password, int *status);
/* The server process's resident set size in KiB (VmRSS of /proc/<pid>/status), or -1. */
long srv_rss_kb(const srv_t *s);
/* The sessions named `name` (admin view): their count; the last one's id into sid (33 bytes,
 * "" when none), its state into state (cap bytes; may be NULL) and its bytes_durable into
 * *durable (may be NULL). */
int srv_session_named(const srv_t *s, const char *name, char *sid, char *state, size_t cap,
                      long long *durable);
/* Opens a TCP connection to the server; returns the socket or -1. */
int srv_connect(const srv_t *s);
/* Sends `len` raw bytes on a new connection and reads until the server closes it or `ms`
 * milliseconds pass without data; returns the bytes read (malloc'd, NUL-terminated, length in
 * *out_len), or NULL when the connection failed. */
char *srv_raw(const srv_t *s, const void *req, size_t len, int ms, size_t *out_len);
/* The status code of a raw HTTP response ("HTTP/1.1 404 ..." -> 404), or -1. */
int srv_raw_status(const char *resp);

#endif
