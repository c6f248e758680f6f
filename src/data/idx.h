/* Internal: the IDX file format (http://yann.lecun.com/exdb/mnist/), as used by MNIST and
 * Fashion-MNIST. Only unsigned-byte data (type 0x08) of 1 to 3 dimensions is accepted.
 *
 * Layout: two zero bytes, the type byte, the number of dimensions, then each dimension as a
 * big-endian uint32, then the data. */
#ifndef BT_IDX_H
#define BT_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "batchtune.h"

#define BT_IDX_MAX_DIMS 3

typedef struct bt_idx {
    unsigned ndims;
    uint32_t dims[BT_IDX_MAX_DIMS];
    size_t count;         /* product of the dimensions: the number of data bytes */
    const uint8_t *data;  /* points into the buffer given to bt_idx_parse */
} bt_idx;

/* Parse an IDX file held in memory. `what` names the file in error messages. Every field of the
 * header is validated against `len`; data past the declared size is an error too. Never reads
 * outside buf[0..len). */
bt_status bt_idx_parse(const uint8_t *buf, size_t len, const char *what, bt_idx *out);

/* Read a whole file, transparently decompressing gzip, into a malloc'ed buffer. The buffer grows
 * with the data actually read, so a lying header cannot cause a giant allocation; more than
 * `max_bytes` of (decompressed) data is an error, and so is a valid IDX header that declares more,
 * found as soon as the header is read. Bytes after the last gzip member are an error, as trailing
 * bytes after a raw file's data are for bt_idx_parse. The caller frees *buf. */
bt_status bt_idx_read_file(const char *path, size_t max_bytes, uint8_t **buf, size_t *len);

#endif
