/* Haskell `show` of strings (GHC.Show.showLitString): printable ASCII as is, `\"` and `\\`,
 * C-style and ASCII-name escapes for control characters, decimal escapes above 127, and `\&`
 * where the next character would otherwise extend an escape. Runs of plain bytes are copied. */
#include "hsshow.h"

static const char *const ascii_names[32] = {
    "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "\\a", "\\b", "\\t", "\\n",
    "\\v", "\\f", "\\r", "SO",  "SI",  "DLE", "DC1", "DC2", "DC3", "DC4", "NAK",
    "SYN", "ETB", "CAN", "EM",  "SUB", "ESC", "FS",  "GS",  "RS",  "US",
};

/* True for bytes that show as themselves. */
static inline bool plain(uint8_t b)
{
    return b >= 0x20 && b < 0x7f && b != '"' && b != '\\';
}

size_t hsshow_utf8_next(const uint8_t *p, size_t n, uint32_t *cp)
{
    uint8_t b = p[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    size_t len;
    uint32_t c, min;
    if (b >= 0xc2 && b <= 0xdf) {
        len = 2, c = b & 0x1f, min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
        len = 3, c = b & 0x0f, min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
        len = 4, c = b & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        c = c << 6 | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    *cp = c;
    return len;
}

bool hsshow_utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    uint32_t cp;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = hsshow_utf8_next(p + i, n - i, &cp);
        if (!k) return false;
        i += k;
    }
    return true;
}

/* What the previous character asks of the next one. */
enum { PROTECT_NONE, PROTECT_DIGIT, PROTECT_H };

/* Appends the escape of one non-plain character; returns the protect state it leaves. */
static int show_char(outbuf_t *o, uint32_t c, int protect)
{
    char *d = outbuf_reserve(o, 16);
    size_t k = 0;
    if ((protect == PROTECT_DIGIT && c >= '0' && c <= '9') || (protect == PROTECT_H && c == 'H')) {
        d[k++] = '\\';
        d[k++] = '&';
    }
    if (c > 0x7f) {
        d[k++] = '\\';
        k += outbuf_fmt_u64(d + k, c);
        outbuf_commit(o, k);
        return PROTECT_DIGIT;
    }
    if (c == 0x7f) {
        memcpy(d + k, "\\DEL", 4);
        outbuf_commit(o, k + 4);
        return PROTECT_NONE;
    }
    if (c == '"' || c == '\\' || c >= 0x20) {
        if (c == '"' || c == '\\') d[k++] = '\\';
        d[k++] = (char)c;
        outbuf_commit(o, k);
        return PROTECT_NONE;
    }
    const char *name = ascii_names[c];
    if (name[0] != '\\') d[k++] = '\\';
    size_t l = strlen(name);
    memcpy(d + k, name, l);
    outbuf_commit(o, k + l);
    return c == 0x0e ? PROTECT_H : PROTECT_NONE;
}

/* Shared loop: `utf8` selects UTF-8 decoding (lenient) over one character per byte. */
static void show_string(outbuf_t *o, const uint8_t *p, size_t n, bool utf8)
{
    int protect = PROTECT_NONE;
    size_t i = 0;
    outbuf_putc(o, '"');
    while (i < n) {
        size_t j = i;
        while (j < n && plain(p[j]))
            j++;
        if (j > i) {
            if (protect != PROTECT_NONE &&
                ((protect == PROTECT_DIGIT && p[i] >= '0' && p[i] <= '9') ||
                 (protect == PROTECT_H && p[i] == 'H')))
                outbuf_put(o, "\\&", 2);
            outbuf_put(o, p + i, j - i);
            protect = PROTECT_NONE;
            i = j;
            if (i == n) break;
        }
        uint32_t c = p[i];
        size_t k = 1;
        if (utf8 && c >= 0x80) {
            k = hsshow_utf8_next(p + i, n - i, &c);
            if (!k) {
                c = 0xfffd;
                k = 1;
            }
        }
        protect = show_char(o, c, protect);
        i += k;
    }
    outbuf_putc(o, '"');
}

void hsshow_text(outbuf_t *o, const uint8_t *p, size_t n)
{
    show_string(o, p, n, true);
}

void hsshow_latin1(outbuf_t *o, const uint8_t *p, size_t n)
{
    show_string(o, p, n, false);
}
