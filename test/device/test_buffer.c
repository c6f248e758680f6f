/* Device buffers: the allocation limits and their messages, the per-device byte count, host <->
 * device copies with offsets, range checks, and bt_buffer_fill_float. */
#define _POSIX_C_SOURCE 200809L
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bt_device *device;
static bt_test_rng rng; /* reset by each test that uses it: BT_TEST_RNG() */

static int open_device(void **state)
{
    (void)state;
    device = bt_test_open_device();
    return 0;
}

static int close_device(void **state)
{
    (void)state;
    bt_device_destroy(device);
    return 0;
}

static void assert_contains(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("expected \"%s\" in the message: %s", needle, text);
}

static bt_buffer *create_ok(size_t bytes)
{
    bt_buffer *buffer = NULL;
    BT_ASSERT_OK(bt_buffer_create(device, bytes, &buffer));
    assert_non_null(buffer);
    assert_non_null(bt_buffer_cl_mem(buffer));
    assert_int_equal(bt_buffer_size(buffer), bytes);
    return buffer;
}

static void test_allocation_above_the_largest_single_allocation_fails(void **state)
{
    (void)state;
    const bt_device_info *info = bt_device_get_info(device);
    bt_buffer *held = create_ok(4096); /* the count must stay unchanged, not merely stay zero */
    uint64_t before = bt_device_allocated_bytes(device);
    assert_int_equal(before, 4096);

    bt_buffer *buffer = (bt_buffer *)&buffer; /* must be reset to NULL on failure */
    assert_int_equal(bt_buffer_create(device, (size_t)info->max_alloc_bytes + 1, &buffer),
                     BT_ERR_DEVICE_MEMORY);
    assert_null(buffer);
    const char *msg = bt_last_error();
    assert_contains(msg, info->name);
    assert_contains(msg, "largest single allocation");
    assert_int_equal(bt_device_allocated_bytes(device), before);

    buffer = (bt_buffer *)&buffer;
    assert_int_equal(bt_buffer_create(device, SIZE_MAX, &buffer), BT_ERR_DEVICE_MEMORY);
    assert_null(buffer);
    assert_contains(bt_last_error(), "largest single allocation");
    assert_int_equal(bt_device_allocated_bytes(device), before);

    bt_buffer_destroy(held);
    assert_int_equal(bt_device_allocated_bytes(device), 0);
}

/* Fill the device's global memory with buffers of the largest allowed size, then ask for more.
 * PoCL (and GPU drivers) do not commit memory at clCreateBuffer, only when a buffer is first
 * used, so this costs no real memory: measured with PoCL 3.1 on a 3.9 GiB device, the resident
 * set did not grow at all for 3 GiB of untouched buffers. A driver that does commit host memory
 * is caught by the resident-size check after the first buffer, and the test is skipped rather
 * than pushing the machine into swap. */
static void test_allocations_past_global_memory_fail(void **state)
{
    (void)state;
    const bt_device_info *info = bt_device_get_info(device);
    const uint64_t max_alloc = info->max_alloc_bytes, global = info->global_mem_bytes;
    assert_true(max_alloc > 0 && max_alloc <= global);
    if (global / max_alloc > 64) {
        fprintf(stderr, "skipped: %llu buffers would be needed to fill global memory\n",
                (unsigned long long)(global / max_alloc));
        skip();
    }

    enum { MAX_HELD = 66 };
    bt_buffer *held[MAX_HELD] = {0};
    size_t n = 0;
    uint64_t rss_before = bt_test_resident_bytes();
    bool skipped = false;
    while (bt_device_allocated_bytes(device) + max_alloc <= global) {
        bt_status status = bt_buffer_create(device, (size_t)max_alloc, &held[n]);
        if (status != BT_OK) {
            /* The driver refused although the device reports the memory (a GPU shared with
             * other processes): that is not what this test is about. */
            fprintf(stderr, "skipped: the driver refused buffer %zu of %llu bytes: %s\n", n,
                    (unsigned long long)max_alloc, bt_last_error());
            skipped = true;
            break;
        }
        ++n;
        uint64_t rss = bt_test_resident_bytes();
        if (rss > rss_before + max_alloc / 4) {
            fprintf(stderr, "skipped: this driver commits host memory at clCreateBuffer "
                            "(resident set grew by %llu bytes)\n",
                    (unsigned long long)(rss - rss_before));
            skipped = true;
            break;
        }
    }

    if (!skipped) {
        assert_int_equal(bt_device_allocated_bytes(device), n * max_alloc);
        /* What remains is below one largest allocation; it fits exactly. */
        uint64_t remaining = global - bt_device_allocated_bytes(device);
        assert_true(remaining < max_alloc);
        if (remaining > 0) {
            held[n++] = create_ok((size_t)remaining);
            assert_int_equal(bt_device_allocated_bytes(device), global);
        }

        /* One byte more, and a request of the largest allowed size, are both refused for the
         * memory in use, not for their own size. */
        const size_t requests[] = {1, (size_t)max_alloc};
        for (size_t i = 0; i < sizeof requests / sizeof requests[0]; ++i) {
            bt_buffer *buffer = (bt_buffer *)&buffer;
            assert_int_equal(bt_buffer_create(device, requests[i], &buffer),
                             BT_ERR_DEVICE_MEMORY);
            assert_null(buffer);
            const char *msg = bt_last_error();
            assert_contains(msg, "already in use");
            assert_contains(msg, info->name);
            assert_null(strstr(msg, "largest single allocation"));
            assert_int_equal(bt_device_allocated_bytes(device), global);
        }

        /* Freeing one buffer makes room again. */
        bt_buffer_destroy(held[--n]);
        held[n] = NULL;
        bt_buffer_destroy(create_ok(1));
    }

    while (n > 0)
        bt_buffer_destroy(held[--n]);
    assert_int_equal(bt_device_allocated_bytes(device), 0);
    if (skipped)
        skip();
}

static void test_tracked_bytes_follow_create_and_destroy(void **state)
{
    (void)state;
    rng = BT_TEST_RNG();
    assert_int_equal(bt_device_allocated_bytes(device), 0);
    enum { COUNT = 5 };
    bt_buffer *buffers[COUNT];
    size_t sizes[COUNT];
    uint64_t expected = 0;
    for (size_t i = 0; i < COUNT; ++i) {
        sizes[i] = 1 + (size_t)(bt_test_rng_next(&rng) % 100000);
        buffers[i] = create_ok(sizes[i]);
        expected += sizes[i];
        assert_int_equal(bt_device_allocated_bytes(device), expected);
    }
    /* Destroy out of creation order. */
    const size_t order[COUNT] = {2, 0, 4, 1, 3};
    for (size_t i = 0; i < COUNT; ++i) {
        bt_buffer_destroy(buffers[order[i]]);
        expected -= sizes[order[i]];
        assert_int_equal(bt_device_allocated_bytes(device), expected);
    }
    assert_int_equal(bt_device_allocated_bytes(device), 0);

    /* A second device keeps its own count. */
    bt_device *other = bt_test_open_device();
    bt_buffer *mine = create_ok(1000);
    bt_buffer *theirs = NULL;
    BT_ASSERT_OK(bt_buffer_create(other, 300, &theirs));
    assert_int_equal(bt_device_allocated_bytes(device), 1000);
    assert_int_equal(bt_device_allocated_bytes(other), 300);
    bt_buffer_destroy(theirs);
    assert_int_equal(bt_device_allocated_bytes(other), 0);
    assert_int_equal(bt_device_allocated_bytes(device), 1000);
    bt_buffer_destroy(mine);
    bt_device_destroy(other);
    assert_int_equal(bt_device_allocated_bytes(NULL), 0);
}

static void fill_random_bytes(uint8_t *dst, size_t size)
{
    for (size_t i = 0; i < size; ++i)
        dst[i] = (uint8_t)(bt_test_rng_next(&rng) >> 56);
}

static void test_write_and_read_round_trip_with_offsets(void **state)
{
    (void)state;
    rng = BT_TEST_RNG();
    const size_t size = 4096 + (size_t)(bt_test_rng_next(&rng) % 4096);
    uint8_t *expected = malloc(size), *got = malloc(size), *chunk = malloc(size);
    assert_non_null(expected);
    assert_non_null(got);
    assert_non_null(chunk);
    bt_buffer *buffer = create_ok(size);

    /* The whole buffer. */
    fill_random_bytes(expected, size);
    BT_ASSERT_OK(bt_buffer_write(buffer, 0, expected, size));
    memset(got, 0, size);
    BT_ASSERT_OK(bt_buffer_read(buffer, 0, got, size));
    assert_memory_equal(got, expected, size);

    /* Pieces at random offsets, including ones that end exactly at the end of the buffer. */
    for (int round = 0; round < 50; ++round) {
        size_t offset = (size_t)(bt_test_rng_next(&rng) % size);
        size_t bytes = round % 5 == 0 ? size - offset
                                      : 1 + (size_t)(bt_test_rng_next(&rng) % (size - offset));
        fill_random_bytes(chunk, bytes);
        BT_ASSERT_OK(bt_buffer_write(buffer, offset, chunk, bytes));
        memcpy(expected + offset, chunk, bytes);

        /* Read the piece back alone, then the whole buffer: nothing else changed. */
        memset(got, 0, size);
        BT_ASSERT_OK(bt_buffer_read(buffer, offset, got, bytes));
        assert_memory_equal(got, chunk, bytes);
        BT_ASSERT_OK(bt_buffer_read(buffer, 0, got, size));
        assert_memory_equal(got, expected, size);
    }

    /* Reads at an offset see the bytes at that offset. */
    size_t offset = size / 3, bytes = size / 4;
    BT_ASSERT_OK(bt_buffer_read(buffer, offset, got, bytes));
    assert_memory_equal(got, expected + offset, bytes);

    bt_buffer_destroy(buffer);
    free(expected);
    free(got);
    free(chunk);
}

static void assert_range_rejected(bt_status status, const char *function, size_t offset,
                                  size_t buffer_size)
{
    assert_int_equal(status, BT_ERR_INVALID_ARGUMENT);
    char number[32];
    const char *msg = bt_last_error();
    assert_contains(msg, function);
    assert_contains(msg, "outside");
    snprintf(number, sizeof number, "%zu", offset);
    assert_contains(msg, number);
    snprintf(number, sizeof number, "%zu", buffer_size);
    assert_contains(msg, number);
}

static void test_copies_outside_the_buffer_are_rejected(void **state)
{
    (void)state;
    rng = BT_TEST_RNG();
    enum { SIZE = 1000 };
    uint8_t contents[SIZE], scratch[SIZE + 64], got[SIZE];
    bt_buffer *buffer = create_ok(SIZE);
    fill_random_bytes(contents, SIZE);
    fill_random_bytes(scratch, sizeof scratch);
    BT_ASSERT_OK(bt_buffer_write(buffer, 0, contents, SIZE));

    const struct {
        size_t offset, bytes;
    } bad[] = {
        {0, SIZE + 1},     /* one byte too many */
        {997, 8},          /* runs past the end */
        {SIZE, 1},         /* starts at the end */
        {SIZE + 17, 0},    /* starts beyond the end */
        {8, SIZE_MAX - 3}, /* offset + bytes wraps around */
        {SIZE_MAX, 2},     /* the offset itself is absurd */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        assert_range_rejected(bt_buffer_write(buffer, bad[i].offset, scratch, bad[i].bytes),
                              "bt_buffer_write", bad[i].offset, SIZE);
        assert_range_rejected(bt_buffer_read(buffer, bad[i].offset, scratch, bad[i].bytes),
                              "bt_buffer_read", bad[i].offset, SIZE);
    }
    /* A rejected write changed nothing. */
    BT_ASSERT_OK(bt_buffer_read(buffer, 0, got, SIZE));
    assert_memory_equal(got, contents, SIZE);
    bt_buffer_destroy(buffer);
}

static void test_fill_float_touches_exactly_the_range(void **state)
{
    (void)state;
    rng = BT_TEST_RNG();
    const size_t floats = 1000 + (size_t)(bt_test_rng_next(&rng) % 1000);
    float *before = malloc(floats * sizeof *before), *got = malloc(floats * sizeof *got);
    assert_non_null(before);
    assert_non_null(got);
    bt_buffer *buffer = create_ok(floats * sizeof(float));

    for (int round = 0; round < 20; ++round) {
        bt_test_fill_uniform(&rng, before, floats, -100.0f, 100.0f);
        BT_ASSERT_OK(bt_buffer_write(buffer, 0, before, floats * sizeof(float)));
        size_t offset = (size_t)(bt_test_rng_next(&rng) % floats);
        size_t count = round == 0   ? floats - offset /* up to the end */
                       : round == 1 ? 0
                                    : (size_t)(bt_test_rng_next(&rng) % (floats - offset + 1));
        if (round == 2)
            offset = 0, count = floats; /* everything */
        float value = (float)bt_test_rng_uniform(&rng, 200.0, 300.0); /* unlike any old value */
        BT_ASSERT_OK(bt_buffer_fill_float(buffer, offset, count, value));
        BT_ASSERT_OK(bt_buffer_read(buffer, 0, got, floats * sizeof(float)));
        for (size_t i = 0; i < floats; ++i) {
            bool inside = i >= offset && i < offset + count;
            float want = inside ? value : before[i];
            if (memcmp(&got[i], &want, sizeof want) != 0)
                fail_msg("round %d: float %zu of %zu is %g, expected %g (fill [%zu, %zu))",
                         round, i, floats, (double)got[i], (double)want, offset, offset + count);
        }
    }

    /* Out of range: nothing is enqueued, and the buffer keeps its contents. */
    BT_ASSERT_OK(bt_buffer_write(buffer, 0, before, floats * sizeof(float)));
    assert_range_rejected(bt_buffer_fill_float(buffer, 0, floats + 1, 1.0f),
                          "bt_buffer_fill_float", 0, floats);
    assert_range_rejected(bt_buffer_fill_float(buffer, floats - 2, 3, 1.0f),
                          "bt_buffer_fill_float", floats - 2, floats);
    assert_range_rejected(bt_buffer_fill_float(buffer, floats + 1, 0, 1.0f),
                          "bt_buffer_fill_float", floats + 1, floats);
    assert_range_rejected(bt_buffer_fill_float(buffer, 4, SIZE_MAX - 2, 1.0f),
                          "bt_buffer_fill_float", 4, floats);
    BT_ASSERT_OK(bt_buffer_read(buffer, 0, got, floats * sizeof(float)));
    assert_memory_equal(got, before, floats * sizeof(float));

    bt_buffer_destroy(buffer);
    free(before);
    free(got);
}

static void test_null_and_zero_size_arguments_are_rejected(void **state)
{
    (void)state;
    bt_buffer *buffer = (bt_buffer *)&buffer;
    assert_int_equal(bt_buffer_create(device, 0, &buffer), BT_ERR_INVALID_ARGUMENT);
    assert_null(buffer);
    buffer = (bt_buffer *)&buffer;
    assert_int_equal(bt_buffer_create(NULL, 16, &buffer), BT_ERR_INVALID_ARGUMENT);
    assert_null(buffer);
    assert_int_equal(bt_buffer_create(device, 16, NULL), BT_ERR_INVALID_ARGUMENT);
    assert_int_equal(bt_device_allocated_bytes(device), 0);

    float host[4] = {0};
    bt_buffer *real = create_ok(sizeof host);
    assert_int_equal(bt_buffer_write(NULL, 0, host, sizeof host), BT_ERR_INVALID_ARGUMENT);
    assert_int_equal(bt_buffer_read(NULL, 0, host, sizeof host), BT_ERR_INVALID_ARGUMENT);
    assert_int_equal(bt_buffer_write(real, 0, NULL, sizeof host), BT_ERR_INVALID_ARGUMENT);
    assert_int_equal(bt_buffer_read(real, 0, NULL, sizeof host), BT_ERR_INVALID_ARGUMENT);
    assert_int_equal(bt_buffer_fill_float(NULL, 0, 1, 0.0f), BT_ERR_INVALID_ARGUMENT);
    assert_int_equal(bt_buffer_size(NULL), 0);
    assert_null(bt_buffer_cl_mem(NULL));
    bt_buffer_destroy(real);
    bt_buffer_destroy(NULL);
    assert_int_equal(bt_device_allocated_bytes(device), 0);
}

int main(void)
{
    bt_test_require_opencl();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allocation_above_the_largest_single_allocation_fails),
        cmocka_unit_test(test_allocations_past_global_memory_fail),
        cmocka_unit_test(test_tracked_bytes_follow_create_and_destroy),
        cmocka_unit_test(test_write_and_read_round_trip_with_offsets),
        cmocka_unit_test(test_copies_outside_the_buffer_are_rejected),
        cmocka_unit_test(test_fill_float_touches_exactly_the_range),
        cmocka_unit_test(test_null_and_zero_size_arguments_are_rejected),
    };
    return cmocka_run_group_tests(tests, open_device, close_device);
}
