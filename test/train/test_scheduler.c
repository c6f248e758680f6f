/* The scheduler in both data modes: which examples each step really feeds the network (decoded
 * from the network's input buffer), reproducibility, and resident/streaming equivalence.
 *
 * Each example carries its index in its first two pixels, so the batch the device computed on can
 * be read back and decoded. Resident and streaming runs compute on identical batches; their
 * parameters are compared with |a - b| <= 1e-6 + 1e-5 |b| (they are expected to be equal; the
 * tolerance only allows a driver to schedule floating-point work differently). */
#include "test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/network_impl.h"

#define FEATURES 16
#define CLASSES 10

static bt_device *device;

static int setup(void **state)
{
    (void)state;
    device = bt_test_open_device();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bt_device_destroy(device);
    return 0;
}

/* Example i: pixels 0 and 1 hold i, the rest are random; label i % CLASSES. */
static bt_dataset *indexed_dataset(size_t count, bt_test_rng *rng)
{
    uint8_t *pixels = malloc(count * FEATURES), *labels = malloc(count);
    assert_true(pixels && labels);
    for (size_t i = 0; i < count; ++i) {
        pixels[i * FEATURES] = (uint8_t)(i & 0xff);
        pixels[i * FEATURES + 1] = (uint8_t)(i >> 8);
        for (size_t j = 2; j < FEATURES; ++j)
            pixels[i * FEATURES + j] = (uint8_t)bt_test_rng_next(rng);
        labels[i] = (uint8_t)(i % CLASSES);
    }
    bt_dataset *data = NULL;
    BT_ASSERT_OK(bt_dataset_create_from_memory(pixels, labels, count, FEATURES, CLASSES, &data));
    free(pixels);
    free(labels);
    return data;
}

static bt_network *small_net_on(size_t max_batch, uint64_t seed, bt_engine engine)
{
    bt_network_opts opts = bt_network_opts_default();
    BT_ASSERT_OK(bt_network_parse_sizes("16,6,10", &opts));
    opts.max_batch = max_batch;
    opts.seed = seed;
    opts.engine = engine;
    bt_network *net = NULL;
    BT_ASSERT_OK(bt_network_create(device, &opts, &net));
    return net;
}

static bt_network *small_net(size_t max_batch, uint64_t seed)
{
    return small_net_on(max_batch, seed, BT_ENGINE_AUTO);
}

static bt_scheduler *make_scheduler(bt_network *net, const bt_dataset *data, size_t m,
                                    bt_data_mode mode, size_t ring, uint64_t seed, bool drop_last)
{
    bt_scheduler_opts opts = bt_scheduler_opts_default();
    opts.batch_size = m;
    opts.sgd.eta = 0.5f;
    opts.seed = seed;
    opts.mode = mode;
    opts.ring_size = ring;
    opts.drop_last = drop_last;
    bt_scheduler *s = NULL;
    BT_ASSERT_OK(bt_scheduler_create_from_host(net, data, &opts, &s));
    assert_int_equal(bt_scheduler_data_mode(s), mode);
    return s;
}

/* Decode the example indices of the batch now in the network's input (m rows). */
static void read_batch(bt_network *net, size_t m, size_t *indices)
{
    float *x = malloc(m * FEATURES * sizeof *x);
    int32_t *labels = malloc(m * sizeof *labels);
    assert_true(x && labels);
    BT_ASSERT_OK(bt_buffer_read(net->act[0], 0, x, m * FEATURES * sizeof *x));
    BT_ASSERT_OK(bt_buffer_read(net->labels, 0, labels, m * sizeof *labels));
    for (size_t i = 0; i < m; ++i) {
        size_t lo = (size_t)lroundf(x[i * FEATURES] * 255.0f);
        size_t hi = (size_t)lroundf(x[i * FEATURES + 1] * 255.0f);
        indices[i] = lo | hi << 8;
        assert_int_equal(labels[i], (int32_t)(indices[i] % CLASSES));
    }
    free(x);
    free(labels);
}

/* Run one epoch step by step, recording the order the device saw. */
static void epoch_order(bt_network *net, bt_scheduler *s, size_t count, size_t m, bool drop_last,
                        size_t *order)
{
    size_t steps = bt_scheduler_steps_per_epoch(s), seen = 0;
    assert_int_equal(steps, drop_last ? count / m : (count + m - 1) / m);
    for (size_t step = 0; step < steps; ++step) {
        size_t rows = count - seen < m ? count - seen : m;
        BT_ASSERT_OK(bt_scheduler_run(s, 1));
        read_batch(net, rows, order + seen);
        seen += rows;
    }
    assert_int_equal(seen, drop_last ? count / m * m : count);
}

static void test_each_example_once_per_epoch(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    const size_t count = 301;
    bt_dataset *data = indexed_dataset(count, &rng);
    static const size_t batch_sizes[] = {1, 7, 64, 100, 301};
    size_t *order = malloc(count * sizeof *order);
    unsigned char *used = malloc(count);
    assert_true(order && used);
    for (int mode = BT_DATA_RESIDENT; mode <= BT_DATA_STREAM; ++mode) {
        for (size_t b = 0; b < sizeof batch_sizes / sizeof batch_sizes[0]; ++b) {
            for (int drop = 0; drop <= 1; ++drop) {
                size_t m = batch_sizes[b];
                bt_network *net = small_net(m, 1);
                bt_scheduler *s = make_scheduler(net, data, m, (bt_data_mode)mode, 3,
                                                 bt_test_rng_next(&rng), drop);
                for (int epoch = 0; epoch < 2; ++epoch) {
                    epoch_order(net, s, count, m, drop, order);
                    memset(used, 0, count);
                    size_t n = drop ? count / m * m : count;
                    for (size_t i = 0; i < n; ++i) {
                        assert_true(order[i] < count);
                        if (used[order[i]]++)
                            fail_msg("%s m=%zu epoch %d: example %zu used twice",
                                     bt_data_mode_str((bt_data_mode)mode), m, epoch, order[i]);
                    }
                    assert_int_equal(bt_scheduler_epoch(s), (size_t)epoch + 1);
                }
                bt_scheduler_destroy(s);
                bt_network_destroy(net);
            }
        }
    }
    free(order);
    free(used);
    bt_dataset_destroy(data);
}

static void test_seeds_decide_the_order(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    const size_t count = 200, m = 10;
    bt_dataset *data = indexed_dataset(count, &rng);
    size_t *orders[3];
    uint64_t seeds[3] = {42, 42, 43};
    for (int i = 0; i < 3; ++i) {
        orders[i] = malloc(count * sizeof *orders[i]);
        assert_non_null(orders[i]);
        bt_network *net = small_net(m, 1);
        /* The second run streams: the order depends on the seed alone, not the mode. */
        bt_scheduler *s = make_scheduler(net, data, m, i == 1 ? BT_DATA_STREAM : BT_DATA_RESIDENT,
                                         2, seeds[i], false);
        epoch_order(net, s, count, m, false, orders[i]);
        bt_scheduler_destroy(s);
        bt_network_destroy(net);
    }
    assert_memory_equal(orders[0], orders[1], count * sizeof *orders[0]);
    assert_true(memcmp(orders[0], orders[2], count * sizeof *orders[0]) != 0);
    for (int i = 0; i < 3; ++i)
        free(orders[i]);
    bt_dataset_destroy(data);
}

static float *train_params(const bt_dataset *data, size_t m, bt_data_mode mode, size_t ring,
                           uint64_t seed, size_t steps, size_t *count)
{
    bt_network *net = small_net(m, 7);
    bt_scheduler *s = make_scheduler(net, data, m, mode, ring, seed, false);
    BT_ASSERT_OK(bt_scheduler_run(s, steps));
    *count = bt_network_param_count(net);
    float *params = malloc(*count * sizeof *params);
    assert_non_null(params);
    BT_ASSERT_OK(bt_network_get_params(net, params, *count));
    bt_scheduler_destroy(s);
    bt_network_destroy(net);
    return params;
}

static void test_resident_and_streaming_give_the_same_weights(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    const size_t count = 257;
    bt_dataset *data = indexed_dataset(count, &rng);
    static const size_t batch_sizes[] = {1, 13, 64};
    for (size_t b = 0; b < 3; ++b) {
        size_t m = batch_sizes[b], n = 0, n2 = 0, n3 = 0;
        size_t steps = 2 * ((count + m - 1) / m) + 1; /* two epochs and a step */
        uint64_t seed = bt_test_rng_next(&rng);
        float *resident = train_params(data, m, BT_DATA_RESIDENT, 3, seed, steps, &n);
        float *again = train_params(data, m, BT_DATA_RESIDENT, 3, seed, steps, &n2);
        float *streamed = train_params(data, m, BT_DATA_STREAM, 2, seed, steps, &n3);
        assert_int_equal(n, n2);
        assert_int_equal(n, n3);
        /* The same seed twice: the same weights, bit for bit. */
        assert_memory_equal(resident, again, n * sizeof *resident);
        for (size_t i = 0; i < n; ++i)
            if (fabsf(streamed[i] - resident[i]) > 1e-6f + 1e-5f * fabsf(resident[i]))
                fail_msg("m=%zu: parameter %zu streamed %.9g, resident %.9g", m, i,
                         (double)streamed[i], (double)resident[i]);
        float *other_seed = train_params(data, m, BT_DATA_RESIDENT, 3, seed + 1, steps, &n2);
        if (m < count)
            assert_true(memcmp(resident, other_seed, n * sizeof *resident) != 0);
        free(resident);
        free(again);
        free(streamed);
        free(other_seed);
    }
    bt_dataset_destroy(data);
}

static void test_auto_mode_and_bad_options(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    bt_dataset *data = indexed_dataset(100, &rng);
    bt_network *net = small_net(16, 1);
    bt_scheduler_opts opts = bt_scheduler_opts_default();
    opts.batch_size = 16;
    bt_scheduler *s = NULL;

    /* 100 x 17 bytes: resident under the device's own memory, streamed under a 3 KiB limit. */
    BT_ASSERT_OK(bt_scheduler_create_from_host(net, data, &opts, &s));
    assert_int_equal(bt_scheduler_data_mode(s), BT_DATA_RESIDENT);
    bt_scheduler_destroy(s);
    opts.memory_limit = 3000;
    BT_ASSERT_OK(bt_scheduler_create_from_host(net, data, &opts, &s));
    assert_int_equal(bt_scheduler_data_mode(s), BT_DATA_STREAM);
    BT_ASSERT_OK(bt_scheduler_run(s, 20));
    /* 7 steps an epoch (6 of 16, 1 of 4): 20 steps are 2 epochs and 6 steps of 16. */
    assert_int_equal(bt_scheduler_examples_seen(s), 2 * 100 + 6 * 16);
    assert_int_equal(bt_scheduler_epoch(s), 2);
    bt_scheduler_destroy(s);

    opts.mode = BT_DATA_STREAM;
    opts.ring_size = 1;
    assert_int_equal(bt_scheduler_create_from_host(net, data, &opts, &s), BT_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(bt_last_error(), "at least 2"));
    assert_null(s);
    opts.ring_size = 2;
    opts.batch_size = 101;
    assert_int_equal(bt_scheduler_create_from_host(net, data, &opts, &s), BT_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(bt_last_error(), "must be 1..100"));
    opts.batch_size = 8;
    opts.mode = (bt_data_mode)7;
    assert_int_equal(bt_scheduler_create_from_host(net, data, &opts, &s), BT_ERR_INVALID_ARGUMENT);
    bt_network_destroy(net);

    net = small_net(16, 1);
    bt_dataset *wrong = NULL;
    uint8_t pixels[4 * 8] = {0}, labels[4] = {0};
    BT_ASSERT_OK(bt_dataset_create_from_memory(pixels, labels, 4, 8, 2, &wrong));
    opts = bt_scheduler_opts_default();
    opts.batch_size = 2;
    assert_int_equal(bt_scheduler_create_from_host(net, wrong, &opts, &s), BT_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(bt_last_error(), "8 features"));
    bt_dataset_destroy(wrong);
    bt_network_destroy(net);
    bt_dataset_destroy(data);
}

static void test_streaming_profile_counts_transfers(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    bt_dataset *data = indexed_dataset(500, &rng);
    /* CLBlast's step: 5 GEMMs and the element-wise kernels beside them (the fused step has 5
     * products and no other kernel). */
    bt_network *net = small_net_on(50, 1, BT_ENGINE_CLBLAST);
    bt_scheduler *s = make_scheduler(net, data, 50, BT_DATA_STREAM, 3, 1, false);
    BT_ASSERT_OK(bt_network_set_profiling(net, true));
    BT_ASSERT_OK(bt_scheduler_run(s, 10));
    bt_profile p;
    BT_ASSERT_OK(bt_network_take_profile(net, &p));
    assert_int_equal(p.transfer_calls, 20); /* pixels and labels per step */
    assert_int_equal(p.data_calls, 10);     /* one gather per step */
    assert_true(p.gemm_calls == 10 * 5 && p.kernel_calls > 0);
    assert_true(p.transfer_hidden_seconds >= 0.0 &&
                p.transfer_hidden_seconds <= p.transfer_seconds + 1e-9);
    BT_ASSERT_OK(bt_network_set_profiling(net, false));
    bt_scheduler_destroy(s);
    bt_network_destroy(net);
    bt_dataset_destroy(data);
}

int main(void)
{
    bt_test_require_opencl();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_example_once_per_epoch),
        cmocka_unit_test(test_seeds_decide_the_order),
        cmocka_unit_test(test_resident_and_streaming_give_the_same_weights),
        cmocka_unit_test(test_auto_mode_and_bad_options),
        cmocka_unit_test(test_streaming_profile_counts_transfers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
