/* The GEMM search when an interrupt arrives while the driver compiles a candidate's kernels
 * (issue 16, case 5): PoCL's compiler deletes its outputs on SIGINT and passes the signal on, so
 * the candidate's first GEMM fails as a build failure and the caller's progress callback then asks
 * to stop. That failure is the interruption: the candidate is neither counted as tried nor as
 * invalid, and its error is not reported as the last rejection.
 *
 * No candidate that passes bt_gemm_params_check was found to fail on PoCL of its own accord (a
 * work-group of 4096 ran; local memory at the device's 2 MiB crashed PoCL 3.1 instead), and a real
 * SIGINT during a compile lands there only sometimes. So this executable is linked with
 * -Wl,--wrap=bt_gemm_trial_check: the search's calls of the check come here, and the first check
 * after the start point's stage was reported plays the interrupted compile, failing the way
 * CLBlast does and raising the flag the progress callback answers. The library has no test-only
 * code for it. */
#define _POSIX_C_SOURCE 200809L
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchtune_gemm_tuning.h"
#include "common/error.h"
#include "gemm/tuning/gemm_search_impl.h"

/* What the interrupt would have done: set by the wrapped check, read by the progress callback. */
static struct {
    bool arm;           /* the next check is the candidate's: its compile gets interrupted */
    int interrupted;    /* checks failed as interrupted compiles */
    int stop_answers;   /* progress reports answered with "stop" */
} sim;

bt_status __real_bt_gemm_trial_check(bt_device *device, bt_gemm_trial *trial);
bt_status __wrap_bt_gemm_trial_check(bt_device *device, bt_gemm_trial *trial);

bt_status __wrap_bt_gemm_trial_check(bt_device *device, bt_gemm_trial *trial)
{
    if (!sim.arm)
        return __real_bt_gemm_trial_check(device, trial);
    sim.arm = false;
    ++sim.interrupted;
    return bt_fail(BT_ERR_CLBLAST, "CLBlastSgemm on the candidate failed: "
                                   "CLBlastBuildProgramFailure (-11), interrupted compile");
}

/* The tool's callback: go on until an interrupt came. The start point's stage arms the
 * simulated interrupt for that candidate's compile. */
static bool progress(const bt_gemm_tune_progress *p, void *ctx)
{
    (void)ctx;
    if (sim.interrupted) {
        ++sim.stop_answers;
        return false;
    }
    if (p->stage && strstr(p->stage, "the given start point"))
        sim.arm = true;
    return true;
}

/* Valid Xgemm values unlike CLBlast's defaults for any device (those of test_gemm_tuning). */
static bt_gemm_params start_point(void)
{
    bt_gemm_params p;
    memset(&p, 0, sizeof p);
    p.has_indirect = true;
    p.indirect[BT_GEMM_INDIRECT_GEMMK] = 0;
    p.indirect[BT_GEMM_INDIRECT_KREG] = 1;
    p.indirect[BT_GEMM_INDIRECT_MWG] = 32;
    p.indirect[BT_GEMM_INDIRECT_NWG] = 16;
    p.indirect[BT_GEMM_INDIRECT_KWG] = 16;
    p.indirect[BT_GEMM_INDIRECT_MDIMC] = 8;
    p.indirect[BT_GEMM_INDIRECT_NDIMC] = 4;
    p.indirect[BT_GEMM_INDIRECT_MDIMA] = 4;
    p.indirect[BT_GEMM_INDIRECT_NDIMB] = 4;
    p.indirect[BT_GEMM_INDIRECT_KWI] = 4;
    p.indirect[BT_GEMM_INDIRECT_VWM] = 2;
    p.indirect[BT_GEMM_INDIRECT_VWN] = 4;
    p.indirect[BT_GEMM_INDIRECT_STRM] = 1;
    p.indirect[BT_GEMM_INDIRECT_SA] = 1;
    return p;
}

static void test_failure_after_interrupt_is_no_invalid_candidate(void **state)
{
    (void)state;
    bt_device_opts dopts = bt_device_opts_default();
    dopts.apply_gemm_tuning = false;
    bt_device *device = NULL;
    BT_ASSERT_OK(bt_device_create(&dopts, &device));
    bt_gemm_tune_shape shape;
    memset(&shape, 0, sizeof shape);
    shape.shape = (bt_gemm_shape){BT_NO_TRANS, BT_NO_TRANS, 8, 16, 32};
    shape.weight = 1.0;
    bt_gemm_params start = start_point();
    bt_gemm_tune_opts opts = bt_gemm_tune_opts_default();
    opts.shapes = &shape;
    opts.n_shapes = 1;
    opts.start = &start;
    opts.n_start = 1;
    /* Room for the start point; the interrupt ends the search there. */
    opts.budget_seconds = 600.0;
    opts.progress = progress;
    bt_gemm_tune_result *r = calloc(1, sizeof *r);
    assert_non_null(r);
    BT_ASSERT_OK(bt_gemm_tune(device, &opts, r));
    assert_int_equal(sim.interrupted, 1); /* the start point's compile, and nothing after it */
    assert_true(sim.stop_answers >= 1);
    assert_true(r->stopped);
    assert_int_equal(r->invalid, 0);
    assert_string_equal(r->last_rejection, "");
    assert_int_equal(r->tried, 3); /* CLBlast's defaults and each kernel's on one path */
    free(r);
    bt_device_destroy(device);
}

int main(void)
{
    bt_test_require_opencl();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failure_after_interrupt_is_no_invalid_candidate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
