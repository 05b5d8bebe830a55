/* The re-exec for glibc's huge-page tunable: the kernel's THP mode from sysfs, the arguments
 * from /proc/self/cmdline, the binary from /proc/self/exe. */
#include "hugepages.h"

#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TUNABLE "glibc.malloc.hugetlb"
#define CMDLINE_MAX (256u << 10) /* arguments past this size: no re-exec */

/* True when the kernel gives transparent huge pages to regions that ask (mode always or
 * madvise). */
static int thp_offered(void)
{
    char mode[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f) return 0;
    size_t n = fread(mode, 1, sizeof mode - 1, f);
    fclose(f);
    mode[n] = 0;
    return strstr(mode, "[always]") || strstr(mode, "[madvise]");
}

void hugepages_reexec(void)
{
    const char *env = getenv("GLIBC_TUNABLES");
    if ((env && strstr(env, TUNABLE)) || !thp_offered()) return;
    FILE *f = fopen("/proc/self/cmdline", "rb");
    if (!f) return;
    char *buf = xmalloc(CMDLINE_MAX + 1);
    size_t len = fread(buf, 1, CMDLINE_MAX + 1, f);
    fclose(f);
    if (len == 0 || len > CMDLINE_MAX) {
        free(buf);
        return;
    }
    buf[len] = 0; /* the arguments are NUL-separated; the last ends at len - 1 */
    size_t argc = 0;
    for (size_t i = 0; i < len; i++)
        argc += buf[i] == 0;
    char **argv = xcalloc(argc + 1, sizeof *argv);
    for (size_t i = 0, k = 0; i < len && k < argc; i += strlen(buf + i) + 1)
        argv[k++] = buf + i;
    char *old = env ? xstrndup(env, strlen(env)) : NULL;
    char *value = xmalloc((old ? strlen(old) : 0) + sizeof TUNABLE + 3);
    sprintf(value, "%s%s" TUNABLE "=1", old ? old : "", old && *old ? ":" : "");
    if (setenv("GLIBC_TUNABLES", value, 1) == 0) execv("/proc/self/exe", argv);
    /* the exec failed: the environment goes back, the server runs on small pages */
    if (old)
        setenv("GLIBC_TUNABLES", old, 1);
    else
        unsetenv("GLIBC_TUNABLES");
    free(old);
    free(value);
    free(argv);
    free(buf);
}
