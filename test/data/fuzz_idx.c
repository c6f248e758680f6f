/* libFuzzer target for the IDX parser: any input must either parse into a header that exactly
 * describes the bytes that follow it, or fail with a message, and never read out of bounds.
 *
 *   fuzz_idx -max_len=4096 corpus/    (seed with small valid 1- and 3-dimensional files) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The invariants a successful parse promises; a violation is a crash for libFuzzer to keep. */
static void check_parsed(const uint8_t *data, size_t size, const bt_idx *idx)
{
    if (idx->ndims < 1 || idx->ndims > BT_IDX_MAX_DIMS)
        abort();
    size_t product = 1;
    for (unsigned i = 0; i < idx->ndims; ++i) {
        if (idx->dims[i] == 0)
            abort();
        product *= idx->dims[i];
    }
    if (product != idx->count)
        abort();
    size_t header = 4 + 4 * (size_t)idx->ndims;
    if (idx->data != data + header || header + idx->count != size)
        abort();
    /* Touch every data byte so that the sanitizer sees any read past the input. */
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < idx->count; ++i)
        sum = (uint8_t)(sum + idx->data[i]);
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bt_idx idx;
    bt_status status = bt_idx_parse(data, size, "fuzz.idx", &idx);
    if (status == BT_OK) {
        check_parsed(data, size, &idx);
    } else if (status != BT_ERR_FORMAT || strncmp(bt_last_error(), "fuzz.idx: ", 10) != 0) {
        /* Malformed bytes are a format error whose message starts with the file name. */
        abort();
    }
    return 0;
}
