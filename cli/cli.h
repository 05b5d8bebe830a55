/* The liveprof command line: one entry point per subcommand, wired together by cli/main.c. */
#ifndef LP_CLI_H
#define LP_CLI_H

/* Each returns the process exit status. argv[0] is the subcommand name. Main thread. */
int cli_dump(int argc, char **argv);
int cli_analyze(int argc, char **argv);
int cli_upload(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_replay(int argc, char **argv);

#include "evlog.h"

/* Prints a decoder warning to stderr in the wording of the dump contract ("warning: skipped N
 * bytes before the header"); block-size mismatches stay quiet, as in ghc-events. Main thread. */
void cli_print_warning(evlog_warning_t w, uint64_t offset, uint64_t count);

/* After a log without a header: when the file at path (not "-") starts as gzip, xz, zstd or
 * bzip2 data does, says so on stderr with the command that decompresses it. Main thread. */
void cli_hint_compressed(const char *path);

#endif
