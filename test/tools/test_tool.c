/* The command-line tool, run as a child process: exit codes and what it prints. */
#define _POSIX_C_SOURCE 200809L
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef BT_TOOL_PATH
#error "BT_TOOL_PATH must name the built batchtune tool"
#endif

/* Output of the last run (stdout and stderr together), for the assertions and failure messages. */
static char *output;

static int free_output(void **state)
{
    (void)state;
    free(output);
    output = NULL;
    return 0;
}

/* Runs `<env> <tool> <args> 2>&1`, keeps the output in `output`, and fails unless the tool exits
 * with `expected`. */
static void expect_exit(const char *env, const char *args, int expected)
{
    free(output);
    int code = bt_test_run_tool(BT_TOOL_PATH, env, args, &output);
    if (code != expected)
        fail_msg("batchtune %s: exit %d, expected %d; output:\n%s", args, code, expected, output);
}

static void assert_output_contains(const char *needle)
{
    if (!strstr(output, needle))
        fail_msg("expected \"%s\" in the tool's output:\n%s", needle, output);
}

static void test_help_and_version(void **state)
{
    (void)state;
    expect_exit(NULL, "--help", 0);
    assert_output_contains("usage");
    assert_output_contains("devices");
    assert_output_contains("warmup");

    expect_exit(NULL, "--version", 0);
    assert_output_contains(BT_VERSION_STRING);
}

static void test_usage_errors_exit_2(void **state)
{
    (void)state;
    expect_exit(NULL, "", 2);
    assert_output_contains("usage");

    expect_exit(NULL, "frobnicate-xyz", 2);
    assert_output_contains("frobnicate-xyz");

    expect_exit(NULL, "devices --bogus", 2);
    expect_exit(NULL, "devices extra-argument", 2);
    assert_output_contains("extra-argument");
    expect_exit(NULL, "warmup --bogus", 2);
}

static void test_devices_lists_the_devices(void **state)
{
    (void)state;
    bt_device_info *list = NULL;
    size_t count = 0;
    BT_ASSERT_OK(bt_device_list(&list, &count));
    assert_true(count >= 1);

    expect_exit(NULL, "devices", 0);
    /* Whole names: they are what a name selector matches. */
    assert_output_contains(list[0].name);
    assert_output_contains(list[0].platform_name);
    assert_output_contains(bt_device_type_str(list[0].type));
    bt_device_list_free(list);

    expect_exit(NULL, "devices --help", 0);
    assert_output_contains("usage");
}

static void test_warmup_with_an_unknown_device_fails(void **state)
{
    (void)state;
    expect_exit(NULL, "warmup --device no-such-device-xyz", 1);
    assert_output_contains("no OpenCL device matches");
    assert_output_contains("no-such-device-xyz");
    assert_output_contains("Available devices");

    expect_exit("BATCHTUNE_DEVICE=no-such-device-xyz", "warmup", 1);
    assert_output_contains("no-such-device-xyz");
    assert_output_contains("BATCHTUNE_DEVICE");

    expect_exit(NULL, "warmup --help", 0);
    assert_output_contains("usage");
}

/* The number after `label` in the output, e.g. "test accuracy 97.50%". */
static double number_after(const char *label)
{
    const char *at = strstr(output, label);
    if (!at)
        fail_msg("no \"%s\" in the output:\n%s", label, output);
    return strtod(at + strlen(label), NULL);
}

static void test_train_then_eval_a_saved_network(void **state)
{
    (void)state;
    char *dir = bt_test_make_toy_mnist("bt-test-tool-data", 600, 0);
    char args[1024];
    snprintf(args, sizeof args,
             "train --data '%s' --validation 100 --layers 16,12,10 --hidden relu --output "
             "softmax --cost log-likelihood --init scaled -m 16 --eta 0.5 --epochs 6 --keep-best "
             "--save '%s/net.btnet'",
             dir, dir);
    expect_exit(NULL, args, 0);
    assert_output_contains("epoch 6");
    assert_output_contains("kept the parameters of epoch");
    assert_output_contains("parameters saved to");
    double trained = number_after("test accuracy ");
    assert_true(trained > 90.0); /* the toy classes are separable by one pixel each */

    snprintf(args, sizeof args, "eval --data '%s' --validation 100 --load '%s/net.btnet'", dir,
             dir);
    expect_exit(NULL, args, 0);
    assert_true(fabs(number_after("test accuracy ") - trained) < 1e-9);

    snprintf(args, sizeof args, "eval --data '%s' --load '%s/no-such.btnet'", dir, dir);
    expect_exit(NULL, args, 1);
    assert_output_contains("no-such.btnet");

    /* Bad values are usage errors naming the option; a missing folder is a clear failure. */
    snprintf(args, sizeof args, "train --data '%s' --eta -1", dir);
    expect_exit(NULL, args, 2);
    assert_output_contains("--eta");
    snprintf(args, sizeof args, "train --data '%s' -m 0", dir);
    expect_exit(NULL, args, 2);
    snprintf(args, sizeof args, "train --data '%s' --validation 100 -m 501 --layers 16,10", dir);
    expect_exit(NULL, args, 2);
    /* Layers that do not fit the data: the input size, the classes. */
    snprintf(args, sizeof args, "train --data '%s' --validation 100 --layers 15,10", dir);
    expect_exit(NULL, args, 2);
    assert_output_contains("the input layer has 15 units but the images");
    assert_output_contains("have 16 pixels");
    snprintf(args, sizeof args, "tune --data '%s' --validation 100 --layers 16,9", dir);
    expect_exit(NULL, args, 2);
    assert_output_contains("the output layer has 9 units but the data has 10 classes");
    expect_exit(NULL, "train --data /no/such/folder", 1);
    assert_output_contains("/no/such/folder");
    expect_exit(NULL, "train --layers 784,,10", 2);
    expect_exit(NULL, "train --cost mse", 2);
    assert_output_contains("log-likelihood");
    bt_test_remove_tree(dir);
    free(dir);
}

/* --eta and --lambda beyond the scheduler's limits are usage errors found before anything is
 * opened: the missing data folder is never reached. */
static void test_train_rates_checked_up_front(void **state)
{
    (void)state;
    expect_exit(NULL, "train --data /no/such/folder --eta 1e38", 2);
    assert_output_contains("--eta '1e38'");
    expect_exit(NULL, "train --data /no/such/folder --lambda 1e38", 2);
    assert_output_contains("--lambda '1e38'");
    expect_exit(NULL, "train --data /no/such/folder --eta 1e30 --lambda 1e30", 1);
    assert_output_contains("/no/such/folder");
}

/* Every input and output is checked before the first step: a --save that names a folder or a
 * place where no file can be created, a test set whose images differ from the training set's,
 * and tune-gemm's --output, empty or unusable, fail before any training or search. */
static void test_paths_checked_before_the_work(void **state)
{
    (void)state;
    char *dir = bt_test_make_toy_mnist("bt-test-tool-paths", 300, 0);
    char args[1024];
    const char *train = "train --validation 100 --layers 16,10 -m 10 --epochs 1";
    snprintf(args, sizeof args, "%s --data '%s' --save '%s'", train, dir, dir);
    expect_exit(NULL, args, 1);
    assert_output_contains("is a folder");
    assert_null(strstr(output, "epoch 1"));
    snprintf(args, sizeof args, "%s --data '%s' --save /sys/net.btnet", train, dir);
    expect_exit(NULL, args, 1);
    assert_output_contains("--save /sys/net.btnet");
    assert_null(strstr(output, "epoch 1"));

    snprintf(args, sizeof args, "tune-gemm --layers 16,10 -m 8 --budget 1 -o ''");
    expect_exit(NULL, args, 2);
    assert_output_contains("--output");
    snprintf(args, sizeof args, "tune-gemm --layers 16,10 -m 8 --budget 1 -o '%s'", dir);
    expect_exit(NULL, args, 1);
    assert_output_contains("is a folder");
    assert_null(strstr(output, "candidates"));
    expect_exit(NULL, "tune-gemm --layers 16,10 -m 8 --budget 1 -o /sys/x/params.txt", 1);
    assert_output_contains("--output /sys/x/params.txt");
    assert_null(strstr(output, "candidates"));

    /* Test images of 5 x 5 pixels beside training images of 4 x 4. */
    uint32_t dims[3] = {200, 5, 5};
    free(bt_test_write_idx(dir, "t10k-images-idx3-ubyte", false, 3, dims, NULL, 200 * 25));
    snprintf(args, sizeof args, "%s --data '%s'", train, dir);
    expect_exit(NULL, args, 1);
    assert_output_contains("the test images have 25 pixels but the training images 16");
    assert_null(strstr(output, "epoch 1"));
    bt_test_remove_tree(dir);
    free(dir);
}

/* bench --data: steps on the training split that train would load, named in the header; a
 * folder that cannot be loaded fails before any device work. */
static void test_bench_on_a_data_folder(void **state)
{
    (void)state;
    char *dir = bt_test_make_toy_mnist("bt-test-bench-data", 300, 0);
    char args[1024], header[1200];
    snprintf(args, sizeof args,
             "bench --data '%s' --validation 100 --layers 16,10 -m 4 --repeats 1 --seconds 0.05 "
             "--no-streaming",
             dir);
    expect_exit(NULL, args, 0);
    /* The toy folder has no known dataset name: the header gives the folder. */
    snprintf(header, sizeof header, "%s training split, 200 examples, resident", dir);
    assert_output_contains(header);
    assert_output_contains("engine auto");
    assert_null(strstr(output, "synthetic"));
    assert_output_contains("\n      4 "); /* the row of m = 4 */
    assert_null(strstr(output, "streamed"));

    /* The streaming table reads the same split from the host. */
    snprintf(args, sizeof args,
             "bench --data '%s' --validation 100 --layers 16,10 --engine clblast -m 4 "
             "--repeats 1 --seconds 0.05",
             dir);
    expect_exit(NULL, args, 0);
    assert_output_contains("engine clblast");
    assert_output_contains("streamed st/s");

    /* The checks train makes: the network must fit the images, every m the split. */
    snprintf(args, sizeof args, "bench --data '%s' --validation 100 --layers 15,10 -m 4", dir);
    expect_exit(NULL, args, 2);
    assert_output_contains("the input layer has 15 units but the images");
    snprintf(args, sizeof args, "bench --data '%s' --validation 100 --layers 16,10 -m 4,201",
             dir);
    expect_exit(NULL, args, 2);
    assert_output_contains("batch size 201 is larger than the 200 training examples");
    expect_exit(NULL, "bench --validation 100", 2);
    assert_output_contains("--validation needs --data");

    /* A missing folder: the loader's message, and no device opened (no header, no peak). */
    expect_exit(NULL, "bench --data /nonexistent -m 4 --repeats 1 --seconds 0.05", 1);
    assert_output_contains("cannot load the data");
    assert_output_contains("/nonexistent");
    assert_null(strstr(output, "device:"));
    assert_null(strstr(output, "measured peak"));
    bt_test_remove_tree(dir);
    free(dir);
}

static int make_cache_dir(void **state)
{
    *state = bt_test_make_tmpdir("bt-tool-xdg");
    return 0;
}

static int remove_cache_dir(void **state)
{
    bt_test_remove_tree(*state);
    free(*state);
    return free_output(state);
}

static void test_warmup_compiles_the_programs(void **state)
{
    /* A fresh program cache: the first run compiles, the second loads from it. */
    const char *cache = *state;
    char env[512];
    snprintf(env, sizeof env, "XDG_CACHE_HOME='%s'", cache);
    expect_exit(env, "warmup", 0);
    fprintf(stderr, "first warmup:\n%s", output);
    assert_output_contains("activation.cl");
    assert_output_contains("compiled");
    assert_null(strstr(output, "from cache"));

    expect_exit(env, "warmup", 0);
    fprintf(stderr, "second warmup:\n%s", output);
    assert_output_contains("activation.cl");
    assert_output_contains("from cache");
}

int main(void)
{
    bt_test_require_opencl();
    /* The children must see the same kernels as the library's tests. */
    unsetenv("BATCHTUNE_KERNEL_DIR");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_help_and_version, free_output),
        cmocka_unit_test_teardown(test_usage_errors_exit_2, free_output),
        cmocka_unit_test_teardown(test_devices_lists_the_devices, free_output),
        cmocka_unit_test_teardown(test_warmup_with_an_unknown_device_fails, free_output),
        cmocka_unit_test_teardown(test_train_then_eval_a_saved_network, free_output),
        cmocka_unit_test_teardown(test_bench_on_a_data_folder, free_output),
        cmocka_unit_test_teardown(test_train_rates_checked_up_front, free_output),
        cmocka_unit_test_teardown(test_paths_checked_before_the_work, free_output),
        cmocka_unit_test_setup_teardown(test_warmup_compiles_the_programs, make_cache_dir,
                                        remove_cache_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
