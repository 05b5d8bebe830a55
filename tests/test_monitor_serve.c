/* The monitor's link side (monitor/serve.c) in this process, spoken to over a real socket by a
 * scripted server: frames whose fields are absent (the wire format's NULL) are refused with an
 * Error or ignored, and the monitor goes on serving. In the sanitizer build of the tests this
 * runs the link code under ASan+UBSan, which the capture tests (the plain monitor binary) do
 * not. */
#include "test.h"

#include "program.h"
#include "serve.h"
#include "wire.h"
#include "wsclient.h"

#include <stdlib.h>
#include <string.h>

#define WAIT_MS 20000

static void send_wire(wsc_t *c, const wire_frame_t *f)
{
    uint8_t b[WIRE_MAX_FRAME];
    int n = wire_encode(f, b, sizeof b);
    REQUIRE(n > 0);
    REQUIRE(wsc_send(c, 2, b, (size_t)n) == 0);
}

/* The next frame of `kind`, others skipped; false when none came before the link closed. */
static bool expect(wsc_t *c, wire_kind_t kind, wire_frame_t *f, uint8_t **msg)
{
    for (;;) {
        size_t len;
        int op;
        free(*msg);
        *msg = NULL;
        if (wsc_recv(c, msg, &len, &op, WAIT_MS) != 1) return false;
        if (op == 2 && wire_decode(f, *msg, len) == 0 && f->kind == kind) return true;
    }
}

/* Connects as the server and exchanges Hellos; the monitor's program list follows. */
static void link_up(wsc_t *c, int port)
{
    REQUIRE(wsc_connect(c, port, "/monitor", 0) == 0);
    send_wire(c, &(wire_frame_t){.kind = WIRE_HELLO,
                                 .version = WIRE_VERSION,
                                 .text = wire_cstr("scripted-server")});
    wire_frame_t f;
    uint8_t *msg = NULL;
    REQUIRE(expect(c, WIRE_PROGRAMS, &f, &msg));
    CHECK(f.nprogs == 1);
    free(msg);
}

TEST(monitor_serve_absent_fields)
{
    monitor_t m;
    memset(&m, 0, sizeof m);
    pthread_mutex_init(&m.mu, NULL);
    m.backlog_cap = 1u << 20;
    static const uint8_t hdr[] = "hdrb-not-really";
    program_t *p = program_get(&m, "prog", true);
    REQUIRE(p);
    program_header(&m, p, hdr, sizeof hdr - 1);
    char err[256] = "";
    serve_t *s = serve_create(&m, "127.0.0.1", 0, NULL, 30, err, sizeof err);
    REQUIRE(s);
    int port = serve_port(s);
    REQUIRE(port > 0);

    /* An Ack without a program names none: ignored. A Subscribe without one names none either:
     * refused like an unknown program, with an Error, and the link closes. */
    wsc_t c;
    link_up(&c, port);
    send_wire(&c, &(wire_frame_t){.kind = WIRE_ACK, .offset = 5});
    send_wire(&c, &(wire_frame_t){.kind = WIRE_SUBSCRIBE, .offset = 0});
    wire_frame_t f;
    uint8_t *msg = NULL;
    REQUIRE(expect(&c, WIRE_ERROR, &f, &msg));
    CHECKF(f.text.len >= 16 && !memcmp(f.text.p, "no such program:", 16), "error: %.*s",
           (int)f.text.len, wire_str_chars(f.text));
    free(msg);
    msg = NULL;
    wsc_close(&c);
    pthread_mutex_lock(&m.mu);
    CHECK_EQ_U64(p->acked, 0);
    pthread_mutex_unlock(&m.mu);

    /* The monitor still serves: a new link subscribes and gets the program's header. */
    link_up(&c, port);
    send_wire(&c, &(wire_frame_t){.kind = WIRE_SUBSCRIBE, .program = wire_cstr("prog")});
    REQUIRE(expect(&c, WIRE_HEADER, &f, &msg));
    CHECK(f.data.len == sizeof hdr - 1 && !memcmp(f.data.p, hdr, f.data.len));
    free(msg);
    wsc_close(&c);

    serve_destroy(s);
    program_free_all(&m);
    pthread_mutex_destroy(&m.mu);
}
