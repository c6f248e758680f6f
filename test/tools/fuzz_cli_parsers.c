/* libFuzzer target for the command line's text parsers: layer lists (bt_network_parse_sizes),
 * activation, cost, initialisation and engine names, the size list, integer and real number
 * parsers of tools/cli.c, and device selectors (bt_device_select on a fixed, fake device list).
 * Every parser gets the same text: the input up to its first NUL byte.
 *
 *   fuzz_cli_parsers -max_len=256 test/fuzz-corpus/fuzz_cli_parsers */
#include "fuzz_support.h"

#include <math.h>

#include "batchtune.h"
#include "cli.h"

static bt_device_info fake_device(size_t index, size_t platform, size_t in_platform,
                                  const char *platform_name, const char *name,
                                  bt_device_type type)
{
    bt_device_info d;
    memset(&d, 0, sizeof d);
    d.index = index;
    d.platform_index = platform;
    d.platform_device_index = in_platform;
    snprintf(d.platform_name, sizeof d.platform_name, "%s", platform_name);
    snprintf(d.name, sizeof d.name, "%s", name);
    d.type = type;
    d.compute_units = 4;
    return d;
}

static void check_selectors(const char *text)
{
    bt_device_info list[4] = {
        fake_device(0, 0, 0, "Portable Computing Language", "cpu-haswell-Intel(R) Core(TM)",
                    BT_DEVICE_CPU),
        fake_device(1, 1, 0, "NVIDIA CUDA", "NVIDIA H200", BT_DEVICE_GPU),
        fake_device(2, 1, 1, "NVIDIA CUDA", "NVIDIA H200", BT_DEVICE_GPU),
        fake_device(3, 2, 0, "Intel(R) FPGA Emulation Platform", "Intel(R) FPGA Emulation Device",
                    BT_DEVICE_ACCELERATOR),
    };
    for (size_t count = 0; count <= 4; ++count) {
        size_t index = 99;
        bt_status status = bt_device_select(count ? list : NULL, count, text, &index);
        if (status == BT_OK ? index >= count : status == BT_OK)
            abort();
    }
}

static void check_network_parsers(const char *text)
{
    bt_network_opts opts = bt_network_opts_default();
    if (bt_network_parse_sizes(text, &opts) == BT_OK) {
        if (opts.n_sizes < 2 || opts.n_sizes > BT_MAX_LAYERS + 1)
            abort();
        for (size_t i = 0; i < opts.n_sizes; ++i) {
            if (opts.sizes[i] == 0)
                abort();
        }
    }
    /* A parsed name prints back as a name that parses to the same value. */
    bt_activation act;
    if (bt_activation_parse(text, &act) == BT_OK) {
        bt_activation again;
        if (bt_activation_parse(bt_activation_str(act), &again) != BT_OK || again != act)
            abort();
    }
    bt_cost cost;
    if (bt_cost_parse(text, &cost) == BT_OK) {
        bt_cost again;
        if (bt_cost_parse(bt_cost_str(cost), &again) != BT_OK || again != cost)
            abort();
    }
    bt_init init;
    if (bt_init_parse(text, &init) == BT_OK) {
        bt_init again;
        if (bt_init_parse(bt_init_str(init), &again) != BT_OK || again != init)
            abort();
    }
    bt_engine engine;
    if (bt_engine_parse(text, &engine) == BT_OK) {
        bt_engine again;
        if (bt_engine_parse(bt_engine_str(engine), &again) != BT_OK || again != engine)
            abort();
    }
}

static void check_number_parsers(const char *text)
{
    size_t sizes[8];
    size_t count = 99;
    if (bt_cli_parse_size_list(text, 8, 4096, sizes, &count)) {
        if (count < 1 || count > 8)
            abort();
        for (size_t i = 0; i < count; ++i) {
            if (sizes[i] < 1 || sizes[i] > 4096)
                abort();
        }
    } else if (count != 99) {
        abort(); /* nothing written to *count on failure */
    }
    unsigned long long u = 0;
    if (bt_cli_parse_u64(text, &u)) {
        char back[32];
        snprintf(back, sizeof back, "%llu", u);
        if (strcmp(back, text) != 0 && text[0] != '0')
            abort();
    }
    size_t s = 0;
    if (bt_cli_parse_size(text, 1, &s) && s < 1)
        abort();
    double r = 0;
    if (bt_cli_parse_real(text, &r) && (!isfinite(r) || !isfinite((float)r)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    check_network_parsers(text);
    check_number_parsers(text);
    check_selectors(text);
    free(text);
    return 0;
}
