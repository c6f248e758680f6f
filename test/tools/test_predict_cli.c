/* `batchtune predict` end to end, as a child process on a tiny MNIST-format folder: the printed
 * trajectory, table and prediction, the JSON, a target the reference run cannot reach (a caveat,
 * still exit 0), candidates that do not fit the data (a usage error), and SIGTERM (exit 130,
 * partial results). About 10 s on a 2-core CPU; nothing here asserts a speed. */
#define _POSIX_C_SOURCE 200809L
#include "test_support.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#ifndef BT_TOOL_PATH
#error "BT_TOOL_PATH must name the built batchtune tool"
#endif

#define TRAIN_FILE_COUNT 2300
#define VALIDATION "300"

static char *data_dir, *out_dir;
static char *output;

static int setup(void **state)
{
    (void)state;
    data_dir = bt_test_make_toy_mnist("bt-test-predict-data", TRAIN_FILE_COUNT, 20);
    out_dir = bt_test_make_tmpdir("bt-test-predict-out");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bt_test_remove_tree(data_dir);
    bt_test_remove_tree(out_dir);
    free(data_dir);
    free(out_dir);
    free(output);
    return 0;
}

static int run_predict(const char *args)
{
    char full[2048];
    int len = snprintf(full, sizeof full, "predict --data '%s' --validation " VALIDATION
                                          " --layers 16,12,10 %s",
                       data_dir, args);
    assert_true(len > 0 && (size_t)len < sizeof full);
    free(output);
    return bt_test_run_tool(BT_TOOL_PATH, NULL, full, &output);
}

static void expect_exit(const char *args, int expected)
{
    int code = run_predict(args);
    if (code != expected)
        fail_msg("batchtune predict %s: exit %d, expected %d; output:\n%s", args, code,
                 expected, output);
}

static void assert_output_contains(const char *needle)
{
    if (!strstr(output, needle))
        fail_msg("expected \"%s\" in the output:\n%s", needle, output);
}

static cJSON *read_json(const char *path)
{
    char *text = bt_test_read_text(path);
    cJSON *root = cJSON_Parse(text);
    if (!root)
        fail_msg("%s is not JSON:\n%s", path, text);
    free(text);
    return root;
}

static const cJSON *get(const cJSON *o, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!item)
        fail_msg("no \"%s\" in the JSON", name);
    return item;
}

static void test_prediction_is_printed_and_written(void **state)
{
    (void)state;
    char *json = bt_test_path(out_dir, "p.json"), args[1024];
    snprintf(args, sizeof args, "-m 1,4,16,64 --target 0.85 --budget 5 --json '%s'", json);
    expect_exit(args, 0);
    assert_output_contains("reference run: m = 4");
    assert_output_contains("B start");
    assert_output_contains("rel. time");
    assert_output_contains("fit t(m) = a + b m");
    assert_output_contains("predicted fastest: m = ");
    assert_output_contains("predict took");

    cJSON *root = read_json(json);
    assert_string_equal(get(root, "status")->valuestring, "BT_OK");
    const cJSON *ref = get(root, "reference_run");
    assert_true(cJSON_IsTrue(get(ref, "reached")));
    assert_int_equal((int)get(ref, "batch_size")->valuedouble, 4);
    assert_true(cJSON_GetArraySize(get(ref, "evaluations")) >= 2);
    const cJSON *pred = get(root, "prediction");
    const cJSON *cands = get(pred, "candidates");
    assert_int_equal(cJSON_GetArraySize(cands), 4);
    int best = (int)get(pred, "best_m")->valuedouble, ones = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cands)
    {
        assert_true(get(c, "step_seconds")->valuedouble > 0.0);
        double rel = get(c, "relative_time")->valuedouble;
        assert_true(rel >= 1.0);
        if (rel == 1.0) {
            ++ones;
            assert_int_equal((int)get(c, "m")->valuedouble, best);
        }
    }
    assert_int_equal(ones, 1);
    assert_true(cJSON_IsNumber(get(get(pred, "step_fit"), "a_seconds")));
    cJSON_Delete(root);
    free(json);
}

static void test_unreached_target_is_a_caveat(void **state)
{
    (void)state;
    expect_exit("-m 2,8,32 --target 1.0 --budget 0.3", 0);
    assert_output_contains("caveat: the reference run did not reach 100%");
    assert_output_contains("[caveat: target not reached by the reference run]");
}

static void test_bad_input(void **state)
{
    (void)state;
    expect_exit("-m 8,5000", 2);
    assert_output_contains("batch size 5000 is larger than the 2000 training examples");
    expect_exit("--reference-m 1", 2);
    assert_output_contains("--reference-m '1'");
    expect_exit("-m 8,8", 2);
    assert_output_contains("listed twice");
    expect_exit("--target 80", 2);
    assert_output_contains("--target '80'");
    expect_exit("--help", 0);
    assert_output_contains("usage: batchtune predict");
}

/* tune --around-prediction: the prediction first, the candidates narrowed to m* / 4 .. 4 m* (or
 * around the predicted fastest), both in the output and in summary.json. */
static void test_tune_around_the_prediction(void **state)
{
    (void)state;
    char *results = bt_test_path(out_dir, "tune"), cmd[2048];
    snprintf(cmd, sizeof cmd,
             "tune --data '%s' --validation " VALIDATION " --layers 16,12,10 -m 1,2,4,8,16,32,64,"
             "128,256,512 --target 0.85 --budget 1 --eval-interval 0.1 --around-prediction "
             "--out '%s'",
             data_dir, results);
    free(output);
    int code = bt_test_run_tool(BT_TOOL_PATH, NULL, cmd, &output);
    if (code != 0)
        fail_msg("tune --around-prediction: exit %d:\n%s", code, output);
    assert_output_contains("candidates narrowed to m*/4 .. 4 m* around ");
    assert_output_contains("prediction (B = ");
    char *json = bt_test_path(results, "summary.json");
    cJSON *root = read_json(json);
    const cJSON *pred = get(get(root, "prediction"), "prediction");
    assert_int_equal(cJSON_GetArraySize(get(pred, "candidates")), 10);
    /* Every measured candidate lies within a factor 4 of the centre the output names. */
    const char *at = strstr(output, "around ");
    double center = atof(at + strlen("around "));
    assert_true(center >= 1.0);
    const cJSON *c;
    int measured = 0;
    cJSON_ArrayForEach(c, get(root, "candidates"))
    {
        double m = get(c, "batch_size")->valuedouble;
        ++measured;
        if (m < center / 4.0 - 0.5 || m > 4.0 * center + 0.5)
            fail_msg("m = %g measured, outside %g/4 .. 4 x %g:\n%s", m, center, center, output);
    }
    assert_true(measured >= 1 && measured < 10);
    cJSON_Delete(root);
    free(json);
    free(results);
}

static void sleep_seconds(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static void test_sigterm_keeps_what_was_measured(void **state)
{
    (void)state;
    char *log = bt_test_path(out_dir, "log.txt"), *json = bt_test_path(out_dir, "int.json");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
            _exit(125);
        execl(BT_TOOL_PATH, BT_TOOL_PATH, "predict", "--data", data_dir, "--validation",
              VALIDATION, "--layers", "16,12,10", "-m", "2,8,32", "--target", "1.0", "--budget",
              "60", "--json", json, (char *)NULL);
        _exit(126);
    }
    /* The header line is printed once the handler is in place and the device is open. */
    bool started = false;
    for (int i = 0; i < 1200 && !started; ++i) {
        sleep_seconds(0.05);
        FILE *f = fopen(log, "r");
        char line[512] = "";
        started = f && fgets(line, sizeof line, f) && strncmp(line, "predict ", 8) == 0;
        if (f)
            fclose(f);
    }
    assert_true(started);
    sleep_seconds(0.5);
    assert_int_equal(kill(pid, SIGTERM), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    char *text = bt_test_read_text(log);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 130 || !strstr(text, "interrupted"))
        fail_msg("expected exit 130 and 'interrupted' after SIGTERM, got status %d:\n%s", status,
                 text);
    free(text);
    cJSON *root = read_json(json);
    assert_string_equal(get(root, "status")->valuestring, "BT_ERR_INTERRUPTED");
    assert_true(cJSON_IsTrue(get(root, "interrupted")));
    assert_true(cJSON_GetArraySize(get(get(root, "reference_run"), "evaluations")) >= 1);
    cJSON_Delete(root);
    free(log);
    free(json);
}

int main(void)
{
    bt_test_require_opencl();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prediction_is_printed_and_written),
        cmocka_unit_test(test_unreached_target_is_a_caveat),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_sigterm_keeps_what_was_measured),
        cmocka_unit_test(test_tune_around_the_prediction),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
