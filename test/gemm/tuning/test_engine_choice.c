/* Stored engine choices (our fused kernels or CLBlast, per product shape): their round trip
 * through the GEMM-tuning file, files of the previous format, malformed engine lines, a stale or
 * foreign file (its choices are not applied: the rule decides, as without a file), and the
 * search bt_engine_tune on steps whose cost is a known function of the choices. */
#define _POSIX_C_SOURCE 200809L
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batchtune_gemm_tuning.h"
#include "common/checksum.h"

static bt_device *device; /* opened without applying stored parameters */
static char *dir;

static int setup(void **state)
{
    (void)state;
    bt_device_opts opts = bt_device_opts_default();
    opts.apply_gemm_tuning = false;
    BT_ASSERT_OK(bt_device_create(&opts, &device));
    dir = bt_test_make_tmpdir("engine-choice");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bt_device_destroy(device);
    bt_test_remove_tree(dir);
    free(dir);
    return 0;
}

static const bt_gemm_shape forward = {BT_NO_TRANS, BT_TRANS, 10, 30, 784};
static const bt_gemm_shape backward = {BT_NO_TRANS, BT_NO_TRANS, 10, 30, 10};
static const bt_gemm_shape update = {BT_TRANS, BT_NO_TRANS, 30, 784, 10};

static bt_gemm_params sample_choices(void)
{
    bt_gemm_params p;
    memset(&p, 0, sizeof p);
    p.has_min_indirect_size = true;
    p.min_indirect_size = 200;
    p.has_engines = true;
    p.n_engines = 3;
    p.engines[0] = (bt_engine_choice){forward, BT_ENGINE_CLBLAST};
    p.engines[1] = (bt_engine_choice){backward, BT_ENGINE_FUSED};
    p.engines[2] = (bt_engine_choice){update, BT_ENGINE_FUSED};
    return p;
}

/* `text` with `from` replaced by `to` and a valid checksum line. */
static char *edit_with_valid_crc(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    assert_non_null(at);
    const char *crc_line = strstr(text, "crc32=");
    assert_non_null(crc_line);
    char *out = calloc(1, strlen(text) + strlen(to) + 64);
    assert_non_null(out);
    memcpy(out, text, (size_t)(at - text));
    strcat(out, to);
    strncat(out, at + strlen(from), (size_t)(crc_line - (at + strlen(from))));
    uint32_t crc = bt_crc32_update(BT_CRC32_INIT, out, strlen(out));
    sprintf(out + strlen(out), "crc32=%08x\n", (unsigned)crc);
    return out;
}

static void write_text(const char *path, const char *text)
{
    bt_test_write_file(path, text, strlen(text));
}

static void test_round_trip(void **state)
{
    (void)state;
    char *path = bt_test_path(dir, "round-trip.txt");
    bt_gemm_params p = sample_choices();
    BT_ASSERT_OK(bt_gemm_tuning_save(device, &p, NULL, path));
    char *text = bt_test_read_text(path);
    assert_non_null(strstr(text, "format=batchtune-gemm-tuning 2\n"));
    assert_non_null(strstr(text, "\nengine.NT.10x30x784=clblast\n"));
    assert_non_null(strstr(text, "\nengine.TN.30x784x10=fused\n"));
    bt_gemm_params back;
    BT_ASSERT_OK(bt_gemm_tuning_load(device, path, &back));
    assert_memory_equal(&p, &back, sizeof p);

    /* Format 1 (no engine lines) still loads, without choices. */
    char *old = edit_with_valid_crc(text, "batchtune-gemm-tuning 2", "batchtune-gemm-tuning 1");
    char *cut = strstr(old, "engine.");
    assert_non_null(cut);
    *cut = '\0';
    uint32_t crc = bt_crc32_update(BT_CRC32_INIT, old, strlen(old));
    char *format1 = calloc(1, strlen(old) + 32);
    assert_non_null(format1);
    sprintf(format1, "%scrc32=%08x\n", old, (unsigned)crc);
    write_text(path, format1);
    BT_ASSERT_OK(bt_gemm_tuning_load(device, path, &back));
    assert_false(back.has_engines);
    assert_int_equal(back.n_engines, 0);
    assert_true(back.has_min_indirect_size);
    assert_int_equal(back.min_indirect_size, 200);

    /* Saved without choices, loaded without them. */
    bt_gemm_params none = p;
    none.has_engines = false;
    none.n_engines = 0;
    memset(none.engines, 0, sizeof none.engines);
    BT_ASSERT_OK(bt_gemm_tuning_save(device, &none, NULL, path));
    BT_ASSERT_OK(bt_gemm_tuning_load(device, path, &back));
    assert_memory_equal(&none, &back, sizeof none);
    free(format1);
    free(old);
    free(text);
    free(path);
}

static void test_bad_engine_lines(void **state)
{
    (void)state;
    char *path = bt_test_path(dir, "bad.txt");
    bt_gemm_params p = sample_choices();
    BT_ASSERT_OK(bt_gemm_tuning_save(device, &p, NULL, path));
    char *good = bt_test_read_text(path);
    static const char *const bad[][2] = {
        {"engine.NT.10x30x784=clblast", "engine.NX.10x30x784=clblast"},
        {"engine.NT.10x30x784=clblast", "engine.NT.0x30x784=clblast"},
        {"engine.NT.10x30x784=clblast", "engine.NT.10x30=clblast"},
        {"engine.NT.10x30x784=clblast", "engine.NT.10x30x784=auto"},
        {"engine.NT.10x30x784=clblast", "engine.NT.10x30x784=CLBlast"},
        {"engine.NT.10x30x784=clblast", "engine.NT.10x30x99999999999=clblast"},
        {"engine.NT.10x30x784=clblast", "engine.NT.10x30x784 =clblast"},
        {"engine.NN.10x30x10=fused", "engine.NT.10x30x784=fused"}, /* the same shape twice */
        {"engine.NT.10x30x784=clblast", "engines=none"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        char *text = edit_with_valid_crc(good, bad[i][0], bad[i][1]);
        write_text(path, text);
        bt_gemm_params back;
        bt_status status = bt_gemm_tuning_load(device, path, &back);
        if (status != BT_ERR_FORMAT)
            fail_msg("'%s' loaded with status %d", bad[i][1], (int)status);
        assert_non_null(strstr(bt_last_error(), "corrupt"));
        assert_false(back.has_engines);
        free(text);
    }
    /* Engine lines in a file that says format 1. */
    char *text = edit_with_valid_crc(good, "batchtune-gemm-tuning 2", "batchtune-gemm-tuning 1");
    write_text(path, text);
    bt_gemm_params back;
    assert_int_equal(bt_gemm_tuning_load(device, path, &back), BT_ERR_FORMAT);
    free(text);
    free(good);
    free(path);
}

/* Opening a device applies the stored choices; a stale or foreign file applies none. */
static void test_open_applies_choices_only_from_a_matching_file(void **state)
{
    (void)state;
    char *folder = bt_test_path(dir, "open");
    char path[1024];
    BT_ASSERT_OK(bt_gemm_tuning_path(device, folder, path, sizeof path));
    bt_gemm_params p = sample_choices();
    BT_ASSERT_OK(bt_gemm_tuning_save(device, &p, NULL, path));
    bt_device_opts opts = bt_device_opts_default();
    opts.gemm_tuning_dir = folder;
    bt_device *opened = NULL;
    BT_ASSERT_OK(bt_device_create(&opts, &opened));
    assert_int_equal(bt_device_gemm_tuning_state(opened), BT_GEMM_TUNING_APPLIED);
    assert_int_equal(bt_device_engine_choice(opened, &forward), BT_ENGINE_CLBLAST);
    assert_int_equal(bt_device_engine_choice(opened, &update), BT_ENGINE_FUSED);
    bt_gemm_shape other = forward;
    other.m = 11;
    assert_int_equal(bt_device_engine_choice(opened, &other), BT_ENGINE_AUTO);
    bt_device_destroy(opened);

    char *good = bt_test_read_text(path);
    char line[512];
    const char *driver = strstr(good, "\ndriver=");
    const char *device_line = strstr(good, "\ndevice=");
    assert_true(driver && device_line);
    static const char *const reasons[] = {"stale", "foreign"};
    for (size_t i = 0; i < 2; ++i) {
        const char *from = i == 0 ? driver + 1 : device_line + 1;
        size_t len = strcspn(from, "\n") + 1;
        snprintf(line, sizeof line, "%.*s", (int)len, from);
        char *text = edit_with_valid_crc(good, line, i == 0 ? "driver=0.0-old\n"
                                                             : "device=Another GPU\n");
        write_text(path, text);
        BT_ASSERT_OK(bt_device_create(&opts, &opened));
        assert_int_equal(bt_device_gemm_tuning_state(opened), BT_GEMM_TUNING_IGNORED);
        assert_non_null(strstr(bt_device_gemm_tuning_status(opened), reasons[i]));
        assert_int_equal(bt_device_engine_choice(opened, &forward), BT_ENGINE_AUTO);
        assert_int_equal(bt_device_engine_choice(opened, &update), BT_ENGINE_AUTO);
        bt_device_destroy(opened);
        free(text);
    }
    free(good);
    free(folder);
}

/* ---- the search, on steps whose cost is a known function of the choices ---- */

/* Milliseconds a product costs on each engine; a step sleeps for the sum of its products. */
typedef struct fake_cost {
    double fused_ms, clblast_ms;
} fake_cost;

typedef struct fake_steps {
    const bt_gemm_tune_shape *shapes;
    const bt_gemm_tune_step *steps;
    const fake_cost *costs; /* per shape */
    size_t runs;
    size_t stop_after_runs; /* 0: never */
} fake_steps;

static bt_status run_fake_step(size_t step, size_t runs, void *ctx)
{
    fake_steps *f = ctx;
    double ms = 0.0;
    for (size_t i = 0; i < f->steps[step].count; ++i) {
        size_t s = f->steps[step].shapes[i];
        bt_engine e = bt_device_engine_choice(device, &f->shapes[s].shape);
        assert_int_not_equal(e, BT_ENGINE_AUTO); /* the search decides every product it times */
        ms += e == BT_ENGINE_FUSED ? f->costs[s].fused_ms : f->costs[s].clblast_ms;
    }
    double seconds = 1e-3 * ms * (double)runs;
    struct timespec t = {(time_t)seconds, (long)(1e9 * (seconds - floor(seconds)))};
    nanosleep(&t, NULL);
    f->runs += runs;
    if (f->stop_after_runs && f->runs >= f->stop_after_runs)
        return BT_ERR_INTERRUPTED;
    return BT_OK;
}

static void test_search_finds_the_faster_engine_per_product(void **state)
{
    (void)state;
    /* Step 0: products A (ours 3 ms, CLBlast 0.5) and B (ours 0.5, CLBlast 1): all on CLBlast
     * wins the first comparison (1.5 against 3.5 ms), then B alone back on ours (1.0 ms).
     * Step 1 shares B and adds C (ours 0.2, CLBlast 2): B is decided already, C goes to ours. */
    static const bt_gemm_tune_shape shapes[] = {
        {{BT_NO_TRANS, BT_TRANS, 4, 5, 6}, 1.0, false},
        {{BT_NO_TRANS, BT_NO_TRANS, 4, 6, 5}, 1.0, false},
        {{BT_TRANS, BT_NO_TRANS, 5, 6, 4}, 1.0, true},
    };
    static const fake_cost costs[] = {{3.0, 0.5}, {0.5, 1.0}, {0.2, 2.0}};
    static bt_gemm_tune_step steps[2];
    memset(steps, 0, sizeof steps);
    steps[0].count = 2;
    steps[0].shapes[0] = 0;
    steps[0].shapes[1] = 1;
    steps[0].weight = 1.0;
    steps[1].count = 2;
    steps[1].shapes[0] = 1;
    steps[1].shapes[1] = 2;
    steps[1].weight = 1.0;
    fake_steps fake = {shapes, steps, costs, 0, 0};
    bt_engine_tune_opts opts = {0};
    opts.shapes = shapes;
    opts.n_shapes = 3;
    opts.steps = steps;
    opts.n_steps = 2;
    opts.run_step = run_fake_step;
    opts.run_step_ctx = &fake;
    opts.budget_seconds = 60.0;
    static bt_engine_tune_result r;
    BT_ASSERT_OK(bt_engine_tune(device, &opts, &r));
    assert_false(r.stopped);
    assert_int_equal(r.n_engines, 3);
    assert_int_equal(bt_device_engine_choice(device, &shapes[0].shape), BT_ENGINE_CLBLAST);
    assert_int_equal(bt_device_engine_choice(device, &shapes[1].shape), BT_ENGINE_FUSED);
    assert_int_equal(bt_device_engine_choice(device, &shapes[2].shape), BT_ENGINE_FUSED);
    for (size_t i = 0; i < r.n_engines; ++i)
        assert_int_equal(r.engines[i].engine,
                         bt_device_engine_choice(device, &r.engines[i].shape));
    /* The step times it reports are those of the sleeps (loose: a busy machine oversleeps). */
    assert_true(r.fused_seconds[0] > 3.4e-3 && r.fused_seconds[0] < 3.5e-3 * 3);
    assert_true(r.clblast_seconds[0] > 1.4e-3 && r.clblast_seconds[0] < 1.5e-3 * 3);
    assert_true(r.chosen_seconds[0] > 0.9e-3 && r.chosen_seconds[0] < 1.0e-3 * 3);
    assert_int_equal(r.comparisons, 1 + 2 + 1 + 1);
    assert_int_equal(r.comparisons_skipped, 0);

    /* Budget 0: only the first comparison of each step, every product of it alike. */
    opts.budget_seconds = 0.0;
    BT_ASSERT_OK(bt_engine_tune(device, &opts, &r));
    assert_int_equal(bt_device_engine_choice(device, &shapes[0].shape), BT_ENGINE_CLBLAST);
    assert_int_equal(bt_device_engine_choice(device, &shapes[1].shape), BT_ENGINE_CLBLAST);
    assert_int_equal(bt_device_engine_choice(device, &shapes[2].shape), BT_ENGINE_FUSED);
    assert_int_equal(r.comparisons, 2);
    assert_int_equal(r.comparisons_skipped, 2 + 1);

    /* An interrupt during the first comparison: nothing decided, nothing left in the table. */
    fake.runs = 0;
    fake.stop_after_runs = 3;
    opts.budget_seconds = 60.0;
    BT_ASSERT_OK(bt_engine_tune(device, &opts, &r));
    assert_true(r.stopped);
    assert_int_equal(r.n_engines, 0);
    for (size_t i = 0; i < 3; ++i)
        assert_int_equal(bt_device_engine_choice(device, &shapes[i].shape), BT_ENGINE_AUTO);

    /* Bad options are refused before anything runs. */
    opts.n_steps = 0;
    assert_int_equal(bt_engine_tune(device, &opts, &r), BT_ERR_INVALID_ARGUMENT);
    opts.n_steps = 2;
    steps[1].shapes[1] = 7;
    assert_int_equal(bt_engine_tune(device, &opts, &r), BT_ERR_INVALID_ARGUMENT);
}

#ifndef BT_TOOL_PATH
#error "BT_TOOL_PATH must name the built batchtune tool"
#endif

/* `tune-gemm` times both engines on real steps, prints the comparison, stores one choice per
 * product shape, and the next device open applies them; bench then names the engine of each
 * product. */
static void test_tune_gemm_stores_the_choices(void **state)
{
    (void)state;
    char *data = bt_test_path(dir, "tool");
    char env[1200];
    snprintf(env, sizeof env, "XDG_DATA_HOME='%s'", data);
    char *output = NULL;
    int code = bt_test_run_tool(BT_TOOL_PATH, env,
                                "tune-gemm --layers 40,12,3 -m 6,24 --budget 0 --seed 3", &output);
    if (code != 0)
        fail_msg("tune-gemm exited %d:\n%s", code, output);
    assert_non_null(strstr(output, "fused ms"));
    assert_non_null(strstr(output, "CLBlast ms"));
    assert_non_null(strstr(output, "engines: "));
    assert_non_null(strstr(output, "stored in"));

    char folder[1100], path[1024];
    snprintf(folder, sizeof folder, "%s/batchtune", data);
    BT_ASSERT_OK(bt_gemm_tuning_path(device, folder, path, sizeof path));
    bt_gemm_params stored;
    BT_ASSERT_OK(bt_gemm_tuning_load(device, path, &stored));
    /* 40,12,3 at two batch sizes: 2 forward, 1 input gradient and 2 updates each, all distinct */
    assert_true(stored.has_engines);
    assert_int_equal(stored.n_engines, 10);
    char *text = bt_test_read_text(path);
    assert_non_null(strstr(text, "\nengine.NT.6x12x40="));
    assert_non_null(strstr(text, "\nengine.TN.3x12x24="));
    assert_non_null(strstr(text, "engines chosen by timing training steps"));

    bt_device_opts opts = bt_device_opts_default();
    opts.gemm_tuning_dir = folder;
    bt_device *opened = NULL;
    BT_ASSERT_OK(bt_device_create(&opts, &opened));
    for (size_t i = 0; i < stored.n_engines; ++i)
        assert_int_equal(bt_device_engine_choice(opened, &stored.engines[i].shape),
                         stored.engines[i].engine);
    bt_device_destroy(opened);

    free(output);
    output = NULL;
    code = bt_test_run_tool(BT_TOOL_PATH, env,
                            "bench --layers 40,12,3 -m 6 --seconds 0.01 --repeats 1 "
                            "--no-streaming",
                            &output);
    if (code != 0)
        fail_msg("bench exited %d:\n%s", code, output);
    assert_non_null(strstr(output, "engines"));
    /* the row of m = 6 ends with one letter per product, F or C */
    const char *row = strstr(output, "\n      6 ");
    assert_non_null(row);
    const char *end = strchr(row + 1, '\n');
    assert_non_null(end);
    assert_true(end - row > 6);
    for (const char *p = end - 5; p < end; ++p)
        assert_true(*p == 'F' || *p == 'C');
    free(text);
    free(output);
    free(data);
}

int main(void)
{
    bt_test_require_opencl();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_engine_lines),
        cmocka_unit_test(test_open_applies_choices_only_from_a_matching_file),
        cmocka_unit_test(test_search_finds_the_faster_engine_per_product),
        cmocka_unit_test(test_tune_gemm_stores_the_choices),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
