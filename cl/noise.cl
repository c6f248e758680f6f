/* Squared norms for the gradient noise scale (McCandlish et al. 2018): per-example gradient
 * norms from the deltas and activations a training step's backward pass leaves behind, and the
 * batch-mean gradient's norm, row by row. The host sums the rows in double.
 *
 * For a fully-connected layer the per-example gradient of (W_l, b_l) is the outer product
 * delta_i a_i^T plus delta_i, so |g_i^l|^2 = |delta_i|^2 (|a_i|^2 + 1): no per-example GEMM.
 *
 * noise_example_norms(delta, act, rows, units, inputs, first, out)   one work-item per example
 *   delta: rows x units (delta_l), act: rows x inputs (a_{l-1}), row-major
 *   out[i] = (first ? 0 : out[i]) + |delta_i|^2 (|a_i|^2 + 1), i < rows: layers accumulate
 *
 * noise_gradient_norms(w, b, units, inputs, offset, out)               one work-item per unit
 *   w: units x inputs, b: units (a mean gradient); out[offset + j] = |w_j|^2 + b_j^2 */

__kernel void noise_example_norms(__global const float *delta, __global const float *act,
                                  uint rows, uint units, uint inputs, uint first,
                                  __global float *out)
{
    uint i = get_global_id(0);
    if (i >= rows)
        return;
    __global const float *d = delta + (size_t)i * units;
    __global const float *a = act + (size_t)i * inputs;
    float dd = 0.0f, aa = 0.0f;
    for (uint j = 0; j < units; ++j)
        dd += d[j] * d[j];
    for (uint k = 0; k < inputs; ++k)
        aa += a[k] * a[k];
    float v = dd * (aa + 1.0f);
    out[i] = first ? v : out[i] + v;
}

__kernel void noise_gradient_norms(__global const float *w, __global const float *b, uint units,
                                   uint inputs, uint offset, __global float *out)
{
    uint j = get_global_id(0);
    if (j >= units)
        return;
    __global const float *row = w + (size_t)j * inputs;
    float s = b[j] * b[j];
    for (uint k = 0; k < inputs; ++k)
        s += row[k] * row[k];
    out[offset + j] = s;
}
