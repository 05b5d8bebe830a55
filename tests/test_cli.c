/* The command lines of liveprof's subcommands: --help on stdout with status 0, each mistake
 * named on stderr with status 2 before anything starts (no server, no file written), and a hint
 * when the log given is compressed. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Runs `liveprof ARGS` with stderr captured; checks the status and that `want` is in stderr. */
static void expect(const char *args, int status, const char *want)
{
    char cmd[1024], bin[600];
    if (tu_liveprof()[0] == '/')
        snprintf(bin, sizeof bin, "%s", tu_liveprof());
    else
        snprintf(bin, sizeof bin, "%s/%s", getenv("PWD") ? getenv("PWD") : ".", tu_liveprof());
    /* in the test's directory: a server that started by mistake would make its data there */
    snprintf(cmd, sizeof cmd, "cd '%s' && timeout 10 '%s' %s 2>&1 >/dev/null", tu_tmpdir(), bin,
             args);
    uint8_t *out = NULL;
    size_t n = 0;
    int rc = tu_run(cmd, &out, &n);
    CHECKF(rc == status && out && strstr((char *)out, want), "liveprof %s: exit %d: %s", args, rc,
           out ? (char *)out : "");
    free(out);
}

TEST(cli_help_and_usage_errors)
{
    const char *subs[] = {"serve", "upload", "analyze", "dump", "replay"};
    for (int i = 0; i < 5; i++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "%s %s --help 2>/dev/null", tu_liveprof(), subs[i]);
        uint8_t *out = NULL;
        size_t n = 0;
        CHECKF(tu_run(cmd, &out, &n) == 0 && out && strstr((char *)out, "usage: liveprof "),
               "%s --help", subs[i]);
        free(out);
    }
    expect("serve --bogus", 2, "serve: unknown option '--bogus'");
    expect("serve --data", 2, "serve: --data needs a value");
    expect("serve --workers 0", 2, "serve: bad value for --workers: '0'");
    expect("serve --workers 257", 2, "serve: bad value for --workers: '257'");
    expect("serve --max-body 2x", 2, "serve: bad value for --max-body: '2x'");
    expect("serve --http nowhere", 2, "serve: bad value for --http: 'nowhere'");
    expect("replay --bogus", 2, "replay: unknown option '--bogus'");
    expect("replay dir --from", 2, "replay: --from needs a value");
    expect("replay dir --to-ns 5s", 2, "replay: --to-ns takes nanoseconds (a whole number)");
    expect("replay dir --speed 0", 2, "replay: bad speed '0'");
    expect("upload", 2, "upload: no FILE given");
    expect("upload f.eventlog", 2, "upload: --server URL is required");
    expect("upload f.eventlog --server http://h --chunk 2G", 2, "--chunk takes a size");
    expect("analyze x.eventlog --bogus", 2, "analyze: unknown option '--bogus'");
    expect("dump --format xml x.eventlog", 2, "unknown format 'xml'");
    expect("nonsense", 2, "liveprof: unknown command 'nonsense'");
    char data[600];
    snprintf(data, sizeof data, "%s/liveprof-data", tu_tmpdir());
    CHECKF(access(data, F_OK) != 0, "a server started: %s exists", data);
}

/* A compressed log given to analyze or dump: the decoder's error, then a hint that names the
 * compression and the command that undoes it; a file that is merely not a log gets no hint. */
TEST(cli_hints_at_compressed_logs)
{
    static const char *const kinds[][3] = {{"gz", "gzip -c", "is gzip-compressed"},
                                           {"xz", "xz -c -T1", "is xz-compressed"}};
    for (int i = 0; i < 2; i++) {
        char log[600], cmd[2048];
        snprintf(log, sizeof log, "%s/small.eventlog.%s", tu_tmpdir(), kinds[i][0]);
        snprintf(cmd, sizeof cmd, "%s '%s' > '%s'", kinds[i][1],
                 tu_data("eventlogs/small.eventlog"), log);
        REQUIRE(system(cmd) == 0);
        const char *subs[] = {"analyze", "dump"};
        for (int k = 0; k < 2; k++) {
            char args[700], want[800];
            snprintf(args, sizeof args, "%s '%s'", subs[k], log);
            snprintf(want, sizeof want, "hint: %s %s: decompress it first", log, kinds[i][2]);
            expect(args, 1, want);
        }
    }
    char text[600], cmd[1024];
    snprintf(text, sizeof text, "%s/notes.txt", tu_tmpdir());
    snprintf(cmd, sizeof cmd, "echo 'not a log' > '%s'", text);
    REQUIRE(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "%s dump '%s' 2>&1 >/dev/null", tu_liveprof(), text);
    uint8_t *out = NULL;
    size_t n = 0;
    CHECK(tu_run(cmd, &out, &n) == 1 && out && !strstr((char *)out, "hint:"));
    free(out);
}

/* Runs `cmd` (stderr dropped); returns its status and its stdout in *out (to free). */
static int output_of(const char *cmd, char **out)
{
    char full[1024];
    snprintf(full, sizeof full, "%s 2>/dev/null", cmd);
    uint8_t *o = NULL;
    size_t n = 0;
    int rc = tu_run(full, &o, &n);
    *out = o ? (char *)o : calloc(1, 1);
    return rc;
}

/* --version names the release and the commit; `help COMMAND` is `COMMAND --help`. */
TEST(cli_version_and_help_command)
{
    char cmd[700], *out, *want;
    const char *mon = "build/liveprof-monitor";
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "%s --version", k ? mon : tu_liveprof());
        CHECK(output_of(cmd, &out) == 0);
        CHECKF(!strncmp(out, k ? "liveprof-monitor 0." : "liveprof 0.", k ? 19 : 11) &&
                   strstr(out, " (commit ") && out[strlen(out) - 1] == '\n',
               "%s: %s", cmd, out);
        free(out);
    }
    snprintf(cmd, sizeof cmd, "%s help", tu_liveprof());
    CHECK(output_of(cmd, &out) == 0);
    CHECK(strstr(out, "usage: liveprof COMMAND") != NULL);
    free(out);
    const char *subs[] = {"serve", "upload", "analyze", "dump", "replay"};
    for (int i = 0; i < 5; i++) {
        snprintf(cmd, sizeof cmd, "%s help %s", tu_liveprof(), subs[i]);
        CHECK(output_of(cmd, &out) == 0);
        snprintf(cmd, sizeof cmd, "%s %s --help", tu_liveprof(), subs[i]);
        CHECK(output_of(cmd, &want) == 0);
        CHECKF(!strcmp(out, want) && strstr(out, "usage: liveprof "), "help %s", subs[i]);
        free(out);
        free(want);
    }
    expect("help nonsense", 2, "liveprof: unknown command 'nonsense'");
}
