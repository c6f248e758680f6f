/* batchtune bench: time training steps per batch size on a network and device, and set them
 * against the same step's GEMMs run alone, so that the cost of everything that is not a GEMM
 * (our kernels, batch assembly, host enqueueing, waiting) shows as a ratio. Steps and GEMMs alone
 * are timed in alternating rounds so that both see the same machine load. One row per batch
 * size, printed as soon as it is measured; Ctrl-C stops between measurements and keeps them.
 * The steps run on synthetic data, or with --data on the training split that train loads, fed by
 * the same scheduler (shuffled each epoch, batches gathered on the device). */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "batchtune_gemm_tuning.h"
#include "cli.h"
#include "common/clock.h"
#include "common/stats.h"
#include "timed_steps.h"

#define CMD "bench"

#define DEFAULT_BATCH_SIZES "1,2,4,8,10,16,32,64,100,128,256,512,1024,2048"
#define MAX_BATCH_SIZES 64
#define MAX_BATCH_SIZE ((size_t)1 << 24)
#define MAX_REPEATS 1000
#define MAX_SECONDS 3600.0
/* Untimed steps after warm-up: the first epoch's shuffle and upload, PoCL's first launches. */
#define UNTIMED_STEPS 3
/* A trial run is long enough to estimate the time per unit when it lasts this share of a
 * measurement (or this many seconds, whichever is less). */
#define TRIAL_SHARE 0.25
#define TRIAL_MAX_SECONDS 0.1
/* Upper bound of the units (steps, GEMM repetitions) in one measurement. */
#define MAX_UNITS ((size_t)1 << 24)
/* The profiled run records every command's event: cap its length. */
#define MAX_PROFILED_STEPS 2000
/* GEMM-alone runs keep at most two groups of this many repetitions queued, as the scheduler does
 * with its steps (BT_SCHEDULER_MAX_STEPS_IN_FLIGHT). */
#define GEMM_GROUP (BT_SCHEDULER_MAX_STEPS_IN_FLIGHT / 2)
/* Enough for every step shape of the largest network (3 per layer, less one). */
#define MAX_SHAPES (3 * BT_MAX_LAYERS)

static void print_help(void)
{
    printf("usage: batchtune bench [options]\n\n"
           "Time training steps per batch size on a device and compare each step with the same\n"
           "GEMMs run alone. Data is a synthetic random dataset of max(%d, largest m) examples\n"
           "already on the device (a step's cost does not depend on the values), or with --data\n"
           "the training split that 'batchtune train' uses, uploaded to the device and fed by\n"
           "the same scheduler: shuffled each epoch, each batch gathered on the device. Every\n"
           "step has exactly m examples (an epoch's last partial batch is skipped, as with\n"
           "train --drop-last). Per batch size m: warm up, then R rounds of timing the steps\n"
           "and the GEMMs alone in turn, at least S seconds each; medians are shown.\n\n"
           "network:\n"
           "      --layers LIST        units per layer, input first (default 784,30,10)\n"
           "      --hidden ACT         hidden activation: sigmoid, tanh, relu (default sigmoid)\n"
           "      --output ACT         output activation: sigmoid, softmax (default sigmoid)\n"
           "      --cost COST          quadratic or cross-entropy (sigmoid output),\n"
           "                           log-likelihood (softmax output) (default quadratic)\n"
           "      --engine E           what computes the layers' products: auto, fused (our\n"
           "                           fused kernels), clblast (default auto)\n"
           "data:\n"
           "      --data DIR           time steps on the training split of this folder of\n"
           "                           MNIST-format IDX files (as train and tune read it)\n"
           "                           instead of synthetic data\n"
           "      --validation N       with --data: the last N training images are the\n"
           "                           validation set, left out as train does (default %d)\n"
           "measurement:\n"
           "  -m, --batch-sizes LIST   batch sizes to time (default\n"
           "                           " DEFAULT_BATCH_SIZES ")\n"
           "      --seconds S          minimum length of one measurement, > 0 (default 0.3)\n"
           "      --repeats R          rounds of measurements; medians are shown (default 5)\n"
           "      --no-streaming       skip the second table (training data streamed from the\n"
           "                           host through a ring of buffers vs resident)\n"
           "device:\n"
           "  -d, --device SEL         device selector (see 'batchtune devices'); default: the\n"
           "                           BATCHTUNE_DEVICE variable, else the first GPU, else device 0\n"
           "      --no-cache           neither read nor write the program-binary cache\n"
           "      --no-gemm-tuning     use CLBlast's own GEMM parameters, not the device's\n"
           "                           stored ones (batchtune tune-gemm)\n"
           "  -h, --help               this text\n\n"
           "The header names the data and the engine, and gives the device's measured peak\n"
           "(an FMA-throughput kernel and a buffer copy) and which GEMM parameters are in use.\n\n"
           "columns:\n"
           "  step ms       wall-clock time of one training step (steps enqueued ahead, as in\n"
           "                training)\n"
           "  examples/s    m / step time\n"
           "  GFLOP/s       the step's products' FLOPs (2mnk summed) / step time\n"
           "  %%peak         GFLOP/s as a share of the measured FMA peak\n"
           "  floor ms      the step's FLOPs at the FMA peak plus one back-to-back launch\n"
           "                (header) per kernel the step runs: what no implementation of\n"
           "                this step on this device can beat\n"
           "  x floor       step ms / floor ms\n"
           "  CLBlast ms    the step's products as CLBlast GEMMs enqueued alone, per step\n"
           "  ratio         step ms / CLBlast ms\n"
           "  prod%% kern%% data%%  the split of the device's busy time in a profiled run between\n"
           "                the layers' products (fused kernels or CLBlast GEMMs), the other\n"
           "                kernels and batch assembly\n"
           "  host us/step  CPU time of the calling thread per step: the host's cost of\n"
           "                enqueueing (the device's own threads do not count)\n"
           "  engines       what computes each product, in the order of a step (forward\n"
           "                per layer, then input gradient and update from the last layer):\n"
           "                F our fused kernels, C CLBlast (engine auto: the choice stored\n"
           "                by tune-gemm, else the rule)\n\n"
           "Ctrl-C stops after the current measurement, keeps the rows printed and exits with\n"
           "status 130; a second Ctrl-C ends at once.\n"
           "Exit status: 0 done, 1 failure (including data that cannot be loaded), 2 bad\n"
           "command line, 130 interrupted.\n",
           BT_TIMED_STEPS_MIN_EXAMPLES, BT_DEFAULT_VALIDATION_COUNT);
}

/* ----- strict option parsing ----- */

static bool parse_batch_sizes(const char *text, size_t *sizes, size_t *count)
{
    return bt_cli_parse_size_list(text, MAX_BATCH_SIZES, MAX_BATCH_SIZE, sizes, count);
}

typedef struct bench_args {
    bt_network_opts net;
    const char *layers_text; /* as given, for the messages about the data's shape */
    const char *data_dir;    /* NULL: synthetic data */
    size_t validation;       /* with data_dir: images held out of the training split */
    bool validation_given;
    size_t batch_sizes[MAX_BATCH_SIZES];
    size_t n_batch_sizes;
    double seconds;
    size_t repeats;
    bt_cli_device_args device;
    bool streaming; /* also time streamed data (the data-modes table) */
} bench_args;

enum { OPT_SECONDS = BT_CLI_OPT_COMMAND, OPT_REPEATS, OPT_NO_STREAMING, OPT_DATA, OPT_VALIDATION };

/* Parses one option into *a (a bt_cli_option_fn). */
static int parse_option(int opt, const char *arg, void *ctx)
{
    bench_args *a = ctx;
    if (bt_cli_parse_device_option(opt, arg, &a->device))
        return BT_EXIT_OK;
    if (opt == BT_CLI_OPT_LAYERS)
        a->layers_text = arg;
    int code = bt_cli_parse_network_option(CMD, opt, arg, &a->net);
    if (code != BT_CLI_NOT_MINE)
        return code;
    unsigned long long u = 0;
    switch (opt) {
    case 'm':
        if (!parse_batch_sizes(arg, a->batch_sizes, &a->n_batch_sizes))
            return bt_cli_usage_error(CMD,
                                      "--batch-sizes '%s': expected up to %d integers "
                                      "1..%zu separated by commas, e.g. 1,10,100",
                                      arg, MAX_BATCH_SIZES, MAX_BATCH_SIZE);
        return BT_EXIT_OK;
    case OPT_SECONDS:
        if (!bt_cli_parse_real(arg, &a->seconds) || !(a->seconds > 0.0) ||
            a->seconds > MAX_SECONDS)
            return bt_cli_usage_error(CMD, "--seconds '%s': expected a number above 0 and "
                                           "at most %.0f",
                                      arg, MAX_SECONDS);
        return BT_EXIT_OK;
    case OPT_REPEATS:
        if (!bt_cli_parse_u64(arg, &u) || u < 1 || u > MAX_REPEATS)
            return bt_cli_usage_error(CMD, "--repeats '%s': expected an integer 1..%d", arg,
                                      MAX_REPEATS);
        a->repeats = (size_t)u;
        return BT_EXIT_OK;
    case OPT_NO_STREAMING:
        a->streaming = false;
        return BT_EXIT_OK;
    case OPT_DATA:
        if (!*arg)
            return bt_cli_usage_error(CMD, "--data needs a folder");
        a->data_dir = arg;
        return BT_EXIT_OK;
    case OPT_VALIDATION:
        if (!bt_cli_parse_size(arg, 1, &a->validation))
            return bt_cli_usage_error(CMD, "--validation '%s': expected an integer >= 1", arg);
        a->validation_given = true;
        return BT_EXIT_OK;
    default:
        return BT_CLI_NOT_MINE;
    }
}

/* Fills *a from the command line. Returns BT_CLI_GO_ON, else the exit code. */
static int parse_args(int argc, char **argv, bench_args *a)
{
    static const struct option options[] = {BT_CLI_OPTIONS_NETWORK,
                                            {"batch-sizes", required_argument, NULL, 'm'},
                                            {"seconds", required_argument, NULL, OPT_SECONDS},
                                            {"repeats", required_argument, NULL, OPT_REPEATS},
                                            BT_CLI_OPTION_DEVICE,
                                            BT_CLI_OPTION_NO_CACHE,
                                            {"no-streaming", no_argument, NULL, OPT_NO_STREAMING},
                                            {"data", required_argument, NULL, OPT_DATA},
                                            {"validation", required_argument, NULL, OPT_VALIDATION},
                                            BT_CLI_OPTION_NO_GEMM_TUNING,
                                            {"help", no_argument, NULL, 'h'},
                                            {0, 0, 0, 0}};
    static const bt_cli_command command = {CMD, "m:d:h", options, print_help, parse_option};
    memset(a, 0, sizeof *a);
    a->net = bt_network_opts_default();
    a->layers_text = "784,30,10";
    a->validation = BT_DEFAULT_VALIDATION_COUNT;
    /* Scaled initialisation keeps every activation away from saturation (and relu networks from
     * overflowing), so that no step runs on denormals or infinities. */
    a->net.init = BT_INIT_SCALED;
    a->seconds = 0.3;
    a->repeats = 5;
    a->device = bt_cli_device_args_default();
    a->streaming = true;
    parse_batch_sizes(DEFAULT_BATCH_SIZES, a->batch_sizes, &a->n_batch_sizes);

    int code = bt_cli_parse_options(&command, argc, argv, a);
    if (code != BT_CLI_GO_ON)
        return code;
    if (a->validation_given && !a->data_dir)
        return bt_cli_usage_error(CMD, "--validation needs --data");
    if (bt_network_opts_validate(&a->net) != BT_OK)
        return bt_cli_usage_error(CMD, "%s", bt_last_error());
    return BT_CLI_GO_ON;
}

/* ----- statistics, progress ----- */

/* Median of values[0..count), which it reorders. */
static double median(double *values, size_t count)
{
    double spread;
    return bt_median_and_spread(values, count, &spread);
}

static bool show_progress;

static void progress(size_t m, const char *what)
{
    if (show_progress) {
        fprintf(stderr, "\r\033[K  m=%zu: %s...", m, what);
        fflush(stderr);
    }
}

static void progress_clear(void)
{
    if (show_progress) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

/* ----- measurement ----- */

/* Runs `units` units of work (training steps, repetitions of a step's GEMMs) and waits. */
typedef bt_status (*work_fn)(void *ctx, size_t units);

/* A failure outside the library (a raw OpenCL call of the tool): *what says which. */
typedef struct bench_error {
    char what[256];
} bench_error;

/* How many units of `work` one measurement needs to last at least `seconds`, estimated from
 * trial runs of growing length; at least 2. BT_ERR_INTERRUPTED if Ctrl-C came. */
static bt_status calibrate(work_fn work, void *ctx, double seconds, size_t *units)
{
    double trial_target = seconds * TRIAL_SHARE < TRIAL_MAX_SECONDS ? seconds * TRIAL_SHARE
                                                                    : TRIAL_MAX_SECONDS;
    size_t n = 2;
    double elapsed = 0.0;
    for (;;) {
        if (bt_cli_interrupted())
            return BT_ERR_INTERRUPTED;
        double start = bt_clock_seconds();
        bt_status status = work(ctx, n);
        if (status != BT_OK)
            return status;
        elapsed = bt_clock_seconds() - start;
        if (elapsed >= trial_target || n >= MAX_UNITS / 16)
            break;
        /* Aim past the target, by at most 16x per round since the estimate is rough. */
        double factor = elapsed > 0.0 ? 1.5 * trial_target / elapsed : 16.0;
        n = (size_t)((double)n * (factor < 2.0 ? 2.0 : factor > 16.0 ? 16.0 : factor));
    }
    double per_unit = elapsed / (double)n;
    /* Rounded up. */
    double wanted = per_unit > 0.0 ? seconds / per_unit + 1.0 : (double)MAX_UNITS;
    *units = wanted < 2.0 ? 2 : wanted > (double)MAX_UNITS ? MAX_UNITS : (size_t)wanted;
    return BT_OK;
}

/* One measurement: wall-clock and calling-thread CPU seconds per unit of `units` units. */
static bt_status time_work(work_fn work, void *ctx, size_t units, double *wall, double *cpu)
{
    if (bt_cli_interrupted())
        return BT_ERR_INTERRUPTED;
    double wall_start = bt_clock_seconds(), cpu_start = bt_clock_thread_cpu_seconds();
    bt_status status = work(ctx, units);
    double cpu_end = bt_clock_thread_cpu_seconds(), wall_end = bt_clock_seconds();
    *wall = (wall_end - wall_start) / (double)units;
    *cpu = (cpu_end - cpu_start) / (double)units;
    return status;
}

static bt_status run_steps(void *ctx, size_t steps)
{
    return bt_scheduler_run(ctx, steps);
}

/* The step's GEMMs on scratch buffers. */
typedef struct gemm_alone {
    bt_device *device;
    bt_gemm_shape shapes[MAX_SHAPES];
    size_t count;
    bt_buffer *a, *b, *c;
    bench_error *error;
} gemm_alone;

/* Leading dimension of a packed row-major operand: its stored column count. */
static size_t packed_ld(bt_transpose t, size_t cols_plain, size_t cols_transposed)
{
    return t == BT_TRANS ? cols_transposed : cols_plain;
}

static bt_status cl_failed(bench_error *error, cl_int err, const char *call)
{
    size_t used = strlen(error->what);
    snprintf(error->what + used, sizeof error->what - used, ": %s failed (OpenCL error %d)", call,
             (int)err);
    bt_clear_error();
    return BT_ERR_OPENCL;
}

/* `reps` repetitions of every shape back to back, queued ahead like the scheduler's steps: after
 * each group of GEMM_GROUP repetitions a marker, and the host waits for the previous group's. */
static bt_status run_gemms(void *ctx, size_t reps)
{
    gemm_alone *g = ctx;
    cl_command_queue queue = bt_device_cl_queue(g->device);
    cl_event previous = NULL;
    bt_status status = BT_OK;
    for (size_t r = 0; r < reps && status == BT_OK; ++r) {
        for (size_t i = 0; i < g->count && status == BT_OK; ++i) {
            const bt_gemm_shape *s = &g->shapes[i];
            /* As in the step: weight updates (op(A) = delta^T) accumulate into W, beta = 1;
             * forward and input-gradient GEMMs overwrite, beta = 0. */
            float beta = s->trans_a == BT_TRANS ? 1.0f : 0.0f;
            status = bt_gemm(g->device, s->trans_a, s->trans_b, s->m, s->n, s->k, 1.0f, g->a, 0,
                             packed_ld(s->trans_a, s->k, s->m), g->b, 0,
                             packed_ld(s->trans_b, s->n, s->k), beta, g->c, 0, s->n, NULL);
        }
        if (status != BT_OK || (r + 1) % GEMM_GROUP != 0)
            continue;
        cl_event next = NULL;
        cl_int err = clEnqueueMarkerWithWaitList(queue, 0, NULL, &next);
        if (err != CL_SUCCESS) {
            status = cl_failed(g->error, err, "clEnqueueMarkerWithWaitList");
            break;
        }
        err = clFlush(queue);
        if (err == CL_SUCCESS && previous)
            err = clWaitForEvents(1, &previous);
        if (previous)
            clReleaseEvent(previous);
        previous = next;
        if (err != CL_SUCCESS)
            status = cl_failed(g->error, err, "waiting for queued GEMMs");
    }
    if (previous)
        clReleaseEvent(previous);
    bt_status finished = bt_device_finish(g->device);
    return status != BT_OK ? status : finished;
}

/* One row of the table. */
typedef struct bench_row {
    size_t m;
    double step_seconds;      /* wall-clock per step */
    double host_seconds;      /* calling thread's CPU time per step */
    double gemm_seconds;      /* the step's GEMMs alone, per step */
    double gemm_flops;        /* FLOPs of one step's GEMMs */
    bt_profile profile;       /* device time of the profiled run */
    size_t profiled_steps;    /* steps in that run */
    double stream_seconds;    /* wall-clock per step with streamed data */
    double stream_host_seconds;
    bt_profile stream_profile;
    char engines[3 * BT_MAX_LAYERS + 1]; /* per product in step order: F fused, C CLBlast */
} bench_row;

/* Everything one batch size creates. */
typedef struct bench_case {
    bt_network *network;
    bt_scheduler *scheduler;
    bt_scheduler *stream_scheduler; /* the same network fed through the streaming ring */
    gemm_alone gemm;
} bench_case;

static void bench_case_destroy(bench_case *c)
{
    bt_buffer_destroy(c->gemm.c);
    bt_buffer_destroy(c->gemm.b);
    bt_buffer_destroy(c->gemm.a);
    bt_scheduler_destroy(c->stream_scheduler);
    bt_scheduler_destroy(c->scheduler);
    bt_network_destroy(c->network);
}

/* Scratch buffers large enough for every shape, zero-filled so that no GEMM reads garbage. */
static bt_status create_gemm_buffers(gemm_alone *g)
{
    size_t a_size = 1, b_size = 1, c_size = 1;
    for (size_t i = 0; i < g->count; ++i) {
        const bt_gemm_shape *s = &g->shapes[i];
        a_size = s->m * s->k > a_size ? s->m * s->k : a_size;
        b_size = s->k * s->n > b_size ? s->k * s->n : b_size;
        c_size = s->m * s->n > c_size ? s->m * s->n : c_size;
    }
    bt_status status = bt_buffer_create(g->device, a_size * sizeof(float), &g->a);
    if (status == BT_OK)
        status = bt_buffer_create(g->device, b_size * sizeof(float), &g->b);
    if (status == BT_OK)
        status = bt_buffer_create(g->device, c_size * sizeof(float), &g->c);
    if (status == BT_OK)
        status = bt_buffer_fill_float(g->a, 0, a_size, 0.0f);
    if (status == BT_OK)
        status = bt_buffer_fill_float(g->b, 0, b_size, 0.0f);
    if (status == BT_OK)
        status = bt_buffer_fill_float(g->c, 0, c_size, 0.0f);
    if (status == BT_OK)
        status = bt_device_finish(g->device);
    return status;
}

/* Measure one batch size into *row. On failure *what says which stage failed. */
/* The profiled run of one scheduler into *profile. */
static bt_status profile_steps(bt_network *network, bt_scheduler *scheduler, size_t steps,
                               bt_profile *profile)
{
    bt_status status = bt_network_set_profiling(network, true);
    if (status == BT_OK)
        status = bt_scheduler_run(scheduler, steps < MAX_PROFILED_STEPS ? steps : MAX_PROFILED_STEPS);
    if (status == BT_OK)
        status = bt_network_take_profile(network, profile);
    bt_status off = bt_network_set_profiling(network, false);
    return status == BT_OK ? off : status;
}

static bt_status bench_one(const bench_args *a, bt_device *device, const bt_dataset *dataset,
                           const bt_device_data *data, size_t m, double *samples, bench_row *row,
                           bench_error *error)
{
    memset(row, 0, sizeof *row);
    row->m = m;
    bench_case c;
    memset(&c, 0, sizeof c);
    c.gemm.device = device;
    c.gemm.error = error;

    bt_network_opts net_opts = a->net;
    bt_scheduler_opts sched_opts;
    bt_timed_step_opts(m, &net_opts, &sched_opts);

    progress(m, "creating the network and compiling its GEMMs");
    snprintf(error->what, sizeof error->what, "creating the network for m=%zu", m);
    bt_status status = bt_network_create(device, &net_opts, &c.network);
    if (status == BT_OK) {
        bt_engine engines[3 * BT_MAX_LAYERS];
        size_t count = 0;
        status = bt_network_step_engines(c.network, m, engines, 3 * BT_MAX_LAYERS, &count);
        for (size_t i = 0; status == BT_OK && i < count; ++i)
            row->engines[i] = engines[i] == BT_ENGINE_FUSED ? 'F' : 'C';
    }
    if (status == BT_OK)
        status = bt_network_warmup(c.network, &m, 1);
    if (status == BT_OK)
        status = bt_scheduler_create(c.network, data, &sched_opts, &c.scheduler);
    if (status == BT_OK)
        status = bt_scheduler_run(c.scheduler, UNTIMED_STEPS);
    if (status == BT_OK && a->streaming) {
        snprintf(error->what, sizeof error->what, "creating the streaming scheduler for m=%zu", m);
        sched_opts.mode = BT_DATA_STREAM;
        status = bt_scheduler_create_from_host(c.network, dataset, &sched_opts,
                                               &c.stream_scheduler);
        if (status == BT_OK)
            status = bt_scheduler_run(c.stream_scheduler, UNTIMED_STEPS);
    }

    if (status == BT_OK) {
        snprintf(error->what, sizeof error->what, "preparing the GEMMs alone at m=%zu", m);
        status = bt_network_step_shapes(c.network, m, c.gemm.shapes, MAX_SHAPES, &c.gemm.count);
    }
    if (status == BT_OK) {
        for (size_t i = 0; i < c.gemm.count; ++i) {
            const bt_gemm_shape *s = &c.gemm.shapes[i];
            row->gemm_flops += 2.0 * (double)s->m * (double)s->n * (double)s->k;
        }
        status = create_gemm_buffers(&c.gemm);
    }
    if (status == BT_OK)
        status = run_gemms(&c.gemm, 1); /* untimed, like the steps above */

    /* Steps and GEMMs alone are measured in turns, so that both see the same load of the
     * machine (other processes, clock changes) and their ratio stays meaningful. */
    size_t steps = 0, reps = 0;
    if (status == BT_OK) {
        progress(m, "calibrating");
        snprintf(error->what, sizeof error->what, "timing training steps at m=%zu", m);
        status = calibrate(run_steps, c.scheduler, a->seconds, &steps);
    }
    if (status == BT_OK) {
        snprintf(error->what, sizeof error->what, "timing the GEMMs alone at m=%zu", m);
        status = calibrate(run_gemms, &c.gemm, a->seconds, &reps);
    }
    double *step_wall = samples, *step_cpu = samples + a->repeats;
    double *gemm_wall = samples + 2 * a->repeats;
    double *stream_wall = samples + 3 * a->repeats, *stream_cpu = samples + 4 * a->repeats;
    double gemm_cpu = 0.0; /* the host's cost of the GEMMs alone: not shown */
    for (size_t r = 0; r < a->repeats && status == BT_OK; ++r) {
        char what[64];
        snprintf(what, sizeof what, "timing, round %zu of %zu", r + 1, a->repeats);
        progress(m, what);
        snprintf(error->what, sizeof error->what, "timing training steps at m=%zu", m);
        status = time_work(run_steps, c.scheduler, steps, &step_wall[r], &step_cpu[r]);
        if (status == BT_OK) {
            snprintf(error->what, sizeof error->what, "timing the GEMMs alone at m=%zu", m);
            status = time_work(run_gemms, &c.gemm, reps, &gemm_wall[r], &gemm_cpu);
        }
        if (status == BT_OK && c.stream_scheduler) {
            snprintf(error->what, sizeof error->what, "timing streamed steps at m=%zu", m);
            status = time_work(run_steps, c.stream_scheduler, steps, &stream_wall[r],
                               &stream_cpu[r]);
        }
    }
    if (status == BT_OK) {
        row->step_seconds = median(step_wall, a->repeats);
        row->host_seconds = median(step_cpu, a->repeats);
        row->gemm_seconds = median(gemm_wall, a->repeats);
        if (c.stream_scheduler) {
            row->stream_seconds = median(stream_wall, a->repeats);
            row->stream_host_seconds = median(stream_cpu, a->repeats);
        }
    }

    if (status == BT_OK && bt_cli_interrupted())
        status = BT_ERR_INTERRUPTED;
    if (status == BT_OK) {
        progress(m, "profiling");
        snprintf(error->what, sizeof error->what, "profiling training steps at m=%zu", m);
        row->profiled_steps = steps < MAX_PROFILED_STEPS ? steps : MAX_PROFILED_STEPS;
        status = profile_steps(c.network, c.scheduler, steps, &row->profile);
        if (status == BT_OK && c.stream_scheduler) {
            snprintf(error->what, sizeof error->what, "profiling streamed steps at m=%zu", m);
            status = profile_steps(c.network, c.stream_scheduler, steps, &row->stream_profile);
        }
    }
    bench_case_destroy(&c);
    return status;
}

/* ----- output ----- */

/* The data folder's name: "Fashion-MNIST" or "MNIST" for the folders that hold them
 * (".../fashion-mnist", ".../mnist"), else the folder as given. */
static const char *data_name(const char *dir)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        --len;
    size_t start = len;
    while (start > 0 && dir[start - 1] != '/')
        --start;
    static const struct {
        const char *folder, *name;
    } known[] = {{"fashion-mnist", "Fashion-MNIST"}, {"mnist", "MNIST"}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; ++i)
        if (len - start == strlen(known[i].folder) &&
            strncasecmp(dir + start, known[i].folder, len - start) == 0)
            return known[i].name;
    return dir;
}

static void print_header(const bench_args *a, const bt_device *device, size_t examples,
                         const bt_device_peak *peak)
{
    const bt_device_info *info = bt_device_get_info(device);
    char sizes[256], data[1024];
    if (a->data_dir)
        /* The main table's steps read device-resident data (the streaming table: streamed). */
        snprintf(data, sizeof data, "%s training split, %zu examples, %s", data_name(a->data_dir),
                 examples, bt_data_mode_str(BT_DATA_RESIDENT));
    else
        snprintf(data, sizeof data, "%zu synthetic examples", examples);
    printf("device: %s (%s); network %s, hidden %s, output %s, cost %s, engine %s; %s; medians "
           "of %zu x >= %g s\n",
           info->name, info->platform_name, bt_cli_format_sizes(&a->net, sizes, sizeof sizes),
           bt_activation_str(a->net.hidden), bt_activation_str(a->net.output),
           bt_cost_str(a->net.cost), bt_engine_str(a->net.engine), data, a->repeats, a->seconds);
    printf("measured peak: FMA %.1f GFLOP/s, copy %.1f GB/s; GEMM parameters: %s\n",
           peak->fma_gflops, peak->copy_gbps,
           bt_device_gemm_tuning_state(device) == BT_GEMM_TUNING_APPLIED
               ? "tuned (batchtune tune-gemm)"
               : "CLBlast's defaults");
    printf("kernel launch: %.1f us back to back\n", peak->launch_us);
    printf("%7s %9s %11s %8s %6s %9s %7s %10s %6s %6s %6s %6s %13s  %s\n", "m", "step ms",
           "examples/s", "GFLOP/s", "%peak", "floor ms", "x floor", "CLBlast ms", "ratio",
           "prod%", "kern%", "data%", "host us/step", "engines");
    fflush(stdout);
}

static void print_row(const bench_row *r, const bt_device_peak *peak)
{
    const bt_profile *p = &r->profile;
    double busy = p->gemm_seconds + p->kernel_seconds + p->data_seconds;
    double scale = busy > 0.0 ? 100.0 / busy : 0.0;
    double gflops = r->gemm_flops / r->step_seconds * 1e-9;
    double launches = r->profiled_steps
                          ? (double)(p->gemm_calls + p->kernel_calls + p->data_calls) /
                                (double)r->profiled_steps
                          : 0.0;
    double floor = r->gemm_flops / (peak->fma_gflops * 1e9) + launches * peak->launch_us * 1e-6;
    printf("%7zu %9.3f %11.0f %8.2f %6.1f %9.3f %7.2f %10.3f %6.2f %6.1f %6.1f %6.1f %13.1f  "
           "%s\n",
           r->m, 1e3 * r->step_seconds, (double)r->m / r->step_seconds, gflops,
           100.0 * gflops / peak->fma_gflops, 1e3 * floor, r->step_seconds / floor,
           1e3 * r->gemm_seconds, r->step_seconds / r->gemm_seconds, scale * p->gemm_seconds,
           scale * p->kernel_seconds, scale * p->data_seconds, 1e6 * r->host_seconds,
           r->engines);
}

/* The data-modes table: resident against streamed training data, per batch size. */
static void print_modes(const bench_row *rows, size_t count)
{
    printf("\ntraining data resident on the device vs streamed from the host (ring of 3 "
           "buffers, separate transfer queue):\n");
    printf("%7s %13s %13s %9s %15s %14s %8s\n", "m", "resident st/s", "streamed st/s",
           "str/res", "str host us/st", "transfer us/st", "hidden%");
    for (size_t i = 0; i < count; ++i) {
        const bench_row *r = &rows[i];
        const bt_profile *p = &r->stream_profile;
        size_t steps = p->data_calls ? p->data_calls : 1; /* one gather per step */
        printf("%7zu %13.1f %13.1f %9.3f %15.1f %14.1f %8.1f\n", r->m, 1.0 / r->step_seconds,
               1.0 / r->stream_seconds, r->step_seconds / r->stream_seconds,
               1e6 * r->stream_host_seconds, 1e6 * p->transfer_seconds / (double)steps,
               p->transfer_seconds > 0.0 ? 100.0 * p->transfer_hidden_seconds / p->transfer_seconds
                                         : 0.0);
    }
    printf("str/res = streamed throughput / resident throughput; hidden%% = share of the upload "
           "time during which the compute queue was busy\n");
}

/* ----- the command ----- */

/* Device, data and scratch arrays shared by every batch size. */
typedef struct bench_run {
    bt_device *device;
    bt_dataset *dataset; /* host copy, synthetic or loaded: what the streaming scheduler reads */
    bt_device_data *data;
    double *samples; /* 5 x repeats: step wall and CPU, GEMM-alone wall, streamed wall and CPU */
    bench_row *rows; /* one per batch size, for the data-modes table */
} bench_run;

static void bench_run_destroy(bench_run *r)
{
    bt_device_data_destroy(r->data);
    bt_dataset_destroy(r->dataset);
    bt_device_destroy(r->device);
    free(r->samples);
    free(r->rows);
}

/* --data: the training split as train loads it (before the device is opened, so that a wrong
 * folder fails at once), checked against the network and the batch sizes. Returns BT_CLI_GO_ON
 * or the exit code. */
static int load_data(const bench_args *a, bench_run *r)
{
    bt_status status =
        bt_dataset_load_mnist_dir(a->data_dir, a->validation, &r->dataset, NULL, NULL);
    if (status != BT_OK)
        return bt_cli_report(CMD, status, "cannot load the data");
    int code = bt_cli_check_layers_fit(CMD, a->layers_text, &a->net, a->data_dir, r->dataset);
    if (code != BT_EXIT_OK)
        return code;
    size_t count = bt_dataset_count(r->dataset);
    for (size_t i = 0; i < a->n_batch_sizes; ++i)
        if (a->batch_sizes[i] > count)
            return bt_cli_usage_error(CMD,
                                      "batch size %zu is larger than the %zu training examples; "
                                      "choose smaller ones with --batch-sizes",
                                      a->batch_sizes[i], count);
    return BT_CLI_GO_ON;
}

/* The training data on the device: the loaded split uploaded once (what a resident scheduler
 * reads, as in train), or random examples, as many as the largest batch needs (at least
 * BT_TIMED_STEPS_MIN_EXAMPLES). *examples gets the count. */
static bt_status create_data(const bench_args *a, bench_run *r, size_t *examples)
{
    if (a->data_dir) {
        *examples = bt_dataset_count(r->dataset);
        return bt_device_data_create(r->device, r->dataset, &r->data);
    }
    return bt_synthetic_data_create(r->device, &a->net, a->batch_sizes, a->n_batch_sizes,
                                    &r->dataset, &r->data, examples);
}

int bt_cmd_bench(int argc, char **argv)
{
    bench_args args;
    int code = parse_args(argc, argv, &args);
    if (code != BT_CLI_GO_ON)
        return code;

    bt_cli_catch_sigint();
    show_progress = isatty(fileno(stderr));

    bench_run run;
    memset(&run, 0, sizeof run);
    if (args.data_dir)
        code = load_data(&args, &run);
    bt_status status = BT_OK;
    if (code < 0) {
        bt_device_opts device_opts = bt_cli_device_opts(&args.device);
        status = bt_device_create(&device_opts, &run.device);
        if (status != BT_OK)
            code = bt_cli_report(CMD, status, "cannot open the OpenCL device");
        else
            bt_cli_report_gemm_tuning(CMD, run.device, false);
    }

    bt_device_peak peak;
    if (code < 0) {
        if (show_progress) {
            fputs("  measuring the device's peak...", stderr);
            fflush(stderr);
        }
        status = bt_device_measure_peak(run.device, &peak);
        progress_clear();
        if (status != BT_OK)
            code = bt_cli_report(CMD, status, "cannot measure the device's peak");
    }

    size_t examples = 0;
    if (code < 0) {
        run.samples = malloc(5 * args.repeats * sizeof *run.samples);
        run.rows = malloc(args.n_batch_sizes * sizeof *run.rows);
        status = run.samples && run.rows ? create_data(&args, &run, &examples)
                                         : BT_ERR_OUT_OF_HOST_MEMORY;
        if (status == BT_ERR_OUT_OF_HOST_MEMORY)
            bt_clear_error();
        if (status != BT_OK)
            code = bt_cli_report(CMD, status,
                                 args.data_dir ? "cannot upload the training data to the device"
                                               : "cannot create the synthetic dataset");
    }

    size_t rows = 0;
    if (code < 0) {
        print_header(&args, run.device, examples, &peak);
        bench_error error;
        for (size_t i = 0; i < args.n_batch_sizes && code < 0; ++i) {
            bench_row *row = &run.rows[rows];
            error.what[0] = '\0';
            status = bench_one(&args, run.device, run.dataset, run.data, args.batch_sizes[i],
                               run.samples, row, &error);
            progress_clear();
            if (status == BT_OK) {
                print_row(row, &peak);
                ++rows;
            } else if (status == BT_ERR_INTERRUPTED) {
                fprintf(stderr, "batchtune %s: interrupted\n", CMD);
                code = BT_EXIT_INTERRUPTED;
            } else {
                code = bt_cli_report(CMD, status, error.what);
            }
        }
    }
    if (rows > 0)
        printf("x floor = step time / (FLOPs at peak + launches); ratio = step time / the same "
               "products as CLBlast GEMMs alone\n");
    if (rows > 0 && args.streaming)
        print_modes(run.rows, rows);
    if (code < 0)
        code = bt_cli_interrupted() ? BT_EXIT_INTERRUPTED : BT_EXIT_OK;
    bench_run_destroy(&run);
    bt_cli_release_sigint();
    return code;
}
