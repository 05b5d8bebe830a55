/* Helpers shared by the `liveprof dump` tests: running the binary with captured stdout, stderr
 * and exit code, comparing outputs line-wise, and taking a reference dump.txt apart (type lines,
 * event lines, counts) to build the expected output of a cut or spliced log. */
#ifndef LP_DUMPUTIL_H
#define LP_DUMPUTIL_H

#include <stddef.h>
#include <stdint.h>

typedef struct du_run {
    int rc;
    uint8_t *out;
    size_t out_len;
    char *err; /* NUL-terminated */
    size_t err_len;
} du_run_t;

/* Runs `PIPE liveprof dump ARGS` (shell fragments; PIPE may be "" or "cmd | "), capturing
 * stdout, stderr and the exit code into r (free with du_run_free). Test thread only. */
void du_run_pipe(du_run_t *r, const char *pipe, const char *args);
/* du_run_pipe without a pipe. */
void du_run(du_run_t *r, const char *args);
void du_run_free(du_run_t *r);
/* Records a failure naming the first differing line when got != want. */
void du_same(const char *what, const void *got, size_t gl, const void *want, size_t wl);
/* Writes n bytes to path, ending the test on failure. */
void du_write_file(const char *path, const void *p, size_t n);
/* tu_tmpdir()/name, in one of four static slots. */
const char *du_tmp_path(const char *name);

/* A reference dump.txt (expected/<log>/dump.txt[.xz]) and where its parts are. */
typedef struct du_text {
    uint8_t *buf;
    size_t len;
    size_t types_end;  /* end of the `type` lines */
    size_t events_end; /* end of the event lines */
    size_t *ev_start;  /* start of each event line */
    size_t nev;
} du_text_t;

/* Loads expected/<log>/dump.txt; ends the test when it is missing. */
void du_text_load(du_text_t *d, const char *log);
void du_text_free(du_text_t *d);

/* Per-constructor counts, as the `count` lines hold them. */
typedef struct du_summary {
    char name[64][48];
    unsigned long long n[64];
    int count;
} du_summary_t;

/* Adds the constructors of event lines [a, b) of d. */
void du_summary_add(du_summary_t *s, const du_text_t *d, size_t a, size_t b);
/* Writes the sorted `count` lines and `total` into buf (room for 64 * 80 bytes assumed);
 * returns the length. */
size_t du_summary_put(du_summary_t *s, char *buf);
/* The dump of the log cut before its event k: type lines, k event lines and their counts
 * (malloc'd, length in *len). */
char *du_expect_prefix(const du_text_t *d, size_t k, size_t *len);

#endif
