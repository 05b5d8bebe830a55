/* The liveprof command line: one entry point per subcommand, wired together by cli/main.c. */
#ifndef LP_CLI_H
#define LP_CLI_H

/* Each returns the process exit status. argv[0] is the subcommand name. Main thread. */
int cli_dump(int argc, char **argv);
int cli_analyze(int argc, char **argv);

#endif
