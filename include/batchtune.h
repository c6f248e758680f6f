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
 * - The library never prints, never exits, and reads only these environment variables:
 *   BATCHTUNE_DEVICE (device selection when no selector is given), XDG_CACHE_HOME / HOME (the
 *   default program-binary cache folder) and XDG_DATA_HOME / HOME (the default folder of stored
 *   GEMM parameters).
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
    /* true (default): apply the device's stored CLBlast GEMM parameters (batchtune tune-gemm)
     * when they match it; see batchtune_gemm_tuning.h. */
    bool apply_gemm_tuning;
    /* Folder of stored GEMM parameters. NULL: $XDG_DATA_HOME/batchtune, else
     * $HOME/.local/share/batchtune. */
    const char *gemm_tuning_dir;
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
 * releases it with clReleaseEvent), for profiling; on CLBlast's indirect path (large products,
 * see batchtune_gemm_tuning.h) that is the event of its last kernel only. The first call of each transpose combination
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

/* ---------------------------------------------------------------------------------------------
 * Networks: fully-connected, parameters on the device, whole mini-batches as GEMMs
 *
 * Layer l (1..L) maps n_{l-1} inputs to n_l outputs: z_l = a_{l-1} W_l^T + b_l, a_l = f(z_l), with
 * W_l stored n_l x n_{l-1} row-major (W[j][k] joins input k to unit j) and a batch of m examples
 * as an m x n matrix, one example per row. f is the hidden activation below the last layer and the
 * output activation at the last.
 *
 * The update is the book's (Nielsen, ch. 1-3), with the *mean* gradient of the batch:
 *     W <- (1 - eta * lambda / n) * W - (eta / m) * sum over the batch of dC_x/dW
 *     b <- b - (eta / m) * sum over the batch of dC_x/db
 * where n is the training-set size and lambda the L2 strength. Because the gradient is averaged,
 * a larger m takes a step of the same size from less noisy gradients, and the linear scaling rule
 * (eta proportional to m) makes one step of m examples resemble m steps of one.
 * ------------------------------------------------------------------------------------------- */

/* X-macro lists: X(enumerator, command-line name). The enums, the name tables and the codes the
 * kernels are built with (-DACT_SIGMOID=0 ...) all come from these. */
#define BT_ACTIVATION_LIST(X)                                                                   \
    X(BT_ACT_SIGMOID, "sigmoid")                                                                \
    X(BT_ACT_TANH, "tanh")                                                                      \
    X(BT_ACT_RELU, "relu")                                                                      \
    X(BT_ACT_SOFTMAX, "softmax") /* output layer only */

#define BT_COST_LIST(X)                                                                         \
    X(BT_COST_QUADRATIC, "quadratic")           /* 0.5 |a - y|^2, sigmoid output (network.py) */ \
    X(BT_COST_CROSS_ENTROPY, "cross-entropy")   /* -sum y ln a + (1-y) ln(1-a), sigmoid output */ \
    X(BT_COST_LOG_LIKELIHOOD, "log-likelihood") /* -ln a_label, softmax output */

#define BT_INIT_LIST(X)                                                                         \
    X(BT_INIT_NORMAL, "normal") /* weights and biases N(0, 1): the book's first network */     \
    X(BT_INIT_SCALED, "scaled") /* weights N(0, 1/n_in), biases N(0, 1): the improved one */

/* What computes a layer's products in a training step: "auto" (per shape, the stored
 * measurement of `batchtune tune-gemm`, else a rule: our fused kernels for thin products, CLBlast
 * for large ones), "fused" (always ours: product, bias and activation in one kernel per layer and
 * pass) or "clblast" (always CLBlast GEMMs plus element-wise kernels). */
#define BT_ENGINE_LIST(X)                                                                       \
    X(BT_ENGINE_AUTO, "auto")                                                                   \
    X(BT_ENGINE_FUSED, "fused")                                                                 \
    X(BT_ENGINE_CLBLAST, "clblast")

#define BT_ENUMERATOR_(name, text) name,
typedef enum bt_activation { BT_ACTIVATION_LIST(BT_ENUMERATOR_) } bt_activation;
typedef enum bt_cost { BT_COST_LIST(BT_ENUMERATOR_) } bt_cost;
typedef enum bt_init { BT_INIT_LIST(BT_ENUMERATOR_) } bt_init;
typedef enum bt_engine { BT_ENGINE_LIST(BT_ENUMERATOR_) } bt_engine;
#undef BT_ENUMERATOR_

/* Names as the command line spells them (the lists above). Parsing is case-sensitive and returns
 * BT_ERR_INVALID_ARGUMENT with the accepted names for anything else. */
BT_API const char *bt_activation_str(bt_activation activation);
BT_API const char *bt_cost_str(bt_cost cost);
BT_API const char *bt_init_str(bt_init init);
BT_API bt_status bt_activation_parse(const char *text, bt_activation *out);
BT_API bt_status bt_cost_parse(const char *text, bt_cost *out);
BT_API bt_status bt_init_parse(const char *text, bt_init *out);
BT_API const char *bt_engine_str(bt_engine engine);
BT_API bt_status bt_engine_parse(const char *text, bt_engine *out);

#define BT_MAX_LAYERS 16

typedef struct bt_network_opts {
    size_t sizes[BT_MAX_LAYERS + 1]; /* units per layer, input first: {784, 30, 10} */
    size_t n_sizes;                  /* 2 .. BT_MAX_LAYERS + 1 */
    bt_activation hidden;
    bt_activation output;
    bt_cost cost;
    bt_init init;
    uint64_t seed;    /* initial parameters are a function of the seed and the sizes only */
    size_t max_batch; /* the largest m a step or gradient call may use */
    bt_engine engine; /* BT_ENGINE_AUTO unless set */
} bt_network_opts;

/* The book's network: 784,30,10, sigmoid, quadratic cost, N(0,1) initialisation, seed 1,
 * max_batch 1024. */
BT_API bt_network_opts bt_network_opts_default(void);

/* Parse "784,30,10" into opts->sizes and opts->n_sizes. */
BT_API bt_status bt_network_parse_sizes(const char *text, bt_network_opts *opts);

/* Checks the combination: softmax only as output, cross-entropy only with a sigmoid output,
 * log-likelihood only with softmax, quadratic only with sigmoid. */
BT_API bt_status bt_network_opts_validate(const bt_network_opts *opts);

typedef struct bt_network bt_network;

/* Create a network on a device with parameters drawn from opts->seed. The device must outlive the
 * network. Builds the kernels it needs (cached on disk) but does not warm up CLBlast: call
 * bt_network_warmup() before timing. */
BT_API bt_status bt_network_create(bt_device *device, const bt_network_opts *opts,
                                   bt_network **out);
BT_API void bt_network_destroy(bt_network *network);

BT_API const bt_network_opts *bt_network_get_opts(const bt_network *network);
BT_API bt_device *bt_network_get_device(const bt_network *network);

/* Parameter layout, shared by get/set, gradients and saved files: for l = 1..L, W_l (n_l x n_{l-1},
 * row-major) followed by b_l (n_l). */
BT_API size_t bt_network_param_count(const bt_network *network);
BT_API bt_status bt_network_get_params(const bt_network *network, float *dst, size_t count);
BT_API bt_status bt_network_set_params(bt_network *network, const float *src, size_t count);

/* The GEMM shapes of one training step of m examples (forward, input gradients of layers 2..L,
 * weight updates), in the order they run. *count receives the number of shapes; at most `max` are
 * written. */
BT_API bt_status bt_network_step_shapes(const bt_network *network, size_t m, bt_gemm_shape *out,
                                        size_t max, size_t *count);

/* The engine (BT_ENGINE_FUSED or BT_ENGINE_CLBLAST) that computes each product of a training
 * step of m examples, in the order of bt_network_step_shapes(): the network's engine, or with
 * BT_ENGINE_AUTO the device's stored choice for the shape, else the rule. */
BT_API bt_status bt_network_step_engines(const bt_network *network, size_t m, bt_engine *out,
                                         size_t max, size_t *count);

/* Compile CLBlast's kernels for the step shapes of each given batch size (and the evaluation
 * chunk), so that no compilation lands in a timed region. */
BT_API bt_status bt_network_warmup(bt_network *network, const size_t *batch_sizes, size_t count);

/* The build options networks on this device build every embedded kernel source with: the codes
 * and sizes host and kernels share (-DBT_ACT_SIGMOID=0 ...) and the fused kernels' tiles. Warming
 * up the program cache (batchtune warmup) with them compiles what training will use. Writes at
 * most `size` bytes, NUL included. */
BT_API bt_status bt_kernel_build_options(const bt_device *device, char *dst, size_t size);

/* Host-memory convenience, for tests and small jobs: x is m x n_0 floats, labels m class indices.
 * bt_network_gradient writes the mean gradient of the unregularised cost (param_count floats, in
 * the parameter layout) and, if cost is not NULL, the mean cost of the batch. Waits for the
 * result. */
BT_API bt_status bt_network_gradient(bt_network *network, const float *x, const int32_t *labels,
                                     size_t m, float *grad, double *cost);

typedef struct bt_sgd {
    float eta;       /* learning rate */
    float lambda;    /* L2 strength; 0 disables weight decay */
    size_t n_train;  /* training-set size n in the decay factor (1 - eta * lambda / n) */
} bt_sgd;

/* The rates an update accepts, one rule for every check of them (bt_network_train_step_host, the
 * scheduler, the tuner's candidates): eta above 0, also as a 32-bit float, lambda at least 0, both
 * at most BT_SGD_MAX_RATE (so that eta * lambda stays finite); never NaN. */
#define BT_SGD_MAX_RATE 1e30
BT_API bool bt_sgd_rates_valid(double eta, double lambda);

/* One update with a batch from host memory (see the update rule above). Returns once enqueued. */
BT_API bt_status bt_network_train_step_host(bt_network *network, const float *x,
                                            const int32_t *labels, size_t m, const bt_sgd *sgd);

/* Outputs a_L for a batch from host memory (m x n_L floats). Waits for the result. */
BT_API bt_status bt_network_predict_host(bt_network *network, const float *x, size_t m,
                                         float *out);

/* Device time of the commands a network enqueued, from OpenCL profiling events. */
typedef struct bt_profile {
    double gemm_seconds;    /* the layers' products: CLBlast GEMM calls or our fused kernels */
    double kernel_seconds;  /* element-wise kernels (output layer; activations, deltas and bias
                               updates beside CLBlast's products) */
    double data_seconds;    /* batch assembly on the device (gather) */
    double transfer_seconds; /* streamed uploads on the transfer queue */
    /* The part of transfer_seconds during which the compute queue was busy: the transfer time
     * that streaming hid behind compute. */
    double transfer_hidden_seconds;
    size_t gemm_calls, kernel_calls, data_calls, transfer_calls;
} bt_profile;

/* While on, every command the network (and a scheduler driving it) enqueues keeps its event.
 * bt_network_take_profile() waits for them, sums their device times into *out and resets. Costs
 * host time per command: only for benchmarks. */
BT_API bt_status bt_network_set_profiling(bt_network *network, bool on);
BT_API bt_status bt_network_take_profile(bt_network *network, bt_profile *out);

/* Parameter files: a small header (magic "BTNET", version, layer sizes, activations, cost)
 * followed by the parameters as little-endian float32 in the parameter layout and a CRC-32; see
 * src/params_file.c for the byte layout. Loading checks every field and names what is wrong. */
BT_API bt_status bt_network_save(const bt_network *network, const char *path);
BT_API bt_status bt_network_load(bt_device *device, const char *path, size_t max_batch,
                                 bt_network **out);

/* ---------------------------------------------------------------------------------------------
 * Device-resident data, evaluation and the scheduler
 * ------------------------------------------------------------------------------------------- */

/* A dataset uploaded to a device in its compact form (uint8 pixels, labels). */
typedef struct bt_device_data bt_device_data;
BT_API bt_status bt_device_data_create(bt_device *device, const bt_dataset *dataset,
                                       bt_device_data **out);
BT_API void bt_device_data_destroy(bt_device_data *data);
BT_API size_t bt_device_data_count(const bt_device_data *data);

typedef struct bt_eval {
    size_t count;    /* examples evaluated */
    size_t correct;  /* argmax of the output equals the label */
    double accuracy; /* correct / count */
    double cost;     /* mean per-example cost, without the L2 term */
} bt_eval;

/* Evaluate on the device in large chunks (not at the training batch size), with the per-example
 * cost and correctness reduced on the device. Waits for the result. */
BT_API bt_status bt_network_evaluate(bt_network *network, const bt_device_data *data,
                                     bt_eval *out);

/* The same for data in host memory (e.g. a training set too large to keep on the device): each
 * chunk is uploaded in its compact uint8 form, then evaluated as above. */
BT_API bt_status bt_network_evaluate_dataset(bt_network *network, const bt_dataset *data,
                                             bt_eval *out);

/* Where the training data lives while the scheduler feeds the network. */
typedef enum bt_data_mode {
    BT_DATA_AUTO,     /* resident when it fits (see bt_scheduler_opts.memory_limit), else stream */
    BT_DATA_RESIDENT, /* uploaded once; batches gathered on the device */
    BT_DATA_STREAM,   /* batches packed on the host and uploaded through a ring of buffers */
} bt_data_mode;

/* "auto", "resident", "stream". */
BT_API const char *bt_data_mode_str(bt_data_mode mode);

typedef struct bt_scheduler_opts {
    size_t batch_size;  /* m, 1 .. the training-set size */
    bt_sgd sgd;         /* n_train is filled in from the data when 0 */
    uint64_t seed;      /* the shuffle: one permutation per epoch, a function of seed and epoch */
    bool drop_last;     /* drop an epoch's last partial batch instead of stepping with it */
    /* For bt_scheduler_create_from_host only: */
    bt_data_mode mode;     /* default BT_DATA_AUTO */
    size_t ring_size;      /* streaming: batch buffers in flight, >= 2 (default 3) */
    /* Auto mode keeps the data resident when its compact size (uint8 pixels and labels) is at
     * most BT_RESIDENT_FRACTION of this many bytes and fits one allocation; 0 means the device's
     * global memory. Tests lower it to force streaming on small data. */
    uint64_t memory_limit;
} bt_scheduler_opts;

#define BT_RESIDENT_FRACTION 0.5

BT_API bt_scheduler_opts bt_scheduler_opts_default(void);

/* Feeds a network mini-batches of device-resident training data: each epoch's shuffled order is
 * uploaded once as an index buffer and every batch is gathered on the device, so no host<->device
 * copy happens per step; steps are enqueued ahead and the host waits only to keep at most
 * BT_SCHEDULER_MAX_STEPS_IN_FLIGHT steps queued. Neither network nor data is owned. */
typedef struct bt_scheduler bt_scheduler;
#define BT_SCHEDULER_MAX_STEPS_IN_FLIGHT 64

BT_API bt_status bt_scheduler_create(bt_network *network, const bt_device_data *train,
                                     const bt_scheduler_opts *opts, bt_scheduler **out);

/* The same from host data, resident or streamed according to opts->mode. Streaming: each step's
 * shuffled batch is packed (uint8) into pinned host memory and uploaded on the device's transfer
 * queue into one of opts->ring_size device buffers while the compute queue works on the previous
 * ones; the gather on the compute queue waits for its upload's event, and an upload waits for the
 * gather that last read its buffer. Resident: the data is uploaded once and owned by the
 * scheduler. Both modes give the same batches for the same seed. The dataset must outlive a
 * streaming scheduler. */
BT_API bt_status bt_scheduler_create_from_host(bt_network *network, const bt_dataset *train,
                                               const bt_scheduler_opts *opts,
                                               bt_scheduler **out);

/* BT_DATA_RESIDENT or BT_DATA_STREAM: the mode in use. */
BT_API bt_data_mode bt_scheduler_data_mode(const bt_scheduler *scheduler);
BT_API void bt_scheduler_destroy(bt_scheduler *scheduler);

/* Steps in one epoch (the last partial batch counted unless drop_last). */
BT_API size_t bt_scheduler_steps_per_epoch(const bt_scheduler *scheduler);

/* Enqueue `steps` training steps, continuing across epoch boundaries (reshuffling at each), and
 * wait until they have run. */
BT_API bt_status bt_scheduler_run(bt_scheduler *scheduler, size_t steps);

/* Progress: completed epochs, steps and examples seen so far. */
BT_API size_t bt_scheduler_epoch(const bt_scheduler *scheduler);
BT_API uint64_t bt_scheduler_examples_seen(const bt_scheduler *scheduler);

#ifdef __cplusplus
}
#endif

#endif /* BATCHTUNE_H */
