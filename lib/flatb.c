/* The FlatBuffers builder and reader of lib/flatb.h. All integers little-endian. */
#include "flatb.h"

#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>

static void put(flatb_t *f, const void *p, size_t n)
{
    xgrow((void **)&f->b, &f->cap, f->len + n, 1);
    memcpy(f->b + f->len, p, n);
    f->len += n;
}

static void pad_to(flatb_t *f, size_t align, size_t extra)
{
    static const uint8_t zero[8];
    while ((f->len + extra) % align)
        put(f, zero, 1);
}

static void put_le(flatb_t *f, uint64_t v, int size)
{
    uint8_t b[8];
    for (int i = 0; i < size; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(f, b, (size_t)size);
}

static void set_le(uint8_t *p, uint64_t v, int size)
{
    for (int i = 0; i < size; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int size)
{
    uint64_t v = 0;
    for (int i = size - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

void flatb_init(flatb_t *f, const char *ident)
{
    memset(f, 0, sizeof *f);
    put_le(f, 0, 4); /* the root offset, patched by the first table */
    if (ident) put(f, ident, 4);
}

void flatb_dispose(flatb_t *f)
{
    free(f->b);
    memset(f, 0, sizeof *f);
}

void flatb_table_begin(flatb_table_t *t, int nfields)
{
    memset(t, 0, sizeof *t);
    t->nfields = nfields;
}

void flatb_scalar(flatb_table_t *t, int id, int size, uint64_t v)
{
    t->size[id] = (uint8_t)size;
    t->val[id] = v;
}

void flatb_f64(flatb_table_t *t, int id, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    flatb_scalar(t, id, 8, u);
}

void flatb_offset(flatb_table_t *t, int id)
{
    flatb_scalar(t, id, 4, 0);
}

size_t flatb_table_end(flatb_t *f, flatb_table_t *t)
{
    /* inline layout: the soffset, then fields by decreasing size (each naturally aligned, the
     * table itself aligned on 8) */
    uint16_t at[FLATB_MAX_FIELDS] = {0};
    size_t off = 4;
    for (int size = 8; size >= 1; size /= 2)
        for (int i = 0; i < t->nfields; i++)
            if (t->size[i] == size) {
                off = (off + (size_t)size - 1) / (size_t)size * (size_t)size;
                at[i] = (uint16_t)off;
                off += (size_t)size;
            }
    size_t vt_size = 4 + 2 * (size_t)t->nfields;
    pad_to(f, 2, 0);
    size_t vt = f->len;
    put_le(f, vt_size, 2);
    put_le(f, off, 2);
    for (int i = 0; i < t->nfields; i++)
        put_le(f, at[i], 2);
    pad_to(f, 8, 0);
    size_t pos = f->len;
    xgrow((void **)&f->b, &f->cap, f->len + off, 1);
    memset(f->b + pos, 0, off);
    f->len += off;
    set_le(f->b + pos, (uint64_t)(uint32_t)(int32_t)(pos - vt), 4);
    for (int i = 0; i < t->nfields; i++)
        if (t->size[i]) {
            set_le(f->b + pos + at[i], t->val[i], t->size[i]);
            t->pos[i] = pos + at[i];
        }
    if (get_le(f->b, 4) == 0) set_le(f->b, pos, 4);
    return pos;
}

size_t flatb_string(flatb_t *f, const char *s, size_t n)
{
    pad_to(f, 4, 0);
    size_t pos = f->len;
    put_le(f, n, 4);
    put(f, s, n);
    put_le(f, 0, 1);
    return pos;
}

size_t flatb_vec_scalars(flatb_t *f, const void *items, size_t n, int size)
{
    pad_to(f, size > 4 ? (size_t)size : 4, 4);
    size_t pos = f->len;
    put_le(f, n, 4);
    put(f, items, n * (size_t)size);
    return pos;
}

size_t flatb_vec_offsets(flatb_t *f, size_t n, size_t *slots)
{
    pad_to(f, 4, 0);
    size_t pos = f->len;
    put_le(f, n, 4);
    *slots = f->len;
    for (size_t i = 0; i < n; i++)
        put_le(f, 0, 4);
    return pos;
}

void flatb_patch(flatb_t *f, size_t slot, size_t target)
{
    set_le(f->b + slot, target - slot, 4);
}

/* ---- reading -------------------------------------------------------------------------------- */

static flatb_ref_t table_at(const uint8_t *b, size_t len, size_t pos)
{
    flatb_ref_t none = {b, len, 0};
    if (pos == 0 || pos % 4 || pos > len || len - pos < 4) return none;
    int32_t so = (int32_t)(uint32_t)get_le(b + pos, 4);
    int64_t vt = (int64_t)pos - so;
    if (vt < 0 || vt % 2 || (uint64_t)vt > len || len - (size_t)vt < 4) return none;
    size_t vs = (size_t)get_le(b + vt, 2), ts = (size_t)get_le(b + vt + 2, 2);
    if (vs < 4 || vs % 2 || len - (size_t)vt < vs || ts < 4 || len - pos < ts) return none;
    return (flatb_ref_t){b, len, pos};
}

flatb_ref_t flatb_root(const uint8_t *b, size_t len, const char *ident)
{
    if (len < 8 || (ident && memcmp(b + 4, ident, 4) != 0)) return (flatb_ref_t){b, len, 0};
    return table_at(b, len, (size_t)get_le(b, 4));
}

/* Position of field `id` of `size` bytes, or 0. */
static size_t field(flatb_ref_t t, int id, size_t size)
{
    if (!t.pos) return 0;
    size_t vt = t.pos - (size_t)(int64_t)(int32_t)(uint32_t)get_le(t.b + t.pos, 4);
    size_t vs = (size_t)get_le(t.b + vt, 2), ts = (size_t)get_le(t.b + vt + 2, 2);
    size_t e = 4 + 2 * (size_t)id;
    if (e + 2 > vs) return 0;
    size_t fo = (size_t)get_le(t.b + vt + e, 2);
    if (fo == 0 || fo + size > ts) return 0;
    return t.pos + fo;
}

uint64_t flatb_get_u(flatb_ref_t t, int id, int size, uint64_t dflt)
{
    size_t p = field(t, id, (size_t)size);
    return p ? get_le(t.b + p, size) : dflt;
}

double flatb_get_f64(flatb_ref_t t, int id, double dflt)
{
    size_t p = field(t, id, 8);
    if (!p) return dflt;
    uint64_t u = get_le(t.b + p, 8);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* The target of the offset at p, or 0. */
static size_t deref(flatb_ref_t t, size_t p)
{
    if (!p) return 0;
    uint64_t target = p + get_le(t.b + p, 4);
    return target + 4 <= t.len && target % 4 == 0 ? (size_t)target : 0;
}

const char *flatb_get_str(flatb_ref_t t, int id, size_t *n)
{
    size_t s = deref(t, field(t, id, 4));
    if (!s) return NULL;
    size_t k = (size_t)get_le(t.b + s, 4);
    if (k >= t.len - s - 4 || t.b[s + 4 + k] != 0) return NULL;
    *n = k;
    return (const char *)t.b + s + 4;
}

size_t flatb_get_vec(flatb_ref_t t, int id, int elem, size_t *data)
{
    size_t v = deref(t, field(t, id, 4));
    if (!v) return 0;
    size_t n = (size_t)get_le(t.b + v, 4);
    if (n > (t.len - v - 4) / (size_t)elem || (v + 4) % (size_t)(elem > 4 ? elem : 1)) return 0;
    *data = v + 4;
    return n;
}

flatb_ref_t flatb_vec_table(flatb_ref_t t, size_t data, size_t i)
{
    size_t slot = data + 4 * i;
    return table_at(t.b, t.len, deref(t, slot));
}

double flatb_vec_f64(flatb_ref_t t, size_t data, size_t i)
{
    uint64_t u = get_le(t.b + data + 8 * i, 8);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

bool flatb_has(flatb_ref_t t, int id)
{
    return field(t, id, 1) != 0;
}

flatb_ref_t flatb_get_table(flatb_ref_t t, int id)
{
    return table_at(t.b, t.len, deref(t, field(t, id, 4)));
}
