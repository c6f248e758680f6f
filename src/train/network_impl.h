/* Internal: the network's device state, shared by network.c (forward/backward), evaluate.c and
 * scheduler.c (which fill the input buffers and enqueue steps). */
#ifndef BT_NETWORK_IMPL_H
#define BT_NETWORK_IMPL_H

#include "batchtune.h"

/* Rows of one evaluation chunk: large enough for efficient GEMMs, small enough to stay cheap. */
#define BT_EVAL_CHUNK 2048

typedef enum bt_profile_kind {
    BT_PROF_GEMM,
    BT_PROF_KERNEL,
    BT_PROF_DATA,     /* gathers on the compute queue */
    BT_PROF_TRANSFER, /* uploads on the transfer queue */
} bt_profile_kind;

typedef struct bt_profile_event {
    cl_event event;
    bt_profile_kind kind;
} bt_profile_event;

/* Output-layer kinds of cl/output.cl. Like the activation codes, the kernels get them as build
 * options (-DBT_OUT_SIGMOID_QUADRATIC=0 ...), so host and device share one definition. */
#define BT_OUTPUT_KIND_LIST(X)                                                                  \
    X(BT_OUT_SIGMOID_QUADRATIC)                                                                 \
    X(BT_OUT_SIGMOID_CROSS_ENTROPY)                                                             \
    X(BT_OUT_SOFTMAX_LOG_LIKELIHOOD)
#define BT_OUTPUT_KIND_(name) name,
enum { BT_OUTPUT_KIND_LIST(BT_OUTPUT_KIND_) };
#undef BT_OUTPUT_KIND_

/* Fused layer kernels (cl/dense.cl) skip the activation: the output layer's product alone. */
#define BT_ACT_NONE 255u

/* Work-group size of reduce_pairs (cl/reduce.cl). */
#define BT_REDUCE_GROUP 256

/* Tiles of the fused layer kernels (cl/dense.cl), per device: the explicit vector width and,
 * per kernel, the rows and columns (or vectors of columns) one work-item computes. */
typedef struct bt_dense_tiles {
    unsigned vector_width;
    unsigned forward_rows, forward_cols;
    unsigned backward_rows, backward_vecs;
    unsigned update_rows, update_vecs;
    unsigned local_size; /* work-group size */
    /* Update tiles per work-item, and the rows of x each pass over them takes (1, any: one
     * tile, all rows at once). */
    unsigned update_blocks, update_chunk;
} bt_dense_tiles;

/* Floats of zeroed padding after every matrix the fused kernels read: their vector loads may run
 * up to (vectors per tile x vector width) floats past a row's end. */
#define BT_DENSE_PAD 128u

/* Rebuilds the fused kernels with other tiles (tests, tile measurements); the network's
 * results do not depend on them beyond float rounding. */
bt_status bt_network_use_tiles(bt_network *net, const bt_dense_tiles *tiles);

/* The products of a training step, each computed by CLBlast or by a fused kernel. */
typedef enum bt_layer_op { BT_OP_FORWARD, BT_OP_BACKWARD, BT_OP_UPDATE } bt_layer_op;

typedef struct bt_kernels {
    cl_kernel dense_forward, dense_backward, dense_update, dense_output, dense_step;
    cl_kernel bias_activate, activation_backward;
    cl_kernel output_delta, output_evaluate, output_activate;
    cl_kernel bias_update;
    cl_kernel gather_indexed, gather_range;
    cl_kernel reduce_pairs;
} bt_kernels;

struct bt_network {
    bt_device *device; /* not owned */
    bt_network_opts opts;
    size_t layers;          /* L = n_sizes - 1 */
    size_t rows;            /* capacity of the activation buffers: max(max_batch, BT_EVAL_CHUNK) */
    bt_buffer *w[BT_MAX_LAYERS];     /* W_l at index l-1 */
    bt_buffer *b[BT_MAX_LAYERS];
    bt_buffer *grad_w[BT_MAX_LAYERS]; /* created by the first gradient call */
    bt_buffer *grad_b[BT_MAX_LAYERS];
    bt_buffer *act[BT_MAX_LAYERS + 1];   /* act[0] is the input batch, act[l] = a_l; rows x n_l */
    bt_buffer *delta[BT_MAX_LAYERS + 1]; /* delta[l], l >= 1; max_batch x n_l */
    bt_buffer *labels;                   /* rows ints */
    bt_buffer *stats;                    /* rows x 2 floats: per-example cost and correctness */
    bt_program *programs[6];
    bt_dense_tiles tiles;
    bt_kernels k;
    size_t local_size; /* work-group size for element-wise kernels */
    bool profiling;
    bt_profile_event *events;
    size_t event_count, event_capacity;
};

/* Where the event of the next command goes: NULL unless profiling (then the caller passes it to
 * the enqueue call, which fills it). */
cl_event *bt_network_profile_slot(bt_network *net, bt_profile_kind kind);

/* Work-items of the gather kernels: one per chunk of BT_GATHER_CHUNK (cl/data.cl) pixels of a
 * row. */
#define BT_GATHER_CHUNK 16
static inline size_t bt_gather_work_items(size_t m, size_t features)
{
    return m * ((features + BT_GATHER_CHUNK - 1) / BT_GATHER_CHUNK);
}

/* Set one kernel argument from a variable, returning the failure (needs error.h). */
#define BT_SET_ARG(kernel, index, value)                                                        \
    BT_CL_TRY(clSetKernelArg(kernel, index, sizeof(value), &(value)), "clSetKernelArg")

/* Enqueue a 1-D kernel over `count` work-items (rounded up to the work-group size). */
bt_status bt_network_enqueue(bt_network *net, cl_kernel kernel, size_t count,
                             bt_profile_kind kind, const char *name);

/* The same, after the event `wait` (may be NULL), giving the kernel's event in *done (may be NULL;
 * the caller releases it). */
bt_status bt_network_enqueue_after(bt_network *net, cl_kernel kernel, size_t count,
                                   bt_profile_kind kind, const char *name, cl_event wait,
                                   cl_event *done);

/* Gather rows first .. first+m of uint8 `pixels` (features each) and `labels` into the network's
 * input, scaled to [0, 1]; after `wait` (may be NULL), the kernel's event in *done (may be NULL). */
bt_status bt_network_enqueue_gather_range(bt_network *net, const bt_buffer *pixels,
                                          const bt_buffer *labels, size_t first, size_t m,
                                          size_t features, cl_event wait, cl_event *done);

/* Keep a command's event for the profile (retained; no-op unless profiling). */
void bt_network_profile_add(bt_network *net, bt_profile_kind kind, cl_event event);

/* Forward pass of the first m rows of act[0]; the output layer runs `output_kernel` (one of
 * output_delta, output_evaluate, output_activate), whose extra arguments are set here. */
bt_status bt_network_enqueue_forward(bt_network *net, size_t m, cl_kernel output_kernel);

/* Whether a product of layer l at batch size m runs on the fused kernels (else on CLBlast): the
 * network's engine, or with BT_ENGINE_AUTO the rule for the device's type and the product's
 * shape (layer sizes n[0..L]). */
bool bt_network_uses_fused(const bt_network *net, bt_layer_op op, size_t l, size_t m);
bool bt_fused_rule(bt_device_type type, bt_layer_op op, const size_t *n, size_t l, size_t m);

/* One SGD step on the batch in act[0] / labels: forward, backward, update. */
bt_status bt_network_enqueue_step(bt_network *net, size_t m, const bt_sgd *sgd);

/* The mean gradient of the batch in act[0] / labels into grad_w / grad_b (created on first use):
 * forward and backward without the one-work-item step, so delta[l] and act[l] stay in their
 * buffers for per-example work (noise_scale.c). */
bt_status bt_network_enqueue_gradient(bt_network *net, size_t m);

/* Data of `features` per example and `classes` labels fits the network's input and output. */
bt_status bt_check_shape_fits(const bt_network *net, size_t features, unsigned classes);

#endif
