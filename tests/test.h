/* The test runner's interface: TEST(name) defines a test (the Makefile gathers every TEST line
 * into one list), CHECK records a failure and goes on, REQUIRE ends the test. */
#ifndef LP_TEST_H
#define LP_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TEST(name) void test_##name(void)

/* Records a failure at file:line with a printf-style note. Test thread only. */
void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Ends the current test as failed (the test runs in its own process). */
_Noreturn void test_abort(void);
/* True when the runner was asked to skip slow tests (--skip-slow, e.g. under ASan). */
bool test_skip_slow(void);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) test_fail(__FILE__, __LINE__, "CHECK(%s)", #c);                                  \
    } while (0)
#define CHECKF(c, ...)                                                                             \
    do {                                                                                           \
        if (!(c)) test_fail(__FILE__, __LINE__, __VA_ARGS__);                                      \
    } while (0)
#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            test_fail(__FILE__, __LINE__, "REQUIRE(%s)", #c);                                      \
            test_abort();                                                                          \
        }                                                                                          \
    } while (0)
#define CHECK_EQ_U64(a, b)                                                                         \
    do {                                                                                           \
        unsigned long long a_ = (a), b_ = (b);                                                     \
        if (a_ != b_) test_fail(__FILE__, __LINE__, "%s == %s: %llu != %llu", #a, #b, a_, b_);     \
    } while (0)

/* Helpers for tests (tests/util.c). */
/* Reads a whole file, transparently decompressing NAME.xz when NAME is absent. Returns a
 * malloc'd buffer (NUL-terminated, *len excludes the NUL) or NULL. */
uint8_t *tu_read_file(const char *path, size_t *len);
/* Writes n bytes at p to file `name` in the test's directory and opens it for reading: its file
 * descriptor (the test fails when it cannot). */
int tu_temp_file(const char *name, const void *p, size_t n);
/* Path of a shared data file: "../shared/data/" + rel, in a static buffer per call slot. */
const char *tu_data(const char *rel);
/* Runs a shell command, capturing stdout into a malloc'd buffer; returns the exit status. */
int tu_run(const char *cmd, uint8_t **out, size_t *out_len);
/* Path of the liveprof binary under test (LIVEPROF_BIN or build/liveprof). */
const char *tu_liveprof(void);
/* A fresh temporary directory for this test (removed by the runner). */
const char *tu_tmpdir(void);
/* Runs fn on n threads at once, thread i with the i-th of the n items of `size` bytes at args,
 * and joins them all (the test fails when one cannot start). */
void tu_threads(void *(*fn)(void *), void *args, size_t size, int n);

#endif
