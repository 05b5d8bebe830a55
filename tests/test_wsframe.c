/* The WebSocket client pieces of lib/wsframe.c and lib/sha1.c: SHA-1 against the FIPS vectors,
 * the RFC 6455 handshake example, word-wide masking against the byte rule, frames round-tripped
 * through the parser whole and a byte at a time, fragments around a control frame, and every
 * violation the parser must refuse. */
#include "test.h"

#include "err.h"
#include "sha1.h"
#include "wsframe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

TEST(wsframe_sha1_vectors)
{
    static const struct {
        const char *in, *want;
    } v[] = {
        {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
    };
    uint8_t d[20];
    char h[41];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        sha1(v[i].in, strlen(v[i].in), d);
        hex(d, 20, h);
        CHECKF(!strcmp(h, v[i].want), "sha1(\"%s\") = %s", v[i].in, h);
    }
    size_t n = 1000000;
    char *a = malloc(n);
    REQUIRE(a);
    memset(a, 'a', n);
    sha1(a, n, d);
    hex(d, 20, h);
    CHECK(!strcmp(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"));
    free(a);
}

TEST(wsframe_handshake_rfc6455_example)
{
    const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";
    char req[512];
    int n = wsframe_request(req, sizeof req, "127.0.0.1", 9000, "/monitor", key, "p");
    REQUIRE(n > 0);
    CHECK(strstr(req, "GET /monitor HTTP/1.1\r\n") == req);
    CHECK(strstr(req, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n") != NULL);
    CHECK(strstr(req, "Host: 127.0.0.1:9000\r\n") != NULL);
    CHECK(!strcmp(req + n - 4, "\r\n\r\n"));
    CHECK(wsframe_request(req, 40, "127.0.0.1", 9000, "/monitor", key, "p") == LP_ERANGE);

    const char ok[] =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nsec-WEBSOCKET-accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        "\r\n\x82\x00";
    size_t head = sizeof ok - 1 - 2;
    const uint8_t *p = (const uint8_t *)ok;
    CHECK(wsframe_response(p, head, key) == (int)head);
    CHECK(wsframe_response(p, sizeof ok - 1, key) == (int)head); /* a frame follows */
    CHECK(wsframe_response(p, head - 1, key) == 0);              /* not all there yet */
    CHECK(wsframe_response(p, head, "dGhlIHNhbXBsZSBub25jZR==") == LP_EPROTO);
    const char refused[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
    CHECK(wsframe_response((const uint8_t *)refused, sizeof refused - 1, key) == LP_EPROTO);
    const char no_accept[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
    CHECK(wsframe_response((const uint8_t *)no_accept, sizeof no_accept - 1, key) == LP_EPROTO);
    static uint8_t endless[8192];
    memset(endless, 'x', sizeof endless);
    CHECK(wsframe_response(endless, sizeof endless, key) == LP_EPROTO);

    uint8_t rnd[16];
    for (int i = 0; i < 16; i++)
        rnd[i] = (uint8_t)(i * 37 + 1);
    char k[WSFRAME_KEY_LEN + 1];
    wsframe_key(rnd, k);
    CHECK((int)strlen(k) == (int)WSFRAME_KEY_LEN);
    CHECK(k[22] == '=' && k[23] == '=');
}

TEST(wsframe_mask_matches_byte_rule)
{
    static uint8_t a[160], b[160];
    const uint8_t key[4] = {0x12, 0x9a, 0xfe, 0x07};
    for (size_t off = 0; off < 16; off++)
        for (size_t n = 0; n + off <= 140; n += 3)
            for (unsigned phase = 0; phase < 4; phase++) {
                for (size_t i = 0; i < sizeof a; i++)
                    a[i] = b[i] = (uint8_t)(i * 7 + off);
                unsigned got = wsframe_mask(a + off, n, key, phase);
                unsigned ph = phase;
                for (size_t i = 0; i < n; i++, ph = (ph + 1) & 3)
                    b[off + i] ^= key[ph];
                CHECKF(!memcmp(a, b, sizeof a) && got == ph, "off %zu n %zu phase %u", off, n,
                       phase);
            }
}

/* Feeds n bytes to r in pieces of `step` (0: all at once); collects up to 8 messages. */
static int feed(wsframe_rx_t *r, const uint8_t *p, size_t n, size_t step, wsframe_msg_t *out,
                uint8_t copies[][200], int *count)
{
    *count = 0;
    size_t at = 0;
    while (at < n) {
        size_t k = step && n - at > step ? step : n - at;
        const uint8_t *in = p + at;
        size_t left = k;
        wsframe_msg_t m;
        int rc;
        while ((rc = wsframe_rx_next(r, &in, &left, &m)) != 0) {
            if (rc < 0) return rc;
            if (*count < 8) {
                out[*count] = m;
                memcpy(copies[*count], m.p, m.len < 200 ? m.len : 200);
            }
            ++*count;
        }
        at += k;
    }
    return 0;
}

TEST(wsframe_client_and_server_frames_round_trip)
{
    static const size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 100000};
    static uint8_t frame[WSFRAME_MAX_HEADER + 100000], msg[100000], want[100000];
    const uint8_t key[4] = {1, 2, 3, 250};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (size_t step = 0; step <= 1; step++) {
            size_t n = sizes[s];
            if (step && n > 70000) continue; /* a byte at a time: the smaller ones do */
            uint8_t *payload = frame + WSFRAME_MAX_HEADER;
            for (size_t i = 0; i < n; i++)
                want[i] = payload[i] = (uint8_t)(i * 13 + s);
            size_t h = wsframe_client(payload, n, WSFRAME_BINARY, key);
            CHECK(h == (n < 126 ? 6u : n < 65536 ? 8u : 14u));
            CHECK(n == 0 || memcmp(payload, want, n) != 0 || n < 4); /* masked */
            wsframe_rx_t r;
            wsframe_rx_init(&r, msg, sizeof msg);
            wsframe_msg_t m[8];
            uint8_t c[8][200];
            int count = 0;
            CHECK(feed(&r, payload - h, n + h, step, m, c, &count) == 0);
            REQUIRE(count == 1);
            CHECK(m[0].op == WSFRAME_BINARY && m[0].len == n && !memcmp(m[0].p, want, n));
            /* the same payload in a server frame (unmasked): the header the browsers get */
            uint8_t hs[WSFRAME_MAX_HEADER];
            size_t hn = wsframe_server_header(hs, n, WSFRAME_BINARY);
            CHECK(hn == (n < 126 ? 2u : n < 65536 ? 4u : 10u));
            CHECK(hs[0] == (0x80u | WSFRAME_BINARY) && !(hs[1] & 0x80u));
            memcpy(payload, want, n);
            memcpy(payload - hn, hs, hn);
            wsframe_rx_init(&r, msg, sizeof msg);
            count = 0;
            CHECK(feed(&r, payload - hn, n + hn, step, m, c, &count) == 0);
            REQUIRE(count == 1);
            CHECK(m[0].op == WSFRAME_BINARY && m[0].len == n && !memcmp(m[0].p, want, n));
        }
}

/* An unmasked server frame of opcode op (fin or not) with n payload bytes into out. */
static size_t server_frame(uint8_t *out, unsigned op, bool fin, const void *p, size_t n)
{
    size_t h = 0;
    out[h++] = (uint8_t)((fin ? 0x80u : 0) | op);
    if (n < 126) {
        out[h++] = (uint8_t)n;
    } else {
        out[h++] = 126;
        out[h++] = (uint8_t)(n >> 8);
        out[h++] = (uint8_t)n;
    }
    memcpy(out + h, p, n);
    return h + n;
}

TEST(wsframe_fragments_around_a_ping)
{
    uint8_t s[400], msg[64];
    size_t n = 0;
    n += server_frame(s + n, WSFRAME_BINARY, false, "hello ", 6);
    n += server_frame(s + n, WSFRAME_PING, true, "pp", 2);
    n += server_frame(s + n, 0, false, "wide ", 5);
    n += server_frame(s + n, 0, true, "world", 5);
    n += server_frame(s + n, WSFRAME_TEXT, true, "t", 1);
    for (size_t step = 0; step <= 3; step++) {
        wsframe_rx_t r;
        wsframe_rx_init(&r, msg, sizeof msg);
        wsframe_msg_t m[8];
        uint8_t c[8][200];
        int count = 0;
        CHECK(feed(&r, s, n, step, m, c, &count) == 0);
        REQUIRE(count == 3);
        CHECK(m[0].op == WSFRAME_PING && m[0].len == 2 && !memcmp(c[0], "pp", 2));
        CHECK(m[1].op == WSFRAME_BINARY && m[1].len == 16 && !memcmp(c[1], "hello wide world", 16));
        CHECK(m[2].op == WSFRAME_TEXT && m[2].len == 1 && c[2][0] == 't');
    }
}

TEST(wsframe_parser_refuses_violations)
{
    static const struct {
        uint8_t b[4];
        size_t n;
        int want;
    } bad[] = {
        {{0xc2, 0x00}, 2, LP_EPROTO},             /* RSV1 without an extension */
        {{0x83, 0x00}, 2, LP_EPROTO},             /* reserved data opcode */
        {{0x8b, 0x00}, 2, LP_EPROTO},             /* reserved control opcode */
        {{0x09, 0x00}, 2, LP_EPROTO},             /* fragmented ping */
        {{0x89, 0x7e, 0x00, 0x7e}, 4, LP_EPROTO}, /* a ping of 126 bytes */
        {{0x80, 0x00}, 2, LP_EPROTO},             /* continuation of nothing */
        {{0x82, 0x7e, 0x01, 0x00}, 4, LP_ERANGE}, /* 256 bytes into a 64-byte buffer */
    };
    uint8_t msg[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wsframe_rx_t r;
        wsframe_rx_init(&r, msg, sizeof msg);
        const uint8_t *in = bad[i].b;
        size_t n = bad[i].n;
        wsframe_msg_t m;
        CHECKF(wsframe_rx_next(&r, &in, &n, &m) == bad[i].want, "case %zu", i);
    }
    /* a new message inside an unfinished one */
    uint8_t s[32];
    size_t n = server_frame(s, WSFRAME_BINARY, false, "ab", 2);
    n += server_frame(s + n, WSFRAME_BINARY, true, "cd", 2);
    wsframe_rx_t r;
    wsframe_rx_init(&r, msg, sizeof msg);
    const uint8_t *in = s;
    wsframe_msg_t m;
    CHECK(wsframe_rx_next(&r, &in, &n, &m) == LP_EPROTO);
    /* fragments that together outgrow the buffer */
    uint8_t big[200];
    memset(big, 'x', sizeof big);
    uint8_t t[600];
    size_t k = server_frame(t, WSFRAME_BINARY, false, big, 40);
    k += server_frame(t + k, 0, true, big, 40);
    wsframe_rx_init(&r, msg, sizeof msg);
    in = t;
    CHECK(wsframe_rx_next(&r, &in, &k, &m) == LP_ERANGE);
}
