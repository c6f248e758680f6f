// batchtune:requires activation.cl output.cl
/* Fused fully-connected layer kernels: the products of a training step with the element-wise work
 * folded in, for the thin shapes such networks make (10 or 30 outputs, or k = m rows), where a
 * general GEMM library pays more in launches, padding and idle tile lanes than in arithmetic.
 *
 * activate() comes from activation.cl and row_delta() from output.cl, which the program
 * prepends (the line above). Row-major throughout. Build options (set by the network, one
 * definition on the host):
 *   VW                 vector width of the explicit vectors: 1, 2, 4, 8 or 16
 *   FWD_ROWS, FWD_COLS forward tile: examples x units of one work-item
 *   BWD_ROWS, BWD_VECS backward tile: examples x VW-wide column vectors
 *   UPD_ROWS, UPD_VECS update tile: units x VW-wide column vectors
 *   UPD_BLOCKS, UPD_CHUNK  update tiles per work-item (a column strip for UPD_BLOCKS x UPD_ROWS
 *                      units), and the rows of x each pass over them takes
 *   BT_ACT_SIGMOID, BT_ACT_TANH, BT_ACT_RELU: bt_activation's codes; BT_ACT_NONE: none of them
 *
 * dense_forward(x, w, bias, out, m, n, k, act)       "dot" form, both operands contiguous in k
 *   out[i][j] = f(sum_p x[i][p] w[j][p] + bias[j]);  x: m x k, w: n x k, out: m x n
 *   act = BT_ACT_NONE: out = the product alone (the output layer's kernels add the bias).
 *   Work-items: ceil(m / FWD_ROWS) * ceil(n / FWD_COLS).
 *
 * dense_backward(delta, w, a, out, m, n, k, act)     "broadcast" form, w contiguous in k
 *   out[i][c] = f'(a[i][c]) * sum_j delta[i][j] w[j][c];  delta: m x n, w: n x k, a, out: m x k
 *   f' from the forward output a (sigmoid a(1-a), tanh 1-a^2, ReLU a > 0).
 *   Work-items: ceil(m / BWD_ROWS) * ceil(k / (BWD_VECS * VW)).
 *
 * dense_output(x, w, bias, labels, za, delta, m, n, k, kind)
 *   the output layer in one kernel: za = x w^T, then per row what output.cl's output_delta does
 *   (the bias, the output activation in place, the delta). Work-items: ceil(m / FWD_ROWS), each
 *   taking whole rows in tiles of FWD_COLS units.
 *
 * dense_update(delta, x, w, bias, m, n, k, alpha, decay, accumulate)
 *   w[j][c] <- decay w[j][c] + alpha sum_i delta[i][j] x[i][c]    (accumulate = 1: SGD)
 *   w[j][c] <- alpha sum_i delta[i][j] x[i][c]                     (accumulate = 0: gradient)
 *   bias[j] <- (accumulate ? bias[j] : 0) + alpha sum_i delta[i][j]
 *   delta: m x n, x: m x k, w: n x k, bias: n.
 *   Work-items: ceil(n / (UPD_ROWS UPD_BLOCKS)) * ceil(k / (UPD_VECS * VW)); those of the first
 *   column block
 *   also do the bias, which saves the separate bias kernel.
 *
 * Tiles past the last row or unit read a clamped (valid) row and store nothing. Vector loads may
 * read up to BT_DENSE_PAD floats past the end of a row (the next row, or the padding every
 * buffer has at its end); those lanes are zeroed (forward) or never stored (backward, update), so
 * partial vectors need no scalar path. Each kernel's work is a per-tile function, which
 * dense_step (at the end) also runs, tile after tile, for a whole step in one work-item. */

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

#if VW == 1
typedef float floatv;
typedef int intv;
#define LOADV(p) (*(p))
#define STOREV(v, p) (*(p) = (v))
#define HSUM(v) (v)
#define LANES 0
#else
typedef CAT(float, VW) floatv;
typedef CAT(int, VW) intv;
#define LOADV(p) CAT(vload, VW)(0, p)
#define STOREV(v, p) CAT(vstore, VW)(v, 0, p)
#if VW == 2
#define LANES ((intv)(0, 1))
#elif VW == 4
#define LANES ((intv)(0, 1, 2, 3))
#elif VW == 8
#define LANES ((intv)(0, 1, 2, 3, 4, 5, 6, 7))
#elif VW == 16
#define LANES ((intv)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
#endif
#if VW == 2
#define HSUM(v) ((v).s0 + (v).s1)
#elif VW == 4
#define HSUM(v) (((v).s0 + (v).s1) + ((v).s2 + (v).s3))
#elif VW == 8
#define HSUM(v) hsum4((v).lo + (v).hi)
#elif VW == 16
#define HSUM(v) hsum4(((v).lo.lo + (v).lo.hi) + ((v).hi.lo + (v).hi.hi))
#endif
#endif

#if VW == 8 || VW == 16
float hsum4(float4 v) { return (v.s0 + v.s1) + (v.s2 + v.s3); }
#endif

/* The lanes of v below `valid`, the others zero. */
floatv keep_lanes(floatv v, int valid)
{
#if VW == 1
    return valid > 0 ? v : 0.0f;
#else
    return select((floatv)0.0f, v, LANES < valid);
#endif
}

/* Stores the first `valid` lanes of v at p (all of them when valid >= VW). */
void store_lanes(floatv v, __global float *p, uint valid)
{
    if (valid >= VW) {
        STOREV(v, p);
        return;
    }
    float lanes[VW];
    STOREV(v, lanes);
    for (uint i = 0; i < valid; ++i)
        p[i] = lanes[i];
}

floatv dense_derivative(floatv a, uint act)
{
    if (act == BT_ACT_SIGMOID)
        return a * (1.0f - a);
    if (act == BT_ACT_TANH)
        return 1.0f - a * a;
    return select((floatv)0.0f, (floatv)1.0f, a > 0.0f);
}

/* acc[r][c] += xv[r] * wv[c], lane by lane. */
void fma_tile(floatv acc[FWD_ROWS][FWD_COLS], const floatv xv[FWD_ROWS],
              const floatv wv[FWD_COLS])
{
#pragma unroll
    for (uint r = 0; r < FWD_ROWS; ++r)
#pragma unroll
        for (uint c = 0; c < FWD_COLS; ++c)
            acc[r][c] = fma(xv[r], wv[c], acc[r][c]);
}

/* z[r][c] = sum_p x[i0 + r][p] w[j0 + c][p] for one tile; rows and units past the end read the
 * last valid one (the caller stores nothing for them). */
void forward_tile(__global const float *x, __global const float *w, uint m, uint n, uint k,
                  uint i0, uint j0, float z[FWD_ROWS][FWD_COLS])
{
    __global const float *xr[FWD_ROWS];
    __global const float *wr[FWD_COLS];
#pragma unroll
    for (uint r = 0; r < FWD_ROWS; ++r)
        xr[r] = x + (size_t)min(i0 + r, m - 1) * k;
#pragma unroll
    for (uint c = 0; c < FWD_COLS; ++c)
        wr[c] = w + (size_t)min(j0 + c, n - 1) * k;

    floatv acc[FWD_ROWS][FWD_COLS];
#pragma unroll
    for (uint r = 0; r < FWD_ROWS; ++r)
#pragma unroll
        for (uint c = 0; c < FWD_COLS; ++c)
            acc[r][c] = 0.0f;
    uint kv = k - k % VW;
    for (uint p = 0; p < kv; p += VW) {
        floatv xv[FWD_ROWS], wv[FWD_COLS];
#pragma unroll
        for (uint r = 0; r < FWD_ROWS; ++r)
            xv[r] = LOADV(xr[r] + p);
#pragma unroll
        for (uint c = 0; c < FWD_COLS; ++c)
            wv[c] = LOADV(wr[c] + p);
        fma_tile(acc, xv, wv);
    }
    if (kv < k) {
        floatv xv[FWD_ROWS], wv[FWD_COLS];
#pragma unroll
        for (uint r = 0; r < FWD_ROWS; ++r)
            xv[r] = keep_lanes(LOADV(xr[r] + kv), (int)(k - kv));
#pragma unroll
        for (uint c = 0; c < FWD_COLS; ++c)
            wv[c] = keep_lanes(LOADV(wr[c] + kv), (int)(k - kv));
        fma_tile(acc, xv, wv);
    }
#pragma unroll
    for (uint r = 0; r < FWD_ROWS; ++r)
#pragma unroll
        for (uint c = 0; c < FWD_COLS; ++c)
            z[r][c] = HSUM(acc[r][c]);
}

/* Tile t of out = f(x w^T + bias) (act = BT_ACT_NONE: the product alone). */
void forward_store(uint t, __global const float *x, __global const float *w,
                   __global const float *bias, __global float *out, uint m, uint n, uint k,
                   uint act)
{
    uint tiles_n = (n + FWD_COLS - 1) / FWD_COLS;
    uint i0 = t / tiles_n * FWD_ROWS, j0 = t % tiles_n * FWD_COLS;
    if (i0 >= m)
        return;
    float z[FWD_ROWS][FWD_COLS];
    forward_tile(x, w, m, n, k, i0, j0, z);
#pragma unroll
    for (uint r = 0; r < FWD_ROWS; ++r) {
#pragma unroll
        for (uint c = 0; c < FWD_COLS; ++c) {
            uint i = i0 + r, j = j0 + c;
            if (i < m && j < n)
                out[(size_t)i * n + j] =
                    act == BT_ACT_NONE ? z[r][c] : activate(z[r][c] + bias[j], act);
        }
    }
}

__kernel void dense_forward(__global const float *x, __global const float *w,
                            __global const float *bias, __global float *out, uint m, uint n,
                            uint k, uint act)
{
    forward_store(get_global_id(0), x, w, bias, out, m, n, k, act);
}

/* Rows t * FWD_ROWS ... of the output layer: za = x w^T, then output.cl's row_delta. */
void output_rows(uint t, __global const float *x, __global const float *w,
                 __global const float *bias, __global const int *labels, __global float *za,
                 __global float *delta, uint m, uint n, uint k, uint kind)
{
    uint i0 = t * FWD_ROWS;
    if (i0 >= m)
        return;
    for (uint j0 = 0; j0 < n; j0 += FWD_COLS) {
        float z[FWD_ROWS][FWD_COLS];
        forward_tile(x, w, m, n, k, i0, j0, z);
#pragma unroll
        for (uint r = 0; r < FWD_ROWS; ++r)
#pragma unroll
            for (uint c = 0; c < FWD_COLS; ++c)
                if (i0 + r < m && j0 + c < n)
                    za[(size_t)(i0 + r) * n + j0 + c] = z[r][c];
    }
    for (uint r = 0; r < FWD_ROWS && i0 + r < m; ++r) {
        size_t row = (size_t)(i0 + r) * n;
        row_delta(za + row, bias, labels[i0 + r], delta + row, n, kind);
    }
}

__kernel void dense_output(__global const float *x, __global const float *w,
                           __global const float *bias, __global const int *labels,
                           __global float *za, __global float *delta, uint m, uint n, uint k,
                           uint kind)
{
    output_rows(get_global_id(0), x, w, bias, labels, za, delta, m, n, k, kind);
}

/* Tile t of out = (delta w) * f'(a). */
void backward_tile(uint t, __global const float *delta, __global const float *w,
                   __global const float *a, __global float *out, uint m, uint n, uint k, uint act)
{
    uint width = BWD_VECS * VW;
    uint tiles_k = (k + width - 1) / width;
    uint i0 = t / tiles_k * BWD_ROWS, c0 = t % tiles_k * width;
    if (i0 >= m)
        return;
    __global const float *dr[BWD_ROWS];
#pragma unroll
    for (uint r = 0; r < BWD_ROWS; ++r)
        dr[r] = delta + (size_t)min(i0 + r, m - 1) * n;

    floatv acc[BWD_ROWS][BWD_VECS];
#pragma unroll
    for (uint r = 0; r < BWD_ROWS; ++r)
#pragma unroll
        for (uint v = 0; v < BWD_VECS; ++v)
            acc[r][v] = 0.0f;
    for (uint j = 0; j < n; ++j) {
        __global const float *wj = w + (size_t)j * k + c0;
        floatv wv[BWD_VECS];
#pragma unroll
        for (uint v = 0; v < BWD_VECS; ++v)
            wv[v] = LOADV(wj + v * VW);
#pragma unroll
        for (uint r = 0; r < BWD_ROWS; ++r) {
            floatv d = dr[r][j];
#pragma unroll
            for (uint v = 0; v < BWD_VECS; ++v)
                acc[r][v] = fma(d, wv[v], acc[r][v]);
        }
    }
#pragma unroll
    for (uint r = 0; r < BWD_ROWS; ++r) {
        uint i = i0 + r;
        if (i < m) {
#pragma unroll
            for (uint v = 0; v < BWD_VECS; ++v) {
                uint c = c0 + v * VW;
                if (c < k) {
                    size_t at = (size_t)i * k + c;
                    store_lanes(acc[r][v] * dense_derivative(LOADV(a + at), act), out + at,
                                k - c);
                }
            }
        }
    }
}

__kernel void dense_backward(__global const float *delta, __global const float *w,
                             __global const float *a, __global float *out, uint m, uint n,
                             uint k, uint act)
{
    backward_tile(get_global_id(0), delta, w, a, out, m, n, k, act);
}

/* acc[r][v] += sum over rows i0 .. i1-1 of delta[i][jr[r]] x[i][c0 + v VW ..]. */
void update_rows(floatv acc[UPD_ROWS][UPD_VECS], __global const float *delta,
                 __global const float *x, uint n, uint k, const uint jr[UPD_ROWS], uint c0,
                 uint i0, uint i1)
{
    for (uint i = i0; i < i1; ++i) {
        __global const float *xi = x + (size_t)i * k + c0;
        __global const float *di = delta + (size_t)i * n;
        floatv xv[UPD_VECS];
#pragma unroll
        for (uint v = 0; v < UPD_VECS; ++v)
            xv[v] = LOADV(xi + v * VW);
#pragma unroll
        for (uint r = 0; r < UPD_ROWS; ++r) {
            floatv d = di[jr[r]];
#pragma unroll
            for (uint v = 0; v < UPD_VECS; ++v)
                acc[r][v] = fma(d, xv[v], acc[r][v]);
        }
    }
}

/* Tile t of the update of w (and, for the first column block, of bias): UPD_BLOCKS blocks of
 * UPD_ROWS units by one strip of UPD_VECS vectors. With several blocks the rows of x are taken
 * UPD_CHUNK at a time for every block in turn, so that the chunk of the strip is read from the
 * core's first-level cache by all but the first block. */
void update_tile(uint t, __global const float *delta, __global const float *x, __global float *w,
                 __global float *bias, uint m, uint n, uint k, float alpha, float decay,
                 uint accumulate)
{
    /* Consecutive work-items take the same column strip of x for different units, so the strip
     * (m rows of `width` floats) is still in the core's cache for the next one. */
    uint width = UPD_VECS * VW;
    uint rows = UPD_ROWS * UPD_BLOCKS;
    uint tiles_n = (n + rows - 1) / rows;
    uint j_first = t % tiles_n * rows, c0 = t / tiles_n * width;
    if (c0 >= k)
        return;
    uint blocks = min((uint)UPD_BLOCKS, (n - j_first + UPD_ROWS - 1) / UPD_ROWS);
    floatv part[UPD_BLOCKS][UPD_ROWS][UPD_VECS];
    for (uint b = 0; b < blocks; ++b)
#pragma unroll
        for (uint r = 0; r < UPD_ROWS; ++r)
#pragma unroll
            for (uint v = 0; v < UPD_VECS; ++v)
                part[b][r][v] = 0.0f;
    uint chunk = UPD_BLOCKS == 1 ? m : UPD_CHUNK;
    for (uint i0 = 0; i0 < m; i0 += chunk) {
        uint i1 = min(i0 + chunk, m);
        for (uint b = 0; b < blocks; ++b) {
            uint j0 = j_first + b * UPD_ROWS;
            uint jr[UPD_ROWS];
#pragma unroll
            for (uint r = 0; r < UPD_ROWS; ++r)
                jr[r] = min(j0 + r, n - 1);
            floatv acc[UPD_ROWS][UPD_VECS];
#pragma unroll
            for (uint r = 0; r < UPD_ROWS; ++r)
#pragma unroll
                for (uint v = 0; v < UPD_VECS; ++v)
                    acc[r][v] = part[b][r][v];
            update_rows(acc, delta, x, n, k, jr, c0, i0, i1);
#pragma unroll
            for (uint r = 0; r < UPD_ROWS; ++r)
#pragma unroll
                for (uint v = 0; v < UPD_VECS; ++v)
                    part[b][r][v] = acc[r][v];
        }
    }
    for (uint b = 0; b < blocks; ++b) {
        uint j0 = j_first + b * UPD_ROWS;
#pragma unroll
        for (uint r = 0; r < UPD_ROWS; ++r) {
            if (j0 + r < n) {
#pragma unroll
                for (uint v = 0; v < UPD_VECS; ++v) {
                    uint c = c0 + v * VW;
                    if (c < k) {
                        __global float *wp = w + (size_t)(j0 + r) * k + c;
                        floatv step = alpha * part[b][r][v];
                        store_lanes(accumulate ? fma((floatv)decay, LOADV(wp), step) : step,
                                    wp, k - c);
                    }
                }
            }
        }
    }
    if (c0 == 0) {
        for (uint j = j_first; j < j_first + rows && j < n; ++j) {
            float s = 0.0f;
            for (uint i = 0; i < m; ++i)
                s += delta[(size_t)i * n + j];
            bias[j] = (accumulate ? bias[j] : 0.0f) + alpha * s;
        }
    }
}

__kernel void dense_update(__global const float *delta, __global const float *x,
                           __global float *w, __global float *bias, uint m, uint n, uint k,
                           float alpha, float decay, uint accumulate)
{
    update_tile(get_global_id(0), delta, x, w, bias, m, n, k, alpha, decay, accumulate);
}

/* dense_step(a0..a4, d1..d4, w1..w4, b1..b4, labels, layers, m, n0..n4, hidden, kind, alpha,
 *            decay)
 *   A whole SGD step of a network of up to 4 layers in one work-item, in order: the hidden
 *   layers' forward pass, the output layer, then from the top each layer's input gradient
 *   (before its weights change) and its update, all by the tile functions above. For small
 *   batches on CPUs, where a step's kernels cost more to launch than to run. a_l: m x n_l
 *   (a0 the batch), d_l: m x n_l, w_l: n_l x n_{l-1}, b_l: n_l; the arguments of layers past
 *   `layers` are ignored. */
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void
dense_step(__global float *a0, __global float *a1, __global float *a2, __global float *a3,
           __global float *a4, __global float *d1, __global float *d2, __global float *d3,
           __global float *d4, __global float *w1, __global float *w2, __global float *w3,
           __global float *w4, __global float *b1, __global float *b2, __global float *b3,
           __global float *b4, __global const int *labels, uint layers, uint m, uint n0, uint n1,
           uint n2, uint n3, uint n4, uint hidden, uint kind, float alpha, float decay)
{
    __global float *a[5] = {a0, a1, a2, a3, a4};
    __global float *d[5] = {d1, d1, d2, d3, d4}; /* d[0] is never used */
    __global float *w[5] = {w1, w1, w2, w3, w4}; /* nor w[0], b[0] */
    __global float *b[5] = {b1, b1, b2, b3, b4};
    uint n[5] = {n0, n1, n2, n3, n4};
    uint L = layers;
    uint row_tiles = (m + FWD_ROWS - 1) / FWD_ROWS;
    for (uint l = 1; l < L; ++l) {
        uint tiles = row_tiles * ((n[l] + FWD_COLS - 1) / FWD_COLS);
        for (uint t = 0; t < tiles; ++t)
            forward_store(t, a[l - 1], w[l], b[l], a[l], m, n[l], n[l - 1], hidden);
    }
    for (uint t = 0; t < row_tiles; ++t)
        output_rows(t, a[L - 1], w[L], b[L], labels, a[L], d[L], m, n[L], n[L - 1], kind);
    for (uint l = L; l >= 1; --l) {
        if (l > 1) {
            uint width = BWD_VECS * VW;
            uint tiles = (m + BWD_ROWS - 1) / BWD_ROWS * ((n[l - 1] + width - 1) / width);
            for (uint t = 0; t < tiles; ++t)
                backward_tile(t, d[l], w[l], a[l - 1], d[l - 1], m, n[l], n[l - 1], hidden);
        }
        uint width = UPD_VECS * VW, rows = UPD_ROWS * UPD_BLOCKS;
        uint tiles = (n[l] + rows - 1) / rows * ((n[l - 1] + width - 1) / width);
        for (uint t = 0; t < tiles; ++t)
            update_tile(t, d[l], a[l - 1], w[l], b[l], m, n[l], n[l - 1], alpha, decay, 1u);
    }
}
