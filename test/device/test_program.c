/* Programs: every embedded source builds, build errors carry the compiler's log, the on-disk
 * binary cache is used, survives corruption and can be switched off, and kernel_dir overrides
 * embedded sources by name. */
#define _POSIX_C_SOURCE 200809L
#include "test_support.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static bt_test_rng rng; /* reset by each test that uses it: BT_TEST_RNG() */

/* Two fresh temporary folders per test, removed in the teardown even when the test fails. */
typedef struct folders {
    char *a;
    char *b;
} folders;

static int make_folders(void **state)
{
    folders *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->a = bt_test_make_tmpdir("bt-program");
    f->b = bt_test_make_tmpdir("bt-program");
    *state = f;
    return 0;
}

static int remove_folders(void **state)
{
    folders *f = *state;
    bt_test_remove_tree(f->a);
    bt_test_remove_tree(f->b);
    free(f->a);
    free(f->b);
    free(f);
    return 0;
}

static void assert_contains(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("expected \"%s\" in: %s", needle, text);
}

static bt_device *open_device(const char *cache_dir, bool use_cache, const char *kernel_dir)
{
    bt_device_opts opts = bt_device_opts_default();
    opts.cache_dir = cache_dir;
    opts.use_program_cache = use_cache;
    opts.kernel_dir = kernel_dir;
    bt_device *device = NULL;
    BT_ASSERT_OK(bt_device_create(&opts, &device));
    return device;
}

static bt_program *build_ok(bt_device *device, const char *source_name,
                            bt_program_build_info *info)
{
    bt_program *program = NULL;
    /* The sources take the codes and sizes they share with the host as build options. */
    char options[1024];
    BT_ASSERT_OK(bt_kernel_build_options(device, options, sizeof options));
    BT_ASSERT_OK(bt_program_create(device, source_name, options, &program, info));
    assert_non_null(program);
    return program;
}

static bt_program *build_source_ok(bt_device *device, const char *source,
                                   bt_program_build_info *info)
{
    bt_program *program = NULL;
    BT_ASSERT_OK(bt_program_create_from_source(device, "test source", source, NULL, &program,
                                               info));
    assert_non_null(program);
    return program;
}

static void assert_kernel_exists(const bt_program *program, const char *name)
{
    cl_kernel kernel = NULL;
    BT_ASSERT_OK(bt_program_create_kernel(program, name, &kernel));
    assert_non_null(kernel);
    clReleaseKernel(kernel);
}

/* Entries of a folder other than . and ..; 0 when the folder does not exist. */
static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t n = 0;
    for (struct dirent *e = readdir(d); e; e = readdir(d))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static bool is_cache_file_name(const char *name)
{
    if (strlen(name) != 16 + 4 || strcmp(name + 16, ".bin") != 0)
        return false;
    for (int i = 0; i < 16; ++i)
        if (!strchr("0123456789abcdef", name[i]))
            return false;
    return true;
}

/* The one file of <cache>/programs (no temporary files left behind); malloc'ed path. */
static char *the_cache_file(const char *cache_dir)
{
    char *programs = bt_test_path(cache_dir, "programs");
    DIR *d = opendir(programs);
    if (!d)
        fail_msg("no folder %s", programs);
    char *found = NULL;
    size_t n = 0;
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        ++n;
        if (!is_cache_file_name(e->d_name))
            fail_msg("unexpected file %s in %s", e->d_name, programs);
        free(found);
        found = bt_test_path(programs, e->d_name);
    }
    closedir(d);
    free(programs);
    assert_int_equal(n, 1);
    return found;
}

static uint8_t *read_whole_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long length = ftell(f);
    assert_true(length > 0);
    rewind(f);
    uint8_t *data = malloc((size_t)length);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)length, f), (size_t)length);
    fclose(f);
    *size = (size_t)length;
    return data;
}

static void test_every_embedded_source_builds(void **state)
{
    const char *cache = ((folders *)*state)->a;
    const char *const *names = bt_kernel_source_names();
    assert_non_null(names);
    bool has_activation = false;
    for (const char *const *name = names; *name; ++name)
        has_activation |= strcmp(*name, "activation.cl") == 0;
    assert_true(has_activation);

    /* Without a cache. */
    bt_device *device = open_device(NULL, false, NULL);
    for (const char *const *name = names; *name; ++name) {
        bt_program_build_info info = {.from_cache = true, .cache_rejected = true};
        bt_program *program = build_ok(device, *name, &info);
        assert_false(info.from_cache);
        assert_false(info.cache_rejected);
        assert_true(info.seconds >= 0.0);
        bt_program_destroy(program);
    }
    bt_device_destroy(device);

    /* With a fresh cache: compiled once, then loaded, and the loaded program is usable. */
    device = open_device(cache, true, NULL);
    size_t files = 0;
    for (const char *const *name = names; *name; ++name) {
        bt_program_build_info info;
        bt_program *program = build_ok(device, *name, &info);
        assert_false(info.from_cache);
        bt_program_destroy(program);
        program = build_ok(device, *name, &info);
        assert_true(info.from_cache);
        assert_false(info.cache_rejected);
        if (strcmp(*name, "activation.cl") == 0) {
            assert_kernel_exists(program, "bias_activate");
            assert_kernel_exists(program, "activation_backward");
        }
        bt_program_destroy(program);
        ++files;
    }
    char *programs = bt_test_path(cache, "programs");
    assert_int_equal(count_entries(programs), files);
    free(programs);
    bt_device_destroy(device);
}

static void test_unknown_source_name_is_rejected(void **state)
{
    (void)state;
    bt_device *device = open_device(NULL, false, NULL);
    bt_program *program = (bt_program *)&program;
    assert_int_equal(bt_program_create(device, "no-such-kernel-file.cl", NULL, &program, NULL),
                     BT_ERR_INVALID_ARGUMENT);
    assert_null(program);
    assert_contains(bt_last_error(), "no-such-kernel-file.cl");
    bt_device_destroy(device);
}

static void test_compile_error_reports_the_build_log(void **state)
{
    const char *cache = ((folders *)*state)->a;
    bt_device *device = open_device(cache, true, NULL);
    const char *broken = "__kernel void broken(__global float *x)\n"
                         "{\n"
                         "    x[get_global_id(0)] = undeclared_thing;\n"
                         "}\n";
    bt_program *program = (bt_program *)&program;
    assert_int_equal(bt_program_create_from_source(device, "broken.cl", broken, NULL, &program,
                                                   NULL),
                     BT_ERR_BUILD);
    assert_null(program);
    const char *msg = bt_last_error();
    assert_contains(msg, "broken.cl");
    assert_contains(msg, "build log");
    /* The compiler's own diagnostic, not just our text: it names the identifier after the
     * "build log" heading. */
    const char *log = strstr(msg, "build log");
    assert_contains(log, "undeclared_thing");
    /* A failed build caches nothing. */
    char *programs = bt_test_path(cache, "programs");
    assert_int_equal(count_entries(programs), 0);
    free(programs);

    /* The device is still usable. */
    bt_program_build_info info;
    program = build_source_ok(device, "__kernel void fine(__global float *x) { x[0] = 1.0f; }",
                              &info);
    assert_kernel_exists(program, "fine");
    bt_program_destroy(program);
    bt_device_destroy(device);
}

/* y = a * x + b on n floats, with the kernel of `program`, checked on the host. */
static void assert_scale_shift_works(bt_device *device, const bt_program *program)
{
    const size_t n = 500 + (size_t)(bt_test_rng_next(&rng) % 1500);
    const float a = (float)bt_test_rng_uniform(&rng, -4.0, 4.0);
    const float b = (float)bt_test_rng_uniform(&rng, -10.0, 10.0);
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    bt_test_fill_uniform(&rng, x, n, -100.0f, 100.0f);

    bt_buffer *xb = NULL, *yb = NULL;
    BT_ASSERT_OK(bt_buffer_create(device, n * sizeof(float), &xb));
    BT_ASSERT_OK(bt_buffer_create(device, n * sizeof(float), &yb));
    BT_ASSERT_OK(bt_buffer_write(xb, 0, x, n * sizeof(float)));
    BT_ASSERT_OK(bt_buffer_fill_float(yb, 0, n, NAN));

    cl_kernel kernel = NULL;
    BT_ASSERT_OK(bt_program_create_kernel(program, "scale_shift", &kernel));
    cl_mem ym = bt_buffer_cl_mem(yb), xm = bt_buffer_cl_mem(xb);
    assert_int_equal(clSetKernelArg(kernel, 0, sizeof ym, &ym), CL_SUCCESS);
    assert_int_equal(clSetKernelArg(kernel, 1, sizeof xm, &xm), CL_SUCCESS);
    assert_int_equal(clSetKernelArg(kernel, 2, sizeof a, &a), CL_SUCCESS);
    assert_int_equal(clSetKernelArg(kernel, 3, sizeof b, &b), CL_SUCCESS);
    size_t global = n;
    assert_int_equal(clEnqueueNDRangeKernel(bt_device_cl_queue(device), kernel, 1, NULL, &global,
                                            NULL, 0, NULL, NULL),
                     CL_SUCCESS);
    BT_ASSERT_OK(bt_buffer_read(yb, 0, y, n * sizeof(float))); /* in-order queue: after it */
    for (size_t i = 0; i < n; ++i) {
        double want = (double)a * (double)x[i] + (double)b;
        /* float rounding of the product and the sum, whether or not the device fuses them */
        double tolerance = 2.5e-7 * (fabs((double)a * (double)x[i]) + fabs((double)b)) + 1e-30;
        if (!(fabs((double)y[i] - want) <= tolerance))
            fail_msg("y[%zu] = %.9g, expected %.9g (a = %g, x = %g, b = %g)", i, (double)y[i],
                     want, (double)a, (double)x[i], (double)b);
    }
    clReleaseKernel(kernel);
    bt_buffer_destroy(xb);
    bt_buffer_destroy(yb);
    free(x);
    free(y);
}

typedef enum corruption {
    FLIP_PAYLOAD_BYTES,
    TRUNCATE,
    WRONG_MAGIC,
    TRAILING_BYTES,
    DRIVER_REJECTS_PAYLOAD, /* our checks pass; the driver must refuse the binary */
} corruption;

static const char *corruption_name(corruption how)
{
    switch (how) {
    case FLIP_PAYLOAD_BYTES:
        return "flipped payload bytes";
    case TRUNCATE:
        return "truncated";
    case WRONG_MAGIC:
        return "garbage with a wrong magic";
    case TRAILING_BYTES:
        return "trailing bytes";
    case DRIVER_REJECTS_PAYLOAD:
        break;
    }
    return "well-formed but not a device binary";
}

static void corrupt_file(const char *path, corruption how)
{
    size_t size = 0;
    uint8_t *data = read_whole_file(path, &size);
    const size_t header = 32; /* program_cache.h */
    assert_true(size > header + 64);
    assert_memory_equal(data, "BTPROG01", 8);
    switch (how) {
    case FLIP_PAYLOAD_BYTES: {
        size_t middle = header + (size - header) / 2;
        for (size_t i = 0; i < 16; ++i)
            data[middle + i] ^= (uint8_t)(0x5a + i);
        bt_test_write_file(path, data, size);
        break;
    }
    case TRUNCATE:
        assert_int_equal(truncate(path, (off_t)(header + (size - header) / 2)), 0);
        break;
    case WRONG_MAGIC:
        for (size_t i = 0; i < size; ++i)
            data[i] = (uint8_t)(bt_test_rng_next(&rng) >> 56);
        memcpy(data, "GARBAGE!", 8);
        bt_test_write_file(path, data, size);
        break;
    case TRAILING_BYTES: {
        FILE *f = fopen(path, "ab");
        assert_non_null(f);
        assert_int_equal(fwrite("extra", 1, 5, f), 5);
        assert_int_equal(fclose(f), 0);
        break;
    }
    case DRIVER_REJECTS_PAYLOAD: {
        /* Magic, key and size kept; random payload with a matching CRC-32 (little-endian u32
         * at offset 24, then a zero u32). */
        for (size_t i = header; i < size; ++i)
            data[i] = (uint8_t)(bt_test_rng_next(&rng) >> 56);
        uLong crc = crc32(crc32(0L, Z_NULL, 0), data + header, (uInt)(size - header));
        for (size_t i = 0; i < 8; ++i)
            data[24 + i] = i < 4 ? (uint8_t)(crc >> (8 * i)) : 0;
        bt_test_write_file(path, data, size);
        break;
    }
    }
    free(data);
}

static void test_binary_cache_round_trip_and_corruption(void **state)
{
    const char *cache = ((folders *)*state)->a;
    rng = BT_TEST_RNG();
    /* Unique per seed, so that neither our cache nor the driver's has seen it in another run. */
    char source[512];
    snprintf(source, sizeof source,
             "/* test_program cache test, seed %llu */\n"
             "__kernel void scale_shift(__global float *y, __global const float *x, float a, "
             "float b)\n"
             "{\n"
             "    size_t i = get_global_id(0);\n"
             "    y[i] = a * x[i] + b;\n"
             "}\n",
             (unsigned long long)bt_test_rng_next(&rng));

    /* Cold: compiled, and one cache file written. */
    bt_device *device = open_device(cache, true, NULL);
    bt_program_build_info cold = {.from_cache = true, .cache_rejected = true};
    bt_program *program = build_source_ok(device, source, &cold);
    assert_false(cold.from_cache);
    assert_false(cold.cache_rejected);
    assert_scale_shift_works(device, program);
    bt_program_destroy(program);
    bt_device_destroy(device);
    char *file = the_cache_file(cache);

    /* Warm, on a new device handle: loaded from the file, and the kernel computes. */
    device = open_device(cache, true, NULL);
    bt_program_build_info warm = {0};
    program = build_source_ok(device, source, &warm);
    assert_true(warm.from_cache);
    assert_false(warm.cache_rejected);
    assert_scale_shift_works(device, program);
    bt_program_destroy(program);
    fprintf(stderr, "scale_shift build: cold %.4f s, from the binary cache %.4f s\n",
            cold.seconds, warm.seconds);

    /* Each damaged file is detected, rebuilt from source and rewritten valid. */
    const corruption ways[] = {FLIP_PAYLOAD_BYTES, TRUNCATE, WRONG_MAGIC, TRAILING_BYTES,
                               DRIVER_REJECTS_PAYLOAD};
    for (size_t i = 0; i < sizeof ways / sizeof ways[0]; ++i) {
        corrupt_file(file, ways[i]);
        bt_program_build_info info = {.from_cache = true};
        program = build_source_ok(device, source, &info);
        if (info.from_cache || !info.cache_rejected)
            fail_msg("%s cache file: from_cache %d, cache_rejected %d",
                     corruption_name(ways[i]), info.from_cache, info.cache_rejected);
        assert_scale_shift_works(device, program);
        bt_program_destroy(program);

        free(the_cache_file(cache)); /* still exactly one file */
        program = build_source_ok(device, source, &info);
        if (!info.from_cache || info.cache_rejected)
            fail_msg("after the %s cache file was replaced: from_cache %d, cache_rejected %d",
                     corruption_name(ways[i]), info.from_cache, info.cache_rejected);
        assert_scale_shift_works(device, program);
        bt_program_destroy(program);
    }

    /* Other build options are another program: a second file. */
    bt_program_build_info info;
    program = NULL;
    BT_ASSERT_OK(bt_program_create_from_source(device, "test source", source,
                                               "-DBT_TEST_UNUSED_MACRO=1", &program, &info));
    assert_false(info.from_cache);
    assert_false(info.cache_rejected);
    bt_program_destroy(program);
    char *programs = bt_test_path(cache, "programs");
    assert_int_equal(count_entries(programs), 2);
    free(programs);

    bt_device_destroy(device);
    free(file);
}

static void test_disabled_cache_writes_nothing(void **state)
{
    const char *cache = ((folders *)*state)->a;
    rng = BT_TEST_RNG();
    char source[256];
    snprintf(source, sizeof source,
             "/* seed %llu */ __kernel void k(__global float *x) { x[0] = 2.0f; }",
             (unsigned long long)bt_test_rng_next(&rng));
    bt_device *device = open_device(cache, false, NULL); /* a folder given, but caching off */
    for (int round = 0; round < 2; ++round) {
        bt_program_build_info info = {.from_cache = true, .cache_rejected = true};
        bt_program *program = build_source_ok(device, source, &info);
        assert_false(info.from_cache);
        assert_false(info.cache_rejected);
        bt_program_destroy(program);
    }
    assert_int_equal(count_entries(cache), 0);
    bt_device_destroy(device);
}

static void test_kernel_dir_overrides_sources_by_name(void **state)
{
    const char *dir = ((folders *)*state)->a, *other = ((folders *)*state)->b;
    char *path = bt_test_path(dir, "update.cl");
    const char *override = "__kernel void override_marker(__global float *x) { x[0] = 3.0f; }\n";
    bt_test_write_file(path, override, strlen(override));
    free(path);

    bt_device *device = open_device(NULL, false, dir);
    bt_program *program = build_ok(device, "update.cl", NULL);
    assert_kernel_exists(program, "override_marker");
    cl_kernel kernel = NULL;
    assert_int_not_equal(bt_program_create_kernel(program, "bias_update", &kernel), BT_OK);
    assert_null(kernel);
    bt_program_destroy(program);

    /* Names the folder lacks still come from the embedded sources. (update.cl, which no other
     * source requires: dense.cl prepends activation.cl and output.cl, overrides included.) */
    for (const char *const *name = bt_kernel_source_names(); *name; ++name) {
        if (strcmp(*name, "update.cl") != 0)
            bt_program_destroy(build_ok(device, *name, NULL));
    }
    program = (bt_program *)&program;
    assert_int_equal(bt_program_create(device, "no-such-kernel-file.cl", NULL, &program, NULL),
                     BT_ERR_INVALID_ARGUMENT);
    assert_null(program);
    bt_device_destroy(device);

    /* A folder without update.cl: the embedded update.cl is built. */
    path = bt_test_path(other, "unrelated.cl");
    bt_test_write_file(path, override, strlen(override));
    free(path);
    device = open_device(NULL, false, other);
    program = build_ok(device, "update.cl", NULL);
    assert_kernel_exists(program, "bias_update");
    assert_int_not_equal(bt_program_create_kernel(program, "override_marker", &kernel), BT_OK);
    bt_program_destroy(program);
    bt_device_destroy(device);
}

/* "// batchtune:requires a.cl b.cl" prepends those sources (overrides included): dense.cl
 * holds the kernels of activation.cl and output.cl too; an unknown requirement is named. */
static void test_required_sources_are_prepended(void **state)
{
    const char *dir = ((folders *)*state)->a;
    bt_device *device = open_device(NULL, false, NULL);
    bt_program *program = build_ok(device, "dense.cl", NULL);
    assert_kernel_exists(program, "dense_output");
    assert_kernel_exists(program, "output_delta");
    assert_kernel_exists(program, "bias_activate");
    bt_program_destroy(program);
    bt_device_destroy(device);

    char *path = bt_test_path(dir, "needs.cl");
    const char *needs = "// batchtune:requires helper.cl\n"
                        "__kernel void uses(__global float *x) { x[0] = twice(x[0]); }\n";
    bt_test_write_file(path, needs, strlen(needs));
    free(path);
    device = open_device(NULL, false, dir);
    program = (bt_program *)&program;
    assert_int_equal(bt_program_create(device, "needs.cl", NULL, &program, NULL),
                     BT_ERR_INVALID_ARGUMENT);
    assert_null(program);
    assert_contains(bt_last_error(), "helper.cl");
    path = bt_test_path(dir, "helper.cl");
    const char *helper = "float twice(float v) { return 2.0f * v; }\n";
    bt_test_write_file(path, helper, strlen(helper));
    free(path);
    program = build_ok(device, "needs.cl", NULL);
    assert_kernel_exists(program, "uses");
    bt_program_destroy(program);
    bt_device_destroy(device);
}

static void test_unknown_kernel_name_is_reported(void **state)
{
    (void)state;
    bt_device *device = open_device(NULL, false, NULL);
    bt_program *program =
        build_source_ok(device, "__kernel void present(__global float *x) { x[0] = 4.0f; }",
                        NULL);
    assert_kernel_exists(program, "present");
    cl_kernel kernel = (cl_kernel)&kernel;
    assert_int_equal(bt_program_create_kernel(program, "absent_kernel_xyz", &kernel),
                     BT_ERR_OPENCL);
    assert_null(kernel);
    assert_contains(bt_last_error(), "absent_kernel_xyz");
    assert_contains(bt_last_error(), "CL_INVALID_KERNEL_NAME");
    bt_program_destroy(program);
    bt_device_destroy(device);
}

static void test_null_arguments_are_rejected(void **state)
{
    (void)state;
    bt_device *device = open_device(NULL, false, NULL);
    bt_program *program = (bt_program *)&program;
    assert_int_equal(bt_program_create(NULL, "activation.cl", NULL, &program, NULL),
                     BT_ERR_INVALID_ARGUMENT);
    assert_null(program);
    assert_int_equal(bt_program_create(device, NULL, NULL, &program, NULL),
                     BT_ERR_INVALID_ARGUMENT);
    assert_int_equal(bt_program_create(device, "activation.cl", NULL, NULL, NULL),
                     BT_ERR_INVALID_ARGUMENT);
    program = (bt_program *)&program;
    assert_int_equal(bt_program_create_from_source(device, "x", NULL, NULL, &program, NULL),
                     BT_ERR_INVALID_ARGUMENT);
    assert_null(program);
    cl_kernel kernel = (cl_kernel)&kernel;
    assert_int_equal(bt_program_create_kernel(NULL, "k", &kernel), BT_ERR_INVALID_ARGUMENT);
    assert_null(kernel);
    assert_int_equal(bt_program_create_kernel(NULL, "k", NULL), BT_ERR_INVALID_ARGUMENT);
    bt_program_destroy(NULL);
    bt_device_destroy(device);
}

int main(void)
{
    bt_test_require_opencl();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_embedded_source_builds, make_folders,
                                        remove_folders),
        cmocka_unit_test(test_unknown_source_name_is_rejected),
        cmocka_unit_test_setup_teardown(test_compile_error_reports_the_build_log, make_folders,
                                        remove_folders),
        cmocka_unit_test_setup_teardown(test_binary_cache_round_trip_and_corruption, make_folders,
                                        remove_folders),
        cmocka_unit_test_setup_teardown(test_disabled_cache_writes_nothing, make_folders,
                                        remove_folders),
        cmocka_unit_test_setup_teardown(test_kernel_dir_overrides_sources_by_name, make_folders,
                                        remove_folders),
        cmocka_unit_test_setup_teardown(test_required_sources_are_prepended, make_folders,
                                        remove_folders),
        cmocka_unit_test(test_unknown_kernel_name_is_reported),
        cmocka_unit_test(test_null_arguments_are_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
