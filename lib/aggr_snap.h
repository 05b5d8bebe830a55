/* The whole state of a session's aggregates to and from a snapshot (snapshot_aggr_t of
 * lib/snapshot.h), so that a restart answers every query exactly as before without the events. */
#ifndef LP_AGGR_SNAP_H
#define LP_AGGR_SNAP_H

#include "aggr.h"
#include "snapshot.h"

/* Describes `a` in *out (zeroed first): row names, open lists, cells and gauges borrowed from
 * `a`, which must not change until aggr_snap_release(out). Out of memory is fatal. Reader
 * thread, under the caller's lock (like a query). */
void aggr_snap_export(const aggr_t *a, snapshot_aggr_t *out);
/* Frees what aggr_snap_export allocated (not what it borrowed). Any thread. */
void aggr_snap_release(snapshot_aggr_t *out);
/* New aggregates with the state `sa` describes; the cell and gauge arrays of its bins move into
 * them (their pointers in `sa` become NULL). Returns them, or NULL when the state is not one that
 * events could have produced (out-of-range rows, bins, levels or options). Any thread. */
aggr_t *aggr_snap_import(snapshot_aggr_t *sa);

#endif
