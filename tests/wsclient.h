/* A minimal RFC 6455 WebSocket client for tests: a blocking socket, the HTTP upgrade, masked
 * frames out, fragmented frames in, pings answered, the close code kept. */
#ifndef LP_WSCLIENT_H
#define LP_WSCLIENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct wsc {
    int fd;
    uint8_t *buf; /* received bytes not yet parsed */
    size_t len, cap;
    int close_code; /* the server's close code (1005 when none given), 0 while open */
    char close_reason[128];
} wsc_t;

/* Connects to 127.0.0.1:port and upgrades `target` ("/ws?session=..."); rcvbuf > 0 sets
 * SO_RCVBUF first (a slow reader). Returns 0, or the HTTP status when the upgrade is refused,
 * or -1. */
int wsc_connect(wsc_t *c, int port, const char *target, int rcvbuf);
/* Sends one frame (opcode 1 text, 2 binary, 8 close), masked. Returns 0 or -1. */
int wsc_send(wsc_t *c, int opcode, const void *p, size_t n);
/* Sends raw bytes (for malformed frames). */
int wsc_send_raw(wsc_t *c, const void *p, size_t n);
/* Receives one whole message (malloc'd into *msg, length *len, opcode *op). Returns 1, 0 when
 * the server closed (close_code set), -1 on timeout or error. */
int wsc_recv(wsc_t *c, uint8_t **msg, size_t *len, int *op, int timeout_ms);
void wsc_close(wsc_t *c);

#endif
