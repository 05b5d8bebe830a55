/* Label keys, shared by the analysis (lib/gea.c) and the aggregates (lib/aggr.c): the hash and
 * the equality of a (label text, subscript) pair, and the START/STOP prefix test, all a few
 * words at a time, since every user message goes through them. Header only. */
#ifndef LP_LABELKEY_H
#define LP_LABELKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t labelkey_load64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t labelkey_load32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* For 4 <= n <= 16: four 4-byte words of p[0..n) that together cover every byte (at 0, at
 * min(4, n - 4), at max(n - 8, 0) and at n - 4), read without branching on n, as label lengths
 * vary from one event to the next and such branches mispredict. */
static inline void labelkey_words(const char *p, size_t n, uint64_t *x, uint64_t *y)
{
    size_t second = n - 4 < 4 ? n - 4 : 4, third = n >= 8 ? n - 8 : 0;
    *x = (uint64_t)labelkey_load32(p) << 32 | labelkey_load32(p + n - 4);
    *y = (uint64_t)labelkey_load32(p + second) << 32 | labelkey_load32(p + third);
}

/* Hashes every byte of the label: short ones (the usual) as four overlapping words, longer ones a
 * word at a time with the last word overlapping. */
static inline uint64_t labelkey_hash(const char *label, size_t len, int64_t sub)
{
    const uint64_t k = 0x9E3779B97F4A7C15ull;
    uint64_t h = 1469598103934665603ull ^ len, x, y;
    if (len - 4 <= 12) {
        labelkey_words(label, len, &x, &y);
    } else if (len > 16) {
        size_t i = 0;
        for (; i + 16 < len; i += 8) {
            h = (h ^ labelkey_load64(label + i)) * k;
            h ^= h >> 32;
        }
        x = labelkey_load64(label + i);
        y = labelkey_load64(label + len - 8);
    } else {
        x = len ? (uint64_t)(uint8_t)label[0] << 16 | (uint64_t)(uint8_t)label[len / 2] << 8 |
                      (uint8_t)label[len - 1]
                : 0;
        y = 0;
    }
    h = (h ^ x) * k;
    h ^= h >> 32;
    h = (h ^ y) * k;
    h = (h ^ (uint64_t)sub) * k;
    return h ^ (h >> 29);
}

/* Whether a[0..n) equals b[0..n): short ones (the usual) compared as four words at once. */
static inline bool labelkey_eq(const char *a, const char *b, size_t n)
{
    if (n - 4 <= 12) {
        uint64_t ax, ay, bx, by;
        labelkey_words(a, n, &ax, &ay);
        labelkey_words(b, n, &bx, &by);
        return ((ax ^ bx) | (ay ^ by)) == 0;
    }
    if (n > 16) {
        for (size_t i = 0; i + 8 < n; i += 8)
            if (labelkey_load64(a + i) != labelkey_load64(b + i)) return false;
        return labelkey_load64(a + n - 8) == labelkey_load64(b + n - 8);
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return false;
    return true;
}

/* A message prefix ("START ", "STOP " or the user's) with its first min(8, len) bytes as a word
 * and the mask of those bytes. The text is borrowed. */
typedef struct labelkey_prefix {
    const char *text;
    size_t len;
    uint64_t word, mask;
} labelkey_prefix_t;

static inline labelkey_prefix_t labelkey_prefix(const char *text, size_t len)
{
    uint8_t w[8] = {0}, m[8] = {0};
    for (size_t i = 0; i < len && i < 8; i++) {
        w[i] = (uint8_t)text[i];
        m[i] = 0xFF;
    }
    labelkey_prefix_t p = {text, len, 0, 0};
    memcpy(&p.word, w, 8);
    memcpy(&p.mask, m, 8);
    return p;
}

/* Whether s[0..n) starts with prefix p: a prefix of at most 8 bytes compares as one word. */
static inline bool labelkey_has_prefix(const char *s, size_t n, const labelkey_prefix_t *p)
{
    if (n < p->len) return false;
    if (p->len <= 8 && n >= 8) return (labelkey_load64(s) & p->mask) == p->word;
    return memcmp(s, p->text, p->len) == 0;
}

#endif
