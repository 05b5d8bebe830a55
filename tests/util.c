/* Small helpers shared by the tests: reading (possibly xz-compressed) shared data files,
 * running commands and locating the binary under test. */
#include "test.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static uint8_t *read_stream(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap + 1);
    if (!buf) return NULL;
    for (;;) {
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0) break;
        n += r;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

uint8_t *tu_read_file(const char *path, size_t *len)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        FILE *f = fopen(path, "rb");
        if (!f) return NULL;
        uint8_t *b = read_stream(f, len);
        fclose(f);
        return b;
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s.xz", path);
    if (stat(cmd, &st) != 0) return NULL;
    snprintf(cmd, sizeof cmd, "xz -dc '%s.xz'", path);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    uint8_t *b = read_stream(p, len);
    if (pclose(p) != 0) {
        free(b);
        return NULL;
    }
    return b;
}

int tu_temp_file(const char *name, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", tu_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    REQUIRE(f && fwrite(p, 1, n, f) == n);
    fclose(f);
    int fd = open(path, O_RDONLY);
    REQUIRE(fd >= 0);
    return fd;
}

const char *tu_data(const char *rel)
{
    static _Thread_local char slots[8][1024]; /* per thread: tests upload from many threads */
    static _Thread_local int next;
    char *s = slots[next++ % 8];
    const char *root = getenv("LIVEPROF_SHARED");
    snprintf(s, 1024, "%s/data/%s", root ? root : "../shared", rel);
    return s;
}

int tu_run(const char *cmd, uint8_t **out, size_t *out_len)
{
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = 0;
    uint8_t *b = read_stream(p, &n);
    int st = pclose(p);
    if (out) {
        *out = b;
        *out_len = n;
    } else {
        free(b);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

const char *tu_liveprof(void)
{
    const char *b = getenv("LIVEPROF_BIN");
    return b && *b ? b : "build/liveprof";
}

void tu_threads(void *(*fn)(void *), void *args, size_t size, int n)
{
    pthread_t th[64];
    REQUIRE(n >= 0 && n <= 64);
    for (int i = 0; i < n; i++)
        REQUIRE(pthread_create(&th[i], NULL, fn, (char *)args + (size_t)i * size) == 0);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
}
