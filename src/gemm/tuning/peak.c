/* The device's measured ceilings: FMA throughput (cl/peak.cl) and copy bandwidth
 * (cl/bandwidth.cl), timed with profiling events so that only device time counts. */
#include <stdio.h>
#include <string.h>

#include "batchtune_gemm_tuning.h"
#include "common/clock.h"
#include "common/error.h"
#include "device/device_impl.h"

/* A measurement is repeated until one run lasts this long, then the best of TIMED_RUNS is kept:
 * long enough to dwarf launch overheads, short enough for the whole call to take ~1 s. */
#define TARGET_SECONDS 0.05
#define TIMED_RUNS 3
/* Work-items per compute unit: enough to fill a GPU's SIMD lanes many times over; on a CPU
 * each work-group of them is one thread's loop. */
#define ITEMS_PER_UNIT 4096
#define FMA_CHAINS 8 /* as in cl/peak.cl */
/* The copied buffer: far larger than any cache, bounded by the device's limits below. */
#define COPY_BYTES ((size_t)256 << 20)

/* Device seconds of one run of `kernel` over `global` work-items. */
static bt_status run_timed(bt_device *dev, cl_kernel kernel, size_t global, size_t local,
                           double *seconds)
{
    cl_event event = NULL;
    cl_int err = clEnqueueNDRangeKernel(dev->queue, kernel, 1, NULL, &global, &local, 0, NULL,
                                        &event);
    if (err != CL_SUCCESS)
        return bt_fail_cl(err, "clEnqueueNDRangeKernel (peak measurement)");
    cl_ulong start = 0, end = 0;
    err = clWaitForEvents(1, &event);
    if (err == CL_SUCCESS)
        err = clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_START, sizeof start, &start,
                                      NULL);
    if (err == CL_SUCCESS)
        err = clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL);
    clReleaseEvent(event);
    if (err != CL_SUCCESS)
        return bt_fail_cl(err, "timing the peak measurement kernel");
    *seconds = end > start ? (double)(end - start) * 1e-9 : 1e-9;
    return BT_OK;
}

static size_t round_up(size_t value, size_t multiple)
{
    return (value + multiple - 1) / multiple * multiple;
}

static size_t local_size(const bt_device *dev)
{
    size_t max_wg = dev->info.max_work_group_size;
    return max_wg < 64 ? max_wg : 64;
}

/* GFLOP/s of fma_peak built with vector width `width`. */
static bt_status fma_gflops(bt_device *dev, bt_buffer *out, size_t global, unsigned width,
                            double *gflops)
{
    char options[64];
    snprintf(options, sizeof options, "-cl-std=CL1.2 -DPEAK_VEC=%u", width);
    bt_program *program = NULL;
    cl_kernel kernel = NULL;
    BT_TRY(bt_program_create(dev, "peak.cl", options, &program, NULL));
    bt_status status = bt_program_create_kernel(program, "fma_peak", &kernel);
    cl_mem mem = bt_buffer_cl_mem(out);
    float seed = 0.5f;
    cl_uint iterations = 64;
    double seconds = 0.0, best = 0.0;
    if (status == BT_OK) {
        cl_int err = clSetKernelArg(kernel, 0, sizeof mem, &mem);
        if (err == CL_SUCCESS)
            err = clSetKernelArg(kernel, 2, sizeof seed, &seed);
        if (err != CL_SUCCESS)
            status = bt_fail_cl(err, "clSetKernelArg (fma_peak)");
    }
    /* Grow the loop until a run is long enough to time, then keep the fastest of a few. */
    for (int run = 0; status == BT_OK && run < TIMED_RUNS;) {
        cl_int err = clSetKernelArg(kernel, 1, sizeof iterations, &iterations);
        if (err != CL_SUCCESS) {
            status = bt_fail_cl(err, "clSetKernelArg (fma_peak)");
            break;
        }
        status = run_timed(dev, kernel, global, local_size(dev), &seconds);
        if (status != BT_OK)
            break;
        if (seconds < TARGET_SECONDS && iterations < (1u << 30)) {
            iterations *= seconds < TARGET_SECONDS / 8 ? 8u : 2u;
            continue;
        }
        double flops = 2.0 * FMA_CHAINS * width * (double)iterations * (double)global;
        best = flops / seconds > best ? flops / seconds : best;
        ++run;
    }
    if (kernel)
        clReleaseKernel(kernel);
    bt_program_destroy(program);
    *gflops = best * 1e-9;
    return status;
}

static bt_status measure_fma(bt_device *dev, double *gflops)
{
    size_t global = round_up((size_t)dev->info.compute_units * ITEMS_PER_UNIT, local_size(dev));
    bt_buffer *out = NULL;
    BT_TRY(bt_buffer_create(dev, global * sizeof(float), &out));
    /* The best width differs between devices (a GPU lane is scalar, a CPU core's SIMD is 4 to 16
     * floats wide): the fastest of the usual widths is the ceiling. */
    static const unsigned widths[] = {4, 8, 16};
    bt_status status = BT_OK;
    *gflops = 0.0;
    for (size_t i = 0; i < sizeof widths / sizeof widths[0] && status == BT_OK; ++i) {
        double g = 0.0;
        status = fma_gflops(dev, out, global, widths[i], &g);
        *gflops = g > *gflops ? g : *gflops;
    }
    bt_buffer_destroy(out);
    return status;
}

static bt_status measure_copy(bt_device *dev, double *gbps)
{
    size_t bytes = COPY_BYTES;
    if (bytes > dev->info.max_alloc_bytes)
        bytes = (size_t)dev->info.max_alloc_bytes;
    if (bytes > dev->info.global_mem_bytes / 4)
        bytes = (size_t)(dev->info.global_mem_bytes / 4);
    bytes = bytes / 16 * 16;
    if (bytes == 0)
        return bt_fail(BT_ERR_DEVICE_MEMORY, "the device has too little memory to measure its "
                                             "bandwidth");
    cl_uint count = (cl_uint)(bytes / 16);
    bt_buffer *src = NULL, *dst = NULL;
    bt_program *program = NULL;
    cl_kernel kernel = NULL;
    bt_status status = bt_buffer_create(dev, bytes, &src);
    if (status == BT_OK)
        status = bt_buffer_create(dev, bytes, &dst);
    if (status == BT_OK) /* touch every page before timing */
        status = bt_buffer_fill_float(src, 0, bytes / sizeof(float), 0.0f);
    if (status == BT_OK)
        status = bt_program_create(dev, "bandwidth.cl", "-cl-std=CL1.2", &program, NULL);
    if (status == BT_OK)
        status = bt_program_create_kernel(program, "copy_float4", &kernel);
    if (status == BT_OK) {
        cl_mem d = bt_buffer_cl_mem(dst), s = bt_buffer_cl_mem(src);
        cl_int err = clSetKernelArg(kernel, 0, sizeof d, &d);
        if (err == CL_SUCCESS)
            err = clSetKernelArg(kernel, 1, sizeof s, &s);
        if (err == CL_SUCCESS)
            err = clSetKernelArg(kernel, 2, sizeof count, &count);
        if (err != CL_SUCCESS)
            status = bt_fail_cl(err, "clSetKernelArg (copy_float4)");
    }
    size_t local = local_size(dev), global = round_up(count, local);
    double best = 0.0, seconds = 0.0;
    /* The first run is untimed: it also faults in the destination's pages. */
    for (int run = 0; status == BT_OK && run <= TIMED_RUNS; ++run) {
        status = run_timed(dev, kernel, global, local, &seconds);
        if (status == BT_OK && run > 0 && 2.0 * (double)bytes / seconds > best)
            best = 2.0 * (double)bytes / seconds;
    }
    if (kernel)
        clReleaseKernel(kernel);
    bt_program_destroy(program);
    bt_buffer_destroy(dst);
    bt_buffer_destroy(src);
    *gbps = best * 1e-9;
    return status;
}

/* Back-to-back launches of a one-work-item kernel, timed on the host's clock: a kernel's fixed
 * cost when nothing waits between launches, as in a training step. */
#define LAUNCHES 2000
static bt_status measure_launch(bt_device *dev, bt_buffer *out, double *us)
{
    bt_program *program = NULL;
    cl_kernel kernel = NULL;
    BT_TRY(bt_program_create(dev, "peak.cl", "-cl-std=CL1.2 -DPEAK_VEC=4", &program, NULL));
    bt_status status = bt_program_create_kernel(program, "fma_peak", &kernel);
    cl_mem mem = bt_buffer_cl_mem(out);
    cl_uint iterations = 1;
    float seed = 0.5f;
    cl_int err = CL_SUCCESS;
    if (status == BT_OK) {
        err = clSetKernelArg(kernel, 0, sizeof mem, &mem);
        if (err == CL_SUCCESS)
            err = clSetKernelArg(kernel, 1, sizeof iterations, &iterations);
        if (err == CL_SUCCESS)
            err = clSetKernelArg(kernel, 2, sizeof seed, &seed);
    }
    size_t one = 1;
    double best = 0.0;
    for (int run = 0; status == BT_OK && err == CL_SUCCESS && run <= TIMED_RUNS; ++run) {
        double start = bt_clock_seconds();
        for (int i = 0; i < LAUNCHES && err == CL_SUCCESS; ++i)
            err = clEnqueueNDRangeKernel(dev->queue, kernel, 1, NULL, &one, &one, 0, NULL, NULL);
        if (err == CL_SUCCESS)
            err = clFinish(dev->queue);
        double seconds = (bt_clock_seconds() - start) / LAUNCHES;
        if (run > 0 && (best == 0.0 || seconds < best)) /* run 0 warms up */
            best = seconds;
    }
    if (status == BT_OK && err != CL_SUCCESS)
        status = bt_fail_cl(err, "timing back-to-back kernel launches");
    if (kernel)
        clReleaseKernel(kernel);
    bt_program_destroy(program);
    *us = best * 1e6;
    return status;
}

bt_status bt_device_measure_peak(bt_device *dev, bt_device_peak *out)
{
    if (!dev || !out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_device_measure_peak: NULL argument");
    memset(out, 0, sizeof *out);
    bt_device_peak peak;
    BT_TRY(measure_fma(dev, &peak.fma_gflops));
    BT_TRY(measure_copy(dev, &peak.copy_gbps));
    bt_buffer *scratch = NULL;
    BT_TRY(bt_buffer_create(dev, 64 * sizeof(float), &scratch));
    bt_status status = measure_launch(dev, scratch, &peak.launch_us);
    bt_buffer_destroy(scratch);
    BT_TRY(status);
    *out = peak;
    return BT_OK;
}
