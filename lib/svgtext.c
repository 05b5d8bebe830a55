/* XML text and numbers as the SVG writers put them: escaped character data, exact times in
 * their largest unit, byte sizes, pixel coordinates in as few bytes as they need, and round
 * axis steps. */
#include "svgtext.h"

#include "gfmt.h"
#include "hsshow.h"

#include <math.h>
#include <string.h>

/* Writes s as XML character data: markup characters as entities, other control characters,
 * invalid UTF-8 and U+FFFE/U+FFFF as U+FFFD. */
void svgtext_esc(FILE *f, const char *s)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t n = strlen(s), i = 0;
    while (i < n) {
        uint8_t b = u[i];
        if (b >= 0x20 && b < 0x80) {
            const char *rep = b == '&'    ? "&amp;"
                              : b == '<'  ? "&lt;"
                              : b == '>'  ? "&gt;"
                              : b == '"'  ? "&quot;"
                              : b == '\'' ? "&#39;"
                                          : NULL;
            if (rep)
                fputs(rep, f);
            else
                fputc(b, f);
            i++;
            continue;
        }
        uint32_t cp = 0;
        size_t k = b >= 0x80 ? hsshow_utf8_next(u + i, n - i, &cp) : 0;
        if (k && cp != 0xfffe && cp != 0xffff) {
            fwrite(u + i, 1, k, f);
            i += k;
        } else {
            fputs("\xef\xbf\xbd", f);
            i += k ? k : 1;
        }
    }
}

/* Writes a time in ns exactly, in the largest unit it reaches: "1.5 s", "250 ms", "12 µs". */
void svgtext_time(FILE *f, uint64_t ns)
{
    static const uint64_t units[4] = {1000000000, 1000000, 1000, 1};
    static const char *const names[4] = {"s", "ms", "\xc2\xb5s", "ns"};
    static const int digits[4] = {9, 6, 3, 0};
    int u = ns >= units[0] ? 0 : ns >= units[1] ? 1 : ns >= units[2] ? 2 : 3;
    uint64_t q = ns / units[u], r = ns % units[u];
    fprintf(f, "%llu", (unsigned long long)q);
    if (r) {
        char frac[16];
        snprintf(frac, sizeof frac, "%0*llu", digits[u], (unsigned long long)r);
        size_t k = strlen(frac);
        while (k > 0 && frac[k - 1] == '0')
            frac[--k] = 0;
        fprintf(f, ".%s", frac);
    }
    fprintf(f, " %s", names[u]);
}

void svgtext_bytes(FILE *f, double b)
{
    static const char *const units[5] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    double v = b;
    while (fabs(v) >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        fprintf(f, "%.0f B", b);
    else
        fprintf(f, "%.1f %s", v, units[u]);
}

/* printf's "%.2f" of v with trailing zeros and point dropped, "-0" as "0". */
static int px_printf(char *b, size_t cap, double v)
{
    int n = snprintf(b, cap, "%.2f", v);
    while (n > 0 && b[n - 1] == '0')
        n--;
    if (n > 0 && b[n - 1] == '.') n--;
    if (n == 2 && b[0] == '-' && b[1] == '0') b[0] = '0', n = 1; /* "-0" */
    return n;
}

int svgtext_px_fmt(char *b, double v)
{
    double a = fabs(v);
    if (!(a < 1e15)) return px_printf(b, SVGTEXT_PX_MAX, v); /* also NaN */
    /* a = m x 2^e exactly, so a x 100 = 100m x 2^e with 100m < 2^60: the whole hundredths and
     * the bits below them are exact, and so is printf's rounding, to nearest with ties to even */
    uint64_t bits;
    memcpy(&bits, &a, sizeof bits);
    int be = (int)(bits >> 52);
    uint64_t m = bits & ((1ull << 52) - 1);
    if (be)
        m |= 1ull << 52;
    else
        be = 1; /* subnormal */
    int e = be - 1075;
    uint64_t p = m * 100, q = 0;
    if (e >= 0) {
        q = p << e; /* a < 1e15: a x 100 < 2^57 */
    } else if (e > -64) {
        int sh = -e;
        uint64_t rem = p & ((1ull << sh) - 1), half = 1ull << (sh - 1);
        q = p >> sh;
        if (rem > half || (rem == half && (q & 1))) q++;
    } /* else a x 100 < 2^-4: rounds to 0 */
    char *o = b;
    if (q && signbit(v)) *o++ = '-';
    char dig[24];
    int k = 0;
    uint64_t whole = q / 100;
    do
        dig[k++] = (char)('0' + whole % 10);
    while (whole /= 10);
    while (k)
        *o++ = dig[--k];
    unsigned cents = (unsigned)(q % 100);
    if (cents) {
        *o++ = '.';
        *o++ = (char)('0' + cents / 10);
        if (cents % 10) *o++ = (char)('0' + cents % 10);
    }
    return (int)(o - b);
}

/* Writes v with at most two decimals and no trailing zeros ("12", "12.5", "12.25"): pixel
 * coordinates to what is visible, in as few bytes as that takes. */
void svgtext_px(FILE *f, double v)
{
    char b[SVGTEXT_PX_MAX];
    fwrite(b, 1, (size_t)svgtext_px_fmt(b, v), f);
}

void svgtext_g(FILE *f, const char *sep, double v, int prec)
{
    char b[8 + GFMT_MAX];
    size_t n = 0;
    while (*sep && n < 8)
        b[n++] = *sep++;
    n += gfmt_g(b + n, v, prec);
    fwrite(b, 1, n, f);
}

void svgtext_q(FILE *f, const char *sep, uint64_t bin, double q)
{
    char b[8 + 21 + GFMT_MAX], d[20];
    size_t n = 0;
    while (*sep && n < 8)
        b[n++] = *sep++;
    int k = 0;
    do
        d[k++] = (char)('0' + bin % 10);
    while (bin /= 10);
    while (k)
        b[n++] = d[--k];
    b[n++] = ':';
    n += gfmt_g(b + n, q, 6);
    fwrite(b, 1, n, f);
}

/* The smallest 1, 2 or 5 times a power of ten that is >= v (v > 0). */
double svgtext_nice(double v)
{
    double p = pow(10, floor(log10(v)));
    return v <= p ? p : v <= 2 * p ? 2 * p : v <= 5 * p ? 5 * p : 10 * p;
}
