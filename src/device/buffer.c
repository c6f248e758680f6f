/* Device buffers: allocation checked against the device's limits, and tracked per device. */
#include <stdlib.h>

#include "device/device_impl.h"
#include "common/error.h"

struct bt_buffer {
    bt_device *device; /* not owned */
    cl_mem mem;        /* owned */
    size_t size;
};

static double mib(uint64_t bytes) { return (double)bytes / (1024.0 * 1024.0); }

bt_status bt_buffer_create(bt_device *dev, size_t bytes, bt_buffer **out)
{
    if (!out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_buffer_create: out must not be NULL");
    *out = NULL;
    if (!dev || bytes == 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "bt_buffer_create: need a device and a size above zero");
    const bt_device_info *info = &dev->info;
    if ((uint64_t)bytes > info->max_alloc_bytes)
        return bt_fail(BT_ERR_DEVICE_MEMORY,
                       "cannot allocate %.1f MiB on '%s': its largest single allocation "
                       "(CL_DEVICE_MAX_MEM_ALLOC_SIZE) is %.1f MiB",
                       mib(bytes), info->name, mib(info->max_alloc_bytes));
    if (dev->allocated_bytes + bytes > info->global_mem_bytes)
        return bt_fail(BT_ERR_DEVICE_MEMORY,
                       "cannot allocate %.1f MiB on '%s': %.1f MiB are already in use and the "
                       "device has %.1f MiB of global memory",
                       mib(bytes), info->name, mib(dev->allocated_bytes),
                       mib(info->global_mem_bytes));

    bt_buffer *buf = calloc(1, sizeof *buf);
    if (!buf)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    cl_int err = CL_SUCCESS;
    buf->mem = clCreateBuffer(dev->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        free(buf);
        return bt_fail_cl(err, "clCreateBuffer");
    }
    buf->device = dev;
    buf->size = bytes;
    dev->allocated_bytes += bytes;
    *out = buf;
    return BT_OK;
}

void bt_buffer_destroy(bt_buffer *buf)
{
    if (!buf)
        return;
    buf->device->allocated_bytes -= buf->size;
    clReleaseMemObject(buf->mem);
    free(buf);
}

size_t bt_buffer_size(const bt_buffer *buf) { return buf ? buf->size : 0; }
cl_mem bt_buffer_cl_mem(const bt_buffer *buf) { return buf ? buf->mem : NULL; }

static bt_status check_range(const bt_buffer *buf, size_t offset, const void *host, size_t bytes,
                             const char *what)
{
    if (!buf || (!host && bytes))
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "%s: buffer and host pointer must not be NULL",
                       what);
    if (offset > buf->size || bytes > buf->size - offset)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "%s: bytes [%zu, %zu + %zu) lie outside the buffer of %zu bytes", what,
                       offset, offset, bytes, buf->size);
    return BT_OK;
}

bt_status bt_buffer_write(bt_buffer *buf, size_t offset, const void *src, size_t bytes)
{
    BT_TRY(check_range(buf, offset, src, bytes, "bt_buffer_write"));
    if (bytes == 0)
        return BT_OK;
    BT_CL_TRY(clEnqueueWriteBuffer(buf->device->queue, buf->mem, CL_TRUE, offset, bytes, src, 0,
                                   NULL, NULL),
              "clEnqueueWriteBuffer");
    return BT_OK;
}

bt_status bt_buffer_read(const bt_buffer *buf, size_t offset, void *dst, size_t bytes)
{
    BT_TRY(check_range(buf, offset, dst, bytes, "bt_buffer_read"));
    if (bytes == 0)
        return BT_OK;
    BT_CL_TRY(clEnqueueReadBuffer(buf->device->queue, buf->mem, CL_TRUE, offset, bytes, dst, 0,
                                  NULL, NULL),
              "clEnqueueReadBuffer");
    return BT_OK;
}

bt_status bt_buffer_fill_float(bt_buffer *buf, size_t offset, size_t count, float value)
{
    if (!buf)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_buffer_fill_float: buffer is NULL");
    if (offset > buf->size / sizeof(float) || count > buf->size / sizeof(float) - offset)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "bt_buffer_fill_float: floats [%zu, %zu + %zu) lie outside the buffer of "
                       "%zu floats",
                       offset, offset, count, buf->size / sizeof(float));
    if (count == 0)
        return BT_OK;
    BT_CL_TRY(clEnqueueFillBuffer(buf->device->queue, buf->mem, &value, sizeof value,
                                  offset * sizeof(float), count * sizeof(float), 0, NULL, NULL),
              "clEnqueueFillBuffer");
    return BT_OK;
}
