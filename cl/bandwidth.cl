/* Memory bandwidth: a plain copy of a buffer far larger than any cache, so that its speed is the
 * device memory's (read plus write), the other ceiling a GEMM can hit.
 *
 * copy_float4(dst, src, count)
 *   dst: out, count float4
 *   src: count float4 */

__kernel void copy_float4(__global float4 *dst, __global const float4 *src, uint count)
{
    uint i = get_global_id(0);
    if (i < count)
        dst[i] = src[i];
}
