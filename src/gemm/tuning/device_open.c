/* bt_device_create: the device layer opens the device, then the GEMM tuning layer applies its
 * stored parameters. Here, above both, so that opening a device knows nothing of GEMM tuning. */
#include "device/device_impl.h"
#include "common/error.h"
#include "gemm/tuning/gemm_tuning_impl.h"

bt_status bt_device_create(const bt_device_opts *opts, bt_device **out)
{
    if (!out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_device_create: out must not be NULL");
    *out = NULL;
    bt_device_opts defaults = bt_device_opts_default();
    if (!opts)
        opts = &defaults;
    bt_device *dev = NULL;
    BT_TRY(bt_device_open(opts, &dev));
    /* Fails only when its state cannot be attached: a file that cannot be used is an outcome,
     * not a failure (see bt_device_gemm_tuning_status). */
    bt_status status = bt_device_gemm_tuning_open(dev, opts);
    if (status != BT_OK) {
        bt_device_destroy(dev);
        return status;
    }
    *out = dev;
    return BT_OK;
}
