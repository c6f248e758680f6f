/*
 * batchtune: mini-batch gradients of fully-connected networks on any OpenCL device, and a tuner
 * that finds the batch size whose validation accuracy rises fastest in wall-clock time.
 *
 * Conventions used throughout this header:
 * - Every function that can fail returns a bt_status. On failure bt_last_error() holds a message
 *   a user can act on (the failing call, the OpenCL or CLBlast code by name, a build log).
 * - Constructors are `bt_status bt_X_create(..., bt_X **out)`; *out is NULL on failure. The caller
 *   owns what it creates and releases it with bt_X_destroy(), which accepts NULL.
 * - Matrices are row-major float32 unless stated otherwise.
 * - The library never prints, never exits, and reads only two environment variables:
 *   BATCHTUNE_DEVICE (device selection when no selector is given) and XDG_CACHE_HOME / HOME (the
 *   default program-binary cache folder).
 */
#ifndef BATCHTUNE_H
#define BATCHTUNE_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batchtune_export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BT_VERSION_MAJOR 0
#define BT_VERSION_MINOR 1
#define BT_VERSION_PATCH 0
#define BT_VERSION_STRING "0.1.0"

/* Library version string ("0.1.0"); differs from BT_VERSION_STRING only if header and library
 * were built apart. */
BT_API const char *bt_version(void);

/* ---------------------------------------------------------------------------------------------
 * Status codes and errors
 * ------------------------------------------------------------------------------------------- */

/* One list makes both the enum and bt_status_str(), so the two cannot drift apart. */
#define BT_STATUS_LIST(X)                                                                      \
    X(BT_OK, "success")                                                                        \
    X(BT_ERR_INVALID_ARGUMENT, "invalid argument")                                             \
    X(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory")                                         \
    X(BT_ERR_NO_PLATFORM, "no OpenCL platform found")                                          \
    X(BT_ERR_NO_DEVICE, "no matching OpenCL device")                                           \
    X(BT_ERR_OPENCL, "OpenCL call failed")                                                     \
    X(BT_ERR_DEVICE_MEMORY, "device memory allocation failed or exceeds the device's limits")  \
    X(BT_ERR_BUILD, "OpenCL program build failed")                                             \
    X(BT_ERR_CLBLAST, "CLBlast call failed")                                                   \
    X(BT_ERR_IO, "file input/output failed")                                                   \
    X(BT_ERR_FORMAT, "malformed input file")                                                   \
    X(BT_ERR_UNSUPPORTED, "not supported by this device or build")                             \
    X(BT_ERR_INTERRUPTED, "interrupted")

typedef enum bt_status {
#define BT_STATUS_ENUM_(name, text) name,
    BT_STATUS_LIST(BT_STATUS_ENUM_)
#undef BT_STATUS_ENUM_
        BT_STATUS_COUNT_
} bt_status;

/* Static text for a status ("invalid argument"); "unknown status" for values out of range. */
BT_API const char *bt_status_str(bt_status status);

/* The name of a status ("BT_ERR_BUILD"). */
BT_API const char *bt_status_name(bt_status status);

/* Message of the last failure in the calling thread. Never NULL; "" if nothing failed yet. The
 * text stays valid until the next failing call in this thread. */
BT_API const char *bt_last_error(void);

/* Forget the last error of the calling thread. */
BT_API void bt_clear_error(void);

/* ---------------------------------------------------------------------------------------------
 * Devices
 * ------------------------------------------------------------------------------------------- */

typedef enum bt_device_type {
    BT_DEVICE_GPU,
    BT_DEVICE_CPU,
    BT_DEVICE_ACCELERATOR,
    BT_DEVICE_OTHER,
} bt_device_type;

/* "gpu", "cpu", "accelerator" or "other". */
BT_API const char *bt_device_type_str(bt_device_type type);

typedef struct bt_device_info {
    size_t index;          /* position in the list of all devices of all platforms */
    size_t platform_index; /* position of the platform among all platforms */
    size_t platform_device_index; /* position of the device within its platform */
    char platform_name[128];
    char platform_vendor[128];
    char name[128];
    char vendor[128];
    char driver_version[64];
    char device_version[128];    /* e.g. "OpenCL 3.0 PoCL ..." */
    char opencl_c_version[64];   /* e.g. "OpenCL C 1.2 PoCL" */
    bt_device_type type;
    uint32_t compute_units;
    uint64_t global_mem_bytes;
    uint64_t max_alloc_bytes;
    size_t max_work_group_size;
    bool fp16;
    bool fp64;
} bt_device_info;

/* Every device of every OpenCL platform, in platform order. *out is an array the caller frees with
 * bt_device_list_free(). Platforms that fail to report devices are skipped; if there is no
 * platform at all the status is BT_ERR_NO_PLATFORM. */
BT_API bt_status bt_device_list(bt_device_info **out, size_t *count);
BT_API void bt_device_list_free(bt_device_info *list);

/* Resolve a selector against a device list, setting *index to the chosen entry.
 * Selector forms:
 *   NULL or ""          the first GPU, else the first device
 *   "3"                 the device with that global index
 *   "1:0"               platform index : device index within that platform
 *   "gpu" "cpu" "accelerator"  the first device of that type
 *   any other text      the first device whose "platform name + device name" contains it
 *                       (case-insensitive)
 * An unknown selector is BT_ERR_NO_DEVICE with a message listing the devices that exist. */
BT_API bt_status bt_device_select(const bt_device_info *list, size_t count, const char *selector,
                                  size_t *index);

typedef struct bt_device bt_device;

typedef struct bt_device_opts {
    /* Device selector (see bt_device_select). NULL: BATCHTUNE_DEVICE if set, else the default. */
    const char *selector;
    /* Folder for cached program binaries. NULL: $XDG_CACHE_HOME/batchtune, else
     * $HOME/.cache/batchtune. */
    const char *cache_dir;
    /* false: never read or write cached program binaries. */
    bool use_program_cache;
    /* Folder of .cl files that replace the embedded kernel sources of the same name (for kernel
     * development). NULL: use the embedded sources. */
    const char *kernel_dir;
} bt_device_opts;

BT_API bt_device_opts bt_device_opts_default(void);

/* Open the selected device: context and an in-order queue with profiling enabled. */
BT_API bt_status bt_device_create(const bt_device_opts *opts, bt_device **out);

/* Waits for the device's queue to drain, then releases everything the device owns. The caller must
 * have destroyed the buffers, programs and networks created on it. */
BT_API void bt_device_destroy(bt_device *device);

BT_API const bt_device_info *bt_device_get_info(const bt_device *device);

/* The OpenCL objects, for callers that enqueue their own work. Owned by the device. */
BT_API cl_context bt_device_cl_context(const bt_device *device);
BT_API cl_device_id bt_device_cl_device(const bt_device *device);
BT_API cl_command_queue bt_device_cl_queue(const bt_device *device);

/* Block until every command enqueued on the device's queue has finished. */
BT_API bt_status bt_device_finish(bt_device *device);

/* Bytes of device memory currently held through bt_buffer_create on this device. */
BT_API uint64_t bt_device_allocated_bytes(const bt_device *device);

/* ---------------------------------------------------------------------------------------------
 * Buffers
 * ------------------------------------------------------------------------------------------- */

typedef struct bt_buffer bt_buffer;

/* Allocate `bytes` of device memory. Requests above the device's largest allocation, or that would
 * take the device's tracked total past its global memory, fail with BT_ERR_DEVICE_MEMORY and a
 * message giving the sizes; nothing is allocated then. */
BT_API bt_status bt_buffer_create(bt_device *device, size_t bytes, bt_buffer **out);
BT_API void bt_buffer_destroy(bt_buffer *buffer);

BT_API size_t bt_buffer_size(const bt_buffer *buffer);
BT_API cl_mem bt_buffer_cl_mem(const bt_buffer *buffer);

/* Copy between host and device memory. Blocking: the host memory may be reused on return. */
BT_API bt_status bt_buffer_write(bt_buffer *buffer, size_t offset, const void *src, size_t bytes);
BT_API bt_status bt_buffer_read(const bt_buffer *buffer, size_t offset, void *dst, size_t bytes);

/* Fill the first `count` floats starting at float index `offset` with `value`. Non-blocking. */
BT_API bt_status bt_buffer_fill_float(bt_buffer *buffer, size_t offset, size_t count, float value);

/* ---------------------------------------------------------------------------------------------
 * Programs (OpenCL C compiled for a device, cached on disk)
 * ------------------------------------------------------------------------------------------- */

typedef struct bt_program bt_program;

typedef struct bt_program_build_info {
    double seconds;     /* wall-clock time of the whole build, cache look-up included */
    bool from_cache;    /* true: the binary came from the on-disk cache */
    bool cache_rejected; /* true: a cache file existed but was corrupt or unusable, and was rebuilt */
} bt_program_build_info;

/* Names of the kernel sources embedded in the library (the files of cl/), NULL-terminated. */
BT_API const char *const *bt_kernel_source_names(void);

/* Build one embedded source (e.g. "activation.cl") for the device, or the same-named file of
 * opts.kernel_dir when that was given. `info` may be NULL. */
BT_API bt_status bt_program_create(bt_device *device, const char *source_name,
                                   const char *build_options, bt_program **out,
                                   bt_program_build_info *info);

/* Build OpenCL C source text. `name` only labels messages. On a compile error the status is
 * BT_ERR_BUILD and bt_last_error() contains the full build log. */
BT_API bt_status bt_program_create_from_source(bt_device *device, const char *name,
                                               const char *source, const char *build_options,
                                               bt_program **out, bt_program_build_info *info);
BT_API void bt_program_destroy(bt_program *program);

/* A new kernel object of the program; the caller releases it with clReleaseKernel. */
BT_API bt_status bt_program_create_kernel(const bt_program *program, const char *kernel_name,
                                          cl_kernel *out);

/* ---------------------------------------------------------------------------------------------
 * GEMM (CLBlast)
 * ------------------------------------------------------------------------------------------- */

typedef enum bt_transpose {
    BT_NO_TRANS,
    BT_TRANS,
} bt_transpose;

/* C <- alpha * op(A) * op(B) + beta * C, row-major, op(A) is m x k, op(B) is k x n, C is m x n.
 * Offsets and leading dimensions are in floats. The call is enqueued on the device's queue and
 * returns without waiting. If `event` is not NULL it receives the event of the GEMM (the caller
 * releases it with clReleaseEvent), for profiling. The first call of each transpose combination
 * compiles CLBlast's kernels (seconds): call bt_gemm_warmup() before timing anything. */
BT_API bt_status bt_gemm(bt_device *device, bt_transpose trans_a, bt_transpose trans_b, size_t m,
                         size_t n, size_t k, float alpha, const bt_buffer *a, size_t a_offset,
                         size_t lda, const bt_buffer *b, size_t b_offset, size_t ldb, float beta,
                         bt_buffer *c, size_t c_offset, size_t ldc, cl_event *event);

typedef struct bt_gemm_shape {
    bt_transpose trans_a, trans_b;
    size_t m, n, k;
} bt_gemm_shape;

/* Run each shape once (on scratch buffers) and wait, so that CLBlast compiles every kernel those
 * shapes need before anything is timed. shapes == NULL: all four transpose combinations at a
 * small and a large size. */
BT_API bt_status bt_gemm_warmup(bt_device *device, const bt_gemm_shape *shapes, size_t count);

/* ---------------------------------------------------------------------------------------------
 * Datasets (MNIST-format IDX files)
 * ------------------------------------------------------------------------------------------- */

/* The default data folder: Debian's dataset-fashion-mnist package. */
#define BT_DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"
/* The book's split: the last 10,000 images of the training file are the validation set. */
#define BT_DEFAULT_VALIDATION_COUNT 10000

/* Images of uint8 pixels (one row of rows*cols bytes per example) with labels 0..classes-1. */
typedef struct bt_dataset bt_dataset;

/* Read an IDX3 ubyte image file and an IDX1 ubyte label file, raw or gzip-compressed. Labels must
 * be below `classes`. Malformed input (missing or empty file, wrong magic, truncated data,
 * dimensions that overflow or exceed the file, a label out of range, image/label count mismatch, a
 * corrupt gzip stream) is BT_ERR_FORMAT or BT_ERR_IO with a message naming the file. */
BT_API bt_status bt_dataset_load_idx(const char *images_path, const char *labels_path,
                                     unsigned classes, bt_dataset **out);

/* Load the four standard files of an MNIST-format folder (train-images-idx3-ubyte,
 * train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each optionally
 * with .gz), 10 classes. The last `validation_count` training images become *validation, the rest
 * *train; *test holds the test file. Any out pointer may be NULL if that part is not wanted. */
BT_API bt_status bt_dataset_load_mnist_dir(const char *dir, size_t validation_count,
                                           bt_dataset **train, bt_dataset **validation,
                                           bt_dataset **test);

/* A dataset copied from memory: `count` examples of `features` bytes each, and `count` labels. */
BT_API bt_status bt_dataset_create_from_memory(const uint8_t *pixels, const uint8_t *labels,
                                               size_t count, size_t features, unsigned classes,
                                               bt_dataset **out);

/* A new dataset holding a copy of examples [first, first + count) of `src`. */
BT_API bt_status bt_dataset_slice(const bt_dataset *src, size_t first, size_t count,
                                  bt_dataset **out);
BT_API void bt_dataset_destroy(bt_dataset *dataset);

BT_API size_t bt_dataset_count(const bt_dataset *dataset);
BT_API size_t bt_dataset_features(const bt_dataset *dataset);
BT_API unsigned bt_dataset_classes(const bt_dataset *dataset);
/* count * features bytes, example-major; owned by the dataset. */
BT_API const uint8_t *bt_dataset_pixels(const bt_dataset *dataset);
/* count bytes; owned by the dataset. */
BT_API const uint8_t *bt_dataset_labels(const bt_dataset *dataset);

#ifdef __cplusplus
}
#endif

#endif /* BATCHTUNE_H */
