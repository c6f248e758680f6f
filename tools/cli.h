/* Shared pieces of the batchtune command-line tool: exit codes, error reporting, and the options
 * every device-using subcommand accepts. */
#ifndef BT_CLI_H
#define BT_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "batchtune.h"

enum {
    BT_EXIT_OK = 0,
    BT_EXIT_FAILURE = 1,     /* the work failed: device, file, build, ... */
    BT_EXIT_USAGE = 2,       /* bad command line */
    BT_EXIT_INTERRUPTED = 130,
};

/* Print "batchtune <command>: <what>: <library message>" to stderr; returns the exit code. */
int bt_cli_report(const char *command, bt_status status, const char *what);

/* Print a usage error and a hint to run --help; returns BT_EXIT_USAGE. */
int bt_cli_usage_error(const char *command, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Device options from the command line and the environment: --device, else BATCHTUNE_DEVICE
 * (read by the library); BATCHTUNE_KERNEL_DIR overrides embedded kernel sources. */
bt_device_opts bt_cli_device_opts(const char *selector, bool use_cache);

/* Human-readable byte count ("3.8 GiB"), into buf. */
const char *bt_cli_format_bytes(unsigned long long bytes, char *buf, unsigned size);

/* Strict parsing of option values: the whole text, no sign or spaces for integers. */
bool bt_cli_parse_u64(const char *text, unsigned long long *out);
bool bt_cli_parse_size(const char *text, size_t min, size_t *out);
/* A finite number that stays finite as a float. */
bool bt_cli_parse_real(const char *text, double *out);

/* "784,30,10" into buf. */
const char *bt_cli_format_sizes(const bt_network_opts *opts, char *buf, size_t size);

/* Ctrl-C: the first press sets the flag read by bt_cli_interrupted() (work stops cleanly, keeps
 * its results and exits 130); SA_RESETHAND lets a second press end the process. An ignored
 * SIGINT (a background job, nohup) stays ignored. bt_cli_release_sigint() restores the old
 * handler. */
void bt_cli_catch_sigint(void);
bool bt_cli_interrupted(void);
void bt_cli_release_sigint(void);

/* Monotonic wall-clock seconds. */
double bt_cli_now(void);

/* What opening `device` did about its stored GEMM parameters, on stderr: one line when they were
 * applied, a warning when a file was ignored (corrupt, foreign or stale), nothing otherwise. */
void bt_cli_report_gemm_tuning(const char *command, const bt_device *device);

int bt_cmd_devices(int argc, char **argv);
int bt_cmd_warmup(int argc, char **argv);
int bt_cmd_train(int argc, char **argv);
int bt_cmd_eval(int argc, char **argv);
int bt_cmd_bench(int argc, char **argv);
int bt_cmd_tune_gemm(int argc, char **argv);
int bt_cmd_tune(int argc, char **argv);

#endif
