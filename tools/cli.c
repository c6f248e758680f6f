/* Shared helpers of the command-line tool. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include "batchtune_gemm_tuning.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/atomic_file.h"

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

bt_cli_device_args bt_cli_device_args_default(void)
{
    bt_cli_device_args args = {NULL, true, true};
    return args;
}

bool bt_cli_parse_device_option(int opt, const char *arg, bt_cli_device_args *args)
{
    switch (opt) {
    case 'd':
        args->selector = arg;
        return true;
    case BT_CLI_OPT_NO_CACHE:
        args->use_cache = false;
        return true;
    case BT_CLI_OPT_NO_GEMM_TUNING:
        args->use_gemm_tuning = false;
        return true;
    default:
        return false;
    }
}

bt_device_opts bt_cli_device_opts(const bt_cli_device_args *args)
{
    bt_device_opts opts = bt_device_opts_default();
    opts.selector = args->selector;
    opts.use_program_cache = args->use_cache;
    opts.apply_gemm_tuning = args->use_gemm_tuning;
    const char *kernel_dir = getenv("BATCHTUNE_KERNEL_DIR");
    if (kernel_dir && *kernel_dir)
        opts.kernel_dir = kernel_dir;
    return opts;
}

int bt_cli_parse_network_option(const char *command, int opt, const char *arg,
                                 bt_network_opts *net)
{
    static const char *const names[] = {"--layers", "--hidden", "--output",
                                        "--cost",   "--init",   "--engine"};
    if (opt < BT_CLI_OPT_LAYERS || opt > BT_CLI_OPT_ENGINE)
        return BT_CLI_NOT_MINE;
    bt_status status = opt == BT_CLI_OPT_LAYERS   ? bt_network_parse_sizes(arg, net)
                       : opt == BT_CLI_OPT_HIDDEN ? bt_activation_parse(arg, &net->hidden)
                       : opt == BT_CLI_OPT_OUTPUT ? bt_activation_parse(arg, &net->output)
                       : opt == BT_CLI_OPT_COST   ? bt_cost_parse(arg, &net->cost)
                       : opt == BT_CLI_OPT_INIT   ? bt_init_parse(arg, &net->init)
                                                  : bt_engine_parse(arg, &net->engine);
    if (status == BT_OK)
        return BT_EXIT_OK;
    /* The library's message quotes the value and says what is accepted. */
    return bt_cli_usage_error(command, "%s: %s", names[opt - BT_CLI_OPT_LAYERS], bt_last_error());
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

bool bt_cli_parse_u64(const char *text, unsigned long long *out)
{
    if (!text || !isdigit((unsigned char)text[0]))
        return false;
    errno = 0;
    char *end = NULL;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = value;
    return true;
}

bool bt_cli_parse_size_list(const char *text, size_t max_count, size_t max_value, size_t *sizes,
                            size_t *count)
{
    size_t n = 0;
    for (const char *p = text;;) {
        if (!isdigit((unsigned char)*p) || n == max_count)
            return false;
        size_t value = 0;
        while (isdigit((unsigned char)*p)) {
            value = value * 10 + (size_t)(*p++ - '0');
            if (value > max_value)
                return false;
        }
        if (value == 0)
            return false;
        sizes[n++] = value;
        if (*p == '\0')
            break;
        if (*p++ != ',')
            return false;
    }
    *count = n;
    return true;
}

bool bt_cli_parse_size(const char *text, size_t min, size_t *out)
{
    unsigned long long value = 0;
    if (!bt_cli_parse_u64(text, &value) || value < min || value > SIZE_MAX)
        return false;
    *out = (size_t)value;
    return true;
}

bool bt_cli_parse_real(const char *text, double *out)
{
    if (!text || !*text || isspace((unsigned char)text[0]))
        return false;
    errno = 0;
    char *end = NULL;
    double value = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(value) ||
        !isfinite((float)value))
        return false;
    *out = value;
    return true;
}

const char *bt_cli_format_sizes(const bt_network_opts *opts, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < opts->n_sizes && used < size; ++i) {
        int n = snprintf(buf + used, size - used, "%s%zu", i ? "," : "", opts->sizes[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buf;
}

/* The signals that stop the work cleanly: Ctrl-C, a scheduler's or `timeout`'s SIGTERM, a closed
 * terminal's SIGHUP. */
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define N_STOP_SIGNALS (sizeof stop_signals / sizeof stop_signals[0])

static volatile sig_atomic_t interrupted;
static struct sigaction previous_actions[N_STOP_SIGNALS];
static bool caught[N_STOP_SIGNALS];

/* The first signal sets the flag and hands every stop signal back to its previous action (the
 * default ends the process), so that a second one, of any kind, is not swallowed. sigaction is
 * async-signal-safe. */
static void on_stop_signal(int signo)
{
    (void)signo;
    interrupted = 1;
    for (size_t i = 0; i < N_STOP_SIGNALS; ++i)
        if (caught[i])
            sigaction(stop_signals[i], &previous_actions[i], NULL);
}

void bt_cli_catch_sigint(void)
{
    interrupted = 0;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < N_STOP_SIGNALS; ++i)
        sigaddset(&action.sa_mask, stop_signals[i]);
    action.sa_flags = SA_RESETHAND;
    for (size_t i = 0; i < N_STOP_SIGNALS; ++i) {
        /* An ignored signal (a background job's SIGINT, nohup's SIGHUP) stays ignored. */
        caught[i] = sigaction(stop_signals[i], NULL, &previous_actions[i]) == 0 &&
                    previous_actions[i].sa_handler != SIG_IGN;
        if (caught[i])
            caught[i] = sigaction(stop_signals[i], &action, NULL) == 0;
    }
}

bool bt_cli_interrupted(void) { return interrupted != 0; }

void bt_cli_release_sigint(void)
{
    for (size_t i = 0; i < N_STOP_SIGNALS; ++i) {
        if (caught[i])
            sigaction(stop_signals[i], &previous_actions[i], NULL);
        caught[i] = false;
    }
}

void bt_cli_report_gemm_tuning(const char *command, const bt_device *device, bool quiet)
{
    switch (bt_device_gemm_tuning_state(device)) {
    case BT_GEMM_TUNING_APPLIED:
        if (!quiet)
            fprintf(stderr, "batchtune %s: GEMM parameters %s\n", command,
                bt_device_gemm_tuning_status(device));
        break;
    case BT_GEMM_TUNING_IGNORED:
        fprintf(stderr, "batchtune %s: warning: stored GEMM parameters %s; using CLBlast's "
                        "defaults\n",
                command, bt_device_gemm_tuning_status(device));
        break;
    case BT_GEMM_TUNING_DISABLED:
    case BT_GEMM_TUNING_NOT_FOUND:
        break;
    }
}

int bt_cli_parse_options(const bt_cli_command *command, int argc, char **argv, void *ctx)
{
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, command->short_options, command->options, NULL)) != -1) {
        if (opt == 'h') {
            command->print_help();
            return BT_EXIT_OK;
        }
        /* getopt_long's '?' (unknown option, missing value) and ':' are no command's. */
        int code = opt == '?' || opt == ':' || !command->parse ? BT_CLI_NOT_MINE
                                                               : command->parse(opt, optarg, ctx);
        if (code == BT_CLI_NOT_MINE)
            return bt_cli_usage_error(command->name, "unknown option or missing value");
        if (code != BT_EXIT_OK)
            return code;
    }
    if (optind < argc)
        return bt_cli_usage_error(command->name, "unexpected argument '%s'", argv[optind]);
    return BT_CLI_GO_ON;
}

int bt_cli_check_layers_fit(const char *command, const char *layers_text,
                            const bt_network_opts *net, const char *data_dir,
                            const bt_dataset *train)
{
    size_t features = bt_dataset_features(train);
    unsigned classes = bt_dataset_classes(train);
    if (net->sizes[0] != features)
        return bt_cli_usage_error(command,
                                  "--layers %s: the input layer has %zu units but the images in "
                                  "%s have %zu pixels",
                                  layers_text, net->sizes[0], data_dir, features);
    if (net->sizes[net->n_sizes - 1] < classes)
        return bt_cli_usage_error(command,
                                  "--layers %s: the output layer has %zu units but the data has "
                                  "%u classes",
                                  layers_text, net->sizes[net->n_sizes - 1], classes);
    return BT_EXIT_OK;
}

/* The folder part of `path` ("." when it has none), into buf; false when it does not fit. */
static bool folder_of(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return snprintf(buf, size, ".") < (int)size;
    size_t len = slash == path ? 1 : (size_t)(slash - path);
    if (len >= size)
        return false;
    memcpy(buf, path, len);
    buf[len] = '\0';
    return true;
}

int bt_cli_check_output_file(const char *command, const char *option, const char *path,
                             bool create_folders)
{
    if (!*path)
        return bt_cli_usage_error(command, "%s needs a file name", option);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "batchtune %s: %s %s: is a folder, expected a file name\n", command,
                option, path);
        return BT_EXIT_FAILURE;
    }
    char folder[4096];
    if (!folder_of(path, folder, sizeof folder)) {
        fprintf(stderr, "batchtune %s: %s %s: the path is too long\n", command, option, path);
        return BT_EXIT_FAILURE;
    }
    if (stat(folder, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            fprintf(stderr, "batchtune %s: %s %s: %s is not a folder\n", command, option, path,
                    folder);
            return BT_EXIT_FAILURE;
        }
        /* What the final write does first: its temporary file, created and removed again. */
        bt_atomic_file probe;
        bt_atomic_step step = bt_atomic_file_open(&probe, path);
        int err = errno;
        if (step == BT_ATOMIC_OK)
            bt_atomic_file_abort(&probe);
        if (step != BT_ATOMIC_NO_MEMORY)
            bt_atomic_file_release(&probe);
        if (step != BT_ATOMIC_OK) {
            fprintf(stderr, "batchtune %s: %s %s: cannot create a file in %s: %s\n", command,
                    option, path, folder,
                    step == BT_ATOMIC_NO_MEMORY ? "out of host memory" : strerror(err));
            return BT_EXIT_FAILURE;
        }
        return BT_EXIT_OK;
    }
    if (!create_folders || errno != ENOENT) {
        fprintf(stderr, "batchtune %s: %s %s: cannot use the folder %s: %s\n", command, option,
                path, folder, strerror(errno));
        return BT_EXIT_FAILURE;
    }
    /* The folders will be created: the nearest one that exists must take a new folder. */
    char ancestor[4096];
    snprintf(ancestor, sizeof ancestor, "%s", folder);
    while (stat(ancestor, &st) != 0) {
        char parent[4096];
        if (errno != ENOENT || !folder_of(ancestor, parent, sizeof parent) ||
            strcmp(parent, ancestor) == 0) {
            fprintf(stderr, "batchtune %s: %s %s: cannot create the folder %s: %s\n", command,
                    option, path, folder, strerror(errno));
            return BT_EXIT_FAILURE;
        }
        memcpy(ancestor, parent, sizeof ancestor);
    }
    char probe[4096 + 32];
    snprintf(probe, sizeof probe, "%s/.batchtune-probe-XXXXXX", ancestor);
    if (!S_ISDIR(st.st_mode) || !mkdtemp(probe)) {
        fprintf(stderr, "batchtune %s: %s %s: cannot create the folder %s: %s\n", command,
                option, path, folder, S_ISDIR(st.st_mode) ? strerror(errno) : "not a folder");
        return BT_EXIT_FAILURE;
    }
    rmdir(probe);
    return BT_EXIT_OK;
}
