/* Haskell `show` of strings: the escapes of the spec's example, control names, `\&`, lenient
 * UTF-8 (one U+FFFD per bad byte), ByteString show, and the strict validity check. */
#include "test.h"

#include "dumputil.h"
#include "hsshow.h"

#include <stdlib.h>
#include <string.h>

static void check_show(const char *bytes, size_t n, bool latin1, const char *want)
{
    outbuf_t o;
    REQUIRE(outbuf_init(&o, -1, 0) == 0);
    if (latin1)
        hsshow_latin1(&o, (const uint8_t *)bytes, n);
    else
        hsshow_text(&o, (const uint8_t *)bytes, n);
    du_same("show", o.buf, o.len, want, strlen(want));
    outbuf_dispose(&o);
}

TEST(hsshow_strings)
{
    /* The example of ../shared/spec/ghc-events-analyze.md section 10. */
    const char *spec = "tab\there\nnl \"q\" back\\ \001\177\302\200 \303\2519 \016H \310\200x end";
    check_show(spec, strlen(spec), false,
               "\"tab\\there\\nnl \\\"q\\\" back\\\\ \\SOH\\DEL\\128 \\233\\&9 \\SO\\&H \\512x "
               "end\"");
    check_show("", 0, false, "\"\"");
    check_show("\0\a\b\t\n\v\f\r\033\037 ", 11, false, "\"\\NUL\\a\\b\\t\\n\\v\\f\\r\\ESC\\US \"");
    check_show("\360\237\232\200"
               "1\016\016H",
               8, false, "\"\\128640\\&1\\SO\\SO\\&H\"");
    /* Lenient decoding: one U+FFFD per byte that starts no valid sequence. */
    check_show("a\377b\342\202", 5, false, "\"a\\65533b\\65533\\65533\"");
    check_show("\355\240\200", 3, false, "\"\\65533\\65533\\65533\"");
    /* ByteString: one character per byte. */
    check_show("\000\377\200a\0161", 6, true, "\"\\NUL\\255\\128a\\SO1\"");
    CHECK(hsshow_utf8_valid((const uint8_t *)"\303\251\360\237\232\200\364\217\277\277", 10));
    const char *bad[] = {"\300\257", "\340\200\257", "\355\240\200",        "\364\220\200\200",
                         "\303",     "\200",         "\370\210\200\200\200"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(!hsshow_utf8_valid((const uint8_t *)bad[i], strlen(bad[i])), "bad[%zu]", i);
}
