/* Output layer, one work-item per example (row): the output activation needs the whole row for
 * softmax, and the row is short (the number of classes).
 * Output kinds (build options from the host's BT_OUTPUT_KIND_LIST): BT_OUT_SIGMOID_QUADRATIC,
 * BT_OUT_SIGMOID_CROSS_ENTROPY, BT_OUT_SOFTMAX_LOG_LIKELIHOOD.
 *
 * output_delta(za, bias, labels, delta, m, n, kind)
 *   za:     m x n; in: z without bias (from the GEMM), out: the activations a
 *   bias:   n
 *   labels: m class indices; the target y is their one-hot row
 *   delta:  m x n, out: dC_x/dz for each example
 *           (a - y) a (1 - a) for sigmoid + quadratic, a - y for the other two
 *
 * output_evaluate(za, bias, labels, stats, m, n, kind)
 *   as above but writes, per row i, stats[2i] = the example's cost and stats[2i+1] = 1 if the
 *   largest output (first on ties) is the label, else 0. */

/* Activations of row `row` in place; returns nothing, a is in za. */
void activate_row(__global float *za, __global const float *bias, uint n, uint kind)
{
    if (kind == BT_OUT_SOFTMAX_LOG_LIKELIHOOD) {
        float top = -INFINITY;
        for (uint j = 0; j < n; ++j) {
            za[j] += bias[j];
            top = fmax(top, za[j]);
        }
        float sum = 0.0f;
        for (uint j = 0; j < n; ++j) {
            za[j] = exp(za[j] - top);
            sum += za[j];
        }
        float inv = 1.0f / sum;
        for (uint j = 0; j < n; ++j)
            za[j] *= inv;
    } else {
        for (uint j = 0; j < n; ++j)
            za[j] = 1.0f / (1.0f + exp(-(za[j] + bias[j])));
    }
}

/* One row: activations in place of z, and dC/dz into d (also used by cl/dense.cl). */
void row_delta(__global float *a, __global const float *bias, int label, __global float *d,
               uint n, uint kind)
{
    activate_row(a, bias, n, kind);
    for (uint j = 0; j < n; ++j) {
        float diff = a[j] - (j == (uint)label ? 1.0f : 0.0f);
        d[j] = kind == BT_OUT_SIGMOID_QUADRATIC ? diff * a[j] * (1.0f - a[j]) : diff;
    }
}

__kernel void output_delta(__global float *za, __global const float *bias,
                           __global const int *labels, __global float *delta, uint m, uint n,
                           uint kind)
{
    uint i = get_global_id(0);
    if (i < m)
        row_delta(za + (size_t)i * n, bias, labels[i], delta + (size_t)i * n, n, kind);
}

/* ln(1 + e^x) without overflow or cancellation: -ln(sigmoid(-x)). */
float softplus(float x) { return fmax(x, 0.0f) + log1p(exp(-fabs(x))); }

/* The example's cost from z (= za + bias), before the activations replace it: ln(1 - a) taken
 * from a float a near 1 loses every digit (a = 1 - 2e-9 rounds to 1), so the costs are
 * written in z, where they stay exact however saturated the outputs are. */
float row_cost(__global const float *za, __global const float *bias, uint n, int label,
               uint kind)
{
    float cost = 0.0f;
    if (kind == BT_OUT_SIGMOID_QUADRATIC) {
        for (uint j = 0; j < n; ++j) {
            float a = 1.0f / (1.0f + exp(-(za[j] + bias[j])));
            float diff = a - (j == (uint)label ? 1.0f : 0.0f);
            cost += 0.5f * diff * diff;
        }
    } else if (kind == BT_OUT_SIGMOID_CROSS_ENTROPY) {
        /* -ln a = softplus(-z), -ln(1 - a) = softplus(z) */
        for (uint j = 0; j < n; ++j) {
            float z = za[j] + bias[j];
            cost += softplus(j == (uint)label ? -z : z);
        }
    } else {
        /* -ln softmax(z)_label = ln sum_j e^(z_j - top) - (z_label - top) */
        float top = -INFINITY;
        for (uint j = 0; j < n; ++j)
            top = fmax(top, za[j] + bias[j]);
        float sum = 0.0f;
        for (uint j = 0; j < n; ++j)
            sum += exp(za[j] + bias[j] - top);
        cost = log(sum) - (za[label] + bias[label] - top);
    }
    return cost;
}

__kernel void output_evaluate(__global float *za, __global const float *bias,
                              __global const int *labels, __global float *stats, uint m, uint n,
                              uint kind)
{
    uint i = get_global_id(0);
    if (i >= m)
        return;
    __global float *a = za + (size_t)i * n;
    int label = labels[i];
    float cost = row_cost(a, bias, n, label, kind);
    activate_row(a, bias, n, kind);
    uint best = 0;
    for (uint j = 1; j < n; ++j)
        if (a[j] > a[best])
            best = j;
    stats[2 * (size_t)i] = cost;
    stats[2 * (size_t)i + 1] = best == (uint)label ? 1.0f : 0.0f;
}

/* output_activate(za, bias, m, n, kind): activations only, for prediction. */
__kernel void output_activate(__global float *za, __global const float *bias, uint m, uint n,
                              uint kind)
{
    uint i = get_global_id(0);
    if (i < m)
        activate_row(za + (size_t)i * n, bias, n, kind);
}
