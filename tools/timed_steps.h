/* Training steps for timing runs (bench, tune-gemm): random training data, since a step's cost
 * does not depend on the values, and the options of the networks and schedulers that run them. */
#ifndef BT_TIMED_STEPS_H
#define BT_TIMED_STEPS_H

#include <stddef.h>

#include "batchtune.h"

/* The synthetic dataset has at least this many examples (more if a batch is larger). */
#define BT_TIMED_STEPS_MIN_EXAMPLES 4096

/* max(BT_TIMED_STEPS_MIN_EXAMPLES, the largest batch size) examples for `net`: its input size
 * of random bytes each, labels drawn from min(its output size, 256) classes (a label is a
 * byte), as a host dataset (*dataset) and resident on the device (*data); *examples gets the
 * count. The same values on every call. The caller destroys both; on failure neither is left. */
bt_status bt_synthetic_data_create(bt_device *device, const bt_network_opts *net,
                                   const size_t *batch_sizes, size_t n_batch_sizes,
                                   bt_dataset **dataset, bt_device_data **data,
                                   size_t *examples);

/* For timing steps of exactly m examples: *net gets max_batch m and a fixed seed; *sched is the
 * scheduler's defaults with batch size m, a fixed seed, no partial last batch and a small
 * learning rate, so that nothing diverges however many steps run. */
void bt_timed_step_opts(size_t m, bt_network_opts *net, bt_scheduler_opts *sched);

#endif
