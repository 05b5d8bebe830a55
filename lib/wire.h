/* Wire frames (proto/wire.fbs): a hand-written FlatBuffers encoder and a validating decoder
 * for the frames between leech, monitor and server. The decoder checks every offset, size and
 * alignment against the buffer, borrows the buffer for its results and never allocates. */
#ifndef LP_WIRE_H
#define LP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define WIRE_VERSION 1
#define WIRE_MAX_FRAME 65536u    /* bytes of one encoded frame */
#define WIRE_MAX_DATA 64512u     /* data bytes one frame may carry */
#define WIRE_MAX_PROGRAM 128u    /* bytes of a program id */
#define WIRE_MAX_TEXT 1024u      /* bytes of a token or a text */
#define WIRE_FLAG_BLOCK_START 1u /* Data: the bytes start an RTS buffer (a unit) */
#define WIRE_FLAG_BLOCK_END 2u   /* Data: the bytes end it: the receiver may commit the unit */

typedef enum wire_kind {
    WIRE_HELLO = 0,
    WIRE_PROGRAMS = 1,
    WIRE_SUBSCRIBE = 2,
    WIRE_HEADER = 3,
    WIRE_STATE = 4,
    WIRE_DATA = 5,
    WIRE_GAP = 6,
    WIRE_ACK = 7,
    WIRE_HEARTBEAT = 8,
    WIRE_BYE = 9,
    WIRE_ERROR = 10,
} wire_kind_t;
#define WIRE_KIND_COUNT 11

/* A byte string: borrowed, not NUL-terminated (NULL/0 = absent). */
typedef struct wire_str {
    const uint8_t *p;
    uint32_t len;
} wire_str_t;

/* The bytes of s for "%.*s" (never NULL, which printf's %s may not be given). Any thread. */
static inline const char *wire_str_chars(wire_str_t s)
{
    return s.p ? (const char *)s.p : "";
}

/* Copies s's len bytes to dst (room for them borrowed); an absent s (p NULL) copies nothing, as
 * memcpy may not be given NULL even for 0 bytes. Any thread. */
static inline void wire_str_copy(void *dst, wire_str_t s)
{
    if (s.len) memcpy(dst, s.p, s.len);
}

typedef struct wire_program {
    wire_str_t id, name;
    uint64_t bytes;
    uint32_t pid;
    bool ended;
} wire_program_t;

/* One frame. For encoding, fill the fields (absent strings/vectors NULL) and point `progs` at
 * `nprogs` programs. A decoded frame borrows the buffer; read its programs with
 * wire_program_at (`progs` is NULL then). */
typedef struct wire_frame {
    wire_kind_t kind;
    uint16_t version;
    wire_str_t program;
    uint64_t seq, offset, length, time_ns;
    uint32_t flags;
    wire_str_t data;
    wire_str_t token, text;
    const wire_program_t *progs;
    uint32_t nprogs;
    /* decoder only: where the programs vector lies in the buffer */
    const uint8_t *buf_;
    size_t buf_len_;
    uint32_t progs_at_;
} wire_frame_t;

/* Encodes `f` into out (cap bytes). Returns the frame's length, or LP_ERANGE when it would
 * exceed cap or WIRE_MAX_FRAME or a field its limit, or LP_EARG for an unknown kind. Pure;
 * any thread. */
int wire_encode(const wire_frame_t *f, uint8_t *out, size_t cap);
/* Encodes everything of `f` that comes before its data bytes, when the data are the last thing
 * in the frame (f->data set; no token, text or programs): the frame is then the returned head
 * followed by f->data.len bytes, as wire_encode would lay them out, so a sender can pass the
 * bytes from where they are (writev) instead of copying them. Returns the head's length,
 * LP_EARG when f has a field after the data, or what wire_encode returns. Pure; any thread. */
int wire_encode_head(const wire_frame_t *f, uint8_t *out, size_t cap);
/* Decodes and validates the frame in buf (len bytes, borrowed by *f afterwards). Returns 0,
 * or LP_EPROTO when it is not a well-formed frame (identifier, offsets, sizes, alignment,
 * strings, limits, unknown kind). Never allocates; any thread. */
int wire_decode(wire_frame_t *f, const uint8_t *buf, size_t len);
/* The i-th program (0 <= i < nprogs) of a decoded or encodable frame. Returns 0 or LP_ERANGE. */
int wire_program_at(const wire_frame_t *f, uint32_t i, wire_program_t *out);
/* The kind's name ("hello", ...), or "?" when unknown. */
const char *wire_kind_name(int kind);
/* Compares two tokens in time independent of where they differ. True when equal. */
bool wire_token_equal(wire_str_t a, const char *b);
/* A wire_str_t over a NUL-terminated string (NULL gives an absent string). */
wire_str_t wire_cstr(const char *s);

#endif
