/* The whole aggregate state inside a snapshot (table Aggr of proto/snapshot.fbs), for
 * lib/snapshot.c only: written with lib/flatb.c, read back with every count bounded by the
 * buffer. */
#ifndef LP_SNAPSHOT_AGGR_H
#define LP_SNAPSHOT_AGGR_H

#include "flatb.h"
#include "snapshot.h"

/* Writes `a` (borrowed) as an Aggr table and points the offset at `slot` to it. Out of memory is
 * fatal. Any thread. */
void snapshot_aggr_put(flatb_t *f, size_t slot, const snapshot_aggr_t *a);
/* Reads the Aggr table `t` into a new state (*out, owned by the caller: snapshot_aggr_destroy).
 * Returns 0, or LP_ECORRUPT (then *out is NULL) for a table that is malformed or decodes to more
 * elements than the buffer's bytes could hold (shared offsets never multiply the memory). Any
 * thread. */
int snapshot_aggr_get(flatb_ref_t t, snapshot_aggr_t **out);

#endif
