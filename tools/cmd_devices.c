/* batchtune devices: the table of OpenCL devices. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void print_help(void)
{
    printf("usage: batchtune devices [--help]\n\n"
           "List every OpenCL platform and device. The 'select' column is what --device (or\n"
           "BATCHTUNE_DEVICE) takes; '*' marks the device chosen by default (the first GPU,\n"
           "else the first device).\n");
}

int bt_cmd_devices(int argc, char **argv)
{
    static const struct option options[] = {{"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    static const bt_cli_command command = {"devices", "h", options, print_help, NULL};
    int code = bt_cli_parse_options(&command, argc, argv, NULL);
    if (code != BT_CLI_GO_ON)
        return code;

    bt_device_info *list = NULL;
    size_t count = 0;
    bt_status status = bt_device_list(&list, &count);
    if (status != BT_OK)
        return bt_cli_report("devices", status, "cannot list OpenCL devices");
    size_t chosen = 0;
    bt_device_select(list, count, NULL, &chosen);

    /* Names go last and whole: they are what a name selector matches. */
    printf("  %-6s %-6s %-11s %4s %9s %9s %-4s %-4s %-20s %-12s %s\n", "select", "plat:d", "type",
           "CUs", "memory", "max alloc", "fp64", "fp16", "OpenCL C", "driver",
           "device [platform]");
    for (size_t i = 0; i < count; ++i) {
        const bt_device_info *d = &list[i];
        char loc[48], mem[32], alloc[32];
        snprintf(loc, sizeof loc, "%zu:%zu", d->platform_index, d->platform_device_index);
        const char *c_version = d->opencl_c_version;
        if (strncmp(c_version, "OpenCL C ", 9) == 0)
            c_version += 9;
        printf("%c %-6zu %-6s %-11s %4u %9s %9s %-4s %-4s %-20s %-12s %s [%s]\n",
               i == chosen ? '*' : ' ', d->index, loc, bt_device_type_str(d->type),
               d->compute_units, bt_cli_format_bytes(d->global_mem_bytes, mem, sizeof mem),
               bt_cli_format_bytes(d->max_alloc_bytes, alloc, sizeof alloc), d->fp64 ? "yes" : "no",
               d->fp16 ? "yes" : "no", c_version, d->driver_version, d->name, d->platform_name);
    }
    bt_device_list_free(list);
    return BT_EXIT_OK;
}
