/* Fuzz target: the wire frame decoder (lib/wire.c) that leech, monitor and server run on every
 * frame from the network. Properties: no crash; a decoded frame has a known kind, honours every
 * limit the encoder enforces (program, token, text, data), and its strings and programs lie
 * inside the buffer; re-encoding it and decoding that gives the same frame
 * (decode(encode(decode(x))) = decode(x)); the token compare agrees with memcmp. */
#include "err.h"
#include "wire.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROGS (WIRE_MAX_FRAME / 4)

static wire_program_t progs[MAX_PROGS], progs2[MAX_PROGS];

static void fail(const char *what)
{
    fprintf(stderr, "wire property violated: %s\n", what);
    abort();
}

static bool str_eq(wire_str_t a, wire_str_t b)
{
    if (!a.p != !b.p || a.len != b.len) return false;
    return !a.len || memcmp(a.p, b.p, a.len) == 0;
}

static void check_in(wire_str_t s, const uint8_t *b, size_t n, uint32_t max, const char *what)
{
    if (!s.p) {
        if (s.len) fail(what);
        return;
    }
    if (s.p < b || s.p + s.len > b + n || s.len > max) fail(what);
}

/* Reads every program of f into out; aborts when one that decode accepted does not read. */
static void read_programs(const wire_frame_t *f, wire_program_t *out, const uint8_t *b, size_t n)
{
    if (f->nprogs > MAX_PROGS) fail("more programs than a frame can hold");
    for (uint32_t i = 0; i < f->nprogs; i++) {
        if (wire_program_at(f, i, &out[i]) != 0) fail("a program of a decoded frame");
        check_in(out[i].id, b, n, WIRE_MAX_PROGRAM, "program id");
        check_in(out[i].name, b, n, WIRE_MAX_TEXT, "program name");
    }
    wire_program_t p;
    if (wire_program_at(f, f->nprogs, &p) != LP_ERANGE) fail("program past the end");
}

static bool frame_eq(const wire_frame_t *a, const wire_frame_t *b)
{
    if (a->kind != b->kind || a->version != b->version || !str_eq(a->program, b->program) ||
        a->seq != b->seq || a->offset != b->offset || a->length != b->length ||
        a->time_ns != b->time_ns || a->flags != b->flags || !str_eq(a->data, b->data) ||
        !str_eq(a->token, b->token) || !str_eq(a->text, b->text) || a->nprogs != b->nprogs)
        return false;
    for (uint32_t i = 0; i < a->nprogs; i++) {
        const wire_program_t *x = &progs[i], *y = &progs2[i];
        if (!str_eq(x->id, y->id) || !str_eq(x->name, y->name) || x->bytes != y->bytes ||
            x->pid != y->pid || x->ended != y->ended)
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* frames are decoded from an aligned receive buffer */
    static _Alignas(16) uint8_t in[WIRE_MAX_FRAME + 64], out[WIRE_MAX_FRAME];
    if (size > sizeof in) return 0;
    memcpy(in, data, size);
    wire_frame_t f, g;
    int rc = wire_decode(&f, in, size);
    if (rc == LP_EPROTO) return 0;
    if (rc != 0) fail("decode returned an undocumented code");
    if ((unsigned)f.kind >= WIRE_KIND_COUNT) fail("unknown kind");
    check_in(f.program, in, size, WIRE_MAX_PROGRAM, "program");
    check_in(f.data, in, size, WIRE_MAX_DATA, "data");
    check_in(f.token, in, size, WIRE_MAX_TEXT, "token");
    check_in(f.text, in, size, WIRE_MAX_TEXT, "text");
    read_programs(&f, progs, in, size);
    /* the constant-time compare agrees with the plain one (tokens with an inner NUL never match
     * a C string that stops there) */
    if (f.token.p) {
        char tok[WIRE_MAX_TEXT + 1];
        memcpy(tok, f.token.p, f.token.len);
        tok[f.token.len] = 0;
        bool eq = strlen(tok) == f.token.len;
        if (wire_token_equal(f.token, tok) != eq) fail("token compare");
    }
    /* round trip: the encoder takes the programs from an array */
    f.progs = progs;
    int n = wire_encode(&f, out, sizeof out);
    if (n == LP_ERANGE) return 0; /* shared strings in the input may grow past a frame */
    if (n < 0) fail("a decoded frame does not encode");
    if (wire_decode(&g, out, (size_t)n) != 0) fail("an encoded frame does not decode");
    read_programs(&g, progs2, out, (size_t)n);
    f.progs = NULL;
    if (!frame_eq(&f, &g)) fail("decode(encode(f)) differs from f");
    return 0;
}
