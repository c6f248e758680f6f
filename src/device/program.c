/* OpenCL programs: built from the embedded kernel sources (or an override folder), with the
 * device binary cached on disk so that a second run skips the compiler. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device/device_impl.h"
#include "common/clock.h"
#include "common/error.h"
#include "device/kernel_sources.h"
#include "device/program_cache.h"

struct bt_program {
    bt_device *device;  /* not owned */
    cl_program program; /* owned */
};

/* Largest kernel source file we read from an override folder. */
#define MAX_SOURCE_BYTES (4u << 20)

const char *const *bt_kernel_source_names(void) { return bt_embedded_kernel_names; }

static const bt_embedded_kernel *find_embedded(const char *name)
{
    for (const bt_embedded_kernel *k = bt_embedded_kernels; k->name; ++k)
        if (strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

/* Reads <dir>/<name> if it exists. *text is NULL (and BT_OK) when there is no such file. */
static bt_status read_override(const char *dir, const char *name, char **text)
{
    *text = NULL;
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = malloc(len);
    if (!path)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        bt_status status = errno == ENOENT ? BT_OK
                                           : bt_fail(BT_ERR_IO, "cannot read kernel override %s: %s",
                                                     path, strerror(errno));
        free(path);
        return status;
    }
    char *buf = malloc(MAX_SOURCE_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_SOURCE_BYTES + 1, f) : 0;
    bool failed = !buf || ferror(f) || n > MAX_SOURCE_BYTES;
    fclose(f);
    if (failed) {
        free(buf);
        bt_status status = bt_fail(BT_ERR_IO, "cannot read kernel override %s (larger than %u "
                                              "bytes, or a read error)",
                                   path, MAX_SOURCE_BYTES);
        free(path);
        return status;
    }
    free(path);
    buf[n] = '\0';
    *text = buf;
    return BT_OK;
}

/* The text of one kernel source: the override folder's file of that name, else the embedded
 * one. *text is owned by the caller. */
static bt_status source_text(const bt_device *dev, const char *name, char **text)
{
    *text = NULL;
    if (dev->kernel_dir)
        BT_TRY(read_override(dev->kernel_dir, name, text));
    if (*text)
        return BT_OK;
    const bt_embedded_kernel *k = find_embedded(name);
    if (!k)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "no kernel source named '%s' is embedded in this library%s%s", name,
                       dev->kernel_dir ? " or found in the override folder " : "",
                       dev->kernel_dir ? dev->kernel_dir : "");
    *text = malloc(k->length + 1);
    if (!*text)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    memcpy(*text, k->source, k->length + 1);
    return BT_OK;
}

#define REQUIRES_TAG "batchtune:requires "
#define MAX_REQUIRED 4

/* A source may start with a line "// batchtune:requires a.cl b.cl": the functions of those
 * sources (one level, no nesting) come first in the program, as CLBlast prepends its common
 * code, so that a helper has one home across programs. Appends the requirements' texts, then
 * `text`, to a new string. */
static bt_status with_requirements(const bt_device *dev, const char *name, char *text,
                                   char **joined)
{
    *joined = NULL;
    char *required[MAX_REQUIRED] = {0};
    size_t n_required = 0, total = strlen(text) + 1;
    const char *tag = strstr(text, REQUIRES_TAG);
    const char *line_end = tag ? strchr(tag, '\n') : NULL;
    bt_status status = BT_OK;
    for (const char *p = tag ? tag + strlen(REQUIRES_TAG) : NULL;
         p && (!line_end || p < line_end) && status == BT_OK;) {
        while (*p == ' ')
            ++p;
        size_t len = strcspn(p, " \r\n");
        if (len == 0)
            break;
        char dep[128];
        if (n_required == MAX_REQUIRED || len >= sizeof dep) {
            status = bt_fail(BT_ERR_INVALID_ARGUMENT, "kernel source '%s': more than %d or too "
                                                      "long requirements",
                             name, MAX_REQUIRED);
            break;
        }
        memcpy(dep, p, len);
        dep[len] = '\0';
        status = source_text(dev, dep, &required[n_required]);
        if (status == BT_OK)
            total += strlen(required[n_required++]) + 1;
        p += len;
    }
    if (status == BT_OK) {
        *joined = malloc(total);
        if (!*joined)
            status = bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    if (status == BT_OK) {
        size_t at = 0;
        for (size_t i = 0; i < n_required; ++i) {
            size_t len = strlen(required[i]);
            memcpy(*joined + at, required[i], len);
            at += len;
            (*joined)[at++] = '\n';
        }
        memcpy(*joined + at, text, strlen(text) + 1);
    }
    for (size_t i = 0; i < n_required; ++i)
        free(required[i]);
    return status;
}

bt_status bt_program_create(bt_device *dev, const char *source_name, const char *build_options,
                            bt_program **out, bt_program_build_info *info)
{
    if (!out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_program_create: out must not be NULL");
    *out = NULL;
    if (!dev || !source_name)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_program_create: device and name are required");
    char *text = NULL, *joined = NULL;
    BT_TRY(source_text(dev, source_name, &text));
    bt_status status = with_requirements(dev, source_name, text, &joined);
    if (status == BT_OK)
        status = bt_program_create_from_source(dev, source_name, joined, build_options, out, info);
    free(text);
    free(joined);
    return status;
}

static uint64_t program_key(const bt_device *dev, const char *source, const char *options)
{
    uint64_t h = BT_HASH_SEED;
    h = bt_hash_string(h, dev->info.platform_name);
    h = bt_hash_string(h, dev->info.name);
    h = bt_hash_string(h, dev->info.driver_version);
    h = bt_hash_string(h, dev->info.device_version);
    h = bt_hash_string(h, bt_version());
    h = bt_hash_string(h, options);
    return bt_hash_string(h, source);
}

static bt_status build_failure(cl_program program, const bt_device *dev, const char *name,
                               cl_int err)
{
    size_t log_size = 0;
    clGetProgramBuildInfo(program, dev->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &log_size);
    char *log = log_size ? malloc(log_size + 1) : NULL;
    if (log && clGetProgramBuildInfo(program, dev->device, CL_PROGRAM_BUILD_LOG, log_size, log,
                                     NULL) == CL_SUCCESS)
        log[log_size] = '\0';
    else if (log)
        log[0] = '\0';
    bt_fail(BT_ERR_BUILD, "building OpenCL program '%s' for '%s' failed: %s (%d)\nbuild log:\n",
            name, dev->info.name, bt_cl_error_name(err), (int)err);
    bt_fail_append(log && *log ? log : "(the driver gave no build log)");
    free(log);
    return BT_ERR_BUILD;
}

/* Try the cached binary. BT_OK with *program set on success; a failure here is never fatal. */
static bt_cache_lookup build_from_cache(bt_device *dev, uint64_t key, const char *options,
                                        cl_program *program)
{
    *program = NULL;
    uint8_t *binary = NULL;
    size_t size = 0;
    bt_cache_lookup found = bt_program_cache_load(dev->cache_dir, key, &binary, &size);
    if (found != BT_CACHE_HIT)
        return found;
    cl_int binary_status = CL_SUCCESS, err = CL_SUCCESS;
    const unsigned char *bin = binary;
    cl_program p = clCreateProgramWithBinary(dev->context, 1, &dev->device, &size, &bin,
                                             &binary_status, &err);
    free(binary);
    if (err != CL_SUCCESS || binary_status != CL_SUCCESS) {
        if (p)
            clReleaseProgram(p);
        return BT_CACHE_CORRUPT;
    }
    if (clBuildProgram(p, 1, &dev->device, options, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(p);
        return BT_CACHE_CORRUPT;
    }
    *program = p;
    return BT_CACHE_HIT;
}

static void store_in_cache(bt_device *dev, uint64_t key, cl_program program)
{
    size_t size = 0;
    if (clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) !=
            CL_SUCCESS ||
        size == 0)
        return;
    unsigned char *binary = malloc(size);
    if (!binary)
        return;
    unsigned char *binaries[1] = {binary};
    if (clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof binaries, binaries, NULL) ==
        CL_SUCCESS) {
        /* A cache we cannot write only costs a rebuild next time: not an error for the caller. */
        (void)bt_program_cache_store(dev->cache_dir, key, binary, size);
    }
    free(binary);
}

bt_status bt_program_create_from_source(bt_device *dev, const char *name, const char *source,
                                        const char *build_options, bt_program **out,
                                        bt_program_build_info *info)
{
    if (!out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_program_create: out must not be NULL");
    *out = NULL;
    if (!dev || !source)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_program_create: device and source are required");
    if (!name)
        name = "(unnamed)";
    const char *options = build_options ? build_options : "";
    double start = bt_clock_seconds();
    bt_program_build_info result = {0};

    bt_program *prog = calloc(1, sizeof *prog);
    if (!prog)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    prog->device = dev;

    uint64_t key = program_key(dev, source, options);
    if (dev->cache_dir) {
        bt_cache_lookup found = build_from_cache(dev, key, options, &prog->program);
        result.from_cache = found == BT_CACHE_HIT;
        result.cache_rejected = found == BT_CACHE_CORRUPT;
    }

    if (!prog->program) {
        cl_int err = CL_SUCCESS;
        prog->program = clCreateProgramWithSource(dev->context, 1, &source, NULL, &err);
        if (err != CL_SUCCESS) {
            free(prog);
            return bt_fail_cl(err, "clCreateProgramWithSource");
        }
        err = clBuildProgram(prog->program, 1, &dev->device, options, NULL, NULL);
        if (err != CL_SUCCESS) {
            bt_status status = build_failure(prog->program, dev, name, err);
            bt_program_destroy(prog);
            return status;
        }
        if (dev->cache_dir)
            store_in_cache(dev, key, prog->program);
    }
    result.seconds = bt_clock_seconds() - start;
    if (info)
        *info = result;
    *out = prog;
    return BT_OK;
}

void bt_program_destroy(bt_program *prog)
{
    if (!prog)
        return;
    if (prog->program)
        clReleaseProgram(prog->program);
    free(prog);
}

bt_status bt_program_create_kernel(const bt_program *prog, const char *kernel_name, cl_kernel *out)
{
    if (!out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_program_create_kernel: out must not be NULL");
    *out = NULL;
    if (!prog || !kernel_name)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_program_create_kernel: program and name "
                                                "are required");
    cl_int err = CL_SUCCESS;
    *out = clCreateKernel(prog->program, kernel_name, &err);
    if (err != CL_SUCCESS) {
        *out = NULL;
        return bt_fail(BT_ERR_OPENCL, "clCreateKernel('%s'): %s (%d)", kernel_name,
                       bt_cl_error_name(err), (int)err);
    }
    return BT_OK;
}
