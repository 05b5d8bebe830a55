// Test-only C++: flatc's own generated reader and Verifier (flatc --cpp of proto/snapshot.fbs)
// checking what the hand-written C encoder (lib/snapshot.c) wrote. The rest of the project is C.
#include "snapshot_generated.h"

#include <cstring>

extern "C" {
#include "snapshot_verify.h"
}

extern "C" int snapshot_verify_cpp(const uint8_t *buf, size_t len, snapshot_seen_t *seen)
{
    flatbuffers::Verifier v(buf, len);
    if (!liveprof::snapshot::VerifySnapshotBuffer(v)) return -1;
    if (!liveprof::snapshot::SnapshotBufferHasIdentifier(buf)) return -2;
    const liveprof::snapshot::Snapshot *s = liveprof::snapshot::GetSnapshot(buf);
    std::memset(seen, 0, sizeof *seen);
    seen->stream_offset = s->stream_offset();
    seen->events = s->events();
    seen->state = s->state();
    seen->final_ = s->final();
    if (s->error()) std::snprintf(seen->error, sizeof seen->error, "%s", s->error()->c_str());
    if (s->totals()) {
        seen->ntotals = s->totals()->size();
        for (auto t : *s->totals())
            seen->totals_sum += t->total_ns() + t->kind();
        if (seen->ntotals)
            std::snprintf(seen->first_title, sizeof seen->first_title, "%s",
                          s->totals()->Get(0)->title()->c_str());
    }
    if (s->series()) {
        seen->nseries = s->series()->size();
        for (auto se : *s->series()) {
            seen->bin_sum += se->bin_ns() + se->from_ns();
            if (!se->rows()) continue;
            for (auto r : *se->rows()) {
                seen->nrows++;
                if (r->values())
                    for (double d : *r->values())
                        seen->value_sum += d;
            }
        }
    }
    seen->version = s->version();
    if (const liveprof::snapshot::Aggr *a = s->aggr()) {
        seen->has_aggr = true;
        if (a->series())
            for (auto se : *a->series()) {
                seen->aggr_series++;
                if (se->rows()) seen->aggr_rows += se->rows()->size();
                if (!se->levels()) continue;
                for (auto L : *se->levels()) {
                    if (!L->bins()) continue;
                    for (auto b : *L->bins()) {
                        seen->aggr_bins++;
                        if (b->gauges()) seen->aggr_gauges += b->gauges()->size();
                        if (!b->cells()) continue;
                        for (auto c : *b->cells()) {
                            seen->aggr_cells++;
                            seen->aggr_cell_sum += c->sum();
                        }
                    }
                }
            }
    }
    return 0;
}
