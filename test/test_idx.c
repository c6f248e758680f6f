/* The IDX parser and file reader: valid files, every malformed header, raw and gzip files. */
#define _POSIX_C_SOURCE 200809L
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idx.h"

#define HEADER_PREFIX 4
#define DIM_BYTES 4

static char *tmpdir;

static void fill_random(bt_test_rng *rng, uint8_t *dst, size_t size)
{
    for (size_t i = 0; i < size; ++i)
        dst[i] = (uint8_t)bt_test_rng_next(rng);
}

/* An IDX image in memory: header for `dims` plus `data_len` random data bytes. */
typedef struct idx_image {
    uint8_t *bytes;
    size_t len;
    size_t header;
} idx_image;

static idx_image make_idx(bt_test_rng *rng, uint8_t type, unsigned ndims, const uint32_t *dims,
                          size_t data_len)
{
    idx_image image;
    image.header = HEADER_PREFIX + DIM_BYTES * (size_t)ndims;
    image.len = image.header + data_len;
    image.bytes = malloc(image.len);
    assert_non_null(image.bytes);
    image.bytes[0] = 0;
    image.bytes[1] = 0;
    image.bytes[2] = type;
    image.bytes[3] = (uint8_t)ndims;
    for (unsigned i = 0; i < ndims; ++i) {
        uint8_t *p = image.bytes + HEADER_PREFIX + DIM_BYTES * i;
        p[0] = (uint8_t)(dims[i] >> 24);
        p[1] = (uint8_t)(dims[i] >> 16);
        p[2] = (uint8_t)(dims[i] >> 8);
        p[3] = (uint8_t)dims[i];
    }
    fill_random(rng, image.bytes + image.header, data_len);
    return image;
}

static size_t product(const uint32_t *dims, unsigned ndims)
{
    size_t n = 1;
    for (unsigned i = 0; i < ndims; ++i)
        n *= dims[i];
    return n;
}

static void check_valid(unsigned ndims, const uint32_t *dims, bt_test_rng *rng)
{
    size_t count = product(dims, ndims);
    idx_image image = make_idx(rng, 0x08, ndims, dims, count);
    bt_idx idx;
    BT_ASSERT_OK(bt_idx_parse(image.bytes, image.len, "valid.idx", &idx));
    assert_int_equal(idx.ndims, ndims);
    for (unsigned i = 0; i < ndims; ++i)
        assert_int_equal(idx.dims[i], dims[i]);
    assert_int_equal(idx.count, count);
    assert_ptr_equal(idx.data, image.bytes + image.header);
    free(image.bytes);
}

static void parse_valid_1d(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    uint32_t dims[1] = {(uint32_t)bt_test_rng_range(&rng, 1, 5000)};
    check_valid(1, dims, &rng);
}

static void parse_valid_3d(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    uint32_t dims[3] = {(uint32_t)bt_test_rng_range(&rng, 1, 100), (uint32_t)bt_test_rng_range(&rng, 1, 28),
                        (uint32_t)bt_test_rng_range(&rng, 1, 28)};
    check_valid(3, dims, &rng);
}

static void parse_valid_2d(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    uint32_t dims[2] = {(uint32_t)bt_test_rng_range(&rng, 1, 50), (uint32_t)bt_test_rng_range(&rng, 1, 50)};
    check_valid(2, dims, &rng);
}

static void parse_too_short(void **state)
{
    (void)state;
    const uint8_t bytes[3] = {0, 0, 0x08};
    bt_idx idx;
    for (size_t len = 0; len < sizeof bytes; ++len)
        bt_test_assert_failure(bt_idx_parse(bytes, len, "short.idx", &idx), BT_ERR_FORMAT, "short.idx",
                       "too short");
    /* An empty buffer may come without a pointer. */
    bt_test_assert_failure(bt_idx_parse(NULL, 0, "none.idx", &idx), BT_ERR_FORMAT, "none.idx",
                   "too short");
}

static void parse_header_cut_inside_dims(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    uint32_t dims[3] = {2, 3, 4};
    idx_image image = make_idx(&rng, 0x08, 3, dims, 24);
    size_t cut = bt_test_rng_range(&rng, HEADER_PREFIX, image.header - 1);
    bt_idx idx;
    bt_test_assert_failure(bt_idx_parse(image.bytes, cut, "cut.idx", &idx), BT_ERR_FORMAT, "cut.idx",
                   "truncated header");
    free(image.bytes);
}

static void parse_nonzero_leading_bytes(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    uint32_t dims[1] = {4};
    idx_image image = make_idx(&rng, 0x08, 1, dims, 4);
    bt_idx idx;
    for (int which = 0; which < 2; ++which) {
        image.bytes[0] = 0;
        image.bytes[1] = 0;
        image.bytes[which] = (uint8_t)bt_test_rng_range(&rng, 1, 255);
        bt_test_assert_failure(bt_idx_parse(image.bytes, image.len, "magic.idx", &idx), BT_ERR_FORMAT,
                       "magic.idx", "not an IDX file");
    }
    /* gzip data that reached the parser gets a hint. */
    image.bytes[0] = 0x1F;
    image.bytes[1] = 0x8B;
    bt_test_assert_failure(bt_idx_parse(image.bytes, image.len, "twice.gz", &idx), BT_ERR_FORMAT,
                   "twice.gz", "compressed twice");
    free(image.bytes);
}

static void parse_wrong_type(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    uint32_t dims[1] = {4};
    idx_image image = make_idx(&rng, 0x0D, 1, dims, 4);
    bt_idx idx;
    bt_test_assert_failure(bt_idx_parse(image.bytes, image.len, "float.idx", &idx), BT_ERR_FORMAT,
                   "float.idx",
                   "unsupported IDX data type 0x0D (float32), only unsigned bytes (0x08) are "
                   "supported");
    image.bytes[2] = (uint8_t)bt_test_rng_range(&rng, 0x09, 0xFF);
    bt_test_assert_failure(bt_idx_parse(image.bytes, image.len, "other.idx", &idx), BT_ERR_FORMAT,
                   "other.idx", "unsupported IDX data type");
    free(image.bytes);
}

static void parse_bad_ndims(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    const uint32_t dims[4] = {2, 2, 2, 2};
    bt_idx idx;
    idx_image zero = make_idx(&rng, 0x08, 0, dims, 1);
    bt_test_assert_failure(bt_idx_parse(zero.bytes, zero.len, "zero.idx", &idx), BT_ERR_FORMAT,
                   "zero.idx", "declares 0 dimensions");
    free(zero.bytes);
    idx_image four = make_idx(&rng, 0x08, 4, dims, 16);
    bt_test_assert_failure(bt_idx_parse(four.bytes, four.len, "four.idx", &idx), BT_ERR_FORMAT,
                   "four.idx", "declares 4 dimensions");
    free(four.bytes);
}

static void parse_zero_dimension(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    uint32_t dims[3] = {5, 7, 7};
    dims[bt_test_rng_range(&rng, 0, 2)] = 0;
    idx_image image = make_idx(&rng, 0x08, 3, dims, 0);
    bt_idx idx;
    bt_test_assert_failure(bt_idx_parse(image.bytes, image.len, "empty.idx", &idx), BT_ERR_FORMAT,
                   "empty.idx", "is 0");
    free(image.bytes);
}

static void parse_dimension_overflow(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    /* (2^32 - 1)^3 exceeds 2^64, and (2^32 - 1)^2 already exceeds a 32-bit size_t. */
    const uint32_t dims[3] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    idx_image image = make_idx(&rng, 0x08, 3, dims, bt_test_rng_range(&rng, 0, 64));
    bt_idx idx;
    bt_test_assert_failure(bt_idx_parse(image.bytes, image.len, "huge.idx", &idx), BT_ERR_FORMAT,
                   "huge.idx", "overflows");
    free(image.bytes);
}

static void parse_truncated_data(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    uint32_t dims[3] = {(uint32_t)bt_test_rng_range(&rng, 1, 50), 28, 28};
    size_t count = product(dims, 3);
    size_t missing = bt_test_rng_range(&rng, 1, count);
    idx_image image = make_idx(&rng, 0x08, 3, dims, count - missing);
    bt_idx idx;
    char phrase[128];
    snprintf(phrase, sizeof phrase, "truncated: header declares %zu bytes of data", count);
    bt_test_assert_failure(bt_idx_parse(image.bytes, image.len, "short-data.idx", &idx), BT_ERR_FORMAT,
                   "short-data.idx", phrase);
    snprintf(phrase, sizeof phrase, "only %zu follow", count - missing);
    if (!strstr(bt_last_error(), phrase))
        fail_msg("message lacks \"%s\": %s", phrase, bt_last_error());
    free(image.bytes);
}

static void parse_trailing_bytes(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    uint32_t dims[1] = {(uint32_t)bt_test_rng_range(&rng, 1, 1000)};
    size_t extra = bt_test_rng_range(&rng, 1, 100);
    idx_image image = make_idx(&rng, 0x08, 1, dims, dims[0] + extra);
    bt_idx idx;
    char phrase[64];
    snprintf(phrase, sizeof phrase, "has %zu trailing bytes", extra);
    bt_test_assert_failure(bt_idx_parse(image.bytes, image.len, "long.idx", &idx), BT_ERR_FORMAT,
                   "long.idx", phrase);
    free(image.bytes);
}

static void parse_null_arguments(void **state)
{
    (void)state;
    uint8_t byte = 0;
    bt_idx idx;
    bt_test_assert_failure(bt_idx_parse(&byte, 1, "x.idx", NULL), BT_ERR_INVALID_ARGUMENT, "x.idx",
                   "out is NULL");
    bt_test_assert_failure(bt_idx_parse(NULL, 5, "y.idx", &idx), BT_ERR_INVALID_ARGUMENT, "y.idx",
                   "buf is NULL");
    /* Without a name the message still says what was parsed. */
    bt_test_assert_failure(bt_idx_parse(&byte, 1, NULL, &idx), BT_ERR_FORMAT, "IDX data", "too short");
}

/* ------------------------------------------------------------------------------------------ */

static char *tmp_path(const char *name) { return bt_test_path(tmpdir, name); }

static void read_missing_file(void **state)
{
    (void)state;
    char *path = tmp_path("does-not-exist.idx");
    uint8_t *buf = (uint8_t *)path; /* must come back NULL */
    size_t len = 99;
    bt_test_assert_failure(bt_idx_read_file(path, 1000, &buf, &len), BT_ERR_IO, path,
                   "No such file or directory");
    assert_null(buf);
    assert_int_equal(len, 0);
    free(path);
}

static void read_directory(void **state)
{
    (void)state;
    uint8_t *buf = NULL;
    size_t len = 0;
    bt_test_assert_failure(bt_idx_read_file(tmpdir, 1000, &buf, &len), BT_ERR_IO, tmpdir,
                   "is a directory");
    assert_null(buf);
}

static void read_empty_file(void **state)
{
    (void)state;
    char *path = tmp_path("empty.idx");
    bt_test_write_file(path, "", 0);
    uint8_t *buf = NULL;
    size_t len = 0;
    bt_test_assert_failure(bt_idx_read_file(path, 1000, &buf, &len), BT_ERR_FORMAT, path, "is empty");
    assert_null(buf);
    char *gz = tmp_path("empty.idx.gz");
    bt_test_write_gz(gz, "", 0);
    bt_test_assert_failure(bt_idx_read_file(gz, 1000, &buf, &len), BT_ERR_FORMAT, gz, "is empty");
    assert_null(buf);
    free(path);
    free(gz);
}

/* Sizes span the reader's first 1 MiB buffer so that growth is exercised too. */
static void check_round_trip(bool compress, bt_test_rng *rng)
{
    size_t size = bt_test_rng_range(rng, 1, 3u << 20);
    uint8_t *data = malloc(size);
    assert_non_null(data);
    fill_random(rng, data, size);
    char *path = tmp_path(compress ? "round.gz" : "round.raw");
    if (compress)
        bt_test_write_gz(path, data, size);
    else
        bt_test_write_file(path, data, size);
    uint8_t *buf = NULL;
    size_t len = 0;
    BT_ASSERT_OK(bt_idx_read_file(path, size, &buf, &len));
    assert_int_equal(len, size);
    assert_memory_equal(buf, data, size);
    free(buf);
    free(data);
    free(path);
}

static void read_raw_round_trip(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    check_round_trip(false, &rng);
    check_round_trip(false, &rng);
}

static void read_gz_round_trip(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    check_round_trip(true, &rng);
    check_round_trip(true, &rng);
}

/* A compressed file of random contents, read back whole. */
static uint8_t *make_gz_bytes(bt_test_rng *rng, const char *path, size_t size, size_t *gz_len)
{
    uint8_t *data = malloc(size);
    assert_non_null(data);
    fill_random(rng, data, size);
    bt_test_write_gz(path, data, size);
    free(data);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long end = ftell(f);
    assert_true(end > 0);
    rewind(f);
    uint8_t *bytes = malloc((size_t)end);
    assert_non_null(bytes);
    assert_int_equal(fread(bytes, 1, (size_t)end, f), (size_t)end);
    fclose(f);
    *gz_len = (size_t)end;
    return bytes;
}

static void read_corrupt_gz_flipped(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    char *path = tmp_path("flipped.gz");
    size_t gz_len = 0;
    uint8_t *bytes = make_gz_bytes(&rng, path, bt_test_rng_range(&rng, 1000, 200000), &gz_len);
    /* Past the 10-byte gzip header and before the 8-byte trailer. */
    size_t at = bt_test_rng_range(&rng, 10 + gz_len / 4, gz_len - 8 - gz_len / 4);
    for (size_t i = 0; i < 8; ++i)
        bytes[at + i] ^= 0xA5;
    bt_test_write_file(path, bytes, gz_len);
    uint8_t *buf = NULL;
    size_t len = 0;
    bt_test_assert_failure(bt_idx_read_file(path, SIZE_MAX, &buf, &len), BT_ERR_FORMAT, path,
                   "corrupt gzip stream");
    assert_null(buf);
    free(bytes);
    free(path);
}

static void read_corrupt_gz_truncated(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    char *path = tmp_path("cut.gz");
    size_t gz_len = 0;
    uint8_t *bytes = make_gz_bytes(&rng, path, bt_test_rng_range(&rng, 1000, 200000), &gz_len);
    size_t keep = bt_test_rng_range(&rng, 11, gz_len - 1);
    bt_test_write_file(path, bytes, keep);
    uint8_t *buf = NULL;
    size_t len = 0;
    bt_test_assert_failure(bt_idx_read_file(path, SIZE_MAX, &buf, &len), BT_ERR_FORMAT, path,
                   "corrupt gzip stream");
    assert_null(buf);
    free(bytes);
    free(path);
}

static void check_max_bytes(bt_test_rng *rng, size_t size)
{
    uint8_t *data = malloc(size);
    assert_non_null(data);
    fill_random(rng, data, size);
    char *raw = tmp_path("limit.raw");
    char *gz = tmp_path("limit.gz");
    bt_test_write_file(raw, data, size);
    bt_test_write_gz(gz, data, size);
    const char *paths[2] = {raw, gz};
    for (int i = 0; i < 2; ++i) {
        uint8_t *buf = NULL;
        size_t len = 0;
        bt_test_assert_failure(bt_idx_read_file(paths[i], size - 1, &buf, &len), BT_ERR_FORMAT, paths[i],
                       "holds more than");
        assert_null(buf);
        BT_ASSERT_OK(bt_idx_read_file(paths[i], size, &buf, &len));
        assert_int_equal(len, size);
        free(buf);
    }
    free(data);
    free(raw);
    free(gz);
}

static void read_max_bytes(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    check_max_bytes(&rng, bt_test_rng_range(&rng, 1, 3u << 20));
    /* Around the reader's first buffer size, and a single byte. */
    check_max_bytes(&rng, (size_t)1 << 20);
    check_max_bytes(&rng, ((size_t)1 << 20) + 1);
    check_max_bytes(&rng, 1);
}

static void read_null_arguments(void **state)
{
    (void)state;
    uint8_t *buf = NULL;
    size_t len = 0;
    bt_test_assert_failure(bt_idx_read_file(NULL, 10, &buf, &len), BT_ERR_INVALID_ARGUMENT,
                   "bt_idx_read_file", "path is NULL");
    bt_test_assert_failure(bt_idx_read_file("some.idx", 10, NULL, &len), BT_ERR_INVALID_ARGUMENT,
                   "some.idx", "buf or len is NULL");
    bt_test_assert_failure(bt_idx_read_file("some.idx", 10, &buf, NULL), BT_ERR_INVALID_ARGUMENT,
                   "some.idx", "buf or len is NULL");
}

/* The reader and the parser together, as the dataset loader uses them. */
static void read_and_parse_gz(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    uint32_t dims[3] = {(uint32_t)bt_test_rng_range(&rng, 1, 30), 28, 28};
    idx_image image = make_idx(&rng, 0x08, 3, dims, product(dims, 3));
    char *path = tmp_path("images.gz");
    bt_test_write_gz(path, image.bytes, image.len);
    uint8_t *buf = NULL;
    size_t len = 0;
    BT_ASSERT_OK(bt_idx_read_file(path, SIZE_MAX, &buf, &len));
    bt_idx idx;
    BT_ASSERT_OK(bt_idx_parse(buf, len, path, &idx));
    assert_int_equal(idx.count, product(dims, 3));
    assert_memory_equal(idx.data, image.bytes + image.header, idx.count);
    free(buf);
    free(path);
    free(image.bytes);
}

static int make_tmpdir(void **state)
{
    (void)state;
    tmpdir = bt_test_make_tmpdir("bt-test-idx");
    return 0;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    bt_test_remove_tree(tmpdir);
    free(tmpdir);
    tmpdir = NULL;
    return 0;
}

int main(void)
{
    bt_test_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_valid_1d),
        cmocka_unit_test(parse_valid_2d),
        cmocka_unit_test(parse_valid_3d),
        cmocka_unit_test(parse_too_short),
        cmocka_unit_test(parse_header_cut_inside_dims),
        cmocka_unit_test(parse_nonzero_leading_bytes),
        cmocka_unit_test(parse_wrong_type),
        cmocka_unit_test(parse_bad_ndims),
        cmocka_unit_test(parse_zero_dimension),
        cmocka_unit_test(parse_dimension_overflow),
        cmocka_unit_test(parse_truncated_data),
        cmocka_unit_test(parse_trailing_bytes),
        cmocka_unit_test(parse_null_arguments),
        cmocka_unit_test(read_missing_file),
        cmocka_unit_test(read_directory),
        cmocka_unit_test(read_empty_file),
        cmocka_unit_test(read_raw_round_trip),
        cmocka_unit_test(read_gz_round_trip),
        cmocka_unit_test(read_corrupt_gz_flipped),
        cmocka_unit_test(read_corrupt_gz_truncated),
        cmocka_unit_test(read_max_bytes),
        cmocka_unit_test(read_null_arguments),
        cmocka_unit_test(read_and_parse_gz),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
