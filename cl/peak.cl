/* FMA throughput: the device's single-precision arithmetic ceiling, against which GEMM speeds are
 * given. Each work-item runs FMA_CHAINS independent chains of vector fused multiply-adds, so that
 * the FMA latency is hidden and the SIMD units stay full; the chains converge to 1 (a * B + C
 * with B < 1), so no value overflows or turns denormal however long the loop runs.
 *
 * Build option -DPEAK_VEC=<1|2|4|8|16>: the vector width (default 8).
 *
 * fma_peak(out, iterations, seed)
 *   out:        one float per work-item: the sum of its chains, written so that the compiler
 *               keeps the arithmetic (the host never reads it)
 *   iterations: loop trips; one trip is FMA_CHAINS * PEAK_VEC FMAs, 2 FLOPs each
 *   seed:       a start value the compiler cannot fold (any finite float, e.g. 0.5) */

#ifndef PEAK_VEC
#define PEAK_VEC 8
#endif
#define FMA_CHAINS 8

#if PEAK_VEC == 1
typedef float vec;
#elif PEAK_VEC == 2
typedef float2 vec;
#elif PEAK_VEC == 4
typedef float4 vec;
#elif PEAK_VEC == 8
typedef float8 vec;
#elif PEAK_VEC == 16
typedef float16 vec;
#else
#error "PEAK_VEC must be 1, 2, 4, 8 or 16"
#endif

__kernel void fma_peak(__global float *out, uint iterations, float seed)
{
    float start = seed + 1e-6f * (float)(get_global_id(0) & 1023);
    vec a0 = (vec)(start), a1 = a0 + 0.1f, a2 = a0 + 0.2f, a3 = a0 + 0.3f;
    vec a4 = a0 + 0.4f, a5 = a0 + 0.5f, a6 = a0 + 0.6f, a7 = a0 + 0.7f;
    const vec b = (vec)(0.9990234375f), c = (vec)(0.0009765625f);
    for (uint i = 0; i < iterations; ++i) {
        a0 = fma(a0, b, c);
        a1 = fma(a1, b, c);
        a2 = fma(a2, b, c);
        a3 = fma(a3, b, c);
        a4 = fma(a4, b, c);
        a5 = fma(a5, b, c);
        a6 = fma(a6, b, c);
        a7 = fma(a7, b, c);
    }
    vec sum = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
    /* Halve the vector down to one float (dot() only takes up to 4 components). */
#if PEAK_VEC == 16
    float8 s8 = sum.lo + sum.hi;
#elif PEAK_VEC == 8
    float8 s8 = sum;
#endif
#if PEAK_VEC >= 8
    float4 s4 = s8.lo + s8.hi;
#elif PEAK_VEC == 4
    float4 s4 = sum;
#endif
#if PEAK_VEC >= 4
    float2 s2 = s4.lo + s4.hi;
#elif PEAK_VEC == 2
    float2 s2 = sum;
#endif
#if PEAK_VEC >= 2
    out[get_global_id(0)] = s2.x + s2.y;
#else
    out[get_global_id(0)] = sum;
#endif
}
