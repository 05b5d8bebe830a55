/* The test-only bridge to flatc's C++ reader of proto/snapshot.fbs (tests/snapshot_verify.cc):
 * verifies a buffer with the generated Verifier and reports what the generated accessors see. */
#ifndef LP_SNAPSHOT_VERIFY_H
#define LP_SNAPSHOT_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct snapshot_seen {
    uint64_t stream_offset, events;
    uint8_t state;
    bool final_;
    char error[128];
    size_t ntotals, nseries, nrows;
    uint64_t totals_sum, bin_sum;
    double value_sum;
    char first_title[128];
    uint32_t version;
    bool has_aggr;
    size_t aggr_series, aggr_rows, aggr_bins, aggr_cells, aggr_gauges;
    double aggr_cell_sum; /* of every cell's sum */
} snapshot_seen_t;

/* 0 when the Verifier accepts buf (filling *seen), negative when not. */
int snapshot_verify_cpp(const uint8_t *buf, size_t len, snapshot_seen_t *seen);

#endif
