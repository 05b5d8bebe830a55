/* Client-side WebSocket for links that carry bulk data: frames masked a word at a time, a parser
 * that copies payload in bulk, and the opening handshake. */
#include "wsframe.h"

#include "err.h"
#include "sha1.h"

#include <ctype.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>

unsigned wsframe_mask(uint8_t *p, size_t n, const uint8_t key[4], unsigned phase)
{
    size_t i = 0;
    for (; i < n && ((uintptr_t)(p + i) & 7u); i++, phase = (phase + 1) & 3u)
        p[i] ^= key[phase];
    if (n - i >= 8) {
        uint8_t k8[8];
        for (unsigned j = 0; j < 8; j++)
            k8[j] = key[(phase + j) & 3u];
        uint64_t k;
        memcpy(&k, k8, 8);
        for (; n - i >= 8; i += 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            w ^= k;
            memcpy(p + i, &w, 8);
        }
    }
    for (; i < n; i++, phase = (phase + 1) & 3u)
        p[i] ^= key[phase];
    return phase;
}

/* Writes the header of a final frame of `opcode` carrying len bytes into h, with the mask bit
 * when `masked` (the key is not written); returns its length. */
static size_t header(uint8_t *h, size_t len, unsigned opcode, bool masked)
{
    uint8_t m = masked ? 0x80u : 0;
    size_t n = 0;
    h[n++] = (uint8_t)(0x80u | (opcode & 0xfu));
    if (len < 126) {
        h[n++] = (uint8_t)(m | len);
    } else if (len < 65536) {
        h[n++] = m | 126u;
        h[n++] = (uint8_t)(len >> 8);
        h[n++] = (uint8_t)len;
    } else {
        h[n++] = m | 127u;
        for (int s = 56; s >= 0; s -= 8)
            h[n++] = (uint8_t)((uint64_t)len >> s);
    }
    return n;
}

size_t wsframe_client(uint8_t *payload, size_t len, unsigned opcode, const uint8_t key[4])
{
    uint8_t h[WSFRAME_MAX_HEADER];
    size_t n = header(h, len, opcode, true);
    memcpy(h + n, key, 4);
    n += 4;
    memcpy(payload - n, h, n);
    wsframe_mask(payload, len, key, 0);
    return n;
}

size_t wsframe_server_header(uint8_t *h, size_t len, unsigned opcode)
{
    return header(h, len, opcode, false);
}

void wsframe_rx_init(wsframe_rx_t *r, uint8_t *buf, size_t cap)
{
    memset(r, 0, sizeof *r);
    r->msg = buf;
    r->cap = cap;
}

/* Bytes of a frame header whose first hn bytes are at h: 2 until the length byte is known. */
static unsigned header_need(const uint8_t *h, unsigned hn)
{
    if (hn < 2) return 2;
    unsigned l7 = h[1] & 0x7fu;
    return 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + ((h[1] & 0x80u) ? 4 : 0);
}

/* Takes in the whole header at r->h: the frame's opcode, length and key, checked against the
 * message in progress. */
static int header_done(wsframe_rx_t *r)
{
    const uint8_t *h = r->h;
    if (h[0] & 0x70u) return LP_EPROTO; /* no extension was negotiated */
    r->op = h[0] & 0xfu;
    r->fin = (h[0] & 0x80u) != 0;
    r->masked = (h[1] & 0x80u) != 0;
    uint64_t len = h[1] & 0x7fu;
    unsigned k = 2;
    if (len == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
        k = 4;
    } else if (len == 127) {
        len = 0;
        for (unsigned j = 0; j < 8; j++)
            len = len << 8 | h[2 + j];
        k = 10;
    }
    if (r->masked) memcpy(r->key, h + k, 4);
    r->phase = 0;
    r->hn = 0;
    if (r->op >= 8) {
        if (r->op > WSFRAME_PONG || !r->fin || len > WSFRAME_MAX_CONTROL) return LP_EPROTO;
        r->ctl_len = 0;
    } else if (r->op == 0) {
        if (!r->msg_op) return LP_EPROTO;
    } else if (r->op <= WSFRAME_BINARY) {
        if (r->msg_op) return LP_EPROTO;
        r->msg_op = r->op;
        r->len = 0;
    } else {
        return LP_EPROTO;
    }
    if (r->op < 8 && len > r->cap - r->len) return LP_ERANGE;
    r->left = len;
    r->in_payload = true;
    return 0;
}

int wsframe_rx_next(wsframe_rx_t *r, const uint8_t **in, size_t *n, wsframe_msg_t *m)
{
    if (r->msg_done) {
        r->msg_done = false;
        r->msg_op = 0;
        r->len = 0;
    }
    for (;;) {
        if (!r->in_payload) {
            for (unsigned need = header_need(r->h, r->hn); r->hn < need;
                 need = header_need(r->h, r->hn)) {
                if (!*n) return 0;
                r->h[r->hn++] = **in;
                ++*in;
                --*n;
            }
            int rc = header_done(r);
            if (rc < 0) return rc;
        }
        size_t take = r->left < *n ? (size_t)r->left : *n;
        bool ctl = r->op >= 8;
        uint8_t *dst = ctl ? r->ctl + r->ctl_len : r->msg + r->len;
        memcpy(dst, *in, take);
        if (r->masked) r->phase = wsframe_mask(dst, take, r->key, r->phase);
        *in += take;
        *n -= take;
        r->left -= take;
        if (ctl)
            r->ctl_len += take;
        else
            r->len += take;
        if (r->left) return 0;
        r->in_payload = false;
        if (ctl) {
            *m = (wsframe_msg_t){.op = r->op, .p = r->ctl, .len = r->ctl_len};
            return 1;
        }
        if (r->fin) {
            *m = (wsframe_msg_t){.op = r->msg_op, .p = r->msg, .len = r->len};
            r->msg_done = true;
            return 1;
        }
    }
}

int wsframe_client_random(uint8_t *payload, size_t len, unsigned opcode)
{
    uint8_t key[4];
    if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key) return LP_EIO;
    return (int)wsframe_client(payload, len, opcode, key);
}

/* ---- the opening handshake ---------------------------------------------------------------- */

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* Base64 of n bytes into out (4 * ceil(n / 3) + 1 bytes, NUL-terminated). */
static void base64(const uint8_t *p, size_t n, char *out)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        out[o++] = A[v >> 18 & 63];
        out[o++] = A[v >> 12 & 63];
        out[o++] = i + 1 < n ? A[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? A[v & 63] : '=';
    }
    out[o] = 0;
}

void wsframe_key(const uint8_t random[16], char key[WSFRAME_KEY_LEN + 1])
{
    base64(random, 16, key);
}

int wsframe_request(char *out, size_t cap, const char *host, int port, const char *path,
                    const char key[WSFRAME_KEY_LEN + 1], const char *protocol)
{
    int n = snprintf(out, cap,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
                     path, host, port, key, protocol);
    return n < 0 || (size_t)n >= cap ? LP_ERANGE : n;
}

int wsframe_response(const uint8_t *p, size_t n, const char key[WSFRAME_KEY_LEN + 1])
{
    size_t end = 0;
    for (size_t i = 3; i < n && !end; i++)
        if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r') end = i + 1;
    if (!end) return n >= WSFRAME_RESPONSE_MAX ? LP_EPROTO : 0;
    if (end > WSFRAME_RESPONSE_MAX) return LP_EPROTO;
    static const char status[] = "HTTP/1.1 101";
    if (end < sizeof status || memcmp(p, status, sizeof status - 1) != 0) return LP_EPROTO;
    char want[29];
    {
        char cat[WSFRAME_KEY_LEN + sizeof GUID];
        memcpy(cat, key, WSFRAME_KEY_LEN);
        memcpy(cat + WSFRAME_KEY_LEN, GUID, sizeof GUID - 1);
        uint8_t d[20];
        sha1(cat, WSFRAME_KEY_LEN + sizeof GUID - 1, d);
        base64(d, 20, want);
    }
    static const char name[] = "sec-websocket-accept:";
    for (size_t i = 0; i + sizeof name < end; i++) {
        if (i && p[i - 1] != '\n') continue;
        size_t k = 0;
        while (k < sizeof name - 1 && tolower(p[i + k]) == name[k])
            k++;
        if (k < sizeof name - 1) continue;
        size_t v = i + k;
        while (v < end && (p[v] == ' ' || p[v] == '\t'))
            v++;
        size_t e = v;
        while (e < end && p[e] != '\r' && p[e] != ' ' && p[e] != '\t')
            e++;
        return e - v == 28 && !memcmp(p + v, want, 28) ? (int)end : LP_EPROTO;
    }
    return LP_EPROTO;
}
