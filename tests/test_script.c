/* Tests for lib/script.c: the report-script parser against the old tool's Parsec grammar, its
 * error reporting, the default scripts and the thread/user/GC filter matching. */
#include "test.h"

#include "err.h"
#include "script.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Appends to a fixed buffer (tests keep their texts short). */
typedef struct {
    char text[4096];
    size_t len;
} canon_t;

static void put(canon_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(canon_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->text + c->len, sizeof c->text - c->len, fmt, ap);
    va_end(ap);
    if (n > 0) c->len += (size_t)n;
    if (c->len >= sizeof c->text) c->len = sizeof c->text - 1;
}

static void put_hex(canon_t *c, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(c, "%02x", (unsigned char)s[i]);
}

static void put_id(canon_t *c, const script_id_t *id)
{
    if (id->kind == SCRIPT_ID_GC) {
        put(c, "GC");
    } else if (id->kind == SCRIPT_ID_USER) {
        put(c, "U:");
        put_hex(c, id->label, id->label_len);
        put(c, ":%lld", (long long)id->subscript);
    } else {
        put(c, "T:%u", id->tid);
    }
}

static void put_filter(canon_t *c, const script_filter_t *f)
{
    switch (f->kind) {
    case SCRIPT_FILTER_ID:
        put(c, "ID(");
        put_id(c, &f->id);
        put(c, ")");
        break;
    case SCRIPT_FILTER_USER:
        put(c, "USER");
        break;
    case SCRIPT_FILTER_THREAD:
        put(c, "THREAD");
        if (f->names != SCRIPT_NAMES_ALL) {
            put(c, f->names == SCRIPT_NAMES_MATCH ? "+" : "-");
            put_hex(c, f->pattern, f->pattern_len);
        }
        break;
    case SCRIPT_FILTER_ANY:
        put(c, "ANY(");
        for (size_t i = 0; i < f->n_items; i++) {
            if (i) put(c, ",");
            put_filter(c, &f->items[i]);
        }
        put(c, ")");
        break;
    }
}

/* The canonical form the reference harness printed: one line per command, strings in hex, or
 * "ERROR\n" when the parse fails. */
static void canon(const script_t *s, int rc, canon_t *c)
{
    c->len = 0;
    c->text[0] = '\0';
    if (rc < 0) {
        put(c, "ERROR\n");
        return;
    }
    static const char *const sorts[] = {"", " by total", " by name", " by start"};
    for (size_t i = 0; i < script_count(s); i++) {
        const script_cmd_t *cmd = script_command(s, i);
        switch (cmd->kind) {
        case SCRIPT_CMD_SECTION:
            put(c, "section ");
            put_hex(c, cmd->title, cmd->title_len);
            break;
        case SCRIPT_CMD_ID:
            put(c, "id ");
            put_id(c, &cmd->id);
            break;
        case SCRIPT_CMD_SUM:
            put(c, "sum ");
            put_filter(c, cmd->filter);
            break;
        case SCRIPT_CMD_ALL:
            put(c, "all ");
            put_filter(c, cmd->filter);
            put(c, "%s", sorts[cmd->sort]);
            break;
        }
        if (cmd->kind != SCRIPT_CMD_SECTION && cmd->title) {
            put(c, " as ");
            put_hex(c, cmd->title, cmd->title_len);
        }
        put(c, "\n");
    }
}

/* Inputs and what ghc-events-analyze's parser (Script.hs with Parsec 3.1.14 and GHC 9.0.2)
 * made of them, in the canonical form above. */
static const struct {
    const char *input;
    const char *want;
} parsec_cases[] = {
    {"GC", "id GC\n"},
    {"1as \"x\"", "id T:1 as 78\n"},
    {"GC as\"x\"", "id GC as 78\n"},
    {"all thread\n\"compute\"\n", "all THREAD+636f6d70757465\n"},
    {"GC {- a {- b -} c -} GC --> c\nGC", "id GC\nid GC\nid GC\n"},
    {"4294967297 0x100000001 0o17 017 00 0XfF 0O10",
     "id T:1\nid T:1\nid T:15\nid T:17\nid T:0\nid T:255\nid T:8\n"},
    {"all [GC,[user,thread \"a\"],3] by name",
     "all ANY(ID(GC),ANY(USER,THREAD+61),ID(T:3)) by name\n"},
    {"section \"a\\\n  \\b\\&c\\SOH\\SO\\&H\\^Z\\x41\\o101\\65\"",
     "section 616263010e481a414141\n"},
    {"all thread \"-\"", "all THREAD-\n"},
    {"all thread \"\"", "all THREAD+\n"},
    {"GC\302\240as \"nbsp\"\343\200\200GC", "id GC as 6e627370\nid GC\n"},
    {"all thread\"x\"by total", "all THREAD+78 by total\n"},
    {"sum thread \"^worker-[0-9]+$\" as \"workers\"",
     "sum THREAD+5e776f726b65722d5b302d395d2b24 as 776f726b657273\n"},
    {"sum [thread \"-IOManager\", \"compute\", 7]",
     "sum ANY(THREAD-494f4d616e61676572,ID(U:636f6d70757465:0),ID(T:7))\n"},
    {"section \"caf\303\251 \\233 \\128640 \\55296\"",
     "section 636166c3a920c3a920f09f9a8020efbfbd\n"},
    {"\"job\" as \"the job\"\nsum \"job\"",
     "id U:6a6f62:0 as 746865206a6f62\nsum ID(U:6a6f62:0)\n"},
    {"-- only a comment\nGC -- trailing\n{--}all user", "id GC\nall USER\n"},
    {"all user by start\nall thread by name\nall GC by total",
     "all USER by start\nall THREAD by name\nall ID(GC) by total\n"},
    {"section \"x\"section \"y\"", "section 78\nsection 79\n"},
    {"\"\\\"quoted\\\"\" \"back\\\\slash\"",
     "id U:2271756f74656422:0\nid U:6261636b5c736c617368:0\n"},
    {"GC\tas\t\"tab\"", "id GC as 746162\n"},
    {"sum user as \"t\" as \"u\"", "ERROR\n"},
    {"allthread", "ERROR\n"},
    {"all user by", "ERROR\n"},
    {"all user by totals", "ERROR\n"},
    {"sum []", "ERROR\n"},
    {"sum [user,]", "ERROR\n"},
    {"sum [user user]", "ERROR\n"},
    {"section \"tab\there\"", "ERROR\n"},
    {"section \"line\nbreak\"", "ERROR\n"},
    {"section \"unterminated", "ERROR\n"},
    {"{- open comment", "ERROR\n"},
    {"", "ERROR\n"},
    {"   -- nothing\n", "ERROR\n"},
    {"GC1", "ERROR\n"},
    {"GCx as \"y\"", "ERROR\n"},
    {"0x", "ERROR\n"},
    {"0o8", "ERROR\n"},
    {"12abc", "ERROR\n"},
    {"section \"\\q\"", "ERROR\n"},
    {"section \"\\1114112\"", "ERROR\n"},
    {"section \"\\^a\"", "ERROR\n"},
    {"section \"gap \\  x\"", "ERROR\n"},
    {"as \"x\"", "ERROR\n"},
    {"thread", "ERROR\n"},
    {"user", "ERROR\n"},
    {"by total", "ERROR\n"},
    {"all \"a\" as \"b\"", "ERROR\n"},
    {"sum user by total", "ERROR\n"},
    {"GC as GC", "ERROR\n"},
    {"all [user, thread \"w\"] by start", "all ANY(USER,THREAD+77) by start\n"},
    {"section 5", "ERROR\n"},
    {"all [[[[[GC]]]]]", "all ANY(ANY(ANY(ANY(ANY(ID(GC))))))\n"},
    {"\"\303\251t\303\251\"", "id U:c3a974c3a9:0\n"},
    {"GC \303\251", "ERROR\n"},
};

TEST(script_matches_parsec)
{
    script_t *s = script_create();
    REQUIRE(s);
    canon_t got;
    for (size_t i = 0; i < sizeof parsec_cases / sizeof parsec_cases[0]; i++) {
        const char *in = parsec_cases[i].input;
        int rc = script_parse(s, "t", in, strlen(in));
        canon(s, rc, &got);
        CHECKF(strcmp(got.text, parsec_cases[i].want) == 0, "case %zu %s: got %s want %s (%s)", i,
               in, got.text, parsec_cases[i].want, script_error_text(s));
        CHECKF(rc == 0 || rc == LP_ESCRIPT, "case %zu: rc %d", i, rc);
        CHECKF((rc == 0) == (script_error_text(s)[0] == '\0'), "case %zu: error text", i);
    }
    script_destroy(s);
}

static const script_cmd_t *cmd_at(const script_t *s, size_t i)
{
    const script_cmd_t *c = script_command(s, i);
    REQUIRE(c);
    return c;
}

static bool title_is(const script_cmd_t *c, const char *want)
{
    return c->title && c->title_len == strlen(want) && strcmp(c->title, want) == 0;
}

TEST(script_custom_file)
{
    script_t *s = script_create();
    REQUIRE(s);
    const char *path = tu_data("expected/small/script-custom/custom.script");
    int rc = script_parse_file(s, path);
    CHECKF(rc == 0, "rc %d: %s", rc, script_error_text(s));
    REQUIRE(script_count(s) == 8);
    const script_cmd_t *c = cmd_at(s, 0);
    CHECK(c->kind == SCRIPT_CMD_SECTION && title_is(c, "Selected") && c->line == 1 &&
          c->column == 1);
    c = cmd_at(s, 1);
    CHECK(c->kind == SCRIPT_CMD_ID && c->id.kind == SCRIPT_ID_GC &&
          title_is(c, "garbage collection"));
    CHECK(c->line == 2 && c->column == 1);
    c = cmd_at(s, 2);
    CHECK(c->kind == SCRIPT_CMD_ID && c->id.kind == SCRIPT_ID_USER && !c->title);
    CHECK(c->id.label_len == 7 && strcmp(c->id.label, "compute") == 0 && c->id.subscript == 0);
    c = cmd_at(s, 3);
    CHECK(c->kind == SCRIPT_CMD_SUM && c->filter->kind == SCRIPT_FILTER_USER &&
          title_is(c, "all user"));
    c = cmd_at(s, 4);
    CHECK(c->kind == SCRIPT_CMD_SECTION && title_is(c, "Workers of round 2 by total"));
    c = cmd_at(s, 5);
    CHECK(c->kind == SCRIPT_CMD_ALL && c->sort == SCRIPT_SORT_TOTAL && !c->title);
    CHECK(c->filter->kind == SCRIPT_FILTER_THREAD && c->filter->names == SCRIPT_NAMES_MATCH);
    CHECK(strcmp(c->filter->pattern, "worker-2") == 0 && c->filter->regex);
    c = cmd_at(s, 6);
    CHECK(c->kind == SCRIPT_CMD_ALL && c->sort == SCRIPT_SORT_START);
    CHECK(c->filter->names == SCRIPT_NAMES_NOT_MATCH && strcmp(c->filter->pattern, "worker") == 0);
    c = cmd_at(s, 7);
    CHECK(c->kind == SCRIPT_CMD_SUM && !c->title && c->filter->names == SCRIPT_NAMES_MATCH);
    CHECK(c->line == 8);
    CHECK(script_command(s, 8) == NULL);
    script_destroy(s);
}

TEST(script_defaults)
{
    script_t *s = script_create();
    REQUIRE(s);
    REQUIRE(script_parse_default(s, SCRIPT_DEFAULT_TOTALS) == 0);
    REQUIRE(script_count(s) == 7);
    CHECK(cmd_at(s, 0)->kind == SCRIPT_CMD_ID && cmd_at(s, 0)->id.kind == SCRIPT_ID_GC);
    CHECK(title_is(cmd_at(s, 1), "USER EVENTS (user events are corrected for GC)"));
    CHECK(cmd_at(s, 2)->kind == SCRIPT_CMD_ALL && cmd_at(s, 2)->sort == SCRIPT_SORT_TOTAL);
    CHECK(cmd_at(s, 2)->filter->kind == SCRIPT_FILTER_USER);
    CHECK(cmd_at(s, 3)->kind == SCRIPT_CMD_SUM && cmd_at(s, 3)->filter->kind == SCRIPT_FILTER_USER);
    CHECK(title_is(cmd_at(s, 4), "THREAD EVENTS"));
    CHECK(cmd_at(s, 5)->kind == SCRIPT_CMD_ALL && cmd_at(s, 5)->sort == SCRIPT_SORT_NAME);
    CHECK(cmd_at(s, 5)->filter->kind == SCRIPT_FILTER_THREAD);
    CHECK(cmd_at(s, 5)->filter->names == SCRIPT_NAMES_ALL);
    CHECK(cmd_at(s, 6)->kind == SCRIPT_CMD_SUM &&
          cmd_at(s, 6)->filter->kind == SCRIPT_FILTER_THREAD);
    REQUIRE(script_parse_default(s, SCRIPT_DEFAULT_TIMED) == 0);
    REQUIRE(script_count(s) == 5);
    CHECK(cmd_at(s, 0)->id.kind == SCRIPT_ID_GC && !cmd_at(s, 0)->title);
    CHECK(title_is(cmd_at(s, 1), "USER EVENTS"));
    CHECK(cmd_at(s, 2)->kind == SCRIPT_CMD_ALL && cmd_at(s, 2)->sort == SCRIPT_SORT_NAME);
    CHECK(cmd_at(s, 2)->filter->kind == SCRIPT_FILTER_USER);
    CHECK(title_is(cmd_at(s, 3), "THREAD EVENTS"));
    CHECK(cmd_at(s, 4)->filter->kind == SCRIPT_FILTER_THREAD &&
          cmd_at(s, 4)->sort == SCRIPT_SORT_NAME);
    CHECK(script_parse_default(s, (script_default_t)7) == LP_EARG);
    CHECK(script_default_text((script_default_t)7) == NULL);
    script_destroy(s);
}

/* The help text shows both default scripts whole, and the grammar. */
TEST(script_help)
{
    const char *help = script_help_text();
    const char *totals = script_default_text(SCRIPT_DEFAULT_TOTALS);
    const char *timed = script_default_text(SCRIPT_DEFAULT_TIMED);
    REQUIRE(totals && timed);
    const char *at = strstr(help, "totals report is\n\n");
    CHECK(at && strncmp(at + 18, totals, strlen(totals)) == 0);
    at = strstr(help, "timed reports is\n\n");
    CHECK(at && strncmp(at + 18, timed, strlen(timed)) == 0);
    const char *words[] = {
        "section",       "\"all\" <filter>", "\"sum\" <filter>", "\"thread\"", "\"user\"",
        "\"by\" <sort>", "\"start\"",        "\"-RE\"",          "{-",         "PCRE"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        CHECKF(strstr(help, words[i]) != NULL, "help lacks %s", words[i]);
}

static const struct {
    const char *input;
    int rc;
    unsigned line, col;
    const char *msg; /* a fragment of the message */
} error_cases[] = {
    {"", LP_ESCRIPT, 1, 1, "end of input"},
    {"  -- c\n  ", LP_ESCRIPT, 2, 3, "at least one command"},
    {"GC\nGCx", LP_ESCRIPT, 2, 1, "expected a command"},
    {"GC\n  as", LP_ESCRIPT, 2, 5, "after \"as\""},
    {"section GC", LP_ESCRIPT, 1, 9, "after \"section\""},
    {"all", LP_ESCRIPT, 1, 4, "a filter"},
    {"sum by", LP_ESCRIPT, 1, 5, "a filter"},
    {"all user by totals", LP_ESCRIPT, 1, 13,
     "unexpected \"totals\", expected total, name or start"},
    {"all [user thread]", LP_ESCRIPT, 1, 11, "',' or ']'"},
    {"all [user,]", LP_ESCRIPT, 1, 11, "a filter"},
    {"all []", LP_ESCRIPT, 1, 6, "a filter"},
    {"\tsection \"x", LP_ESCRIPT, 1, 17, "unterminated string"},
    {"GC {- a {- b -}", LP_ESCRIPT, 1, 4, "unterminated {- comment"},
    {"section \"a\nb\"", LP_ESCRIPT, 1, 11, "end of line"},
    {"section \"a\tb\"", LP_ESCRIPT, 1, 11, "control character U+0009"},
    {"section \"\\q\"", LP_ESCRIPT, 1, 10, "invalid escape"},
    {"section \"\\1114112\"", LP_ESCRIPT, 1, 10, "above"},
    {"section \"\\^a\"", LP_ESCRIPT, 1, 12, "upper-case"},
    {"section \"a\\  b\"", LP_ESCRIPT, 1, 14, "string gap"},
    {"section \"\\xg\"", LP_ESCRIPT, 1, 12, "hexadecimal"},
    {"0x", LP_ESCRIPT, 1, 3, "hexadecimal"},
    {"0o9", LP_ESCRIPT, 1, 3, "octal"},
    {"GC\n\xff", LP_ESCRIPT, 2, 1, "invalid UTF-8"},
    {"GC \xed\xa0\x80", LP_ESCRIPT, 1, 4, "invalid UTF-8"},
    {"all thread \"(\"", LP_EREGEX, 1, 12, "invalid regular expression \"(\""},
    {"GC\nsum [GC, thread \"-a[\"]", LP_EREGEX, 2, 17, "invalid regular expression \"a[\""},
};

TEST(script_errors)
{
    script_t *s = script_create();
    REQUIRE(s);
    REQUIRE(script_parse(s, "x.script", "GC", 2) == 0 && script_count(s) == 1);
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        const char *in = error_cases[i].input;
        int rc = script_parse(s, "x.script", in, strlen(in));
        unsigned line, col;
        script_error_pos(s, &line, &col);
        const char *msg = script_error_text(s);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "x.script:%u:%u: ", error_cases[i].line,
                 error_cases[i].col);
        CHECKF(rc == error_cases[i].rc, "case %zu: rc %d", i, rc);
        CHECKF(line == error_cases[i].line && col == error_cases[i].col, "case %zu: at %u:%u: %s",
               i, line, col, msg);
        CHECKF(strncmp(msg, prefix, strlen(prefix)) == 0 && strstr(msg, error_cases[i].msg),
               "case %zu: message %s", i, msg);
        CHECKF(script_count(s) == 0, "case %zu: commands kept after an error", i);
    }
    REQUIRE(script_parse(s, NULL, "GC", 2) == 0);
    CHECK(script_error_text(s)[0] == '\0');
    CHECK(script_parse(s, NULL, "GC x", 4) == LP_ESCRIPT);
    CHECK(strncmp(script_error_text(s), "script:1:4: ", 12) == 0);
    CHECK(script_parse_file(s, "no/such/file.script") == LP_EIO);
    CHECK(strstr(script_error_text(s), "no/such/file.script") != NULL);
    CHECK(script_parse(NULL, NULL, "GC", 2) == LP_EARG);
    script_destroy(s);
    script_destroy(NULL);
}

static const script_filter_t *filter_of(script_t *s, const char *text)
{
    int rc = script_parse(s, NULL, text, strlen(text));
    CHECKF(rc == 0, "%s: %s", text, script_error_text(s));
    REQUIRE(rc == 0);
    return cmd_at(s, 0)->filter;
}

TEST(script_match_thread)
{
    script_t *s = script_create();
    REQUIRE(s);
    const char *worker[] = {"worker-2-1", "12"};
    const char *manager[] = {"IOManager on cap 0", "2"};
    const char *bare[] = {"24"};
    /* An unanchored search over every label, the decimal tid included. */
    const script_filter_t *f = filter_of(s, "all thread \"worker-2\"");
    CHECK(script_filter_match_thread(f, 12, worker, 2));
    CHECK(!script_filter_match_thread(f, 2, manager, 2));
    CHECK(!script_filter_match_gc(f) && !script_filter_match_user(f, "worker-2", 8, 0));
    f = filter_of(s, "all thread \"-worker\"");
    CHECK(!script_filter_match_thread(f, 12, worker, 2));
    CHECK(script_filter_match_thread(f, 2, manager, 2) &&
          script_filter_match_thread(f, 24, bare, 1));
    f = filter_of(s, "all thread \"^2$\"");
    CHECK(script_filter_match_thread(f, 2, manager, 2) &&
          !script_filter_match_thread(f, 24, bare, 1));
    f = filter_of(s, "all thread \"cap \\\\d\"");
    CHECK(script_filter_match_thread(f, 2, manager, 2) &&
          !script_filter_match_thread(f, 12, worker, 2));
    /* Multiline, as regex-pcre's default: ^ matches after a newline inside a label. */
    const char *two_lines[] = {"first\nsecond", "9"};
    f = filter_of(s, "all thread \"^second\"");
    CHECK(script_filter_match_thread(f, 9, two_lines, 2));
    f = filter_of(s, "all thread \"\"");
    CHECK(script_filter_match_thread(f, 24, bare, 1));
    f = filter_of(s, "all thread \"-\"");
    CHECK(!script_filter_match_thread(f, 24, bare, 1));
    f = filter_of(s, "all thread");
    CHECK(script_filter_match_thread(f, 24, bare, 1) && script_filter_match_thread(f, 1, NULL, 0));
    f = filter_of(s, "all [7, thread \"IOManager\"]");
    const char *seven[] = {"7"};
    CHECK(script_filter_match_thread(f, 7, seven, 1) &&
          script_filter_match_thread(f, 2, manager, 2));
    CHECK(!script_filter_match_thread(f, 24, bare, 1));
    f = filter_of(s, "all 0x18");
    CHECK(script_filter_match_thread(f, 24, bare, 1) &&
          !script_filter_match_thread(f, 7, seven, 1));
    /* Only a thread regex reads the labels: without one, a match needs none of them. */
    CHECK(!script_filter_reads_labels(filter_of(s, "all thread")));
    CHECK(!script_filter_reads_labels(filter_of(s, "all [user, 7, GC, thread]")));
    CHECK(script_filter_reads_labels(filter_of(s, "all thread \"-x\"")));
    CHECK(script_filter_reads_labels(filter_of(s, "all [user, [7, thread \"x\"]]")));
    CHECK(!script_filter_reads_labels(NULL));
    script_destroy(s);
}

TEST(script_match_user_gc)
{
    script_t *s = script_create();
    REQUIRE(s);
    const script_filter_t *f = filter_of(s, "sum \"job\"");
    CHECK(script_filter_match_user(f, "job", 3, 0));
    CHECK(!script_filter_match_user(f, "job", 3, 3)); /* a script label has subscript 0 */
    CHECK(!script_filter_match_user(f, "jobs", 4, 0) && !script_filter_match_user(f, "jo", 2, 0));
    CHECK(!script_filter_match_gc(f) && !script_filter_match_thread(f, 1, NULL, 0));
    f = filter_of(s, "sum user");
    CHECK(script_filter_match_user(f, "x", 1, -2) && !script_filter_match_gc(f));
    const char *one[] = {"1"};
    CHECK(!script_filter_match_thread(f, 1, one, 1));
    f = filter_of(s, "sum [GC, [\"a\\0b\"]]");
    CHECK(script_filter_match_gc(f) && script_filter_match_user(f, "a\0b", 3, 0));
    CHECK(!script_filter_match_user(f, "a", 1, 0) && !script_filter_match_thread(f, 1, one, 1));
    f = filter_of(s, "sum \"\"");
    CHECK(script_filter_match_user(f, "", 0, 0));
    CHECK(!script_filter_match_gc(NULL) && !script_filter_match_user(NULL, "", 0, 0));
    script_destroy(s);
}

static unsigned long long sc_rng = 0x2545f4914f6cdd1dULL;
static unsigned sc_next(unsigned n)
{
    sc_rng ^= sc_rng << 13;
    sc_rng ^= sc_rng >> 7;
    sc_rng ^= sc_rng << 17;
    return (unsigned)(sc_rng % n);
}

/* Mutated and random inputs never crash; a parse either yields commands or an error text. */
TEST(script_robust)
{
    static const char base[] = "section \"Selected\"\nGC as \"gc\" {- c {- d -} -}\n\"compute\"\n"
                               "sum [user, thread \"-w\\\\d+\", 0x1f] as \"all\\n\\SOH\\233\"\n"
                               "all thread \"worker-2\" by total -- end\nall user by start\n";
    static const char alphabet[] = "\"\\[],-{}# \n\tax0\x01\xc3\xa9\xff";
    script_t *s = script_create();
    REQUIRE(s);
    char buf[sizeof base + 64];
    size_t ok = 0;
    int iters = test_skip_slow() ? 5000 : 20000;
    for (int iter = 0; iter < iters; iter++) {
        size_t n = sizeof base - 1;
        memcpy(buf, base, n);
        for (unsigned k = sc_next(4); k > 0; k--) {
            size_t at = sc_next((unsigned)n + 1);
            unsigned op = sc_next(3);
            if (op == 0 && n + 1 < sizeof buf) {
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = alphabet[sc_next(sizeof alphabet - 1)];
                n++;
            } else if (op == 1 && at < n) {
                memmove(buf + at, buf + at + 1, n - at - 1);
                n--;
            } else if (at < n) {
                buf[at] = (char)sc_next(256);
            }
        }
        if (iter % 7 == 0) n = sc_next((unsigned)n + 1); /* truncated */
        int rc = script_parse(s, NULL, buf, n);
        if (rc == 0) {
            ok++;
            CHECK(script_count(s) > 0);
        } else {
            CHECKF(rc == LP_ESCRIPT || rc == LP_EREGEX, "rc %d", rc);
            CHECK(script_error_text(s)[0] != '\0' && script_count(s) == 0);
        }
    }
    CHECKF(ok > (size_t)iters / 20, "only %zu mutated scripts parsed", ok);
    /* Deep nesting is refused, not recursed into without bound. */
    size_t deep = 100000;
    char *big = malloc(deep * 2 + 8);
    REQUIRE(big);
    memcpy(big, "all ", 4);
    memset(big + 4, '[', deep);
    CHECK(script_parse(s, NULL, big, deep + 4) == LP_ESCRIPT);
    CHECK(strstr(script_error_text(s), "nested") != NULL);
    /* 150 levels are fine. */
    memset(big + 4, '[', 150);
    memcpy(big + 154, "GC", 2);
    memset(big + 156, ']', 150);
    CHECK(script_parse(s, NULL, big, 306) == 0);
    /* Many commands and long strings. */
    size_t len = 0;
    for (int i = 0; i < 5000; i++)
        len += (size_t)sprintf(big + len, "\"label%d\" ", i);
    CHECK(script_parse(s, NULL, big, len) == 0 && script_count(s) == 5000);
    CHECK(strcmp(cmd_at(s, 4999)->id.label, "label4999") == 0);
    free(big);
    script_destroy(s);
}
