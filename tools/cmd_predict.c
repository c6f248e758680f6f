/* batchtune predict: the fastest batch size from the gradient noise scale B and the device's step
 * time t(m) (McCandlish et al. 2018), in a fraction of the time `tune` takes to train every
 * candidate. The library measures (batchtune_predict.h); this file reads the options, prints B's
 * trajectory, the t(m) table with its fit and the predicted ranking, and writes the JSON. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "batchtune_predict.h"
#include "cli.h"
#include "common/atomic_file.h"
#include "common/clock.h"
#include "predict_report.h"

#define CMD "predict"
#define MAX_BATCH_SIZE ((size_t)1 << 24)

static void print_help(void)
{
    printf(
        "usage: batchtune predict [options]\n\n"
        "Predict the batch size m whose training reaches a target accuracy fastest in\n"
        "wall-clock time, without training every candidate (McCandlish et al. 2018): one\n"
        "reference run at a moderate m measures the gradient noise scale B toward the target\n"
        "(steps to the target go as 1 + B/m), then one step of every candidate is timed (t(m)),\n"
        "and the candidates are ranked by (1 + B/m) t(m). Also fits t(m) = a + b m and gives\n"
        "m* = sqrt(B a / b). Takes the workload options of 'batchtune tune'.\n\n"
        "candidates and learning rate:\n"
        "  -m, --batch-sizes LIST  candidate batch sizes (default 1,2,4,...,1024)\n"
        "      --eta ETA           learning rate at the reference batch size (default 3.0)\n"
        "      --m-ref M           reference batch size of --eta (default 10)\n"
        "      --rule RULE         eta(m): linear, sqrt or none (default sqrt)\n"
        "      --lambda LAMBDA     L2 regularisation strength, >= 0 (default 0)\n"
        "measurement:\n"
        "      --target ACC        validation accuracy of the reference run, in (0,1]\n"
        "                          (default 0.80)\n"
        "      --budget S          at most S seconds of training in the reference run\n"
        "                          (default 10)\n"
        "      --eval-interval S   training seconds between evaluations (default 0.05)\n"
        "      --reference-m M     batch size of the reference run (default: the median\n"
        "                          candidate, at least 2)\n"
        "      --noise-every N     training steps between noise samples (default 16)\n"
        "      --noise-batch N     examples per noise sample (default: the reference m or\n"
        "                          256, whichever is larger)\n"
        "      --noise-decay D     moving average of B's parts keeps D per sample, [0,1)\n"
        "                          (default 0.97)\n"
        "      --step-time S       seconds of timed steps per candidate (default 0.015)\n"
        "      --seed S            initial weights and shuffles (default 1)\n"
        "network:\n"
        "      --layers LIST       units per layer, input first (default 784,30,10)\n"
        "      --hidden ACT        hidden activation: sigmoid, tanh, relu (default sigmoid)\n"
        "      --output ACT        output activation: sigmoid, softmax (default sigmoid)\n"
        "      --cost COST         quadratic, cross-entropy, log-likelihood (default quadratic)\n"
        "      --engine E          auto, fused or clblast (default auto)\n"
        "      --init INIT         normal or scaled (default normal)\n"
        "data and device:\n"
        "      --data DIR          folder of MNIST-format IDX files (default\n"
        "                          " BT_DEFAULT_DATA_DIR ")\n"
        "      --validation N      last N training images are the validation set (default %d)\n"
        "      --train-subset N    train on the first N training images only\n"
        "  -d, --device SEL        device selector (see 'batchtune devices')\n"
        "      --no-cache          neither read nor write the program-binary cache\n"
        "      --no-gemm-tuning    use CLBlast's own GEMM parameters\n"
        "output:\n"
        "      --json FILE         write the prediction and its measurements as JSON\n"
        "  -q, --quiet             print only the prediction\n"
        "  -h, --help              this text\n\n"
        "B is printed at the start, the middle and the end (near the target) of the reference\n"
        "run. A target the reference run does not reach within the budget is not an error: the\n"
        "prediction then uses the last estimate of B and says so. The model assumes the\n"
        "learning rate suits every m; a fixed rule can limit large m before the noise does, so\n"
        "check the prediction with 'batchtune tune -m' around it.\n\n"
        "Ctrl-C, SIGTERM and SIGHUP stop cleanly and print what was measured (exit status\n"
        "130). Exit status: 0 done, 1 failure, 2 bad command line, 130 interrupted.\n",
        BT_DEFAULT_VALIDATION_COUNT);
}

typedef struct predict_args {
    bt_predict_opts opts;
    const char *layers_text, *data_dir, *json_path;
    bt_cli_device_args device;
    size_t validation, train_subset;
    bool quiet;
} predict_args;

enum {
    OPT_ETA = BT_CLI_OPT_COMMAND,
    OPT_M_REF,
    OPT_RULE,
    OPT_LAMBDA,
    OPT_TARGET,
    OPT_BUDGET,
    OPT_EVAL_INTERVAL,
    OPT_REFERENCE_M,
    OPT_NOISE_EVERY,
    OPT_NOISE_BATCH,
    OPT_NOISE_DECAY,
    OPT_STEP_TIME,
    OPT_SEED,
    OPT_DATA,
    OPT_VALIDATION,
    OPT_TRAIN_SUBSET,
    OPT_JSON,
};

static const struct option predict_options[] = {
    {"batch-sizes", required_argument, NULL, 'm'},
    {"candidates", required_argument, NULL, 'm'},
    {"eta", required_argument, NULL, OPT_ETA},
    {"m-ref", required_argument, NULL, OPT_M_REF},
    {"rule", required_argument, NULL, OPT_RULE},
    {"lambda", required_argument, NULL, OPT_LAMBDA},
    {"target", required_argument, NULL, OPT_TARGET},
    {"budget", required_argument, NULL, OPT_BUDGET},
    {"eval-interval", required_argument, NULL, OPT_EVAL_INTERVAL},
    {"reference-m", required_argument, NULL, OPT_REFERENCE_M},
    {"noise-every", required_argument, NULL, OPT_NOISE_EVERY},
    {"noise-batch", required_argument, NULL, OPT_NOISE_BATCH},
    {"noise-decay", required_argument, NULL, OPT_NOISE_DECAY},
    {"step-time", required_argument, NULL, OPT_STEP_TIME},
    {"seed", required_argument, NULL, OPT_SEED},
    BT_CLI_OPTIONS_NETWORK,
    BT_CLI_OPTION_INIT,
    {"data", required_argument, NULL, OPT_DATA},
    {"validation", required_argument, NULL, OPT_VALIDATION},
    {"train-subset", required_argument, NULL, OPT_TRAIN_SUBSET},
    BT_CLI_OPTION_DEVICE,
    BT_CLI_OPTION_NO_CACHE,
    BT_CLI_OPTION_NO_GEMM_TUNING,
    {"json", required_argument, NULL, OPT_JSON},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {0, 0, 0, 0},
};

static int positive_real(const char *option, const char *arg, double max, double *out)
{
    if (!bt_cli_parse_real(arg, out) || !(*out > 0.0) || *out > max)
        return bt_cli_usage_error(CMD, "%s '%s': expected a number above 0 and at most %g",
                                  option, arg, max);
    return BT_EXIT_OK;
}

static int count_option(const char *option, const char *arg, size_t *out)
{
    return bt_cli_parse_size(arg, 1, out)
               ? BT_EXIT_OK
               : bt_cli_usage_error(CMD, "%s '%s': expected an integer >= 1", option, arg);
}

static int parse_measurement_option(int opt, const char *arg, predict_args *a)
{
    bt_tuner_opts *t = &a->opts.tuner;
    unsigned long long u64 = 0;
    switch (opt) {
    case 'm':
        if (!bt_cli_parse_size_list(arg, BT_TUNER_MAX_CANDIDATES, MAX_BATCH_SIZE, t->batch_sizes,
                                    &t->n_batch_sizes))
            return bt_cli_usage_error(CMD, "--batch-sizes '%s': expected 1 to %d integers from 1 "
                                           "to %zu separated by commas, e.g. 8,16,32",
                                      arg, BT_TUNER_MAX_CANDIDATES, MAX_BATCH_SIZE);
        return BT_EXIT_OK;
    case OPT_ETA:
        return positive_real("--eta", arg, 1e30, &t->eta_ref);
    case OPT_M_REF:
        return count_option("--m-ref", arg, &t->m_ref);
    case OPT_RULE:
        return bt_lr_rule_parse(arg, &t->rule) == BT_OK
                   ? BT_EXIT_OK
                   : bt_cli_usage_error(CMD, "--rule '%s': %s", arg, bt_last_error());
    case OPT_LAMBDA:
        if (!bt_cli_parse_real(arg, &t->lambda) || !(t->lambda >= 0.0))
            return bt_cli_usage_error(CMD, "--lambda '%s': expected a finite number >= 0", arg);
        return BT_EXIT_OK;
    case OPT_TARGET:
        if (!bt_cli_parse_real(arg, &t->target_accuracy) || !(t->target_accuracy > 0.0) ||
            t->target_accuracy > 1.0)
            return bt_cli_usage_error(CMD, "--target '%s': expected a fraction in (0,1], e.g. "
                                           "0.8",
                                      arg);
        return BT_EXIT_OK;
    case OPT_BUDGET:
        return positive_real("--budget", arg, 1e7, &t->budget_seconds);
    case OPT_EVAL_INTERVAL:
        return positive_real("--eval-interval", arg, 1e7, &t->eval_interval_seconds);
    case OPT_REFERENCE_M:
        if (!bt_cli_parse_size(arg, 2, &a->opts.reference_batch) ||
            a->opts.reference_batch > MAX_BATCH_SIZE)
            return bt_cli_usage_error(CMD, "--reference-m '%s': expected an integer from 2 to "
                                           "%zu (B needs two examples per batch)",
                                      arg, MAX_BATCH_SIZE);
        return BT_EXIT_OK;
    case OPT_NOISE_EVERY:
        return count_option("--noise-every", arg, &a->opts.noise_every);
    case OPT_NOISE_BATCH:
        if (!bt_cli_parse_size(arg, 2, &a->opts.noise_batch) ||
            a->opts.noise_batch > MAX_BATCH_SIZE)
            return bt_cli_usage_error(CMD, "--noise-batch '%s': expected an integer from 2 to "
                                           "%zu",
                                      arg, MAX_BATCH_SIZE);
        return BT_EXIT_OK;
    case OPT_NOISE_DECAY:
        if (!bt_cli_parse_real(arg, &a->opts.noise.decay) || !(a->opts.noise.decay >= 0.0) ||
            !(a->opts.noise.decay < 1.0))
            return bt_cli_usage_error(CMD, "--noise-decay '%s': expected a number in [0, 1)",
                                      arg);
        return BT_EXIT_OK;
    case OPT_STEP_TIME:
        return positive_real("--step-time", arg, 60.0, &a->opts.step_seconds);
    default: /* OPT_SEED */
        if (!bt_cli_parse_u64(arg, &u64))
            return bt_cli_usage_error(CMD, "--seed '%s': expected an integer >= 0", arg);
        t->network.seed = (uint64_t)u64;
        return BT_EXIT_OK;
    }
}

static int parse_option(int opt, const char *arg, void *ctx)
{
    predict_args *a = ctx;
    if (bt_cli_parse_device_option(opt, arg, &a->device))
        return BT_EXIT_OK;
    if (opt == BT_CLI_OPT_LAYERS)
        a->layers_text = arg;
    int code = bt_cli_parse_network_option(CMD, opt, arg, &a->opts.tuner.network);
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
    case OPT_REFERENCE_M:
    case OPT_NOISE_EVERY:
    case OPT_NOISE_BATCH:
    case OPT_NOISE_DECAY:
    case OPT_STEP_TIME:
    case OPT_SEED:
        return parse_measurement_option(opt, arg, a);
    case OPT_DATA:
        a->data_dir = arg;
        return BT_EXIT_OK;
    case OPT_VALIDATION:
        return count_option("--validation", arg, &a->validation);
    case OPT_TRAIN_SUBSET:
        return count_option("--train-subset", arg, &a->train_subset);
    case OPT_JSON:
        a->json_path = arg;
        return BT_EXIT_OK;
    case 'q':
        a->quiet = true;
        return BT_EXIT_OK;
    default:
        return BT_CLI_NOT_MINE;
    }
}

static const bt_cli_command predict_command = {CMD, "m:d:qh", predict_options, print_help,
                                               parse_option};

/* ----- the run ----- */

typedef struct predict_session {
    bt_dataset *train, *validation;
    bt_device *device;
    bt_predict_result *result;
} predict_session;

static int load(predict_args *a, predict_session *s)
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
    int code = bt_cli_check_layers_fit(CMD, a->layers_text, &a->opts.tuner.network, a->data_dir,
                                       s->train);
    if (code != BT_EXIT_OK)
        return code;
    size_t count = bt_dataset_count(s->train);
    for (size_t i = 0; i < a->opts.tuner.n_batch_sizes; ++i)
        if (a->opts.tuner.batch_sizes[i] > count)
            return bt_cli_usage_error(CMD,
                                      "batch size %zu is larger than the %zu training examples; "
                                      "choose smaller ones with --batch-sizes",
                                      a->opts.tuner.batch_sizes[i], count);
    if (bt_predict_opts_validate(&a->opts, count) != BT_OK)
        return bt_cli_usage_error(CMD, "%s", bt_last_error());
    bt_device_opts device_opts = bt_cli_device_opts(&a->device);
    status = bt_device_create(&device_opts, &s->device);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "cannot open the OpenCL device");
    bt_cli_report_gemm_tuning(CMD, s->device, a->quiet);
    return BT_EXIT_OK;
}

static bool on_cancel(void *user)
{
    (void)user;
    return bt_cli_interrupted();
}

static const char *format_b(double b, char *buf, size_t size)
{
    if (isnan(b))
        snprintf(buf, size, "unknown");
    else if (isinf(b))
        snprintf(buf, size, "unbounded (mean gradient lost in the noise)");
    else
        snprintf(buf, size, "%.4g", b);
    return buf;
}

static double best_accuracy(const bt_predict_summary *s)
{
    double best = 0.0;
    for (size_t i = 0; i < s->n_points; ++i)
        best = s->points[i].accuracy > best ? s->points[i].accuracy : best;
    return best;
}

static void print_trajectory(const predict_args *a, const bt_predict_summary *s)
{
    const bt_tuner_opts *t = &a->opts.tuner;
    printf("reference run: m = %zu, eta %.4g (%s rule from eta %g at m %zu), toward %g%%\n",
           s->reference_batch, s->reference_eta, bt_lr_rule_str(t->rule), t->eta_ref, t->m_ref,
           100.0 * t->target_accuracy);
    if (s->n_points < 2) {
        printf("  no training was measured\n");
        return;
    }
    /* Start, middle and end: the first evaluation after training began, the middle one, the
     * last (near the target when it was reached). */
    size_t picks[3] = {1, (s->n_points) / 2, s->n_points - 1};
    const char *labels[3] = {"start", "middle", s->reached ? "at the target" : "end"};
    for (int i = 0; i < 3; ++i) {
        if (i > 0 && picks[i] == picks[i - 1])
            continue;
        const bt_predict_point *p = &s->points[picks[i]];
        char b[64];
        printf("  B %-14s %s  (%.2f s of training, %.2f epochs, accuracy %.2f%%, %zu samples; "
               "|G|^2 %.3g, tr(Sigma) %.3g)\n",
               labels[i], format_b(p->noise_scale, b, sizeof b), p->train_seconds, p->epochs,
               100.0 * p->accuracy, p->samples, p->gradient_sq, p->trace);
    }
    if (s->reached)
        printf("  reached %g%% after %.2f s of training\n", 100.0 * t->target_accuracy,
               s->time_to_target);
    else
        printf("  caveat: the reference run did not reach %g%% within %g s (best %.2f%%); B is "
               "the last estimate, and B grows as the loss falls, so the prediction leans "
               "toward too small an m\n",
               100.0 * t->target_accuracy, t->budget_seconds, 100.0 * best_accuracy(s));
}

static void print_table(const predict_args *a, const bt_predict_summary *s)
{
    const bt_step_fit *f = &s->fit;
    char b[64];
    printf("\nB for the prediction: %s\n", format_b(s->noise_scale, b, sizeof b));
    printf("%7s %9s %8s %9s %12s %10s %11s\n", "m", "eta", "t(m) ms", "fit ms", "examples/s",
           "(1+B/m)t", "rel. time");
    for (size_t i = 0; i < s->n_candidates; ++i) {
        double t = s->step_seconds[i], m = (double)s->batch_sizes[i];
        double fit = f->a + f->b * m;
        char tm[24] = "-", fm[24] = "-", rate[24] = "-", cost[24] = "-", rel[24] = "-";
        if (isfinite(t)) {
            snprintf(tm, sizeof tm, "%.4f", 1e3 * t);
            snprintf(rate, sizeof rate, "%.0f", m / t);
            if (!isinf(s->noise_scale) && !isnan(s->noise_scale))
                snprintf(cost, sizeof cost, "%.4f", 1e3 * (1.0 + s->noise_scale / m) * t);
        }
        if (isfinite(fit))
            snprintf(fm, sizeof fm, "%.4f", 1e3 * fit);
        if (isfinite(s->relative_time[i]))
            snprintf(rel, sizeof rel, "%.2f%s", s->relative_time[i], i == s->best ? " *" : "");
        printf("%7zu %9.4g %8s %9s %12s %10s %11s\n", s->batch_sizes[i], s->etas[i], tm, fm,
               rate, cost, rel);
    }
    printf("(t(m): measured seconds per step; rel. time: predicted training time to the target "
           "over the fastest's, (1 + B/m) t(m); * the fastest)\n");
    if (isfinite(f->a))
        printf("fit t(m) = a + b m: a = %.4f ms, b = %.3f us per example; relative error rms "
               "%.0f%%, max %.0f%%\n",
               1e3 * f->a, 1e6 * f->b, 100.0 * f->rms_relative, 100.0 * f->max_relative);
    (void)a;
}

static void print_prediction(const predict_args *a, const bt_predict_summary *s)
{
    const bt_tuner_opts *t = &a->opts.tuner;
    if (s->best < s->n_candidates)
        printf("predicted fastest: m = %zu with eta = %.4g (%s rule)%s\n",
               s->batch_sizes[s->best], s->etas[s->best], bt_lr_rule_str(t->rule),
               s->reached ? "" : " [caveat: target not reached by the reference run]");
    else
        printf("no prediction: %s\n", s->interrupted ? "interrupted before the candidates were "
                                                       "timed"
                                                     : "B could not be estimated");
    if (isfinite(s->optimal_m))
        printf("m* = sqrt(B a / b) = %.0f (eta %.4g by the %s rule)\n", s->optimal_m,
               s->optimal_eta, bt_lr_rule_str(t->rule));
    else if (isinf(s->noise_scale))
        printf("m* unbounded: with the gradient lost in the noise, the most examples per second "
               "win\n");
}

/* ----- JSON ----- */

static char *summary_json(const predict_args *a, const predict_session *ss, bt_status status,
                          const char *error)
{
    const bt_predict_summary *s = bt_predict_result_summary(ss->result);
    const bt_tuner_opts *t = &a->opts.tuner;
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    char sizes[256];
    cJSON_AddStringToObject(root, "command", "predict");
    cJSON_AddStringToObject(root, "version", bt_version());
    cJSON_AddStringToObject(root, "status", bt_status_name(status));
    cJSON_AddStringToObject(root, "error", error);
    cJSON_AddStringToObject(root, "device", bt_device_get_info(ss->device)->name);
    cJSON *w = cJSON_AddObjectToObject(root, "workload");
    cJSON_AddStringToObject(w, "data", a->data_dir);
    cJSON_AddStringToObject(w, "layers", bt_cli_format_sizes(&t->network, sizes, sizeof sizes));
    cJSON_AddStringToObject(w, "hidden", bt_activation_str(t->network.hidden));
    cJSON_AddStringToObject(w, "output", bt_activation_str(t->network.output));
    cJSON_AddStringToObject(w, "cost", bt_cost_str(t->network.cost));
    cJSON_AddStringToObject(w, "init", bt_init_str(t->network.init));
    cJSON_AddStringToObject(w, "engine", bt_engine_str(t->network.engine));
    cJSON_AddNumberToObject(w, "train_count", (double)bt_dataset_count(ss->train));
    cJSON_AddNumberToObject(w, "validation_count", (double)bt_dataset_count(ss->validation));
    cJSON_AddNumberToObject(w, "seed", (double)t->network.seed);
    cJSON_AddNumberToObject(w, "eta_ref", t->eta_ref);
    cJSON_AddNumberToObject(w, "m_ref", (double)t->m_ref);
    cJSON_AddStringToObject(w, "rule", bt_lr_rule_str(t->rule));
    cJSON_AddNumberToObject(w, "lambda", t->lambda);
    cJSON_AddNumberToObject(w, "target", t->target_accuracy);
    cJSON_AddNumberToObject(w, "budget_seconds", t->budget_seconds);
    cJSON_AddNumberToObject(w, "noise_every", (double)a->opts.noise_every);
    cJSON_AddNumberToObject(w, "noise_decay", a->opts.noise.decay);
    cJSON_AddNumberToObject(w, "step_time_seconds", a->opts.step_seconds);

    bt_predict_json(s, root);
    cJSON *tm = cJSON_AddObjectToObject(root, "seconds");
    bt_json_number(tm, "reference_run", s->reference_seconds);
    bt_json_number(tm, "step_timing", s->timing_seconds);
    bt_json_number(tm, "library", s->total_seconds);
    cJSON_AddBoolToObject(root, "interrupted", s->interrupted);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

static bool write_json(const predict_args *a, const predict_session *s, bt_status status,
                       const char *error)
{
    char *text = summary_json(a, s, status, error);
    if (!text) {
        fprintf(stderr, "batchtune %s: out of memory for the JSON\n", CMD);
        return false;
    }
    bt_atomic_part parts[2] = {{text, strlen(text)}, {"\n", 1}};
    bool ok = bt_atomic_write(a->json_path, parts, 2) == BT_ATOMIC_OK;
    if (!ok)
        fprintf(stderr, "batchtune %s: cannot write %s: %s\n", CMD, a->json_path,
                strerror(errno));
    free(text);
    return ok;
}

static int predict(predict_args *a, predict_session *s, double start)
{
    bt_predict_opts opts = a->opts;
    opts.cancel = on_cancel;
    bt_status status = bt_predict_run(s->device, s->train, s->validation, &opts, &s->result);
    if (!s->result)
        return bt_cli_report(CMD, status, "cannot predict");
    char error[1024] = "";
    if (status != BT_OK)
        snprintf(error, sizeof error, "%s", bt_last_error());
    const bt_predict_summary *sum = bt_predict_result_summary(s->result);
    if (!a->quiet) {
        print_trajectory(a, sum);
        print_table(a, sum);
    }
    print_prediction(a, sum);
    if (!a->quiet)
        printf("predict took %.1f s (reference run %.1f s, step timing %.1f s; %.1f s with "
               "loading)\n",
               sum->total_seconds, sum->reference_seconds, sum->timing_seconds,
               bt_clock_seconds() - start);
    fflush(stdout);
    bool written = !a->json_path || write_json(a, s, status, error);
    if (status == BT_ERR_INTERRUPTED) {
        fprintf(stderr, "batchtune %s: interrupted; what was measured is printed%s\n", CMD,
                a->json_path && written ? " and written" : "");
        return BT_EXIT_INTERRUPTED;
    }
    if (status != BT_OK) {
        fprintf(stderr, "batchtune %s: prediction failed: %s\n", CMD, error);
        return BT_EXIT_FAILURE;
    }
    return written ? BT_EXIT_OK : BT_EXIT_FAILURE;
}

int bt_cmd_predict(int argc, char **argv)
{
    predict_args a;
    memset(&a, 0, sizeof a);
    a.opts = bt_predict_opts_default();
    a.layers_text = "784,30,10";
    a.validation = BT_DEFAULT_VALIDATION_COUNT;
    a.data_dir = BT_DEFAULT_DATA_DIR;
    a.device = bt_cli_device_args_default();
    int code = bt_cli_parse_options(&predict_command, argc, argv, &a);
    if (code != BT_CLI_GO_ON)
        return code;
    if (bt_predict_opts_validate(&a.opts, 0) != BT_OK)
        return bt_cli_usage_error(CMD, "%s", bt_last_error());
    if (a.json_path && (code = bt_cli_check_output_file(CMD, "--json", a.json_path, false)) !=
                           BT_EXIT_OK)
        return code;

    double start = bt_clock_seconds();
    bt_cli_catch_sigint();
    predict_session s;
    memset(&s, 0, sizeof s);
    code = load(&a, &s);
    if (code == BT_EXIT_OK) {
        if (!a.quiet) {
            char sizes[256];
            printf("predict %s (%s hidden, %s output, %s cost) on %s: %zu training, %zu "
                   "validation images\n",
                   bt_cli_format_sizes(&a.opts.tuner.network, sizes, sizeof sizes),
                   bt_activation_str(a.opts.tuner.network.hidden),
                   bt_activation_str(a.opts.tuner.network.output),
                   bt_cost_str(a.opts.tuner.network.cost), bt_device_get_info(s.device)->name,
                   bt_dataset_count(s.train), bt_dataset_count(s.validation));
            fflush(stdout);
        }
        code = predict(&a, &s, start);
    }
    bt_cli_release_sigint();
    bt_predict_result_destroy(s.result);
    bt_device_destroy(s.device);
    bt_dataset_destroy(s.validation);
    bt_dataset_destroy(s.train);
    return code;
}
