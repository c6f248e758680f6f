/* Internal: the parameter-file reader without a device, for the loader and the fuzz target. */
#ifndef BT_PARAMS_FILE_H
#define BT_PARAMS_FILE_H

#include <stddef.h>

#include "batchtune.h"

/* Reads the parameter file at `path` and checks it entirely (header, declared sizes against the
 * file size, checksum, finite parameters) without creating a network: *opts receives the network
 * it describes (with `max_batch`), *params a malloc'ed array of *count parameters that the caller
 * frees. Nothing is written to the outputs on failure. */
bt_status bt_params_file_read(const char *path, size_t max_batch, bt_network_opts *opts,
                              float **params, size_t *count);

#endif
