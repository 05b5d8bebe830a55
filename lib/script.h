/* Report scripts of ghc-events-analyze: a parser for its small DSL (the grammar of the old
 * tool's Parsec parser, Haskell lexical rules included) into a flat list of commands with filter
 * trees, PCRE thread filters compiled at parse time, and the two built-in default scripts.
 *
 * Walking a parsed script: for i in 0..script_count(s), cmd = script_command(s, i):
 *   SCRIPT_CMD_SECTION  an empty line and cmd->title in the report.
 *   SCRIPT_CMD_ID       one row for cmd->id, even when it has no interval (the old tool prints 0);
 *                       header = cmd->title if set, else the id's usual name.
 *   SCRIPT_CMD_ALL      one row per id with at least one interval that cmd->filter matches,
 *                       ordered by cmd->sort (SCRIPT_SORT_NONE: id order, see docs/scripts.md).
 *   SCRIPT_CMD_SUM      one row: the sum over the ids cmd->filter matches; header = cmd->title if
 *                       set, else "TOTAL".
 * To test an id against a filter, call script_filter_match_gc/_user/_thread, or walk the tree:
 *   SCRIPT_FILTER_ID      exactly f->id;   SCRIPT_FILTER_USER   every user id;
 *   SCRIPT_FILTER_THREAD  threads whose labels pass f->names / f->pattern;
 *   SCRIPT_FILTER_ANY     any of f->items[0..f->n_items) (n_items >= 1).
 * A parsed script is immutable: any number of threads may read and match it at once. */
#ifndef LP_SCRIPT_H
#define LP_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct script script_t;

typedef enum {
    SCRIPT_ID_GC,     /* `GC` */
    SCRIPT_ID_USER,   /* a string literal: the user event with that label */
    SCRIPT_ID_THREAD, /* a natural number: the thread with that id */
} script_id_kind_t;

typedef struct {
    script_id_kind_t kind;
    /* USER: the label as UTF-8 bytes, NUL-terminated (it may also contain a NUL from "\0") */
    const char *label;
    size_t label_len;
    /* USER: always 0 — the old parser never reads a subscript, so `"job"` is User("job", 0) */
    int64_t subscript;
    /* THREAD: the id (numbers wrap modulo 2^32, as the old tool's conversion to Word32 does) */
    uint32_t tid;
} script_id_t;

typedef enum {
    SCRIPT_FILTER_ID,
    SCRIPT_FILTER_USER,
    SCRIPT_FILTER_THREAD,
    SCRIPT_FILTER_ANY,
} script_filter_kind_t;

typedef enum {
    SCRIPT_NAMES_ALL,       /* `thread`: every thread */
    SCRIPT_NAMES_MATCH,     /* `thread "RE"`: some label of the thread matches RE */
    SCRIPT_NAMES_NOT_MATCH, /* `thread "-RE"`: no label of the thread matches RE */
} script_names_t;

typedef struct script_filter script_filter_t;
struct script_filter {
    script_filter_kind_t kind;
    script_id_t id;       /* ID */
    script_names_t names; /* THREAD */
    /* THREAD with MATCH/NOT_MATCH: the PCRE source (the leading '-' removed), NUL-terminated */
    const char *pattern;
    size_t pattern_len;
    const script_filter_t *items; /* ANY */
    size_t n_items;
    void *regex; /* THREAD with a pattern: the compiled pcre2_code (private to script.c) */
};

typedef enum {
    SCRIPT_CMD_SECTION,
    SCRIPT_CMD_ID,
    SCRIPT_CMD_ALL,
    SCRIPT_CMD_SUM,
} script_cmd_kind_t;

typedef enum {
    SCRIPT_SORT_NONE,  /* no `by` */
    SCRIPT_SORT_TOTAL, /* `by total`: largest total first */
    SCRIPT_SORT_NAME,  /* `by name`: id order (GC < user by label, subscript < thread by id) */
    SCRIPT_SORT_START, /* `by start`: earliest first interval start first */
} script_sort_t;

typedef struct {
    script_cmd_kind_t kind;
    /* SECTION: the title (never NULL); ID and SUM: the `as` title or NULL; ALL: NULL.
     * UTF-8, NUL-terminated; title_len excludes the NUL. */
    const char *title;
    size_t title_len;
    script_id_t id;                /* ID */
    const script_filter_t *filter; /* ALL and SUM */
    script_sort_t sort;            /* ALL */
    unsigned line, column;         /* where the command starts, 1-based (tabs stop every 8) */
} script_cmd_t;

typedef enum {
    SCRIPT_DEFAULT_TOTALS, /* the totals report's script */
    SCRIPT_DEFAULT_TIMED,  /* the timed reports' (SVG and text) script */
} script_default_t;

/* Creates an empty script. Returns NULL when out of memory; the caller owns the result
 * (script_destroy). Any thread. */
script_t *script_create(void);

/* Frees a script, its commands and compiled regexes; NULL is a no-op. Owner's thread. */
void script_destroy(script_t *s);

/* Parses text[0..len) (UTF-8) into s, replacing what s held. `name` (may be NULL) prefixes error
 * messages. Returns 0; LP_ESCRIPT on a syntax error, LP_EREGEX on an invalid thread regex,
 * LP_ENOMEM — after an error s holds no commands and script_error_text says what and where.
 * Borrows text and name; owner's thread. */
int script_parse(script_t *s, const char *name, const char *text, size_t len);

/* Reads the file at path and parses it as script_parse does (errors are prefixed with path);
 * LP_EIO if it cannot be read. Borrows path; owner's thread. */
int script_parse_file(script_t *s, const char *path);

/* Parses one of the built-in default scripts into s. Returns 0 or LP_ENOMEM (LP_EARG for an
 * unknown `which`). Owner's thread. */
int script_parse_default(script_t *s, script_default_t which);

/* Returns the static source text of a default script (NULL for an unknown `which`). Any thread. */
const char *script_default_text(script_default_t which);

/* Returns the number of commands. Any thread once parsed. */
size_t script_count(const script_t *s);

/* Returns command i (NULL if i is out of range); the pointer is owned by s and valid until the
 * next parse or destroy. Any thread once parsed. */
const script_cmd_t *script_command(const script_t *s, size_t i);

/* Returns the last parse error as "NAME:LINE:COLUMN: message" ("" when the last parse
 * succeeded); owned by s. Owner's thread. */
const char *script_error_text(const script_t *s);

/* Stores the 1-based line and column of the last parse error (0, 0 if none). Owner's thread. */
void script_error_pos(const script_t *s, unsigned *line, unsigned *column);

/* Whether filter f matches the GC id. Any thread. */
bool script_filter_match_gc(const script_filter_t *f);

/* Whether filter f matches the user id (label[0..len), subscript). Borrows label. Any thread. */
bool script_filter_match_user(const script_filter_t *f, const char *label, size_t len,
                              int64_t subscript);

/* Whether filter f matches thread tid whose labels are labels[0..n) (NUL-terminated; by the old
 * tool's rules the list holds the ThreadLabel texts and the decimal tid). A thread regex is an
 * unanchored PCRE search (multiline, byte-wise, no UTF mode: the old tool's regex-pcre
 * defaults). Borrows labels. Any thread. */
bool script_filter_match_thread(const script_filter_t *f, uint32_t tid, const char *const *labels,
                                size_t n);
/* Whether matching filter f against a thread reads its labels (some thread filter in it has a
 * regex): when not, script_filter_match_thread takes none. Pure; any thread. */
bool script_filter_reads_labels(const script_filter_t *f);

/* Returns the static help text describing the script language (for --help-script). Any thread. */
const char *script_help_text(void);

#endif
