/* Huge pages for the server's heap. Every upload chunk passes through large heap buffers (h2o's
 * request body, grown by doubling); with 4 KiB pages each first touch of fresh heap faults once
 * per page, which costs the HTTP thread tens of milliseconds per chunk on some machines, while a
 * 2 MiB page faults once. glibc backs its heap with transparent huge pages only when its tunable
 * says so, and tunables are read at exec: so the server sets it and executes itself again. */
#ifndef LP_HUGEPAGES_H
#define LP_HUGEPAGES_H

/* When the kernel offers transparent huge pages (always or madvise) and GLIBC_TUNABLES does not
 * mention glibc.malloc.hugetlb yet, adds glibc.malloc.hugetlb=1 to it and executes the running
 * program again with the same arguments (from /proc/self/cmdline): it does not return then.
 * Returns when there is nothing to do or the exec failed (the server runs as it is). Call it
 * first thing in `liveprof serve`, before any thread, socket or output. Setting
 * GLIBC_TUNABLES=glibc.malloc.hugetlb=0 keeps the heap on small pages. */
void hugepages_reexec(void);

#endif
