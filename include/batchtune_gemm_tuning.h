/*
 * batchtune GEMM performance: the device's measured peak, CLBlast's GEMM kernel parameters, a
 * search for the best ones on a set of shapes, and their per-device storage.
 *
 * CLBlast runs a GEMM through one of two paths. The "direct" kernel (XgemmDirect) computes C in
 * one launch and suits small products; the "indirect" path copies, pads and transposes the
 * operands into temporary buffers first, so that its kernel (Xgemm) can run without bounds
 * checks on large tiles. A routine-level size decides between them: a product with
 * m * n * k >= XGEMM_MIN_INDIRECT_SIZE^3 takes the indirect path. CLBlast ships parameters per
 * known device and generic ones for the rest; CLBlastOverrideParameters replaces them at run
 * time. The parameters live in CLBlast for the whole process, per OpenCL device: every bt_device
 * of the process that shares the cl_device_id uses the last parameters applied to it.
 *
 * Stored parameters: bt_device_create (with bt_device_opts.apply_gemm_tuning, the default) looks
 * for the device's file in bt_device_opts.gemm_tuning_dir, else $XDG_DATA_HOME/batchtune, else
 * $HOME/.local/share/batchtune, and applies it when it matches the device. The file format is
 * described at bt_gemm_tuning_save(). What happened is readable with
 * bt_device_gemm_tuning_status(); the library never prints.
 */
#ifndef BATCHTUNE_GEMM_TUNING_H
#define BATCHTUNE_GEMM_TUNING_H

#include "batchtune.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Measured peak
 * ------------------------------------------------------------------------------------------- */

typedef struct bt_device_peak {
    /* Single-precision FLOP/s of independent fused multiply-add chains (cl/peak.cl), an FMA
     * counting 2 FLOPs, in units of 1e9: the most any GEMM kernel can reach on the device. */
    double fma_gflops;
    /* Bytes read plus bytes written per second by a kernel copying a large buffer
     * (cl/bandwidth.cl), in units of 1e9. */
    double copy_gbps;
    /* Microseconds per launch of a one-work-item kernel, launches enqueued back to back (host
     * clock): the fixed cost of each kernel of a training step. */
    double launch_us;
} bt_device_peak;

/* Measures the first two figures with the device's profiling events (device time, best of
 * several runs), the launch cost with the host's clock. Takes about a second, plus a kernel build
 * on the first call (cached on disk). */
BT_API bt_status bt_device_measure_peak(bt_device *device, bt_device_peak *out);

/* ---------------------------------------------------------------------------------------------
 * CLBlast GEMM kernel parameters
 *
 * Names and meanings are CLBlast's (src/kernels/level3/ of CLBlast): WGD is the direct kernel's
 * square tile, MDIMCD x NDIMCD its work-group, MDIMAD / NDIMBD how the work-group is reshaped to
 * load A / B, KWID the unroll factor, VWMD / VWND vector widths, PADA / PADB local-memory
 * padding. For the indirect kernel MWG x NWG x KWG is the work-group tile, MDIMC x NDIMC the
 * work-group, MDIMA / NDIMB the loading shapes, KWI the unroll factor, VWM / VWN vector widths,
 * STRM / STRN strided access, SA / SB caching in local memory, GEMMK and KREG the kernel variant
 * (0: the default tiled kernel) and its register tiling.
 * ------------------------------------------------------------------------------------------- */

#define BT_GEMM_DIRECT_PARAM_LIST(X)                                                           \
    X(KWID) X(MDIMAD) X(MDIMCD) X(NDIMBD) X(NDIMCD) X(PADA) X(PADB) X(VWMD) X(VWND) X(WGD)
#define BT_GEMM_INDIRECT_PARAM_LIST(X)                                                         \
    X(GEMMK) X(KREG) X(KWG) X(KWI) X(MDIMA) X(MDIMC) X(MWG) X(NDIMB) X(NDIMC) X(NWG) X(SA)     \
    X(SB) X(STRM) X(STRN) X(VWM) X(VWN)

/* Indices into bt_gemm_params.direct (BT_GEMM_DIRECT_WGD, ...) and .indirect
 * (BT_GEMM_INDIRECT_MWG, ...). */
typedef enum bt_gemm_direct_param {
#define BT_GEMM_DIRECT_ENUM_(name) BT_GEMM_DIRECT_##name,
    BT_GEMM_DIRECT_PARAM_LIST(BT_GEMM_DIRECT_ENUM_)
#undef BT_GEMM_DIRECT_ENUM_
        BT_GEMM_DIRECT_COUNT
} bt_gemm_direct_param;

typedef enum bt_gemm_indirect_param {
#define BT_GEMM_INDIRECT_ENUM_(name) BT_GEMM_INDIRECT_##name,
    BT_GEMM_INDIRECT_PARAM_LIST(BT_GEMM_INDIRECT_ENUM_)
#undef BT_GEMM_INDIRECT_ENUM_
        BT_GEMM_INDIRECT_COUNT
} bt_gemm_indirect_param;

/* "WGD", "MWG", ...; NULL for an index out of range. */
BT_API const char *bt_gemm_direct_param_name(unsigned index);
BT_API const char *bt_gemm_indirect_param_name(unsigned index);

/* Which engine computes one product of a training step (bt_engine): `batchtune tune-gemm`
 * times training steps with our fused kernels and with CLBlast and stores the faster per shape.
 * The shape is the GEMM as bt_network_step_shapes() gives it (transposes, m, n, k), which
 * identifies the product: forward N T, input gradient N N, weight update T N. */
typedef struct bt_engine_choice {
    bt_gemm_shape shape;
    bt_engine engine; /* BT_ENGINE_FUSED or BT_ENGINE_CLBLAST */
} bt_engine_choice;

#define BT_GEMM_MAX_ENGINE_CHOICES 128

/* One set of single-precision GEMM parameters. Each of the three kernel parts is either given
 * or left to CLBlast (its built-in parameters for the device); the engine choices, when given,
 * replace the device's table of measured choices (an empty given table clears it). */
typedef struct bt_gemm_params {
    bool has_direct;
    unsigned direct[BT_GEMM_DIRECT_COUNT]; /* XgemmDirect, when has_direct */
    bool has_indirect;
    unsigned indirect[BT_GEMM_INDIRECT_COUNT]; /* Xgemm, when has_indirect */
    bool has_min_indirect_size;
    /* GemmRoutine's XGEMM_MIN_INDIRECT_SIZE: a product with m * n * k >= this^3 takes the
     * indirect path, when has_min_indirect_size. */
    unsigned min_indirect_size;
    /* Engine choices given (loading a file: it has engine lines); applying replaces the
     * device's table with engines[0 .. n_engines). */
    bool has_engines;
    size_t n_engines; /* 0 .. BT_GEMM_MAX_ENGINE_CHOICES, each shape once */
    bt_engine_choice engines[BT_GEMM_MAX_ENGINE_CHOICES];
} bt_gemm_params;

/* Checks the given parts against the kernels' requirements (the divisibility rules of CLBlast's
 * tuner, values in range) and, when device is not NULL, against its work-group size and local
 * memory. BT_ERR_INVALID_ARGUMENT names the first rule broken. A set that passes can still fail
 * to compile or compute wrongly on some driver: bt_gemm_tune() checks every result. */
BT_API bt_status bt_gemm_params_check(const bt_device *device, const bt_gemm_params *params);

/* "XgemmDirect WGD=32 MDIMCD=8 ...; Xgemm MWG=64 ...; XGEMM_MIN_INDIRECT_SIZE=384", with
 * "default" for the parts left to CLBlast; cut to fit `size`. Returns buf. */
BT_API const char *bt_gemm_params_format(const bt_gemm_params *params, char *buf, size_t size);

/* Give the parts that params has to CLBlast for this device (see the process-wide note above);
 * parts it lacks keep whatever CLBlast has now. The next GEMM compiles CLBlast's kernels with
 * them (seconds; the driver may cache the binary). Fails with BT_ERR_INVALID_ARGUMENT if
 * bt_gemm_params_check() fails, BT_ERR_CLBLAST if CLBlast refuses them. */
BT_API bt_status bt_device_apply_gemm_params(bt_device *device, const bt_gemm_params *params);

/* The parts this device has applied through batchtune since it was opened (has_* false: never
 * overridden through this handle). */
BT_API void bt_device_get_gemm_params(const bt_device *device, bt_gemm_params *out);

/* The engine stored for this product shape on this device (applied from its GEMM-tuning file
 * or by bt_device_apply_gemm_params), BT_ENGINE_AUTO when none is: networks with engine
 * BT_ENGINE_AUTO then use their rule. */
BT_API bt_engine bt_device_engine_choice(const bt_device *device, const bt_gemm_shape *shape);

typedef enum bt_gemm_tuning_state {
    BT_GEMM_TUNING_DISABLED,  /* opened with apply_gemm_tuning = false */
    BT_GEMM_TUNING_NOT_FOUND, /* no file for this device */
    BT_GEMM_TUNING_APPLIED,   /* the stored parameters are in use */
    BT_GEMM_TUNING_IGNORED,   /* a file exists but is corrupt, for another device or stale */
} bt_gemm_tuning_state;

/* What opening the device did about stored parameters, and a line for the user: "applied from
 * FILE", "none stored (FILE)", "ignored FILE: REASON", "disabled". Never NULL; owned by the
 * device. A tool prints the IGNORED case as a warning. */
BT_API bt_gemm_tuning_state bt_device_gemm_tuning_state(const bt_device *device);
BT_API const char *bt_device_gemm_tuning_status(const bt_device *device);

/* ---------------------------------------------------------------------------------------------
 * Storage
 * ------------------------------------------------------------------------------------------- */

/* The default folder: $XDG_DATA_HOME/batchtune, else $HOME/.local/share/batchtune. BT_ERR_IO if
 * neither variable is set, BT_ERR_INVALID_ARGUMENT if buf is too small. */
BT_API bt_status bt_gemm_tuning_default_dir(char *buf, size_t size);

/* The device's file in `dir` (NULL: the default folder):
 * DIR/gemm-tuning/<platform>--<device>.txt, names reduced to [A-Za-z0-9._-]. */
BT_API bt_status bt_gemm_tuning_path(const bt_device *device, const char *dir, char *buf,
                                     size_t size);

/* Write params for this device to `path`, creating its folder; the file is written under a
 * temporary name and renamed, so a reader never sees half of it. `note` (may be NULL) is kept
 * as comment lines.
 *
 * Format: UTF-8 text, one `key=value` per line; lines starting with '#' are comments.
 *   format=batchtune-gemm-tuning 2     (files of format 1, without engine lines, are read too)
 *   platform=<CL_PLATFORM_NAME>        \
 *   device=<CL_DEVICE_NAME>             | the key: the file applies only to a device and
 *   driver=<CL_DRIVER_VERSION>          | CLBlast that match all four exactly
 *   clblast=<major.minor.patch>        /
 *   XgemmDirect=default | XgemmDirect.<NAME>=<value> for each direct parameter
 *   Xgemm=default | Xgemm.<NAME>=<value> for each indirect parameter
 *   GemmRoutine=default | GemmRoutine.XGEMM_MIN_INDIRECT_SIZE=<value>
 *   engine.<N|T><N|T>.<m>x<n>x<k>=fused|clblast, zero or more, each shape once (the measured
 *                                   engine choices; none: the device has no stored choice)
 *   crc32=<8 hex digits: CRC-32 of every byte before this line>
 * Keys appear in this order, each once; values are decimal. */
BT_API bt_status bt_gemm_tuning_save(const bt_device *device, const bt_gemm_params *params,
                                     const char *note, const char *path);

/* Read and check a file written by bt_gemm_tuning_save for this device. BT_ERR_IO: missing or
 * unreadable. BT_ERR_FORMAT: corrupt (bad syntax, checksum, missing or repeated key, a value
 * out of range or breaking bt_gemm_params_check). BT_ERR_UNSUPPORTED: well-formed but for
 * another platform or device (foreign) or another driver or CLBlast version (stale). The
 * message says which. */
BT_API bt_status bt_gemm_tuning_load(const bt_device *device, const char *path,
                                     bt_gemm_params *out);

/* ---------------------------------------------------------------------------------------------
 * Search
 * ------------------------------------------------------------------------------------------- */

#define BT_GEMM_TUNE_MAX_SHAPES 128

typedef struct bt_gemm_tune_shape {
    bt_gemm_shape shape;
    /* How often the shape runs per unit of work (e.g. per training step), divided by whatever
     * normalises the units (e.g. the step's GEMM time with CLBlast's defaults, so that every
     * batch size counts alike). The search minimises sum(weight * seconds). > 0. */
    double weight;
    /* true: C <- alpha op(A) op(B) + beta C with beta != 0 (a weight update accumulating into
     * W); false: beta = 0. It changes the work of CLBlast's indirect path. */
    bool accumulate;
} bt_gemm_tune_shape;

#define BT_GEMM_TUNE_MAX_STEPS 128
#define BT_GEMM_TUNE_MAX_STEP_SHAPES 48

/* One unit of work (e.g. a training step) as a sequence of GEMMs: the search times whole
 * sequences too, because on a busy device a shape's cost among the others is not its cost alone
 * (a path with more kernel launches loses more to contention than timing it alone shows). */
typedef struct bt_gemm_tune_step {
    size_t count; /* 1 .. BT_GEMM_TUNE_MAX_STEP_SHAPES */
    /* Indices into opts.shapes, in the order the work runs them; an index may repeat. */
    size_t shapes[BT_GEMM_TUNE_MAX_STEP_SHAPES];
    /* The sequence's share of the objective: sum over steps of weight * seconds per run (e.g.
     * 1 / the step's FLOPs, so that every batch size counts alike). > 0. */
    double weight;
} bt_gemm_tune_step;

typedef struct bt_gemm_tune_progress {
    double elapsed_seconds;
    double budget_seconds;
    size_t tried;        /* candidates evaluated (defaults included) */
    size_t invalid;      /* of which CLBlast refused or computed wrongly */
    const char *stage;   /* what happens next, e.g. "XgemmDirect candidate 7" */
    double speedup;      /* objective of CLBlast's defaults / objective of the best so far */
} bt_gemm_tune_progress;

/* Called before and after each candidate; return false to stop the search (it then ends after
 * the candidate under way, keeping the best so far). */
typedef bool (*bt_gemm_tune_progress_fn)(const bt_gemm_tune_progress *progress, void *ctx);

/* Runs `runs` units of work standing for step `step` (an index into opts.steps) back to back
 * with whatever GEMM parameters are in effect, and waits until they have run: for example real
 * training steps of the network and batch size the step comes from. On failure it returns the
 * status and leaves the library's last error set (bt_fail or a failed library call).
 * BT_ERR_INTERRUPTED asks the search to stop (as a progress callback returning false does): the
 * step check ends and the search keeps what it has. */
typedef bt_status (*bt_gemm_tune_step_fn)(size_t step, size_t runs, void *ctx);

#define BT_GEMM_TUNE_MAX_SPLIT_TRIES 3

/* One split between the paths tried in the step check, with the best combination's kernels. */
typedef struct bt_gemm_tune_split_try {
    unsigned min_indirect_size;
    /* Weighted step time with CLBlast's defaults / with this split, from rounds alternating the
     * two (each try has its own rounds, so drift of the machine's speed cancels). */
    double speedup;
    /* Steps that the median of paired rounds puts more than 10% above the defaults' (less is
     * within the noise of such medians on a busy CPU device). */
    size_t slower_steps;
} bt_gemm_tune_split_try;

typedef struct bt_gemm_tune_opts {
    const bt_gemm_tune_shape *shapes;
    size_t n_shapes; /* 1 .. BT_GEMM_TUNE_MAX_SHAPES, each (transposes, m, n, k) once */
    /* Wall-clock seconds for the whole search. A new candidate starts only while it (estimated
     * as the slowest before it), the step check's first timing of the steps and the final
     * measurement (both estimated from measuring CLBlast's defaults) fit in what is left; a
     * larger split in the step check is timed only while it fits (else
     * result.n_split_tries_skipped counts it). Measuring CLBlast's defaults (and each kernel's)
     * and the first timing of the steps always run, so a budget below what they take (0: no
     * search at all) is exceeded by them, and a candidate slower than every one before it (the
     * first whose kernels are not in the driver's cache) by its difference. */
    double budget_seconds;
    uint64_t seed; /* the search's random choices and the test data */
    /* Extra candidates tried right after the defaults, e.g. the stored parameters. */
    const bt_gemm_params *start;
    size_t n_start;
    bt_gemm_tune_progress_fn progress; /* may be NULL */
    void *progress_ctx;
    /* Optional (NULL, 0: none): the sequences the shapes come from. When given, whether the
     * result beats CLBlast's defaults is decided by timing these sequences with both, not by
     * adding up per-shape times. */
    const bt_gemm_tune_step *steps;
    size_t n_steps; /* 0 .. BT_GEMM_TUNE_MAX_STEPS */
    /* Optional (NULL: the step check runs each step's GEMMs in sequence on the search's own
     * buffers): runs the steps themselves. Real training steps also run the element-wise
     * kernels, the batch assembly and the host's enqueueing around the GEMMs, which at small
     * batch sizes decide which path is faster; GEMMs in sequence do not show that. */
    bt_gemm_tune_step_fn run_step;
    void *run_step_ctx;
} bt_gemm_tune_opts;

BT_API bt_gemm_tune_opts bt_gemm_tune_opts_default(void);

typedef struct bt_gemm_tune_result {
    /* The best parameters found: the direct and indirect parts of the best combination (a part
     * whose best was CLBlast's own stays unset) and the split between the paths. All unset when
     * nothing measured beat CLBlast's defaults as they come. */
    bt_gemm_params params;
    size_t tried, invalid;
    bool stopped;  /* the progress callback asked to stop */
    /* true: params are in effect on the device now (parts left to CLBlast as CLBlast had them
     * before the search). false only if CLBlast refused them (finish_error says why). */
    bool applied;
    double elapsed_seconds;
    double default_objective; /* sum(weight * seconds) with CLBlast's defaults */
    double best_objective;    /* the same with params, measured again with params in effect */
    size_t n_shapes;          /* = opts.n_shapes; the arrays below follow opts.shapes */
    double default_seconds[BT_GEMM_TUNE_MAX_SHAPES]; /* per GEMM call, CLBlast's defaults */
    double best_seconds[BT_GEMM_TUNE_MAX_SHAPES];    /* per GEMM call, with params */
    bool best_direct[BT_GEMM_TUNE_MAX_SHAPES];       /* the path the shape takes with params */
    /* Per shape, the fastest time any measured candidate (CLBlast's defaults included) gave it.
     * CLBlast keeps one parameter set per kernel and device, so params trade shapes against
     * each other; this is what the best measured set for the shape alone reached. */
    double fastest_seconds[BT_GEMM_TUNE_MAX_SHAPES];
    /* Per call of a 1 x 1 x 1 GEMM with CLBlast's defaults, calls enqueued back to back, or of
     * any shape measured faster: the fixed cost of a call (CLBlast's and the driver's host
     * work, one kernel launch) that no kernel parameters remove. No shape can run faster than
     * this or than its FLOPs at the device's peak. */
    double call_floor_seconds;
    char last_rejection[512]; /* why the last invalid candidate was skipped; "" if none */
    /* What failed after the search, "" if nothing: the step timing (the per-shape choice then
     * stands) or putting the result in effect (applied is false). */
    char finish_error[512];
    /* With opts.steps: per step, seconds of one run (opts.run_step's work, else the step's
     * GEMMs in sequence) with CLBlast's defaults (the median of the rounds) and with the result
     * (that over the median of the rounds' ratios; each round times both configurations twice,
     * A B B A), timed after the search; the objectives are sum(weight * seconds) over the steps.
     * The combination is the result (params) only if its objective is at least 1% below the
     * defaults'; else params are all unset. */
    /* opts.n_steps; 0 when the step check did not run: no steps given, the search stopped, or
     * the timing failed (finish_error). */
    size_t n_steps;
    double default_step_seconds[BT_GEMM_TUNE_MAX_STEPS];
    double best_step_seconds[BT_GEMM_TUNE_MAX_STEPS];
    double default_step_objective, best_step_objective;
    /* The splits the step check timed: first the one the per-shape figures chose, then, if some
     * step was slower than with the defaults, larger ones that send that step's shapes to the
     * direct path. The result's split is the try with the fewest slower steps, then the
     * largest speedup. */
    size_t n_split_tries;
    bt_gemm_tune_split_try split_tries[BT_GEMM_TUNE_MAX_SPLIT_TRIES];
    /* Larger splits the step check would have timed but left out because they would have
     * ended past opts.budget_seconds (never with a budget of 0). */
    size_t n_split_tries_skipped;
} bt_gemm_tune_result;

/* Search CLBlast's GEMM parameters for the device on the given shapes. Measures CLBlast's
 * defaults first (the device must not have applied parameters: open it with
 * apply_gemm_tuning = false), then tries candidates for the direct kernel (every shape forced
 * onto the direct path) and the indirect kernel (every shape forced onto the indirect path) in
 * turn, starting from opts.start and typical configurations and moving to neighbours of the best
 * so far. Every candidate's result on every shape is compared with a double-precision reference
 * on random data before it is timed; a candidate that CLBlast refuses or that computes wrongly is
 * skipped. The result combines the best direct and indirect parameters with the split size that
 * gives the smallest objective. With opts.steps, that combination and CLBlast's defaults are
 * then timed on the steps, in alternation; if a step is more than 10% slower with it, up to two
 * larger splits that send that step's smallest indirect shapes to the direct path are timed too
 * (each is a new program for CLBlast: one more compilation). The split that slows the fewest
 * steps, then the fastest, is kept, and the combination only if it is at least 1% faster on the
 * steps than the defaults. Returns BT_OK with the best found also when stopped or out of budget;
 * fails only if the defaults themselves cannot be measured. */
BT_API bt_status bt_gemm_tune(bt_device *device, const bt_gemm_tune_opts *opts,
                              bt_gemm_tune_result *out);

/* ---------------------------------------------------------------------------------------------
 * Engine choice: our fused kernels or CLBlast, per product shape, by timing training steps
 * ------------------------------------------------------------------------------------------- */

typedef struct bt_engine_tune_opts {
    /* The products (each shape once) and the steps made of them, as for bt_gemm_tune; weights
     * and accumulate are not used. */
    const bt_gemm_tune_shape *shapes;
    size_t n_shapes; /* 1 .. BT_GEMM_MAX_ENGINE_CHOICES */
    const bt_gemm_tune_step *steps;
    size_t n_steps; /* 1 .. BT_GEMM_TUNE_MAX_STEPS */
    /* Runs real training steps of networks opened with engine BT_ENGINE_AUTO on this device, so
     * that they follow the device's engine table, which the search changes between timings. */
    bt_gemm_tune_step_fn run_step;
    void *run_step_ctx;
    /* Seconds for the refinement: each step's first comparison (all its products on our kernels
     * against all on CLBlast) always runs; a per-product comparison starts only while it fits
     * (estimated from the step's first). */
    double budget_seconds;
    /* Called before each comparison (NULL: none); returning false stops the search, which then
     * keeps what it has decided. */
    bt_gemm_tune_progress_fn progress;
    void *progress_ctx;
} bt_engine_tune_opts;

typedef struct bt_engine_tune_result {
    /* One choice per shape that a finished comparison decided (every shape of opts.shapes
     * unless stopped): the table now in effect on the device, ready to store with
     * bt_gemm_tuning_save as part of a bt_gemm_params. */
    size_t n_engines;
    bt_engine_choice engines[BT_GEMM_MAX_ENGINE_CHOICES];
    /* Per step, seconds of one run with every product on our kernels, on CLBlast, and with the
     * choices (medians of rounds that time two configurations in alternation, A B B A); 0 for
     * a step not measured. */
    size_t n_steps;
    double fused_seconds[BT_GEMM_TUNE_MAX_STEPS];
    double clblast_seconds[BT_GEMM_TUNE_MAX_STEPS];
    double chosen_seconds[BT_GEMM_TUNE_MAX_STEPS];
    size_t comparisons;         /* timed */
    size_t comparisons_skipped; /* per-product comparisons left out for the budget */
    bool stopped;               /* the progress callback or run_step asked to stop */
    double elapsed_seconds;
} bt_engine_tune_result;

/* Decides, per product shape, whether our fused kernels or CLBlast (with the GEMM parameters in
 * effect) runs it, by timing opts.run_step: for each step, every still-undecided product on our
 * kernels against every one on CLBlast, then each of them switched alone to the other engine,
 * kept if the step is at least 3% faster so. A shape shared by several steps is decided by the
 * first. The device's engine table holds the result afterwards (also when stopped); the GEMM
 * parameters are not touched. Fails when a step fails to run (the table then holds what was
 * decided before). */
BT_API bt_status bt_engine_tune(bt_device *device, const bt_engine_tune_opts *opts,
                                bt_engine_tune_result *out);

#ifdef __cplusplus
}
#endif

#endif /* BATCHTUNE_GEMM_TUNING_H */
