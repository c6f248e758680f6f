/* Device enumeration and every selector form, on the real OpenCL platforms (PoCL in CI) and on
 * synthetic device lists for the selection rules. */
#define _POSIX_C_SOURCE 200809L
#include "test_support.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bt_device_info *list;
static size_t count;

static int load_list(void **state)
{
    (void)state;
    BT_ASSERT_OK(bt_device_list(&list, &count));
    return 0;
}

static int free_list(void **state)
{
    (void)state;
    bt_device_list_free(list);
    return 0;
}

static void test_enumeration_reports_sane_devices(void **state)
{
    (void)state;
    assert_true(count >= 1);
    for (size_t i = 0; i < count; ++i) {
        const bt_device_info *d = &list[i];
        assert_int_equal(d->index, i);
        assert_true(strlen(d->name) > 0);
        assert_true(strlen(d->platform_name) > 0);
        assert_true(strncmp(d->device_version, "OpenCL ", 7) == 0);
        assert_true(strncmp(d->opencl_c_version, "OpenCL C ", 9) == 0);
        assert_true(d->compute_units > 0);
        assert_true(d->global_mem_bytes > 0);
        assert_true(d->max_alloc_bytes > 0 && d->max_alloc_bytes <= d->global_mem_bytes);
        assert_true(d->max_work_group_size > 0);
    }
}

static void test_enumeration_finds_pocl_when_installed(void **state)
{
    (void)state;
    if (access("/etc/OpenCL/vendors/pocl.icd", F_OK) != 0)
        skip();
    bool found = false;
    for (size_t i = 0; i < count; ++i)
        found |= strstr(list[i].platform_name, "Portable Computing Language") != NULL &&
                 list[i].type == BT_DEVICE_CPU && list[i].fp64;
    assert_true(found);
}

static size_t select_ok(const bt_device_info *devices, size_t n, const char *selector)
{
    size_t index = 12345;
    BT_ASSERT_OK(bt_device_select(devices, n, selector, &index));
    assert_true(index < n);
    return index;
}

static void assert_no_match(const bt_device_info *devices, size_t n, const char *selector)
{
    size_t index = 12345;
    assert_int_equal(bt_device_select(devices, n, selector, &index), BT_ERR_NO_DEVICE);
    const char *msg = bt_last_error();
    assert_non_null(strstr(msg, selector));
    assert_non_null(strstr(msg, "Available devices"));
    assert_non_null(strstr(msg, devices[0].name)); /* the list of what exists */
    assert_non_null(strstr(msg, "Select one by"));
}

static void test_selectors_on_real_devices(void **state)
{
    (void)state;
    select_ok(list, count, NULL);
    select_ok(list, count, "");
    assert_int_equal(select_ok(list, count, "0"), 0);
    char loc[32];
    snprintf(loc, sizeof loc, "%zu:%zu", list[0].platform_index, list[0].platform_device_index);
    assert_int_equal(select_ok(list, count, loc), 0);
    size_t chosen = select_ok(list, count, bt_device_type_str(list[0].type));
    assert_int_equal(list[chosen].type, list[0].type);

    /* A name substring in other letter case selects the device too. */
    char part[16];
    snprintf(part, sizeof part, "%.6s", list[0].name);
    for (char *p = part; *p; ++p)
        *p = (char)(islower((unsigned char)*p) ? toupper((unsigned char)*p)
                                               : tolower((unsigned char)*p));
    assert_int_equal(list[select_ok(list, count, part)].type, list[0].type);

    char beyond[32];
    snprintf(beyond, sizeof beyond, "%zu", count);
    assert_no_match(list, count, beyond);
    assert_no_match(list, count, "97:3");
    assert_no_match(list, count, "no-such-device-xyz");
}

static bt_device_info fake(size_t index, size_t platform, size_t device, bt_device_type type,
                           const char *platform_name, const char *name)
{
    bt_device_info d;
    memset(&d, 0, sizeof d);
    d.index = index;
    d.platform_index = platform;
    d.platform_device_index = device;
    d.type = type;
    snprintf(d.platform_name, sizeof d.platform_name, "%s", platform_name);
    snprintf(d.name, sizeof d.name, "%s", name);
    return d;
}

static void test_selection_rules_on_a_synthetic_list(void **state)
{
    (void)state;
    bt_device_info devices[4] = {
        fake(0, 0, 0, BT_DEVICE_CPU, "Portable Computing Language", "pthread-zen4"),
        fake(1, 1, 0, BT_DEVICE_GPU, "NVIDIA CUDA", "NVIDIA H200"),
        fake(2, 1, 1, BT_DEVICE_GPU, "NVIDIA CUDA", "NVIDIA H100"),
        fake(3, 2, 0, BT_DEVICE_ACCELERATOR, "Intel FPGA", "fpga emulator"),
    };
    assert_int_equal(select_ok(devices, 4, NULL), 1); /* the first GPU, not device 0 */
    assert_int_equal(select_ok(devices, 4, "2"), 2);
    assert_int_equal(select_ok(devices, 4, "1:1"), 2);
    assert_int_equal(select_ok(devices, 4, "2:0"), 3);
    assert_int_equal(select_ok(devices, 4, "cpu"), 0);
    assert_int_equal(select_ok(devices, 4, "GPU"), 1);
    assert_int_equal(select_ok(devices, 4, "accelerator"), 3);
    assert_int_equal(select_ok(devices, 4, "h100"), 2);
    assert_int_equal(select_ok(devices, 4, "portable"), 0); /* platform names count too */
    assert_int_equal(select_ok(devices, 4, "cuda nvidia h1"), 2);
    assert_no_match(devices, 4, "1:2");
    assert_no_match(devices, 4, "4");
    assert_no_match(devices, 4, "amd");
    assert_no_match(devices, 4, "99999999999999999999999");

    /* Without a GPU the default is device 0. */
    assert_int_equal(select_ok(devices, 1, NULL), 0);
    bt_device_info no_gpu[2] = {devices[3], devices[0]};
    assert_int_equal(select_ok(no_gpu, 2, ""), 0);
    assert_no_match(no_gpu, 2, "gpu");
}

static void test_create_opens_a_profiling_in_order_queue(void **state)
{
    (void)state;
    bt_device *device = bt_test_open_device();
    const bt_device_info *info = bt_device_get_info(device);
    assert_non_null(info);
    assert_non_null(bt_device_cl_context(device));
    assert_non_null(bt_device_cl_device(device));
    cl_command_queue_properties props = 0;
    assert_int_equal(clGetCommandQueueInfo(bt_device_cl_queue(device), CL_QUEUE_PROPERTIES,
                                           sizeof props, &props, NULL),
                     CL_SUCCESS);
    assert_true(props & CL_QUEUE_PROFILING_ENABLE);
    assert_false(props & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE);
    assert_int_equal(bt_device_allocated_bytes(device), 0);
    BT_ASSERT_OK(bt_device_finish(device));
    bt_device_destroy(device);
    bt_device_destroy(NULL);
}

static void test_environment_variable_selects_the_device(void **state)
{
    (void)state;
    const char *saved = getenv("BATCHTUNE_DEVICE");
    char *saved_copy = saved ? strdup(saved) : NULL;

    setenv("BATCHTUNE_DEVICE", bt_device_type_str(list[0].type), 1);
    bt_device_opts opts = bt_device_opts_default();
    bt_device *device = NULL;
    BT_ASSERT_OK(bt_device_create(&opts, &device));
    assert_int_equal(bt_device_get_info(device)->type, list[0].type);
    bt_device_destroy(device);

    setenv("BATCHTUNE_DEVICE", "no-such-device-xyz", 1);
    device = (bt_device *)&opts; /* must be reset to NULL on failure */
    assert_int_equal(bt_device_create(&opts, &device), BT_ERR_NO_DEVICE);
    assert_null(device);
    assert_non_null(strstr(bt_last_error(), "BATCHTUNE_DEVICE"));

    /* An explicit selector wins over the environment. */
    opts.selector = "0";
    BT_ASSERT_OK(bt_device_create(&opts, &device));
    assert_int_equal(bt_device_get_info(device)->index, 0);
    bt_device_destroy(device);

    if (saved_copy)
        setenv("BATCHTUNE_DEVICE", saved_copy, 1);
    else
        unsetenv("BATCHTUNE_DEVICE");
    free(saved_copy);
}

static void test_bad_arguments_are_reported(void **state)
{
    (void)state;
    assert_int_equal(bt_device_list(NULL, NULL), BT_ERR_INVALID_ARGUMENT);
    assert_int_equal(bt_device_create(NULL, NULL), BT_ERR_INVALID_ARGUMENT);
    size_t index;
    assert_int_equal(bt_device_select(NULL, 0, "0", &index), BT_ERR_INVALID_ARGUMENT);
    assert_null(bt_device_get_info(NULL));
    assert_int_equal(bt_device_finish(NULL), BT_ERR_INVALID_ARGUMENT);
}

int main(void)
{
    bt_test_require_opencl();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enumeration_reports_sane_devices),
        cmocka_unit_test(test_enumeration_finds_pocl_when_installed),
        cmocka_unit_test(test_selectors_on_real_devices),
        cmocka_unit_test(test_selection_rules_on_a_synthetic_list),
        cmocka_unit_test(test_create_opens_a_profiling_in_order_queue),
        cmocka_unit_test(test_environment_variable_selects_the_device),
        cmocka_unit_test(test_bad_arguments_are_reported),
    };
    return cmocka_run_group_tests(tests, load_list, free_list);
}
