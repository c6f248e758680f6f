/* Datasets of uint8 images and labels: loading MNIST-format IDX files, copying and slicing. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "batchtune.h"
#include "common/error.h"
#include "data/idx.h"

/* Far above Fashion-MNIST's 47 MB training images, far below a size worth reading by mistake. */
#define DATASET_MAX_FILE_BYTES ((size_t)1 << 30)
#define MNIST_CLASSES 10u

#define MNIST_TRAIN_IMAGES "train-images-idx3-ubyte"
#define MNIST_TRAIN_LABELS "train-labels-idx1-ubyte"
#define MNIST_TEST_IMAGES "t10k-images-idx3-ubyte"
#define MNIST_TEST_LABELS "t10k-labels-idx1-ubyte"

struct bt_dataset {
    size_t count;
    size_t features;  /* bytes per example */
    unsigned classes; /* every label is below this */
    uint8_t *pixels;  /* count * features bytes, example-major; owned */
    uint8_t *labels;  /* count bytes; owned */
};

void bt_dataset_destroy(bt_dataset *dataset)
{
    if (!dataset)
        return;
    free(dataset->pixels);
    free(dataset->labels);
    free(dataset);
}

size_t bt_dataset_count(const bt_dataset *dataset) { return dataset ? dataset->count : 0; }
size_t bt_dataset_features(const bt_dataset *dataset) { return dataset ? dataset->features : 0; }
unsigned bt_dataset_classes(const bt_dataset *dataset) { return dataset ? dataset->classes : 0; }
const uint8_t *bt_dataset_pixels(const bt_dataset *dataset)
{
    return dataset ? dataset->pixels : NULL;
}
const uint8_t *bt_dataset_labels(const bt_dataset *dataset)
{
    return dataset ? dataset->labels : NULL;
}

/* Gives back the unused tail of a block; keeps the larger block if that fails. */
static uint8_t *shrink_block(uint8_t *block, size_t bytes)
{
    uint8_t *smaller = realloc(block, bytes);
    if (!smaller)
        return block;
    return smaller;
}

/* An uninitialised dataset of the given shape; the caller has checked count * features. */
static bt_status dataset_alloc(size_t count, size_t features, unsigned classes, bt_dataset **out)
{
    bt_dataset *dataset = calloc(1, sizeof *dataset);
    if (!dataset)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "cannot allocate a dataset");
    dataset->pixels = malloc(count * features);
    dataset->labels = malloc(count);
    if (!dataset->pixels || !dataset->labels) {
        bt_dataset_destroy(dataset);
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY,
                       "cannot allocate a dataset of %zu examples x %zu bytes", count, features);
    }
    dataset->count = count;
    dataset->features = features;
    dataset->classes = classes;
    *out = dataset;
    return BT_OK;
}

/* Returns the index of the first label >= classes, or count when all are in range. */
static size_t find_bad_label(const uint8_t *labels, size_t count, unsigned classes)
{
    for (size_t i = 0; i < count; ++i)
        if (labels[i] >= classes)
            return i;
    return count;
}

bt_status bt_dataset_create_from_memory(const uint8_t *pixels, const uint8_t *labels,
                                        size_t count, size_t features, unsigned classes,
                                        bt_dataset **out)
{
    if (!out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_dataset_create_from_memory: out is NULL");
    *out = NULL;
    if (!pixels || !labels)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "bt_dataset_create_from_memory: %s is NULL", !pixels ? "pixels" : "labels");
    if (count == 0 || features == 0 || classes == 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "bt_dataset_create_from_memory: count (%zu), features (%zu) and classes "
                       "(%u) must all be above 0",
                       count, features, classes);
    if (count > SIZE_MAX / features)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "bt_dataset_create_from_memory: %zu examples x %zu features overflows the "
                       "address space",
                       count, features);
    size_t bad = find_bad_label(labels, count, classes);
    if (bad < count)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "bt_dataset_create_from_memory: label %u at index %zu is out of range, "
                       "expected 0..%u for %u classes",
                       labels[bad], bad, classes - 1, classes);
    bt_dataset *dataset = NULL;
    BT_TRY(dataset_alloc(count, features, classes, &dataset));
    memcpy(dataset->pixels, pixels, count * features);
    memcpy(dataset->labels, labels, count);
    *out = dataset;
    return BT_OK;
}

bt_status bt_dataset_slice(const bt_dataset *src, size_t first, size_t count, bt_dataset **out)
{
    if (!out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_dataset_slice: out is NULL");
    *out = NULL;
    if (!src)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_dataset_slice: src is NULL");
    if (count == 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "bt_dataset_slice: count is 0; a dataset holds at least one example");
    /* Written so that first + count cannot wrap. */
    if (first > src->count || count > src->count - first)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "bt_dataset_slice: examples [%zu, %zu + %zu) are outside the dataset's "
                       "%zu examples",
                       first, first, count, src->count);
    bt_dataset *dataset = NULL;
    BT_TRY(dataset_alloc(count, src->features, src->classes, &dataset));
    memcpy(dataset->pixels, src->pixels + first * src->features, count * src->features);
    memcpy(dataset->labels, src->labels + first, count);
    *out = dataset;
    return BT_OK;
}

/* One IDX file read and parsed; `idx.data` points into `buf`, which the caller frees. */
typedef struct idx_file {
    const char *path;
    uint8_t *buf;
    bt_idx idx;
} idx_file;

static bt_status idx_file_load(const char *path, unsigned want_ndims, const char *kind,
                               idx_file *file)
{
    file->path = path;
    size_t len = 0;
    BT_TRY(bt_idx_read_file(path, DATASET_MAX_FILE_BYTES, &file->buf, &len));
    BT_TRY(bt_idx_parse(file->buf, len, path, &file->idx));
    if (file->idx.ndims != want_ndims)
        return bt_fail(BT_ERR_FORMAT,
                       "%s: expected %s file with %u dimension%s, found %u; were the image and "
                       "label files swapped?",
                       path, kind, want_ndims, want_ndims == 1 ? "" : "s", file->idx.ndims);
    return BT_OK;
}

static bt_status check_pair(const idx_file *images, const idx_file *labels, unsigned classes)
{
    uint32_t image_count = images->idx.dims[0];
    uint32_t label_count = labels->idx.dims[0];
    if (image_count != label_count)
        return bt_fail(BT_ERR_FORMAT,
                       "%s has %lu images but %s has %lu labels; the files do not belong "
                       "together",
                       images->path, (unsigned long)image_count, labels->path,
                       (unsigned long)label_count);
    size_t bad = find_bad_label(labels->idx.data, label_count, classes);
    if (bad < label_count)
        return bt_fail(BT_ERR_FORMAT,
                       "%s: label %u at index %zu is out of range, expected 0..%u for %u classes",
                       labels->path, labels->idx.data[bad], bad, classes - 1, classes);
    return BT_OK;
}

/* Moves a file's data to the front of its buffer and hands the buffer over, instead of copying:
 * the training images are the largest allocation of a run. */
static uint8_t *take_payload(idx_file *file)
{
    memmove(file->buf, file->idx.data, file->idx.count);
    uint8_t *payload = shrink_block(file->buf, file->idx.count);
    file->buf = NULL;
    return payload;
}

static bt_status dataset_adopt(idx_file *images, idx_file *labels, unsigned classes,
                               bt_dataset **out)
{
    bt_dataset *dataset = calloc(1, sizeof *dataset);
    if (!dataset)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "%s: cannot allocate the dataset",
                       images->path);
    dataset->count = images->idx.dims[0];
    dataset->features = (size_t)images->idx.dims[1] * images->idx.dims[2];
    dataset->classes = classes;
    dataset->pixels = take_payload(images);
    dataset->labels = take_payload(labels);
    *out = dataset;
    return BT_OK;
}

static bt_status load_pair(const char *images_path, const char *labels_path, unsigned classes,
                           idx_file *images, idx_file *labels, bt_dataset **out)
{
    BT_TRY(idx_file_load(images_path, 3, "an image", images));
    BT_TRY(idx_file_load(labels_path, 1, "a label", labels));
    BT_TRY(check_pair(images, labels, classes));
    return dataset_adopt(images, labels, classes, out);
}

bt_status bt_dataset_load_idx(const char *images_path, const char *labels_path,
                              unsigned classes, bt_dataset **out)
{
    if (!out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_dataset_load_idx: out is NULL");
    *out = NULL;
    if (!images_path || !labels_path)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_dataset_load_idx: %s is NULL",
                       !images_path ? "images_path" : "labels_path");
    if (classes == 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_dataset_load_idx: classes is 0");
    idx_file images = {0};
    idx_file labels = {0};
    bt_status status = load_pair(images_path, labels_path, classes, &images, &labels, out);
    free(images.buf);
    free(labels.buf);
    return status;
}

/* "<dir>/<name>" and "<dir>/<name>.gz", malloc'ed. */
static bt_status make_candidate_paths(const char *dir, const char *name, char **raw, char **gz)
{
    size_t size = strlen(dir) + 1 + strlen(name) + sizeof ".gz";
    char *raw_path = malloc(size);
    char *gz_path = malloc(size);
    if (!raw_path || !gz_path) {
        free(raw_path);
        free(gz_path);
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "cannot allocate a path under %s", dir);
    }
    snprintf(raw_path, size, "%s/%s", dir, name);
    snprintf(gz_path, size, "%s/%s.gz", dir, name);
    *raw = raw_path;
    *gz = gz_path;
    return BT_OK;
}

/* The raw file if it exists, else the .gz one; *path is malloc'ed. */
static bt_status find_mnist_file(const char *dir, const char *name, char **path)
{
    char *raw = NULL;
    char *gz = NULL;
    BT_TRY(make_candidate_paths(dir, name, &raw, &gz));
    struct stat st;
    if (stat(raw, &st) == 0) {
        free(gz);
        *path = raw;
        return BT_OK;
    }
    int raw_errno = errno; /* says why better than the .gz path's: e.g. no such folder */
    if (stat(gz, &st) == 0) {
        free(raw);
        *path = gz;
        return BT_OK;
    }
    bt_status status = bt_fail(BT_ERR_IO,
                               "%s: cannot find %s: tried %s and %s (%s); install "
                               "dataset-fashion-mnist or pass --data DIR",
                               dir, name, raw, gz, strerror(raw_errno));
    free(raw);
    free(gz);
    return status;
}

static bt_status load_mnist_pair(const char *dir, const char *images_name,
                                 const char *labels_name, bt_dataset **out)
{
    char *images_path = NULL;
    char *labels_path = NULL;
    bt_status status = find_mnist_file(dir, images_name, &images_path);
    if (status == BT_OK)
        status = find_mnist_file(dir, labels_name, &labels_path);
    if (status == BT_OK)
        status = bt_dataset_load_idx(images_path, labels_path, MNIST_CLASSES, out);
    free(images_path);
    free(labels_path);
    return status;
}

/* Cuts `full` in two: *train keeps the first examples (the same block, shrunk), *validation
 * gets a copy of the last validation_count. `full` is consumed either way. */
static bt_status split_train(bt_dataset *full, size_t validation_count, const char *dir,
                             bt_dataset **train, bt_dataset **validation)
{
    if (validation_count >= full->count) {
        size_t count = full->count;
        bt_dataset_destroy(full);
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "%s: validation_count %zu leaves no training examples: the training file "
                       "holds only %zu; choose a validation count below %zu",
                       dir, validation_count, count, count);
    }
    size_t train_count = full->count - validation_count;
    if (validation) {
        bt_status status = bt_dataset_slice(full, train_count, validation_count, validation);
        if (status != BT_OK) {
            bt_dataset_destroy(full);
            return status;
        }
    }
    full->count = train_count;
    full->pixels = shrink_block(full->pixels, train_count * full->features);
    full->labels = shrink_block(full->labels, train_count);
    if (train)
        *train = full;
    else
        bt_dataset_destroy(full);
    return BT_OK;
}

static bt_status check_mnist_args(const char *dir, size_t validation_count, bool want_validation)
{
    if (!dir)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "bt_dataset_load_mnist_dir: dir is NULL (the default folder is %s)",
                       BT_DEFAULT_DATA_DIR);
    if (want_validation && validation_count == 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "bt_dataset_load_mnist_dir: a validation set was asked for but "
                       "validation_count is 0; pass a count above 0 or validation = NULL");
    return BT_OK;
}

static bt_status load_mnist_train(const char *dir, size_t validation_count, bt_dataset **train,
                                  bt_dataset **validation)
{
    bt_dataset *full = NULL;
    BT_TRY(load_mnist_pair(dir, MNIST_TRAIN_IMAGES, MNIST_TRAIN_LABELS, &full));
    return split_train(full, validation_count, dir, train, validation);
}

bt_status bt_dataset_load_mnist_dir(const char *dir, size_t validation_count, bt_dataset **train,
                                    bt_dataset **validation, bt_dataset **test)
{
    if (train)
        *train = NULL;
    if (validation)
        *validation = NULL;
    if (test)
        *test = NULL;
    BT_TRY(check_mnist_args(dir, validation_count, validation != NULL));
    bt_dataset *train_part = NULL;
    bt_dataset *validation_part = NULL;
    bt_dataset *test_part = NULL;
    bt_status status = BT_OK;
    if (train || validation)
        status = load_mnist_train(dir, validation_count, train ? &train_part : NULL,
                                  validation ? &validation_part : NULL);
    if (status == BT_OK && test)
        status = load_mnist_pair(dir, MNIST_TEST_IMAGES, MNIST_TEST_LABELS, &test_part);
    if (status != BT_OK) {
        bt_dataset_destroy(train_part);
        bt_dataset_destroy(validation_part);
        bt_dataset_destroy(test_part);
        return status;
    }
    if (train)
        *train = train_part;
    if (validation)
        *validation = validation_part;
    if (test)
        *test = test_part;
    return BT_OK;
}
