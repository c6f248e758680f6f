/* Datasets: loading synthetic MNIST folders (raw and gzip), the train/validation split, every
 * malformed input, slicing and copying from memory; the real Fashion-MNIST when installed. */
#define _POSIX_C_SOURCE 200809L
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TRAIN_IMAGES "train-images-idx3-ubyte"
#define TRAIN_LABELS "train-labels-idx1-ubyte"
#define TEST_IMAGES "t10k-images-idx3-ubyte"
#define TEST_LABELS "t10k-labels-idx1-ubyte"
#define CLASSES 10u

static void assert_message_has(const char *phrase)
{
    if (!strstr(bt_last_error(), phrase))
        fail_msg("message lacks \"%s\": %s", phrase, bt_last_error());
}

/* ------------------------------------------------------------------------------------------ */
/* Synthetic IDX files */

/* Random examples of one file pair. */
typedef struct part {
    size_t count, rows, cols;
    uint8_t *pixels;
    uint8_t *labels;
} part;

static part make_part(bt_test_rng *rng, size_t count, size_t rows, size_t cols)
{
    part p = {count, rows, cols, malloc(count * rows * cols), malloc(count)};
    assert_non_null(p.pixels);
    assert_non_null(p.labels);
    bt_test_fill_bytes(rng, p.pixels, count * rows * cols);
    for (size_t i = 0; i < count; ++i)
        p.labels[i] = (uint8_t)(bt_test_rng_next(rng) % CLASSES);
    return p;
}

static void free_part(part *p)
{
    free(p->pixels);
    free(p->labels);
}

static char *write_images(const char *dir, const char *name, bool gz, const part *p)
{
    uint32_t dims[3] = {(uint32_t)p->count, (uint32_t)p->rows, (uint32_t)p->cols};
    return bt_test_write_idx(dir, name, gz, 3, dims, p->pixels, p->count * p->rows * p->cols);
}

static char *write_labels(const char *dir, const char *name, bool gz, const part *p)
{
    uint32_t dims[1] = {(uint32_t)p->count};
    return bt_test_write_idx(dir, name, gz, 1, dims, p->labels, p->count);
}

/* Bit i of `gz_mask` compresses file i (train images, train labels, test images, test labels). */
static void write_mnist_dir(const char *dir, const part *train, const part *test,
                            unsigned gz_mask)
{
    if (train) {
        free(write_images(dir, TRAIN_IMAGES, gz_mask & 1u, train));
        free(write_labels(dir, TRAIN_LABELS, gz_mask & 2u, train));
    }
    if (test) {
        free(write_images(dir, TEST_IMAGES, gz_mask & 4u, test));
        free(write_labels(dir, TEST_LABELS, gz_mask & 8u, test));
    }
}

/* Examples [first, first + count) of `p` must be exactly `d`. */
static void assert_dataset_is(const bt_dataset *d, const part *p, size_t first, size_t count)
{
    size_t features = p->rows * p->cols;
    assert_non_null(d);
    assert_int_equal(bt_dataset_count(d), count);
    assert_int_equal(bt_dataset_features(d), features);
    assert_int_equal(bt_dataset_classes(d), CLASSES);
    assert_memory_equal(bt_dataset_pixels(d), p->pixels + first * features, count * features);
    assert_memory_equal(bt_dataset_labels(d), p->labels + first, count);
}

static char *new_dir(void) { return bt_test_make_tmpdir("bt-test-dataset"); }

static void remove_dir(char *dir)
{
    bt_test_remove_tree(dir);
    free(dir);
}

/* A non-NULL value that a failing call must overwrite with NULL. */
static bt_dataset *const SENTINEL = (bt_dataset *)&SENTINEL;

/* ------------------------------------------------------------------------------------------ */
/* MNIST folders */

static void mnist_dir_split(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    for (int round = 0; round < 4; ++round) {
        size_t rows = bt_test_rng_range(&rng, 1, 8), cols = bt_test_rng_range(&rng, 1, 8);
        part train = make_part(&rng, bt_test_rng_range(&rng, 2, 60), rows, cols);
        part test = make_part(&rng, bt_test_rng_range(&rng, 1, 30), rows, cols);
        size_t validation_count = bt_test_rng_range(&rng, 1, train.count - 1);
        char *dir = new_dir();
        write_mnist_dir(dir, &train, &test, (unsigned)bt_test_rng_next(&rng) & 15u);
        bt_dataset *tr = NULL, *va = NULL, *te = NULL;
        BT_ASSERT_OK(bt_dataset_load_mnist_dir(dir, validation_count, &tr, &va, &te));
        size_t train_count = train.count - validation_count;
        assert_dataset_is(tr, &train, 0, train_count);
        assert_dataset_is(va, &train, train_count, validation_count);
        assert_dataset_is(te, &test, 0, test.count);
        bt_dataset_destroy(tr);
        bt_dataset_destroy(va);
        bt_dataset_destroy(te);
        remove_dir(dir);
        free_part(&train);
        free_part(&test);
    }
}

/* Without a validation set the training set still stops before the last validation_count. */
static void mnist_dir_parts_optional(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    part train = make_part(&rng, bt_test_rng_range(&rng, 3, 40), 4, 5);
    part test = make_part(&rng, bt_test_rng_range(&rng, 1, 20), 4, 5);
    char *dir = new_dir();
    write_mnist_dir(dir, &train, &test, 0);
    size_t validation_count = bt_test_rng_range(&rng, 1, train.count - 1);
    bt_dataset *tr = NULL, *va = NULL;
    BT_ASSERT_OK(bt_dataset_load_mnist_dir(dir, validation_count, &tr, NULL, NULL));
    assert_dataset_is(tr, &train, 0, train.count - validation_count);
    bt_dataset_destroy(tr);
    BT_ASSERT_OK(bt_dataset_load_mnist_dir(dir, 0, &tr, NULL, NULL));
    assert_dataset_is(tr, &train, 0, train.count);
    bt_dataset_destroy(tr);
    BT_ASSERT_OK(bt_dataset_load_mnist_dir(dir, validation_count, NULL, &va, NULL));
    assert_dataset_is(va, &train, train.count - validation_count, validation_count);
    bt_dataset_destroy(va);
    BT_ASSERT_OK(bt_dataset_load_mnist_dir(dir, 0, NULL, NULL, NULL));
    remove_dir(dir);
    free_part(&train);
    free_part(&test);
}

/* Only the test files exist: asking for the test set alone must not touch the training files. */
static void mnist_dir_test_only(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    part test = make_part(&rng, bt_test_rng_range(&rng, 1, 20), 3, 3);
    char *dir = new_dir();
    write_mnist_dir(dir, NULL, &test, 12u);
    bt_dataset *te = NULL;
    BT_ASSERT_OK(bt_dataset_load_mnist_dir(dir, 5, NULL, NULL, &te));
    assert_dataset_is(te, &test, 0, test.count);
    bt_dataset_destroy(te);
    remove_dir(dir);
    free_part(&test);
}

/* With both "<name>" and "<name>.gz" present the raw file is read. */
static void mnist_dir_prefers_raw(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    part train = make_part(&rng, 10, 2, 2);
    part test = make_part(&rng, 5, 2, 2);
    char *dir = new_dir();
    write_mnist_dir(dir, &train, &test, 0);
    const char *names[4] = {TRAIN_IMAGES ".gz", TRAIN_LABELS ".gz", TEST_IMAGES ".gz",
                            TEST_LABELS ".gz"};
    for (int i = 0; i < 4; ++i) {
        char *path = bt_test_path(dir, names[i]);
        bt_test_write_file(path, "not gzip, not IDX", 17);
        free(path);
    }
    bt_dataset *tr = NULL, *va = NULL, *te = NULL;
    BT_ASSERT_OK(bt_dataset_load_mnist_dir(dir, 3, &tr, &va, &te));
    assert_dataset_is(tr, &train, 0, 7);
    assert_dataset_is(va, &train, 7, 3);
    assert_dataset_is(te, &test, 0, 5);
    bt_dataset_destroy(tr);
    bt_dataset_destroy(va);
    bt_dataset_destroy(te);
    remove_dir(dir);
    free_part(&train);
    free_part(&test);
}

static void mnist_dir_missing_files(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    char *dir = new_dir();
    bt_dataset *tr = SENTINEL, *va = SENTINEL, *te = SENTINEL;
    char *raw = bt_test_path(dir, TRAIN_IMAGES);
    char *gz = bt_test_path(dir, TRAIN_IMAGES ".gz");
    bt_test_assert_failure(bt_dataset_load_mnist_dir(dir, 1, &tr, &va, &te), BT_ERR_IO, raw, gz);
    assert_message_has("install dataset-fashion-mnist or pass --data DIR");
    assert_null(tr);
    assert_null(va);
    assert_null(te);
    free(raw);
    free(gz);

    /* The training files load, the test labels are missing: nothing may be returned or leak. */
    part train = make_part(&rng, 12, 3, 2);
    part test = make_part(&rng, 4, 3, 2);
    write_mnist_dir(dir, &train, NULL, 3u);
    free(write_images(dir, TEST_IMAGES, true, &test));
    tr = va = te = SENTINEL;
    raw = bt_test_path(dir, TEST_LABELS);
    bt_test_assert_failure(bt_dataset_load_mnist_dir(dir, 2, &tr, &va, &te), BT_ERR_IO, raw,
                   TEST_LABELS ".gz");
    assert_null(tr);
    assert_null(va);
    assert_null(te);
    free(raw);
    remove_dir(dir);

    char *nowhere = bt_test_path("/nonexistent-bt-test-dir", "deeper");
    bt_test_assert_failure(bt_dataset_load_mnist_dir(nowhere, 1, NULL, NULL, &te), BT_ERR_IO, nowhere,
                   "No such file or directory");
    free(nowhere);
    free_part(&train);
    free_part(&test);
}

static void mnist_dir_bad_validation_count(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    part train = make_part(&rng, bt_test_rng_range(&rng, 1, 30), 2, 3);
    part test = make_part(&rng, 3, 2, 3);
    char *dir = new_dir();
    write_mnist_dir(dir, &train, &test, (unsigned)bt_test_rng_next(&rng) & 15u);
    size_t too_many[3] = {train.count, train.count + bt_test_rng_range(&rng, 1, 1000), SIZE_MAX};
    for (int i = 0; i < 3; ++i) {
        bt_dataset *tr = SENTINEL, *va = SENTINEL, *te = SENTINEL;
        bt_test_assert_failure(bt_dataset_load_mnist_dir(dir, too_many[i], &tr, &va, &te),
                       BT_ERR_INVALID_ARGUMENT, dir, "leaves no training examples");
        assert_null(tr);
        assert_null(va);
        assert_null(te);
        /* The split is checked even when only the validation set is wanted. */
        bt_test_assert_failure(bt_dataset_load_mnist_dir(dir, too_many[i], NULL, &va, NULL),
                       BT_ERR_INVALID_ARGUMENT, dir, "validation_count");
        assert_null(va);
    }
    bt_dataset *va = SENTINEL;
    bt_test_assert_failure(bt_dataset_load_mnist_dir(dir, 0, NULL, &va, NULL), BT_ERR_INVALID_ARGUMENT,
                   "bt_dataset_load_mnist_dir", "validation_count is 0");
    assert_null(va);
    bt_test_assert_failure(bt_dataset_load_mnist_dir(NULL, 1, NULL, &va, NULL), BT_ERR_INVALID_ARGUMENT,
                   "bt_dataset_load_mnist_dir", "dir is NULL");
    remove_dir(dir);
    free_part(&train);
    free_part(&test);
}

/* ------------------------------------------------------------------------------------------ */
/* bt_dataset_load_idx */

/* What an argument of bt_dataset_load_idx names, written from one random set of examples. */
typedef enum idx_file {
    NO_FILE,             /* a NULL path */
    IMAGES,              /* the examples' images */
    IMAGES_CUT,          /* ... one byte short */
    IMAGES_OTHER_COUNT,  /* images of more or fewer examples than there are labels */
    LABELS,              /* the examples' labels */
    LABELS_OUT_OF_RANGE, /* ... one of them (at a random index) CLASSES or more */
    EMPTY,               /* a file of no bytes */
} idx_file;

#define GZ_IMAGES 1u /* the images file is gzipped */
#define GZ_LABELS 2u /* the labels file is gzipped */
#define GZ_EITHER 4u /* both or neither, by chance */

/* Loading `images` and `labels` with `classes` gives `status`, and a message that says each of
 * `says`, where {images} and {labels} are the paths given, {image_count} and {label_count} what
 * the files hold, {bad_label} and {bad_index} the label out of range and where it is. A failure
 * leaves NULL in *out. */
typedef struct load_case {
    const char *name;
    idx_file images, labels;
    unsigned gz;
    unsigned classes;
    bt_status status;
    const char *says[BT_TEST_SAYS_MAX];
    bool no_out; /* pass NULL for out */
} load_case;

#define FORMAT BT_ERR_FORMAT
#define ARGUMENT BT_ERR_INVALID_ARGUMENT
#define FN "bt_dataset_load_idx"

static const load_case load_cases[] = {
    {"load_idx_label_out_of_range", IMAGES, LABELS_OUT_OF_RANGE, GZ_EITHER, CLASSES, FORMAT,
     .says = {"{labels}", "label {bad_label} at index {bad_index} is out of range"}},
    /* The same labels are fine with enough classes. */
    {"load_idx_label_in_range_of_256", IMAGES, LABELS_OUT_OF_RANGE, GZ_EITHER, 256, BT_OK,
     .says = {NULL}},
    {"load_idx_count_mismatch", IMAGES_OTHER_COUNT, LABELS, GZ_LABELS, CLASSES, FORMAT,
     .says = {"{images}", "{labels}", "has {image_count} images", "has {label_count} labels"}},
    {"load_idx_labels_as_images", LABELS, IMAGES, 0, CLASSES, FORMAT,
     .says = {"{images}", "expected an image file with 3 dimensions, found 1"}},
    {"load_idx_images_as_labels", IMAGES, IMAGES, 0, CLASSES, FORMAT,
     .says = {"{labels}", "expected a label file with 1 dimension, found 3"}},
    /* Errors of the parser and reader come through with the file's name. */
    {"load_idx_truncated_images", IMAGES_CUT, LABELS, GZ_IMAGES | GZ_LABELS, CLASSES, FORMAT,
     .says = {"{images}", "truncated"}},
    {"load_idx_truncated_images_empty_labels", IMAGES_CUT, EMPTY, GZ_IMAGES, CLASSES, FORMAT,
     .says = {"{images}", "truncated"}},
    {"load_idx_empty_labels", IMAGES, EMPTY, 0, CLASSES, FORMAT,
     .says = {"{labels}", "is empty"}},
    {"load_idx_zero_classes", IMAGES, LABELS, GZ_LABELS, 0, ARGUMENT,
     .says = {FN, "classes is 0"}},
    {"load_idx_null_images_path", NO_FILE, LABELS, GZ_LABELS, CLASSES, ARGUMENT,
     .says = {FN, "images_path is NULL"}},
    {"load_idx_null_labels_path", IMAGES, NO_FILE, 0, CLASSES, ARGUMENT,
     .says = {FN, "labels_path is NULL"}},
    {"load_idx_null_out", IMAGES, LABELS, GZ_LABELS, CLASSES, ARGUMENT,
     .says = {FN, "out is NULL"}, .no_out = true},
};

/* Writes "<dir>/<name>" holding `kind` made from `p` (or `other`, of another count); returns the
 * malloc'ed path, or NULL for NO_FILE. */
static char *write_idx_file(const char *dir, const char *name, idx_file kind, bool gz,
                            const part *p, const part *other)
{
    switch (kind) {
    case NO_FILE:
        return NULL;
    case IMAGES:
        return write_images(dir, name, gz, p);
    case IMAGES_CUT: {
        uint32_t dims[3] = {(uint32_t)p->count, (uint32_t)p->rows, (uint32_t)p->cols};
        return bt_test_write_idx(dir, name, gz, 3, dims, p->pixels,
                                 p->count * p->rows * p->cols - 1);
    }
    case IMAGES_OTHER_COUNT:
        return write_images(dir, name, gz, other);
    case LABELS:
    case LABELS_OUT_OF_RANGE: /* the caller has put one of p's labels out of range */
        return write_labels(dir, name, gz, p);
    case EMPTY:
        break;
    }
    char *path = bt_test_path(dir, name);
    bt_test_write_file(path, "", 0);
    return path;
}

static void run_load_case(void **state)
{
    const load_case *c = *state;
    bt_test_rng rng = bt_test_rng_for(c->name);
    size_t rows = bt_test_rng_range(&rng, 1, 4), cols = bt_test_rng_range(&rng, 1, 4);
    part p = make_part(&rng, bt_test_rng_range(&rng, 1, 50), rows, cols);
    size_t bad_index = bt_test_rng_range(&rng, 0, p.count - 1);
    unsigned bad_label = (unsigned)bt_test_rng_range(&rng, CLASSES, 255);
    if (c->labels == LABELS_OUT_OF_RANGE)
        p.labels[bad_index] = (uint8_t)bad_label;
    size_t other_count = p.count > 1 && bt_test_rng_next(&rng) & 1u
                             ? bt_test_rng_range(&rng, 1, p.count - 1)
                             : p.count + bt_test_rng_range(&rng, 1, 10);
    part other = make_part(&rng, other_count, rows, cols);
    unsigned gz = c->gz;
    if (gz & GZ_EITHER)
        gz = bt_test_rng_next(&rng) & 1u ? GZ_IMAGES | GZ_LABELS : 0;

    char *dir = new_dir();
    char *images = write_idx_file(dir, "images", c->images, gz & GZ_IMAGES, &p, &other);
    char *labels = write_idx_file(dir, "labels", c->labels, gz & GZ_LABELS, &p, &other);
    bt_dataset *d = SENTINEL;
    bt_status got = bt_dataset_load_idx(images, labels, c->classes, c->no_out ? NULL : &d);
    const bt_test_var vars[] = {
        {"images", images, 0},
        {"labels", labels, 0},
        {"image_count", NULL, c->images == IMAGES_OTHER_COUNT ? other.count : p.count},
        {"label_count", NULL, p.count},
        {"bad_label", NULL, bad_label},
        {"bad_index", NULL, bad_index},
    };
    bt_test_assert_says(got, c->status, NULL, c->says, vars, sizeof vars / sizeof vars[0]);
    if (c->status == BT_OK) {
        assert_int_equal(bt_dataset_count(d), p.count);
        assert_int_equal(bt_dataset_classes(d), c->classes);
        bt_dataset_destroy(d);
    } else if (!c->no_out) {
        assert_null(d);
    }
    free(images);
    free(labels);
    remove_dir(dir);
    free_part(&p);
    free_part(&other);
}

/* ------------------------------------------------------------------------------------------ */
/* Memory datasets and slices */

static void slice_copies_range(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    part p = make_part(&rng, bt_test_rng_range(&rng, 1, 100), 3, 5);
    bt_dataset *full = NULL;
    BT_ASSERT_OK(bt_dataset_create_from_memory(p.pixels, p.labels, p.count, 15, CLASSES, &full));
    assert_dataset_is(full, &p, 0, p.count);
    /* The dataset holds copies: changing the source afterwards changes nothing. */
    p.pixels[0] ^= 0xFF;
    assert_int_not_equal(bt_dataset_pixels(full)[0], p.pixels[0]);
    p.pixels[0] ^= 0xFF;
    for (int round = 0; round < 10; ++round) {
        size_t first = bt_test_rng_range(&rng, 0, p.count - 1);
        size_t count = bt_test_rng_range(&rng, 1, p.count - first);
        bt_dataset *slice = NULL;
        BT_ASSERT_OK(bt_dataset_slice(full, first, count, &slice));
        assert_dataset_is(slice, &p, first, count);
        bt_dataset_destroy(slice);
    }
    bt_dataset_destroy(full);
    free_part(&p);
}

static void slice_out_of_range(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    part p = make_part(&rng, bt_test_rng_range(&rng, 1, 50), 2, 2);
    bt_dataset *full = NULL;
    BT_ASSERT_OK(bt_dataset_create_from_memory(p.pixels, p.labels, p.count, 4, CLASSES, &full));
    const size_t bad[][2] = {
        {0, p.count + 1},
        {p.count, 1},
        {p.count + 1, 1},
        {1, p.count},
        {SIZE_MAX, 2},     /* first + count wraps to 1 */
        {2, SIZE_MAX - 1}, /* likewise */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        bt_dataset *slice = SENTINEL;
        bt_test_assert_failure(bt_dataset_slice(full, bad[i][0], bad[i][1], &slice),
                       BT_ERR_INVALID_ARGUMENT, "bt_dataset_slice", "outside the dataset");
        assert_null(slice);
    }
    bt_dataset *slice = SENTINEL;
    bt_test_assert_failure(bt_dataset_slice(full, 0, 0, &slice), BT_ERR_INVALID_ARGUMENT,
                   "bt_dataset_slice", "count is 0");
    assert_null(slice);
    bt_test_assert_failure(bt_dataset_slice(NULL, 0, 1, &slice), BT_ERR_INVALID_ARGUMENT,
                   "bt_dataset_slice", "src is NULL");
    bt_test_assert_failure(bt_dataset_slice(full, 0, 1, NULL), BT_ERR_INVALID_ARGUMENT,
                   "bt_dataset_slice", "out is NULL");
    bt_dataset_destroy(full);
    free_part(&p);
}

static void create_from_memory_errors(void **state)
{
    (void)state;
    bt_test_rng rng = BT_TEST_RNG();
    part p = make_part(&rng, 8, 2, 2);
    const char *fn = "bt_dataset_create_from_memory";
    bt_dataset *d = SENTINEL;
    bt_test_assert_failure(bt_dataset_create_from_memory(NULL, p.labels, 8, 4, CLASSES, &d),
                   BT_ERR_INVALID_ARGUMENT, fn, "pixels is NULL");
    assert_null(d);
    bt_test_assert_failure(bt_dataset_create_from_memory(p.pixels, NULL, 8, 4, CLASSES, &d),
                   BT_ERR_INVALID_ARGUMENT, fn, "labels is NULL");
    bt_test_assert_failure(bt_dataset_create_from_memory(p.pixels, p.labels, 0, 4, CLASSES, &d),
                   BT_ERR_INVALID_ARGUMENT, fn, "must all be above 0");
    bt_test_assert_failure(bt_dataset_create_from_memory(p.pixels, p.labels, 8, 0, CLASSES, &d),
                   BT_ERR_INVALID_ARGUMENT, fn, "must all be above 0");
    bt_test_assert_failure(bt_dataset_create_from_memory(p.pixels, p.labels, 8, 4, 0, &d),
                   BT_ERR_INVALID_ARGUMENT, fn, "must all be above 0");
    bt_test_assert_failure(bt_dataset_create_from_memory(p.pixels, p.labels, SIZE_MAX / 2 + 1, 2, CLASSES,
                                                 &d),
                   BT_ERR_INVALID_ARGUMENT, fn, "overflows");
    assert_null(d);
    for (size_t i = 0; i < 8; ++i)
        p.labels[i] = (uint8_t)(i % 3);
    size_t bad_index = bt_test_rng_range(&rng, 0, 7);
    p.labels[bad_index] = (uint8_t)bt_test_rng_range(&rng, 3, 255);
    char phrase[64];
    snprintf(phrase, sizeof phrase, "label %u at index %zu", p.labels[bad_index], bad_index);
    bt_test_assert_failure(bt_dataset_create_from_memory(p.pixels, p.labels, 8, 4, 3, &d),
                   BT_ERR_INVALID_ARGUMENT, fn, phrase);
    assert_null(d);
    bt_test_assert_failure(bt_dataset_create_from_memory(p.pixels, p.labels, 8, 4, 3, NULL),
                   BT_ERR_INVALID_ARGUMENT, fn, "out is NULL");
    free_part(&p);
}

static void null_dataset_is_harmless(void **state)
{
    (void)state;
    bt_dataset_destroy(NULL);
    assert_int_equal(bt_dataset_count(NULL), 0);
    assert_int_equal(bt_dataset_features(NULL), 0);
    assert_int_equal(bt_dataset_classes(NULL), 0);
    assert_null(bt_dataset_pixels(NULL));
    assert_null(bt_dataset_labels(NULL));
}

/* ------------------------------------------------------------------------------------------ */
/* The real data, where Debian's dataset-fashion-mnist is installed */

static void fashion_mnist_installed(void **state)
{
    (void)state;
    struct stat st;
    if (stat(BT_DEFAULT_DATA_DIR, &st) != 0) {
        print_message("%s not found (install dataset-fashion-mnist): skipped\n",
                      BT_DEFAULT_DATA_DIR);
        skip();
    }
    bt_dataset *tr = NULL, *va = NULL, *te = NULL;
    BT_ASSERT_OK(bt_dataset_load_mnist_dir(BT_DEFAULT_DATA_DIR, BT_DEFAULT_VALIDATION_COUNT, &tr,
                                           &va, &te));
    const bt_dataset *parts[3] = {tr, va, te};
    const size_t counts[3] = {50000, 10000, 10000};
    for (int i = 0; i < 3; ++i) {
        assert_int_equal(bt_dataset_count(parts[i]), counts[i]);
        assert_int_equal(bt_dataset_features(parts[i]), 784);
        assert_int_equal(bt_dataset_classes(parts[i]), 10);
        size_t per_class[10] = {0};
        for (size_t j = 0; j < counts[i]; ++j) {
            assert_in_range(bt_dataset_labels(parts[i])[j], 0, 9);
            per_class[bt_dataset_labels(parts[i])[j]]++;
        }
        /* Fashion-MNIST is balanced: no class is missing from any part. */
        for (int c = 0; c < 10; ++c)
            assert_true(per_class[c] > 0);
    }
    bt_dataset_destroy(tr);
    bt_dataset_destroy(va);
    bt_dataset_destroy(te);
}

int main(void)
{
    bt_test_seed();
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(mnist_dir_split),
        cmocka_unit_test(mnist_dir_parts_optional),
        cmocka_unit_test(mnist_dir_test_only),
        cmocka_unit_test(mnist_dir_prefers_raw),
        cmocka_unit_test(mnist_dir_missing_files),
        cmocka_unit_test(mnist_dir_bad_validation_count),
        cmocka_unit_test(slice_copies_range),
        cmocka_unit_test(slice_out_of_range),
        cmocka_unit_test(create_from_memory_errors),
        cmocka_unit_test(null_dataset_is_harmless),
        cmocka_unit_test(fashion_mnist_installed),
    };
    struct CMUnitTest tests[BT_TEST_COUNT(fixed) + BT_TEST_COUNT(load_cases)];
    memcpy(tests, fixed, sizeof fixed);
    size_t n = BT_TEST_COUNT(fixed);
    BT_TEST_ADD_ROWS(tests, n, load_cases, run_load_case);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
