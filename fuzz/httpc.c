/* Fuzz target: the HTTP/1.1 response parser of the blocking client (lib/httpc.c: status line,
 * headers, Content-Length, chunked and close-delimited bodies, 1xx responses, keep-alive). A
 * loopback server thread answers every connection with the input's bytes and closes; the client
 * sends two requests (the second on a kept-alive or reopened connection). Properties: no crash or
 * hang; a successful response has a status of 100..999, a NUL-terminated body within the cap. */
#include "err.h"
#include "httpc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BODY 4096

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *answer; /* what the server sends, under lock */
static size_t answer_len;
static char url[64];

/* Reads the request head (up to the blank line) so that closing does not reset the connection
 * before the client has sent its request. */
static void read_head(int fd)
{
    char buf[4096];
    size_t n = 0;
    while (n < sizeof buf) {
        ssize_t r = recv(fd, buf + n, sizeof buf - n, 0);
        if (r <= 0) return;
        n += (size_t)r;
        for (size_t i = 3; i < n; i++)
            if (!memcmp(buf + i - 3, "\r\n\r\n", 4)) return;
    }
}

static void *serve(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) continue;
        read_head(fd);
        pthread_mutex_lock(&lock);
        size_t n = answer_len;
        uint8_t *copy = malloc(n ? n : 1);
        if (n) memcpy(copy, answer, n);
        pthread_mutex_unlock(&lock);
        for (size_t at = 0; at < n;) {
            ssize_t w = send(fd, copy + at, n - at, MSG_NOSIGNAL);
            if (w <= 0) break;
            at += (size_t)w;
        }
        free(copy);
        shutdown(fd, SHUT_WR);
        close(fd);
    }
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) < 0)
        abort();
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    pthread_t t;
    if (pthread_create(&t, NULL, serve, (void *)(intptr_t)fd) != 0) abort();
    pthread_detach(t);
    return 0;
}

static void check(int rc, const httpc_resp_t *r)
{
    if (rc == 0) {
        if (r->status < 100 || r->status > 999 || !r->body || r->body[r->len] != 0 ||
            r->len > MAX_BODY) {
            fprintf(stderr, "httpc: a bad response was accepted (status %d, len %zu)\n", r->status,
                    r->len);
            abort();
        }
    } else if (rc != LP_ENET && rc != LP_ETIMEOUT && rc != LP_EPROTO && rc != LP_ERANGE) {
        fprintf(stderr, "httpc: unexpected code %d\n", rc);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!url[0]) LLVMFuzzerInitialize(NULL, NULL);
    if (size < 1 || size > (1 << 16)) return 0;
    pthread_mutex_lock(&lock);
    answer = (uint8_t *)data + 1;
    answer_len = size - 1;
    pthread_mutex_unlock(&lock);
    char err[128];
    httpc_t *h = httpc_create(url, err, sizeof err);
    if (!h) abort();
    httpc_set_timeouts(h, 2000, 2000);
    httpc_set_max_body(h, MAX_BODY);
    const char *method = data[0] & 1 ? "HEAD" : "GET";
    for (int i = 0; i < 2; i++) {
        httpc_resp_t r;
        memset(&r, 0, sizeof r);
        int rc = httpc_request(h, method, "/x", NULL, NULL, 0, &r);
        check(rc, &r);
        httpc_resp_dispose(&r);
    }
    httpc_destroy(h);
    pthread_mutex_lock(&lock);
    answer = NULL;
    answer_len = 0;
    pthread_mutex_unlock(&lock);
    return 0;
}
