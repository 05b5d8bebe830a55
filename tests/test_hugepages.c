/* `liveprof serve` executes itself again with glibc's huge-page tunable when the kernel offers
 * transparent huge pages, keeps other tunables, leaves an explicit choice alone, and serves as
 * usual afterwards. */
#include "test.h"

#include "srvutil.h"

#include <stdlib.h>
#include <string.h>

static bool thp_offered(void)
{
    size_t len;
    uint8_t *mode = tu_read_file("/sys/kernel/mm/transparent_hugepage/enabled", &len);
    bool yes = mode && (strstr((char *)mode, "[always]") || strstr((char *)mode, "[madvise]"));
    free(mode);
    return yes;
}

/* The running server's GLIBC_TUNABLES ("" when unset), as /proc shows its environment. */
static void server_tunables(const srv_t *s, char *out, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)s->pid);
    size_t len = 0;
    uint8_t *env = tu_read_file(path, &len);
    out[0] = 0;
    for (size_t i = 0; env && i < len; i += strlen((char *)env + i) + 1)
        if (!strncmp((char *)env + i, "GLIBC_TUNABLES=", 15))
            snprintf(out, cap, "%s", (char *)env + i + 15);
    free(env);
}

static void serve_with(const char *tunables, char *seen, size_t cap)
{
    if (tunables)
        setenv("GLIBC_TUNABLES", tunables, 1);
    else
        unsetenv("GLIBC_TUNABLES");
    srv_t s;
    srv_start(&s, NULL, "");
    server_tunables(&s, seen, cap);
    httpc_resp_t r;
    CHECK(srv_req(&s, "GET", "/api/me", s.admin, NULL, NULL, 0, &r) == 200);
    httpc_resp_dispose(&r);
    CHECK(srv_stop(&s) == 0);
}

TEST(hugepages_server_reexec)
{
    bool offered = thp_offered();
    char seen[256];
    serve_with(NULL, seen, sizeof seen);
    CHECKF(!strcmp(seen, offered ? "glibc.malloc.hugetlb=1" : ""), "tunables '%s'", seen);
    /* other tunables stay (glibc may show its own parse of the string in /proc: only the one
     * given is certain to be there) */
    serve_with("glibc.malloc.check=0", seen, sizeof seen);
    CHECKF(!strncmp(seen, "glibc.malloc.check=0", 20), "tunables '%s'", seen);
    serve_with("glibc.malloc.hugetlb=0", seen, sizeof seen); /* the operator's choice stays */
    CHECKF(!strcmp(seen, "glibc.malloc.hugetlb=0"), "tunables '%s'", seen);
}
