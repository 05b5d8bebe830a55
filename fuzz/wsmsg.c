/* Fuzz target: the browser WebSocket message decoder (lib/wsmsg.c). Properties: no crash; a
 * decoded message has a known type, NUL-terminated strings of their stated length without an
 * inner NUL, and arrays inside the arena; re-encoding it and decoding that gives the same message
 * (decode(encode(decode(x))) = decode(x)); a too small arena is LP_ENOMEM, never a crash. */
#include "err.h"
#include "wsmsg.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA (1u << 20)

static _Alignas(16) uint8_t arena1[ARENA], arena2[ARENA];
static wsmsg_buf_t enc;

static void fail(const char *what)
{
    fprintf(stderr, "wsmsg property violated: %s\n", what);
    abort();
}

static void check_str(wsmsg_str_t s)
{
    if (!s.p) fail("string without text");
    if (s.p[s.len] != 0) fail("string not NUL-terminated at its length");
    if (memchr(s.p, 0, s.len)) fail("string with an inner NUL");
}

static bool str_eq(wsmsg_str_t a, wsmsg_str_t b)
{
    return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

static bool item_eq(const wsmsg_item_t *a, const wsmsg_item_t *b)
{
    if (a->op != b->op || !str_eq(a->id, b->id) || !str_eq(a->parent, b->parent) ||
        !str_eq(a->svg, b->svg) || !str_eq(a->before, b->before) || a->nattrs != b->nattrs)
        return false;
    for (uint32_t i = 0; i < a->nattrs; i++)
        if (!str_eq(a->attrs[i].name, b->attrs[i].name) ||
            !str_eq(a->attrs[i].value, b->attrs[i].value) ||
            a->attrs[i].remove != b->attrs[i].remove || a->attrs[i].splice != b->attrs[i].splice ||
            a->attrs[i].at != b->attrs[i].at || a->attrs[i].cut != b->attrs[i].cut)
            return false;
    return true;
}

/* Checks the strings of a decoded message. */
static void check_msg(const wsmsg_t *m)
{
    switch (m->type) {
    case WSMSG_SNAPSHOT:
        check_str(m->u.snapshot.diagram);
        check_str(m->u.snapshot.svg);
        break;
    case WSMSG_DELTA:
        check_str(m->u.delta.diagram);
        for (uint32_t i = 0; i < m->u.delta.nitems; i++) {
            const wsmsg_item_t *it = &m->u.delta.items[i];
            if (it->op != WSMSG_ADD && it->op != WSMSG_UPDATE && it->op != WSMSG_REMOVE)
                fail("unknown op");
            check_str(it->id);
            check_str(it->parent);
            check_str(it->svg);
            check_str(it->before);
            for (uint32_t k = 0; k < it->nattrs; k++) {
                check_str(it->attrs[k].name);
                check_str(it->attrs[k].value);
            }
        }
        break;
    case WSMSG_STATE:
        check_str(m->u.state.state);
        break;
    case WSMSG_ERROR:
        check_str(m->u.error.message);
        break;
    case WSMSG_HELLO:
        break;
    case WSMSG_SUBSCRIBE:
        for (uint32_t i = 0; i < m->u.subscribe.ndiagrams; i++)
            check_str(m->u.subscribe.diagrams[i]);
        break;
    default:
        fail("decoded an unknown type");
    }
}

static bool msg_eq(const wsmsg_t *a, const wsmsg_t *b)
{
    if (a->type != b->type) return false;
    switch (a->type) {
    case WSMSG_SNAPSHOT: {
        const wsmsg_snapshot_t *x = &a->u.snapshot, *y = &b->u.snapshot;
        return str_eq(x->diagram, y->diagram) && str_eq(x->svg, y->svg) && x->seq == y->seq &&
               x->from_ns == y->from_ns && x->to_ns == y->to_ns;
    }
    case WSMSG_DELTA: {
        const wsmsg_delta_t *x = &a->u.delta, *y = &b->u.delta;
        if (x->seq != y->seq || x->from_ns != y->from_ns || x->to_ns != y->to_ns ||
            !str_eq(x->diagram, y->diagram) || x->nitems != y->nitems)
            return false;
        for (uint32_t i = 0; i < x->nitems; i++)
            if (!item_eq(&x->items[i], &y->items[i])) return false;
        return true;
    }
    case WSMSG_STATE: {
        const wsmsg_state_t *x = &a->u.state, *y = &b->u.state;
        return str_eq(x->state, y->state) && x->bytes_ingested == y->bytes_ingested &&
               x->events == y->events && x->end_ns == y->end_ns;
    }
    case WSMSG_ERROR:
        return a->u.error.code == b->u.error.code && str_eq(a->u.error.message, b->u.error.message);
    case WSMSG_HELLO:
        return a->u.hello.last_seq == b->u.hello.last_seq;
    case WSMSG_SUBSCRIBE: {
        const wsmsg_subscribe_t *x = &a->u.subscribe, *y = &b->u.subscribe;
        if (x->from_ns != y->from_ns || x->to_ns != y->to_ns || x->ndiagrams != y->ndiagrams)
            return false;
        for (uint32_t i = 0; i < x->ndiagrams; i++)
            if (!str_eq(x->diagrams[i], y->diagrams[i])) return false;
        return true;
    }
    default:
        return false;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* FlatBuffers are read from an 8-aligned start, as the server's receive buffer is */
    static _Alignas(16) uint8_t in[1 << 17];
    if (size > sizeof in) return 0;
    memcpy(in, data, size);
    wsmsg_t m, back;
    int rc = wsmsg_decode(in, size, &m, arena1, sizeof arena1);
    if (rc == LP_EPROTO) return 0;
    if (rc != 0) fail("decode returned an undocumented code");
    check_msg(&m);
    /* a tiny arena: only LP_ENOMEM or the same message */
    static _Alignas(16) uint8_t small[64];
    rc = wsmsg_decode(in, size, &back, small, sizeof small);
    if (rc == 0 ? !msg_eq(&m, &back) : rc != LP_ENOMEM) fail("small arena");
    rc = wsmsg_encode(&m, &enc);
    if (rc == LP_ERANGE) return 0;
    if (rc != 0) fail("a decoded message does not encode");
    if (wsmsg_decode(enc.p, enc.len, &back, arena2, sizeof arena2) != 0)
        fail("an encoded message does not decode");
    if (!msg_eq(&m, &back)) fail("decode(encode(m)) differs from m");
    return 0;
}
