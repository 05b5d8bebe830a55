/* The wording of decoder warnings and hints on stderr, shared by every subcommand that reads a
 * log. */
#include "cli.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

void cli_hint_compressed(const char *path)
{
    if (!strcmp(path, "-")) return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    uint8_t head[8];
    ssize_t n = read(fd, head, sizeof head);
    close(fd);
    const char *undo, *format = n > 0 ? evlog_compression(head, (size_t)n, &undo) : NULL;
    if (format)
        fprintf(stderr, "hint: %s is %s-compressed: decompress it first (%s '%s')\n", path, format,
                undo, path);
}
