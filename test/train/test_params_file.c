/* Parameter files: a saved network loads back bit for bit and predicts the same, and every kind of
 * damaged file is refused with a message that names the file and the problem. The damaged files
 * are made from the bytes of a valid one; the checksum is recomputed after each header change so
 * that the check under test, not the CRC, is what refuses the file. */
#define _POSIX_C_SOURCE 200809L
#include "common/byte_order.h"
#include "common/checksum.h"
#include "test_support.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Offsets of the header fields (see src/params_file.c). */
enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 8,
    OFF_N_SIZES = 12,
    OFF_HIDDEN = 16,
    OFF_OUTPUT = 20,
    OFF_COST = 24,
    OFF_INIT = 28,
    OFF_PARAM_COUNT = 32,
    OFF_SIZES = 40,
};

typedef struct fixture {
    bt_device *device;
    bt_network *network;
    char *dir;
    char *valid_path;
    uint8_t *valid; /* the bytes of valid_path */
    size_t valid_len;
} fixture;

static fixture fx;

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size > 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    uint8_t *data = malloc((size_t)size);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return data;
}

/* Rewrites the trailing CRC-32 so that it matches the (modified) bytes before it. */
static void fix_crc(uint8_t *data, size_t len)
{
    assert_true(len >= 4);
    bt_put_u32(data + len - 4, bt_crc32_update(BT_CRC32_INIT, data, len - 4));
}

static uint8_t *valid_copy(size_t extra)
{
    uint8_t *copy = calloc(1, fx.valid_len + extra);
    assert_non_null(copy);
    memcpy(copy, fx.valid, fx.valid_len);
    return copy;
}

/* Loads `path` and checks the failure: status, no network, and a message naming the file and
 * containing `phrase`. */
static void expect_refused(const char *path, bt_status status, const char *phrase)
{
    bt_network *network = (bt_network *)&fx; /* must be reset to NULL */
    bt_status got = bt_network_load(fx.device, path, 4, &network);
    if (got != status)
        fail_msg("loading %s: expected %s, got %s: %s", path, bt_status_name(status),
                 bt_status_name(got), bt_last_error());
    assert_null(network);
    const char *msg = bt_last_error();
    if (!strstr(msg, path) || !strstr(msg, phrase))
        fail_msg("message for %s lacks the path or \"%s\": %s", path, phrase, msg);
}

/* Writes `data` as a file named `name` in the test folder and expects loading it to fail. */
static void expect_bytes_refused(const char *name, const uint8_t *data, size_t len,
                                 bt_status status, const char *phrase)
{
    char *path = bt_test_path(fx.dir, name);
    bt_test_write_file(path, data, len);
    expect_refused(path, status, phrase);
    remove(path);
    free(path);
}

/* A valid file with one u32 header field replaced (checksum recomputed). */
static void expect_u32_field_refused(const char *name, size_t offset, uint32_t value,
                                     const char *phrase)
{
    uint8_t *data = valid_copy(0);
    bt_put_u32(data + offset, value);
    fix_crc(data, fx.valid_len);
    expect_bytes_refused(name, data, fx.valid_len, BT_ERR_FORMAT, phrase);
    free(data);
}

static bt_network_opts small_opts(void)
{
    bt_network_opts opts = bt_network_opts_default();
    BT_ASSERT_OK(bt_network_parse_sizes("5,4,3", &opts));
    /* Not the defaults, so that every enum field is seen to round-trip. */
    opts.hidden = BT_ACT_TANH;
    opts.output = BT_ACT_SIGMOID;
    opts.cost = BT_COST_CROSS_ENTROPY;
    opts.init = BT_INIT_SCALED;
    opts.seed = bt_test_seed();
    opts.max_batch = 8;
    return opts;
}

static int setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    fx.device = bt_test_open_device();
    bt_network_opts opts = small_opts();
    BT_ASSERT_OK(bt_network_create(fx.device, &opts, &fx.network));
    fx.dir = bt_test_make_tmpdir("params-file");
    fx.valid_path = bt_test_path(fx.dir, "valid.btnet");
    BT_ASSERT_OK(bt_network_save(fx.network, fx.valid_path));
    fx.valid = read_all(fx.valid_path, &fx.valid_len);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(fx.valid);
    bt_test_remove_tree(fx.dir);
    free(fx.valid_path);
    free(fx.dir);
    bt_network_destroy(fx.network);
    bt_device_destroy(fx.device);
    return 0;
}

static void test_layout_matches_the_documentation(void **state)
{
    (void)state;
    /* 5,4,3: 4*5 + 4 + 3*4 + 3 = 39 parameters. */
    assert_int_equal(bt_network_param_count(fx.network), 39);
    assert_int_equal(fx.valid_len, 40 + 3 * 8 + 39 * 4 + 4);
    assert_memory_equal(fx.valid, "BTNET\0\0\0", 8);
    assert_int_equal(bt_get_u32(fx.valid + OFF_VERSION), 1);
    assert_int_equal(bt_get_u32(fx.valid + OFF_N_SIZES), 3);
    assert_int_equal(bt_get_u32(fx.valid + OFF_HIDDEN), BT_ACT_TANH);
    assert_int_equal(bt_get_u32(fx.valid + OFF_OUTPUT), BT_ACT_SIGMOID);
    assert_int_equal(bt_get_u32(fx.valid + OFF_COST), BT_COST_CROSS_ENTROPY);
    assert_int_equal(bt_get_u32(fx.valid + OFF_INIT), BT_INIT_SCALED);
    assert_int_equal(bt_get_u32(fx.valid + OFF_PARAM_COUNT), 39);
    assert_int_equal(bt_get_u32(fx.valid + OFF_PARAM_COUNT + 4), 0);
    assert_int_equal(bt_get_u32(fx.valid + OFF_SIZES), 5);
    assert_int_equal(bt_get_u32(fx.valid + OFF_SIZES + 8), 4);
    assert_int_equal(bt_get_u32(fx.valid + OFF_SIZES + 16), 3);

    float params[39];
    BT_ASSERT_OK(bt_network_get_params(fx.network, params, 39));
    for (size_t i = 0; i < 39; ++i) {
        uint32_t bits;
        memcpy(&bits, &params[i], sizeof bits);
        assert_int_equal(bt_get_u32(fx.valid + OFF_SIZES + 24 + 4 * i), bits);
    }
    uint32_t crc = bt_crc32_update(BT_CRC32_INIT, fx.valid, fx.valid_len - 4);
    assert_int_equal(bt_get_u32(fx.valid + fx.valid_len - 4), crc);
}

static void test_round_trip_is_bitwise(void **state)
{
    (void)state;
    bt_network *loaded = NULL;
    BT_ASSERT_OK(bt_network_load(fx.device, fx.valid_path, 6, &loaded));

    const bt_network_opts *a = bt_network_get_opts(fx.network);
    const bt_network_opts *b = bt_network_get_opts(loaded);
    assert_int_equal(b->n_sizes, a->n_sizes);
    for (size_t i = 0; i < a->n_sizes; ++i)
        assert_int_equal(b->sizes[i], a->sizes[i]);
    assert_int_equal(b->hidden, a->hidden);
    assert_int_equal(b->output, a->output);
    assert_int_equal(b->cost, a->cost);
    assert_int_equal(b->init, a->init);
    assert_int_equal(b->max_batch, 6); /* the loader's choice, not stored */

    size_t count = bt_network_param_count(fx.network);
    assert_int_equal(bt_network_param_count(loaded), count);
    float *original = malloc(count * sizeof *original);
    float *restored = malloc(count * sizeof *restored);
    assert_non_null(original);
    assert_non_null(restored);
    BT_ASSERT_OK(bt_network_get_params(fx.network, original, count));
    BT_ASSERT_OK(bt_network_get_params(loaded, restored, count));
    assert_memory_equal(original, restored, count * sizeof *original);

    /* Saving the loaded network gives the same bytes again. */
    char *again = bt_test_path(fx.dir, "again.btnet");
    BT_ASSERT_OK(bt_network_save(loaded, again));
    size_t again_len = 0;
    uint8_t *again_bytes = read_all(again, &again_len);
    assert_int_equal(again_len, fx.valid_len);
    assert_memory_equal(again_bytes, fx.valid, fx.valid_len);
    remove(again);
    free(again_bytes);
    free(again);

    free(original);
    free(restored);
    bt_network_destroy(loaded);
}

static void test_loaded_network_predicts_the_same(void **state)
{
    (void)state;
    enum { M = 8, IN = 5, OUT = 3 };
    bt_network *loaded = NULL;
    BT_ASSERT_OK(bt_network_load(fx.device, fx.valid_path, 8, &loaded));
    bt_test_rng rng = bt_test_rng_make(bt_test_seed() ^ 0x5eedull);
    float x[M * IN], expected[M * OUT], got[M * OUT];
    bt_test_fill_uniform(&rng, x, M * IN, 0.0f, 1.0f);
    BT_ASSERT_OK(bt_network_predict_host(fx.network, x, M, expected));
    BT_ASSERT_OK(bt_network_predict_host(loaded, x, M, got));
    /* Same parameters, same device, same batch size: the same arithmetic. */
    assert_memory_equal(expected, got, sizeof expected);
    bt_network_destroy(loaded);
}

/* The folder holds only the named files: no temporary file was left behind. */
static void assert_folder_holds(const char *dir, const char *const *names, size_t count)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t seen = 0;
    struct dirent *entry;
    while ((entry = readdir(d)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        bool known = false;
        for (size_t i = 0; i < count; ++i)
            known |= strcmp(entry->d_name, names[i]) == 0;
        if (!known)
            fail_msg("unexpected file %s in %s", entry->d_name, dir);
        ++seen;
    }
    closedir(d);
    assert_int_equal(seen, count);
}

static void test_save_replaces_atomically_and_reports_io_errors(void **state)
{
    (void)state;
    char *sub = bt_test_path(fx.dir, "save");
    assert_int_equal(mkdir(sub, 0700), 0);
    char *path = bt_test_path(sub, "net.btnet");

    /* Overwriting an existing file replaces it whole. */
    bt_test_write_file(path, "old contents", 12);
    BT_ASSERT_OK(bt_network_save(fx.network, path));
    size_t len = 0;
    uint8_t *bytes = read_all(path, &len);
    assert_int_equal(len, fx.valid_len);
    assert_memory_equal(bytes, fx.valid, len);
    free(bytes);
    static const char *const only_net[] = {"net.btnet"};
    assert_folder_holds(sub, only_net, 1);

    /* A folder that does not exist. */
    char *missing = bt_test_path(fx.dir, "no-such-folder/net.btnet");
    assert_int_equal(bt_network_save(fx.network, missing), BT_ERR_IO);
    assert_non_null(strstr(bt_last_error(), missing));
    assert_non_null(strstr(bt_last_error(), "cannot create"));
    free(missing);

    /* The rename fails (the destination is a folder): the temporary file is removed. */
    char *blocker = bt_test_path(sub, "blocker");
    assert_int_equal(mkdir(blocker, 0700), 0);
    char *inside = bt_test_path(blocker, "x");
    bt_test_write_file(inside, "x", 1);
    assert_int_equal(bt_network_save(fx.network, blocker), BT_ERR_IO);
    assert_non_null(strstr(bt_last_error(), blocker));
    assert_non_null(strstr(bt_last_error(), "cannot rename"));
    static const char *const net_and_blocker[] = {"net.btnet", "blocker"};
    assert_folder_holds(sub, net_and_blocker, 2);
    free(inside);
    free(blocker);

    free(path);
    free(sub);
}

static void test_missing_empty_and_odd_files(void **state)
{
    (void)state;
    char *missing = bt_test_path(fx.dir, "does-not-exist.btnet");
    expect_refused(missing, BT_ERR_IO, "cannot open");
    expect_refused(missing, BT_ERR_IO, "No such file");
    free(missing);

    expect_refused(fx.dir, BT_ERR_IO, "not a regular file");
    expect_bytes_refused("empty.btnet", (const uint8_t *)"", 0, BT_ERR_FORMAT, "empty");
    expect_bytes_refused("tiny.btnet", (const uint8_t *)"BTN", 3, BT_ERR_FORMAT, "too short");
    expect_bytes_refused("header-cut.btnet", fx.valid, 20, BT_ERR_FORMAT, "too short");
    expect_bytes_refused("sizes-cut.btnet", fx.valid, OFF_SIZES + 12, BT_ERR_FORMAT, "truncated");
}

/* A FIFO as the file: refused at once, not waited on for a writer (SIGALRM ends a hang). */
static void test_fifo_refused_without_blocking(void **state)
{
    (void)state;
    char *fifo = bt_test_path(fx.dir, "fifo.btnet");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    alarm(60);
    expect_refused(fifo, BT_ERR_IO, "not a regular file");
    alarm(0);
    remove(fifo);
    free(fifo);
}

static void test_wrong_magic_and_version(void **state)
{
    (void)state;
    uint8_t *data = valid_copy(0);
    memcpy(data + OFF_MAGIC, "BTNUT\0\0\0", 8);
    fix_crc(data, fx.valid_len);
    expect_bytes_refused("magic.btnet", data, fx.valid_len, BT_ERR_FORMAT,
                         "not a batchtune parameter file");
    free(data);

    static const char text[] = "just some text that is long enough to have a header";
    expect_bytes_refused("text.btnet", (const uint8_t *)text, sizeof text - 1, BT_ERR_FORMAT,
                         "not a batchtune parameter file");

    expect_u32_field_refused("version0.btnet", OFF_VERSION, 0, "unsupported format version 0");
    expect_u32_field_refused("version2.btnet", OFF_VERSION, 2, "unsupported format version 2");
}

static void test_bad_layer_counts_and_sizes(void **state)
{
    (void)state;
    expect_u32_field_refused("n0.btnet", OFF_N_SIZES, 0, "declares 0 layer sizes");
    expect_u32_field_refused("n1.btnet", OFF_N_SIZES, 1, "declares 1 layer sizes");
    expect_u32_field_refused("n99.btnet", OFF_N_SIZES, 99, "declares 99 layer sizes");
    expect_u32_field_refused("n-max.btnet", OFF_N_SIZES, UINT32_MAX, "layer sizes");
    /* Fewer sizes: the rest no longer adds up. */
    expect_u32_field_refused("n2.btnet", OFF_N_SIZES, 2, "parameter count");

    uint8_t *data = valid_copy(0);
    bt_put_u64(data + OFF_SIZES + 8, 0);
    fix_crc(data, fx.valid_len);
    expect_bytes_refused("size0.btnet", data, fx.valid_len, BT_ERR_FORMAT, "layer size 2 is 0");

    memcpy(data, fx.valid, fx.valid_len);
    bt_put_u64(data + OFF_SIZES, (uint64_t)1 << 40);
    fix_crc(data, fx.valid_len);
    expect_bytes_refused("size-huge.btnet", data, fx.valid_len, BT_ERR_FORMAT,
                         "more than the limit");

    /* Sizes each within the limit, with a consistent parameter count of about 2^48: refused by
     * comparing with the real file size, before anything of that size is allocated. */
    const uint64_t big = (uint64_t)1 << 24;
    memcpy(data, fx.valid, fx.valid_len);
    bt_put_u64(data + OFF_SIZES, big);
    bt_put_u64(data + OFF_SIZES + 8, big);
    bt_put_u64(data + OFF_PARAM_COUNT, big * (big + 1) + 3 * (big + 1));
    fix_crc(data, fx.valid_len);
    expect_bytes_refused("sizes-big.btnet", data, fx.valid_len, BT_ERR_FORMAT, "truncated");

    /* A parameter count that disagrees with the sizes. */
    memcpy(data, fx.valid, fx.valid_len);
    bt_put_u64(data + OFF_PARAM_COUNT, 40);
    fix_crc(data, fx.valid_len);
    expect_bytes_refused("count.btnet", data, fx.valid_len, BT_ERR_FORMAT,
                         "parameter count 40 does not match");
    bt_put_u64(data + OFF_PARAM_COUNT, UINT64_MAX);
    fix_crc(data, fx.valid_len);
    expect_bytes_refused("count-max.btnet", data, fx.valid_len, BT_ERR_FORMAT,
                         "does not match the layer sizes");
    free(data);
}

static void test_bad_enum_values_and_combinations(void **state)
{
    (void)state;
    expect_u32_field_refused("hidden.btnet", OFF_HIDDEN, 4, "unknown hidden activation 4");
    expect_u32_field_refused("output.btnet", OFF_OUTPUT, 77, "unknown output activation 77");
    expect_u32_field_refused("cost.btnet", OFF_COST, 3, "unknown cost 3");
    expect_u32_field_refused("init.btnet", OFF_INIT, UINT32_MAX, "unknown initialisation");
    /* Known values that do not go together. */
    expect_u32_field_refused("softmax-hidden.btnet", OFF_HIDDEN, BT_ACT_SOFTMAX,
                             "invalid network");
    expect_u32_field_refused("ll-sigmoid.btnet", OFF_COST, BT_COST_LOG_LIKELIHOOD,
                             "invalid network");
}

static void test_truncation_trailing_bytes_and_corruption(void **state)
{
    (void)state;
    expect_bytes_refused("cut-params.btnet", fx.valid, fx.valid_len - 9, BT_ERR_FORMAT,
                         "truncated");
    expect_bytes_refused("cut-crc.btnet", fx.valid, fx.valid_len - 1, BT_ERR_FORMAT,
                         "truncated");

    uint8_t *data = valid_copy(3);
    expect_bytes_refused("trailing.btnet", data, fx.valid_len + 3, BT_ERR_FORMAT,
                         "3 trailing bytes");

    /* One flipped bit in a parameter, in the last byte before the CRC, in the CRC itself, and
     * in a header field whose value stays valid. */
    const size_t flips[] = {OFF_SIZES + 24 + 17, fx.valid_len - 5, fx.valid_len - 2,
                            OFF_INIT};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; ++i) {
        memcpy(data, fx.valid, fx.valid_len);
        data[flips[i]] ^= 0x01;
        expect_bytes_refused("flipped.btnet", data, fx.valid_len, BT_ERR_FORMAT,
                             "corrupt: checksum mismatch");
    }
    free(data);
}

/* Peak resident memory of this process (VmHWM), in bytes; 0 where it cannot be read. */
static uint64_t peak_resident_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kib = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %llu kB", &kib) == 1)
            break;
    fclose(f);
    return (uint64_t)kib << 10;
}

/* A sparse file of 512 MiB whose valid header declares exactly that many parameters, with a wrong
 * checksum: refused for the checksum without reading the parameters into memory. */
static void test_huge_sparse_file_refused_without_its_size_in_memory(void **state)
{
    (void)state;
    const uint64_t sizes[2] = {8191, 16384}; /* 16384 * 8192 parameters: 512 MiB */
    uint64_t params = sizes[1] * (sizes[0] + 1);
    uint8_t header[OFF_SIZES + 16];
    memcpy(header, fx.valid, OFF_SIZES);
    bt_put_u32(header + OFF_N_SIZES, 2);
    bt_put_u32(header + OFF_HIDDEN, BT_ACT_SIGMOID);
    bt_put_u32(header + OFF_OUTPUT, BT_ACT_SIGMOID);
    bt_put_u32(header + OFF_COST, BT_COST_QUADRATIC);
    bt_put_u64(header + OFF_PARAM_COUNT, params);
    bt_put_u64(header + OFF_SIZES, sizes[0]);
    bt_put_u64(header + OFF_SIZES + 8, sizes[1]);
    char *path = bt_test_path(fx.dir, "sparse.btnet");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(header, 1, sizeof header, f), sizeof header);
    fclose(f);
    assert_int_equal(truncate(path, (off_t)(sizeof header + 4 * params + 4)), 0);

    uint64_t before = peak_resident_bytes();
    expect_refused(path, BT_ERR_FORMAT, "checksum mismatch");
    uint64_t after = peak_resident_bytes();
    if (before > 0 && after - before > ((uint64_t)64 << 20))
        fail_msg("loading a damaged 512 MiB file raised the peak resident memory by %llu MiB",
                 (unsigned long long)((after - before) >> 20));
    remove(path);
    free(path);
}

/* NaN or infinite parameters, with a valid checksum: refused, all of them or one. */
static void test_non_finite_parameters_refused(void **state)
{
    (void)state;
    const size_t first = OFF_SIZES + 8 * 3; /* 5,4,3: three sizes */
    const size_t count = (fx.valid_len - 4 - first) / 4;
    const uint32_t nan_bits = 0x7FC00000u, inf_bits = 0x7F800000u, minus_inf = 0xFF800000u;
    const uint32_t values[3] = {nan_bits, inf_bits, minus_inf};
    const char *names[3] = {"NaN", "infinite", "infinite"};
    for (size_t v = 0; v < 3; ++v) {
        uint8_t *data = valid_copy(0);
        for (size_t i = 0; i < count; ++i)
            bt_put_u32(data + first + 4 * i, values[v]);
        fix_crc(data, fx.valid_len);
        expect_bytes_refused("all-bad.btnet", data, fx.valid_len, BT_ERR_FORMAT, names[v]);
        expect_bytes_refused("all-bad.btnet", data, fx.valid_len, BT_ERR_FORMAT, "not finite");

        memcpy(data, fx.valid, fx.valid_len);
        bt_put_u32(data + first + 4 * (count - 1), values[v]);
        fix_crc(data, fx.valid_len);
        expect_bytes_refused("one-bad.btnet", data, fx.valid_len, BT_ERR_FORMAT,
                             "1 of the 39 parameters are not finite");
        free(data);
    }
}

static void test_bad_arguments(void **state)
{
    (void)state;
    bt_network *network = (bt_network *)&fx;
    assert_int_equal(bt_network_load(NULL, fx.valid_path, 4, &network), BT_ERR_INVALID_ARGUMENT);
    assert_null(network);
    network = (bt_network *)&fx;
    assert_int_equal(bt_network_load(fx.device, NULL, 4, &network), BT_ERR_INVALID_ARGUMENT);
    assert_null(network);
    assert_int_equal(bt_network_load(fx.device, fx.valid_path, 0, &network),
                     BT_ERR_INVALID_ARGUMENT);
    assert_null(network);
    assert_int_equal(bt_network_load(fx.device, fx.valid_path, 4, NULL), BT_ERR_INVALID_ARGUMENT);
    assert_int_equal(bt_network_save(NULL, fx.valid_path), BT_ERR_INVALID_ARGUMENT);
    assert_int_equal(bt_network_save(fx.network, NULL), BT_ERR_INVALID_ARGUMENT);
    assert_int_equal(bt_network_save(fx.network, ""), BT_ERR_INVALID_ARGUMENT);
}

int main(void)
{
    bt_test_require_opencl();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_matches_the_documentation),
        cmocka_unit_test(test_round_trip_is_bitwise),
        cmocka_unit_test(test_loaded_network_predicts_the_same),
        cmocka_unit_test(test_save_replaces_atomically_and_reports_io_errors),
        cmocka_unit_test(test_missing_empty_and_odd_files),
        cmocka_unit_test(test_fifo_refused_without_blocking),
        cmocka_unit_test(test_wrong_magic_and_version),
        cmocka_unit_test(test_bad_layer_counts_and_sizes),
        cmocka_unit_test(test_bad_enum_values_and_combinations),
        cmocka_unit_test(test_truncation_trailing_bytes_and_corruption),
        cmocka_unit_test(test_huge_sparse_file_refused_without_its_size_in_memory),
        cmocka_unit_test(test_non_finite_parameters_refused),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
