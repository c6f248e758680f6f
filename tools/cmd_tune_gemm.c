/* batchtune tune-gemm: search CLBlast's GEMM kernel parameters for a device on the shapes that
 * training runs (bt_gemm_tune), print the per-shape speed before and after, and store the result
 * where opening the device applies it. Ctrl-C stops the search and keeps the best so far. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batchtune_gemm_tuning.h"
#include "cli.h"
#include "common/clock.h"
#include "common/regular_file.h"
#include "timed_steps.h"

#define CMD "tune-gemm"
#define MAX_NETWORKS 8
#define MAX_BATCH_SIZES 16
#define MAX_BATCH_SIZE ((size_t)1 << 16)
#define DEFAULT_BUDGET 300.0
#define MAX_BUDGET (7.0 * 24 * 3600)
/* Enough for every step shape of the largest network (3 per layer, less one). */
#define MAX_STEP_SHAPES (3 * BT_MAX_LAYERS)
_Static_assert(MAX_STEP_SHAPES <= BT_GEMM_TUNE_MAX_STEP_SHAPES, "a step must fit the search");
_Static_assert(MAX_NETWORKS * MAX_BATCH_SIZES <= BT_GEMM_TUNE_MAX_STEPS,
               "every network and batch size must fit the search");

static const char *const default_networks[] = {"784,30,10", "784,256,128,10"};

static void print_help(void)
{
    printf("usage: batchtune tune-gemm [options]\n\n"
           "Search CLBlast's GEMM kernel parameters for a device on the GEMM shapes of training\n"
           "steps (forward, weight gradient and input gradient of every layer, for each batch\n"
           "size), then store them where every later device open applies them. Three parts are\n"
           "searched: the direct kernel (XgemmDirect), the indirect kernel (Xgemm) and the size\n"
           "at which CLBlast switches from the first to the second. Every candidate's results\n"
           "are checked against a double-precision reference before it is timed; candidates\n"
           "that fail are skipped. Each shape is weighted by how often a step runs it, and each\n"
           "batch size counts alike (weights divided by the step's FLOPs). Whether the result\n"
           "beats CLBlast's own parameters is then decided by timing real training steps of\n"
           "every network and batch size (synthetic data) with both in alternation; if some\n"
           "step is more than 10%% slower with it, up to two larger splits that move that\n"
           "step's smallest indirect GEMMs to the direct kernel are timed too (one compilation\n"
           "each), and the split that slows the fewest steps, then the fastest, is kept.\n"
           "Last, with those parameters in effect, it decides per GEMM shape whether our fused\n"
           "kernels or CLBlast runs it in training (engine 'auto'): for each network and batch\n"
           "size, steps with every product on our kernels against every one on CLBlast, then\n"
           "each product switched alone, kept if the step is 3%% faster; the choices are stored\n"
           "with the parameters (shapes not measured keep the built-in rule).\n\n"
           "shapes:\n"
           "      --layers LIST       a network's units per layer, input first; repeat for\n"
           "                          several networks (default: 784,30,10 and 784,256,128,10)\n"
           "  -m, --batch-sizes LIST  batch sizes (default 10,32,128,512)\n"
           "search:\n"
           "      --budget S          seconds for the whole command (default %.0f): a candidate\n"
           "                          starts only while it, the check on the training steps\n"
           "                          and the final measurement fit (estimated from those\n"
           "                          before), and an extra split only while it fits. Opening\n"
           "                          the device, measuring CLBlast's defaults and the first\n"
           "                          check always run: a budget below what they take (0: no\n"
           "                          search) is exceeded by them, and a candidate slower than\n"
           "                          all before it overruns by the difference. Each candidate\n"
           "                          compiles CLBlast's kernels (seconds to a minute on a CPU;\n"
           "                          the driver caches them for the next run). Up to a\n"
           "                          quarter is kept for the engine choice, whose first\n"
           "                          comparison per step always runs\n"
           "      --seed N            random choices of the search (default 1)\n"
           "output:\n"
           "  -o, --output FILE       store here instead of the device's file in the data\n"
           "                          folder ($XDG_DATA_HOME/batchtune, else\n"
           "                          ~/.local/share/batchtune)\n"
           "      --no-save           only print the result\n"
           "device:\n"
           "  -d, --device SEL        device selector (see 'batchtune devices'); default: the\n"
           "                          BATCHTUNE_DEVICE variable, else the first GPU, else device 0\n"
           "      --no-gemm-tuning    do not try the device's stored parameters as a starting\n"
           "                          point (the search always measures CLBlast's own first)\n"
           "      --no-cache          neither read nor write the program-binary cache\n"
           "  -h, --help              this text\n\n"
           "Ctrl-C stops after the candidate under way, stores the best found so far and exits\n"
           "with status 130; a second Ctrl-C ends at once.\n"
           "Exit status: 0 done, 1 failure, 2 bad command line, 130 interrupted.\n",
           DEFAULT_BUDGET);
}

typedef struct tune_args {
    bt_network_opts nets[MAX_NETWORKS];
    size_t n_nets;
    size_t batch_sizes[MAX_BATCH_SIZES];
    size_t n_batch_sizes;
    double budget;
    unsigned long long seed;
    const char *output;
    bool save;
    /* use_gemm_tuning: start the search also from the stored parameters (the device itself is
     * always opened without them) */
    bt_cli_device_args device;
} tune_args;

static bool parse_batch_sizes(const char *text, size_t *sizes, size_t *count)
{
    return bt_cli_parse_size_list(text, MAX_BATCH_SIZES, MAX_BATCH_SIZE, sizes, count);
}

static bool add_network(tune_args *a, const char *text)
{
    if (a->n_nets == MAX_NETWORKS)
        return false;
    bt_network_opts *net = &a->nets[a->n_nets];
    *net = bt_network_opts_default();
    if (bt_network_parse_sizes(text, net) != BT_OK)
        return false;
    a->n_nets++;
    return true;
}

/* Its own --layers: repeatable, one network each, and only the sizes. */
enum { OPT_LAYERS = BT_CLI_OPT_COMMAND, OPT_BUDGET, OPT_SEED, OPT_NO_SAVE };

/* Parses one option into *a (a bt_cli_option_fn). */
static int parse_option(int opt, const char *arg, void *ctx)
{
    tune_args *a = ctx;
    if (bt_cli_parse_device_option(opt, arg, &a->device))
        return BT_EXIT_OK;
    switch (opt) {
    case OPT_LAYERS:
        if (!add_network(a, arg))
            return bt_cli_usage_error(CMD, "--layers '%s': %s", arg,
                                      a->n_nets == MAX_NETWORKS ? "too many networks"
                                                                : bt_last_error());
        return BT_EXIT_OK;
    case 'm':
        if (!parse_batch_sizes(arg, a->batch_sizes, &a->n_batch_sizes))
            return bt_cli_usage_error(CMD,
                                      "--batch-sizes '%s': expected up to %d integers "
                                      "1..%zu separated by commas, e.g. 10,32,128",
                                      arg, MAX_BATCH_SIZES, MAX_BATCH_SIZE);
        return BT_EXIT_OK;
    case OPT_BUDGET:
        if (!bt_cli_parse_real(arg, &a->budget) || a->budget < 0.0 || a->budget > MAX_BUDGET)
            return bt_cli_usage_error(CMD, "--budget '%s': expected seconds, 0 .. %.0f", arg,
                                      MAX_BUDGET);
        return BT_EXIT_OK;
    case OPT_SEED:
        if (!bt_cli_parse_u64(arg, &a->seed))
            return bt_cli_usage_error(CMD, "--seed '%s': expected an integer", arg);
        return BT_EXIT_OK;
    case 'o':
        if (!*arg)
            return bt_cli_usage_error(CMD, "--output needs a file name");
        a->output = arg;
        return BT_EXIT_OK;
    case OPT_NO_SAVE:
        a->save = false;
        return BT_EXIT_OK;
    default:
        return BT_CLI_NOT_MINE;
    }
}

/* Fills *a from the command line. Returns BT_CLI_GO_ON, else the exit code. */
static int parse_args(int argc, char **argv, tune_args *a)
{
    static const struct option options[] = {
        {"layers", required_argument, NULL, OPT_LAYERS},
        {"batch-sizes", required_argument, NULL, 'm'},
        {"budget", required_argument, NULL, OPT_BUDGET},
        {"seed", required_argument, NULL, OPT_SEED},
        {"output", required_argument, NULL, 'o'},
        {"no-save", no_argument, NULL, OPT_NO_SAVE},
        BT_CLI_OPTION_DEVICE,
        BT_CLI_OPTION_NO_GEMM_TUNING,
        BT_CLI_OPTION_NO_CACHE,
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0}};
    static const bt_cli_command command = {CMD, "m:o:d:h", options, print_help, parse_option};
    memset(a, 0, sizeof *a);
    a->budget = DEFAULT_BUDGET;
    a->seed = 1;
    a->save = true;
    a->device = bt_cli_device_args_default();
    parse_batch_sizes("10,32,128,512", a->batch_sizes, &a->n_batch_sizes);

    int code = bt_cli_parse_options(&command, argc, argv, a);
    if (code != BT_CLI_GO_ON)
        return code;
    if (a->n_nets == 0)
        for (size_t i = 0; i < sizeof default_networks / sizeof *default_networks; ++i)
            if (!add_network(a, default_networks[i]))
                return bt_cli_usage_error(CMD, "bad default network %s", default_networks[i]);
    return BT_CLI_GO_ON;
}

/* ----- shapes ----- */

static double flops(const bt_gemm_shape *s) { return 2.0 * (double)s->m * (double)s->n * (double)s->k; }

static bool same_shape(const bt_gemm_shape *a, const bt_gemm_shape *b)
{
    return a->trans_a == b->trans_a && a->trans_b == b->trans_b && a->m == b->m &&
           a->n == b->n && a->k == b->k;
}

/* Adds one step's shapes to the list, each weighted 1 / (the step's FLOPs) so that every batch
 * size and network counts alike; a shape already listed gets the weights summed. The step
 * itself, with the same weight, goes to *out. */
static bt_status add_step(const bt_gemm_shape *step, size_t count, bt_gemm_tune_shape *list,
                          size_t *n, bt_gemm_tune_step *out)
{
    double step_flops = 0.0;
    for (size_t i = 0; i < count; ++i)
        step_flops += flops(&step[i]);
    memset(out, 0, sizeof *out);
    out->count = count;
    out->weight = 1e9 / step_flops;
    for (size_t i = 0; i < count; ++i) {
        size_t at = 0;
        while (at < *n && !same_shape(&list[at].shape, &step[i]))
            ++at;
        if (at == *n) {
            if (*n == BT_GEMM_TUNE_MAX_SHAPES)
                return BT_ERR_INVALID_ARGUMENT;
            memset(&list[at], 0, sizeof list[at]);
            list[at].shape = step[i];
            (*n)++;
        }
        list[at].weight += 1e9 / step_flops;
        out->shapes[i] = at;
        /* In a step only the weight updates (op(A) = delta^T) accumulate into C. */
        list[at].accumulate |= step[i].trans_a == BT_TRANS;
    }
    return BT_OK;
}

/* The step shapes of every network and batch size, as bt_network_step_shapes gives them, and
 * the steps (network by network, batch sizes in the order given). */
static bt_status collect_shapes(const tune_args *a, bt_device *device, bt_gemm_tune_shape *list,
                                size_t *n, bt_gemm_tune_step *steps, size_t *n_steps)
{
    *n = 0;
    *n_steps = 0;
    size_t largest = 1;
    for (size_t i = 0; i < a->n_batch_sizes; ++i)
        largest = a->batch_sizes[i] > largest ? a->batch_sizes[i] : largest;
    for (size_t i = 0; i < a->n_nets; ++i) {
        bt_network_opts opts = a->nets[i];
        opts.max_batch = largest;
        bt_network *net = NULL;
        bt_status status = bt_network_create(device, &opts, &net);
        for (size_t j = 0; j < a->n_batch_sizes && status == BT_OK; ++j) {
            bt_gemm_shape step[MAX_STEP_SHAPES];
            size_t count = 0;
            status = bt_network_step_shapes(net, a->batch_sizes[j], step, MAX_STEP_SHAPES,
                                            &count);
            if (status == BT_OK)
                status = add_step(step, count, list, n, &steps[(*n_steps)++]);
        }
        bt_network_destroy(net);
        if (status == BT_ERR_INVALID_ARGUMENT && *n == BT_GEMM_TUNE_MAX_SHAPES) {
            fprintf(stderr, "batchtune %s: more than %d distinct shapes; give fewer networks or "
                            "batch sizes\n",
                    CMD, BT_GEMM_TUNE_MAX_SHAPES);
            return status;
        }
        if (status != BT_OK)
            return status;
    }
    return BT_OK;
}

/* ----- training steps, for the step check ----- */

/* A network and scheduler per network and batch size, in the order of the steps, on synthetic
 * data resident on the device: the search's step check runs real training steps through them. */
typedef struct step_runner {
    bt_dataset *datasets[MAX_NETWORKS];
    bt_device_data *data[MAX_NETWORKS];
    bt_network *networks[MAX_NETWORKS * MAX_BATCH_SIZES];
    bt_scheduler *schedulers[MAX_NETWORKS * MAX_BATCH_SIZES];
    size_t count;
} step_runner;

static void step_runner_destroy(step_runner *r)
{
    for (size_t i = 0; i < r->count; ++i) {
        bt_scheduler_destroy(r->schedulers[i]);
        bt_network_destroy(r->networks[i]);
    }
    for (size_t i = 0; i < MAX_NETWORKS; ++i) {
        bt_device_data_destroy(r->data[i]);
        bt_dataset_destroy(r->datasets[i]);
    }
    memset(r, 0, sizeof *r);
}

/* engine: BT_ENGINE_CLBLAST for the check of CLBlast's parameters, BT_ENGINE_AUTO for the
 * engine search (its networks follow the device's engine table). */
static bt_status step_runner_create(const tune_args *a, bt_device *device, bt_engine engine,
                                    step_runner *r)
{
    memset(r, 0, sizeof *r);
    bt_status status = BT_OK;
    for (size_t i = 0; i < a->n_nets && status == BT_OK; ++i) {
        const bt_network_opts *net = &a->nets[i];
        size_t examples = 0;
        status = bt_synthetic_data_create(device, net, a->batch_sizes, a->n_batch_sizes,
                                          &r->datasets[i], &r->data[i], &examples);
        for (size_t j = 0; j < a->n_batch_sizes && status == BT_OK; ++j) {
            size_t m = a->batch_sizes[j];
            bt_network_opts opts = *net;
            opts.engine = engine;
            bt_scheduler_opts sched;
            bt_timed_step_opts(m, &opts, &sched);
            status = bt_network_create(device, &opts, &r->networks[r->count]);
            if (status == BT_OK)
                status = bt_scheduler_create(r->networks[r->count], r->data[i], &sched,
                                             &r->schedulers[r->count]);
            r->count++;
        }
    }
    if (status != BT_OK)
        step_runner_destroy(r);
    return status;
}

/* Ctrl-C ends the step check too (it can take tens of seconds, more with a new split). */
static bt_status run_training_steps(size_t step, size_t runs, void *ctx)
{
    step_runner *r = ctx;
    if (bt_cli_interrupted())
        return BT_ERR_INTERRUPTED;
    return bt_scheduler_run(r->schedulers[step], runs);
}

/* ----- progress ----- */

typedef struct progress_state {
    bool tty;
} progress_state;

/* On a terminal one line, rewritten; elsewhere (a log) one line per step. */
static bool on_progress(const bt_gemm_tune_progress *p, void *ctx)
{
    const progress_state *state = ctx;
    fprintf(stderr, "%s  [%4.0f/%.0f s] %zu tried, %zu skipped, best %.2fx; next: %s%s",
            state->tty ? "\r\033[K" : "", p->elapsed_seconds, p->budget_seconds, p->tried,
            p->invalid, p->speedup, p->stage, state->tty ? "..." : "\n");
    fflush(stderr);
    return !bt_cli_interrupted();
}

static void progress_clear(const progress_state *state)
{
    if (state->tty) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

/* ----- output ----- */

static char trans_char(bt_transpose t) { return t == BT_TRANS ? 'T' : 'N'; }

/* The least time any parameters could give the shape: the fixed cost of a call, or its FLOPs at
 * the measured peak. */
static double lower_bound(const bt_gemm_shape *s, const bt_gemm_tune_result *r,
                          const bt_device_peak *peak)
{
    double at_peak = flops(s) / (peak->fma_gflops * 1e9);
    return at_peak > r->call_floor_seconds ? at_peak : r->call_floor_seconds;
}

static void print_table(const bt_gemm_tune_shape *shapes, const bt_gemm_tune_result *r,
                        const bt_device_peak *peak)
{
    printf("\n%-2s %6s %6s %6s %10s %8s %6s %10s %8s %6s %7s %7s %7s  %s\n", "op", "m", "n",
           "k", "default ms", "GFLOP/s", "%peak", "tuned ms", "GFLOP/s", "%peak", "speedup",
           "best", "limit", "path");
    for (size_t i = 0; i < r->n_shapes; ++i) {
        const bt_gemm_shape *s = &shapes[i].shape;
        double f = flops(s) * 1e-9;
        double before = r->default_seconds[i], after = r->best_seconds[i];
        printf("%c%c %6zu %6zu %6zu %10.4f %8.2f %5.1f%% %10.4f %8.2f %5.1f%% %6.2fx %6.2fx "
               "%6.2fx  %s\n",
               trans_char(s->trans_a), trans_char(s->trans_b), s->m, s->n, s->k, 1e3 * before,
               f / before, 100.0 * f / before / peak->fma_gflops, 1e3 * after, f / after,
               100.0 * f / after / peak->fma_gflops, before / after,
               before / r->fastest_seconds[i], before / lower_bound(s, r, peak),
               !r->params.has_min_indirect_size ? "CLBlast's"
               : r->best_direct[i]              ? "direct"
                                                : "indirect");
    }
    printf("speedup: the stored parameters; best: the fastest candidate measured on that shape "
           "alone\n(CLBlast keeps one parameter set per kernel, so shapes trade against each "
           "other);\nlimit: no parameters can go faster than a call's fixed cost (%.1f us, a "
           "1x1x1 GEMM\nor any faster call) or the shape's FLOPs at the measured peak\n",
           1e6 * r->call_floor_seconds);
}

/* Per network and batch size: training steps timed with CLBlast's defaults and with the result,
 * and the splits the check timed; the sums of the per-shape figures when the steps were not
 * timed. */
static void print_steps(const tune_args *a, const bt_gemm_tune_step *steps,
                        const bt_gemm_tune_result *r)
{
    bool timed = r->n_steps > 0;
    printf("\n%-20s %6s %14s %14s %8s\n", "network", "m", timed ? "step default" : "GEMMs default",
           timed ? "step tuned" : "GEMMs tuned", "speedup");
    for (size_t i = 0, t = 0; i < a->n_nets; ++i) {
        char sizes[128];
        bt_cli_format_sizes(&a->nets[i], sizes, sizeof sizes);
        for (size_t j = 0; j < a->n_batch_sizes; ++j, ++t) {
            double before = 0.0, after = 0.0;
            if (timed) {
                before = r->default_step_seconds[t];
                after = r->best_step_seconds[t];
            } else {
                for (size_t k = 0; k < steps[t].count; ++k) {
                    before += r->default_seconds[steps[t].shapes[k]];
                    after += r->best_seconds[steps[t].shapes[k]];
                }
            }
            printf("%-20s %6zu %11.3f ms %11.3f ms %7.2fx\n", sizes, a->batch_sizes[j],
                   1e3 * before, 1e3 * after, before / after);
        }
    }
    if (!timed) {
        printf("(sums of the per-shape figures: the steps were not timed)\n");
        return;
    }
    printf("(training steps on synthetic data; tuned = default / the median ratio of rounds "
           "timing both A B B A)\nsplits timed on the steps:");
    for (size_t i = 0; i < r->n_split_tries; ++i) {
        const bt_gemm_tune_split_try *t = &r->split_tries[i];
        printf("%s %u%s: %.2fx, %zu step%s slower", i ? ";" : "", t->min_indirect_size,
               i ? "" : " (per-shape choice)", t->speedup, t->slower_steps,
               t->slower_steps == 1 ? "" : "s");
    }
    printf("\n");
    if (r->n_split_tries_skipped > 0)
        printf("%zu larger split%s not timed: %s past the budget\n", r->n_split_tries_skipped,
               r->n_split_tries_skipped == 1 ? "" : "s",
               r->n_split_tries_skipped == 1 ? "it would have ended" : "they would have ended");
}

/* "training steps 1.93x as fast as with CLBlast's defaults", by the step timings when there
 * are any, else by the per-shape figures. */
/* How many times as fast as CLBlast's defaults the result measured: the figure format_outcome
 * prints. NaN when nothing was measured. */
static double outcome_ratio(const bt_gemm_tune_result *r)
{
    return r->n_steps > 0 ? r->default_step_objective / r->best_step_objective
                          : r->default_objective / r->best_objective;
}

/* A result worth storing: candidates measured and a finite figure for them; after an interrupt,
 * also something other than CLBlast's defaults (the stored parameters, a starting candidate, may
 * not have been measured yet). */
static bool measured_something(const bt_gemm_tune_result *r)
{
    double ratio = outcome_ratio(r);
    if (r->tried == 0 || !isfinite(ratio) || !(ratio > 0.0))
        return false;
    const bt_gemm_params *p = &r->params;
    return !r->stopped || p->has_direct || p->has_indirect || p->has_min_indirect_size;
}

/* The figure a stored file's note records ("... 1.23x as fast as with CLBlast's defaults"); NaN
 * when there is no file or no such note. */
static double stored_ratio(const char *path)
{
    FILE *f = NULL;
    uint64_t size = 0;
    if (bt_regular_file_fopen(path, &f, &size) != BT_REGULAR_OK)
        return NAN;
    double ratio = NAN;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        if (line[0] != '#')
            continue;
        char *at = strstr(line, "x as fast as with CLBlast's defaults");
        if (!at)
            continue;
        char *start = at;
        while (start > line && (isdigit((unsigned char)start[-1]) || start[-1] == '.'))
            --start;
        char *end = NULL;
        double value = strtod(start, &end);
        if (start < at && end == at && isfinite(value) && value > 0.0)
            ratio = value;
    }
    fclose(f);
    return ratio;
}

static const char *format_outcome(const bt_gemm_tune_result *r, char *buf, size_t size)
{
    if (r->n_steps > 0)
        snprintf(buf, size, "training steps %.2fx as fast as with CLBlast's defaults "
                            "(weighted, timed alternately)",
                 r->default_step_objective / r->best_step_objective);
    else
        snprintf(buf, size, "weighted GEMM time %.2fx as fast as with CLBlast's defaults",
                 r->default_objective / r->best_objective);
    return buf;
}

/* The note stored with the parameters: what they were tuned on and what they gave. */
static void format_note(const tune_args *a, const bt_gemm_tune_result *r, char *buf,
                        size_t size)
{
    size_t used = 0;
    int n = snprintf(buf, size, "tuned on the step shapes of");
    used = n > 0 ? (size_t)n : 0;
    for (size_t i = 0; i < a->n_nets && used < size; ++i) {
        char sizes[128];
        n = snprintf(buf + used, size - used, " %s", bt_cli_format_sizes(&a->nets[i], sizes,
                                                                          sizeof sizes));
        used += n > 0 ? (size_t)n : 0;
    }
    for (size_t i = 0; i < a->n_batch_sizes && used < size; ++i) {
        n = snprintf(buf + used, size - used, "%s%zu", i ? "," : " at m=", a->batch_sizes[i]);
        used += n > 0 ? (size_t)n : 0;
    }
    char outcome[256];
    if (used < size) {
        n = snprintf(buf + used, size - used, "\n%zu candidates (%zu skipped) in %.0f s; %s",
                     r->tried, r->invalid, r->elapsed_seconds,
                     format_outcome(r, outcome, sizeof outcome));
        used += n > 0 ? (size_t)n : 0;
    }
    if (used < size && r->params.has_engines) {
        size_t fused = 0;
        for (size_t i = 0; i < r->params.n_engines; ++i)
            fused += r->params.engines[i].engine == BT_ENGINE_FUSED;
        snprintf(buf + used, size - used, "\nengines chosen by timing training steps: %zu shapes "
                                          "on our fused kernels, %zu on CLBlast",
                 fused, r->params.n_engines - fused);
    }
}

static int save(const tune_args *a, bt_device *device, const bt_gemm_tune_result *r)
{
    char path[1024];
    const char *target = a->output;
    if (!target) {
        if (bt_gemm_tuning_path(device, NULL, path, sizeof path) != BT_OK)
            return bt_cli_report(CMD, BT_ERR_IO, "cannot choose where to store the parameters "
                                                 "(give --output FILE)");
        target = path;
    }
    /* A replaced file that measured better is not lost in silence. The figures come from other
     * runs, maybe on other shapes or under other load, so the newer result still wins. */
    double before = stored_ratio(target), now = outcome_ratio(r);
    if (isfinite(before) && now < before)
        fprintf(stderr,
                "batchtune %s: warning: replacing stored parameters that measured %.2fx as fast as "
                "CLBlast's defaults with ones that measured %.2fx (%s)\n",
                CMD, before, now, target);
    char note[1024];
    format_note(a, r, note, sizeof note);
    bt_status status = bt_gemm_tuning_save(device, &r->params, note, target);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "cannot store the parameters");
    printf("stored in %s%s\n", target,
           r->applied ? "" : " (in effect from the next time the device is opened)");
    return -1;
}

/* ----- engine choice ----- */

/* Seconds the engine search is expected to take: one comparison per step and one per product
 * of it, each about ENGINE_COMPARISON_SECONDS on the devices measured (twelve blocks of 20 ms
 * and the warm-up runs). */
#define ENGINE_COMPARISON_SECONDS 0.4
/* The most of the budget kept for it from the parameter search. */
#define ENGINE_SHARE 0.25

static double engine_search_estimate(const bt_gemm_tune_step *steps, size_t n_steps)
{
    double comparisons = 0.0;
    for (size_t i = 0; i < n_steps; ++i)
        comparisons += 1.0 + (double)steps[i].count;
    return comparisons * ENGINE_COMPARISON_SECONDS;
}

static bool on_engine_progress(const bt_gemm_tune_progress *p, void *ctx)
{
    const progress_state *state = ctx;
    fprintf(stderr, "%s  [%4.0f/%.0f s] engines: step %zu, %s%s", state->tty ? "\r\033[K" : "",
            p->elapsed_seconds, p->budget_seconds, p->tried + 1, p->stage,
            state->tty ? "..." : "\n");
    fflush(stderr);
    return !bt_cli_interrupted();
}

/* Times training steps with our fused kernels and with CLBlast (the parameters just found in
 * effect) and decides per product shape. Returns -1 when done, else the exit code. */
static int choose_engines(const tune_args *a, bt_device *device, const bt_gemm_tune_shape *shapes,
                          size_t n_shapes, const bt_gemm_tune_step *steps, size_t n_steps,
                          double started, progress_state *progress, bt_engine_tune_result *out)
{
    static step_runner runner;
    bt_status status = step_runner_create(a, device, BT_ENGINE_AUTO, &runner);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "cannot set up the training steps");
    bt_engine_tune_opts opts = {0};
    opts.shapes = shapes;
    opts.n_shapes = n_shapes;
    opts.steps = steps;
    opts.n_steps = n_steps;
    opts.run_step = run_training_steps;
    opts.run_step_ctx = &runner;
    double spent = bt_clock_seconds() - started;
    opts.budget_seconds = a->budget > spent ? a->budget - spent : 0.0;
    opts.progress = on_engine_progress;
    opts.progress_ctx = progress;
    status = bt_engine_tune(device, &opts, out);
    step_runner_destroy(&runner);
    progress_clear(progress);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "timing our kernels against CLBlast failed");
    if (out->stopped)
        fprintf(stderr, "batchtune %s: interrupted; keeping the engine choices made so far\n",
                CMD);
    return -1;
}

static bt_engine engine_of(const bt_engine_tune_result *r, const bt_gemm_shape *shape)
{
    for (size_t i = 0; i < r->n_engines; ++i)
        if (same_shape(&r->engines[i].shape, shape))
            return r->engines[i].engine;
    return BT_ENGINE_AUTO;
}

/* Per network and batch size: the step with every product on our kernels, on CLBlast, and with
 * the choices, and the choice per product in the order the step runs them. */
static void print_engines(const tune_args *a, const bt_gemm_tune_shape *shapes,
                          const bt_gemm_tune_step *steps, const bt_engine_tune_result *r)
{
    printf("\n%-20s %6s %12s %12s %12s  %s\n", "network", "m", "fused ms", "CLBlast ms",
           "chosen ms", "engine per product, in step order (F: fused, C: CLBlast)");
    for (size_t i = 0, t = 0; i < a->n_nets; ++i) {
        char sizes[128];
        bt_cli_format_sizes(&a->nets[i], sizes, sizeof sizes);
        for (size_t j = 0; j < a->n_batch_sizes; ++j, ++t) {
            if (r->fused_seconds[t] <= 0.0) {
                printf("%-20s %6zu %12s %12s %12s  (decided by earlier steps or not measured)\n",
                       sizes, a->batch_sizes[j], "-", "-", "-");
                continue;
            }
            printf("%-20s %6zu %12.3f %12.3f %12.3f  ", sizes, a->batch_sizes[j],
                   1e3 * r->fused_seconds[t], 1e3 * r->clblast_seconds[t],
                   1e3 * r->chosen_seconds[t]);
            for (size_t k = 0; k < steps[t].count; ++k) {
                bt_engine e = engine_of(r, &shapes[steps[t].shapes[k]].shape);
                putchar(e == BT_ENGINE_FUSED ? 'F' : e == BT_ENGINE_CLBLAST ? 'C' : '?');
            }
            putchar('\n');
        }
    }
    printf("(training steps on synthetic data with the parameters above; %zu comparisons "
           "A B B A in %.0f s",
           r->comparisons, r->elapsed_seconds);
    if (r->comparisons_skipped > 0)
        printf("; %zu per-product comparisons left out for the budget",
               r->comparisons_skipped);
    printf(")\n");
}

/* ----- the command ----- */

/* The device's stored parameters, as a starting point of the search. */
static bool load_stored(bt_device *device, bt_gemm_params *out)
{
    char path[1024];
    bool ok = bt_gemm_tuning_path(device, NULL, path, sizeof path) == BT_OK &&
              bt_gemm_tuning_load(device, path, out) == BT_OK &&
              (out->has_direct || out->has_indirect);
    bt_clear_error();
    return ok;
}

static int run(const tune_args *a, bt_device *device, double started)
{
    static bt_gemm_tune_shape shapes[BT_GEMM_TUNE_MAX_SHAPES];
    static bt_gemm_tune_step steps[BT_GEMM_TUNE_MAX_STEPS];
    size_t n_shapes = 0, n_steps = 0;
    if (a->save) {
        /* Where the result goes must be writable before the search, not after it. */
        char path[1024];
        const char *target = a->output;
        if (!target) {
            if (bt_gemm_tuning_path(device, NULL, path, sizeof path) != BT_OK)
                return bt_cli_report(CMD, BT_ERR_IO, "cannot choose where to store the "
                                                     "parameters (give --output FILE)");
            target = path;
        }
        int code = bt_cli_check_output_file(CMD, a->output ? "--output" : "the device's file",
                                            target, true);
        if (code != BT_EXIT_OK)
            return code;
    }
    bt_status status = collect_shapes(a, device, shapes, &n_shapes, steps, &n_steps);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "cannot list the step shapes");

    bt_device_peak peak;
    status = bt_device_measure_peak(device, &peak);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "cannot measure the device's peak");
    const bt_device_info *info = bt_device_get_info(device);
    printf("device: %s (%s); measured peak: FMA %.1f GFLOP/s, copy %.1f GB/s\n", info->name,
           info->platform_name, peak.fma_gflops, peak.copy_gbps);
    printf("%zu distinct GEMM shapes; budget %.0f s\n", n_shapes, a->budget);
    fflush(stdout);

    bt_gemm_params stored;
    progress_state progress = {isatty(fileno(stderr)) != 0};
    bt_gemm_tune_opts opts = bt_gemm_tune_opts_default();
    opts.shapes = shapes;
    opts.n_shapes = n_shapes;
    opts.steps = steps;
    opts.n_steps = n_steps;
    opts.seed = a->seed;
    if (a->device.use_gemm_tuning && load_stored(device, &stored)) {
        opts.start = &stored;
        opts.n_start = 1;
    }
    opts.progress = on_progress;
    opts.progress_ctx = &progress;
    static step_runner runner;
    /* The check is of CLBlast's parameters: its steps run on CLBlast, whatever the engine
     * training would choose. */
    status = step_runner_create(a, device, BT_ENGINE_CLBLAST, &runner);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "cannot set up the training steps");
    opts.run_step = run_training_steps;
    opts.run_step_ctx = &runner;
    /* The budget is the whole command's: what opening the device, measuring its peak and
     * setting up the steps took is spent. A positive budget stays positive, so that the search
     * still leaves out the extra splits that do not fit. */
    double spent = bt_clock_seconds() - started;
    double left = a->budget > spent ? a->budget - spent : 0.0;
    double engine_reserve = engine_search_estimate(steps, n_steps);
    if (engine_reserve > ENGINE_SHARE * left)
        engine_reserve = ENGINE_SHARE * left;
    left -= engine_reserve;
    opts.budget_seconds = left > 0.0 ? left : a->budget > 0.0 ? 1e-3 : 0.0;

    static bt_gemm_tune_result result;
    status = bt_gemm_tune(device, &opts, &result);
    step_runner_destroy(&runner);
    progress_clear(&progress);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "the search failed");
    if (result.stopped)
        fprintf(stderr, "batchtune %s: interrupted; keeping the best found so far\n", CMD);
    if (result.last_rejection[0])
        fprintf(stderr, "batchtune %s: %zu candidates skipped; the last because: %s\n", CMD,
                result.invalid, result.last_rejection);
    if (result.finish_error[0])
        fprintf(stderr, "batchtune %s: warning: %s\n", CMD, result.finish_error);

    print_table(shapes, &result, &peak);
    print_steps(a, steps, &result);
    static bt_engine_tune_result engines;
    bool engines_measured = false;
    if (!result.stopped) {
        int failed = choose_engines(a, device, shapes, n_shapes, steps, n_steps, started,
                                    &progress, &engines);
        if (failed >= 0)
            return failed;
        engines_measured = engines.n_engines > 0;
        print_engines(a, shapes, steps, &engines);
        result.params.has_engines = true;
        result.params.n_engines = engines.n_engines;
        memcpy(result.params.engines, engines.engines,
               engines.n_engines * sizeof *engines.engines);
        if (engines.stopped)
            result.stopped = true;
    }
    char text[1024], outcome[256];
    printf("\n%zu candidates (%zu skipped) in %.0f s; %s\n", result.tried, result.invalid,
           result.elapsed_seconds, format_outcome(&result, outcome, sizeof outcome));
    if (result.n_steps > 0 && !result.params.has_min_indirect_size)
        printf("the best combination found was not 1%% faster than CLBlast's defaults in "
               "training steps: keeping CLBlast's own\n");
    printf("parameters: %s\n", bt_gemm_params_format(&result.params, text, sizeof text));
    int code = -1;
    if (a->save && !measured_something(&result) && !engines_measured) {
        /* An early interrupt: a file of defaults would replace a good one for nothing. */
        fprintf(stderr, "batchtune %s: nothing measured beat CLBlast's defaults before the %s; "
                        "no parameters stored, the stored ones (if any) are kept\n",
                CMD, result.stopped ? "interrupt" : "end");
        if (!result.stopped)
            code = BT_EXIT_FAILURE;
    } else if (a->save)
        code = save(a, device, &result);
    fflush(stdout);
    if (code < 0)
        code = result.stopped ? BT_EXIT_INTERRUPTED : BT_EXIT_OK;
    return code;
}

int bt_cmd_tune_gemm(int argc, char **argv)
{
    tune_args args;
    int code = parse_args(argc, argv, &args);
    if (code != BT_CLI_GO_ON)
        return code;
    double started = bt_clock_seconds();
    bt_cli_catch_sigint();
    bt_device_opts device_opts = bt_cli_device_opts(&args.device);
    /* CLBlast's own parameters must be measured first: the stored ones are tried after. */
    device_opts.apply_gemm_tuning = false;
    bt_device *device = NULL;
    bt_status status = bt_device_create(&device_opts, &device);
    if (status != BT_OK)
        code = bt_cli_report(CMD, status, "cannot open the OpenCL device");
    else
        code = run(&args, device, started);
    bt_device_destroy(device);
    bt_cli_release_sigint();
    return code;
}
