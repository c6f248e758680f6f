/* Device layer: enumerating OpenCL platforms and devices, choosing one, and owning its context
 * and queue. */
#define _POSIX_C_SOURCE 200809L
#include "device/device_impl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/xdg_paths.h"

#define NO_PLATFORM_HINT                                                                        \
    "install an OpenCL ICD: pocl-opencl-icd for the CPU, or your GPU vendor's OpenCL driver"

const char *bt_device_type_str(bt_device_type type)
{
    switch (type) {
    case BT_DEVICE_GPU:
        return "gpu";
    case BT_DEVICE_CPU:
        return "cpu";
    case BT_DEVICE_ACCELERATOR:
        return "accelerator";
    case BT_DEVICE_OTHER:
        break;
    }
    return "other";
}

/* All platforms and devices: the info table plus the OpenCL ids behind each entry. */
typedef struct device_table {
    bt_device_info *info;
    cl_platform_id *platforms; /* per entry */
    cl_device_id *devices;     /* per entry */
    size_t count;
} device_table;

static void device_table_free(device_table *t)
{
    free(t->info);
    free(t->platforms);
    free(t->devices);
    memset(t, 0, sizeof *t);
}

static void get_platform_string(cl_platform_id p, cl_platform_info what, char *dst, size_t size)
{
    if (clGetPlatformInfo(p, what, size, dst, NULL) != CL_SUCCESS)
        snprintf(dst, size, "?");
    dst[size - 1] = '\0';
}

static void get_device_string(cl_device_id d, cl_device_info what, char *dst, size_t size)
{
    /* Strings longer than dst fail with CL_INVALID_VALUE: read them whole, then cut. */
    size_t needed = 0;
    dst[0] = '\0';
    if (clGetDeviceInfo(d, what, 0, NULL, &needed) != CL_SUCCESS || needed == 0)
        return;
    char *full = malloc(needed);
    if (!full)
        return;
    if (clGetDeviceInfo(d, what, needed, full, NULL) == CL_SUCCESS)
        snprintf(dst, size, "%s", full);
    free(full);
}

static bool device_has_extension(cl_device_id d, const char *extension)
{
    size_t needed = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &needed) != CL_SUCCESS || !needed)
        return false;
    char *list = malloc(needed);
    if (!list)
        return false;
    bool found = false;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, needed, list, NULL) == CL_SUCCESS) {
        size_t len = strlen(extension);
        for (const char *p = strstr(list, extension); p; p = strstr(p + 1, extension)) {
            bool starts = p == list || p[-1] == ' ';
            bool ends = p[len] == '\0' || p[len] == ' ';
            if (starts && ends) {
                found = true;
                break;
            }
        }
    }
    free(list);
    return found;
}

static bt_status fill_device_info(cl_platform_id p, cl_device_id d, bt_device_info *info)
{
    cl_device_type type = 0;
    cl_uint units = 0;
    cl_ulong global = 0, max_alloc = 0;
    size_t max_wg = 0;
    BT_CL_TRY(clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL),
              "clGetDeviceInfo(CL_DEVICE_TYPE)");
    BT_CL_TRY(clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof units, &units, NULL),
              "clGetDeviceInfo(CL_DEVICE_MAX_COMPUTE_UNITS)");
    BT_CL_TRY(clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof global, &global, NULL),
              "clGetDeviceInfo(CL_DEVICE_GLOBAL_MEM_SIZE)");
    BT_CL_TRY(clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof max_alloc, &max_alloc, NULL),
              "clGetDeviceInfo(CL_DEVICE_MAX_MEM_ALLOC_SIZE)");
    BT_CL_TRY(clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof max_wg, &max_wg, NULL),
              "clGetDeviceInfo(CL_DEVICE_MAX_WORK_GROUP_SIZE)");

    get_platform_string(p, CL_PLATFORM_NAME, info->platform_name, sizeof info->platform_name);
    get_platform_string(p, CL_PLATFORM_VENDOR, info->platform_vendor,
                        sizeof info->platform_vendor);
    get_device_string(d, CL_DEVICE_NAME, info->name, sizeof info->name);
    get_device_string(d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    get_device_string(d, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    get_device_string(d, CL_DEVICE_VERSION, info->device_version, sizeof info->device_version);
    get_device_string(d, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version,
                      sizeof info->opencl_c_version);
    info->type = (type & CL_DEVICE_TYPE_GPU)           ? BT_DEVICE_GPU
                 : (type & CL_DEVICE_TYPE_CPU)         ? BT_DEVICE_CPU
                 : (type & CL_DEVICE_TYPE_ACCELERATOR) ? BT_DEVICE_ACCELERATOR
                                                       : BT_DEVICE_OTHER;
    info->compute_units = units;
    info->global_mem_bytes = global;
    info->max_alloc_bytes = max_alloc;
    info->max_work_group_size = max_wg;
    info->fp16 = device_has_extension(d, "cl_khr_fp16");
    info->fp64 = device_has_extension(d, "cl_khr_fp64");
    return BT_OK;
}

/* Appends the devices of one platform; a platform that reports no devices adds nothing. */
static bt_status add_platform_devices(device_table *t, cl_platform_id p, size_t platform_index)
{
    cl_uint n = 0;
    cl_int err = clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, NULL, &n);
    if (err == CL_DEVICE_NOT_FOUND || (err == CL_SUCCESS && n == 0))
        return BT_OK;
    if (err != CL_SUCCESS)
        return BT_OK; /* a broken platform must not hide the working ones */
    cl_device_id *ids = calloc(n, sizeof *ids);
    bt_device_info *info = realloc(t->info, (t->count + n) * sizeof *info);
    if (info)
        t->info = info;
    cl_platform_id *plats = realloc(t->platforms, (t->count + n) * sizeof *plats);
    if (plats)
        t->platforms = plats;
    cl_device_id *devs = realloc(t->devices, (t->count + n) * sizeof *devs);
    if (devs)
        t->devices = devs;
    if (!ids || !info || !plats || !devs) {
        free(ids);
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory listing OpenCL devices");
    }
    err = clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, n, ids, NULL);
    if (err != CL_SUCCESS) {
        free(ids);
        return BT_OK;
    }
    for (cl_uint i = 0; i < n; ++i) {
        bt_device_info *entry = &t->info[t->count];
        memset(entry, 0, sizeof *entry);
        if (fill_device_info(p, ids[i], entry) != BT_OK)
            continue; /* skip a device that cannot describe itself */
        entry->index = t->count;
        entry->platform_index = platform_index;
        entry->platform_device_index = i;
        t->platforms[t->count] = p;
        t->devices[t->count] = ids[i];
        t->count++;
    }
    free(ids);
    return BT_OK;
}

static bt_status enumerate(device_table *t)
{
    memset(t, 0, sizeof *t);
    cl_uint n = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &n);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (err == CL_SUCCESS && n == 0))
        return bt_fail(BT_ERR_NO_PLATFORM, "no OpenCL platform found: %s", NO_PLATFORM_HINT);
    if (err != CL_SUCCESS)
        return bt_fail(BT_ERR_NO_PLATFORM, "no usable OpenCL platform: clGetPlatformIDs: %s (%d); %s",
                       bt_cl_error_name(err), (int)err, NO_PLATFORM_HINT);
    cl_platform_id *platforms = calloc(n, sizeof *platforms);
    if (!platforms)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory listing OpenCL platforms");
    err = clGetPlatformIDs(n, platforms, NULL);
    if (err != CL_SUCCESS) {
        free(platforms);
        return bt_fail_cl(err, "clGetPlatformIDs");
    }
    bt_status status = BT_OK;
    for (cl_uint i = 0; i < n && status == BT_OK; ++i)
        status = add_platform_devices(t, platforms[i], i);
    free(platforms);
    if (status == BT_OK && t->count == 0)
        status = bt_fail(BT_ERR_NO_DEVICE,
                         "%u OpenCL platform(s) found, but none reports a device: %s", n,
                         NO_PLATFORM_HINT);
    if (status != BT_OK)
        device_table_free(t);
    return status;
}

bt_status bt_device_list(bt_device_info **out, size_t *count)
{
    if (!out || !count)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_device_list: out and count must not be NULL");
    *out = NULL;
    *count = 0;
    device_table t;
    BT_TRY(enumerate(&t));
    *out = t.info;
    *count = t.count;
    t.info = NULL;
    device_table_free(&t);
    return BT_OK;
}

void bt_device_list_free(bt_device_info *list) { free(list); }

static bool parse_index(const char *s, size_t *value)
{
    if (!*s)
        return false;
    size_t v = 0;
    for (; *s; ++s) {
        if (!isdigit((unsigned char)*s) || v > (SIZE_MAX - 9) / 10)
            return false;
        v = v * 10 + (size_t)(*s - '0');
    }
    *value = v;
    return true;
}

static bool contains_ignoring_case(const char *haystack, const char *needle)
{
    size_t n = strlen(needle);
    for (; *haystack; ++haystack) {
        size_t i = 0;
        while (i < n && haystack[i] &&
               tolower((unsigned char)haystack[i]) == tolower((unsigned char)needle[i]))
            ++i;
        if (i == n)
            return true;
    }
    return n == 0;
}

static bool type_from_word(const char *word, bt_device_type *type)
{
    static const struct {
        const char *word;
        bt_device_type type;
    } words[] = {{"gpu", BT_DEVICE_GPU}, {"cpu", BT_DEVICE_CPU},
                 {"accelerator", BT_DEVICE_ACCELERATOR}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; ++i) {
        if (strlen(word) == strlen(words[i].word) && contains_ignoring_case(word, words[i].word)) {
            *type = words[i].type;
            return true;
        }
    }
    return false;
}

static bt_status no_match(const bt_device_info *list, size_t count, const char *selector)
{
    bt_fail(BT_ERR_NO_DEVICE, "no OpenCL device matches '%s'. Available devices:", selector);
    for (size_t i = 0; i < count; ++i) {
        char line[400];
        snprintf(line, sizeof line, "\n  %zu  (%zu:%zu)  %-11s  %s / %s", list[i].index,
                 list[i].platform_index, list[i].platform_device_index,
                 bt_device_type_str(list[i].type), list[i].platform_name, list[i].name);
        bt_fail_append(line);
    }
    return bt_fail_append("\nSelect one by index (0), platform:device (0:0), type (gpu, cpu, "
                          "accelerator) or part of its name.");
}

bt_status bt_device_select(const bt_device_info *list, size_t count, const char *selector,
                           size_t *index)
{
    if (!list || !index || count == 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_device_select: empty device list");
    if (!selector || !*selector) {
        for (size_t i = 0; i < count; ++i) {
            if (list[i].type == BT_DEVICE_GPU) {
                *index = i;
                return BT_OK;
            }
        }
        *index = 0;
        return BT_OK;
    }

    size_t wanted;
    if (parse_index(selector, &wanted)) {
        if (wanted < count) {
            *index = wanted;
            return BT_OK;
        }
        return no_match(list, count, selector);
    }

    const char *colon = strchr(selector, ':');
    if (colon) {
        char platform_part[32];
        size_t len = (size_t)(colon - selector);
        size_t platform, device;
        if (len < sizeof platform_part) {
            memcpy(platform_part, selector, len);
            platform_part[len] = '\0';
            if (parse_index(platform_part, &platform) && parse_index(colon + 1, &device)) {
                for (size_t i = 0; i < count; ++i) {
                    if (list[i].platform_index == platform &&
                        list[i].platform_device_index == device) {
                        *index = i;
                        return BT_OK;
                    }
                }
                return no_match(list, count, selector);
            }
        }
    }

    bt_device_type type;
    if (type_from_word(selector, &type)) {
        for (size_t i = 0; i < count; ++i) {
            if (list[i].type == type) {
                *index = i;
                return BT_OK;
            }
        }
        return no_match(list, count, selector);
    }

    for (size_t i = 0; i < count; ++i) {
        char full[sizeof list[i].platform_name + sizeof list[i].name + 2];
        snprintf(full, sizeof full, "%s %s", list[i].platform_name, list[i].name);
        if (contains_ignoring_case(full, selector)) {
            *index = i;
            return BT_OK;
        }
    }
    return no_match(list, count, selector);
}

bt_device_opts bt_device_opts_default(void)
{
    bt_device_opts opts = {.selector = NULL,
                           .cache_dir = NULL,
                           .use_program_cache = true,
                           .kernel_dir = NULL,
                           .apply_gemm_tuning = true,
                           .gemm_tuning_dir = NULL};
    return opts;
}

/* The cache folder: explicit, else $XDG_CACHE_HOME/batchtune, else $HOME/.cache/batchtune. */
static bt_status resolve_cache_dir(const bt_device_opts *opts, char **out)
{
    *out = NULL;
    if (!opts->use_program_cache)
        return BT_OK;
    if (opts->cache_dir) {
        *out = strdup(opts->cache_dir);
    } else {
        bool unset = false;
        *out = bt_xdg_batchtune_dir(BT_XDG_CACHE, &unset);
        if (unset)
            return BT_OK; /* nowhere to cache: build every time */
    }
    return *out ? BT_OK : bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
}

static bt_status open_context(bt_device *dev)
{
    cl_int err = CL_SUCCESS;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)dev->platform,
                                     0};
    dev->context = clCreateContext(props, 1, &dev->device, NULL, NULL, &err);
    if (err != CL_SUCCESS)
        return bt_fail_cl(err, "clCreateContext");
    dev->queue = clCreateCommandQueue(dev->context, dev->device, CL_QUEUE_PROFILING_ENABLE, &err);
    if (err != CL_SUCCESS)
        return bt_fail_cl(err, "clCreateCommandQueue");
    dev->transfer_queue =
        clCreateCommandQueue(dev->context, dev->device, CL_QUEUE_PROFILING_ENABLE, &err);
    if (err != CL_SUCCESS)
        return bt_fail_cl(err, "clCreateCommandQueue (transfer queue)");
    return BT_OK;
}

bt_status bt_device_open(const bt_device_opts *opts, bt_device **out)
{
    *out = NULL;
    bt_device_opts defaults = bt_device_opts_default();
    if (!opts)
        opts = &defaults;

    const char *selector = opts->selector;
    if (!selector)
        selector = getenv("BATCHTUNE_DEVICE");

    device_table t;
    BT_TRY(enumerate(&t));
    size_t index = 0;
    bt_status status = bt_device_select(t.info, t.count, selector, &index);
    if (status != BT_OK) {
        if (!opts->selector && selector)
            bt_fail_append("\n(The selector came from the environment variable BATCHTUNE_DEVICE.)");
        device_table_free(&t);
        return status;
    }

    bt_device *dev = calloc(1, sizeof *dev);
    if (!dev) {
        device_table_free(&t);
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory opening a device");
    }
    dev->info = t.info[index];
    dev->platform = t.platforms[index];
    dev->device = t.devices[index];
    device_table_free(&t);

    status = open_context(dev);
    if (status == BT_OK)
        status = resolve_cache_dir(opts, &dev->cache_dir);
    if (status == BT_OK && opts->kernel_dir) {
        dev->kernel_dir = strdup(opts->kernel_dir);
        if (!dev->kernel_dir)
            status = bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    if (status != BT_OK) {
        bt_device_destroy(dev);
        return status;
    }
    *out = dev;
    return BT_OK;
}

void bt_device_destroy(bt_device *dev)
{
    if (!dev)
        return;
    if (dev->transfer_queue) {
        clFinish(dev->transfer_queue);
        clReleaseCommandQueue(dev->transfer_queue);
    }
    if (dev->queue) {
        clFinish(dev->queue);
        clReleaseCommandQueue(dev->queue);
    }
    for (size_t i = dev->n_attachments; i-- > 0;)
        dev->attachments[i].destroy(dev->attachments[i].state);
    if (dev->context)
        clReleaseContext(dev->context);
    free(dev->cache_dir);
    free(dev->kernel_dir);
    free(dev);
}

const bt_device_info *bt_device_get_info(const bt_device *dev) { return dev ? &dev->info : NULL; }
cl_context bt_device_cl_context(const bt_device *dev) { return dev ? dev->context : NULL; }
cl_device_id bt_device_cl_device(const bt_device *dev) { return dev ? dev->device : NULL; }
cl_command_queue bt_device_cl_queue(const bt_device *dev) { return dev ? dev->queue : NULL; }
uint64_t bt_device_allocated_bytes(const bt_device *dev) { return dev ? dev->allocated_bytes : 0; }

bt_status bt_device_finish(bt_device *dev)
{
    if (!dev)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_device_finish: device is NULL");
    BT_CL_TRY(clFinish(dev->queue), "clFinish");
    return BT_OK;
}

void *bt_device_attachment_get(const bt_device *dev, const void *key)
{
    for (size_t i = 0; dev && i < dev->n_attachments; ++i)
        if (dev->attachments[i].key == key)
            return dev->attachments[i].state;
    return NULL;
}

bt_status bt_device_attach(bt_device *dev, const void *key, void *state,
                           void (*destroy)(void *state))
{
    if (dev->n_attachments == BT_DEVICE_MAX_ATTACHMENTS) {
        destroy(state);
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "internal error: more than %d layer states attached to device '%s'",
                       BT_DEVICE_MAX_ATTACHMENTS, dev->info.name);
    }
    dev->attachments[dev->n_attachments++] =
        (bt_device_attachment){.key = key, .state = state, .destroy = destroy};
    return BT_OK;
}
