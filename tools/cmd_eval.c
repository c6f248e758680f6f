/* batchtune eval: load a parameter file (from 'batchtune train --save') and report its accuracy
 * and mean cost on one split of a dataset, evaluated on the device. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define CMD "eval"

static void print_help(void)
{
    printf("usage: batchtune eval --load FILE [options]\n\n"
           "Load the parameters saved by 'batchtune train --save FILE' and print the network\n"
           "and its accuracy and mean cost (without the L2 term) on one split of the data.\n\n"
           "      --load FILE       the parameter file (required)\n"
           "      --split SPLIT     test, validation or train (default test)\n"
           "      --data DIR        folder of MNIST-format IDX files (default\n"
           "                        " BT_DEFAULT_DATA_DIR ")\n"
           "      --validation N    last N training images are the validation set (default %d);\n"
           "                        must match training for the validation and train splits\n"
           "  -d, --device SEL      device selector (see 'batchtune devices'); default: the\n"
           "                        BATCHTUNE_DEVICE variable, else the first GPU, else device 0\n"
           "      --no-cache        neither read nor write the program-binary cache\n"
           "      --no-gemm-tuning  use CLBlast's own GEMM parameters, not the device's stored\n"
           "                        ones (batchtune tune-gemm)\n"
           "  -h, --help            this text\n",
           BT_DEFAULT_VALIDATION_COUNT);
}

typedef enum eval_split { SPLIT_TEST, SPLIT_VALIDATION, SPLIT_TRAIN } eval_split;

static const char *const split_names[] = {"test", "validation", "train"};

typedef struct eval_args {
    const char *load_path, *data_dir;
    size_t validation;
    eval_split split;
    bt_cli_device_args device;
} eval_args;

typedef struct eval_run {
    bt_device *device;
    bt_network *network;
    bt_dataset *dataset;
    bt_device_data *data;
} eval_run;

static void eval_run_destroy(eval_run *r)
{
    bt_device_data_destroy(r->data);
    bt_network_destroy(r->network);
    bt_device_destroy(r->device);
    bt_dataset_destroy(r->dataset);
}

/* "784,30,10" */
/* Only the wanted split is loaded. */
static bt_status load_split(const eval_args *a, bt_dataset **out)
{
    return bt_dataset_load_mnist_dir(a->data_dir, a->validation,
                                     a->split == SPLIT_TRAIN ? out : NULL,
                                     a->split == SPLIT_VALIDATION ? out : NULL,
                                     a->split == SPLIT_TEST ? out : NULL);
}

static int evaluate(const eval_args *a, eval_run *r)
{
    bt_device_opts device_opts = bt_cli_device_opts(&a->device);
    bt_status status = bt_device_create(&device_opts, &r->device);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "cannot open the OpenCL device");
    bt_cli_report_gemm_tuning(CMD, r->device, false);
    status = bt_network_load(r->device, a->load_path, 1, &r->network);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "cannot load the parameters");
    const bt_network_opts *o = bt_network_get_opts(r->network);
    char sizes[256];
    printf("network %s (%s hidden, %s output, %s cost) from %s on %s\n",
           bt_cli_format_sizes(o, sizes, sizeof sizes), bt_activation_str(o->hidden),
           bt_activation_str(o->output), bt_cost_str(o->cost), a->load_path,
           bt_device_get_info(r->device)->name);
    fflush(stdout);

    status = load_split(a, &r->dataset);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "cannot load the data");
    size_t features = bt_dataset_features(r->dataset);
    unsigned classes = bt_dataset_classes(r->dataset);
    if (o->sizes[0] != features || o->sizes[o->n_sizes - 1] < classes) {
        fprintf(stderr,
                "batchtune %s: the network (%s) does not fit the data in %s: %zu pixels per "
                "image, %u classes\n",
                CMD, sizes, a->data_dir, features, classes);
        return BT_EXIT_FAILURE;
    }
    status = bt_device_data_create(r->device, r->dataset, &r->data);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "cannot upload the data to the device");
    bt_eval result;
    status = bt_network_evaluate(r->network, r->data, &result);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "evaluation failed");
    printf("%s accuracy %.2f%% (%zu/%zu)  cost %.4f\n", split_names[a->split],
           100.0 * result.accuracy, result.correct, result.count, result.cost);
    return BT_EXIT_OK;
}

enum { OPT_LOAD = BT_CLI_OPT_COMMAND, OPT_SPLIT, OPT_DATA, OPT_VALIDATION };

/* Parses one option into *a (a bt_cli_option_fn). */
static int parse_option(int opt, const char *arg, void *ctx)
{
    eval_args *a = ctx;
    if (bt_cli_parse_device_option(opt, arg, &a->device))
        return BT_EXIT_OK;
    switch (opt) {
    case OPT_LOAD:
        a->load_path = arg;
        return BT_EXIT_OK;
    case OPT_SPLIT:
        for (int i = 0; i < 3; ++i)
            if (strcmp(arg, split_names[i]) == 0) {
                a->split = (eval_split)i;
                return BT_EXIT_OK;
            }
        return bt_cli_usage_error(CMD, "--split '%s': expected test, validation or train", arg);
    case OPT_DATA:
        a->data_dir = arg;
        return BT_EXIT_OK;
    case OPT_VALIDATION:
        if (!bt_cli_parse_size(arg, 1, &a->validation))
            return bt_cli_usage_error(CMD, "--validation '%s': expected an integer >= 1", arg);
        return BT_EXIT_OK;
    default:
        return BT_CLI_NOT_MINE;
    }
}

int bt_cmd_eval(int argc, char **argv)
{
    static const struct option options[] = {{"load", required_argument, NULL, OPT_LOAD},
                                            {"split", required_argument, NULL, OPT_SPLIT},
                                            {"data", required_argument, NULL, OPT_DATA},
                                            {"validation", required_argument, NULL, OPT_VALIDATION},
                                            BT_CLI_OPTION_DEVICE,
                                            BT_CLI_OPTION_NO_CACHE,
                                            BT_CLI_OPTION_NO_GEMM_TUNING,
                                            {"help", no_argument, NULL, 'h'},
                                            {0, 0, 0, 0}};
    static const bt_cli_command command = {CMD, "d:h", options, print_help, parse_option};
    eval_args a = {NULL, BT_DEFAULT_DATA_DIR, BT_DEFAULT_VALIDATION_COUNT, SPLIT_TEST,
                   bt_cli_device_args_default()};
    int code = bt_cli_parse_options(&command, argc, argv, &a);
    if (code != BT_CLI_GO_ON)
        return code;
    if (!a.load_path || !*a.load_path)
        return bt_cli_usage_error(CMD, "--load FILE is required");

    eval_run r;
    memset(&r, 0, sizeof r);
    code = evaluate(&a, &r);
    eval_run_destroy(&r);
    return code;
}
