/* Session snapshots: the totals report, the counters and the coarsest aggregate tier of every
 * series (bins of about a minute: lib/aggr.c's last level) written to the session's segments
 * after it settles and before retention drops raw segments, and read back on start when the raw
 * bytes that would rebuild them are gone; a settled session's snapshot also holds the whole
 * state of its aggregates, so that on start it resumes from the snapshot alone, without
 * analysing its raw bytes again. */
#include "session.h"

#include "aggr.h"
#include "aggr_snap.h"
#include "server.h"
#include "live.h"
#include "segment.h"
#include "snapshot.h"
#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define SNAPSHOT_BINS 4096               /* coarse bins per series at most */
#define SNAPSHOT_ROWS 100                /* label and thread rows per series before "other" */
#define SNAPSHOT_AGGR_FLOOR (256u << 10) /* a whole aggregate state this small is always kept */

/* The coarsest tier of the series of `a` that retention keeps (r->coarse_series) into sn, each
 * cut to its last r->coarse_age_s seconds when that is set. */
static void coarse_series(const aggr_t *a, const retention_t *rt, snapshot_t *sn)
{
    sn->series = xcalloc(RETENTION_NSERIES, sizeof *sn->series);
    for (size_t i = 0; a && i < RETENTION_NSERIES; i++) {
        if (!(rt->coarse_series >> i & 1)) continue;
        aggr_query_t q = {.series = retention_series[i],
                          .bins = SNAPSHOT_BINS,
                          .tier = (int)aggr_options(a)->tiers - 1,
                          .max_rows = SNAPSHOT_ROWS};
        aggr_result_t res;
        if (aggr_query_ex(a, &q, &res) < 0) continue;
        size_t skip = 0; /* the bins older than the kept age */
        if (rt->coarse_age_s && res.bin_ns) {
            uint64_t keep = (rt->coarse_age_s * 1000000000ull + res.bin_ns - 1) / res.bin_ns;
            if (keep < res.bins) skip = res.bins - keep;
        }
        snapshot_series_t *o = &sn->series[sn->nseries++];
        o->name = xstrndup(retention_series[i], strlen(retention_series[i]));
        o->from_ns = res.from_ns + skip * res.bin_ns;
        o->bin_ns = res.bin_ns;
        o->rows = xcalloc(res.nrows ? res.nrows : 1, sizeof *o->rows);
        for (size_t r = 0; r < res.nrows; r++) {
            snapshot_srow_t *w = &o->rows[o->nrows++];
            w->name = xstrndup(res.rows[r].name, strlen(res.rows[r].name));
            w->kind = xstrndup(res.rows[r].kind, strlen(res.rows[r].kind));
            w->nvalues = res.bins - skip;
            w->values = xmalloc((w->nvalues ? w->nvalues : 1) * sizeof *w->values);
            memcpy(w->values, res.rows[r].values + skip, w->nvalues * sizeof *w->values);
        }
        aggr_result_dispose(&res);
    }
}

/* A snapshot of n bytes as it goes to disk: compressed into *z (the caller frees it) with its
 * length returned, or, when that is not smaller, n with *z NULL. Compressed here, once, so that
 * both the size check below and the segment writer use it. */
static size_t pack(const uint8_t *b, size_t n, uint8_t **z)
{
    *z = NULL;
    if (n < SEG_SNAPSHOT_ZSTD_MIN) return n;
    size_t cap = ZSTD_compressBound(n);
    *z = xmalloc(cap);
    size_t k = ZSTD_compress(*z, cap, b, n, SEG_SNAPSHOT_ZSTD_LEVEL);
    if (!ZSTD_isError(k) && k < n) return k;
    free(*z);
    *z = NULL;
    return n;
}

/* Whether n bytes of snapshot are too many to keep for a session of `raw` bytes. */
static bool too_big(size_t n, uint64_t raw)
{
    return n > SNAPSHOT_AGGR_FLOOR && n > raw / 2;
}

void session_save_snapshot(registry_t *reg, session_t *s)
{
    snapshot_t sn;
    memset(&sn, 0, sizeof sn);
    session_state_t st = session_state(s);
    sn.stream_offset = atomic_load_explicit(&s->consumed, memory_order_relaxed);
    sn.events = atomic_load_explicit(&s->events, memory_order_relaxed);
    sn.state = (uint8_t)st;
    /* What a settled session's snapshot reads (its final report and aggregates, its error) no
     * longer changes: only settling writes it, once, under the lock and before this runs. So the
     * export and the encoding, tens of ms for a big session, run without the lock, which every
     * query on the HTTP thread would wait for (right after a session settled, GET /aggregates had
     * a p99 of 35-80 ms). A live session's are read under it. */
    pthread_mutex_lock(&s->lock);
    bool settled = s->settled;
    if (settled) pthread_mutex_unlock(&s->lock);
    sn.final = settled;
    if (st == SESSION_FAILED) sn.error = xstrndup(s->error, strlen(s->error));
    report_t live_rep;
    const report_t *rep = &s->final;
    if (!settled && s->live) {
        report_build(&live_rep, gea_output(live_gea(s->live), 0), registry_totals_script(reg),
                     false, 1000);
        rep = &live_rep;
    }
    sn.totals = xcalloc(rep->nrows ? rep->nrows : 1, sizeof *sn.totals);
    for (size_t i = 0; i < rep->nrows; i++)
        sn.totals[sn.ntotals++] =
            (snapshot_row_t){(uint8_t)rep->rows[i].kind, rep->rows[i].title, rep->rows[i].total};
    if (!s->snap) coarse_series(session_aggr(s), registry_retention(reg), &sn);
    sn.version = SNAPSHOT_VERSION;
    snapshot_aggr_t whole;
    /* the whole state only where a restart can resume from it: a session whose raw bytes stay
     * (under a retention limit they go, and the coarse series are what is kept) */
    uint64_t age_s, bytes;
    const retention_t *rt = registry_retention(reg);
    retention_effective(rt, s->meta.id, &age_s, &bytes);
    bool with_aggr = settled && !s->snap && session_aggr(s) && !age_s && !bytes &&
                     !rt->total_bytes && s->pt->log.start == 0;
    if (with_aggr) { /* borrowed from the aggregates, which no longer change once settled */
        aggr_snap_export(session_aggr(s), &whole);
        sn.aggr = &whole;
    }
    size_t len;
    uint8_t *b = snapshot_encode(&sn, &len);
    /* on disk (compressed) at most half the raw bytes or 256 KiB, and a record a scan accepts:
     * else the next start analyses the session again */
    uint64_t raw = atomic_load_explicit(&s->consumed, memory_order_relaxed);
    uint8_t *z = NULL;
    size_t zlen = len > SEG_MAX_PAYLOAD ? len : pack(b, len, &z);
    if (with_aggr && (len > SEG_MAX_PAYLOAD || (too_big(len, raw) && too_big(zlen, raw)))) {
        free(b);
        free(z);
        sn.aggr = NULL;
        with_aggr = false;
        b = snapshot_encode(&sn, &len);
        zlen = pack(b, len, &z);
    }
    if (sn.aggr) aggr_snap_release(&whole);
    sn.aggr = NULL;
    for (size_t i = 0; i < sn.ntotals; i++) /* borrowed titles */
        sn.totals[i].title = NULL;
    if (rep == &live_rep) report_dispose(&live_rep);
    if (!settled) pthread_mutex_unlock(&s->lock);
    snapshot_dispose(&sn);
    if (s->snap) { /* a restored session: its coarse series come from the earlier snapshot */
        free(b);
        free(z);
        pthread_mutex_lock(&s->pt->log.mu);
        if (s->pt->log.snapshot) {
            b = xmalloc(s->pt->log.snapshot_len);
            memcpy(b, s->pt->log.snapshot, s->pt->log.snapshot_len);
            len = s->pt->log.snapshot_len;
        } else {
            b = NULL;
        }
        pthread_mutex_unlock(&s->pt->log.mu);
        if (!b) return;
        zlen = pack(b, len, &z);
    }
    if (z) /* the writer writes it as it is */
        persist_record_packed(registry_persister(reg), s->pt, SEG_REC_SNAPSHOT, z, zlen, len);
    else
        persist_record(registry_persister(reg), s->pt, SEG_REC_SNAPSHOT, b, len);
    free(z);
    pthread_mutex_lock(&s->pt->log.mu); /* the latest snapshot, as a scan would find it */
    free(s->pt->log.snapshot);
    s->pt->log.snapshot = b;
    s->pt->log.snapshot_len = len;
    if (with_aggr) { /* only a restored session re-uses it (s->snap): not worth the memory */
        free(s->pt->log.snapshot);
        s->pt->log.snapshot = NULL;
        s->pt->log.snapshot_len = 0;
    }
    pthread_mutex_unlock(&s->pt->log.mu);
}

/* Why the latest snapshot of a session that still has every raw byte cannot stand for its
 * analysis, or NULL when it can. */
static const char *not_resumable(const snapshot_t *sn, const seg_log_t *l)
{
    if (sn->version != SNAPSHOT_VERSION) return "it is from an older version";
    if (!sn->final || !sn->aggr) return "it was not taken of a settled session";
    if (sn->stream_offset != l->end) return "bytes were written after it";
    if (sn->state != SESSION_DONE && sn->state != SESSION_FAILED) return "its state is not final";
    return NULL;
}

/* Settles s from snapshot sn: its totals become the final report, its counters and state the
 * session's, `a` (unless NULL) the final aggregates. With `keep`, s keeps sn (s->snap: its coarse
 * series answer the queries) and the titles are copied; else they are taken from sn. */
static void settle_from(session_t *s, snapshot_t *sn, aggr_t *a, uint64_t end, bool keep)
{
    pthread_mutex_lock(&s->lock);
    report_dispose(&s->final);
    session_forget_totals(s);
    s->final.nrows = sn->ntotals;
    s->final.rows = xcalloc(sn->ntotals ? sn->ntotals : 1, sizeof *s->final.rows);
    for (size_t i = 0; i < sn->ntotals; i++) {
        report_row_t *r = &s->final.rows[i];
        r->kind =
            sn->totals[i].kind <= REPORT_SUM ? (report_kind_t)sn->totals[i].kind : REPORT_SECTION;
        if (keep) {
            r->title = xstrndup(sn->totals[i].title, strlen(sn->totals[i].title));
        } else {
            r->title = sn->totals[i].title; /* taken */
            sn->totals[i].title = NULL;
        }
        r->total = sn->totals[i].total_ns;
    }
    if (a) {
        aggr_destroy(s->final_aggr);
        s->final_aggr = a;
    }
    if (keep) s->snap = sn;
    s->settled = true;
    live_destroy(s->live);
    s->live = NULL;
    if (sn->error) snprintf(s->error, sizeof s->error, "%s", sn->error);
    pthread_mutex_unlock(&s->lock);
    atomic_store_explicit(&s->events, sn->events, memory_order_relaxed);
    atomic_store_explicit(&s->consumed, end, memory_order_relaxed);
    /* release: `final` and `error` are written before readers can see the new state */
    atomic_store_explicit(&s->state, sn->state == SESSION_FAILED ? SESSION_FAILED : SESSION_DONE,
                          memory_order_release);
}

/* Resumes a settled session that still has every raw byte from its latest snapshot, when that
 * snapshot holds the whole aggregate state and covers every byte. False when it cannot (then the
 * session is analysed again from its raw segments). */
static bool resume(session_t *s)
{
    seg_log_t *l = &s->pt->log;
    if (!l->ended) return false; /* still live at the crash: its analysis starts again */
    const char *why = "it has none";
    snapshot_t *sn = NULL;
    aggr_t *a = NULL;
    if (l->snapshot) {
        sn = xcalloc(1, sizeof *sn);
        why = snapshot_decode(sn, l->snapshot, l->snapshot_len) < 0 ? "it does not decode"
                                                                    : not_resumable(sn, l);
        if (!why && !(a = aggr_snap_import(sn->aggr))) why = "its aggregates are inconsistent";
    }
    if (why) {
        fprintf(stderr,
                "serve: session %s: not resumed from its snapshot (%s); analysed again "
                "from its raw segments\n",
                s->meta.id, why);
        if (sn) snapshot_dispose(sn);
        free(sn);
        return false;
    }
    settle_from(s, sn, a, l->end, false);
    s->input_done = true;
    snapshot_dispose(sn);
    free(sn);
    pthread_mutex_lock(&l->mu); /* decoded: the bytes are not needed any more */
    free(l->snapshot);
    l->snapshot = NULL;
    l->snapshot_len = 0;
    pthread_mutex_unlock(&l->mu);
    return true;
}

bool session_restore_snapshot(registry_t *reg, session_t *s)
{
    seg_log_t *l = &s->pt->log;
    (void)reg;
    if (l->start == 0) return resume(s);
    if (!l->snapshot) return false;
    snapshot_t *sn = xcalloc(1, sizeof *sn);
    if (snapshot_decode(sn, l->snapshot, l->snapshot_len) < 0) {
        fprintf(stderr, "serve: session %s: its snapshot does not decode; raw bytes from %llu on\n",
                s->meta.id, (unsigned long long)l->start);
        free(sn);
        return false;
    }
    settle_from(s, sn, NULL, l->end, true);
    return true;
}
