/* batchtune: the command-line tool. Dispatches to one subcommand per file (cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"devices", bt_cmd_devices, "list every OpenCL platform and device"},
    {"warmup", bt_cmd_warmup, "compile the kernels and CLBlast routines for a device, and time it"},
    {"train", bt_cmd_train, "train a network and report validation and test accuracy"},
    {"eval", bt_cmd_eval, "evaluate a saved parameter file on the test (or another) split"},
    {"bench", bt_cmd_bench, "time training steps per batch size against the GEMMs alone"},
    {"tune-gemm", bt_cmd_tune_gemm, "search CLBlast's GEMM kernel parameters for a device"},
    {"tune", bt_cmd_tune, "find the batch size that reaches a validation accuracy fastest"},
    {"predict", bt_cmd_predict, "predict the fastest batch size from the gradient noise scale"},
};

static void print_usage(FILE *out)
{
    fprintf(out, "usage: batchtune [--help] [--version] <command> [options]\n\n"
                 "Mini-batch gradients of fully-connected networks on any OpenCL device, and a\n"
                 "tuner for the batch size.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; ++i)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'batchtune <command> --help' for a command's options.\n\n"
                 "environment:\n"
                 "  BATCHTUNE_DEVICE      device selector used when --device is not given\n"
                 "                        (index, platform:device, gpu|cpu|accelerator, or part of "
                 "a name)\n"
                 "  BATCHTUNE_KERNEL_DIR  folder of .cl files that replace the embedded kernels\n"
                 "  XDG_CACHE_HOME        compiled programs are cached in "
                 "$XDG_CACHE_HOME/batchtune\n"
                 "  XDG_DATA_HOME         tuned GEMM parameters are stored in "
                 "$XDG_DATA_HOME/batchtune\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return BT_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        print_usage(stdout);
        return BT_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        printf("batchtune %s\n", bt_version());
        return BT_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; ++i)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "batchtune: unknown command '%s'\n\n", name);
    print_usage(stderr);
    return BT_EXIT_USAGE;
}
