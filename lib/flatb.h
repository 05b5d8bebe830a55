/* A small FlatBuffers builder and bounds-checked reader for the project's fixed schemas
 * (flatc has no C output): tables are written front to back — each table's vtable right before
 * it, children after their parent, so every offset points forward as the format requires — and
 * read with every offset, length and alignment checked, so bad input yields "absent", never a
 * read outside the buffer. Tests check the output with flatc's own C++ verifier. */
#ifndef LP_FLATB_H
#define LP_FLATB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLATB_MAX_FIELDS 24

/* A buffer being built. */
typedef struct flatb {
    uint8_t *b;
    size_t len, cap;
} flatb_t;

/* One table being built: add fields, then flatb_table_end writes it. */
typedef struct flatb_table {
    int nfields;
    uint8_t size[FLATB_MAX_FIELDS]; /* 0: absent */
    uint64_t val[FLATB_MAX_FIELDS];
    size_t pos[FLATB_MAX_FIELDS]; /* after end: where each field went */
} flatb_table_t;

/* Starts a buffer whose root table comes next, with a 4-character file identifier (or NULL). */
void flatb_init(flatb_t *f, const char *ident);
void flatb_dispose(flatb_t *f);
/* Table fields: scalars of 1, 2, 4 or 8 bytes (doubles through flatb_f64), and offsets (strings,
 * vectors, tables) whose target is written later and patched in with flatb_patch. */
void flatb_table_begin(flatb_table_t *t, int nfields);
void flatb_scalar(flatb_table_t *t, int id, int size, uint64_t v);
void flatb_f64(flatb_table_t *t, int id, double v);
void flatb_offset(flatb_table_t *t, int id);
/* Writes the table (vtable first); returns the table's position. The root table's position is
 * patched into the buffer's first word when it is the first table. */
size_t flatb_table_end(flatb_t *f, flatb_table_t *t);
/* Writes a string / a vector of n scalars of `size` bytes / a vector of n offsets (slots to
 * patch; *slots gets the first slot's position, slot i is at *slots + 4i). Returns its position. */
size_t flatb_string(flatb_t *f, const char *s, size_t n);
size_t flatb_vec_scalars(flatb_t *f, const void *items, size_t n, int size);
size_t flatb_vec_offsets(flatb_t *f, size_t n, size_t *slots);
/* Points the offset at `slot` to `target` (which must lie after it). */
void flatb_patch(flatb_t *f, size_t slot, size_t target);

/* Reading: a table inside a buffer. */
typedef struct flatb_ref {
    const uint8_t *b;
    size_t len, pos; /* pos = the table; 0 = absent (no table starts at 0) */
} flatb_ref_t;

/* The root table when the buffer is well formed at the top (and carries `ident` when not NULL);
 * pos = 0 when not. */
flatb_ref_t flatb_root(const uint8_t *b, size_t len, const char *ident);
/* Scalars of field `id` (the default when absent or out of bounds). */
uint64_t flatb_get_u(flatb_ref_t t, int id, int size, uint64_t dflt);
double flatb_get_f64(flatb_ref_t t, int id, double dflt);
/* A string field: its bytes (borrowed) and length, or NULL. */
const char *flatb_get_str(flatb_ref_t t, int id, size_t *n);
/* A vector field: its element count and the position of element 0, or 0 when absent/bad.
 * `elem` is the element size (4 for offsets). */
size_t flatb_get_vec(flatb_ref_t t, int id, int elem, size_t *data);
/* True when field `id` is present in the table (whatever its value). */
bool flatb_has(flatb_ref_t t, int id);
/* A table field: the table, or pos = 0 when absent or bad. */
flatb_ref_t flatb_get_table(flatb_ref_t t, int id);
/* Element i of a vector of tables whose data starts at `data`. */
flatb_ref_t flatb_vec_table(flatb_ref_t t, size_t data, size_t i);
/* Element i of a vector of doubles. */
double flatb_vec_f64(flatb_ref_t t, size_t data, size_t i);

#endif
