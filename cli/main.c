/* liveprof's main: picks the subcommand and hands over to it. */
#include "cli.h"
#include "version.h"

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
    fprintf(f, "\n'liveprof COMMAND --help' (or 'liveprof help COMMAND') describes each command;\n"
               "'liveprof --version' says which build this is.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        (!strcmp(argv[1], "help") && argc == 2)) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V") || !strcmp(argv[1], "version")) {
        printf("liveprof %s\n", LIVEPROF_VERSION);
        return 0;
    }
    const char *name = argv[1];
    if (!strcmp(name, "help")) { /* help COMMAND: COMMAND --help */
        static char flag[] = "--help";
        name = argv[2];
        argv[2] = flag;
        argc = 3;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(name, cmds[i].name)) {
            argv[1] = (char *)cmds[i].name;
            return cmds[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "liveprof: unknown command '%s'\n", name);
    usage(stderr);
    return 2;
}
