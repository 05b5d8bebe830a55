/* The report-script parser: a recursive-descent reading of ghc-events-analyze's Parsec grammar
 * (Script.hs) with Parsec's Haskell lexer rules — Unicode whitespace, `--` and nested `{- -}`
 * comments, Haskell string escapes, decimal/0x/0o naturals — into the AST of script.h. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "script.h"

#include "err.h"

#include <errno.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DEPTH = 200 }; /* deepest [ ] nesting accepted (bounds the recursion) */

struct script {
    script_cmd_t *cmds;
    size_t n_cmds, cap_cmds;
    void **allocs; /* strings and filter nodes, freed together */
    size_t n_allocs, cap_allocs;
    pcre2_code **regexes;
    size_t n_regexes, cap_regexes;
    char error[512];
    unsigned err_line, err_col;
};

typedef struct {
    script_t *s;
    const char *name;
    const uint8_t *src;
    size_t len, pos;
    unsigned line, col;
    uint8_t *scratch; /* room for the longest string literal: len bytes */
} parser_t;

#define END_OF_INPUT UINT32_MAX

/* ---- memory ---------------------------------------------------------------------------- */

static bool grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return true;
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    void *n = realloc(*arr, ncap * elem);
    if (!n) return false;
    *arr = n;
    *cap = ncap;
    return true;
}

/* Allocates zeroed memory owned by s (freed by script_drop). */
static void *own(script_t *s, size_t size)
{
    if (!grow((void **)&s->allocs, &s->cap_allocs, s->n_allocs + 1, sizeof(void *))) return NULL;
    void *m = calloc(1, size ? size : 1);
    if (m) s->allocs[s->n_allocs++] = m;
    return m;
}

/* Frees the commands, strings, filters and regexes (the error text stays). */
static void script_drop(script_t *s)
{
    for (size_t i = 0; i < s->n_allocs; i++)
        free(s->allocs[i]);
    for (size_t i = 0; i < s->n_regexes; i++)
        pcre2_code_free(s->regexes[i]);
    s->n_allocs = s->n_regexes = s->n_cmds = 0;
}

script_t *script_create(void)
{
    return calloc(1, sizeof(script_t));
}

void script_destroy(script_t *s)
{
    if (!s) return;
    script_drop(s);
    free(s->cmds);
    free(s->allocs);
    free(s->regexes);
    free(s);
}

/* ---- characters -------------------------------------------------------------------------- */

/* Haskell's isSpace: ASCII white space, U+00A0 and the other Unicode space separators. */
static bool is_space(uint32_t c)
{
    return c == ' ' || (c >= 9 && c <= 13) || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x202f || c == 0x205f || c == 0x3000;
}

static bool is_digit(uint32_t c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(uint32_t c)
{
    uint32_t l = c | 0x20; /* lower case for ASCII letters */
    return is_digit(c) ? (int)(c - '0') : l >= 'a' && l <= 'f' ? (int)(l - 'a' + 10) : -1;
}

/* Parsec's identLetter for haskellDef is alphaNum or one of _'#; any other non-ASCII character
 * after a keyword is an error either way, so it counts as a letter here. */
static bool is_ident_letter(uint32_t c)
{
    return (c < 0x80 && (is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         c == '_' || c == '\'' || c == '#')) ||
           (c >= 0x80 && c != END_OF_INPUT && !is_space(c));
}

/* Decodes the UTF-8 sequence at s[0..n); returns its length and sets *cp, or 0 if invalid
 * (overlong forms, surrogates and values above U+10FFFF are invalid, as in GHC's decoder). */
static size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    uint8_t b = n ? s[0] : 0xff;
    size_t len = b < 0x80                 ? 1
                 : b >= 0xc2 && b <= 0xdf ? 2
                 : b >= 0xe0 && b <= 0xef ? 3
                 : b >= 0xf0 && b <= 0xf4 ? 4
                                          : 0;
    if (len == 0 || n < len) return 0;
    uint32_t c = len == 1 ? b : b & (0x7fu >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3fu);
    }
    if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    *cp = c;
    return len;
}

/* Writes the UTF-8 form of c (surrogates become U+FFFD, as Data.Text.pack does); returns its
 * length. */
static size_t utf8_encode(uint32_t c, uint8_t *out)
{
    static const uint8_t lead[5] = {0, 0x00, 0xc0, 0xe0, 0xf0};
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    size_t n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    for (size_t i = n - 1; i > 0; i--, c >>= 6)
        out[i] = (uint8_t)(0x80 | (c & 0x3f));
    out[0] = (uint8_t)(lead[n] | c);
    return n;
}

/* ---- parser state and errors ------------------------------------------------------------- */

/* The code point at the cursor (END_OF_INPUT at the end); the input is valid UTF-8. */
static uint32_t cur(const parser_t *p)
{
    uint32_t c;
    if (p->pos >= p->len || !utf8_decode(p->src + p->pos, p->len - p->pos, &c)) return END_OF_INPUT;
    return c;
}

/* Moves past the code point at the cursor, keeping Parsec's line/column (tab stops of 8). */
static void advance(parser_t *p)
{
    uint32_t c;
    size_t n = p->pos < p->len ? utf8_decode(p->src + p->pos, p->len - p->pos, &c) : 0;
    if (n == 0) return;
    p->pos += n;
    if (c == '\n') {
        p->line++;
        p->col = 1;
    } else if (c == '\t') {
        p->col += 8 - ((p->col - 1) % 8);
    } else {
        p->col++;
    }
}

static bool starts(const parser_t *p, const char *lit)
{
    size_t n = strlen(lit);
    return p->len - p->pos >= n && memcmp(p->src + p->pos, lit, n) == 0;
}

/* Records an error at (line, col) and returns code. */
static int fail_at(parser_t *p, int code, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail_at(parser_t *p, int code, unsigned line, unsigned col, const char *fmt, ...)
{
    script_t *s = p->s;
    int n = snprintf(s->error, sizeof s->error, "%s:%u:%u: ", p->name, line, col);
    if (n < 0 || (size_t)n >= sizeof s->error) n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->error + n, sizeof s->error - (size_t)n, fmt, ap);
    va_end(ap);
    s->err_line = line;
    s->err_col = col;
    return code;
}

/* Describes the code point at the cursor for an "unexpected ..." message. */
static const char *describe(const parser_t *p, char *buf, size_t cap)
{
    uint32_t c = cur(p);
    if (c == END_OF_INPUT) return "end of input";
    if (c == '\n') return "end of line";
    size_t n = 0; /* a word is shown whole */
    while (p->pos + n < p->len && p->src[p->pos + n] < 0x80 && is_ident_letter(p->src[p->pos + n]))
        n++;
    if (n > 1)
        snprintf(buf, cap, "\"%.*s\"", (int)(n < 20 ? n : 20), (const char *)p->src + p->pos);
    if (n <= 1 && c > ' ' && c < 0x7f) snprintf(buf, cap, "'%c'", (char)c);
    if (c <= ' ' || c >= 0x7f) snprintf(buf, cap, "U+%04X", (unsigned)c);
    return buf;
}

/* An error at the cursor: "unexpected X, expected WHAT". */
static int fail_expect(parser_t *p, const char *what)
{
    char d[40];
    return fail_at(p, LP_ESCRIPT, p->line, p->col, "unexpected %s, expected %s",
                   describe(p, d, sizeof d), what);
}

/* ---- lexer ------------------------------------------------------------------------------- */

/* Skips white space, `--` line comments and nested `{- -}` block comments. */
static int skip_ws(parser_t *p)
{
    for (;;) {
        if (is_space(cur(p))) {
            advance(p);
        } else if (starts(p, "--")) {
            while (p->pos < p->len && p->src[p->pos] != '\n')
                advance(p);
        } else if (starts(p, "{-")) {
            unsigned line = p->line, col = p->col;
            size_t depth = 0;
            do {
                if (p->pos >= p->len)
                    return fail_at(p, LP_ESCRIPT, line, col, "unterminated {- comment");
                if (starts(p, "-}")) {
                    advance(p), advance(p), depth--;
                } else if (starts(p, "{-")) {
                    advance(p), advance(p), depth++;
                } else {
                    advance(p);
                }
            } while (depth > 0);
        } else {
            return 0;
        }
    }
}

/* White space after a token (Parsec's `lexeme`): returns 1, or an error. */
static int lexeme(parser_t *p)
{
    int rc = skip_ws(p);
    return rc < 0 ? rc : 1;
}

/* Parsec's `reserved kw`: kw not followed by an identifier letter, then white space.
 * Returns 1 if it was there, 0 if not (nothing consumed), or an error. */
static int keyword(parser_t *p, const char *kw)
{
    if (!starts(p, kw)) return 0;
    parser_t after = *p;
    for (size_t i = strlen(kw); i > 0; i--)
        advance(&after);
    if (is_ident_letter(cur(&after))) return 0;
    *p = after;
    return lexeme(p);
}

/* Punctuation followed by white space (Parsec's `symbol`). */
static int symbol(parser_t *p, char c)
{
    if (cur(p) != (uint32_t)c) return 0;
    advance(p);
    return lexeme(p);
}

/* The ASCII control-character names of Haskell escapes; 3-letter names are tried first. */
static const char *const ascii_names[] = {
    "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "DLE", "DC1", "DC2", "DC3",
    "DC4", "NAK", "SYN", "ETB", "CAN", "SUB", "ESC", "DEL", "BS",  "HT",  "LF",  "VT",
    "FF",  "CR",  "SO",  "SI",  "EM",  "FS",  "GS",  "RS",  "US",  "SP"};
static const uint8_t ascii_codes[] = {0,  1,  2,  3,  4,  5,  6,  7,   16, 17, 18, 19,
                                      20, 21, 22, 23, 24, 26, 27, 127, 8,  9,  10, 11,
                                      12, 13, 14, 15, 25, 28, 29, 30,  31, 32};

/* Reads a number in `base` at the cursor (at least one digit); values above U+10FFFF fail. */
static int escape_number(parser_t *p, int base, uint32_t *out, unsigned line, unsigned col)
{
    uint32_t v = 0;
    int d = hex_value(cur(p));
    if (d < 0 || d >= base)
        return fail_expect(p, base == 8 ? "octal digits" : "hexadecimal digits");
    for (; d >= 0 && d < base; advance(p), d = hex_value(cur(p)))
        v = v > 0x10ffff ? v : v * (uint32_t)base + (uint32_t)d; /* stops growing when too big */
    if (v > 0x10ffff) return fail_at(p, LP_ESCRIPT, line, col, "character escape above \\1114111");
    *out = v;
    return 1;
}

/* Reads one escape after the backslash: returns 1 with the character in *out, 0 for the empty
 * escape "\&" and a gap "\   \", or an error. */
static int escape(parser_t *p, uint32_t *out, unsigned line, unsigned col)
{
    static const char simple[] = "abfnrtv\\\"'", simple_codes[] = "\a\b\f\n\r\t\v\\\"'";
    uint32_t c = cur(p);
    const char *hit = c && c < 0x80 ? strchr(simple, (int)c) : NULL;
    if (c == '&' || hit || c == 'o' || c == 'x' || c == '^') advance(p);
    if (c == '&') return 0;
    if (is_space(c)) {
        while (is_space(cur(p)))
            advance(p);
        if (cur(p) != '\\') return fail_expect(p, "'\\' to end the string gap");
        advance(p);
        return 0;
    }
    if (hit) {
        *out = (uint8_t)simple_codes[hit - simple];
        return 1;
    }
    if (is_digit(c) || c == 'o' || c == 'x')
        return escape_number(p, c == 'o' ? 8 : c == 'x' ? 16 : 10, out, line, col);
    if (c == '^') {
        uint32_t u = cur(p);
        if (u < 'A' || u > 'Z') return fail_expect(p, "an upper-case letter after \\^");
        advance(p);
        *out = u - 'A' + 1;
        return 1;
    }
    for (size_t i = 0; i < sizeof ascii_codes; i++) {
        if (starts(p, ascii_names[i])) {
            for (size_t k = strlen(ascii_names[i]); k > 0; k--)
                advance(p);
            *out = ascii_codes[i];
            return 1;
        }
    }
    return fail_at(p, LP_ESCRIPT, line, col, "invalid escape sequence in string literal");
}

/* Reads a Haskell string literal (the cursor is on its '"') and the white space after it into
 * a NUL-terminated copy owned by the script. */
static int string_lit(parser_t *p, const char **out, size_t *out_len)
{
    unsigned line = p->line, col = p->col;
    size_t n = 0; /* decoded bytes in p->scratch; escapes never make text longer */
    advance(p);
    for (uint32_t c; (c = cur(p)) != '"';) {
        unsigned eline = p->line, ecol = p->col;
        int rc = 1;
        if (c == END_OF_INPUT) return fail_at(p, LP_ESCRIPT, line, col, "unterminated string");
        advance(p);
        if (c == '\\')
            rc = escape(p, &c, eline, ecol);
        else if (c == '\n')
            rc = fail_at(p, LP_ESCRIPT, eline, ecol, "end of line inside a string (write \\n)");
        else if (c <= 26)
            rc = fail_at(p, LP_ESCRIPT, eline, ecol,
                         "control character U+%04X inside a string (use an escape)", (unsigned)c);
        if (rc < 0) return rc;
        if (rc > 0) n += utf8_encode(c, p->scratch + n);
    }
    advance(p);
    char *kept = own(p->s, n + 1);
    if (!kept) return LP_ENOMEM;
    memcpy(kept, p->scratch, n);
    *out = kept;
    *out_len = n;
    return skip_ws(p);
}

/* Parsec's `natural`: decimal, 0x/0X hex or 0o/0O octal, then white space. The value wraps
 * modulo 2^32 as the old tool's fromIntegral to a ThreadId (Word32) does. */
static int natural(parser_t *p, uint32_t *out)
{
    int base = 10;
    if (cur(p) == '0') {
        advance(p);
        uint32_t c = cur(p);
        if (c == 'x' || c == 'X' || c == 'o' || c == 'O') {
            advance(p);
            base = (c == 'x' || c == 'X') ? 16 : 8;
            int d = hex_value(cur(p));
            if (d < 0 || d >= base)
                return fail_expect(p, base == 16 ? "hexadecimal digits" : "octal digits");
        }
    }
    uint32_t v = 0;
    for (int d; (d = hex_value(cur(p))) >= 0 && d < base; advance(p))
        v = v * (uint32_t)base + (uint32_t)d;
    *out = v;
    return skip_ws(p);
}

/* ---- grammar ----------------------------------------------------------------------------- */

/* <id> ::= STRING | NATURAL | "GC". Returns 1 if parsed, 0 if none starts here, or an error. */
static int event_id(parser_t *p, script_id_t *id)
{
    memset(id, 0, sizeof *id);
    uint32_t c = cur(p);
    int rc;
    if (c == '"') {
        id->kind = SCRIPT_ID_USER;
        rc = string_lit(p, &id->label, &id->label_len);
    } else if (is_digit(c)) {
        id->kind = SCRIPT_ID_THREAD;
        rc = natural(p, &id->tid);
    } else {
        id->kind = SCRIPT_ID_GC;
        return keyword(p, "GC");
    }
    return rc < 0 ? rc : 1;
}

static int compile_regex(parser_t *p, script_filter_t *f, unsigned line, unsigned col)
{
    script_t *s = p->s;
    if (!grow((void **)&s->regexes, &s->cap_regexes, s->n_regexes + 1, sizeof(pcre2_code *)))
        return LP_ENOMEM;
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)f->pattern, f->pattern_len, PCRE2_MULTILINE,
                                   &errcode, &erroff, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(errcode, msg, sizeof msg) < 0) strcpy((char *)msg, "error");
        return fail_at(p, LP_EREGEX, line, col,
                       "invalid regular expression \"%.100s\": %s at offset %zu", f->pattern,
                       (const char *)msg, (size_t)erroff);
    }
    s->regexes[s->n_regexes++] = re;
    f->regex = re;
    return 0;
}

static int filter(parser_t *p, script_filter_t *f, int depth);

/* "[" <filter> ("," <filter>)* "]" — the cursor is past the '['. */
static int filter_list(parser_t *p, script_filter_t *f, int depth)
{
    if (depth >= MAX_DEPTH)
        return fail_at(p, LP_ESCRIPT, p->line, p->col, "[ ] lists nested deeper than %d",
                       MAX_DEPTH);
    script_filter_t *items = NULL;
    size_t n = 0, cap = 0;
    int rc;
    for (;;) {
        if (!grow((void **)&items, &cap, n + 1, sizeof *items)) {
            rc = LP_ENOMEM;
            break;
        }
        rc = filter(p, &items[n], depth + 1);
        if (rc == 0) rc = fail_expect(p, "a filter");
        if (rc < 0) break;
        n++;
        if ((rc = symbol(p, ',')) != 0) {
            if (rc < 0) break;
            continue;
        }
        if ((rc = symbol(p, ']')) == 0) rc = fail_expect(p, "',' or ']'");
        break;
    }
    script_filter_t *kept = rc > 0 ? own(p->s, n * sizeof *kept) : NULL;
    if (rc > 0 && !kept) rc = LP_ENOMEM;
    if (rc > 0) {
        memcpy(kept, items, n * sizeof *kept);
        *f = (script_filter_t){.kind = SCRIPT_FILTER_ANY, .items = kept, .n_items = n};
    }
    free(items);
    return rc;
}

/* <filter> ::= <id> | "user" | "thread" [STRING] | "[" <filter> ("," <filter>)* "]".
 * Returns 1 if parsed, 0 if no filter starts here, or an error. */
static int filter(parser_t *p, script_filter_t *f, int depth)
{
    memset(f, 0, sizeof *f);
    int rc = event_id(p, &f->id);
    if (rc != 0) {
        f->kind = SCRIPT_FILTER_ID;
        return rc;
    }
    if ((rc = keyword(p, "user")) != 0) {
        f->kind = SCRIPT_FILTER_USER;
        return rc;
    }
    if ((rc = keyword(p, "thread")) != 0) {
        if (rc < 0) return rc;
        f->kind = SCRIPT_FILTER_THREAD;
        f->names = SCRIPT_NAMES_ALL;
        if (cur(p) != '"') return 1;
        unsigned line = p->line, col = p->col;
        if ((rc = string_lit(p, &f->pattern, &f->pattern_len)) < 0) return rc;
        f->names = SCRIPT_NAMES_MATCH;
        if (f->pattern_len > 0 && f->pattern[0] == '-') {
            f->names = SCRIPT_NAMES_NOT_MATCH;
            f->pattern++;
            f->pattern_len--;
        }
        rc = compile_regex(p, f, line, col);
        return rc < 0 ? rc : 1;
    }
    if ((rc = symbol(p, '[')) != 0) return rc < 0 ? rc : filter_list(p, f, depth);
    return 0;
}

/* Optional ("as" STRING). */
static int title_opt(parser_t *p, script_cmd_t *cmd)
{
    int rc = keyword(p, "as");
    if (rc <= 0) return rc;
    if (cur(p) != '"') return fail_expect(p, "a string after \"as\"");
    return string_lit(p, &cmd->title, &cmd->title_len);
}

/* Optional ("by" ("total" | "name" | "start")). */
static int sort_opt(parser_t *p, script_cmd_t *cmd)
{
    static const char *const names[] = {"total", "name", "start"};
    static const script_sort_t sorts[] = {SCRIPT_SORT_TOTAL, SCRIPT_SORT_NAME, SCRIPT_SORT_START};
    int rc = keyword(p, "by");
    if (rc <= 0) return rc;
    for (int i = 0; i < 3; i++) {
        if ((rc = keyword(p, names[i])) != 0) {
            cmd->sort = sorts[i];
            return rc < 0 ? rc : 0;
        }
    }
    return fail_expect(p, "total, name or start after \"by\"");
}

/* The <filter> after "all"/"sum"; `expected` describes it for an error. */
static int command_filter(parser_t *p, script_cmd_t *cmd, const char *expected)
{
    script_filter_t *f = own(p->s, sizeof *f);
    if (!f) return LP_ENOMEM;
    int rc = filter(p, f, 0);
    if (rc == 0) return fail_expect(p, expected);
    cmd->filter = f;
    return rc < 0 ? rc : 0;
}

/* One <command>. Returns 1 if parsed, 0 if no command starts here, or an error. */
static int command(parser_t *p, script_cmd_t *cmd)
{
    memset(cmd, 0, sizeof *cmd);
    cmd->line = p->line;
    cmd->column = p->col;
    int rc;
    if ((rc = keyword(p, "section")) != 0) {
        if (rc < 0) return rc;
        cmd->kind = SCRIPT_CMD_SECTION;
        if (cur(p) != '"') return fail_expect(p, "a string after \"section\"");
        rc = string_lit(p, &cmd->title, &cmd->title_len);
    } else if ((rc = event_id(p, &cmd->id)) != 0) {
        if (rc < 0) return rc;
        cmd->kind = SCRIPT_CMD_ID;
        rc = title_opt(p, cmd);
    } else if ((rc = keyword(p, "sum")) != 0) {
        if (rc < 0) return rc;
        cmd->kind = SCRIPT_CMD_SUM;
        rc = command_filter(p, cmd, "a filter (GC, \"label\", id, user, thread, [..]) after sum");
        if (rc == 0) rc = title_opt(p, cmd);
    } else if ((rc = keyword(p, "all")) != 0) {
        if (rc < 0) return rc;
        cmd->kind = SCRIPT_CMD_ALL;
        rc = command_filter(p, cmd, "a filter (GC, \"label\", id, user, thread, [..]) after all");
        if (rc == 0) rc = sort_opt(p, cmd);
    } else {
        return 0;
    }
    return rc < 0 ? rc : 1;
}

/* Checks that the input is UTF-8 (the old tool reads scripts as UTF-8 text). */
static int check_utf8(parser_t *p)
{
    while (p->pos < p->len) {
        uint32_t c;
        if (!utf8_decode(p->src + p->pos, p->len - p->pos, &c))
            return fail_at(p, LP_ESCRIPT, p->line, p->col, "invalid UTF-8 (byte 0x%02x)",
                           p->src[p->pos]);
        advance(p);
    }
    p->pos = 0;
    p->line = p->col = 1;
    return 0;
}

int script_parse(script_t *s, const char *name, const char *text, size_t len)
{
    if (!s || (!text && len)) return LP_EARG;
    script_drop(s);
    s->error[0] = '\0';
    s->err_line = s->err_col = 0;
    parser_t p = {s, name ? name : "script", (const uint8_t *)text, len, 0, 1, 1, malloc(len + 1)};
    int rc = p.scratch ? check_utf8(&p) : LP_ENOMEM;
    if (rc == 0) rc = skip_ws(&p);
    while (rc == 0) {
        script_cmd_t cmd;
        rc = command(&p, &cmd);
        if (rc <= 0) break;
        if (!grow((void **)&s->cmds, &s->cap_cmds, s->n_cmds + 1, sizeof cmd)) {
            rc = LP_ENOMEM;
            break;
        }
        s->cmds[s->n_cmds++] = cmd;
        rc = 0;
    }
    if (rc == 0 && p.pos < p.len)
        rc = fail_expect(&p, "a command (section, GC, \"label\", thread id, all, sum)");
    if (rc == 0 && s->n_cmds == 0) rc = fail_expect(&p, "at least one command");
    if (rc == LP_ENOMEM) fail_at(&p, rc, p.line, p.col, "out of memory");
    if (rc < 0) script_drop(s);
    free(p.scratch);
    return rc;
}

int script_parse_file(script_t *s, const char *path)
{
    if (!s || !path) return LP_EARG;
    FILE *f = fopen(path, "rb");
    int err = f ? 0 : errno;
    char *buf = NULL;
    size_t len = 0, cap = 0, got = 1;
    while (f && got > 0 && grow((void **)&buf, &cap, len + 65536, 1))
        len += got = fread(buf + len, 1, cap - len, f);
    if (f) err = ferror(f) ? EIO : got ? ENOMEM : 0;
    if (f) fclose(f);
    int rc = err == ENOMEM ? LP_ENOMEM : err ? LP_EIO : script_parse(s, path, buf, len);
    if (err) {
        script_drop(s);
        snprintf(s->error, sizeof s->error, "%s: cannot read: %s", path, strerror(err));
    }
    free(buf);
    return rc;
}

/* The default scripts (spec section 7), indented as the help text shows them. */
#define DEFAULT_TOTALS                                                                             \
    "  GC\n"                                                                                       \
    "  section \"USER EVENTS (user events are corrected for GC)\"\n"                               \
    "  all user by total\n"                                                                        \
    "  sum user\n"                                                                                 \
    "  section \"THREAD EVENTS\"\n"                                                                \
    "  all thread by name\n"                                                                       \
    "  sum thread\n"
#define DEFAULT_TIMED                                                                              \
    "  GC\n"                                                                                       \
    "  section \"USER EVENTS\"\n"                                                                  \
    "  all user by name\n"                                                                         \
    "  section \"THREAD EVENTS\"\n"                                                                \
    "  all thread by name\n"

const char *script_default_text(script_default_t which)
{
    return which == SCRIPT_DEFAULT_TOTALS  ? DEFAULT_TOTALS
           : which == SCRIPT_DEFAULT_TIMED ? DEFAULT_TIMED
                                           : NULL;
}

int script_parse_default(script_t *s, script_default_t which)
{
    const char *text = script_default_text(which);
    if (!s || !text) return LP_EARG;
    return script_parse(s, "default script", text, strlen(text));
}

size_t script_count(const script_t *s)
{
    return s ? s->n_cmds : 0;
}

const script_cmd_t *script_command(const script_t *s, size_t i)
{
    return s && i < s->n_cmds ? &s->cmds[i] : NULL;
}

const char *script_error_text(const script_t *s)
{
    return s ? s->error : "";
}

void script_error_pos(const script_t *s, unsigned *line, unsigned *column)
{
    if (line) *line = s ? s->err_line : 0;
    if (column) *column = s ? s->err_col : 0;
}

/* ---- matching ---------------------------------------------------------------------------- */

/* Whether any label contains a match of the filter's regex. */
static bool any_label_matches(const script_filter_t *f, const char *const *labels, size_t n)
{
    pcre2_match_data *md = f->regex ? pcre2_match_data_create(1, NULL) : NULL;
    bool hit = false;
    for (size_t i = 0; md && i < n && !hit; i++)
        hit = labels[i] && pcre2_match(f->regex, (PCRE2_SPTR)labels[i], PCRE2_ZERO_TERMINATED, 0, 0,
                                       md, NULL) >= 0;
    pcre2_match_data_free(md);
    return hit;
}

/* Matches filter f against id x; for threads, labels[0..n) are the thread's labels. */
static bool match(const script_filter_t *f, const script_id_t *x, const char *const *labels,
                  size_t n)
{
    if (!f) return false;
    switch (f->kind) {
    case SCRIPT_FILTER_ID:
        if (f->id.kind != x->kind) return false;
        if (x->kind == SCRIPT_ID_THREAD) return f->id.tid == x->tid;
        return x->kind == SCRIPT_ID_GC ||
               (f->id.subscript == x->subscript && f->id.label_len == x->label_len &&
                (x->label_len == 0 || memcmp(f->id.label, x->label, x->label_len) == 0));
    case SCRIPT_FILTER_USER:
        return x->kind == SCRIPT_ID_USER;
    case SCRIPT_FILTER_THREAD:
        if (x->kind != SCRIPT_ID_THREAD) return false;
        if (f->names == SCRIPT_NAMES_ALL) return true;
        return any_label_matches(f, labels, n) == (f->names == SCRIPT_NAMES_MATCH);
    case SCRIPT_FILTER_ANY:
        for (size_t i = 0; i < f->n_items; i++)
            if (match(&f->items[i], x, labels, n)) return true;
        return false;
    }
    return false;
}

bool script_filter_match_gc(const script_filter_t *f)
{
    script_id_t x = {.kind = SCRIPT_ID_GC};
    return match(f, &x, NULL, 0);
}

bool script_filter_match_user(const script_filter_t *f, const char *label, size_t len,
                              int64_t subscript)
{
    script_id_t x = {
        .kind = SCRIPT_ID_USER, .label = label, .label_len = len, .subscript = subscript};
    return match(f, &x, NULL, 0);
}

bool script_filter_match_thread(const script_filter_t *f, uint32_t tid, const char *const *labels,
                                size_t n)
{
    script_id_t x = {.kind = SCRIPT_ID_THREAD, .tid = tid};
    return match(f, &x, labels, n);
}

bool script_filter_reads_labels(const script_filter_t *f)
{
    if (!f) return false;
    if (f->kind == SCRIPT_FILTER_THREAD) return f->names != SCRIPT_NAMES_ALL;
    if (f->kind == SCRIPT_FILTER_ANY)
        for (size_t i = 0; i < f->n_items; i++)
            if (script_filter_reads_labels(&f->items[i])) return true;
    return false;
}

const char *script_help_text(void)
{
    return "Scripts drive report generation (--script-totals PATH, --script-timed PATH).\n"
           "A script is one or more commands; each adds rows to the report, in order:\n"
           "\n"
           "  <script>  ::= <command>+\n"
           "  <command> ::= \"section\" STRING               -- empty line, then STRING\n"
           "              | <id> (\"as\" STRING)?            -- one row, even if it never ran\n"
           "              | \"all\" <filter> (\"by\" <sort>)?  -- one row per matching id\n"
           "              | \"sum\" <filter> (\"as\" STRING)?  -- one row: their sum (TOTAL)\n"
           "  <id>      ::= \"GC\"                           -- garbage collection\n"
           "              | STRING                         -- user event with this label\n"
           "              | NATURAL                        -- thread with this id\n"
           "  <filter>  ::= <id>\n"
           "              | \"user\"                         -- every user event\n"
           "              | \"thread\" STRING?               -- threads, see below\n"
           "              | \"[\" <filter> (\",\" <filter>)* \"]\"  -- any of the filters\n"
           "  <sort>    ::= \"total\"                        -- largest total first\n"
           "              | \"name\"                         -- GC, user labels, thread ids\n"
           "              | \"start\"                        -- earliest first start first\n"
           "\n"
           "thread \"RE\" keeps the threads of which some label (a ThreadLabel name, or the\n"
           "decimal thread id) contains a match of the PCRE RE; thread \"-RE\" keeps the threads\n"
           "of which no label matches. Only ids that ran in the report's window are listed by\n"
           "all and sum; without \"by\", rows come in name order. A user event written in a\n"
           "script has subscript 0 (\"START 3 job\" events are not selected by \"job\").\n"
           "\n"
           "STRING is a Haskell string literal (\"...\" with escapes such as \\\" \\\\ \\n \\t\n"
           "\\955 \\x3bb); NATURAL is decimal, 0x hexadecimal or 0o octal. Line breaks and spaces\n"
           "are free; -- starts a comment to the end of the line, {- ... -} is a block comment.\n"
           "\n"
           "The default script for the timed reports is\n"
           "\n" DEFAULT_TIMED "\n"
           "The default script for the totals report is\n"
           "\n" DEFAULT_TOTALS;
}
