/* liveprof's main: picks the subcommand and hands over to it. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *help;
} cmds[] = {
    {"dump", cli_dump, "print every event as ghc-events does (dump FILE|- [--format hs|json])"},
    {"analyze", cli_analyze, "ghc-events-analyze compatible reports (analyze FILE [options])"},
    {"upload", cli_upload, "send an eventlog to a server (upload FILE --server URL [options])"},
    {"serve", cli_serve, "run the server: REST API, web front end, sessions"},
    {"replay", cli_replay, "replay a saved session (replay SESSION_DIR [--speed S] [--to URL])"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: liveprof COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
    fprintf(f, "\n'liveprof COMMAND --help' describes each command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name)) return cmds[i].run(argc - 1, argv + 1);
    fprintf(stderr, "liveprof: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
