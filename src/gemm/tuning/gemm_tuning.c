/* Applying CLBlast GEMM parameters to a device (CLBlastOverrideParameters), and applying the
 * stored ones when a device is opened. With gemm.c, the only files that include CLBlast's
 * header. */
#include <clblast_c.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm/clblast_retrieve.h"
#include "device/device_impl.h"
#include "common/error.h"
#include "gemm/gemm_impl.h"
#include "gemm/tuning/gemm_tuning_impl.h"

/* CLBlast's kernel names for its parameter database. */
#define KERNEL_DIRECT "XgemmDirect"
#define KERNEL_INDIRECT "Xgemm"
#define KERNEL_ROUTINE "GemmRoutine"

/* One kernel's parameters; CLBlast requires every parameter of the kernel at once. */
static bt_status override_kernel(bt_device *dev, const char *kernel, const unsigned *values,
                                 const char *(*name_of)(unsigned), size_t count)
{
    const char *names[BT_GEMM_INDIRECT_COUNT];
    size_t sizes[BT_GEMM_INDIRECT_COUNT];
    for (size_t i = 0; i < count; ++i) {
        names[i] = name_of((unsigned)i);
        sizes[i] = values[i];
    }
    CLBlastStatusCode code = CLBlastOverrideParameters(dev->device, kernel,
                                                       CLBlastPrecisionSingle, count, names,
                                                       sizes);
    if (code != CLBlastSuccess)
        return bt_fail(BT_ERR_CLBLAST, "CLBlastOverrideParameters(%s) on '%s' failed: %s (%d)",
                       kernel, dev->info.name, bt_clblast_status_name(code), (int)code);
    return BT_OK;
}

static const char *routine_name(unsigned index)
{
    (void)index;
    return "XGEMM_MIN_INDIRECT_SIZE";
}

/* The key of the tuning layer's state on a device (bt_device_attach). */
static char tuning_device_key;

bt_status bt_gemm_tuning_device_get(bt_device *dev, bt_gemm_tuning_device **out)
{
    *out = bt_device_attachment_get(dev, &tuning_device_key);
    if (*out)
        return BT_OK;
    bt_gemm_tuning_device *t = calloc(1, sizeof *t);
    if (!t)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    t->state = BT_GEMM_TUNING_DISABLED;
    BT_TRY(bt_device_attach(dev, &tuning_device_key, t, free));
    *out = t;
    return BT_OK;
}

/* The state if attached, else NULL (the getters' answers for a device without one are those
 * for a NULL device). */
static const bt_gemm_tuning_device *tuning_device_find(const bt_device *dev)
{
    return bt_device_attachment_get(dev, &tuning_device_key);
}

bt_status bt_device_apply_gemm_params(bt_device *dev, const bt_gemm_params *params)
{
    if (!dev || !params)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_device_apply_gemm_params: NULL argument");
    BT_TRY(bt_gemm_params_check(dev, params));
    bt_gemm_tuning_device *t = NULL;
    BT_TRY(bt_gemm_tuning_device_get(dev, &t));
    if (params->has_direct) {
        BT_TRY(override_kernel(dev, KERNEL_DIRECT, params->direct, bt_gemm_direct_param_name,
                               BT_GEMM_DIRECT_COUNT));
        t->params.has_direct = true;
        memcpy(t->params.direct, params->direct, sizeof params->direct);
    }
    if (params->has_indirect) {
        BT_TRY(override_kernel(dev, KERNEL_INDIRECT, params->indirect,
                               bt_gemm_indirect_param_name, BT_GEMM_INDIRECT_COUNT));
        t->params.has_indirect = true;
        memcpy(t->params.indirect, params->indirect, sizeof params->indirect);
    }
    if (params->has_min_indirect_size) {
        BT_TRY(override_kernel(dev, KERNEL_ROUTINE, &params->min_indirect_size, routine_name, 1));
        t->params.has_min_indirect_size = true;
        t->params.min_indirect_size = params->min_indirect_size;
    }
    if (params->has_engines) {
        t->params.has_engines = true;
        t->params.n_engines = params->n_engines;
        memcpy(t->params.engines, params->engines, params->n_engines * sizeof *params->engines);
    }
    return BT_OK;
}

bt_engine bt_device_engine_choice(const bt_device *dev, const bt_gemm_shape *shape)
{
    const bt_gemm_tuning_device *t = dev && shape ? tuning_device_find(dev) : NULL;
    if (!t)
        return BT_ENGINE_AUTO;
    for (size_t i = 0; i < t->params.n_engines; ++i) {
        const bt_gemm_shape *s = &t->params.engines[i].shape;
        if (s->m == shape->m && s->n == shape->n && s->k == shape->k &&
            s->trans_a == shape->trans_a && s->trans_b == shape->trans_b)
            return t->params.engines[i].engine;
    }
    return BT_ENGINE_AUTO;
}

static bt_status retrieve_kernel(bt_device *dev, const char *kernel, unsigned *values,
                                 const char *(*name_of)(unsigned), size_t count)
{
    const char *names[BT_GEMM_INDIRECT_COUNT];
    size_t sizes[BT_GEMM_INDIRECT_COUNT];
    for (size_t i = 0; i < count; ++i)
        names[i] = name_of((unsigned)i);
    int code = bt_clblast_retrieve(dev->device, kernel, names, count, sizes);
    if (code != CLBlastSuccess)
        return bt_fail(BT_ERR_CLBLAST, "CLBlast's RetrieveParameters(%s) on '%s' failed: %s (%d)",
                       kernel, dev->info.name, bt_clblast_status_name(code), code);
    for (size_t i = 0; i < count; ++i) {
        if (sizes[i] > UINT_MAX)
            return bt_fail(BT_ERR_CLBLAST, "CLBlast's %s parameter %s is out of range (%zu)",
                           kernel, names[i], sizes[i]);
        values[i] = (unsigned)sizes[i];
    }
    return BT_OK;
}

bt_status bt_gemm_current_params(bt_device *dev, bt_gemm_params *out)
{
    memset(out, 0, sizeof *out);
    BT_TRY(retrieve_kernel(dev, KERNEL_DIRECT, out->direct, bt_gemm_direct_param_name,
                           BT_GEMM_DIRECT_COUNT));
    BT_TRY(retrieve_kernel(dev, KERNEL_INDIRECT, out->indirect, bt_gemm_indirect_param_name,
                           BT_GEMM_INDIRECT_COUNT));
    BT_TRY(retrieve_kernel(dev, KERNEL_ROUTINE, &out->min_indirect_size, routine_name, 1));
    out->has_direct = out->has_indirect = out->has_min_indirect_size = true;
    return BT_OK;
}

bt_status bt_gemm_release_compiled(void)
{
    CLBlastStatusCode code = CLBlastClearCache();
    if (code != CLBlastSuccess)
        return bt_fail(BT_ERR_CLBLAST, "CLBlastClearCache failed: %s (%d)",
                       bt_clblast_status_name(code), (int)code);
    return BT_OK;
}

void bt_device_get_gemm_params(const bt_device *dev, bt_gemm_params *out)
{
    if (!out)
        return;
    const bt_gemm_tuning_device *t = tuning_device_find(dev);
    if (t)
        *out = t->params;
    else
        memset(out, 0, sizeof *out);
}

bt_gemm_tuning_state bt_device_gemm_tuning_state(const bt_device *dev)
{
    const bt_gemm_tuning_device *t = tuning_device_find(dev);
    return t ? t->state : BT_GEMM_TUNING_DISABLED;
}

const char *bt_device_gemm_tuning_status(const bt_device *dev)
{
    const bt_gemm_tuning_device *t = tuning_device_find(dev);
    return t ? t->status : "";
}

/* Records the outcome; the last error is cleared so that a rejected file does not look like a
 * failure of bt_device_create. */
static void set_outcome(bt_gemm_tuning_device *t, bt_gemm_tuning_state state,
                        const char *prefix, const char *path, const char *reason)
{
    t->state = state;
    snprintf(t->status, sizeof t->status, "%s%s%s%s", prefix, path ? path : "",
             reason ? ": " : "", reason ? reason : "");
    bt_clear_error();
}

bt_status bt_device_gemm_tuning_open(bt_device *dev, const bt_device_opts *opts)
{
    bt_gemm_tuning_device *t = NULL;
    BT_TRY(bt_gemm_tuning_device_get(dev, &t));
    if (!opts->apply_gemm_tuning) {
        set_outcome(t, BT_GEMM_TUNING_DISABLED, "disabled", NULL, NULL);
        return BT_OK;
    }
    char path[1024];
    if (bt_gemm_tuning_path(dev, opts->gemm_tuning_dir, path, sizeof path) != BT_OK) {
        /* No folder to look in (neither XDG_DATA_HOME nor HOME): nothing can be stored. */
        set_outcome(t, BT_GEMM_TUNING_NOT_FOUND, "none stored", NULL, bt_last_error());
        return BT_OK;
    }
    bt_gemm_params params;
    bt_status status = bt_gemm_tuning_load(dev, path, &params);
    if (status == BT_ERR_IO && bt_gemm_tuning_file_missing(path)) {
        set_outcome(t, BT_GEMM_TUNING_NOT_FOUND, "none stored: no ", path, NULL);
        return BT_OK;
    }
    /* The file was checked against the kernels' rules and the device's limits, so CLBlast
     * refusing a part (and leaving the parts before it applied) would be a CLBlast bug. */
    if (status == BT_OK)
        status = bt_device_apply_gemm_params(dev, &params);
    if (status != BT_OK) {
        set_outcome(t, BT_GEMM_TUNING_IGNORED, "ignored ", path, bt_last_error());
        return BT_OK;
    }
    set_outcome(t, BT_GEMM_TUNING_APPLIED, "applied from ", path, NULL);
    return BT_OK;
}
