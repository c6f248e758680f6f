/*
 * batchtune gradient noise scale: how noisy a network's per-example gradients are compared with
 * their mean, measured on the device (McCandlish et al. 2018, "An Empirical Model of Large-Batch
 * Training", arXiv 1812.06162, App. A.1).
 *
 * The simple noise scale is B = tr(Sigma) / |G|^2, with Sigma the covariance of the per-example
 * gradients and G the true (full-data) gradient. Steps to a target then go as S_min (1 + B/m).
 * A batch gradient of b examples has E|G_b|^2 = |G|^2 + tr(Sigma)/b, so two batch sizes
 * b < B_big give unbiased estimates of both terms:
 *     |G|^2     ~ (B_big |G_Bbig|^2 - b |G_b|^2) / (B_big - b)
 *     tr(Sigma) ~ (|G_b|^2 - |G_Bbig|^2) / (1/b - 1/B_big)
 * The device measurement uses b = 1 (the mean over the batch of the per-example squared norms)
 * and B_big = m (the batch's mean gradient). Gradients are those of the unregularised per-example
 * cost, in the parameter layout of batchtune.h (weights and biases).
 *
 * One sample is noisy (its |G|^2 estimate can even be negative), and a ratio of averages is
 * unbiased where an average of ratios is not: the estimator keeps exponential moving averages of
 * the two estimates separately and divides only when asked.
 *
 * Same conventions as batchtune.h: a bt_status from everything that can fail, the message in
 * bt_last_error(), create/destroy pairs, no printing.
 */
#ifndef BATCHTUNE_NOISE_H
#define BATCHTUNE_NOISE_H

#include "batchtune.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One measurement: squared norms of two batch gradients of the same data distribution. */
typedef struct bt_noise_sample {
    size_t small_batch;    /* b >= 1 */
    double small_norm_sq;  /* E|G_b|^2 estimate; for b = 1 the mean of |g_i|^2 over the batch */
    size_t big_batch;      /* B_big > b */
    double big_norm_sq;    /* |G_Bbig|^2 */
} bt_noise_sample;

/* Per-example gradient squared norms of the m examples x (m x n_0 floats) with their labels,
 * computed on the device from one backward pass: out->small_batch = 1, out->small_norm_sq = the
 * mean over the examples of |g_i|^2, out->big_batch = m, out->big_norm_sq = |mean of g_i|^2.
 * If per_example is not NULL it receives the m values |g_i|^2. m must be 2 .. max_batch. Uses
 * the network's buffers like a training step (it changes no parameter); waits for the result. */
BT_API bt_status bt_network_noise_sample_host(bt_network *network, const float *x,
                                              const int32_t *labels, size_t m,
                                              bt_noise_sample *out, double *per_example);

/* The same for rows first .. first+m-1 of device-resident data (e.g. the training set a
 * scheduler feeds the network; call it between bt_scheduler_run calls). */
BT_API bt_status bt_network_noise_sample_data(bt_network *network, const bt_device_data *data,
                                              size_t first, size_t m, bt_noise_sample *out);

typedef struct bt_noise_opts {
    /* Each moving average keeps this share of its old value per sample: avg <- d avg + (1-d) x,
     * with the start-up bias divided out (as Adam does), so the first sample counts fully.
     * 0 keeps only the last sample; 0.9 (the default) weights about the last 10. In [0, 1). */
    double decay;
} bt_noise_opts;

BT_API bt_noise_opts bt_noise_opts_default(void);

/* The estimate from the samples so far. */
typedef struct bt_noise_estimate {
    size_t samples;
    double gradient_sq; /* moving average of the |G|^2 estimates */
    double trace;       /* moving average of the tr(Sigma) estimates */
    /* trace / gradient_sq; NAN while there is no sample; +INFINITY when gradient_sq <= 0: the
     * mean gradient is lost in the noise (near a minimum), B is larger than the samples can
     * resolve, and more examples per step always pay. */
    double noise_scale;
} bt_noise_estimate;

typedef struct bt_noise bt_noise;

/* An estimator. `network` (may be NULL) is what bt_noise_update_host/_data measure; it is not
 * owned and must outlive the estimator. With NULL only bt_noise_add takes samples. */
BT_API bt_status bt_noise_create(bt_network *network, const bt_noise_opts *opts, bt_noise **out);
BT_API void bt_noise_destroy(bt_noise *noise);

/* Fold one sample into the moving averages. Needs b >= 1, B_big > b and finite norms >= 0. */
BT_API bt_status bt_noise_add(bt_noise *noise, const bt_noise_sample *sample);

/* Measure the bound network (bt_network_noise_sample_host / _data) and add the sample; `out`
 * (may be NULL) receives it. */
BT_API bt_status bt_noise_update_host(bt_noise *noise, const float *x, const int32_t *labels,
                                      size_t m, bt_noise_sample *out);
BT_API bt_status bt_noise_update_data(bt_noise *noise, const bt_device_data *data, size_t first,
                                      size_t m, bt_noise_sample *out);

BT_API bt_noise_estimate bt_noise_get(const bt_noise *noise);

/* Forget every sample. */
BT_API void bt_noise_reset(bt_noise *noise);

#ifdef __cplusplus
}
#endif

#endif /* BATCHTUNE_NOISE_H */
