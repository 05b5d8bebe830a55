/* The browser WebSocket messages of proto/ws.fbs as FlatBuffers, encoded and decoded by hand
 * (flatc has no C output): an encoder into a growable buffer, and a validating decoder that
 * checks every offset, vtable, string and vector and fills caller storage, never allocating. */
#ifndef LP_WSMSG_H
#define LP_WSMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The union Body's members, numbered as flatc numbers them (0 = NONE). */
typedef enum wsmsg_type {
    WSMSG_NONE = 0,
    WSMSG_SNAPSHOT = 1,
    WSMSG_DELTA = 2,
    WSMSG_STATE = 3,
    WSMSG_ERROR = 4,
    WSMSG_HELLO = 5,
    WSMSG_SUBSCRIBE = 6,
} wsmsg_type_t;

typedef enum wsmsg_op { WSMSG_ADD = 0, WSMSG_UPDATE = 1, WSMSG_REMOVE = 2 } wsmsg_op_t;

/* A string: NUL-terminated text of `len` bytes without an inner NUL. An absent string is
 * {"", 0} in decoded messages; the encoder omits strings whose p is NULL or len is 0. */
typedef struct wsmsg_str {
    const char *p;
    uint32_t len;
} wsmsg_str_t;

/* An attribute change: set `name` to `value`; with `remove`, delete it; with `splice`, replace
 * `cut` bytes of its current value from byte `at` by `value` (ASCII values only). */
typedef struct wsmsg_attr {
    wsmsg_str_t name, value;
    bool remove;
    bool splice;
    uint32_t at, cut;
} wsmsg_attr_t;

typedef struct wsmsg_item {
    wsmsg_op_t op;
    wsmsg_str_t id, parent, svg, before;
    const wsmsg_attr_t *attrs;
    uint32_t nattrs;
} wsmsg_item_t;

typedef struct wsmsg_snapshot {
    wsmsg_str_t diagram, svg;
    uint64_t seq, from_ns, to_ns;
} wsmsg_snapshot_t;

typedef struct wsmsg_delta {
    uint64_t seq, from_ns, to_ns;
    wsmsg_str_t diagram;
    const wsmsg_item_t *items;
    uint32_t nitems;
} wsmsg_delta_t;

typedef struct wsmsg_state {
    wsmsg_str_t state;
    uint64_t bytes_ingested, events, end_ns;
} wsmsg_state_t;

typedef struct wsmsg_error {
    uint16_t code;
    wsmsg_str_t message;
} wsmsg_error_t;

typedef struct wsmsg_hello {
    uint64_t last_seq;
} wsmsg_hello_t;

typedef struct wsmsg_subscribe {
    const wsmsg_str_t *diagrams;
    uint32_t ndiagrams;
    uint64_t from_ns, to_ns;
} wsmsg_subscribe_t;

/* One Message: `type` says which member of the union is set. */
typedef struct wsmsg {
    wsmsg_type_t type;
    union {
        wsmsg_snapshot_t snapshot;
        wsmsg_delta_t delta;
        wsmsg_state_t state;
        wsmsg_error_t error;
        wsmsg_hello_t hello;
        wsmsg_subscribe_t subscribe;
    } u;
} wsmsg_t;

/* ---- encoding ----------------------------------------------------------------------------- */

/* A growable output buffer (8-aligned start, as FlatBuffers needs). */
typedef struct wsmsg_buf {
    uint8_t *p;
    size_t len, cap;
} wsmsg_buf_t;

void wsmsg_buf_init(wsmsg_buf_t *b);
void wsmsg_buf_dispose(wsmsg_buf_t *b);

/* Encodes `m` (borrowed) as one finished buffer with the "LPWS" identifier, replacing what `b`
 * held (b->p, b->len). Fields equal to their schema default are left out, as flatc's builders
 * do. Returns 0, or LP_EARG for an unknown type or op, LP_ERANGE when the message would exceed
 * 2 GiB. Out of memory is fatal. Any thread (one buffer per thread). */
int wsmsg_encode(const wsmsg_t *m, wsmsg_buf_t *b);

/* ---- decoding ----------------------------------------------------------------------------- */

/* Decodes and validates buf[0, len) into `out`. Strings point into `buf` (borrowed: keep it
 * alive while `out` is used); item, attribute and string arrays are carved from `arena`
 * (`cap` bytes), so work and memory are bounded by `cap`. Returns 0; LP_EPROTO when
 * the bytes are not a valid Message (no "LPWS" identifier, offsets or vtables out of bounds or
 * misaligned, a string without its NUL or with an inner one, an unknown union member or op, no
 * body); LP_ENOMEM when `arena` is too small. Any thread. */
int wsmsg_decode(const uint8_t *buf, size_t len, wsmsg_t *out, void *arena, size_t cap);

/* The name of a union member ("Snapshot", ... "NONE" for others). */
const char *wsmsg_type_name(wsmsg_type_t t);

#endif
