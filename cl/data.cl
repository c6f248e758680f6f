/* Batch assembly from device-resident data: pixels stay uint8 on the device (4x less memory and
 * upload than floats) and are scaled to [0, 1] here. One work-item per row chunk of
 * BT_GATHER_CHUNK (16) pixels: one index computation per 16 values, vector loads and stores for
 * whole chunks.
 * The global size is m * ceil(features / 16), rounded up to the work-group size.
 *
 * gather_indexed(pixels, labels, order, first, m, features, x, batch_labels)
 *   pixels:  count x features bytes; labels: count bytes
 *   order:   the epoch's permutation (uint per example); rows order[first .. first+m) are taken
 *   x:       m x features floats, out; batch_labels: m ints, out
 *
 * gather_range(pixels, labels, first, m, features, x, batch_labels)
 *   the same for rows first .. first+m in stored order (evaluation). */

/* BT_GATHER_CHUNK is a build option from the host's definition; the vector code is written for
 * 16. */
#if BT_GATHER_CHUNK != 16
#error "gather_chunk's vload16/vstore16 need BT_GATHER_CHUNK = 16"
#endif

/* Scale one chunk of a row; the chunk containing column 0 also copies the label. */
void gather_chunk(__global const uchar *pixels, __global const uchar *labels, uint src, uint row,
                  uint chunk, uint features, __global float *x, __global int *batch_labels)
{
    __global const uchar *in = pixels + (size_t)src * features;
    __global float *out = x + (size_t)row * features;
    uint begin = chunk * BT_GATHER_CHUNK;
    if (begin + BT_GATHER_CHUNK <= features) {
        vstore16(convert_float16(vload16(0, in + begin)) * (1.0f / 255.0f), 0, out + begin);
    } else {
        for (uint c = begin; c < features; ++c)
            out[c] = (float)in[c] * (1.0f / 255.0f);
    }
    if (chunk == 0)
        batch_labels[row] = labels[src];
}

__kernel void gather_indexed(__global const uchar *pixels, __global const uchar *labels,
                             __global const uint *order, uint first, uint m, uint features,
                             __global float *x, __global int *batch_labels)
{
    uint chunks = (features + BT_GATHER_CHUNK - 1) / BT_GATHER_CHUNK;
    uint gid = get_global_id(0);
    if (gid >= m * chunks)
        return;
    uint row = gid / chunks;
    gather_chunk(pixels, labels, order[first + row], row, gid - row * chunks, features, x,
                 batch_labels);
}

__kernel void gather_range(__global const uchar *pixels, __global const uchar *labels, uint first,
                           uint m, uint features, __global float *x, __global int *batch_labels)
{
    uint chunks = (features + BT_GATHER_CHUNK - 1) / BT_GATHER_CHUNK;
    uint gid = get_global_id(0);
    if (gid >= m * chunks)
        return;
    uint row = gid / chunks;
    gather_chunk(pixels, labels, first + row, row, gid - row * chunks, features, x, batch_labels);
}
