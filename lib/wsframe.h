/* WebSocket framing (RFC 6455) that the WebSocket library would do a byte at a time: a client's
 * frames (header, masking a machine word at a time), the opening handshake's request and its
 * accept check, and a parser that takes payload in bulk. Functions on caller memory, pure but
 * for the key wsframe_client_random draws; any thread; nothing allocates. */
#ifndef LP_WSFRAME_H
#define LP_WSFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WSFRAME_MAX_HEADER 14u /* 2 + 8 bytes of length + 4 of mask key */
#define WSFRAME_TEXT 0x1u
#define WSFRAME_BINARY 0x2u
#define WSFRAME_CLOSE 0x8u
#define WSFRAME_PING 0x9u
#define WSFRAME_PONG 0xau
#define WSFRAME_MAX_CONTROL 125u
#define WSFRAME_KEY_LEN 24u        /* a Sec-WebSocket-Key: 16 random bytes in base64 */
#define WSFRAME_RESPONSE_MAX 4096u /* bytes of a response head: longer is not an upgrade */

/* XORs the n bytes at p with the 4-byte key, starting at key byte `phase` (0..3): both masking
 * and unmasking. Returns the phase after the last byte. */
unsigned wsframe_mask(uint8_t *p, size_t n, const uint8_t key[4], unsigned phase);

/* Makes a whole final client frame of `opcode` around the len payload bytes at payload: writes
 * its header (with the mask key) into the WSFRAME_MAX_HEADER bytes before payload, which the
 * caller provides, and masks the payload in place. Returns the header's length: the frame
 * starts that many bytes before payload. */
size_t wsframe_client(uint8_t *payload, size_t len, unsigned opcode, const uint8_t key[4]);
/* Writes the header of a final server frame (unmasked) of `opcode` carrying len bytes into h,
 * which has WSFRAME_MAX_HEADER bytes; returns its length (the payload follows it). */
size_t wsframe_server_header(uint8_t *h, size_t len, unsigned opcode);
/* wsframe_client with a fresh random key (getrandom, as RFC 6455 asks of a client). Returns the
 * header's length, or LP_EIO when the kernel gives no random bytes (nothing is written then). */
int wsframe_client_random(uint8_t *payload, size_t len, unsigned opcode);

/* The parser of what a server sends: data messages (fragments joined) into the caller's buffer,
 * control frames into its own. */
typedef struct wsframe_rx {
    uint8_t h[WSFRAME_MAX_HEADER]; /* the current frame's header, while it is incomplete */
    unsigned hn;                   /* header bytes held */
    bool in_payload;               /* the header is whole: `left` payload bytes follow */
    uint64_t left;
    unsigned op;     /* the current frame's opcode */
    bool fin;        /* ... and whether it ends its message */
    bool masked;     /* ... masked (a server must not, but a peer may) */
    uint8_t key[4];  /* ... with this key */
    unsigned phase;  /* key byte of the next payload byte */
    unsigned msg_op; /* the data message being gathered (0: none) */
    uint8_t *msg;    /* caller's buffer for data messages ... */
    size_t len, cap; /* ... its bytes held and its size: the largest message taken */
    bool msg_done;   /* a data message was handed out: start afresh on the next call */
    uint8_t ctl[WSFRAME_MAX_CONTROL];
    size_t ctl_len;
} wsframe_rx_t;

/* One whole message: opcode (text, binary, close, ping or pong) and payload, borrowed from the
 * parser until the next call. */
typedef struct wsframe_msg {
    unsigned op;
    const uint8_t *p;
    size_t len;
} wsframe_msg_t;

/* Readies r to gather data messages of up to cap bytes into buf (borrowed). */
void wsframe_rx_init(wsframe_rx_t *r, uint8_t *buf, size_t cap);

/* Takes bytes from *in (advancing *in and decreasing *n) until a whole message is there.
 * Returns 1 with *m set, 0 when the bytes are used up without one, or LP_EPROTO on a violation
 * (reserved bits or opcodes, a control frame fragmented or over 125 bytes, a continuation with
 * no message, a new message inside one) or LP_ERANGE for a message over the buffer's size; after
 * an error the stream is unusable. */
int wsframe_rx_next(wsframe_rx_t *r, const uint8_t **in, size_t *n, wsframe_msg_t *m);

/* Writes the opening handshake's request for ws://host:port/path with the given key and
 * subprotocol into out (cap bytes, NUL-terminated). Returns its length, or LP_ERANGE when it does
 * not fit. */
int wsframe_request(char *out, size_t cap, const char *host, int port, const char *path,
                    const char key[WSFRAME_KEY_LEN + 1], const char *protocol);

/* Looks for the end of the server's response headers in the n bytes at p. Returns the
 * response's length (through the blank line), 0 when more bytes are needed, or LP_EPROTO when
 * it is not a 101 upgrade whose Sec-WebSocket-Accept answers key. */
int wsframe_response(const uint8_t *p, size_t n, const char key[WSFRAME_KEY_LEN + 1]);

/* Encodes 16 random bytes as a Sec-WebSocket-Key into key (NUL-terminated). */
void wsframe_key(const uint8_t random[16], char key[WSFRAME_KEY_LEN + 1]);

#endif
