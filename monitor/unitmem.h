/* Memory for the monitor's backlog units: 2 MiB chunks aligned so the kernel may back them with
 * huge pages, carved in order and given back whole when their last unit is freed. A zeroed
 * unitmem_t is ready to use; it is guarded by whatever guards the units (monitor_t.mu). */
#ifndef LP_UNITMEM_H
#define LP_UNITMEM_H

#include <stddef.h>
#include <stdint.h>

#define UNITMEM_CHUNK ((size_t)2 << 20)
#define UNITMEM_SPARE 8                 /* empty chunks kept for reuse */
#define UNITMEM_MAX (UNITMEM_CHUNK / 4) /* the largest piece it hands out */

typedef struct unitmem {
    uint8_t *cur;                  /* the chunk being carved, or NULL */
    uint8_t *spare[UNITMEM_SPARE]; /* empty chunks */
    size_t nspare;
    size_t chunks; /* chunks mapped now */
} unitmem_t;

/* n (<= UNITMEM_MAX) bytes aligned to 16; out of memory is fatal. Lock held. */
void *unitmem_alloc(unitmem_t *um, size_t n);
/* Gives p (from unitmem_alloc of the same um) back; NULL is a no-op. Lock held. */
void unitmem_free(unitmem_t *um, void *p);
/* Unmaps the empty chunks; every piece must have been freed. */
void unitmem_dispose(unitmem_t *um);

#endif
