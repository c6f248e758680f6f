/* Hidden-layer element-wise work, one work-item per element of an m x n row-major matrix
 * (m examples, n units). Activation codes BT_ACT_* are build options from bt_activation's list.
 *
 * The global size is rounded up to a multiple of the work-group size; `count` = m * n elements.
 *
 * bias_activate(za, bias, count, n, act)
 *   za:   m x n; in: z = x * W^T (from the GEMM), out: a = f(z + bias[j])
 *   bias: n
 *   Fusing the bias into the activation saves one pass over the matrix.
 *
 * activation_backward(delta, a, count, act)
 *   delta: m x n; in: dC/da = delta_next * W_next (from the GEMM), out: dC/dz = dC/da * f'(z)
 *   a:     m x n, the activations of the forward pass; f'(z) is computed from a:
 *          sigmoid a(1-a), tanh 1-a^2, ReLU (a > 0). */

float activate(float z, uint act)
{
    if (act == BT_ACT_SIGMOID)
        return 1.0f / (1.0f + exp(-z));
    if (act == BT_ACT_TANH)
        return tanh(z);
    return fmax(z, 0.0f);
}

float derivative_from_output(float a, uint act)
{
    if (act == BT_ACT_SIGMOID)
        return a * (1.0f - a);
    if (act == BT_ACT_TANH)
        return 1.0f - a * a;
    return a > 0.0f ? 1.0f : 0.0f;
}

__kernel void bias_activate(__global float *za, __global const float *bias, uint count, uint n,
                            uint act)
{
    uint i = get_global_id(0);
    if (i < count)
        za[i] = activate(za[i] + bias[i % n], act);
}

__kernel void activation_backward(__global float *delta, __global const float *a, uint count,
                                  uint act)
{
    uint i = get_global_id(0);
    if (i < count)
        delta[i] *= derivative_from_output(a[i], act);
}
