/* Shared helpers for the cmocka tests. */
#define _XOPEN_SOURCE 700
#include "test_support.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "common/rng.h"

void bt_test_require_opencl(void)
{
    cl_uint platforms = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &platforms);
    if (err != CL_SUCCESS || platforms == 0) {
        fprintf(stderr, "no OpenCL platform found: skipping device tests "
                        "(install an ICD such as pocl-opencl-icd)\n");
        exit(BT_TEST_SKIP);
    }
}

bt_device *bt_test_open_device(void)
{
    bt_device_opts opts = bt_device_opts_default();
    bt_device *device = NULL;
    BT_ASSERT_OK(bt_device_create(&opts, &device));
    return device;
}

uint64_t bt_test_seed(void)
{
    static uint64_t seed;
    static int ready;
    if (!ready) {
        const char *fixed = getenv("BT_TEST_SEED");
        if (fixed && *fixed) {
            seed = strtoull(fixed, NULL, 0);
        } else {
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            seed = ((uint64_t)now.tv_sec * 1000000007ull) ^ (uint64_t)now.tv_nsec ^
                   ((uint64_t)getpid() << 32);
        }
        ready = 1;
        fprintf(stderr, "random seed: BT_TEST_SEED=%llu\n", (unsigned long long)seed);
    }
    return seed;
}

bt_test_rng bt_test_rng_make(uint64_t seed)
{
    bt_test_rng rng = {seed};
    return rng;
}

uint64_t bt_test_rng_next(bt_test_rng *rng)
{
    return bt_splitmix64(&rng->state);
}

double bt_test_rng_uniform(bt_test_rng *rng, double lo, double hi)
{
    double unit = (double)(bt_test_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
    return lo + (hi - lo) * unit;
}

bt_test_rng bt_test_rng_for(const char *test_name)
{
    uint64_t salt = 1469598103934665603ull; /* FNV-1a */
    for (const char *c = test_name; *c; ++c)
        salt = (salt ^ (uint8_t)*c) * 1099511628211ull;
    return bt_test_rng_make(bt_test_seed() ^ salt);
}

size_t bt_test_rng_range(bt_test_rng *rng, size_t lo, size_t hi_inclusive)
{
    return lo + (size_t)(bt_test_rng_next(rng) % (hi_inclusive - lo + 1));
}

void bt_test_assert_failure(bt_status got, bt_status want, const char *name, const char *phrase)
{
    const char *msg = bt_last_error();
    if (got != want)
        fail_msg("status %s, expected %s; message: %s", bt_status_name(got), bt_status_name(want),
                 msg);
    if (!strstr(msg, name))
        fail_msg("message does not name \"%s\": %s", name, msg);
    if (!strstr(msg, phrase))
        fail_msg("message lacks \"%s\": %s", phrase, msg);
}

void bt_test_fill_uniform(bt_test_rng *rng, float *dst, size_t count, float lo, float hi)
{
    for (size_t i = 0; i < count; ++i)
        dst[i] = (float)bt_test_rng_uniform(rng, lo, hi);
}

void bt_test_fill_bytes(bt_test_rng *rng, uint8_t *dst, size_t count)
{
    for (size_t i = 0; i < count; ++i)
        dst[i] = (uint8_t)bt_test_rng_next(rng);
}

struct CMUnitTest bt_test_row(const char *name, CMUnitTestFunction run, const void *row)
{
    struct CMUnitTest test = {name, run, NULL, NULL, (void *)row};
    return test;
}

/* The var that "{...}" at `open` names, or NULL. */
static const bt_test_var *find_var(const char *open, const bt_test_var *vars, size_t count)
{
    const char *close = strchr(open, '}');
    for (size_t i = 0; close && i < count; ++i)
        if (strlen(vars[i].name) == (size_t)(close - open - 1) &&
            strncmp(open + 1, vars[i].name, (size_t)(close - open - 1)) == 0)
            return &vars[i];
    return NULL;
}

/* `pattern` with every "{name}" of `vars` replaced by its value; other text is kept as it is. */
static void expand(char *out, size_t size, const char *pattern, const bt_test_var *vars,
                   size_t count)
{
    size_t used = 0;
    for (const char *p = pattern; *p;) {
        const bt_test_var *var = *p == '{' ? find_var(p, vars, count) : NULL;
        int n;
        if (!var)
            n = snprintf(out + used, size - used, "%c", *p++);
        else if (var->text)
            n = snprintf(out + used, size - used, "%s", var->text);
        else
            n = snprintf(out + used, size - used, "%zu", var->number);
        if (n < 0 || (size_t)n >= size - used)
            fail_msg("expected message too long: %s", pattern);
        used += (size_t)n;
        if (var)
            p = strchr(p, '}') + 1;
    }
    out[used] = '\0';
}

/* Fail unless the message contains `pattern`, expanded. */
static void assert_message_says(const char *msg, const char *pattern, const bt_test_var *vars,
                                size_t var_count)
{
    char phrase[2048];
    expand(phrase, sizeof phrase, pattern, vars, var_count);
    if (!strstr(msg, phrase))
        fail_msg("message lacks \"%s\": %s", phrase, msg);
}

void bt_test_assert_says(bt_status got, bt_status want, const char *name,
                         const char *const says[BT_TEST_SAYS_MAX], const bt_test_var *vars,
                         size_t var_count)
{
    const char *msg = bt_last_error();
    if (got != want)
        fail_msg("status %s, expected %s; message: %s", bt_status_name(got), bt_status_name(want),
                 msg);
    if (name)
        assert_message_says(msg, name, vars, var_count);
    for (size_t i = 0; i < BT_TEST_SAYS_MAX && says[i]; ++i)
        assert_message_says(msg, says[i], vars, var_count);
}

/* mkdir -p: in a fresh build tree no test may have created the cache folder yet. */
static void make_dirs(const char *path)
{
    char *copy = strdup(path);
    assert_non_null(copy);
    for (char *p = copy + 1; *p; ++p) {
        if (*p == '/') {
            *p = '\0';
            mkdir(copy, 0700);
            *p = '/';
        }
    }
    if (mkdir(copy, 0700) != 0 && errno != EEXIST)
        fail_msg("mkdir(%s): %s", copy, strerror(errno));
    free(copy);
}

char *bt_test_make_tmpdir(const char *prefix)
{
    const char *base = getenv("XDG_CACHE_HOME");
    if (!base || !*base)
        base = "/tmp";
    make_dirs(base);
    size_t len = strlen(base) + strlen(prefix) + 16;
    char *path = malloc(len);
    assert_non_null(path);
    snprintf(path, len, "%s/%s-XXXXXX", base, prefix);
    if (!mkdtemp(path))
        fail_msg("mkdtemp(%s): %s", path, strerror(errno));
    return path;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void bt_test_remove_tree(const char *path)
{
    if (path)
        nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void bt_test_write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        fail_msg("fopen(%s): %s", path, strerror(errno));
    if (size && fwrite(data, 1, size, f) != size)
        fail_msg("fwrite(%s) failed", path);
    if (fclose(f) != 0)
        fail_msg("fclose(%s) failed", path);
}

char *bt_test_read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("fopen(%s): %s", path, strerror(errno));
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size >= 0);
    rewind(f);
    char *text = malloc((size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    text[size] = '\0';
    fclose(f);
    return text;
}

void bt_test_write_gz(const char *path, const void *data, size_t size)
{
    gzFile f = gzopen(path, "wb");
    if (!f)
        fail_msg("gzopen(%s) failed", path);
    if (size && gzwrite(f, data, (unsigned)size) != (int)size)
        fail_msg("gzwrite(%s) failed", path);
    if (gzclose(f) != Z_OK)
        fail_msg("gzclose(%s) failed", path);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint8_t *bt_test_idx_bytes(uint8_t type, unsigned ndims, const uint32_t *dims, const uint8_t *data,
                           size_t data_len, size_t *size)
{
    size_t header = 4 + 4 * (size_t)ndims;
    uint8_t *bytes = calloc(1, header + data_len);
    assert_non_null(bytes);
    bytes[2] = type;
    bytes[3] = (uint8_t)ndims;
    for (unsigned i = 0; i < ndims; ++i)
        put_be32(bytes + 4 + 4 * i, dims[i]);
    if (data && data_len)
        memcpy(bytes + header, data, data_len);
    *size = header + data_len;
    return bytes;
}

char *bt_test_write_idx(const char *dir, const char *name, bool gz, unsigned ndims,
                        const uint32_t *dims, const uint8_t *data, size_t data_len)
{
    size_t size = 0;
    uint8_t *bytes = bt_test_idx_bytes(0x08, ndims, dims, data, data_len, &size);
    char file[128];
    snprintf(file, sizeof file, "%s%s", name, gz ? ".gz" : "");
    char *path = bt_test_path(dir, file);
    if (gz)
        bt_test_write_gz(path, bytes, size);
    else
        bt_test_write_file(path, bytes, size);
    free(bytes);
    return path;
}

char *bt_test_path(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);
    assert_non_null(path);
    snprintf(path, len, "%s/%s", dir, name);
    return path;
}

int bt_test_run_command(const char *command, char **output)
{
    size_t capacity = 4096, used = 0, n;
    char *text = calloc(1, capacity);
    assert_non_null(text);
    *output = text;
    FILE *pipe = popen(command, "r");
    if (!pipe) {
        fprintf(stderr, "popen(%s): %s\n", command, strerror(errno));
        return -1;
    }
    while ((n = fread(text + used, 1, capacity - used - 1, pipe)) > 0) {
        used += n;
        if (capacity - used < 1024) {
            capacity *= 2;
            char *bigger = realloc(text, capacity);
            if (!bigger)
                pclose(pipe);
            assert_non_null(bigger);
            *output = text = bigger;
        }
    }
    text[used] = '\0';
    int status = pclose(pipe);
    if (status == -1 || !WIFEXITED(status)) {
        fprintf(stderr, "'%s' did not exit normally (wait status %d)\n", command, status);
        return -1;
    }
    return WEXITSTATUS(status);
}

int bt_test_run_tool(const char *tool, const char *env, const char *args, char **output)
{
    assert_null(strchr(tool, '\'')); /* quoted below */
    char command[4096];
    int len = snprintf(command, sizeof command, "%s '%s' %s 2>&1", env ? env : "", tool, args);
    assert_true(len > 0 && (size_t)len < sizeof command);
    int code = bt_test_run_command(command, output);
    if (code < 0)
        fail_msg("'%s' did not exit normally; output:\n%s", command, *output);
    return code;
}

char *bt_test_make_toy_mnist(const char *prefix, size_t train_count, unsigned noisy_one_in)
{
    char *dir = bt_test_make_tmpdir(prefix);
    bt_test_rng rng = BT_TEST_RNG();
    static const char *names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                   "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    const size_t counts[2] = {train_count, 200};
    for (int part = 0; part < 2; ++part) {
        size_t n = counts[part];
        uint8_t *pixels = malloc(n * 16), *labels = malloc(n);
        assert_true(pixels && labels);
        for (size_t i = 0; i < n; ++i) {
            uint8_t lit = (uint8_t)(bt_test_rng_next(&rng) % 10);
            for (size_t j = 0; j < 16; ++j)
                pixels[i * 16 + j] = (uint8_t)(bt_test_rng_next(&rng) % 40);
            pixels[i * 16 + lit] = 255;
            bool noisy = noisy_one_in > 0 && bt_test_rng_next(&rng) % noisy_one_in == 0;
            labels[i] = noisy ? (uint8_t)(bt_test_rng_next(&rng) % 10) : lit;
        }
        uint32_t image_dims[3] = {(uint32_t)n, 4, 4}, label_dims[1] = {(uint32_t)n};
        free(bt_test_write_idx(dir, names[2 * part], part == 0, 3, image_dims, pixels, n * 16));
        free(bt_test_write_idx(dir, names[2 * part + 1], part == 1, 1, label_dims, labels, n));
        free(pixels);
        free(labels);
    }
    return dir;
}

uint64_t bt_test_resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long long total = 0, resident = 0;
    int fields = fscanf(f, "%llu %llu", &total, &resident);
    fclose(f);
    return fields == 2 ? (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}
