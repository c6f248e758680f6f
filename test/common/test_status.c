/* Status strings, names and the thread-local last error. */
#define _POSIX_C_SOURCE 200809L
#include "test_support.h"

#include <pthread.h>
#include <string.h>

#include "common/error.h"

static void test_every_status_has_distinct_text_and_name(void **state)
{
    (void)state;
    for (int i = 0; i < BT_STATUS_COUNT_; ++i) {
        const char *text = bt_status_str((bt_status)i);
        const char *name = bt_status_name((bt_status)i);
        assert_true(strlen(text) > 0);
        assert_true(strncmp(name, "BT_", 3) == 0);
        for (int j = 0; j < i; ++j) {
            assert_string_not_equal(text, bt_status_str((bt_status)j));
            assert_string_not_equal(name, bt_status_name((bt_status)j));
        }
    }
    assert_string_equal(bt_status_name(BT_OK), "BT_OK");
    assert_string_equal(bt_status_name(BT_ERR_BUILD), "BT_ERR_BUILD");
    assert_string_equal(bt_status_str(BT_STATUS_COUNT_), "unknown status");
    assert_string_equal(bt_status_str((bt_status)-5), "unknown status");
}

static void test_last_error_is_set_appended_and_cleared(void **state)
{
    (void)state;
    bt_clear_error();
    assert_string_equal(bt_last_error(), "");
    assert_int_equal(bt_fail(BT_ERR_IO, "cannot open %s", "x.idx"), BT_ERR_IO);
    assert_string_equal(bt_last_error(), "cannot open x.idx");
    assert_int_equal(bt_fail_append(": missing"), BT_ERR_IO);
    assert_string_equal(bt_last_error(), "cannot open x.idx: missing");
    bt_clear_error();
    assert_string_equal(bt_last_error(), "");
}

static void test_long_messages_are_truncated_with_a_marker(void **state)
{
    (void)state;
    char *big = malloc(100000);
    assert_non_null(big);
    memset(big, 'x', 99999);
    big[99999] = '\0';
    bt_fail(BT_ERR_BUILD, "log: %s", big);
    bt_fail_append(big);
    const char *msg = bt_last_error();
    assert_true(strlen(msg) < 100000);
    assert_non_null(strstr(msg, "[message truncated]"));
    free(big);
}

static void *fail_in_thread(void *arg)
{
    (void)arg;
    bt_fail(BT_ERR_OPENCL, "other thread");
    return NULL;
}

static void test_last_error_is_per_thread(void **state)
{
    (void)state;
    bt_fail(BT_ERR_IO, "main thread");
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, fail_in_thread, NULL), 0);
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_string_equal(bt_last_error(), "main thread");
}

static void test_opencl_codes_have_names(void **state)
{
    (void)state;
    assert_string_equal(bt_cl_error_name(CL_BUILD_PROGRAM_FAILURE), "CL_BUILD_PROGRAM_FAILURE");
    assert_string_equal(bt_cl_error_name(CL_INVALID_VALUE), "CL_INVALID_VALUE");
    assert_string_equal(bt_cl_error_name(-12345), "unknown OpenCL error");
    assert_int_equal(bt_fail_cl(CL_MEM_OBJECT_ALLOCATION_FAILURE, "clCreateBuffer"),
                     BT_ERR_DEVICE_MEMORY);
    assert_non_null(strstr(bt_last_error(), "clCreateBuffer: CL_MEM_OBJECT_ALLOCATION_FAILURE"));
    assert_int_equal(bt_fail_cl(CL_INVALID_KERNEL, "clSetKernelArg"), BT_ERR_OPENCL);
}

static void test_version_matches_header(void **state)
{
    (void)state;
    assert_string_equal(bt_version(), BT_VERSION_STRING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_status_has_distinct_text_and_name),
        cmocka_unit_test(test_last_error_is_set_appended_and_cleared),
        cmocka_unit_test(test_long_messages_are_truncated_with_a_marker),
        cmocka_unit_test(test_last_error_is_per_thread),
        cmocka_unit_test(test_opencl_codes_have_names),
        cmocka_unit_test(test_version_matches_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
