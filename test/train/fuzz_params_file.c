/* libFuzzer target for the parameter-file loader without a device (bt_params_file_read, which
 * bt_network_load runs before it creates the network): header, layer sizes, the declared size
 * against the real one, checksum and finite parameters.
 *
 *   fuzz_params_file -max_len=65536 test/fuzz-corpus/fuzz_params_file */
#include "fuzz_support.h"

#include <math.h>

#include "batchtune.h"
#include "train/params_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = bt_fuzz_write_temp(0, data, size);
    bt_network_opts opts;
    float *params = NULL;
    size_t count = 0;
    bt_status status = bt_params_file_read(path, 16, &opts, &params, &count);
    bt_fuzz_report(status);
    if (status == BT_OK) {
        /* The file is exactly its header, its sizes, its parameters and its checksum, and every
         * parameter is finite. */
        if (opts.n_sizes < 2 || opts.n_sizes > BT_MAX_LAYERS + 1 || opts.max_batch != 16 ||
            size != 40 + 8 * opts.n_sizes + 4 * count + 4)
            abort();
        size_t expected = 0;
        for (size_t l = 1; l < opts.n_sizes; ++l)
            expected += opts.sizes[l] * (opts.sizes[l - 1] + 1);
        if (expected != count)
            abort();
        for (size_t i = 0; i < count; ++i) {
            if (!isfinite(params[i]))
                abort();
        }
        free(params);
    } else if (params || status != BT_ERR_FORMAT || strncmp(bt_last_error(), path, strlen(path))) {
        /* Bad bytes are a format error whose message starts with the path. */
        abort();
    }
    return 0;
}
