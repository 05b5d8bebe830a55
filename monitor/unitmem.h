/* Storage for the bytes of the monitor's backlog units: a memory-backed file (memfd) carved in
 * 2 MiB chunks, in order, each chunk given back whole (its memory returned to the system beyond a
 * few spares) when its last piece is freed. The bytes go in and out by pwrite/pread: the kernel
 * copies them into and out of its page cache, so holding fresh backlog never faults pages into
 * the monitor (in a VM every such fault is a trip to the hypervisor; a write into the page cache
 * costs a tenth as much). A zeroed unitmem_t is ready to use; it is guarded by whatever guards
 * the units (monitor_t.mu). */
#ifndef LP_UNITMEM_H
#define LP_UNITMEM_H

#include <stddef.h>
#include <stdint.h>

#define UNITMEM_CHUNK ((uint64_t)2 << 20)
#define UNITMEM_SPARE 8                 /* empty chunks that keep their memory for reuse */
#define UNITMEM_MAX (UNITMEM_CHUNK / 4) /* the largest piece it hands out */

typedef struct unitmem_chunk {
    uint32_t live; /* pieces not freed yet */
    uint32_t used; /* bytes carved */
    int state;     /* 0: never used or given back; 1: current or holding pieces; 2: spare */
} unitmem_chunk_t;

typedef struct unitmem {
    int fd;               /* the memfd, opened on first use (0 in a zeroed unitmem_t: none) */
    unitmem_chunk_t *tab; /* per chunk of the file */
    size_t ntab, cap;     /* chunks in the file, slots in tab */
    uint64_t cur;         /* index + 1 of the chunk being carved, 0 = none */
    uint64_t spare[UNITMEM_SPARE];
    size_t nspare;
    size_t chunks; /* chunks holding memory now (carved, current or spare) */
} unitmem_t;

/* Room for n (1 <= n <= UNITMEM_MAX) bytes: returns its position. Out of memory is fatal. Lock
 * held. */
uint64_t unitmem_alloc(unitmem_t *um, size_t n);
/* Gives the piece at pos (from unitmem_alloc of the same um) back. Lock held. */
void unitmem_free(unitmem_t *um, uint64_t pos);
/* Copies n bytes into / out of the piece at pos. Failure (the system out of memory) is fatal.
 * Lock held (read: any thread that holds the lock). */
void unitmem_write(unitmem_t *um, uint64_t pos, const void *p, size_t n);
void unitmem_read(const unitmem_t *um, uint64_t pos, void *p, size_t n);
/* Closes the file and frees the table; every piece must have been freed. */
void unitmem_dispose(unitmem_t *um);

#endif
