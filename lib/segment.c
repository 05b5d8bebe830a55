/* Encoding and checking of segment file headers, record headers and trailers (lib/segment.h):
 * XXH64 checksums over header bytes and payloads. */
#include "segment.h"

#include "err.h"

#include <string.h>
#define XXH_INLINE_ALL /* header-only XXH64: inlined, no library call per record */
#include <xxhash.h>

void seg_file_hdr_encode(const seg_file_hdr_t *h, uint8_t out[SEG_FILE_HDR])
{
    memset(out, 0, SEG_FILE_HDR);
    memcpy(out, SEG_MAGIC, 8);
    seg_put32(out + 8, h->version);
    seg_put32(out + 12, h->flags);
    seg_put64(out + 16, h->seq);
    seg_put64(out + 24, h->stream_start);
    seg_put64(out + 32, h->created_ns);
    seg_put64(out + 56, XXH64(out, 56, 0));
}

int seg_file_hdr_decode(const uint8_t in[SEG_FILE_HDR], seg_file_hdr_t *h)
{
    if (memcmp(in, SEG_MAGIC, 8) != 0 || seg_get64(in + 56) != XXH64(in, 56, 0)) return LP_ECORRUPT;
    h->version = seg_get32(in + 8);
    h->flags = seg_get32(in + 12);
    h->seq = seg_get64(in + 16);
    h->stream_start = seg_get64(in + 24);
    h->created_ns = seg_get64(in + 32);
    return h->version == SEG_VERSION ? 0 : LP_ECORRUPT;
}

void seg_rec_hdr_encode(seg_rec_hdr_t *h, const void *payload, uint8_t out[SEG_REC_HDR])
{
    seg_put32(out, SEG_REC_MAGIC);
    out[4] = h->type;
    out[5] = h->flags;
    out[6] = out[7] = 0;
    seg_put32(out + 8, h->len);
    seg_put32(out + 12, h->raw_len);
    seg_put64(out + 16, h->stream_off);
    XXH64_state_t st;
    XXH64_reset(&st, 0);
    XXH64_update(&st, out, 24);
    if (h->len) XXH64_update(&st, payload, h->len);
    h->checksum = XXH64_digest(&st);
    seg_put64(out + 24, h->checksum);
}

int seg_rec_hdr_decode(const uint8_t in[SEG_REC_HDR], seg_rec_hdr_t *h)
{
    if (seg_get32(in) != SEG_REC_MAGIC || in[6] || in[7]) return LP_ECORRUPT;
    h->type = in[4];
    h->flags = in[5];
    h->len = seg_get32(in + 8);
    h->raw_len = seg_get32(in + 12);
    h->stream_off = seg_get64(in + 16);
    h->checksum = seg_get64(in + 24);
    if (h->type < 1 || h->type > SEG_REC_MAX_ || (h->flags & ~SEG_F_ZSTD) ||
        h->len > SEG_MAX_PAYLOAD || h->raw_len > SEG_MAX_PAYLOAD ||
        (!(h->flags & SEG_F_ZSTD) && h->len != h->raw_len))
        return LP_ECORRUPT;
    return 0;
}

bool seg_rec_verify(const uint8_t in[SEG_REC_HDR], const void *payload, size_t len,
                    uint64_t checksum)
{
    XXH64_state_t st;
    XXH64_reset(&st, 0);
    XXH64_update(&st, in, 24);
    if (len) XXH64_update(&st, payload, len);
    return XXH64_digest(&st) == checksum;
}

void seg_trailer_encode(uint64_t index_off, uint8_t out[SEG_TRAILER])
{
    seg_put64(out, index_off);
    memcpy(out + 8, SEG_TRAILER_MAGIC, 8);
}

int seg_trailer_decode(const uint8_t in[SEG_TRAILER], uint64_t *index_off)
{
    if (memcmp(in + 8, SEG_TRAILER_MAGIC, 8) != 0) return LP_ECORRUPT;
    *index_off = seg_get64(in);
    return 0;
}
