/* Haskell's `show` of text, byte for byte as GHC's derived Show writes String, Data.Text and
 * ByteString values (quotes, named control escapes, decimal escapes, `\&`), plus the strict UTF-8
 * check that Data.Text's decodeUtf8' applies. */
#ifndef LP_HSSHOW_H
#define LP_HSSHOW_H

#include "outbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes one UTF-8 sequence at p (n > 0 bytes available) strictly: no overlong forms, no
 * surrogates, nothing above U+10FFFF. Returns its length (1-4) and sets *cp, or 0 when the bytes
 * at p do not start a valid sequence. Pure; any thread. */
size_t hsshow_utf8_next(const uint8_t *p, size_t n, uint32_t *cp);
/* True when all n bytes are valid UTF-8 (what decodeUtf8' accepts). Pure; any thread. */
bool hsshow_utf8_valid(const uint8_t *p, size_t n);
/* Appends `show` of the UTF-8 text p[0..n) (borrowed), quotes included. Decoding is lenient:
 * each byte that does not start a valid sequence shows as U+FFFD ("\65533"). The buffer's
 * thread. */
void hsshow_text(outbuf_t *o, const uint8_t *p, size_t n);
/* Appends `show` of a ByteString p[0..n) (borrowed): every byte is one character (code point =
 * byte value). The buffer's thread. */
void hsshow_latin1(outbuf_t *o, const uint8_t *p, size_t n);

#endif
