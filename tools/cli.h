/* Shared pieces of the batchtune command-line tool: exit codes, error reporting, and the options
 * every device-using subcommand accepts. */
#ifndef BT_CLI_H
#define BT_CLI_H

#include <getopt.h>
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

/* getopt_long codes of the options that several commands share. A command numbers its own long
 * options from BT_CLI_OPT_COMMAND, clear of these. */
enum {
    BT_CLI_OPT_NO_CACHE = 256,
    BT_CLI_OPT_NO_GEMM_TUNING,
    BT_CLI_OPT_LAYERS,
    BT_CLI_OPT_HIDDEN,
    BT_CLI_OPT_OUTPUT,
    BT_CLI_OPT_COST,
    BT_CLI_OPT_INIT,
    BT_CLI_OPT_ENGINE,
    BT_CLI_OPT_COMMAND,
};

/* Returned by the option parsers for an option that is not theirs (bt_cli_parse_network_option,
 * a command's bt_cli_option_fn); distinct from every exit code and from BT_CLI_GO_ON. */
#define BT_CLI_NOT_MINE (-2)

/* Returned by bt_cli_parse_options when the command goes on; anything else is its exit code. */
#define BT_CLI_GO_ON (-1)

/* Entries of a command's option array. The device ones come singly so that each command keeps
 * its order of options (getopt lists the candidates of an ambiguous abbreviation in that order). */
#define BT_CLI_OPTION_DEVICE {"device", required_argument, NULL, 'd'}
#define BT_CLI_OPTION_NO_CACHE {"no-cache", no_argument, NULL, BT_CLI_OPT_NO_CACHE}
#define BT_CLI_OPTION_NO_GEMM_TUNING                                                               \
    {"no-gemm-tuning", no_argument, NULL, BT_CLI_OPT_NO_GEMM_TUNING}
/* --layers, --hidden, --output and --cost; --init apart, as bench does not take it. */
#define BT_CLI_OPTIONS_NETWORK                                                                     \
    {"layers", required_argument, NULL, BT_CLI_OPT_LAYERS},                                        \
    {"hidden", required_argument, NULL, BT_CLI_OPT_HIDDEN},                                        \
    {"output", required_argument, NULL, BT_CLI_OPT_OUTPUT},                                        \
    {"cost", required_argument, NULL, BT_CLI_OPT_COST},                                            \
    {"engine", required_argument, NULL, BT_CLI_OPT_ENGINE}
#define BT_CLI_OPTION_INIT {"init", required_argument, NULL, BT_CLI_OPT_INIT}

/* What --device, --no-cache and --no-gemm-tuning set. */
typedef struct bt_cli_device_args {
    const char *selector; /* NULL: BATCHTUNE_DEVICE, else the library's default */
    bool use_cache;
    bool use_gemm_tuning;
} bt_cli_device_args;

/* No selector; the program cache and the stored GEMM parameters used. */
bt_cli_device_args bt_cli_device_args_default(void);

/* Takes -d/--device, --no-cache and --no-gemm-tuning into *args; false for any other option. */
bool bt_cli_parse_device_option(int opt, const char *arg, bt_cli_device_args *args);

/* Device options from the command line and the environment: --device, else BATCHTUNE_DEVICE
 * (read by the library); BATCHTUNE_KERNEL_DIR overrides embedded kernel sources. */
bt_device_opts bt_cli_device_opts(const bt_cli_device_args *args);

/* Takes --layers, --hidden, --output, --cost and --init into *net. Returns BT_EXIT_OK, the exit
 * code of a usage error about a bad value, or BT_CLI_NOT_MINE for any other option. The error
 * is "--layers: " and the library's message, which quotes the value. */
int bt_cli_parse_network_option(const char *command, int opt, const char *arg,
                                 bt_network_opts *net);

/* Parses one of the command's options into ctx: BT_EXIT_OK, the exit code of a usage error about
 * its value, or BT_CLI_NOT_MINE for an option it does not take. */
typedef int (*bt_cli_option_fn)(int opt, const char *arg, void *ctx);

/* A subcommand's command line. */
typedef struct bt_cli_command {
    const char *name;             /* "train": for messages */
    const char *short_options;    /* getopt's; every command has 'h' */
    const struct option *options; /* getopt_long's, {"help", no_argument, NULL, 'h'} among them */
    void (*print_help)(void);     /* the help text, on stdout */
    bt_cli_option_fn parse;       /* every other option; NULL when there is none */
} bt_cli_command;

/* The option parser of every subcommand: getopt_long over argv. -h/--help prints the help and
 * ends with exit status 0; an unknown option, a missing value (both "unknown option or missing
 * value") and an operand ("unexpected argument") are usage errors, exit status 2; every other
 * option goes to command->parse. Returns BT_CLI_GO_ON, or the exit code to stop with. */
int bt_cli_parse_options(const bt_cli_command *command, int argc, char **argv, void *ctx);

/* The network's input layer must match the images' pixels and its output layer cover the
 * classes; a usage error naming --layers otherwise. Returns BT_EXIT_OK or BT_EXIT_USAGE. */
int bt_cli_check_layers_fit(const char *command, const char *layers_text,
                            const bt_network_opts *net, const char *data_dir,
                            const bt_dataset *train);

/* An output file checked before the work rather than after it: `path` is not empty (else a usage
 * error) and not a folder, and a file can be created beside it (the temporary file of an atomic
 * write, created and removed again); with `create_folders`, missing folders on the way count as
 * creatable when the nearest existing one takes a new folder. Prints what is wrong, naming
 * `option`; returns BT_EXIT_OK, BT_EXIT_USAGE or BT_EXIT_FAILURE. */
int bt_cli_check_output_file(const char *command, const char *option, const char *path,
                             bool create_folders);

/* Human-readable byte count ("3.8 GiB"), into buf. */
const char *bt_cli_format_bytes(unsigned long long bytes, char *buf, unsigned size);

/* Strict parsing of option values: the whole text, no sign or spaces for integers. */
bool bt_cli_parse_u64(const char *text, unsigned long long *out);
bool bt_cli_parse_size(const char *text, size_t min, size_t *out);
/* "10,32,128": 1 to max_count integers 1..max_value separated by single commas, into sizes;
 * *count receives how many. false (nothing written to *count) on anything else. */
bool bt_cli_parse_size_list(const char *text, size_t max_count, size_t max_value, size_t *sizes,
                            size_t *count);
/* A finite number that stays finite as a float. */
bool bt_cli_parse_real(const char *text, double *out);

/* "784,30,10" into buf. */
const char *bt_cli_format_sizes(const bt_network_opts *opts, char *buf, size_t size);

/* Ctrl-C, SIGTERM (a batch scheduler's time limit, `timeout`) and SIGHUP alike: the first sets the
 * flag read by bt_cli_interrupted() (work stops cleanly, keeps its results and exits 130) and
 * restores the previous handlers, so that a second signal ends the process. An ignored signal
 * (a background job's SIGINT, nohup's SIGHUP) stays ignored. bt_cli_release_sigint() restores the
 * old handlers. */
void bt_cli_catch_sigint(void);
bool bt_cli_interrupted(void);
void bt_cli_release_sigint(void);

/* What opening `device` did about its stored GEMM parameters, on stderr: one line when they were
 * applied (not when quiet), a warning when a file was ignored (corrupt, foreign or stale),
 * nothing otherwise. */
void bt_cli_report_gemm_tuning(const char *command, const bt_device *device, bool quiet);

int bt_cmd_devices(int argc, char **argv);
int bt_cmd_warmup(int argc, char **argv);
int bt_cmd_train(int argc, char **argv);
int bt_cmd_eval(int argc, char **argv);
int bt_cmd_bench(int argc, char **argv);
int bt_cmd_tune_gemm(int argc, char **argv);
int bt_cmd_tune(int argc, char **argv);
int bt_cmd_predict(int argc, char **argv);

#endif
