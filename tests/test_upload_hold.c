/* Uploads faster than the segment writer: chunks past its soft bound are held unanswered (never
 * refused with 503) and go on when it has room; every session comes out exact. */
#include "test.h"

#include "srvutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define UPLOADS 4

typedef struct upjob {
    const srv_t *s;
    const char *file;
    char err[512]; /* the upload command's stderr file */
    char id[64];
    int status;
} upjob_t;

static void *upload_main(void *arg)
{
    upjob_t *j = arg;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' upload '%s' --server %s --token %s --chunk 8M --wait 2>'%s'",
             tu_liveprof(), j->file, j->s->url, j->s->admin, j->err);
    uint8_t *out = NULL;
    size_t len = 0;
    j->status = tu_run(cmd, &out, &len);
    /* the session id is the last line */
    while (len && (out[len - 1] == '\n' || out[len - 1] == '\r'))
        len--;
    size_t b = len;
    while (b && out[b - 1] != '\n')
        b--;
    snprintf(j->id, sizeof j->id, "%.*s", (int)(len - b), out ? (char *)out + b : "");
    free(out);
    return NULL;
}

TEST(upload_chunks_held_not_refused)
{
    if (test_skip_slow()) return;
    size_t len;
    uint8_t *log = tu_read_file(tu_data("eventlogs/scale-20m.eventlog"), &len);
    REQUIRE(log != NULL);
    char file[512];
    snprintf(file, sizeof file, "%s/scale-20m.eventlog", tu_tmpdir());
    FILE *f = fopen(file, "wb");
    REQUIRE(f && fwrite(log, 1, len, f) == len);
    fclose(f);
    free(log);
    srv_t s;
    srv_start(&s, NULL, "--write-queue 1M"); /* any chunk that comes while one is queued waits */
    upjob_t jobs[UPLOADS];
    pthread_t th[UPLOADS];
    for (int i = 0; i < UPLOADS; i++) {
        jobs[i] = (upjob_t){.s = &s, .file = file};
        snprintf(jobs[i].err, sizeof jobs[i].err, "%s/upload-%d.err", tu_tmpdir(), i);
        REQUIRE(pthread_create(&th[i], NULL, upload_main, &jobs[i]) == 0);
    }
    for (int i = 0; i < UPLOADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < UPLOADS; i++) {
        CHECKF(jobs[i].status == 0, "upload %d exited %d", i, jobs[i].status);
        size_t n;
        char *err = (char *)tu_read_file(jobs[i].err, &n);
        CHECKF(!err || !strstr(err, "retrying"), "upload %d retried: %s", i, err);
        free(err);
        CHECKF(srv_totals_equal(&s, jobs[i].id, "expected/scale-20m/totals/scale-20m.totals.txt"),
               "upload %d (session '%s'): totals.txt differs", i, jobs[i].id);
    }
    httpc_resp_t r;
    REQUIRE(srv_req(&s, "GET", "/metrics", s.admin, NULL, NULL, 0, &r) == 200);
    const char *m = strstr((const char *)r.body, "\nliveprof_upload_chunks_held_total ");
    long long held = m ? atoll(m + 35) : -1;
    /* four uploads of 8 MiB chunks at once: some arrive while another is still queued */
    CHECKF(held > 0, "chunks held: %lld", held);
    httpc_resp_dispose(&r);
    CHECK(srv_stop(&s) == 0);
}
