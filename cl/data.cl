/* Batch assembly from device-resident data: pixels stay uint8 on the device (4x less memory and
 * upload than floats) and are scaled to [0, 1] here. One work-item per output float.
 *
 * gather_indexed(pixels, labels, order, first, m, features, x, batch_labels)
 *   pixels:  count x features bytes; labels: count bytes
 *   order:   the epoch's permutation (uint per example); rows order[first .. first+m) are taken
 *   x:       m x features floats, out; batch_labels: m ints, out
 *
 * gather_range(pixels, labels, first, m, features, x, batch_labels)
 *   the same for rows first .. first+m in stored order (evaluation). */

__kernel void gather_indexed(__global const uchar *pixels, __global const uchar *labels,
                             __global const uint *order, uint first, uint m, uint features,
                             __global float *x, __global int *batch_labels)
{
    size_t gid = get_global_id(0);
    if (gid >= (size_t)m * features)
        return;
    uint row = (uint)(gid / features);
    uint col = (uint)(gid - (size_t)row * features);
    uint src = order[first + row];
    x[gid] = (float)pixels[(size_t)src * features + col] * (1.0f / 255.0f);
    if (col == 0)
        batch_labels[row] = labels[src];
}

__kernel void gather_range(__global const uchar *pixels, __global const uchar *labels, uint first,
                           uint m, uint features, __global float *x, __global int *batch_labels)
{
    size_t gid = get_global_id(0);
    if (gid >= (size_t)m * features)
        return;
    uint row = (uint)(gid / features);
    uint col = (uint)(gid - (size_t)row * features);
    size_t src = (size_t)first + row;
    x[gid] = (float)pixels[src * features + col] * (1.0f / 255.0f);
    if (col == 0)
        batch_labels[row] = labels[src];
}
