/* Fuzz target: the WebSocket client parser (lib/wsframe.c) that the server runs on every byte a
 * dialled monitor sends, and the check of the monitor's upgrade response. The first input byte
 * picks the piece size; the rest is the stream. Properties: no crash; every message has a known
 * opcode, a control message at most 125 bytes and a data message at most the buffer's size; the
 * messages and the verdict are the same whether the stream comes whole or in pieces; a response
 * head is accepted only inside the bytes given. */
#include "err.h"
#include "wsframe.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAP 4096
#define MAX_MSGS 64

typedef struct seen {
    int n, rc;
    unsigned op[MAX_MSGS];
    size_t len[MAX_MSGS];
    uint64_t sum[MAX_MSGS]; /* a checksum of each message's bytes */
} seen_t;

static uint8_t buf[CAP];

static void fail(const char *what)
{
    fprintf(stderr, "wsframe property violated: %s\n", what);
    abort();
}

static void run(const uint8_t *p, size_t n, size_t step, seen_t *s)
{
    wsframe_rx_t r;
    wsframe_rx_init(&r, buf, sizeof buf);
    memset(s, 0, sizeof *s);
    for (size_t at = 0; at < n && s->rc == 0;) {
        size_t k = step && n - at > step ? step : n - at;
        const uint8_t *in = p + at;
        size_t left = k;
        wsframe_msg_t m;
        int rc;
        while ((rc = wsframe_rx_next(&r, &in, &left, &m)) > 0) {
            bool ctl = m.op >= 8;
            if (m.op != WSFRAME_TEXT && m.op != WSFRAME_BINARY && m.op != WSFRAME_CLOSE &&
                m.op != WSFRAME_PING && m.op != WSFRAME_PONG)
                fail("unknown opcode handed out");
            if (m.len > (ctl ? WSFRAME_MAX_CONTROL : CAP)) fail("message over its limit");
            if (s->n < MAX_MSGS) {
                uint64_t h = 1469598103934665603ull;
                for (size_t i = 0; i < m.len; i++)
                    h = (h ^ m.p[i]) * 1099511628211ull;
                s->op[s->n] = m.op;
                s->len[s->n] = m.len;
                s->sum[s->n] = h;
            }
            s->n++;
        }
        if (rc < 0) {
            if (rc != LP_EPROTO && rc != LP_ERANGE) fail("unexpected error code");
            s->rc = rc;
            break;
        }
        if (left) fail("bytes left over without a message or an error");
        at += k;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t step = data[0] % 17;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    seen_t whole, pieces;
    run(p, n, 0, &whole);
    run(p, n, step ? step : 1, &pieces);
    if (whole.n != pieces.n || whole.rc != pieces.rc) fail("pieces change the messages");
    for (int i = 0; i < whole.n && i < MAX_MSGS; i++)
        if (whole.op[i] != pieces.op[i] || whole.len[i] != pieces.len[i] ||
            whole.sum[i] != pieces.sum[i])
            fail("pieces change a message");
    int h = wsframe_response(p, n, "dGhlIHNhbXBsZSBub25jZQ==");
    if (h > 0 && (size_t)h > n) fail("response head past the bytes given");
    if (h < 0 && h != LP_EPROTO) fail("unexpected response verdict");
    return 0;
}
