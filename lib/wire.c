/* The wire frame codec: the encoder lays a FlatBuffers `Frame` out front to back (root offset,
 * identifier, vtable, table, then strings and vectors, all aligned as flatc's verifier wants);
 * the decoder accepts any valid FlatBuffers layout, bounds-checking every read. */
#include "wire.h"

#include "err.h"

#include <string.h>

#define FRAME_SLOTS 12
#define PROG_SLOTS 5
#define FRAME_TBL 64
#define PROG_TBL 32

static const char *const kind_names[WIRE_KIND_COUNT] = {
    "hello", "programs", "subscribe", "header", "state", "data",
    "gap",   "ack",      "heartbeat", "bye",    "error",
};

const char *wire_kind_name(int kind)
{
    return kind >= 0 && kind < WIRE_KIND_COUNT ? kind_names[kind] : "?";
}

wire_str_t wire_cstr(const char *s)
{
    wire_str_t r = {0};
    if (s) {
        r.p = (const uint8_t *)s;
        r.len = (uint32_t)strlen(s);
    }
    return r;
}

bool wire_token_equal(wire_str_t a, const char *b)
{
    size_t bl = b ? strlen(b) : 0;
    unsigned diff = a.len != bl;
    for (size_t i = 0; i < a.len; i++)
        diff |= (unsigned)(a.p[i] ^ (uint8_t)(i < bl ? b[i] : 0));
    return diff == 0;
}

/* ---- little-endian access ---------------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---- encoder ----------------------------------------------------------------------------- */

typedef struct enc {
    uint8_t *out;
    size_t cap, pos;
    bool over;
} enc_t;

/* Reserves n bytes aligned to `align` (zeroed); returns their position. */
static size_t enc_take(enc_t *e, size_t n, size_t align)
{
    size_t at = (e->pos + align - 1) & ~(align - 1);
    if (at + n > e->cap) {
        e->over = true;
        return 0;
    }
    memset(e->out + e->pos, 0, at + n - e->pos);
    e->pos = at + n;
    return at;
}

/* Writes a string or byte vector and points the uoffset at `field` to it. */
static void enc_bytes(enc_t *e, size_t field, wire_str_t s, bool nul)
{
    if (!s.p && !nul) return;
    size_t at = enc_take(e, 4 + (size_t)s.len + (nul ? 1 : 0), 4);
    if (e->over) return;
    put32(e->out + at, s.len);
    if (s.len) memcpy(e->out + at + 4, s.p, s.len);
    put32(e->out + field, (uint32_t)(at - field));
}

static void enc_string(enc_t *e, size_t field, wire_str_t s)
{
    if (s.p) enc_bytes(e, field, s, true);
}

static int enc_program(enc_t *e, size_t slot, const wire_program_t *p)
{
    if (p->id.len > WIRE_MAX_PROGRAM || p->name.len > WIRE_MAX_TEXT) return LP_ERANGE;
    size_t vt = enc_take(e, 4 + 2 * PROG_SLOTS, 2);
    size_t t = enc_take(e, PROG_TBL, 8);
    if (e->over) return LP_ERANGE;
    uint8_t *v = e->out + vt;
    put16(v, 4 + 2 * PROG_SLOTS);
    put16(v + 2, PROG_TBL);
    put16(v + 4, p->id.p ? 4 : 0);
    put16(v + 6, 8);
    put16(v + 8, p->name.p ? 16 : 0);
    put16(v + 10, 20);
    put16(v + 12, 24);
    put32(e->out + t, (uint32_t)(t - vt));
    put64(e->out + t + 8, p->bytes);
    put32(e->out + t + 20, p->pid);
    e->out[t + 24] = p->ended ? 1 : 0;
    put32(e->out + slot, (uint32_t)(t - slot));
    enc_string(e, t + 4, p->id);
    enc_string(e, t + 16, p->name);
    return e->over ? LP_ERANGE : 0;
}

int wire_encode(const wire_frame_t *f, uint8_t *out, size_t cap)
{
    if ((unsigned)f->kind >= WIRE_KIND_COUNT) return LP_EARG;
    if (f->program.len > WIRE_MAX_PROGRAM || f->token.len > WIRE_MAX_TEXT ||
        f->text.len > WIRE_MAX_TEXT || f->data.len > WIRE_MAX_DATA)
        return LP_ERANGE;
    enc_t e = {out, cap < WIRE_MAX_FRAME ? cap : WIRE_MAX_FRAME, 0, false};
    size_t root = enc_take(&e, 8, 8);
    size_t vt = enc_take(&e, 4 + 2 * FRAME_SLOTS, 2);
    size_t t = enc_take(&e, FRAME_TBL, 8);
    if (e.over) return LP_ERANGE;
    put32(out + root, (uint32_t)t);
    memcpy(out + root + 4, "LPWF", 4);
    /* slot order of proto/wire.fbs; offsets within the table */
    static const uint16_t at[FRAME_SLOTS] = {62, 60, 4, 8, 16, 24, 40, 44, 48, 52, 56, 32};
    uint8_t *v = out + vt;
    put16(v, 4 + 2 * FRAME_SLOTS);
    put16(v + 2, FRAME_TBL);
    for (int i = 0; i < FRAME_SLOTS; i++)
        put16(v + 4 + 2 * i, at[i]);
    if (!f->program.p) put16(v + 4 + 2 * 2, 0);
    if (!f->data.p) put16(v + 4 + 2 * 7, 0);
    if (!f->token.p) put16(v + 4 + 2 * 8, 0);
    if (!f->text.p) put16(v + 4 + 2 * 9, 0);
    if (!f->progs && !f->nprogs) put16(v + 4 + 2 * 10, 0);
    put32(out + t, (uint32_t)(t - vt));
    put64(out + t + 8, f->seq);
    put64(out + t + 16, f->offset);
    put64(out + t + 24, f->length);
    put64(out + t + 32, f->time_ns);
    put32(out + t + 40, f->flags);
    put16(out + t + 60, f->version);
    out[t + 62] = (uint8_t)f->kind;
    enc_string(&e, t + 4, f->program);
    if (f->data.p) enc_bytes(&e, t + 44, f->data, false);
    enc_string(&e, t + 48, f->token);
    enc_string(&e, t + 52, f->text);
    if (f->progs || f->nprogs) {
        size_t vec = enc_take(&e, 4 + 4 * (size_t)f->nprogs, 4);
        if (e.over) return LP_ERANGE;
        put32(out + vec, f->nprogs);
        put32(out + t + 56, (uint32_t)(vec - (t + 56)));
        for (uint32_t i = 0; i < f->nprogs; i++) {
            wire_program_t p;
            int rc = wire_program_at(f, i, &p);
            if (rc == 0) rc = enc_program(&e, vec + 4 + 4 * (size_t)i, &p);
            if (rc < 0) return rc;
        }
    }
    return e.over ? LP_ERANGE : (int)e.pos;
}

int wire_encode_head(const wire_frame_t *f, uint8_t *out, size_t cap)
{
    if (!f->data.p || f->token.p || f->text.p || f->progs || f->nprogs) return LP_EARG;
    if (f->data.len > WIRE_MAX_DATA) return LP_ERANGE;
    wire_frame_t h = *f;
    h.data.len = 0; /* the same layout, the vector's bytes left out */
    int n = wire_encode(&h, out, cap);
    if (n < 0) return n;
    if ((size_t)n + f->data.len > WIRE_MAX_FRAME) return LP_ERANGE;
    put32(out + n - 4, f->data.len); /* the data vector's length ends the head */
    return n;
}

/* ---- decoder ----------------------------------------------------------------------------- */

typedef struct tbl {
    uint32_t t, vt;
    uint16_t vtsize, tblsize;
} tbl_t;

static int tbl_open(const uint8_t *b, size_t n, uint64_t t, tbl_t *o)
{
    if (t % 4 || t + 4 > n) return LP_EPROTO;
    int64_t vt = (int64_t)t - (int32_t)get32(b + t);
    if (vt < 0 || vt % 2 || (uint64_t)vt + 4 > n) return LP_EPROTO;
    o->t = (uint32_t)t;
    o->vt = (uint32_t)vt;
    o->vtsize = get16(b + vt);
    o->tblsize = get16(b + vt + 2);
    if (o->vtsize < 4 || o->vtsize % 2 || (uint64_t)vt + o->vtsize > n) return LP_EPROTO;
    if (o->tblsize < 4 || t + o->tblsize > n) return LP_EPROTO;
    return 0;
}

/* Position of field `slot` (size bytes, aligned), 0 when absent, -1 when malformed. */
static int64_t tbl_field(const uint8_t *b, const tbl_t *x, int slot, uint32_t size)
{
    uint32_t vo = 4 + 2 * (uint32_t)slot;
    if (vo + 2 > x->vtsize) return 0;
    uint16_t off = get16(b + x->vt + vo);
    if (!off) return 0;
    if ((uint32_t)off + size > x->tblsize || (x->t + off) % size) return -1;
    return x->t + off;
}

static int rd_u64(const uint8_t *b, const tbl_t *x, int slot, uint64_t *v)
{
    int64_t p = tbl_field(b, x, slot, 8);
    if (p < 0) return LP_EPROTO;
    *v = p ? get64(b + p) : 0;
    return 0;
}

static int rd_u32(const uint8_t *b, const tbl_t *x, int slot, uint32_t *v)
{
    int64_t p = tbl_field(b, x, slot, 4);
    if (p < 0) return LP_EPROTO;
    *v = p ? get32(b + p) : 0;
    return 0;
}

/* Follows the uoffset in field `slot` to a vector of n elements of `elem` bytes (a string
 * when `nul`); *at gets the vector's position (0 when absent). */
static int rd_vec(const uint8_t *b, size_t n, const tbl_t *x, int slot, uint32_t elem, bool nul,
                  uint32_t *at, uint32_t *count)
{
    *at = 0;
    *count = 0;
    int64_t p = tbl_field(b, x, slot, 4);
    if (p < 0) return LP_EPROTO;
    if (!p) return 0;
    uint64_t v = (uint64_t)p + get32(b + p);
    if (v % 4 || v + 4 > n) return LP_EPROTO;
    uint64_t len = get32(b + v);
    if (v + 4 + len * elem + (nul ? 1 : 0) > n) return LP_EPROTO;
    if (nul && b[v + 4 + len] != 0) return LP_EPROTO;
    *at = (uint32_t)v;
    *count = (uint32_t)len;
    return 0;
}

static int rd_str(const uint8_t *b, size_t n, const tbl_t *x, int slot, uint32_t max, wire_str_t *s)
{
    uint32_t at, len;
    int rc = rd_vec(b, n, x, slot, 1, true, &at, &len);
    if (rc < 0 || len > max) return LP_EPROTO;
    s->p = at ? b + at + 4 : NULL;
    s->len = len;
    return 0;
}

static int program_read(const uint8_t *b, size_t n, uint64_t t, wire_program_t *o)
{
    tbl_t x;
    uint32_t pid = 0;
    memset(o, 0, sizeof *o);
    if (tbl_open(b, n, t, &x) < 0 || rd_str(b, n, &x, 0, WIRE_MAX_PROGRAM, &o->id) < 0 ||
        rd_u64(b, &x, 1, &o->bytes) < 0 || rd_str(b, n, &x, 2, WIRE_MAX_TEXT, &o->name) < 0 ||
        rd_u32(b, &x, 3, &pid) < 0)
        return LP_EPROTO;
    o->pid = pid;
    int64_t e = tbl_field(b, &x, 4, 1);
    if (e < 0) return LP_EPROTO;
    o->ended = e && b[e];
    return 0;
}

int wire_decode(wire_frame_t *f, const uint8_t *b, size_t n)
{
    memset(f, 0, sizeof *f);
    if (n < 8 || n > WIRE_MAX_FRAME || memcmp(b + 4, "LPWF", 4) != 0) return LP_EPROTO;
    tbl_t x;
    if (tbl_open(b, n, get32(b), &x) < 0) return LP_EPROTO;
    int64_t k = tbl_field(b, &x, 0, 1), v = tbl_field(b, &x, 1, 2);
    if (k < 0 || v < 0) return LP_EPROTO;
    f->kind = (wire_kind_t)(k ? b[k] : 0);
    if ((unsigned)f->kind >= WIRE_KIND_COUNT) return LP_EPROTO;
    f->version = v ? get16(b + v) : 0;
    uint32_t at, len;
    if (rd_str(b, n, &x, 2, WIRE_MAX_PROGRAM, &f->program) < 0 || rd_u64(b, &x, 3, &f->seq) < 0 ||
        rd_u64(b, &x, 4, &f->offset) < 0 || rd_u64(b, &x, 5, &f->length) < 0 ||
        rd_u32(b, &x, 6, &f->flags) < 0 || rd_vec(b, n, &x, 7, 1, false, &at, &len) < 0 ||
        rd_str(b, n, &x, 8, WIRE_MAX_TEXT, &f->token) < 0 ||
        rd_str(b, n, &x, 9, WIRE_MAX_TEXT, &f->text) < 0 || rd_u64(b, &x, 11, &f->time_ns) < 0)
        return LP_EPROTO;
    if (len > WIRE_MAX_DATA) return LP_EPROTO; /* the encoder's limit: a frame it never makes */
    f->data.p = at ? b + at + 4 : NULL;
    f->data.len = len;
    if (rd_vec(b, n, &x, 10, 4, false, &at, &len) < 0) return LP_EPROTO;
    f->buf_ = b;
    f->buf_len_ = n;
    f->progs_at_ = at;
    f->nprogs = len;
    for (uint32_t i = 0; i < len; i++) {
        wire_program_t p;
        uint64_t slot = (uint64_t)at + 4 + 4 * (uint64_t)i;
        if (program_read(b, n, slot + get32(b + slot), &p) < 0) return LP_EPROTO;
    }
    return 0;
}

int wire_program_at(const wire_frame_t *f, uint32_t i, wire_program_t *out)
{
    if (i >= f->nprogs) return LP_ERANGE;
    if (f->progs) {
        *out = f->progs[i];
        return 0;
    }
    uint64_t slot = (uint64_t)f->progs_at_ + 4 + 4 * (uint64_t)i;
    return program_read(f->buf_, f->buf_len_, slot + get32(f->buf_ + slot), out) < 0 ? LP_EPROTO
                                                                                     : 0;
}
