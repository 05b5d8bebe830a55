/* Browser end-to-end tests: the real server serving the built front end (build/web) and its
 * WebSocket port, driven in headless Debian chromium by playwright-core scripts in
 * tests/browser/. Screenshots go to
 * build/test-artifacts/browser/<test>/. Slow (a browser start each): skipped by --skip-slow. */
#include "srvutil.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ARTIFACTS "build/test-artifacts/browser"

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Fails the test unless chromium, the npm packages and the built front end are there. */
static void require_browser_kit(void)
{
    const char *chromium = getenv("LIVEPROF_CHROMIUM");
    if (!chromium || !*chromium) chromium = "/usr/bin/chromium";
    CHECKF(exists(chromium), "%s is missing: install Debian's chromium (scripts/deps.sh)",
           chromium);
    CHECKF(exists("web/node_modules/playwright-core/package.json"),
           "web/node_modules has no playwright-core: run scripts/deps.sh (npm ci in web/)");
    CHECKF(exists("build/web/app.js") && exists("build/web/index.html"),
           "build/web is not built: run make web");
    if (!exists(chromium) || !exists("web/node_modules/playwright-core/package.json") ||
        !exists("build/web/app.js"))
        test_abort();
}

/* Starts the server on the built front end (with more flags, may be "") with a known WebSocket
 * port. */
static void start_with(srv_t *s, char *ws_url, size_t cap, const char *flags)
{
    char all[256];
    snprintf(all, sizeof all, "--web build/web %s", flags);
    srv_start(s, NULL, all);
    snprintf(ws_url, cap, "ws://127.0.0.1:%d", s->ws_port);
}

static void start(srv_t *s, char *ws_url, size_t cap)
{
    start_with(s, ws_url, cap, "");
}

/* Runs `node tests/browser/<script> ...` with a time limit; prints its output, checks that it
 * exited 0 and passed every check. */
static void run_script(const char *script, const srv_t *s, const char *ws_url, const char *name,
                       const char *args)
{
    char outdir[256], cmd[4096];
    snprintf(outdir, sizeof outdir, ARTIFACTS "/%s", name);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && rm -f '%s'/*.png", outdir, outdir);
    REQUIRE(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "timeout -k 5 150 node tests/browser/%s '%s' '%s' '%s' '%s' %s 2>&1",
             script, s->url, ws_url, s->admin, outdir, args);
    uint8_t *out = NULL;
    size_t n = 0;
    int rc = tu_run(cmd, &out, &n);
    fprintf(stderr, "%s", out ? (char *)out : "");
    CHECKF(rc == 0, "%s exited with %d", script, rc);
    CHECKF(out && strstr((char *)out, "all checks passed"), "%s did not pass every check", script);
    free(out);
}

/* Runs `script` on a log that bench-gen makes (`name`.eventlog in the test's directory, from
 * `gen_args`), with its expected totals from `liveprof analyze` (checked against the old tool by
 * the analyze tests) beside it, against a server started with `flags`; the script gets the log,
 * the totals file and `extra` (may be ""). */
static void run_on_generated(const char *name, const char *gen_args, const char *flags,
                             const char *script, const char *extra)
{
    char log[512], cmd[2048], ws[64], args[1400];
    snprintf(log, sizeof log, "%s/%s.eventlog", tu_tmpdir(), name);
    snprintf(cmd, sizeof cmd,
             "build/bench-gen %s -o '%s' >/dev/null 2>&1 && %s analyze '%s' --totals -o '%s' "
             ">/dev/null",
             gen_args, log, tu_liveprof(), log, tu_tmpdir());
    REQUIRE(system(cmd) == 0);
    srv_t s;
    start_with(&s, ws, sizeof ws, flags);
    snprintf(args, sizeof args, "'%s' '%s/%s.totals.txt' %s", log, tu_tmpdir(), name, extra);
    run_script(script, &s, ws, name, args);
    CHECK(srv_stop(&s) == 0);
}

/* Runs `script` (as test `name`, with `args`) against a server started by start(). */
static void run_on_server(const char *script, const char *name, const char *args)
{
    srv_t s;
    char ws[64];
    start(&s, ws, sizeof ws);
    run_script(script, &s, ws, name, args);
    CHECK(srv_stop(&s) == 0);
}

TEST(browser_signin_upload_totals)
{
    if (test_skip_slow()) return;
    require_browser_kit();
    char args[1024];
    snprintf(args, sizeof args, "'%s' '%s'", tu_data("eventlogs/fib-labels.eventlog"),
             tu_data("expected/fib-labels/default/fib-labels.totals.txt"));
    run_on_server("upload.mjs", "signin_upload_totals", args);
}

TEST(browser_live_session)
{
    if (test_skip_slow()) return;
    require_browser_kit();
    /* A 10 MB log of two capabilities: big enough that the live pass releases events while
     * it arrives. */
    run_on_generated("live_session", "--size 10M --caps 2 --labels 8 --threads 12", "", "live.mjs",
                     "--require-ws");
}

/* A server whose --max-body (300 KiB) is below the page's 4 MiB chunk: the page halves its chunk
 * at each 413 and the upload of a 1 MiB log completes with the right totals. */
TEST(browser_upload_halves_chunk_on_413)
{
    if (test_skip_slow()) return;
    require_browser_kit();
    run_on_generated("upload_halves_chunk_on_413", "--size 1M --caps 2 --labels 4 --threads 6",
                     "--max-body 300K", "upload_small_body.mjs", "");
}

/* A dashboard of an id that never was, and one whose session is deleted while it is open: each
 * says so instead of empty panels, and stops polling and reconnecting. */
TEST(browser_dashboard_of_a_gone_session)
{
    if (test_skip_slow()) return;
    require_browser_kit();
    char args[1024];
    snprintf(args, sizeof args, "'%s'", tu_data("eventlogs/small.eventlog"));
    run_on_server("gone.mjs", "dashboard_of_a_gone_session", args);
}
