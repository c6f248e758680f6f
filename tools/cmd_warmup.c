/* batchtune warmup: compile every embedded program and CLBlast's GEMM kernels for a device, and
 * report how long each took and whether it came from the program cache. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "common/clock.h"

static void print_help(void)
{
    printf("usage: batchtune warmup [--device SEL] [--no-cache] [--help]\n\n"
           "Compile batchtune's OpenCL programs and CLBlast's GEMM kernels for a device, so\n"
           "that later runs start fast, and print the time each took.\n\n"
           "  -d, --device SEL  device selector (see 'batchtune devices'); default: the\n"
           "                    BATCHTUNE_DEVICE variable, else the first GPU, else device 0\n"
           "      --no-cache    neither read nor write the program-binary cache\n"
           "  -h, --help        this text\n");
}

static int parse_option(int opt, const char *arg, void *ctx)
{
    return bt_cli_parse_device_option(opt, arg, ctx) ? BT_EXIT_OK : BT_CLI_NOT_MINE;
}

int bt_cmd_warmup(int argc, char **argv)
{
    static const struct option options[] = {BT_CLI_OPTION_DEVICE, BT_CLI_OPTION_NO_CACHE,
                                            {"help", no_argument, NULL, 'h'},
                                            {0, 0, 0, 0}};
    static const bt_cli_command command = {"warmup", "d:h", options, print_help, parse_option};
    bt_cli_device_args device_args = bt_cli_device_args_default();
    int code = bt_cli_parse_options(&command, argc, argv, &device_args);
    if (code != BT_CLI_GO_ON)
        return code;

    bt_device_opts opts = bt_cli_device_opts(&device_args);
    bt_device *device = NULL;
    bt_status status = bt_device_create(&opts, &device);
    if (status != BT_OK)
        return bt_cli_report("warmup", status, "cannot open the OpenCL device");
    printf("device: %s (%s)\n", bt_device_get_info(device)->name,
           bt_device_get_info(device)->platform_name);

    double total = 0.0;
    char build_options[1024];
    status = bt_kernel_build_options(device, build_options, sizeof build_options);
    for (const char *const *name = bt_kernel_source_names(); *name && status == BT_OK; ++name) {
        bt_program *program = NULL;
        bt_program_build_info info;
        status = bt_program_create(device, *name, build_options, &program, &info);
        if (status == BT_OK) {
            printf("  %-28s %8.3f s  %s\n", *name, info.seconds,
                   info.from_cache ? "from cache"
                   : info.cache_rejected ? "compiled (corrupt cache file replaced)"
                                         : "compiled");
            total += info.seconds;
        }
        bt_program_destroy(program);
    }
    if (status == BT_OK) {
        double start = bt_clock_seconds();
        status = bt_gemm_warmup(device, NULL, 0);
        double gemm_seconds = bt_clock_seconds() - start;
        if (status == BT_OK) {
            printf("  %-28s %8.3f s\n", "CLBlast SGEMM (4 transposes)", gemm_seconds);
            printf("  %-28s %8.3f s\n", "total", total + gemm_seconds);
        }
    }
    code = status == BT_OK ? BT_EXIT_OK : bt_cli_report("warmup", status, "warm-up failed");
    bt_device_destroy(device);
    return code;
}
