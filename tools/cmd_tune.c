/* batchtune tune: the book's procedure for choosing the mini-batch size (Nielsen, ch. 3) on one
 * device. The library's tuner does the measuring; this file reads the options, shows progress on
 * a terminal, prints the ranking and writes the files (tune_report.c). Ctrl-C stops the tuning
 * cleanly and the results measured so far are still printed and written. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "batchtune_predict.h"
#include "batchtune_tuner.h"
#include "cli.h"
#include "common/clock.h"
#include "tune_report.h"

#define CMD "tune"
#define DEFAULT_BATCH_SIZES "1,2,4,8,16,32,64,128,256,512,1024"
#define MAX_BATCH_SIZE ((size_t)1 << 24)

static void print_help(void)
{
    printf(
        "usage: batchtune tune [options]\n\n"
        "Find the mini-batch size m whose validation accuracy rises fastest in wall-clock time\n"
        "on a device (Nielsen, ch. 3): train the same network from the same initial weights\n"
        "with each candidate m and the learning rate scaled to m, evaluate the validation set\n"
        "every few seconds of training (the clock stops while evaluating), and rank the\n"
        "candidates by the training time they take to reach a target accuracy. With no options\n"
        "it tunes the book's network on Fashion-MNIST in a few minutes on a 2-core CPU.\n\n"
        "candidates and learning rate:\n"
        "  -m, --batch-sizes LIST  candidate batch sizes, e.g. 8,16,32 (default\n"
        "                          " DEFAULT_BATCH_SIZES ")\n"
        "      --eta ETA           learning rate at the reference batch size (default 3.0,\n"
        "                          the book's at m = 10)\n"
        "      --m-ref M           reference batch size of --eta (default 10)\n"
        "      --rule RULE         eta(m): linear = eta*m/m_ref (the book's rule), sqrt =\n"
        "                          eta*sqrt(m/m_ref), none = eta (default sqrt: with linear\n"
        "                          the book's network saturates from m = 64..128 and never\n"
        "                          learns)\n"
        "      --lambda LAMBDA     L2 regularisation strength, >= 0 (default 0)\n"
        "measurement:\n"
        "      --target ACC        validation accuracy to reach, in (0,1] (default 0.80: the\n"
        "                          book's network passes it within 2 epochs, so fast\n"
        "                          candidates reach it well inside the budget)\n"
        "      --budget S          training seconds per candidate and seed (default 10: on a\n"
        "                          2-core CPU the fastest m pass 80%% after 1-2 s, m = 1\n"
        "                          after about 20 s)\n"
        "      --eval-interval S   training seconds between evaluations (default 0.25: fast\n"
        "                          candidates pass 80%% after about 1 s, and one evaluation\n"
        "                          of 10,000 images takes ~0.04 s on that CPU)\n"
        "      --repeats N         seeds per candidate; medians and spreads are shown\n"
        "                          (default 1)\n"
        "      --seed S            first seed: initial weights and shuffles (default 1)\n"
        "      --predict           first predict the fastest m from the gradient noise\n"
        "                          scale and t(m) (as 'batchtune predict', about a fifth of\n"
        "                          the default tuning's time) and show it beside the ranking;\n"
        "                          summary.json holds both\n"
        "      --around-prediction --predict, then measure only the candidates from m*/4 to\n"
        "                          4 m* (m* = sqrt(B a / b), else the predicted fastest m)\n"
        "      --no-early-stop     train every candidate for the whole budget (the full\n"
        "                          sweep). By default, successive halving: stages of budget/4,\n"
        "                          budget/2 and budget compare the candidates at equal training\n"
        "                          time and keep the better half, and the tuning ends as soon\n"
        "                          as the fastest to the target is certain\n"
        "network:\n"
        "      --layers LIST       units per layer, input first (default 784,30,10)\n"
        "      --hidden ACT        hidden activation: sigmoid, tanh, relu (default sigmoid)\n"
        "      --output ACT        output activation: sigmoid, softmax (default sigmoid)\n"
        "      --cost COST         quadratic or cross-entropy (sigmoid output), log-likelihood\n"
        "                          (softmax output) (default quadratic)\n"
        "      --engine E          what computes the layers' products: auto, fused (our\n"
        "                          fused kernels), clblast (default auto)\n"
        "      --init INIT         normal: N(0,1); scaled: weights N(0,1/n_in) (default normal)\n"
        "data and device:\n"
        "      --data DIR          folder of MNIST-format IDX files (default\n"
        "                          " BT_DEFAULT_DATA_DIR ")\n"
        "      --validation N      last N training images are the validation set (default %d)\n"
        "      --train-subset N    train on the first N training images only (quick runs)\n"
        "  -d, --device SEL        device selector (see 'batchtune devices'); default: the\n"
        "                          BATCHTUNE_DEVICE variable, else the first GPU, else device 0\n"
        "      --no-cache          neither read nor write the program-binary cache\n"
        "      --no-gemm-tuning    use CLBlast's own GEMM parameters, not the device's stored\n"
        "                          ones (batchtune tune-gemm)\n"
        "output:\n"
        "      --out DIR           folder for the files (default ./batchtune-tune-DATE-TIME)\n"
        "  -q, --quiet             print only the winner and the folder\n"
        "  -h, --help              this text\n\n"
        "Prints a table ranking the candidates by time to target (those that never reach it by\n"
        "their best accuracy within the budget), with examples per second and the time of one\n"
        "update relative to m = 1, then the winner and its eta. Writes into the folder:\n"
        "summary.json (device, workload, every parameter, version, all results), evaluations.csv\n"
        "(every evaluation), accuracy.dat and accuracy.gp (gnuplot script: accuracy against\n"
        "training time, one curve per m, the target as a line), rendered to accuracy.svg,\n"
        "accuracy.png and accuracy.txt (the same as text, for a terminal) when gnuplot is\n"
        "installed, and manifest.txt last (the run's files, sizes and CRC-32s: a set that\n"
        "lacks it is incomplete). A run whose cost turns NaN, or whose accuracy\n"
        "stays at (or falls back to) chance, is reported as diverged or stuck and the sweep\n"
        "goes on. A progress line is shown on stderr when it is a terminal.\n\n"
        "Ctrl-C stops cleanly, prints and writes the results measured so far and exits with\n"
        "status 130; a second Ctrl-C ends at once. SIGTERM and SIGHUP do the same as Ctrl-C.\n"
        "Exit status: 0 done, 1 failure, 2 bad command line, 130 interrupted.\n",
        BT_DEFAULT_VALIDATION_COUNT);
}

/* ----- options ----- */

typedef struct tune_args {
    bt_tuner_opts opts;
    const char *layers_text;
    const char *data_dir, *out_dir;
    bt_cli_device_args device;
    size_t validation, train_subset;
    bool quiet;
    bool predict, around_prediction;
    char default_out[64];
} tune_args;

/* "1,2,4": integers 1..MAX_BATCH_SIZE separated by single commas. Returns an exit code. */
static int parse_batch_sizes(const char *text, bt_tuner_opts *o)
{
    if (!*text)
        return bt_cli_usage_error(CMD, "--batch-sizes: the list is empty");
    size_t n = 0;
    for (const char *p = text;;) {
        size_t value = 0;
        if (!isdigit((unsigned char)*p))
            return bt_cli_usage_error(CMD, "--batch-sizes '%s': expected integers >= 1 "
                                           "separated by commas, e.g. 8,16,32",
                                      text);
        while (isdigit((unsigned char)*p) && value <= MAX_BATCH_SIZE)
            value = value * 10 + (size_t)(*p++ - '0');
        if (value == 0 || value > MAX_BATCH_SIZE)
            return bt_cli_usage_error(CMD, "--batch-sizes '%s': every m must be 1 to %zu", text,
                                      MAX_BATCH_SIZE);
        if (n == BT_TUNER_MAX_CANDIDATES)
            return bt_cli_usage_error(CMD, "--batch-sizes '%s': at most %d candidates", text,
                                      BT_TUNER_MAX_CANDIDATES);
        for (size_t i = 0; i < n; ++i)
            if (o->batch_sizes[i] == value)
                return bt_cli_usage_error(CMD, "--batch-sizes '%s': %zu is listed twice", text,
                                          value);
        o->batch_sizes[n++] = value;
        if (*p == '\0')
            break;
        if (*p++ != ',')
            return bt_cli_usage_error(CMD, "--batch-sizes '%s': expected integers >= 1 "
                                           "separated by commas, e.g. 8,16,32",
                                      text);
    }
    o->n_batch_sizes = n;
    return BT_EXIT_OK;
}

static int parse_seconds(const char *option, const char *arg, double *out)
{
    if (!bt_cli_parse_real(arg, out) || !(*out > 0.0) || *out > 1e7)
        return bt_cli_usage_error(CMD, "%s '%s': expected a number of seconds above 0", option,
                                  arg);
    return BT_EXIT_OK;
}

static int parse_target(const char *arg, double *out)
{
    if (!bt_cli_parse_real(arg, out))
        return bt_cli_usage_error(CMD, "--target '%s': expected a fraction in (0,1], e.g. 0.8",
                                  arg);
    if (*out > 1.0 && *out <= 100.0)
        return bt_cli_usage_error(CMD, "--target '%s': the target is a fraction in (0,1]; for "
                                       "%g%% write %g",
                                  arg, *out, *out / 100.0);
    if (!(*out > 0.0 && *out <= 1.0))
        return bt_cli_usage_error(CMD, "--target '%s': must be in (0,1]", arg);
    return BT_EXIT_OK;
}

/* A library parse error as a usage error: the library's message says what is accepted. */
static int parse_error(const char *option, const char *value)
{
    return bt_cli_usage_error(CMD, "%s '%s': %s", option, value, bt_last_error());
}

enum {
    OPT_ETA = BT_CLI_OPT_COMMAND,
    OPT_M_REF,
    OPT_RULE,
    OPT_LAMBDA,
    OPT_TARGET,
    OPT_BUDGET,
    OPT_EVAL_INTERVAL,
    OPT_REPEATS,
    OPT_SEED,
    OPT_NO_EARLY_STOP,
    OPT_DATA,
    OPT_VALIDATION,
    OPT_TRAIN_SUBSET,
    OPT_OUT,
    OPT_PREDICT,
    OPT_AROUND_PREDICTION,
};

static const struct option tune_options[] = {
    {"batch-sizes", required_argument, NULL, 'm'},
    {"candidates", required_argument, NULL, 'm'},
    {"eta", required_argument, NULL, OPT_ETA},
    {"m-ref", required_argument, NULL, OPT_M_REF},
    {"rule", required_argument, NULL, OPT_RULE},
    {"lambda", required_argument, NULL, OPT_LAMBDA},
    {"target", required_argument, NULL, OPT_TARGET},
    {"budget", required_argument, NULL, OPT_BUDGET},
    {"eval-interval", required_argument, NULL, OPT_EVAL_INTERVAL},
    {"repeats", required_argument, NULL, OPT_REPEATS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"no-early-stop", no_argument, NULL, OPT_NO_EARLY_STOP},
    {"predict", no_argument, NULL, OPT_PREDICT},
    {"around-prediction", no_argument, NULL, OPT_AROUND_PREDICTION},
    BT_CLI_OPTIONS_NETWORK,
    BT_CLI_OPTION_INIT,
    {"data", required_argument, NULL, OPT_DATA},
    {"validation", required_argument, NULL, OPT_VALIDATION},
    {"train-subset", required_argument, NULL, OPT_TRAIN_SUBSET},
    BT_CLI_OPTION_DEVICE,
    BT_CLI_OPTION_NO_CACHE,
    BT_CLI_OPTION_NO_GEMM_TUNING,
    {"out", required_argument, NULL, OPT_OUT},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {0, 0, 0, 0},
};

/* Learning-rate and measurement options. */
static int parse_tuning_option(int opt, const char *arg, tune_args *a)
{
    bt_tuner_opts *o = &a->opts;
    unsigned long long u64 = 0;
    switch (opt) {
    case 'm':
        return parse_batch_sizes(arg, o);
    case OPT_ETA:
        if (!bt_cli_parse_real(arg, &o->eta_ref) || !(o->eta_ref > 0.0))
            return bt_cli_usage_error(CMD, "--eta '%s': expected a finite number > 0", arg);
        return BT_EXIT_OK;
    case OPT_M_REF:
        return bt_cli_parse_size(arg, 1, &o->m_ref)
                   ? BT_EXIT_OK
                   : bt_cli_usage_error(CMD, "--m-ref '%s': expected an integer >= 1", arg);
    case OPT_RULE:
        return bt_lr_rule_parse(arg, &o->rule) == BT_OK ? BT_EXIT_OK
                                                        : parse_error("--rule", arg);
    case OPT_LAMBDA:
        if (!bt_cli_parse_real(arg, &o->lambda) || !(o->lambda >= 0.0))
            return bt_cli_usage_error(CMD, "--lambda '%s': expected a finite number >= 0", arg);
        return BT_EXIT_OK;
    case OPT_TARGET:
        return parse_target(arg, &o->target_accuracy);
    case OPT_BUDGET:
        return parse_seconds("--budget", arg, &o->budget_seconds);
    case OPT_EVAL_INTERVAL:
        return parse_seconds("--eval-interval", arg, &o->eval_interval_seconds);
    case OPT_REPEATS:
        if (!bt_cli_parse_size(arg, 1, &o->repeats) || o->repeats > BT_TUNER_MAX_REPEATS)
            return bt_cli_usage_error(CMD, "--repeats '%s': expected an integer from 1 to %d",
                                      arg, BT_TUNER_MAX_REPEATS);
        return BT_EXIT_OK;
    case OPT_SEED:
        if (!bt_cli_parse_u64(arg, &u64))
            return bt_cli_usage_error(CMD, "--seed '%s': expected an integer from 0 to %llu", arg,
                                      (unsigned long long)UINT64_MAX);
        o->network.seed = (uint64_t)u64;
        return BT_EXIT_OK;
    default: /* OPT_NO_EARLY_STOP */
        o->early_stop = false;
        return BT_EXIT_OK;
    }
}

/* Parses one option into *a (a bt_cli_option_fn). */
static int parse_option(int opt, const char *arg, void *ctx)
{
    tune_args *a = ctx;
    if (bt_cli_parse_device_option(opt, arg, &a->device))
        return BT_EXIT_OK;
    if (opt == BT_CLI_OPT_LAYERS)
        a->layers_text = arg; /* as given, for the messages about the data's shape */
    int code = bt_cli_parse_network_option(CMD, opt, arg, &a->opts.network);
    if (code != BT_CLI_NOT_MINE)
        return code;
    switch (opt) {
    case 'm':
    case OPT_ETA:
    case OPT_M_REF:
    case OPT_RULE:
    case OPT_LAMBDA:
    case OPT_TARGET:
    case OPT_BUDGET:
    case OPT_EVAL_INTERVAL:
    case OPT_REPEATS:
    case OPT_SEED:
    case OPT_NO_EARLY_STOP:
        return parse_tuning_option(opt, arg, a);
    case OPT_DATA:
        a->data_dir = arg;
        return BT_EXIT_OK;
    case OPT_VALIDATION:
        return bt_cli_parse_size(arg, 1, &a->validation)
                   ? BT_EXIT_OK
                   : bt_cli_usage_error(CMD, "--validation '%s': expected an integer >= 1", arg);
    case OPT_TRAIN_SUBSET:
        return bt_cli_parse_size(arg, 1, &a->train_subset)
                   ? BT_EXIT_OK
                   : bt_cli_usage_error(CMD, "--train-subset '%s': expected an integer >= 1",
                                        arg);
    case OPT_OUT:
        if (!*arg)
            return bt_cli_usage_error(CMD, "--out needs a folder name");
        a->out_dir = arg;
        return BT_EXIT_OK;
    case 'q':
        a->quiet = true;
        return BT_EXIT_OK;
    case OPT_PREDICT:
        a->predict = true;
        return BT_EXIT_OK;
    case OPT_AROUND_PREDICTION:
        a->predict = a->around_prediction = true;
        return BT_EXIT_OK;
    default:
        return BT_CLI_NOT_MINE;
    }
}

static const bt_cli_command tune_command = {CMD, "m:d:qh", tune_options, print_help,
                                            parse_option};

/* ----- the run ----- */

typedef struct tune_session {
    bt_dataset *train, *validation;
    bt_device *device;
    bt_tuner_result *result;
    bt_predict_result *prediction; /* with --predict */
    bool progress_shown; /* a progress line is on the terminal and must be cleared */
} tune_session;

static void session_destroy(tune_session *s)
{
    bt_tuner_result_destroy(s->result);
    bt_predict_result_destroy(s->prediction);
    bt_device_destroy(s->device);
    bt_dataset_destroy(s->validation);
    bt_dataset_destroy(s->train);
}

/* The data must match the network's input and fit its output; every m must fit the data. */
static int check_workload(tune_args *a, const tune_session *s)
{
    size_t count = bt_dataset_count(s->train);
    int code = bt_cli_check_layers_fit(CMD, a->layers_text, &a->opts.network, a->data_dir,
                                       s->train);
    if (code != BT_EXIT_OK)
        return code;
    for (size_t i = 0; i < a->opts.n_batch_sizes; ++i)
        if (a->opts.batch_sizes[i] > count)
            return bt_cli_usage_error(CMD,
                                      "batch size %zu is larger than the %zu training examples; "
                                      "choose smaller ones with --batch-sizes",
                                      a->opts.batch_sizes[i], count);
    if (bt_tuner_opts_validate(&a->opts, count) != BT_OK)
        return bt_cli_usage_error(CMD, "%s", bt_last_error());
    return BT_EXIT_OK;
}

static int load_data(tune_args *a, tune_session *s)
{
    bt_status status = bt_dataset_load_mnist_dir(a->data_dir, a->validation, &s->train,
                                                 &s->validation, NULL);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "cannot load the data");
    if (a->train_subset) {
        size_t count = bt_dataset_count(s->train);
        if (a->train_subset > count)
            return bt_cli_usage_error(CMD, "--train-subset %zu: the training part of %s has "
                                           "only %zu images",
                                      a->train_subset, a->data_dir, count);
        bt_dataset *subset = NULL;
        status = bt_dataset_slice(s->train, 0, a->train_subset, &subset);
        if (status != BT_OK)
            return bt_cli_report(CMD, status, "cannot take the training subset");
        bt_dataset_destroy(s->train);
        s->train = subset;
    }
    return check_workload(a, s);
}

static void print_description(const tune_args *a, const tune_session *s)
{
    const bt_tuner_opts *o = &a->opts;
    const bt_network_opts *n = &o->network;
    char sizes[256], list[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < o->n_batch_sizes && used < sizeof list; ++i) {
        int len = snprintf(list + used, sizeof list - used, "%s%zu", i ? "," : "",
                           o->batch_sizes[i]);
        used += len > 0 ? (size_t)len : 0;
    }
    printf("tune %s (%s hidden, %s output, %s cost, %s init) on %s: %zu training, %zu "
           "validation images\n"
           "  m in %s; eta %g at m %zu, %s rule; target %g%%; %g s per candidate and seed, "
           "evaluated every %g s; %zu seed%s from %llu; %s\n",
           bt_cli_format_sizes(n, sizes, sizeof sizes), bt_activation_str(n->hidden),
           bt_activation_str(n->output), bt_cost_str(n->cost), bt_init_str(n->init),
           bt_device_get_info(s->device)->name, bt_dataset_count(s->train),
           bt_dataset_count(s->validation), list, o->eta_ref, o->m_ref, bt_lr_rule_str(o->rule),
           100.0 * o->target_accuracy, o->budget_seconds, o->eval_interval_seconds, o->repeats,
           o->repeats == 1 ? "" : "s", (unsigned long long)n->seed,
           o->early_stop ? "early stopping (successive halving)" : "full sweep");
    fflush(stdout);
}

typedef struct progress_state {
    tune_session *session;
    size_t n_candidates, repeats;
    size_t width; /* of the terminal: a longer line would wrap and \r not reach its start */
} progress_state;

static size_t terminal_width(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

static void on_progress(const bt_tuner_progress *p, void *user)
{
    progress_state *ps = user;
    char seed[32] = "", line[256];
    if (ps->repeats > 1)
        snprintf(seed, sizeof seed, " seed %zu/%zu", p->seed_index + 1, ps->repeats);
    snprintf(line, sizeof line,
             "[%zu/%zu] m %zu (eta %.3g)%s stage %zu/%zu: %.1f/%.1f s, accuracy %.1f%% (best "
             "%.1f%%), %.0f s elapsed",
             p->candidate + 1, ps->n_candidates, p->batch_size, p->eta, seed, p->stage + 1,
             p->stages, p->train_seconds, p->budget_seconds, 100.0 * p->accuracy,
             100.0 * p->best_accuracy, p->elapsed_seconds);
    if (strlen(line) >= ps->width && ps->width < sizeof line)
        line[ps->width - 1] = '\0';
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    ps->session->progress_shown = true;
}

static bool on_cancel(void *user)
{
    (void)user;
    return bt_cli_interrupted();
}

/* ----- the table ----- */

/* "1.62", or "1.62 (0.10)" with the spread over seeds, or "-". */
static const char *format_spread(char *buf, size_t size, double value, double spread,
                                 double scale, size_t repeats)
{
    if (!isfinite(value))
        snprintf(buf, size, "-");
    else if (repeats > 1 && isfinite(spread))
        snprintf(buf, size, "%.2f (%.2f)", scale * value, scale * spread);
    else
        snprintf(buf, size, "%.2f", scale * value);
    return buf;
}

static const char *status_text(const bt_tuner_candidate *c, char *buf, size_t size)
{
    if (c->n_trials == 0)
        snprintf(buf, size, "not run");
    else if (c->health != BT_TUNER_HEALTHY)
        snprintf(buf, size, "%s", bt_tuner_health_str(c->health));
    else if (c->reached)
        snprintf(buf, size, "reached");
    else if (c->stop == BT_TUNER_STOP_ELIMINATED) {
        double trained = 0.0;
        for (size_t k = 0; k < c->n_trials; ++k)
            trained = c->trials[k].train_seconds > trained ? c->trials[k].train_seconds : trained;
        snprintf(buf, size, "eliminated after %.1f s", trained);
    } else if (c->stop == BT_TUNER_STOP_INTERRUPTED)
        snprintf(buf, size, "interrupted");
    else
        snprintf(buf, size, "not reached");
    return buf;
}

static void print_table(const bt_tuner_result *result)
{
    const bt_tuner_summary *s = bt_tuner_result_summary(result);
    const bt_tuner_opts *o = bt_tuner_result_opts(result);
    size_t r = o->repeats;
    char target[32];
    snprintf(target, sizeof target, "s to %g%%", 100.0 * o->target_accuracy);
    printf("\n");
    if (r > 1)
        printf("medians over %zu seeds, (max - min) in parentheses\n", r);
    printf("%4s %6s %8s %13s %7s %14s %11s %10s  %s\n", "rank", "m", "eta", target, "epochs",
           "best acc %", "examples/s", "update/m=1", "status");
    for (size_t i = 0; i < s->n_candidates; ++i) {
        const bt_tuner_candidate *c = &s->candidates[s->ranking[i]];
        char ttt[40], acc[40], ratio[24], rate[24], status[48];
        format_spread(ttt, sizeof ttt, c->time_to_target, c->time_to_target_spread, 1.0, r);
        format_spread(acc, sizeof acc, c->best_accuracy, c->best_accuracy_spread, 100.0, r);
        snprintf(rate, sizeof rate, isfinite(c->examples_per_second) ? "%.0f" : "-",
                 c->examples_per_second);
        snprintf(ratio, sizeof ratio, isfinite(c->update_time_ratio) ? "%.2f" : "-",
                 c->update_time_ratio);
        char epochs[24];
        snprintf(epochs, sizeof epochs, isfinite(c->epochs_to_target) ? "%.2f" : "-",
                 c->epochs_to_target);
        printf("%4zu %6zu %8.4g %13s %7s %14s %11s %10s  %s\n", i + 1, c->batch_size, c->eta,
               ttt, epochs, acc, rate, ratio, status_text(c, status, sizeof status));
    }
    printf("(s to target: training seconds, interpolated between evaluations; update/m=1: time "
           "of one step of m examples over one step of 1)\n");
    for (size_t i = 0; i < s->n_candidates; ++i) {
        const bt_tuner_candidate *c = &s->candidates[s->ranking[i]];
        if (*c->reason)
            printf("  m %zu: %s%s: %s\n", c->batch_size,
                   c->health == BT_TUNER_HEALTHY ? "one seed " : "",
                   c->health == BT_TUNER_HEALTHY ? "unhealthy" : bt_tuner_health_str(c->health),
                   c->reason);
    }
}

static void print_winner(const bt_tuner_result *result)
{
    const bt_tuner_summary *s = bt_tuner_result_summary(result);
    const bt_tuner_opts *o = bt_tuner_result_opts(result);
    const bt_tuner_candidate *w = s->winner;
    if (!w) {
        printf("no winner: %s\n", s->evaluations ? "every candidate that ran diverged or got stuck"
                                                 : "nothing was measured");
    } else if (w->reached) {
        printf("winner: m = %zu with eta = %.4g (%s rule from eta %g at m %zu): %g%% validation "
               "accuracy after %.2f s of training (%.2f epochs)\n",
               w->batch_size, w->eta, bt_lr_rule_str(o->rule), o->eta_ref, o->m_ref,
               100.0 * o->target_accuracy, w->time_to_target, w->epochs_to_target);
        /* How close the next one is: timings on a busy machine vary by tens of percent. */
        const bt_tuner_candidate *next =
            s->n_candidates > 1 ? &s->candidates[s->ranking[1]] : NULL;
        if (next && next->reached && w->time_to_target > 0.0)
            printf("runner-up: m = %zu after %.2f s (%+.0f%%)\n", next->batch_size,
                   next->time_to_target,
                   100.0 * (next->time_to_target / w->time_to_target - 1.0));
    } else {
        printf("no candidate reached %g%%; best accuracy within the budget: m = %zu with eta = "
               "%.4g, %.2f%%\n",
               100.0 * o->target_accuracy, w->batch_size, w->eta, 100.0 * w->best_accuracy);
    }
}

static void print_totals(const bt_tuner_result *result, double tool_seconds)
{
    const bt_tuner_summary *s = bt_tuner_result_summary(result);
    printf("tuning took %.1f s (%.1f s of training, %zu evaluations; %.1f s with loading and "
           "files), %s",
           s->total_seconds, s->train_seconds, s->evaluations, tool_seconds,
           s->stages > 1 ? "early stopping over stages of" : "full sweep of");
    for (size_t i = 0; i < s->stages; ++i)
        printf("%s %g", i ? "," : "", s->stage_budgets[i]);
    printf(" s%s\n", s->interrupted ? "; interrupted, results are partial" : "");
}

/* ----- the prediction (--predict, --around-prediction) ----- */

/* Trains the reference run and times the candidates (batchtune_predict.h). Returns an exit code;
 * BT_EXIT_INTERRUPTED when Ctrl-C came (nothing is tuned then). */
static int run_prediction(tune_args *a, tune_session *s)
{
    bt_predict_opts po = bt_predict_opts_default();
    po.tuner = a->opts;
    po.tuner.eval_interval_seconds = bt_predict_opts_default().tuner.eval_interval_seconds;
    po.cancel = on_cancel;
    if (!a->quiet) {
        printf("predicting first (reference run and step times)...\n");
        fflush(stdout);
    }
    bt_status status =
        bt_predict_run(s->device, s->train, s->validation, &po, &s->prediction);
    if (status == BT_ERR_INTERRUPTED) {
        fprintf(stderr, "batchtune %s: interrupted while predicting; nothing was tuned\n", CMD);
        return BT_EXIT_INTERRUPTED;
    }
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "cannot predict");
    return BT_EXIT_OK;
}

/* Keeps the candidates from center/4 to 4 center, center = m* (else the predicted fastest m);
 * the one nearest to it (in ratio) when none is in that range. */
static void narrow_candidates(tune_args *a, const bt_predict_summary *p)
{
    double center = isfinite(p->optimal_m) ? p->optimal_m
                    : p->best < p->n_candidates ? (double)p->batch_sizes[p->best]
                                                : NAN;
    bt_tuner_opts *o = &a->opts;
    if (!isfinite(center)) {
        printf("no prediction to narrow the candidates around; measuring all of them\n");
        return;
    }
    size_t kept = 0, nearest = 0;
    for (size_t i = 0; i < o->n_batch_sizes; ++i) {
        double m = (double)o->batch_sizes[i];
        if (fabs(log(m / center)) < fabs(log((double)o->batch_sizes[nearest] / center)))
            nearest = i;
    }
    size_t nearest_m = o->batch_sizes[nearest];
    for (size_t i = 0; i < o->n_batch_sizes; ++i) {
        double m = (double)o->batch_sizes[i];
        if (m >= center / 4.0 && m <= 4.0 * center)
            o->batch_sizes[kept++] = o->batch_sizes[i];
    }
    if (kept == 0)
        o->batch_sizes[kept++] = nearest_m;
    o->n_batch_sizes = kept;
    printf("candidates narrowed to m*/4 .. 4 m* around %.0f:", center);
    for (size_t i = 0; i < kept; ++i)
        printf("%s %zu", i ? "," : "", o->batch_sizes[i]);
    printf("\n");
}

/* The prediction beside the measured ranking. */
static void print_prediction_vs_measured(const tune_session *s)
{
    const bt_predict_summary *p = bt_predict_result_summary(s->prediction);
    const bt_tuner_summary *t = bt_tuner_result_summary(s->result);
    printf("prediction (B = %.4g near %s, reference m = %zu): ", p->noise_scale,
           p->reached ? "the target" : "the end of the reference run [caveat: target not reached]",
           p->reference_batch);
    if (p->best < p->n_candidates)
        printf("fastest m = %zu", p->batch_sizes[p->best]);
    else
        printf("none");
    if (isfinite(p->optimal_m))
        printf(", m* = %.0f", p->optimal_m);
    printf("; predicted time relative to the fastest:");
    for (size_t i = 0; i < p->n_candidates; ++i)
        if (isfinite(p->relative_time[i]))
            printf(" %zu:%.2f", p->batch_sizes[i], p->relative_time[i]);
    printf("\n");
    if (t->winner && t->winner->reached) {
        const bt_tuner_candidate *w = t->winner;
        double rel = NAN;
        for (size_t i = 0; i < p->n_candidates; ++i)
            if (p->batch_sizes[i] == w->batch_size)
                rel = p->relative_time[i];
        printf("measured winner m = %zu; predicted %.2f x the predicted fastest's time\n",
               w->batch_size, rel);
    }
    printf("prediction took %.1f s\n", p->total_seconds);
}

/* ----- putting it together ----- */

static int prepare(tune_args *a, tune_session *s)
{
    int code = load_data(a, s);
    if (code != BT_EXIT_OK)
        return code;
    if (!bt_tune_make_dir(a->out_dir))
        return BT_EXIT_FAILURE;
    bt_device_opts device_opts = bt_cli_device_opts(&a->device);
    bt_status status = bt_device_create(&device_opts, &s->device);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "cannot open the OpenCL device");
    bt_cli_report_gemm_tuning(CMD, s->device, a->quiet);
    return BT_EXIT_OK;
}

/* Files (atomically), the plot, and where they are. Returns false if a file failed. */
static bool write_results(const tune_args *a, const tune_session *s, bt_status status,
                          const char *error, double start)
{
    bt_tune_report rep;
    memset(&rep, 0, sizeof rep);
    rep.result = s->result;
    rep.device = bt_device_get_info(s->device);
    rep.data_dir = a->data_dir;
    rep.train_subset = a->train_subset;
    rep.features = bt_dataset_features(s->train);
    rep.classes = bt_dataset_classes(s->train);
    rep.status = bt_status_name(status);
    rep.error = error;
    rep.tool_seconds = bt_clock_seconds() - start;
    rep.prediction = s->prediction;
    bool plotted = false;
    if (!bt_tune_write_results(a->out_dir, &rep, &plotted))
        return false;
    printf("results in %s: summary.json, evaluations.csv, accuracy.gp%s, manifest.txt\n",
           a->out_dir, plotted ? ", accuracy.svg, accuracy.png, accuracy.txt" : "");
    return true;
}

static int tune(tune_args *a, tune_session *s, double start)
{
    progress_state ps = {s, a->opts.n_batch_sizes, a->opts.repeats, terminal_width()};
    bt_tuner_opts opts = a->opts;
    opts.cancel = on_cancel;
    opts.user = &ps;
    if (!a->quiet && isatty(STDERR_FILENO))
        opts.progress = on_progress;
    bt_status status = bt_tuner_run(s->device, s->train, s->validation, &opts, &s->result);
    if (s->progress_shown)
        fputs("\r\033[K", stderr);
    if (!s->result)
        return bt_cli_report(CMD, status, "cannot tune");
    /* The library's message, before anything else can overwrite it. */
    char error[1024] = "";
    if (status != BT_OK)
        snprintf(error, sizeof error, "%s", bt_last_error());
    if (!a->quiet)
        print_table(s->result);
    print_winner(s->result);
    if (s->prediction)
        print_prediction_vs_measured(s);
    if (!a->quiet)
        print_totals(s->result, bt_clock_seconds() - start);
    fflush(stdout);
    bool written = write_results(a, s, status, error, start);
    if (status == BT_ERR_INTERRUPTED) {
        fprintf(stderr, "batchtune %s: interrupted; the results so far are %s\n", CMD,
                written ? "printed and written" : "printed");
        return BT_EXIT_INTERRUPTED;
    }
    if (status != BT_OK) {
        fprintf(stderr, "batchtune %s: tuning failed: %s\n", CMD, error);
        return BT_EXIT_FAILURE;
    }
    return written ? BT_EXIT_OK : BT_EXIT_FAILURE;
}

static int run(tune_args *a)
{
    double start = bt_clock_seconds();
    /* Before loading: a Ctrl-C during setup still ends cleanly, with empty results. */
    bt_cli_catch_sigint();
    tune_session s;
    memset(&s, 0, sizeof s);
    int code = prepare(a, &s);
    if (code == BT_EXIT_OK && a->predict) {
        code = run_prediction(a, &s);
        if (code == BT_EXIT_OK && a->around_prediction)
            narrow_candidates(a, bt_predict_result_summary(s.prediction));
    }
    if (code == BT_EXIT_OK) {
        if (!a->quiet)
            print_description(a, &s);
        code = tune(a, &s, start);
    }
    bt_cli_release_sigint();
    session_destroy(&s);
    return code;
}

int bt_cmd_tune(int argc, char **argv)
{
    tune_args a;
    memset(&a, 0, sizeof a);
    a.opts = bt_tuner_opts_default();
    a.layers_text = "784,30,10";
    a.validation = BT_DEFAULT_VALIDATION_COUNT;
    a.data_dir = BT_DEFAULT_DATA_DIR;
    a.device = bt_cli_device_args_default();

    int code = bt_cli_parse_options(&tune_command, argc, argv, &a);
    if (code != BT_CLI_GO_ON)
        return code;
    /* Everything that does not need the data, before loading it. */
    if (bt_tuner_opts_validate(&a.opts, 0) != BT_OK)
        return bt_cli_usage_error(CMD, "%s", bt_last_error());
    if (!a.out_dir) {
        time_t now = time(NULL);
        struct tm local;
        char stamp[32] = "now";
        if (localtime_r(&now, &local))
            strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
        snprintf(a.default_out, sizeof a.default_out, "batchtune-tune-%s", stamp);
        a.out_dir = a.default_out;
    }
    return run(&a);
}
