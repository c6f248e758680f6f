/* The IDX parser and file reader: valid files, every malformed header, raw and gzip files. */
#define _POSIX_C_SOURCE 200809L
#include "test_support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/idx.h"

#define HEADER_PREFIX 4
#define DIM_BYTES 4

static char *tmpdir;

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
    image.bytes = bt_test_idx_bytes(type, ndims, dims, NULL, data_len, &image.len);
    bt_test_fill_bytes(rng, image.bytes + image.header, data_len);
    return image;
}

/* The data bytes that `dims` declare; 0 where their product overflows. */
static size_t product(const uint32_t *dims, unsigned ndims)
{
    size_t n = 1;
    for (unsigned i = 0; i < ndims; ++i) {
        if (dims[i] && n > SIZE_MAX / dims[i])
            return 0;
        n *= dims[i];
    }
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

/* ------------------------------------------------------------------------------------------ */
/* Malformed buffers for bt_idx_parse: one row each. */

/* A whole number drawn afresh each run from [lo, hi]; where hi is not above lo (e.g. {7}), lo. */
typedef struct span {
    size_t lo, hi;
} span;

static size_t draw(bt_test_rng *rng, span s)
{
    return s.hi <= s.lo ? s.lo : bt_test_rng_range(rng, s.lo, s.hi);
}

/* An IDX image of `ndims` dimensions `dims` holding the data they declare, less `missing` (at
 * most all of it) and plus `extra` bytes, then changed as the row says. The message must name
 * `file` (or "IDX data" where it is NULL) and say each of `says`, where {declared} is the data
 * size the header declares, {present} the data bytes that follow it, {extra} the bytes added. */
typedef struct parse_case {
    const char *name;
    const char *file;     /* the name the parser is given */
    span lead[2];         /* the first two bytes, zero in an IDX file */
    span type;            /* the data type; {0} stands for unsigned bytes (0x08) */
    unsigned ndims;
    span dims[BT_IDX_MAX_DIMS + 1];
    span missing, extra;
    bool cut;             /* pass only the first `keep` bytes */
    span keep;
    bool no_buffer;       /* pass NULL for the buffer (with the length `keep`) */
    bool no_out;          /* pass NULL for the result */
    bt_status status;
    const char *says[BT_TEST_SAYS_MAX];
} parse_case;

#define FORMAT BT_ERR_FORMAT
#define ARGUMENT BT_ERR_INVALID_ARGUMENT
#define ONE_DIM .ndims = 1, .dims = {{4}}

static const parse_case parse_cases[] = {
    {"parse_too_short_0_bytes", "short.idx", ONE_DIM, .cut = true, .keep = {0},
     .status = FORMAT, .says = {"too short"}},
    {"parse_too_short_1_byte", "short.idx", ONE_DIM, .cut = true, .keep = {1},
     .status = FORMAT, .says = {"too short"}},
    {"parse_too_short_2_bytes", "short.idx", ONE_DIM, .cut = true, .keep = {2},
     .status = FORMAT, .says = {"too short"}},
    /* An empty buffer may come without a pointer. */
    {"parse_too_short_no_buffer", "none.idx", ONE_DIM, .no_buffer = true, .keep = {0},
     .status = FORMAT, .says = {"too short"}},
    /* Inside the 3 dimensions: 4 to 15 of the 16 header bytes. */
    {"parse_header_cut_inside_dims", "cut.idx", .ndims = 3, .dims = {{2}, {3}, {4}}, .cut = true,
     .keep = {4, 15}, .status = FORMAT, .says = {"truncated header"}},
    {"parse_first_byte_nonzero", "magic.idx", .lead = {{1, 255}, {0}}, ONE_DIM, .status = FORMAT,
     .says = {"not an IDX file"}},
    {"parse_second_byte_nonzero", "magic.idx", .lead = {{0}, {1, 255}}, ONE_DIM, .status = FORMAT,
     .says = {"not an IDX file"}},
    /* gzip data that reached the parser gets a hint. */
    {"parse_gzip_data", "twice.gz", .lead = {{0x1F}, {0x8B}}, ONE_DIM, .status = FORMAT,
     .says = {"compressed twice"}},
    {"parse_float_type", "float.idx", .type = {0x0D}, ONE_DIM, .status = FORMAT,
     .says = {"unsupported IDX data type 0x0D (float32), only unsigned bytes (0x08) are "
              "supported"}},
    {"parse_other_type", "other.idx", .type = {0x09, 0xFF}, ONE_DIM, .status = FORMAT,
     .says = {"unsupported IDX data type"}},
    {"parse_zero_dimensions", "zero.idx", .ndims = 0, .status = FORMAT,
     .says = {"declares 0 dimensions"}},
    {"parse_four_dimensions", "four.idx", .ndims = 4, .dims = {{2}, {2}, {2}, {2}},
     .status = FORMAT, .says = {"declares 4 dimensions"}},
    {"parse_zero_first_dimension", "empty.idx", .ndims = 3, .dims = {{0}, {7}, {7}},
     .status = FORMAT, .says = {"dimension 1 of the shape 0 x 7 x 7 is 0"}},
    {"parse_zero_second_dimension", "empty.idx", .ndims = 3, .dims = {{5}, {0}, {7}},
     .status = FORMAT, .says = {"dimension 2 of the shape 5 x 0 x 7 is 0"}},
    {"parse_zero_third_dimension", "empty.idx", .ndims = 3, .dims = {{5}, {7}, {0}},
     .status = FORMAT, .says = {"dimension 3 of the shape 5 x 7 x 0 is 0"}},
    /* (2^32 - 1)^3 exceeds 2^64, and (2^32 - 1)^2 already exceeds a 32-bit size_t. */
    {"parse_dimension_overflow", "huge.idx", .ndims = 3,
     .dims = {{0xFFFFFFFFu}, {0xFFFFFFFFu}, {0xFFFFFFFFu}}, .extra = {0, 64}, .status = FORMAT,
     .says = {"overflows"}},
    {"parse_truncated_data", "short-data.idx", .ndims = 3, .dims = {{1, 50}, {28}, {28}},
     .missing = {1, SIZE_MAX}, .status = FORMAT,
     .says = {"truncated: header declares {declared} bytes of data", "only {present} follow"}},
    {"parse_trailing_bytes", "long.idx", .ndims = 1, .dims = {{1, 1000}}, .extra = {1, 100},
     .status = FORMAT, .says = {"has {extra} trailing bytes"}},
    /* Without a name the message still says what was parsed. */
    {"parse_without_a_name", NULL, ONE_DIM, .cut = true, .keep = {1}, .status = FORMAT,
     .says = {"too short"}},
    {"parse_null_out", "x.idx", ONE_DIM, .cut = true, .keep = {1}, .no_out = true,
     .status = ARGUMENT, .says = {"out is NULL"}},
    {"parse_null_buffer", "y.idx", ONE_DIM, .no_buffer = true, .keep = {5}, .status = ARGUMENT,
     .says = {"buf is NULL"}},
};

static void run_parse_case(void **state)
{
    const parse_case *c = *state;
    bt_test_rng rng = bt_test_rng_for(c->name);
    uint32_t dims[BT_IDX_MAX_DIMS + 1];
    for (unsigned i = 0; i < c->ndims; ++i)
        dims[i] = (uint32_t)draw(&rng, c->dims[i]);
    size_t declared = product(dims, c->ndims);
    span missing = c->missing;
    if (missing.hi > declared)
        missing.hi = declared;
    size_t present = declared - draw(&rng, missing);
    size_t extra = draw(&rng, c->extra);
    present += extra;
    uint8_t type = c->type.lo ? (uint8_t)draw(&rng, c->type) : 0x08;
    idx_image image = make_idx(&rng, type, c->ndims, dims, present);
    for (int i = 0; i < 2; ++i)
        image.bytes[i] = (uint8_t)draw(&rng, c->lead[i]);
    size_t len = c->cut || c->no_buffer ? draw(&rng, c->keep) : image.len;

    bt_idx idx;
    bt_status got = bt_idx_parse(c->no_buffer ? NULL : image.bytes, len, c->file,
                                 c->no_out ? NULL : &idx);
    const bt_test_var vars[] = {
        {"declared", NULL, declared}, {"present", NULL, present}, {"extra", NULL, extra}};
    bt_test_assert_says(got, c->status, c->file ? c->file : "IDX data", c->says, vars,
                        sizeof vars / sizeof vars[0]);
    free(image.bytes);
}

/* ------------------------------------------------------------------------------------------ */

static char *tmp_path(const char *name) { return bt_test_path(tmpdir, name); }

/* Sizes span the reader's first 1 MiB buffer so that growth is exercised too. */
static void check_round_trip(bool compress, bt_test_rng *rng)
{
    size_t size = bt_test_rng_range(rng, 1, 3u << 20);
    uint8_t *data = malloc(size);
    assert_non_null(data);
    bt_test_fill_bytes(rng, data, size);
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
    bt_test_fill_bytes(rng, data, size);
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

/* Files bt_idx_read_file must refuse: one row each. */
typedef enum file_kind {
    ABSENT,      /* no such file */
    FOLDER,      /* a directory */
    EMPTY_RAW,   /* no bytes */
    EMPTY_GZ,    /* gzip of no bytes */
    GZ_FLIPPED,  /* gzip with 8 bytes of its deflate stream flipped */
    GZ_CUT,      /* gzip cut short past its 10-byte header */
} file_kind;

/* The reader is given "<tmpdir>/<file>" (NULL where `file` is) and must fail with `status`,
 * naming the path (or "bt_idx_read_file" where there is none) and saying `says`; *buf and *len
 * come back NULL and 0. */
typedef struct read_case {
    const char *name;
    const char *file;
    file_kind kind;
    size_t max_bytes;
    bool no_buf, no_len; /* pass NULL for buf, for len */
    bt_status status;
    const char *says[BT_TEST_SAYS_MAX];
} read_case;

static const read_case read_cases[] = {
    {"read_missing_file", "does-not-exist.idx", ABSENT, 1000, .status = BT_ERR_IO,
     .says = {"No such file or directory"}},
    {"read_directory", "folder.idx", FOLDER, 1000, .status = BT_ERR_IO,
     .says = {"is a directory"}},
    {"read_empty_file", "empty.idx", EMPTY_RAW, 1000, .status = FORMAT, .says = {"is empty"}},
    {"read_empty_gz_file", "empty.idx.gz", EMPTY_GZ, 1000, .status = FORMAT,
     .says = {"is empty"}},
    {"read_corrupt_gz_flipped", "flipped.gz", GZ_FLIPPED, SIZE_MAX, .status = FORMAT,
     .says = {"corrupt gzip stream"}},
    {"read_corrupt_gz_truncated", "cut.gz", GZ_CUT, SIZE_MAX, .status = FORMAT,
     .says = {"corrupt gzip stream"}},
    {"read_null_path", NULL, ABSENT, 10, .status = ARGUMENT, .says = {"path is NULL"}},
    {"read_null_buf", "some.idx", ABSENT, 10, .no_buf = true, .status = ARGUMENT,
     .says = {"buf or len is NULL"}},
    {"read_null_len", "some.idx", ABSENT, 10, .no_len = true, .status = ARGUMENT,
     .says = {"buf or len is NULL"}},
};

static void make_file(bt_test_rng *rng, file_kind kind, const char *path)
{
    switch (kind) {
    case ABSENT:
        break;
    case FOLDER:
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            fail_msg("mkdir(%s): %s", path, strerror(errno));
        break;
    case EMPTY_RAW:
        bt_test_write_file(path, "", 0);
        break;
    case EMPTY_GZ:
        bt_test_write_gz(path, "", 0);
        break;
    case GZ_FLIPPED:
    case GZ_CUT: {
        size_t gz_len = 0;
        uint8_t *bytes = make_gz_bytes(rng, path, bt_test_rng_range(rng, 1000, 200000), &gz_len);
        if (kind == GZ_FLIPPED) {
            /* Past the 10-byte gzip header and before the 8-byte trailer. */
            size_t at = bt_test_rng_range(rng, 10 + gz_len / 4, gz_len - 8 - gz_len / 4);
            for (size_t i = 0; i < 8; ++i)
                bytes[at + i] ^= 0xA5;
        } else {
            gz_len = bt_test_rng_range(rng, 11, gz_len - 1);
        }
        bt_test_write_file(path, bytes, gz_len);
        free(bytes);
        break;
    }
    }
}

static void run_read_case(void **state)
{
    const read_case *c = *state;
    bt_test_rng rng = bt_test_rng_for(c->name);
    char *path = c->file ? tmp_path(c->file) : NULL;
    if (path)
        make_file(&rng, c->kind, path);
    uint8_t *buf = (uint8_t *)&rng; /* must come back NULL */
    size_t len = 99;
    bt_status got = bt_idx_read_file(path, c->max_bytes, c->no_buf ? NULL : &buf,
                                     c->no_len ? NULL : &len);
    bt_test_assert_says(got, c->status, path ? path : "bt_idx_read_file", c->says, NULL, 0);
    if (!c->no_buf && !c->no_len) {
        assert_null(buf);
        assert_int_equal(len, 0);
    }
    free(path);
}

static void check_max_bytes(bt_test_rng *rng, size_t size)
{
    uint8_t *data = malloc(size);
    assert_non_null(data);
    bt_test_fill_bytes(rng, data, size);
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

/* A small gzip file whose header claims 2^31-1 images of 28 x 28 (then 4 MiB of zeros, a few
 * KiB compressed): refused as soon as the header is in, not after decompressing up to the limit
 * (1 MiB here; the dataset's is 1 GiB). */
static void read_gz_declared_size_checked_at_the_header(void **state)
{
    (void)state;
    uint32_t dims[3] = {0x7FFFFFFFu, 28, 28};
    size_t data_len = (size_t)4 << 20;
    size_t len = 0;
    uint8_t *bytes = bt_test_idx_bytes(0x08, 3, dims, NULL, data_len, &len);
    char *path = tmp_path("bomb.gz");
    bt_test_write_gz(path, bytes, len);
    uint8_t *buf = NULL;
    size_t got = 99;
    bt_test_assert_failure(bt_idx_read_file(path, (size_t)1 << 20, &buf, &got), BT_ERR_FORMAT,
                           path, "the IDX header declares");
    assert_non_null(strstr(bt_last_error(), "2147483647 x 28 x 28"));
    assert_null(buf);
    assert_int_equal(got, 0);
    free(path);
    free(bytes);
}

/* Bytes after the gzip stream are refused, as trailing bytes after a raw file's data are; a second
 * gzip member is part of the stream. */
static void read_gz_trailing_bytes_refused(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    uint32_t dims[1] = {1000};
    idx_image image = make_idx(&rng, 0x08, 1, dims, 1000);
    char *path = tmp_path("trailing.gz");
    bt_test_write_gz(path, image.bytes, image.len);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t member[65536];
    size_t member_len = fread(member, 1, sizeof member, f);
    fclose(f);
    assert_true(member_len > 18 && member_len < sizeof member - 64);

    uint8_t *buf = NULL;
    size_t len = 0;
    const char *garbage[] = {"garbage", "\x1f" "\x8c", "\0\0\0\0"};
    const size_t garbage_len[] = {7, 2, 4};
    for (size_t i = 0; i < 3; ++i) {
        uint8_t file[65536 + 16];
        memcpy(file, member, member_len);
        memcpy(file + member_len, garbage[i], garbage_len[i]);
        bt_test_write_file(path, file, member_len + garbage_len[i]);
        bt_test_assert_failure(bt_idx_read_file(path, SIZE_MAX, &buf, &len), BT_ERR_FORMAT, path,
                               "trailing bytes after the gzip stream");
        assert_null(buf);
    }

    /* Two members: the data split in two, read back whole. */
    char *half = tmp_path("half.gz");
    bt_test_write_gz(half, image.bytes, image.len / 2);
    f = fopen(half, "rb");
    assert_non_null(f);
    uint8_t file[2 * 65536];
    size_t first = fread(file, 1, 65536, f);
    fclose(f);
    bt_test_write_gz(half, image.bytes + image.len / 2, image.len - image.len / 2);
    f = fopen(half, "rb");
    assert_non_null(f);
    size_t second = fread(file + first, 1, 65536, f);
    fclose(f);
    bt_test_write_file(path, file, first + second);
    BT_ASSERT_OK(bt_idx_read_file(path, SIZE_MAX, &buf, &len));
    assert_int_equal(len, image.len);
    assert_memory_equal(buf, image.bytes, image.len);
    free(buf);
    free(half);
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
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(parse_valid_1d),
        cmocka_unit_test(parse_valid_2d),
        cmocka_unit_test(parse_valid_3d),
        cmocka_unit_test(read_raw_round_trip),
        cmocka_unit_test(read_gz_round_trip),
        cmocka_unit_test(read_max_bytes),
        cmocka_unit_test(read_and_parse_gz),
        cmocka_unit_test(read_gz_declared_size_checked_at_the_header),
        cmocka_unit_test(read_gz_trailing_bytes_refused),
    };
    struct CMUnitTest tests[BT_TEST_COUNT(fixed) + BT_TEST_COUNT(parse_cases) +
                            BT_TEST_COUNT(read_cases)];
    memcpy(tests, fixed, sizeof fixed);
    size_t n = BT_TEST_COUNT(fixed);
    BT_TEST_ADD_ROWS(tests, n, parse_cases, run_parse_case);
    BT_TEST_ADD_ROWS(tests, n, read_cases, run_read_case);
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
