/* Shared helpers of the command-line tool. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int bt_cli_report(const char *command, bt_status status, const char *what)
{
    const char *detail = bt_last_error();
    fprintf(stderr, "batchtune %s: %s: %s\n", command, what,
            detail && *detail ? detail : bt_status_str(status));
    return status == BT_ERR_INTERRUPTED ? BT_EXIT_INTERRUPTED : BT_EXIT_FAILURE;
}

int bt_cli_usage_error(const char *command, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "batchtune %s: ", command);
    vfprintf(stderr, fmt, args);
    fprintf(stderr, "\nRun 'batchtune %s --help' for usage.\n", command);
    va_end(args);
    return BT_EXIT_USAGE;
}

bt_device_opts bt_cli_device_opts(const char *selector, bool use_cache)
{
    bt_device_opts opts = bt_device_opts_default();
    opts.selector = selector;
    opts.use_program_cache = use_cache;
    const char *kernel_dir = getenv("BATCHTUNE_KERNEL_DIR");
    if (kernel_dir && *kernel_dir)
        opts.kernel_dir = kernel_dir;
    return opts;
}

const char *bt_cli_format_bytes(unsigned long long bytes, char *buf, unsigned size)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double value = (double)bytes;
    unsigned unit = 0;
    while (value >= 1024.0 && unit + 1 < sizeof units / sizeof units[0]) {
        value /= 1024.0;
        ++unit;
    }
    snprintf(buf, size, unit ? "%.1f %s" : "%.0f %s", value, units[unit]);
    return buf;
}

double bt_cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
