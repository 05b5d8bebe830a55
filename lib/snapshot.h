/* Aggregate snapshots of a session (proto/snapshot.fbs) in C: the totals report, counters and
 * coarse series, encoded to and decoded from FlatBuffers by hand (lib/flatb.c). */
#ifndef LP_SNAPSHOT_H
#define LP_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAPSHOT_IDENT "LPSN"

typedef struct snapshot_row {
    uint8_t kind; /* report_kind_t */
    char *title;
    uint64_t total_ns;
} snapshot_row_t;

typedef struct snapshot_srow {
    char *name, *kind;
    double *values;
    size_t nvalues;
} snapshot_srow_t;

typedef struct snapshot_series {
    char *name;
    uint64_t from_ns, bin_ns;
    snapshot_srow_t *rows;
    size_t nrows;
} snapshot_series_t;

typedef struct snapshot {
    uint64_t stream_offset, events;
    uint8_t state;
    bool final;
    char *error; /* may be NULL */
    snapshot_row_t *totals;
    size_t ntotals;
    snapshot_series_t *series;
    size_t nseries;
} snapshot_t;

/* Encodes `s` (borrowed). Returns a malloc'd FlatBuffer (8-byte aligned) and its size in *len.
 * Out of memory is fatal. Any thread. */
uint8_t *snapshot_encode(const snapshot_t *s, size_t *len);
/* Decodes a snapshot into `s` (owning copies). Returns 0, or LP_ECORRUPT for a buffer that is
 * not a snapshot (then `s` is empty). Never reads outside [b, b + len). Any thread. */
int snapshot_decode(snapshot_t *s, const uint8_t *b, size_t len);
/* Frees what decode or a caller allocated with malloc. Safe on a zeroed snapshot. */
void snapshot_dispose(snapshot_t *s);

#endif
