/* The test WebSocket client (see wsclient.h): just enough of RFC 6455 to talk to the server. */
#include "wsclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads more bytes into the buffer; -1 on timeout, error or EOF. */
static int fill(wsc_t *c, int timeout_ms)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) <= 0) return -1;
    if (c->len + 65536 > c->cap) {
        c->cap = (c->len + 65536) * 2;
        c->buf = realloc(c->buf, c->cap);
        if (!c->buf) return -1;
    }
    ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
    if (r <= 0) return -1;
    c->len += (size_t)r;
    return 0;
}

static void consume(wsc_t *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

int wsc_connect(wsc_t *c, int port, const char *target, int rcvbuf)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0) return -1;
    if (rcvbuf > 0) setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) return -1;
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     target, port);
    if (write_all(c->fd, req, (size_t)n) < 0) return -1;
    for (;;) {
        const char *end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (end) {
            int status = 0;
            sscanf((const char *)c->buf, "HTTP/1.1 %d", &status);
            consume(c, (size_t)(end + 4 - (const char *)c->buf));
            return status == 101 ? 0 : status > 0 ? status : -1;
        }
        if (fill(c, 5000) < 0) return -1;
    }
}

int wsc_send(wsc_t *c, int opcode, const void *p, size_t n)
{
    uint8_t h[14];
    size_t k = 0;
    h[k++] = (uint8_t)(0x80 | opcode);
    if (n < 126) {
        h[k++] = (uint8_t)(0x80 | n);
    } else if (n < 65536) {
        h[k++] = 0x80 | 126;
        h[k++] = (uint8_t)(n >> 8);
        h[k++] = (uint8_t)n;
    } else {
        h[k++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            h[k++] = (uint8_t)(n >> (8 * i));
    }
    static const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    memcpy(h + k, mask, 4);
    k += 4;
    uint8_t *m = malloc(n + k);
    if (!m) return -1;
    memcpy(m, h, k);
    for (size_t i = 0; i < n; i++)
        m[k + i] = ((const uint8_t *)p)[i] ^ mask[i % 4];
    int rc = write_all(c->fd, m, n + k);
    free(m);
    return rc;
}

int wsc_send_raw(wsc_t *c, const void *p, size_t n)
{
    return write_all(c->fd, p, n);
}

int wsc_recv(wsc_t *c, uint8_t **msg, size_t *len, int *op, int timeout_ms)
{
    uint8_t *acc = NULL;
    size_t alen = 0;
    int first_op = -1;
    for (;;) {
        size_t need = 2;
        if (c->len >= 2) {
            size_t n = c->buf[1] & 0x7f;
            need = 2 + (n == 126 ? 2 : n == 127 ? 8 : 0);
            if (c->len >= need) {
                if (n == 126) n = (size_t)c->buf[2] << 8 | c->buf[3];
                if (n == 127) {
                    n = 0;
                    for (int i = 0; i < 8; i++)
                        n = n << 8 | c->buf[2 + i];
                }
                if (c->len >= need + n) {
                    int fin = c->buf[0] & 0x80, opc = c->buf[0] & 0x0f;
                    const uint8_t *pl = c->buf + need;
                    if (opc == 8) {
                        c->close_code = n >= 2 ? pl[0] << 8 | pl[1] : 1005;
                        snprintf(c->close_reason, sizeof c->close_reason, "%.*s",
                                 n > 2 ? (int)(n - 2) : 0, (const char *)pl + 2);
                        consume(c, need + n);
                        free(acc);
                        return 0;
                    }
                    if (opc == 9) { /* ping: answer */
                        uint8_t *copy = malloc(n + 1);
                        memcpy(copy, pl, n);
                        consume(c, need + n);
                        wsc_send(c, 10, copy, n);
                        free(copy);
                        continue;
                    }
                    if (opc == 10) {
                        consume(c, need + n);
                        continue;
                    }
                    if (opc) first_op = opc;
                    acc = realloc(acc, alen + n + 1);
                    memcpy(acc + alen, pl, n);
                    alen += n;
                    consume(c, need + n);
                    if (fin) {
                        *msg = acc;
                        *len = alen;
                        *op = first_op;
                        return 1;
                    }
                    continue;
                }
            }
        }
        if (fill(c, timeout_ms) < 0) {
            free(acc);
            return -1;
        }
    }
}

void wsc_close(wsc_t *c)
{
    if (c->fd > 0) close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof *c);
}
