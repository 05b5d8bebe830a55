/* Backlog unit storage in a memfd: chunk i is the file's bytes [i * 2 MiB, (i + 1) * 2 MiB);
 * pieces are carved in order from the current chunk; a chunk whose pieces are all freed becomes
 * a spare (its pages kept for reuse) or is punched out of the file (its memory given back). */
#include "unitmem.h"

#include "xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void fatal(const char *what)
{
    fprintf(stderr, "unitmem: %s: %s\n", what, strerror(errno));
    abort();
}

static void ensure_file(unitmem_t *um)
{
    if (um->fd > 0) return;
    int fd = memfd_create("liveprof-monitor-backlog", MFD_CLOEXEC);
    if (fd == 0) { /* 0 means "none" here: move it */
        fd = fcntl(0, F_DUPFD_CLOEXEC, 1);
        close(0);
    }
    if (fd < 0) fatal("memfd_create");
    um->fd = fd;
}

/* A chunk to carve: a spare one, one given back earlier, or a new one at the file's end. */
static uint64_t chunk_new(unitmem_t *um)
{
    uint64_t c;
    if (um->nspare) {
        c = um->spare[--um->nspare];
    } else {
        c = um->ntab;
        for (size_t i = 0; i < um->ntab; i++)
            if (um->tab[i].state == 0) {
                c = i;
                break;
            }
        if (c == um->ntab) {
            xgrow((void **)&um->tab, &um->cap, um->ntab + 1, sizeof *um->tab);
            um->ntab++;
        }
        um->chunks++;
    }
    um->tab[c] = (unitmem_chunk_t){.live = 0, .used = 0, .state = 1};
    return c;
}

/* An empty chunk that is not the current one: a spare, or its memory given back. */
static void chunk_release(unitmem_t *um, uint64_t c)
{
    if (um->nspare < UNITMEM_SPARE) {
        um->tab[c].state = 2;
        um->spare[um->nspare++] = c;
        return;
    }
    um->tab[c].state = 0;
    um->chunks--;
    if (fallocate(um->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(c * UNITMEM_CHUNK),
                  (off_t)UNITMEM_CHUNK) != 0)
        fatal("fallocate");
}

uint64_t unitmem_alloc(unitmem_t *um, size_t n)
{
    if (n == 0 || n > UNITMEM_MAX) {
        fprintf(stderr, "unitmem: a piece of %zu bytes is out of range\n", n);
        abort();
    }
    ensure_file(um);
    n = (n + 15) & ~(size_t)15;
    if (!um->cur || um->tab[um->cur - 1].used + n > UNITMEM_CHUNK) {
        uint64_t old = um->cur;
        um->cur = chunk_new(um) + 1;
        if (old && um->tab[old - 1].live == 0) chunk_release(um, old - 1);
    }
    unitmem_chunk_t *h = &um->tab[um->cur - 1];
    uint64_t pos = (um->cur - 1) * UNITMEM_CHUNK + h->used;
    h->used += (uint32_t)n;
    h->live++;
    return pos;
}

void unitmem_free(unitmem_t *um, uint64_t pos)
{
    uint64_t c = pos / UNITMEM_CHUNK;
    unitmem_chunk_t *h = &um->tab[c];
    if (--h->live > 0) return;
    if (c + 1 == um->cur)
        h->used = 0; /* empty: carve it again from the start */
    else
        chunk_release(um, c);
}

void unitmem_write(unitmem_t *um, uint64_t pos, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = pwrite(um->fd, b, n, (off_t)pos);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) fatal("pwrite");
        b += w;
        pos += (uint64_t)w;
        n -= (size_t)w;
    }
}

void unitmem_read(const unitmem_t *um, uint64_t pos, void *p, size_t n)
{
    uint8_t *b = p;
    while (n > 0) {
        ssize_t r = pread(um->fd, b, n, (off_t)pos);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) fatal("pread");
        b += r;
        pos += (uint64_t)r;
        n -= (size_t)r;
    }
}

void unitmem_dispose(unitmem_t *um)
{
    if (um->fd > 0) close(um->fd);
    free(um->tab);
    *um = (unitmem_t){0};
}
