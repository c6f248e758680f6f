/* Bias gradient and update, one work-item per unit (column) j of the m x n delta matrix:
 *     dst[j] <- beta * dst[j] + alpha * sum_i delta[i][j]
 * Training passes dst = b, alpha = -eta/m, beta = 1 (the update, no gradient buffer); gradient
 * mode passes dst = db, alpha = 1/m, beta = 0. Adjacent work-items read adjacent columns, so the
 * reads of one row are coalesced on GPUs.
 *
 * bias_update(dst, delta, m, n, alpha, beta)
 *   dst:   n
 *   delta: m x n, row-major */

__kernel void bias_update(__global float *dst, __global const float *delta, uint m, uint n,
                          float alpha, float beta)
{
    uint j = get_global_id(0);
    if (j >= n)
        return;
    float sum = 0.0f;
    for (uint i = 0; i < m; ++i)
        sum += delta[(size_t)i * n + j];
    dst[j] = (beta == 0.0f ? 0.0f : beta * dst[j]) + alpha * sum;
}
