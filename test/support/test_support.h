/* Shared helpers for the cmocka tests. Include after <cmocka.h>'s prerequisites. */
#ifndef BT_TEST_SUPPORT_H
#define BT_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "batchtune.h"

/* Exit code that ctest reports as "skipped" (SKIP_RETURN_CODE). */
#define BT_TEST_SKIP 77

/* Fail the test with the library's last error when `expr` is not BT_OK. */
#define BT_ASSERT_OK(expr)                                                                      \
    do {                                                                                        \
        bt_status bt_assert_status_ = (expr);                                                   \
        if (bt_assert_status_ != BT_OK)                                                         \
            fail_msg("%s -> %s: %s", #expr, bt_status_name(bt_assert_status_), bt_last_error()); \
    } while (0)

/* For device tests, called first in main(): exits with BT_TEST_SKIP when no OpenCL platform
 * exists, so ctest reports the test as skipped rather than passed. */
void bt_test_require_opencl(void);

/* Open the default device (BATCHTUNE_DEVICE honoured); fails the test on error. */
bt_device *bt_test_open_device(void);

/* A per-process random seed: fresh each run (time and pid), or BT_TEST_SEED when set so that a
 * failure can be replayed. Printed once so that it appears in the test log. */
uint64_t bt_test_seed(void);

/* splitmix64 stream for test data. */
typedef struct bt_test_rng {
    uint64_t state;
} bt_test_rng;
bt_test_rng bt_test_rng_make(uint64_t seed);
uint64_t bt_test_rng_next(bt_test_rng *rng);
/* Uniform in [lo, hi). */
double bt_test_rng_uniform(bt_test_rng *rng, double lo, double hi);
void bt_test_fill_uniform(bt_test_rng *rng, float *dst, size_t count, float lo, float hi);
void bt_test_fill_bytes(bt_test_rng *rng, uint8_t *dst, size_t count);

/* A stream of its own for each test (seed ^ hash of the name), so one test replays alone with
 * BT_TEST_SEED whatever ran before it. BT_TEST_RNG() uses the calling function's name. */
bt_test_rng bt_test_rng_for(const char *test_name);
#define BT_TEST_RNG() bt_test_rng_for(__func__)
/* Uniform in [lo, hi_inclusive]. */
size_t bt_test_rng_range(bt_test_rng *rng, size_t lo, size_t hi_inclusive);

/* Fail unless `got` is `want` and bt_last_error() contains both `name` and `phrase`. */
void bt_test_assert_failure(bt_status got, bt_status want, const char *name, const char *phrase);

/* ---- Tables of cases: one row each, one cmocka test per row ---- */

/* A cmocka test named `name` that runs `run` with `row` as its state (*state in `run`). */
struct CMUnitTest bt_test_row(const char *name, CMUnitTestFunction run, const void *row);

#define BT_TEST_COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* Appends to `tests`, at index `n` (which it advances), one test per row of the array `rows`,
 * named by the row's `name` member. */
#define BT_TEST_ADD_ROWS(tests, n, rows, run)                                                   \
    for (size_t bt_row_ = 0; bt_row_ < BT_TEST_COUNT(rows); ++bt_row_)                          \
    (tests)[(n)++] = bt_test_row((rows)[bt_row_].name, (run), &(rows)[bt_row_])

/* What "{name}" stands for in an expected message: `text`, or `number` in decimal when `text`
 * is NULL. */
typedef struct bt_test_var {
    const char *name;
    const char *text;
    size_t number;
} bt_test_var;

#define BT_TEST_SAYS_MAX 4

/* Fail unless `got` is `want` and bt_last_error() contains `name` (unless NULL) and each of
 * `says` up to the first NULL, every "{name}" in them replaced as `vars` say. */
void bt_test_assert_says(bt_status got, bt_status want, const char *name,
                         const char *const says[BT_TEST_SAYS_MAX], const bt_test_var *vars,
                         size_t var_count);

/* A fresh empty directory under the build tree's test cache (or /tmp); the path is malloc'ed.
 * bt_test_remove_tree() deletes it again. */
char *bt_test_make_tmpdir(const char *prefix);
void bt_test_remove_tree(const char *path);

/* Write bytes to a file, raw or gzip-compressed; fails the test on error. */
void bt_test_write_file(const char *path, const void *data, size_t size);
void bt_test_write_gz(const char *path, const void *data, size_t size);

/* A whole file as a NUL-terminated malloc'ed string; fails the test if it cannot be read. */
char *bt_test_read_text(const char *path);

/* An IDX file in memory: the header (two zero bytes, `type`, `ndims`, the big-endian `dims`)
 * then `data_len` bytes of `data` (zeros when `data` is NULL). Malloc'ed; *size is its length. */
uint8_t *bt_test_idx_bytes(uint8_t type, unsigned ndims, const uint32_t *dims, const uint8_t *data,
                           size_t data_len, size_t *size);

/* Writes "<dir>/<name>" (or "<name>.gz") holding an unsigned-byte IDX file; returns the
 * malloc'ed path. */
char *bt_test_write_idx(const char *dir, const char *name, bool gz, unsigned ndims,
                        const uint32_t *dims, const uint8_t *data, size_t data_len);

/* A small learnable MNIST-format folder under a new temporary one named after `prefix`: 4x4
 * images whose class c lights pixel c over noise, `train_count` training and 200 test images,
 * half of the files gzipped. With `noisy_one_in` > 0, one label in that many is redrawn at
 * random. Returns the malloc'ed folder path. */
char *bt_test_make_toy_mnist(const char *prefix, size_t train_count, unsigned noisy_one_in);

/* Resident set size of this process (/proc/self/statm); 0 where that file does not exist. */
uint64_t bt_test_resident_bytes(void);

/* Path join into a malloc'ed string. */
char *bt_test_path(const char *dir, const char *name);

/* Runs `command` through the shell (popen) and reads its standard output to the end. Returns its
 * exit status (0 to 255), or -1 if it could not be run or did not exit (killed by a signal),
 * saying why on stderr. *output is always set to what it printed: malloc'ed, NUL-terminated
 * (empty if it could not run); the caller frees it. */
int bt_test_run_command(const char *command, char **output);

/* Runs `<env> '<tool>' <args> 2>&1` (env may be NULL) as bt_test_run_command does, and returns
 * the tool's exit status; fails the test, showing the output, if it did not exit normally. */
int bt_test_run_tool(const char *tool, const char *env, const char *args, char **output);

#endif
