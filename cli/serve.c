/* `liveprof serve`: parses the flags and runs the server. */
#include "cli.h"

#include "server.h"
#include "sizearg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_WORKERS 256 /* session worker threads at most */

static void usage(FILE *f)
{
    fprintf(f, "usage: liveprof serve [--http ADDR:PORT] [--ws ADDR:PORT] [--data DIR]\n"
               "                      [--max-body BYTES] [--workers N] [--web DIR]\n"
               "                      [--session-memory BYTES] [--login-ttl SECONDS]\n"
               "\n"
               "Serves the REST API, the web front end and the sessions' data.\n"
               "  --http ADDR:PORT   HTTP address (default 127.0.0.1:8080; port 0 picks one)\n"
               "  --ws ADDR:PORT     WebSocket address (default 127.0.0.1:8081)\n"
               "  --data DIR         data directory (default ./liveprof-data)\n"
               "  --max-body BYTES   largest request body (default 1 GiB; K/M/G suffixes)\n"
               "  --workers N        session worker threads (default: one per core; at most 256)\n"
               "  --session-memory BYTES  bound on each session's binned aggregates (16M)\n"
               "  --login-ttl SECONDS  lifetime of login tokens (default 2592000, 30 days)\n"
               "  --web DIR          static files served at / (default: ./build/web when present)\n"
               "  --ws-timeout SECONDS  close WebSocket connections that answer no ping for this\n"
               "                     long (pinged after half of it; default 30, 2 to 3600);\n"
               "                     an upgrade request must be whole within min(this, 10) s;\n"
               "                     dialled monitors silent this long are dropped and redialled\n"
               "Durable sessions (see docs/segments.md):\n"
               "  --fsync-ms N       group commit interval of the segment files (default 1000;\n"
               "                     0 = after every write)\n"
               "  --write-queue BYTES   upload bytes queued for the segment writer before\n"
               "                     further chunks are held unanswered (default 32M); a\n"
               "                     monitor link's bytes past 8 times this are asked for again\n"
               "  --segment-size BYTES  roll segment files at this size (default 64M)\n"
               "  --segment-age SECONDS roll segment files at this age (default: never)\n"
               "  --compress LEVEL   zstd level for eventlog chunks in segments (default 0: none)\n"
               "  --retain-age SECONDS   drop raw segments older than this (default: keep)\n"
               "  --retain-session BYTES keep at most this much raw segment data per session\n"
               "  --retain-total BYTES   ... and in all (oldest first; results stay)\n"
               "  --retain-coarse LIST   series whose coarse (about a minute) bins outlive the\n"
               "                     raw segments: all (default), none, or a comma list of\n"
               "                     labels,threads,caps,gc,heap,heapprof,sparks\n"
               "  --retain-coarse-age SECONDS  how much of them to keep (default: all held)\n"
               "On first start the user 'admin' is created and its API token written to\n"
               "DIR/admin.token. SIGTERM or SIGINT stops the server cleanly.\n");
}

static int parse_addr(const char *s, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= cap) return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535 || end == colon + 1) return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    *port = (int)p;
    return 0;
}

/* A whole number (0 allowed). */
static int parse_count(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || s[0] == '-') return -1;
    *out = v;
    return 0;
}

int cli_serve(int argc, char **argv)
{
    server_opts_t o;
    server_opts_default(&o);
    struct stat sb;
    if (stat("build/web", &sb) == 0 && S_ISDIR(sb.st_mode))
        snprintf(o.web_dir, sizeof o.web_dir, "build/web");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        const char *given = v;
        if (!v) v = ""; /* an option that takes one is told below that it needs one */
        i++;
        int bad = 0;
        if (!strcmp(a, "--http"))
            bad = parse_addr(v, o.http_host, sizeof o.http_host, &o.http_port);
        else if (!strcmp(a, "--ws"))
            bad = parse_addr(v, o.ws_host, sizeof o.ws_host, &o.ws_port);
        else if (!strcmp(a, "--data"))
            snprintf(o.data_dir, sizeof o.data_dir, "%s", v);
        else if (!strcmp(a, "--web"))
            snprintf(o.web_dir, sizeof o.web_dir, "%s", v);
        else if (!strcmp(a, "--max-body"))
            bad = sizearg_parse(v, UINT64_MAX, &o.max_body) < 0;
        else if (!strcmp(a, "--session-memory")) {
            uint64_t sz = 0;
            bad = sizearg_parse(v, UINT64_MAX, &sz) < 0;
            o.aggr_bytes = (size_t)sz;
        } else if (!strcmp(a, "--login-ttl")) {
            char *end;
            long long ttl = strtoll(v, &end, 10);
            bad = end == v || *end || ttl < 1 ? -1 : 0;
            o.login_ttl = ttl;
        } else if (!strcmp(a, "--ws-timeout")) {
            uint64_t t = 0;
            bad = parse_count(v, &t) || t < 2 || t > 3600 ? -1 : 0;
            o.ws_timeout_s = (int)t;
        } else if (!strcmp(a, "--fsync-ms"))
            bad = parse_count(v, &o.fsync_ms);
        else if (!strcmp(a, "--write-queue"))
            bad = sizearg_parse(v, UINT64_MAX, &o.write_queue) < 0;
        else if (!strcmp(a, "--segment-size"))
            bad = sizearg_parse(v, UINT64_MAX, &o.seg_bytes) < 0;
        else if (!strcmp(a, "--segment-age"))
            bad = parse_count(v, &o.seg_age_s);
        else if (!strcmp(a, "--compress")) {
            uint64_t lv = 0;
            bad = parse_count(v, &lv) || lv > 19 ? -1 : 0;
            o.zstd_level = (int)lv;
        } else if (!strcmp(a, "--retain-age"))
            bad = parse_count(v, &o.retain_age_s);
        else if (!strcmp(a, "--retain-session"))
            bad = sizearg_parse(v, UINT64_MAX, &o.retain_session_bytes) < 0;
        else if (!strcmp(a, "--retain-total"))
            bad = sizearg_parse(v, UINT64_MAX, &o.retain_total_bytes) < 0;
        else if (!strcmp(a, "--retain-coarse"))
            bad = retention_series_mask(v, &o.retain_coarse);
        else if (!strcmp(a, "--retain-coarse-age"))
            bad = parse_count(v, &o.retain_coarse_age_s);
        else if (!strcmp(a, "--workers")) {
            uint64_t w = 0;
            bad = parse_count(v, &w) || w < 1 || w > MAX_WORKERS ? -1 : 0;
            o.workers = (int)w;
        } else {
            fprintf(stderr, "serve: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (!given) {
            fprintf(stderr, "serve: %s needs a value\n", a);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "serve: bad value for %s: '%s'\n", a, v);
            return 2;
        }
    }
    return server_run(&o);
}
