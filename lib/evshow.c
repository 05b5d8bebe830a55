/* Maps a decoded event onto ghc-events 0.17.0.3's EventInfo (constructor + record fields, with
 * that version's parser quirks: stop statuses, capset types, SparkCounters' field order, the
 * log2 census block size) and prints the derived Show of it. */
#include "evshow.h"

#include "err.h"
#include "hsshow.h"

#include <stdio.h>

static const char *const ctor_names[EVSHOW_CTOR_COUNT] = {
#define EVSHOW_CTOR_NAME_(name) #name,
    EVSHOW_CTORS(EVSHOW_CTOR_NAME_)
#undef EVSHOW_CTOR_NAME_
};

/* mkStopStatus of ghc-events 0.17.0.3 (status 8 is handled apart; unnamed values: NoStatus). */
static const char *const stop_names[21] = {
    "NoStatus",
    "HeapOverflow",
    "StackOverflow",
    "ThreadYielding",
    "ThreadBlocked",
    "ThreadFinished",
    "ForeignCall",
    "BlockedOnMVar",
    "BlockedOnBlackHole",
    "BlockedOnRead",
    "BlockedOnWrite",
    "BlockedOnDelay",
    "BlockedOnSTM",
    "BlockedOnDoProc",
    "BlockedOnCCall",
    "BlockedOnCCall_NoUnblockExc",
    "BlockedOnMsgThrowTo",
    "ThreadMigrating",
    "BlockedOnMsgGlobalise",
    "NoStatus",
    "BlockedOnMVarRead",
};

static const char *const capset_names[4] = {"CapsetUnknown", "CapsetCustom", "CapsetOsProcess",
                                            "CapsetClockDomain"};

static const char *const breakdown_names[9] = {
    NULL,
    "HeapProfBreakdownCostCentre",
    "HeapProfBreakdownModule",
    "HeapProfBreakdownClosureDescr",
    "HeapProfBreakdownTypeDescr",
    "HeapProfBreakdownRetainer",
    "HeapProfBreakdownBiography",
    "HeapProfBreakdownClosureType",
    "HeapProfBreakdownInfoTable",
};

static const char *const filter_names[7] = {
    "heapProfModuleFilter",     "heapProfClosureDescrFilter",    "heapProfTypeDescrFilter",
    "heapProfCostCentreFilter", "heapProfCostCentreStackFilter", "heapProfRetainerFilter",
    "heapProfBiographyFilter",
};

const char *evshow_ctor_name(evshow_ctor_t c)
{
    return (unsigned)c < EVSHOW_CTOR_COUNT ? ctor_names[c] : "?";
}

static evshow_field_t *add(evshow_info_t *in, const char *name, evshow_kind_t kind)
{
    evshow_field_t *f = &in->f[in->nfields++];
    f->name = name;
    f->kind = kind;
    return f;
}

static void num(evshow_info_t *in, const char *name, uint64_t u)
{
    add(in, name, EVSHOW_NUM)->u = u;
}

static void bytes(evshow_info_t *in, const char *name, evshow_kind_t kind, evlog_bytes_t b)
{
    add(in, name, kind)->bytes = b;
}

static void stack(evshow_info_t *in, const char *name, const uint8_t *p, uint8_t depth)
{
    evshow_field_t *f = add(in, name, EVSHOW_U32_LIST);
    f->u = depth;
    f->bytes.p = p;
    f->bytes.len = 4u * depth;
}

/* Types ghc-events parses that the decoder leaves undecoded (newer GHCs' MemReturn, BlocksSize;
 * the old Shutdown): read from the payload, with ghc-events' "declared size too small" rule. */
static void fields_extra(const evlog_event_t *ev, evshow_info_t *in)
{
    const uint8_t *p = ev->payload;
    if (ev->type == 7) {
        in->ctor = EVSHOW_C_Shutdown;
    } else if (ev->type == 90 && ev->size >= 16) {
        in->ctor = EVSHOW_C_MemReturn;
        num(in, "heapCapset", evlog_u32(p));
        num(in, "current", evlog_u32(p + 4));
        num(in, "needed", evlog_u32(p + 8));
        num(in, "returned", evlog_u32(p + 12));
    } else if (ev->type == 91 && ev->size >= 12) {
        in->ctor = EVSHOW_C_BlocksSize;
        num(in, "heapCapset", evlog_u32(p));
        num(in, "blocksSize", evlog_u64(p + 4));
    } else {
        in->ctor = EVSHOW_C_UnknownEvent;
        num(in, "ref", ev->type);
    }
}

/* The four constructors whose only field is a capability. */
static void fields_cap(const evlog_event_t *ev, evshow_info_t *in)
{
    switch (ev->type) {
    case EVLOG_STARTUP:
        in->ctor = EVSHOW_C_Startup;
        num(in, "n_caps", ev->f.cap.cap);
        return;
    case EVLOG_SPARK_STEAL:
        in->ctor = EVSHOW_C_SparkSteal;
        num(in, "victimCap", ev->f.cap.cap);
        return;
    case EVLOG_CAP_CREATE:
        in->ctor = EVSHOW_C_CapCreate;
        break;
    case EVLOG_CAP_DELETE:
        in->ctor = EVSHOW_C_CapDelete;
        break;
    case EVLOG_CAP_DISABLE:
        in->ctor = EVSHOW_C_CapDisable;
        break;
    case EVLOG_CAP_ENABLE:
        in->ctor = EVSHOW_C_CapEnable;
        break;
    default:
        in->ctor = EVSHOW_C_ConcUpdRemSetFlush;
        break;
    }
    num(in, "cap", ev->f.cap.cap);
}

/* Constructors without fields, by type number. */
static evshow_ctor_t nullary(uint16_t type)
{
    switch (type) {
    case EVLOG_GC_START:
        return EVSHOW_C_StartGC;
    case EVLOG_GC_END:
        return EVSHOW_C_EndGC;
    case EVLOG_REQUEST_SEQ_GC:
        return EVSHOW_C_RequestSeqGC;
    case EVLOG_REQUEST_PAR_GC:
        return EVSHOW_C_RequestParGC;
    case EVLOG_GC_IDLE:
        return EVSHOW_C_GCIdle;
    case EVLOG_GC_WORK:
        return EVSHOW_C_GCWork;
    case EVLOG_GC_DONE:
        return EVSHOW_C_GCDone;
    case EVLOG_GC_GLOBAL_SYNC:
        return EVSHOW_C_GlobalSyncGC;
    case EVLOG_SPARK_CREATE:
        return EVSHOW_C_SparkCreate;
    case EVLOG_SPARK_DUD:
        return EVSHOW_C_SparkDud;
    case EVLOG_SPARK_OVERFLOW:
        return EVSHOW_C_SparkOverflow;
    case EVLOG_SPARK_RUN:
        return EVSHOW_C_SparkRun;
    case EVLOG_SPARK_FIZZLE:
        return EVSHOW_C_SparkFizzle;
    case EVLOG_SPARK_GC:
        return EVSHOW_C_SparkGC;
    case EVLOG_CONC_MARK_BEGIN:
        return EVSHOW_C_ConcMarkBegin;
    case EVLOG_CONC_SYNC_BEGIN:
        return EVSHOW_C_ConcSyncBegin;
    case EVLOG_CONC_SYNC_END:
        return EVSHOW_C_ConcSyncEnd;
    case EVLOG_CONC_SWEEP_BEGIN:
        return EVSHOW_C_ConcSweepBegin;
    case EVLOG_CONC_SWEEP_END:
        return EVSHOW_C_ConcSweepEnd;
    default:
        return EVSHOW_C_UnknownEvent;
    }
}

/* Heap and time profiling events (160-168). */
static void fields_prof(const evlog_event_t *ev, evshow_info_t *in)
{
    evshow_field_t *f;
    switch (ev->type) {
    case EVLOG_HEAP_PROF_BEGIN:
        in->ctor = EVSHOW_C_HeapProfBegin;
        num(in, "heapProfId", ev->f.hp_begin.prof_id);
        num(in, "heapProfSamplingPeriod", ev->f.hp_begin.period);
        f = add(in, "heapProfBreakdown", EVSHOW_ENUM);
        f->u = ev->f.hp_begin.breakdown;
        f->str = f->u < 9 ? breakdown_names[f->u] : NULL;
        for (int i = 0; i < 7; i++)
            bytes(in, filter_names[i], EVSHOW_TEXT, ev->f.hp_begin.filter[i]);
        break;
    case EVLOG_HEAP_PROF_COST_CENTRE:
        in->ctor = EVSHOW_C_HeapProfCostCentre;
        num(in, "heapProfCostCentreId", ev->f.hp_cc.cc_id);
        bytes(in, "heapProfLabel", EVSHOW_TEXT, ev->f.hp_cc.label);
        bytes(in, "heapProfModule", EVSHOW_TEXT, ev->f.hp_cc.module);
        bytes(in, "heapProfSrcLoc", EVSHOW_TEXT, ev->f.hp_cc.srcloc);
        add(in, "heapProfFlags", EVSHOW_FLAGS)->u = ev->f.hp_cc.flags;
        break;
    case EVLOG_HEAP_PROF_SAMPLE_BEGIN:
    case EVLOG_HEAP_PROF_SAMPLE_END:
        in->ctor = ev->type == EVLOG_HEAP_PROF_SAMPLE_BEGIN ? EVSHOW_C_HeapProfSampleBegin
                                                            : EVSHOW_C_HeapProfSampleEnd;
        num(in, "heapProfSampleEra", ev->f.era.era);
        break;
    case EVLOG_HEAP_PROF_SAMPLE_COST_CENTRE:
        in->ctor = EVSHOW_C_HeapProfSampleCostCentre;
        num(in, "heapProfId", ev->f.hp_sample_cc.prof_id);
        num(in, "heapProfResidency", ev->f.hp_sample_cc.residency);
        num(in, "heapProfStackDepth", ev->f.hp_sample_cc.depth);
        stack(in, "heapProfStack", ev->f.hp_sample_cc.stack, ev->f.hp_sample_cc.depth);
        break;
    case EVLOG_HEAP_PROF_SAMPLE_STRING:
        in->ctor = EVSHOW_C_HeapProfSampleString;
        num(in, "heapProfId", ev->f.hp_sample_str.prof_id);
        num(in, "heapProfResidency", ev->f.hp_sample_str.residency);
        bytes(in, "heapProfLabel", EVSHOW_TEXT, ev->f.hp_sample_str.label);
        break;
    case EVLOG_HEAP_BIO_PROF_SAMPLE_BEGIN:
        in->ctor = EVSHOW_C_HeapBioProfSampleBegin;
        num(in, "heapProfSampleEra", ev->f.bio_begin.era);
        num(in, "heapProfSampleTime", ev->f.bio_begin.time);
        break;
    case EVLOG_PROF_SAMPLE_COST_CENTRE:
        in->ctor = EVSHOW_C_ProfSampleCostCentre;
        num(in, "profCapset", ev->f.prof_sample.cap);
        num(in, "profTicks", ev->f.prof_sample.ticks);
        num(in, "profStackDepth", ev->f.prof_sample.depth);
        stack(in, "profCcsStack", ev->f.prof_sample.stack, ev->f.prof_sample.depth);
        break;
    default: /* EVLOG_PROF_BEGIN */
        in->ctor = EVSHOW_C_ProfBegin;
        num(in, "profTickInterval", ev->f.prof_begin.tick_interval);
        break;
    }
}

/* Capsets, process information, tasks and heap statistics. */
static void fields_rts(const evlog_event_t *ev, evshow_info_t *in)
{
    evshow_field_t *f;
    uint16_t t = ev->type;
    switch (t) {
    case EVLOG_CAPSET_CREATE:
        in->ctor = EVSHOW_C_CapsetCreate;
        num(in, "capset", ev->f.capset_create.capset);
        f = add(in, "capsetType", EVSHOW_ENUM);
        f->u = ev->f.capset_create.type;
        f->str = capset_names[f->u < 4 ? f->u : 0];
        break;
    case EVLOG_CAPSET_DELETE:
        in->ctor = EVSHOW_C_CapsetDelete;
        num(in, "capset", ev->f.capset.capset);
        break;
    case EVLOG_CAPSET_ASSIGN_CAP:
    case EVLOG_CAPSET_REMOVE_CAP:
        in->ctor =
            t == EVLOG_CAPSET_ASSIGN_CAP ? EVSHOW_C_CapsetAssignCap : EVSHOW_C_CapsetRemoveCap;
        num(in, "capset", ev->f.capset_cap.capset);
        num(in, "cap", ev->f.capset_cap.cap);
        break;
    case EVLOG_RTS_IDENTIFIER:
    case EVLOG_PROGRAM_ARGS:
    case EVLOG_PROGRAM_ENV:
        in->ctor = t == EVLOG_RTS_IDENTIFIER ? EVSHOW_C_RtsIdentifier
                   : t == EVLOG_PROGRAM_ARGS ? EVSHOW_C_ProgramArgs
                                             : EVSHOW_C_ProgramEnv;
        num(in, "capset", ev->f.capset_text.capset);
        bytes(in,
              t == EVLOG_RTS_IDENTIFIER ? "rtsident"
              : t == EVLOG_PROGRAM_ARGS ? "args"
                                        : "env",
              t == EVLOG_RTS_IDENTIFIER ? EVSHOW_TEXT : EVSHOW_TEXT_LIST, ev->f.capset_text.text);
        break;
    case EVLOG_OSPROCESS_PID:
    case EVLOG_OSPROCESS_PPID:
        in->ctor = t == EVLOG_OSPROCESS_PID ? EVSHOW_C_OsProcessPid : EVSHOW_C_OsProcessParentPid;
        num(in, "capset", ev->f.pid.capset);
        num(in, t == EVLOG_OSPROCESS_PID ? "pid" : "ppid", ev->f.pid.pid);
        break;
    case EVLOG_WALL_CLOCK_TIME:
        in->ctor = EVSHOW_C_WallClockTime;
        num(in, "capset", ev->f.wall.capset);
        num(in, "sec", ev->f.wall.sec);
        num(in, "nsec", ev->f.wall.nsec);
        break;
    case EVLOG_TASK_CREATE:
        in->ctor = EVSHOW_C_TaskCreate;
        num(in, "taskId", ev->f.task_create.task);
        num(in, "cap", ev->f.task_create.cap);
        add(in, "tid", EVSHOW_KERNEL_TID)->u = ev->f.task_create.kernel_tid;
        break;
    case EVLOG_TASK_MIGRATE:
        in->ctor = EVSHOW_C_TaskMigrate;
        num(in, "taskId", ev->f.task_migrate.task);
        num(in, "cap", ev->f.task_migrate.cap);
        num(in, "new_cap", ev->f.task_migrate.new_cap);
        break;
    case EVLOG_TASK_DELETE:
        in->ctor = EVSHOW_C_TaskDelete;
        num(in, "taskId", ev->f.task_delete.task);
        break;
    case EVLOG_SPARK_COUNTERS: /* ghc-events swaps gcd and fizzled relative to the payload */
        in->ctor = EVSHOW_C_SparkCounters;
        num(in, "sparksCreated", ev->f.spark_counters.v[0]);
        num(in, "sparksDud", ev->f.spark_counters.v[1]);
        num(in, "sparksOverflowed", ev->f.spark_counters.v[2]);
        num(in, "sparksConverted", ev->f.spark_counters.v[3]);
        num(in, "sparksFizzled", ev->f.spark_counters.v[5]);
        num(in, "sparksGCd", ev->f.spark_counters.v[4]);
        num(in, "sparksRemaining", ev->f.spark_counters.v[6]);
        break;
    case EVLOG_HEAP_ALLOCATED:
    case EVLOG_HEAP_SIZE:
    case EVLOG_HEAP_LIVE:
        in->ctor = t == EVLOG_HEAP_ALLOCATED ? EVSHOW_C_HeapAllocated
                   : t == EVLOG_HEAP_SIZE    ? EVSHOW_C_HeapSize
                                             : EVSHOW_C_HeapLive;
        num(in, "heapCapset", ev->f.heap.capset);
        num(in,
            t == EVLOG_HEAP_ALLOCATED ? "allocBytes"
            : t == EVLOG_HEAP_SIZE    ? "sizeBytes"
                                      : "liveBytes",
            ev->f.heap.bytes);
        break;
    case EVLOG_HEAP_INFO_GHC:
        in->ctor = EVSHOW_C_HeapInfoGHC;
        num(in, "heapCapset", ev->f.heap_info.capset);
        num(in, "gens", ev->f.heap_info.gens);
        num(in, "maxHeapSize", ev->f.heap_info.max_heap);
        num(in, "allocAreaSize", ev->f.heap_info.alloc_area);
        num(in, "mblockSize", ev->f.heap_info.mblock);
        num(in, "blockSize", ev->f.heap_info.block);
        break;
    default: /* EVLOG_GC_STATS_GHC */
        in->ctor = EVSHOW_C_GCStatsGHC;
        num(in, "heapCapset", ev->f.gc_stats.capset);
        num(in, "gen", ev->f.gc_stats.gen);
        num(in, "copied", ev->f.gc_stats.copied);
        num(in, "slop", ev->f.gc_stats.slop);
        num(in, "frag", ev->f.gc_stats.frag);
        num(in, "parNThreads", ev->f.gc_stats.par_n_threads);
        num(in, "parMaxCopied", ev->f.gc_stats.par_max_copied);
        num(in, "parTotCopied", ev->f.gc_stats.par_tot_copied);
        f = add(in, "parBalancedCopied", EVSHOW_MAYBE);
        f->has = ev->f.gc_stats.has_balanced;
        f->u = ev->f.gc_stats.par_balanced_copied;
        break;
    }
}

void evshow_fields(const evlog_event_t *ev, evshow_info_t *in)
{
    evshow_field_t *f;
    in->nfields = 0;
    uint16_t t = ev->type;
    if (!ev->known || t == EVLOG_HACK_BUG_T9003) {
        fields_extra(ev, in);
        return;
    }
    switch (t) {
    case EVLOG_CREATE_THREAD:
    case EVLOG_RUN_THREAD:
    case EVLOG_THREAD_RUNNABLE:
        in->ctor = t == EVLOG_CREATE_THREAD ? EVSHOW_C_CreateThread
                   : t == EVLOG_RUN_THREAD  ? EVSHOW_C_RunThread
                                            : EVSHOW_C_ThreadRunnable;
        num(in, "thread", ev->f.thread.tid);
        return;
    case EVLOG_CREATE_SPARK_THREAD:
        in->ctor = EVSHOW_C_CreateSparkThread;
        num(in, "sparkThread", ev->f.thread.tid);
        return;
    case EVLOG_STOP_THREAD:
        in->ctor = EVSHOW_C_StopThread;
        num(in, "thread", ev->f.stop.tid);
        f = add(in, "status", EVSHOW_ENUM);
        f->u = ev->f.stop.status;
        f->str = stop_names[f->u <= 20 ? f->u : 0];
        if (f->u == 8) {
            f->kind = EVSHOW_OWNER;
            f->str = "BlockedOnBlackHoleOwnedBy";
            f->u = ev->f.stop.blocked_on;
        }
        return;
    case EVLOG_MIGRATE_THREAD:
    case EVLOG_THREAD_WAKEUP:
        in->ctor = t == EVLOG_MIGRATE_THREAD ? EVSHOW_C_MigrateThread : EVSHOW_C_WakeupThread;
        num(in, "thread", ev->f.thread_cap.tid);
        num(in, t == EVLOG_MIGRATE_THREAD ? "newCap" : "otherCap", ev->f.thread_cap.cap);
        return;
    case EVLOG_THREAD_LABEL:
        in->ctor = EVSHOW_C_ThreadLabel;
        num(in, "thread", ev->f.label.tid);
        bytes(in, "threadlabel", EVSHOW_TEXT, ev->f.label.text);
        return;
    case EVLOG_LOG_MSG:
    case EVLOG_USER_MSG:
        in->ctor = t == EVLOG_LOG_MSG ? EVSHOW_C_Message : EVSHOW_C_UserMessage;
        bytes(in, "msg", EVSHOW_TEXT, ev->f.msg.text);
        return;
    case EVLOG_USER_MARKER:
        in->ctor = EVSHOW_C_UserMarker;
        bytes(in, "markername", EVSHOW_TEXT, ev->f.msg.text);
        return;
    case EVLOG_USER_BINARY_MSG:
        in->ctor = EVSHOW_C_UserBinaryMessage;
        bytes(in, "payload", EVSHOW_BYTES, ev->f.msg.text);
        return;
    case EVLOG_STARTUP:
    case EVLOG_SPARK_STEAL:
    case EVLOG_CAP_CREATE:
    case EVLOG_CAP_DELETE:
    case EVLOG_CAP_DISABLE:
    case EVLOG_CAP_ENABLE:
    case EVLOG_CONC_UPD_REM_SET_FLUSH:
        fields_cap(ev, in);
        return;
    case EVLOG_BLOCK_MARKER:
        in->ctor = EVSHOW_C_EventBlock;
        num(in, "end_time", ev->f.block.end_time);
        num(in, "cap", ev->f.block.cap);
        num(in, "block_size", ev->f.block.size >= 24 ? ev->f.block.size - 24 : 0);
        return;
    case EVLOG_CONC_MARK_END:
        in->ctor = EVSHOW_C_ConcMarkEnd;
        num(in, "concMarkedObjectCount", ev->f.conc_mark_end.marked);
        return;
    case EVLOG_NONMOVING_HEAP_CENSUS:
        in->ctor = EVSHOW_C_NonmovingHeapCensus;
        num(in, "nonmovingCensusBlkSize", ev->f.census.log2_blk_size);
        num(in, "nonmovingCensusActiveSegs", ev->f.census.active);
        num(in, "nonmovingCensusFilledSegs", ev->f.census.filled);
        num(in, "nonmovingCensusLiveBlocks", ev->f.census.live);
        return;
    default:
        break;
    }
    if (t >= EVLOG_HEAP_PROF_BEGIN && t <= EVLOG_PROF_BEGIN) {
        fields_prof(ev, in);
    } else if ((t >= EVLOG_CAPSET_CREATE && t <= EVLOG_SPARK_COUNTERS) ||
               t == EVLOG_WALL_CLOCK_TIME ||
               (t >= EVLOG_HEAP_ALLOCATED && t <= EVLOG_TASK_DELETE && t != EVLOG_GC_GLOBAL_SYNC)) {
        fields_rts(ev, in);
    } else {
        in->ctor = nullary(t);
        if (in->ctor == EVSHOW_C_UnknownEvent) num(in, "ref", t);
    }
}

int evshow_check(const evshow_info_t *in, char *why, size_t len)
{
    for (int i = 0; i < in->nfields; i++) {
        const evshow_field_t *f = &in->f[i];
        if ((f->kind == EVSHOW_TEXT || f->kind == EVSHOW_TEXT_LIST) &&
            !hsshow_utf8_valid(f->bytes.p, f->bytes.len)) {
            snprintf(why, len, "invalid UTF-8 in %s field %s", ctor_names[in->ctor], f->name);
            return LP_EBAD_EVENT;
        }
        if (f->kind == EVSHOW_ENUM && !f->str) {
            snprintf(why, len, "unknown %s %llu in %s", f->name, (unsigned long long)f->u,
                     ctor_names[in->ctor]);
            return LP_EBAD_EVENT;
        }
    }
    return 0;
}

void evshow_text_list(outbuf_t *o, evlog_bytes_t b,
                      void (*put)(outbuf_t *o, const uint8_t *p, size_t n))
{
    uint32_t n = b.len;
    while (n > 0 && b.p[n - 1] == 0)
        n--;
    outbuf_putc(o, '[');
    uint32_t start = 0;
    for (uint32_t i = 0;; i++) {
        if (i == n || b.p[i] == 0) {
            if (start) outbuf_putc(o, ',');
            put(o, b.p + start, i - start);
            start = i + 1;
            if (i == n) break;
        }
    }
    outbuf_putc(o, ']');
}

static void put_value(outbuf_t *o, const evshow_field_t *f)
{
    switch (f->kind) {
    case EVSHOW_NUM:
        outbuf_u64(o, f->u);
        break;
    case EVSHOW_TEXT:
        hsshow_text(o, f->bytes.p, f->bytes.len);
        break;
    case EVSHOW_BYTES:
        hsshow_latin1(o, f->bytes.p, f->bytes.len);
        break;
    case EVSHOW_ENUM:
        if (f->str) {
            outbuf_puts(o, f->str);
        } else {
            outbuf_u64(o, f->u);
        }
        break;
    case EVSHOW_OWNER:
        outbuf_puts(o, f->str);
        outbuf_putc(o, ' ');
        outbuf_u64(o, f->u);
        break;
    case EVSHOW_MAYBE:
        if (f->has) {
            outbuf_puts(o, "Just ");
            outbuf_u64(o, f->u);
        } else {
            outbuf_puts(o, "Nothing");
        }
        break;
    case EVSHOW_TEXT_LIST:
        evshow_text_list(o, f->bytes, hsshow_text);
        break;
    case EVSHOW_U32_LIST:
        outbuf_putc(o, '[');
        for (uint64_t i = 0; i < f->u; i++) {
            if (i) outbuf_putc(o, ',');
            outbuf_u64(o, evlog_u32(f->bytes.p + 4 * i));
        }
        outbuf_putc(o, ']');
        break;
    case EVSHOW_KERNEL_TID:
        outbuf_puts(o, "KernelThreadId {kernelThreadId = ");
        outbuf_u64(o, f->u);
        outbuf_putc(o, '}');
        break;
    case EVSHOW_FLAGS:
        outbuf_puts(o, "HeapProfFlags ");
        outbuf_u64(o, f->u);
        break;
    }
}

void evshow_put(outbuf_t *o, const evshow_info_t *in)
{
    outbuf_puts(o, ctor_names[in->ctor]);
    for (int i = 0; i < in->nfields; i++) {
        outbuf_puts(o, i ? ", " : " {");
        outbuf_puts(o, in->f[i].name);
        outbuf_puts(o, " = ");
        put_value(o, &in->f[i]);
    }
    if (in->nfields) outbuf_putc(o, '}');
}

void evshow_event(outbuf_t *o, const evlog_event_t *ev)
{
    evshow_info_t in;
    evshow_fields(ev, &in);
    evshow_put(o, &in);
}
