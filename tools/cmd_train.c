/* batchtune train: train one network with mini-batch SGD on device-resident data, printing the
 * training cost, validation accuracy and cumulative training time after each epoch, and the test
 * accuracy at the end. Ctrl-C stops between slices of an epoch and still reports and saves. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "common/clock.h"
#include "common/rng.h"

#define CMD "train"

/* An epoch runs in this many slices, so that Ctrl-C is noticed within a tenth of an epoch. */
#define SLICES_PER_EPOCH 10

static void print_help(void)
{
    printf(
        "usage: batchtune train [options]\n\n"
        "Train a fully-connected network with mini-batch SGD on an OpenCL device and print,\n"
        "after each epoch, the mean training cost (without the L2 term), the validation\n"
        "accuracy and the cumulative training time (evaluation and warm-up not counted);\n"
        "then the test accuracy. The defaults are the book's network (Nielsen, ch. 1).\n\n"
        "network:\n"
        "      --layers LIST     units per layer, input first (default 784,30,10)\n"
        "      --hidden ACT      hidden activation: sigmoid, tanh, relu (default sigmoid)\n"
        "      --output ACT      output activation: sigmoid, softmax (default sigmoid)\n"
        "      --cost COST       quadratic or cross-entropy (sigmoid output), log-likelihood\n"
        "                        (softmax output) (default quadratic)\n"
        "      --engine E        what computes the layers' products: auto, fused (our\n"
        "                        fused kernels), clblast (default auto)\n"
        "      --init INIT       normal: N(0,1); scaled: weights N(0,1/n_in) (default normal)\n"
        "training:\n"
        "  -m, --batch-size M    examples per mini-batch (default 10)\n"
        "      --eta ETA         learning rate, > 0 (default 3.0)\n"
        "      --lambda LAMBDA   L2 regularisation strength, >= 0 (default 0)\n"
        "      --epochs N        epochs to train, >= 1 (default 30)\n"
        "      --seed S          initial parameters use S, the shuffle a hash of S (default 1)\n"
        "      --drop-last       skip each epoch's last partial mini-batch\n"
        "      --data-mode MODE  auto: keep the training set on the device when its compact\n"
        "                        form takes at most half of the device's memory, else stream\n"
        "                        batches; resident; stream (default auto)\n"
        "      --memory-limit MIB  memory that auto mode plans with (default: the device's)\n"
        "data and device:\n"
        "      --data DIR        folder of MNIST-format IDX files (default\n"
        "                        " BT_DEFAULT_DATA_DIR ")\n"
        "      --validation N    last N training images are the validation set (default %d)\n"
        "  -d, --device SEL      device selector (see 'batchtune devices'); default: the\n"
        "                        BATCHTUNE_DEVICE variable, else the first GPU, else device 0\n"
        "      --no-cache        neither read nor write the program-binary cache\n"
        "      --no-gemm-tuning  use CLBlast's own GEMM parameters, not the device's stored\n"
        "                        ones (batchtune tune-gemm)\n"
        "output:\n"
        "      --save FILE       write the trained parameters to FILE (see 'batchtune eval')\n"
        "      --keep-best       test and save the parameters of the epoch with the best\n"
        "                        validation accuracy (model selection on validation only)\n"
        "  -q, --quiet           print only the test accuracy (and where parameters were saved)\n"
        "  -h, --help            this text\n\n"
        "Ctrl-C stops within a tenth of an epoch, still evaluates the test set and saves the\n"
        "parameters (--save), and exits with status 130; a second Ctrl-C ends at once. SIGTERM\n"
        "and SIGHUP do the same as Ctrl-C.\n"
        "Exit status: 0 done, 1 failure (including a diverged run), 2 bad command line.\n",
        BT_DEFAULT_VALIDATION_COUNT);
}

/* ----- the run ----- */

typedef struct train_args {
    bt_network_opts net; /* sizes, activations, cost, init, seed */
    const char *layers_text;
    size_t batch_size;
    double eta, lambda;
    size_t epochs;
    size_t validation;
    const char *data_dir, *save_path;
    bt_cli_device_args device;
    bool drop_last, quiet, keep_best;
    bt_data_mode data_mode;
    uint64_t memory_limit; /* bytes; 0: the device's global memory */
} train_args;

/* Everything a run creates; train_run_destroy releases it in reverse order. */
typedef struct train_run {
    bt_dataset *train, *validation, *test;
    bt_device *device;
    bt_network *network;
    bt_device_data *validation_data, *test_data;
    bt_scheduler *scheduler;
    float *best_params; /* --keep-best: the parameters of the best validation epoch so far */
    size_t best_epoch;
    double best_accuracy;
} train_run;

static void train_run_destroy(train_run *r)
{
    free(r->best_params);
    bt_scheduler_destroy(r->scheduler);
    bt_device_data_destroy(r->test_data);
    bt_device_data_destroy(r->validation_data);
    bt_network_destroy(r->network);
    bt_device_destroy(r->device);
    bt_dataset_destroy(r->test);
    bt_dataset_destroy(r->validation);
    bt_dataset_destroy(r->train);
}

static int digits(size_t n)
{
    int d = 1;
    while (n >= 10) {
        n /= 10;
        ++d;
    }
    return d;
}

/* The data must match the network's input and fit its output; the test set is checked here too,
 * not when it is evaluated after the last epoch. */
static int check_data_shape(const train_args *a, const bt_dataset *train, const bt_dataset *test)
{
    int code = bt_cli_check_layers_fit(CMD, a->layers_text, &a->net, a->data_dir, train);
    if (code != BT_EXIT_OK)
        return code;
    if (bt_dataset_features(test) != bt_dataset_features(train)) {
        fprintf(stderr,
                "batchtune %s: %s: the test images have %zu pixels but the training images "
                "%zu; the files do not belong together\n",
                CMD, a->data_dir, bt_dataset_features(test), bt_dataset_features(train));
        return BT_EXIT_FAILURE;
    }
    if (bt_dataset_classes(test) > a->net.sizes[a->net.n_sizes - 1]) {
        fprintf(stderr,
                "batchtune %s: %s: the test labels have %u classes but the output layer has "
                "%zu units\n",
                CMD, a->data_dir, bt_dataset_classes(test), a->net.sizes[a->net.n_sizes - 1]);
        return BT_EXIT_FAILURE;
    }
    if (a->batch_size > bt_dataset_count(train))
        return bt_cli_usage_error(CMD,
                                  "--batch-size %zu: larger than the %zu training examples",
                                  a->batch_size, bt_dataset_count(train));
    return BT_EXIT_OK;
}

static void print_description(const train_args *a, const train_run *r)
{
    char sizes[256];
    const bt_network_opts *o = &a->net;
    printf("train %s (%s hidden, %s output, %s cost, %s init, seed %llu) on %s: m %zu, eta %g, "
           "lambda %g, %zu epochs; %zu training, %zu validation, %zu test images\n",
           bt_cli_format_sizes(o, sizes, sizeof sizes), bt_activation_str(o->hidden),
           bt_activation_str(o->output), bt_cost_str(o->cost), bt_init_str(o->init),
           (unsigned long long)o->seed, bt_device_get_info(r->device)->name, a->batch_size, a->eta,
           a->lambda, a->epochs, bt_dataset_count(r->train), bt_dataset_count(r->validation),
           bt_dataset_count(r->test));
    fflush(stdout);
}

/* Data, device, network, warm-up, uploads and scheduler: everything before the first step. */
static int prepare(const train_args *a, train_run *r)
{
    if (a->save_path) {
        /* --save must be writable before hours of training, not after. */
        int code = bt_cli_check_output_file(CMD, "--save", a->save_path, false);
        if (code != BT_EXIT_OK)
            return code;
    }
    bt_status status = bt_dataset_load_mnist_dir(a->data_dir, a->validation, &r->train,
                                                 &r->validation, &r->test);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "cannot load the data");
    int code = check_data_shape(a, r->train, r->test);
    if (code != BT_EXIT_OK)
        return code;

    bt_device_opts device_opts = bt_cli_device_opts(&a->device);
    status = bt_device_create(&device_opts, &r->device);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "cannot open the OpenCL device");
    bt_cli_report_gemm_tuning(CMD, r->device, a->quiet);
    if (!a->quiet)
        print_description(a, r);

    bt_network_opts net_opts = a->net;
    net_opts.max_batch = a->batch_size;
    status = bt_network_create(r->device, &net_opts, &r->network);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "cannot create the network");
    /* Outside the clock: CLBlast compiles its kernels for these shapes here. */
    status = bt_network_warmup(r->network, &a->batch_size, 1);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "warm-up failed");

    status = bt_device_data_create(r->device, r->validation, &r->validation_data);
    if (status == BT_OK)
        status = bt_device_data_create(r->device, r->test, &r->test_data);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "cannot upload the data to the device");
    /* The device holds these now; the training set stays: a streaming scheduler reads it. */
    bt_dataset_destroy(r->validation);
    bt_dataset_destroy(r->test);
    r->validation = r->test = NULL;

    bt_scheduler_opts sched_opts = bt_scheduler_opts_default();
    sched_opts.batch_size = a->batch_size;
    sched_opts.sgd.eta = (float)a->eta;
    sched_opts.sgd.lambda = (float)a->lambda;
    sched_opts.sgd.n_train = 0; /* the training-set size */
    sched_opts.seed = bt_rng_shuffle_seed(a->net.seed);
    sched_opts.drop_last = a->drop_last;
    sched_opts.mode = a->data_mode;
    sched_opts.memory_limit = a->memory_limit;
    status = bt_scheduler_create_from_host(r->network, r->train, &sched_opts, &r->scheduler);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "cannot create the scheduler");
    if (!a->quiet)
        printf("training data: %s\n", bt_data_mode_str(bt_scheduler_data_mode(r->scheduler)));
    return BT_EXIT_OK;
}

/* One epoch in slices, timing only the steps. *completed is false when Ctrl-C cut it short. */
static bt_status run_epoch(train_run *r, double *train_seconds, bool *completed)
{
    size_t steps = bt_scheduler_steps_per_epoch(r->scheduler);
    size_t slice = steps / SLICES_PER_EPOCH ? steps / SLICES_PER_EPOCH : 1;
    size_t left = steps;
    while (left > 0 && !bt_cli_interrupted()) {
        size_t n = left < slice ? left : slice;
        double start = bt_clock_seconds();
        bt_status status = bt_scheduler_run(r->scheduler, n);
        *train_seconds += bt_clock_seconds() - start;
        if (status != BT_OK)
            return status;
        left -= n;
    }
    *completed = left == 0;
    return BT_OK;
}

typedef enum train_outcome {
    TRAIN_DONE,
    TRAIN_INTERRUPTED, /* Ctrl-C: the test set is still evaluated and --save honoured */
    TRAIN_DIVERGED,
    TRAIN_FAILED,
} train_outcome;

/* A copy of the parameters, read only when validation improves (a few times a run). Returns an
 * exit code. */
static int remember_best(train_run *r, size_t epoch, double accuracy)
{
    size_t count = bt_network_param_count(r->network);
    if (!r->best_params) {
        r->best_params = malloc(count * sizeof *r->best_params);
        if (!r->best_params) {
            fprintf(stderr, "batchtune %s: out of host memory for --keep-best\n", CMD);
            return BT_EXIT_FAILURE;
        }
    }
    r->best_epoch = epoch;
    r->best_accuracy = accuracy;
    bt_status status = bt_network_get_params(r->network, r->best_params, count);
    return status == BT_OK ? BT_EXIT_OK
                           : bt_cli_report(CMD, status, "cannot keep the best parameters");
}

static train_outcome train_epochs(const train_args *a, train_run *r, int *code)
{
    size_t n_validation = bt_device_data_count(r->validation_data);
    double train_seconds = 0.0;
    for (size_t epoch = 1; epoch <= a->epochs; ++epoch) {
        bool completed = false;
        bt_status status = run_epoch(r, &train_seconds, &completed);
        if (status != BT_OK) {
            *code = bt_cli_report(CMD, status, "training failed");
            return TRAIN_FAILED;
        }
        if (!completed) {
            fprintf(stderr, "batchtune %s: interrupted during epoch %zu\n", CMD, epoch);
            return TRAIN_INTERRUPTED;
        }
        bt_eval train_eval, validation_eval;
        status = bt_network_evaluate_dataset(r->network, r->train, &train_eval);
        if (status == BT_OK)
            status = bt_network_evaluate(r->network, r->validation_data, &validation_eval);
        if (status != BT_OK) {
            *code = bt_cli_report(CMD, status, "evaluation failed");
            return TRAIN_FAILED;
        }
        if (!a->quiet) {
            char cost[32] = "NaN";
            if (!isnan(train_eval.cost))
                snprintf(cost, sizeof cost, "%.4f", train_eval.cost);
            printf("epoch %*zu  cost %s  validation %6.2f%%  (%*zu/%zu)  train time %8.2f s\n",
                   digits(a->epochs), epoch, cost, 100.0 * validation_eval.accuracy,
                   digits(n_validation), validation_eval.correct, validation_eval.count,
                   train_seconds);
            fflush(stdout);
        }
        if (a->keep_best && validation_eval.accuracy > r->best_accuracy) {
            *code = remember_best(r, epoch, validation_eval.accuracy);
            if (*code != BT_EXIT_OK)
                return TRAIN_FAILED;
        }
        if (isnan(train_eval.cost)) {
            fprintf(stderr, "batchtune %s: diverged: cost is NaN; try a smaller --eta\n", CMD);
            *code = BT_EXIT_FAILURE;
            return TRAIN_DIVERGED;
        }
        if (bt_cli_interrupted() && epoch < a->epochs) {
            fprintf(stderr, "batchtune %s: interrupted after epoch %zu\n", CMD, epoch);
            return TRAIN_INTERRUPTED;
        }
    }
    return TRAIN_DONE;
}

/* Test accuracy and --save, after the last epoch or an interrupt. */
static int finish(const train_args *a, train_run *r)
{
    bt_status status = BT_OK;
    if (a->keep_best && r->best_params) {
        status = bt_network_set_params(r->network, r->best_params,
                                       bt_network_param_count(r->network));
        if (status != BT_OK)
            return bt_cli_report(CMD, status, "cannot restore the best parameters");
        printf("kept the parameters of epoch %zu (best validation accuracy %.2f%%)\n",
               r->best_epoch, 100.0 * r->best_accuracy);
    }
    bt_eval test_eval;
    status = bt_network_evaluate(r->network, r->test_data, &test_eval);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "evaluating the test set failed");
    printf("test accuracy %.2f%% (%zu/%zu)\n", 100.0 * test_eval.accuracy, test_eval.correct,
           test_eval.count);
    fflush(stdout);
    if (a->save_path) {
        status = bt_network_save(r->network, a->save_path);
        if (status != BT_OK)
            return bt_cli_report(CMD, status, "cannot save the parameters");
        printf("parameters saved to %s\n", a->save_path);
        fflush(stdout);
    }
    return BT_EXIT_OK;
}

static int run(const train_args *a)
{
    train_run r;
    memset(&r, 0, sizeof r);
    int code = prepare(a, &r);
    if (code != BT_EXIT_OK) {
        train_run_destroy(&r);
        return code;
    }

    bt_cli_catch_sigint();
    train_outcome outcome = train_epochs(a, &r, &code);
    if (outcome == TRAIN_DONE || outcome == TRAIN_INTERRUPTED) {
        code = finish(a, &r);
        if (code == BT_EXIT_OK && outcome == TRAIN_INTERRUPTED)
            code = BT_EXIT_INTERRUPTED;
    }

    bt_cli_release_sigint();
    train_run_destroy(&r);
    return code;
}

/* ----- the command line ----- */

enum {
    OPT_ETA = BT_CLI_OPT_COMMAND,
    OPT_LAMBDA,
    OPT_EPOCHS,
    OPT_SEED,
    OPT_DATA,
    OPT_VALIDATION,
    OPT_DROP_LAST,
    OPT_SAVE,
    OPT_KEEP_BEST,
    OPT_DATA_MODE,
    OPT_MEMORY_LIMIT,
};

static const struct option train_options[] = {
    BT_CLI_OPTIONS_NETWORK,
    BT_CLI_OPTION_INIT,
    {"batch-size", required_argument, NULL, 'm'},
    {"eta", required_argument, NULL, OPT_ETA},
    {"lambda", required_argument, NULL, OPT_LAMBDA},
    {"epochs", required_argument, NULL, OPT_EPOCHS},
    {"seed", required_argument, NULL, OPT_SEED},
    BT_CLI_OPTION_DEVICE,
    {"data", required_argument, NULL, OPT_DATA},
    {"validation", required_argument, NULL, OPT_VALIDATION},
    {"drop-last", no_argument, NULL, OPT_DROP_LAST},
    {"save", required_argument, NULL, OPT_SAVE},
    BT_CLI_OPTION_NO_CACHE,
    BT_CLI_OPTION_NO_GEMM_TUNING,
    {"keep-best", no_argument, NULL, OPT_KEEP_BEST},
    {"data-mode", required_argument, NULL, OPT_DATA_MODE},
    {"memory-limit", required_argument, NULL, OPT_MEMORY_LIMIT},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {0, 0, 0, 0},
};

/* Parses one option into *a (a bt_cli_option_fn). */
static int parse_option(int opt, const char *arg, void *ctx)
{
    train_args *a = ctx;
    if (bt_cli_parse_device_option(opt, arg, &a->device))
        return BT_EXIT_OK;
    if (opt == BT_CLI_OPT_LAYERS)
        a->layers_text = arg; /* as given, for the messages about the data's shape */
    int code = bt_cli_parse_network_option(CMD, opt, arg, &a->net);
    if (code != BT_CLI_NOT_MINE)
        return code;
    unsigned long long u64 = 0;
    switch (opt) {
    case 'm':
        if (!bt_cli_parse_size(arg, 1, &a->batch_size))
            return bt_cli_usage_error(CMD, "--batch-size '%s': expected an integer >= 1", arg);
        return BT_EXIT_OK;
    case OPT_ETA:
        if (!bt_cli_parse_real(arg, &a->eta) || !(a->eta > 0.0))
            return bt_cli_usage_error(CMD, "--eta '%s': expected a finite number > 0", arg);
        if (!((float)a->eta > 0.0f))
            return bt_cli_usage_error(CMD, "--eta '%s': too small, it is 0 as a 32-bit float",
                                      arg);
        /* The scheduler's limits, checked here rather than after the device is open. */
        if (!bt_sgd_rates_valid(a->eta, 0.0))
            return bt_cli_usage_error(CMD, "--eta '%s': too large, at most %g", arg,
                                      BT_SGD_MAX_RATE);
        return BT_EXIT_OK;
    case OPT_LAMBDA:
        if (!bt_cli_parse_real(arg, &a->lambda) || !(a->lambda >= 0.0))
            return bt_cli_usage_error(CMD, "--lambda '%s': expected a finite number >= 0", arg);
        if (!bt_sgd_rates_valid(1.0, a->lambda))
            return bt_cli_usage_error(CMD, "--lambda '%s': too large, at most %g", arg,
                                      BT_SGD_MAX_RATE);
        return BT_EXIT_OK;
    case OPT_EPOCHS:
        if (!bt_cli_parse_size(arg, 1, &a->epochs))
            return bt_cli_usage_error(CMD, "--epochs '%s': expected an integer >= 1", arg);
        return BT_EXIT_OK;
    case OPT_SEED:
        if (!bt_cli_parse_u64(arg, &u64))
            return bt_cli_usage_error(CMD, "--seed '%s': expected an integer from 0 to %llu", arg,
                                      (unsigned long long)UINT64_MAX);
        a->net.seed = (uint64_t)u64;
        return BT_EXIT_OK;
    case OPT_DATA:
        a->data_dir = arg;
        return BT_EXIT_OK;
    case OPT_VALIDATION:
        if (!bt_cli_parse_size(arg, 1, &a->validation))
            return bt_cli_usage_error(CMD, "--validation '%s': expected an integer >= 1", arg);
        return BT_EXIT_OK;
    case OPT_DROP_LAST:
        a->drop_last = true;
        return BT_EXIT_OK;
    case OPT_SAVE:
        if (!*arg)
            return bt_cli_usage_error(CMD, "--save needs a file name");
        a->save_path = arg;
        return BT_EXIT_OK;
    case OPT_KEEP_BEST:
        a->keep_best = true;
        return BT_EXIT_OK;
    case OPT_DATA_MODE:
        for (int mode = BT_DATA_AUTO; mode <= BT_DATA_STREAM; ++mode) {
            if (strcmp(arg, bt_data_mode_str((bt_data_mode)mode)) == 0) {
                a->data_mode = (bt_data_mode)mode;
                return BT_EXIT_OK;
            }
        }
        return bt_cli_usage_error(CMD, "--data-mode '%s': expected auto, resident or stream", arg);
    case OPT_MEMORY_LIMIT: {
        unsigned long long mib = 0;
        if (!bt_cli_parse_u64(arg, &mib) || mib == 0 || mib > (1ull << 40))
            return bt_cli_usage_error(CMD, "--memory-limit '%s': expected MiB, 1..2^40", arg);
        a->memory_limit = (uint64_t)mib << 20;
        return BT_EXIT_OK;
    }
    case 'q':
        a->quiet = true;
        return BT_EXIT_OK;
    default:
        return BT_CLI_NOT_MINE;
    }
}

static const bt_cli_command train_command = {CMD, "m:d:qh", train_options, print_help,
                                             parse_option};

int bt_cmd_train(int argc, char **argv)
{
    train_args a;
    memset(&a, 0, sizeof a);
    a.net = bt_network_opts_default();
    a.layers_text = "784,30,10";
    a.batch_size = 10;
    a.eta = 3.0;
    a.lambda = 0.0;
    a.epochs = 30;
    a.net.seed = 1;
    a.validation = BT_DEFAULT_VALIDATION_COUNT;
    a.data_dir = BT_DEFAULT_DATA_DIR;
    a.device = bt_cli_device_args_default();

    int code = bt_cli_parse_options(&train_command, argc, argv, &a);
    if (code != BT_CLI_GO_ON)
        return code;
    a.net.max_batch = a.batch_size;
    if (bt_network_opts_validate(&a.net) != BT_OK)
        return bt_cli_usage_error(CMD, "%s", bt_last_error());
    return run(&a);
}
