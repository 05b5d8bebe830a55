/* The wording of decoder warnings on stderr, shared by every subcommand that reads a log. */
#include "cli.h"

#include <stdio.h>

void cli_print_warning(evlog_warning_t w, uint64_t offset, uint64_t count)
{
    unsigned long long off = offset, n = count;
    switch (w) {
    case EVLOG_WARN_SKIPPED:
        fprintf(stderr, "warning: skipped %llu bytes before the header\n", n);
        break;
    case EVLOG_WARN_HEADER_REPEAT:
        fprintf(stderr, "warning: header repeated at byte %llu\n", off);
        if (n) fprintf(stderr, "warning: skipped %llu bytes before that header\n", n);
        break;
    case EVLOG_WARN_TRAILING:
        fprintf(stderr, "warning: %llu bytes after the end marker\n", n);
        break;
    case EVLOG_WARN_BLOCK_SIZE: /* ghc-events does not check block sizes either: stay quiet */
        break;
    }
}
