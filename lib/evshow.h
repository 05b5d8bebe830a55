/* What ghc-events 0.17.0.3 makes of one decoded event: its EventInfo constructor and record
 * fields (names, kinds, values), and the Haskell `show` of that value, byte for byte as the
 * derived Show instance prints it (`StopThread {thread = 5, status = BlockedOnMVar}`). */
#ifndef LP_EVSHOW_H
#define LP_EVSHOW_H

#include "evlog.h"
#include "outbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every EventInfo constructor this module can produce, in no particular order. */
/* clang-format off */
#define EVSHOW_CTORS(X)                                                                            \
    X(UnknownEvent) X(EventBlock) X(Startup) X(Shutdown) X(CreateThread) X(RunThread)              \
    X(StopThread) X(ThreadRunnable) X(MigrateThread) X(WakeupThread) X(ThreadLabel)                \
    X(CreateSparkThread) X(SparkCounters) X(SparkCreate) X(SparkDud) X(SparkOverflow)              \
    X(SparkRun) X(SparkSteal) X(SparkFizzle) X(SparkGC) X(TaskCreate) X(TaskMigrate)               \
    X(TaskDelete) X(RequestSeqGC) X(RequestParGC) X(StartGC) X(GCWork) X(GCIdle) X(GCDone)         \
    X(EndGC) X(GlobalSyncGC) X(GCStatsGHC) X(MemReturn) X(HeapAllocated) X(HeapSize)               \
    X(BlocksSize) X(HeapLive) X(HeapInfoGHC) X(CapCreate) X(CapDelete) X(CapDisable)               \
    X(CapEnable) X(CapsetCreate) X(CapsetDelete) X(CapsetAssignCap) X(CapsetRemoveCap)             \
    X(RtsIdentifier) X(ProgramArgs) X(ProgramEnv) X(OsProcessPid) X(OsProcessParentPid)            \
    X(WallClockTime) X(Message) X(UserMessage) X(UserMarker) X(HeapProfBegin)                      \
    X(HeapProfCostCentre) X(HeapProfSampleBegin) X(HeapProfSampleEnd) X(HeapBioProfSampleBegin)    \
    X(HeapProfSampleCostCentre) X(HeapProfSampleString) X(ProfSampleCostCentre) X(ProfBegin)       \
    X(UserBinaryMessage) X(ConcMarkBegin) X(ConcMarkEnd) X(ConcSyncBegin) X(ConcSyncEnd)           \
    X(ConcSweepBegin) X(ConcSweepEnd) X(ConcUpdRemSetFlush) X(NonmovingHeapCensus)
/* clang-format on */

typedef enum evshow_ctor {
#define EVSHOW_CTOR_ENUM_(name) EVSHOW_C_##name,
    EVSHOW_CTORS(EVSHOW_CTOR_ENUM_)
#undef EVSHOW_CTOR_ENUM_
        EVSHOW_CTOR_COUNT
} evshow_ctor_t;

/* How a field's value is stored and shown. */
typedef enum evshow_kind {
    EVSHOW_NUM,        /* u: a non-negative integer */
    EVSHOW_TEXT,       /* bytes: Data.Text from UTF-8 */
    EVSHOW_BYTES,      /* bytes: a ByteString (one character per byte) */
    EVSHOW_ENUM,       /* str: a constructor name; NULL when the raw value u has no name */
    EVSHOW_OWNER,      /* str + u: a constructor with one argument (BlockedOnBlackHoleOwnedBy u) */
    EVSHOW_MAYBE,      /* `Just u` when has, else `Nothing` */
    EVSHOW_TEXT_LIST,  /* bytes: NUL-separated texts, trailing NULs dropped (ProgramArgs) */
    EVSHOW_U32_LIST,   /* bytes.p: u big-endian u32 values (a cost-centre stack) */
    EVSHOW_KERNEL_TID, /* u: shown as `KernelThreadId {kernelThreadId = u}` */
    EVSHOW_FLAGS,      /* u: shown as `HeapProfFlags u` */
} evshow_kind_t;

typedef struct evshow_field {
    const char *name; /* the ghc-events record field name */
    evshow_kind_t kind;
    bool has;
    uint64_t u;
    const char *str;
    evlog_bytes_t bytes; /* borrows the event's payload */
} evshow_field_t;

#define EVSHOW_MAX_FIELDS 10

/* An event as ghc-events sees it. Borrows the event's payload. */
typedef struct evshow_info {
    evshow_ctor_t ctor;
    int nfields;
    evshow_field_t f[EVSHOW_MAX_FIELDS];
} evshow_info_t;

/* Fills `in` with the constructor and fields ghc-events 0.17.0.3 gives `ev`: `UnknownEvent {ref}`
 * for types it has no parser for or whose declared size is too small, EventBlock for block
 * markers. Pure; any thread. */
void evshow_fields(const evlog_event_t *ev, evshow_info_t *in);
/* Returns 0 when ghc-events 0.17.0.3 decodes the event, or LP_EBAD_EVENT when its parser fails
 * (text that is not valid UTF-8, an unknown heap profile breakdown) and writes why into
 * why[0..len). Pure; any thread. */
int evshow_check(const evshow_info_t *in, char *why, size_t len);
/* Appends `show` of the EventInfo in `in` (borrowed) to `o`, lenient on what evshow_check
 * rejects (bad UTF-8 as U+FFFD, an unknown breakdown as its number). The buffer's thread. */
void evshow_put(outbuf_t *o, const evshow_info_t *in);
/* Appends `show` of the event's EventInfo: evshow_fields then evshow_put. The buffer's thread. */
void evshow_event(outbuf_t *o, const evlog_event_t *ev);
/* The constructor's name ("StopThread"), static. Any thread. */
const char *evshow_ctor_name(evshow_ctor_t c);

/* Appends a NUL-separated list (PROGRAM_ARGS/ENV) as a list: ghc-events' T.splitOn after
 * dropping trailing NULs (an empty remainder is [""]), each element written by `put`, joined by
 * ',' inside '[' ']'. Borrows b; the caller's thread. */
void evshow_text_list(outbuf_t *o, evlog_bytes_t b,
                      void (*put)(outbuf_t *o, const uint8_t *p, size_t n));

#endif
