/* The on-disk format of durable sessions, all of it: a session directory holds append-only
 * segment files `seg-NNNNNNNN.lps`; each is a file header, checksummed records (eventlog header,
 * raw eventlog chunks, snapshots, upload id, end of input, index) and, once closed, a trailer
 * that points at its index record. docs/segments.md describes it for readers of other tools. */
#ifndef LP_SEGMENT_H
#define LP_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* All integers are little-endian. */
#define SEG_MAGIC "LPSEG\0\r\n" /* 8 bytes at offset 0 of every segment file */
#define SEG_VERSION 1u
#define SEG_FILE_HDR 64u          /* file header bytes (see seg_file_hdr_t) */
#define SEG_REC_HDR 32u           /* record header bytes (see seg_rec_hdr_t) */
#define SEG_TRAILER 16u           /* trailer of a closed segment: index record offset, "LPSEGEND" */
#define SEG_REC_MAGIC 0x4352504cu /* "LPRC" */
#define SEG_TRAILER_MAGIC "LPSEGEND"
#define SEG_MAX_PAYLOAD (64u << 20) /* largest record payload a reader accepts */
#define SEG_CHUNK_MAX (1u << 20)    /* raw eventlog bytes per chunk record at most */
#define SEG_NAME_FMT "seg-%08llu.lps"
#define SEG_QUARANTINE_SUFFIX ".quarantined"

/* Record types. */
typedef enum seg_rec_type {
    SEG_REC_EVHEADER = 1, /* the eventlog's header bytes (stream [0, data start)); starts every
                             segment but the first, so each segment decodes on its own */
    SEG_REC_CHUNK = 2,    /* raw eventlog bytes [stream_off, stream_off + raw_len), exact */
    SEG_REC_SNAPSHOT = 3, /* an aggregate snapshot (FlatBuffers, proto/snapshot.fbs) */
    SEG_REC_UPLOAD = 4,   /* the id of the chunked upload feeding the session (32 hex chars) */
    SEG_REC_END = 5,      /* the input ended; stream_off = the stream's length */
    SEG_REC_INDEX = 6,    /* the footer index of a closed segment (see below) */
    SEG_REC_MAX_ = 6,
} seg_rec_type_t;

enum { SEG_F_ZSTD = 1 }; /* record flag: the payload is one zstd frame of raw_len bytes */
/* Snapshot records of this many bytes or more are written as zstd frames at this level (their
 * aggregate state is mostly empty bins); chunk records only when the writer is told to. */
#define SEG_SNAPSHOT_ZSTD_MIN 4096
#define SEG_SNAPSHOT_ZSTD_LEVEL 3

/* File header, 64 bytes: magic[8], u32 version, u32 flags (0), u64 seq (0, 1, ...),
 * u64 stream_start (stream offset of the first chunk byte of this segment; a block boundary for
 * every segment but the first), u64 created (Unix ns), u64 reserved[2], u64 checksum (XXH64,
 * seed 0, of bytes 0..55). */
typedef struct seg_file_hdr {
    uint32_t version, flags;
    uint64_t seq, stream_start, created_ns;
} seg_file_hdr_t;

/* Record header, 32 bytes: u32 magic "LPRC", u8 type, u8 flags, u16 reserved (0), u32 len
 * (payload bytes on disk), u32 raw_len (payload bytes once decompressed; = len unless SEG_F_ZSTD),
 * u64 stream_off, u64 checksum (XXH64, seed 0, of header bytes 0..23 followed by the payload).
 * The payload follows directly; records are not padded. */
typedef struct seg_rec_hdr {
    uint8_t type, flags;
    uint32_t len, raw_len;
    uint64_t stream_off;
    uint64_t checksum;
} seg_rec_hdr_t;

/* Index payload (SEG_REC_INDEX): u64 stream_start, u64 stream_end, u64 first_ts, u64 last_ts,
 * u64 bin_ns, u64 events, u64 thread_bin_ns, u32 npoints, then npoints x (u64 ts,
 * u64 stream_off) — the block markers' start times and offsets, i.e. time -> offset — then
 * u32 nmaps, then per map: u8 kind (seg_map_kind_t), u32 key, u16 name_len, name bytes, u32 size,
 * a roaring bitmap in its portable serialization (bins are ts / width, saturated at 2^32 - 1). */
typedef enum seg_map_kind {
    SEG_MAP_TYPE = 0,   /* key: event type number; members: the bins (bin_ns) holding it */
    SEG_MAP_THREAD = 1, /* key: a bin (thread_bin_ns); members: the thread ids events name */
    SEG_MAP_LABEL = 2,  /* key: XXH32 (seed 0) of the label text after "START "/"STOP ", with
                           the text as name; members: the bins (bin_ns) holding it */
} seg_map_kind_t;

#define SEG_INDEX_BIN_NS 100000000ull         /* 100 ms bins for types and labels */
#define SEG_INDEX_THREAD_BIN_NS 1000000000ull /* 1 s bins for the thread sets */

/* Encodes a file header (checksum computed). */
void seg_file_hdr_encode(const seg_file_hdr_t *h, uint8_t out[SEG_FILE_HDR]);
/* Decodes and checks a file header. Returns 0 or LP_ECORRUPT (magic, version or checksum). */
int seg_file_hdr_decode(const uint8_t in[SEG_FILE_HDR], seg_file_hdr_t *h);
/* Encodes a record header for `payload` (len bytes), computing h->checksum. */
void seg_rec_hdr_encode(seg_rec_hdr_t *h, const void *payload, uint8_t out[SEG_REC_HDR]);
/* Decodes a record header and checks what it can alone (magic, type, reserved, sizes).
 * Returns 0 or LP_ECORRUPT. */
int seg_rec_hdr_decode(const uint8_t in[SEG_REC_HDR], seg_rec_hdr_t *h);
/* True when the payload matches the header's checksum (`in` is the encoded header). */
bool seg_rec_verify(const uint8_t in[SEG_REC_HDR], const void *payload, size_t len,
                    uint64_t checksum);
/* Encodes / decodes the trailer of a closed segment; decode returns 0 or LP_ECORRUPT. */
void seg_trailer_encode(uint64_t index_off, uint8_t out[SEG_TRAILER]);
int seg_trailer_decode(const uint8_t in[SEG_TRAILER], uint64_t *index_off);

/* Little-endian helpers. */
static inline void seg_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void seg_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t seg_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t seg_get64(const uint8_t *p)
{
    return (uint64_t)seg_get32(p) | (uint64_t)seg_get32(p + 4) << 32;
}

#endif
