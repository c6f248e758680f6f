/* Parameter files: saving a network's shape and parameters, and loading them onto a device.
 * Written against the public API only (options, parameter count, get/set parameters).
 *
 * Byte layout, every integer and float little-endian, no padding:
 *
 *   offset  size            field
 *   0       8               magic "BTNET\0\0\0"
 *   8       4  u32          format version, 1
 *   12      4  u32          n_sizes, 2 .. BT_MAX_LAYERS + 1 (layers + 1: the input counts)
 *   16      4  u32          hidden activation (bt_activation)
 *   20      4  u32          output activation (bt_activation)
 *   24      4  u32          cost (bt_cost)
 *   28      4  u32          init (bt_init); informational: the parameters below replace it
 *   32      8  u64          param_count, the sum over layers of n_l * n_{l-1} + n_l
 *   40      8 * n_sizes     u64 layer sizes, input first, each 1 .. 2^24
 *   ...     4 * param_count float32 parameters in the parameter layout of bt_network_get_params:
 *                           for l = 1..L, W_l (n_l x n_{l-1}, row-major) then b_l (n_l)
 *   ...     4  u32          CRC-32 (zlib's crc32) of every byte before it
 *
 * The file size is therefore exactly 40 + 8 * n_sizes + 4 * param_count + 4. The seed and
 * max_batch are not stored: the parameters replace the initialisation, and the batch size is the
 * loader's choice.
 *
 * Saving writes "<path>.tmp.<pid>.<n>", flushes it to disk and renames it over <path>, so a
 * reader sees the old file or the new one, never half of one. Loading checks the header, the
 * declared sizes against the real file size (before allocating anything they imply), the
 * checksum (in a first pass with a small buffer, so that a damaged file never costs its size in
 * memory), and that every parameter is finite.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/atomic_file.h"
#include "common/regular_file.h"
#include "common/byte_order.h"
#include "common/checksum.h"
#include "batchtune.h"
#include "common/error.h"
#include "train/params_file.h"

#define PF_MAGIC "BTNET\0\0\0"
#define PF_MAGIC_BYTES 8u
#define PF_VERSION 1u
#define PF_HEADER_BYTES 40u /* magic through param_count */
#define PF_SIZE_BYTES 8u
#define PF_CRC_BYTES 4u
#define PF_MAX_UNITS ((uint64_t)1 << 24)
#define PF_MIN_SIZES 2u
#define PF_MAX_SIZES ((uint32_t)BT_MAX_LAYERS + 1u)

/* Parameters are converted and written in chunks of this many floats. */
#define PF_CHUNK_FLOATS 4096u

/* ----- saving ----- */

typedef struct pf_writer {
    bt_atomic_file out; /* out.path: the destination; out.tmp_path: the file actually written */
    uint32_t crc;
} pf_writer;

static bt_status writer_put(pf_writer *w, const uint8_t *data, size_t len, bool checksummed)
{
    if (len > 0 && fwrite(data, 1, len, w->out.file) != len)
        return bt_fail(BT_ERR_IO, "%s: cannot write %s: %s", w->out.path, w->out.tmp_path,
                       strerror(errno));
    if (checksummed)
        w->crc = bt_crc32_update(w->crc, data, len);
    return BT_OK;
}

static bt_status write_header(pf_writer *w, const bt_network_opts *opts, size_t param_count)
{
    uint8_t header[PF_HEADER_BYTES + PF_SIZE_BYTES * (BT_MAX_LAYERS + 1)];
    memcpy(header, PF_MAGIC, PF_MAGIC_BYTES);
    bt_put_u32(header + 8, PF_VERSION);
    bt_put_u32(header + 12, (uint32_t)opts->n_sizes);
    bt_put_u32(header + 16, (uint32_t)opts->hidden);
    bt_put_u32(header + 20, (uint32_t)opts->output);
    bt_put_u32(header + 24, (uint32_t)opts->cost);
    bt_put_u32(header + 28, (uint32_t)opts->init);
    bt_put_u64(header + 32, (uint64_t)param_count);
    for (size_t i = 0; i < opts->n_sizes; ++i)
        bt_put_u64(header + PF_HEADER_BYTES + PF_SIZE_BYTES * i, (uint64_t)opts->sizes[i]);
    return writer_put(w, header, PF_HEADER_BYTES + PF_SIZE_BYTES * opts->n_sizes, true);
}

static bt_status write_params(pf_writer *w, const float *params, size_t count)
{
    uint8_t chunk[4 * PF_CHUNK_FLOATS];
    for (size_t first = 0; first < count; first += PF_CHUNK_FLOATS) {
        size_t n = count - first < PF_CHUNK_FLOATS ? count - first : PF_CHUNK_FLOATS;
        for (size_t i = 0; i < n; ++i) {
            uint32_t bits;
            memcpy(&bits, &params[first + i], sizeof bits);
            bt_put_u32(chunk + 4 * i, bits);
        }
        BT_TRY(writer_put(w, chunk, 4 * n, true));
    }
    return BT_OK;
}

/* The whole file, on disk under its name; the temporary file removed on failure. */
static bt_status write_file(pf_writer *w, const bt_network_opts *opts, const float *params,
                            size_t count)
{
    bt_status status = write_header(w, opts, count);
    if (status == BT_OK)
        status = write_params(w, params, count);
    if (status == BT_OK) {
        uint8_t crc[PF_CRC_BYTES];
        bt_put_u32(crc, w->crc);
        status = writer_put(w, crc, sizeof crc, false);
    }
    if (status != BT_OK) {
        bt_atomic_file_abort(&w->out);
        return status;
    }
    const char *path = w->out.path, *tmp_path = w->out.tmp_path;
    switch (bt_atomic_file_commit(&w->out, true)) {
    case BT_ATOMIC_OK:
        return BT_OK;
    case BT_ATOMIC_SYNC:
        return bt_fail(BT_ERR_IO, "%s: cannot flush %s to disk: %s", path, tmp_path,
                       strerror(errno));
    case BT_ATOMIC_CLOSE:
        return bt_fail(BT_ERR_IO, "%s: cannot close %s: %s", path, tmp_path, strerror(errno));
    case BT_ATOMIC_RENAME:
        return bt_fail(BT_ERR_IO, "%s: cannot rename %s to it: %s", path, tmp_path,
                       strerror(errno));
    default:
        return bt_fail(BT_ERR_IO, "%s: cannot write %s: %s", path, tmp_path, strerror(errno));
    }
}

static bt_status check_savable(const bt_network_opts *opts, size_t count)
{
    if (opts->n_sizes < PF_MIN_SIZES || opts->n_sizes > PF_MAX_SIZES)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_save: the network has %zu layer sizes",
                       opts->n_sizes);
    for (size_t i = 0; i < opts->n_sizes; ++i)
        if (opts->sizes[i] == 0 || (uint64_t)opts->sizes[i] > PF_MAX_UNITS)
            return bt_fail(BT_ERR_UNSUPPORTED,
                           "bt_network_save: layer size %zu of the network is %zu; parameter "
                           "files hold 1 to %llu units per layer",
                           i + 1, opts->sizes[i], (unsigned long long)PF_MAX_UNITS);
    if (count == 0 || count > SIZE_MAX / sizeof(float))
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_save: bad parameter count %zu", count);
    return BT_OK;
}

bt_status bt_network_save(const bt_network *network, const char *path)
{
    if (!network || !path || !*path)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_save: %s is NULL or empty",
                       !network ? "network" : "path");
    const bt_network_opts *opts = bt_network_get_opts(network);
    size_t count = bt_network_param_count(network);
    BT_TRY(check_savable(opts, count));

    float *params = malloc(count * sizeof *params);
    if (!params)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "%s: cannot allocate %zu parameters to save",
                       path, count);
    bt_status status = bt_network_get_params(network, params, count);
    if (status != BT_OK) {
        free(params);
        return status;
    }

    pf_writer w = {.crc = BT_CRC32_INIT};
    switch (bt_atomic_file_open(&w.out, path)) {
    case BT_ATOMIC_OK:
        status = write_file(&w, opts, params, count);
        break;
    case BT_ATOMIC_NO_MEMORY:
        status = bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "%s: cannot allocate a path", path);
        break;
    default:
        status = bt_fail(BT_ERR_IO, "%s: cannot create %s: %s", path, w.out.tmp_path,
                         strerror(errno));
        break;
    }
    bt_atomic_file_release(&w.out);
    free(params);
    return status;
}

/* ----- loading ----- */

/* The fixed header, decoded but not yet trusted. */
typedef struct pf_header {
    uint32_t version, n_sizes, hidden, output, cost, init;
    uint64_t param_count;
    uint64_t sizes[PF_MAX_SIZES];
} pf_header;

static bt_status read_exact(FILE *f, const char *path, void *dst, size_t len, const char *what)
{
    if (len > 0 && fread(dst, 1, len, f) != len) {
        if (ferror(f))
            return bt_fail(BT_ERR_IO, "%s: cannot read %s: %s", path, what, strerror(errno));
        return bt_fail(BT_ERR_FORMAT, "%s: truncated while reading %s (did the file change "
                                      "while it was read?)",
                       path, what);
    }
    return BT_OK;
}

/* Opens a regular file and reports its size; a FIFO or device is refused without blocking. */
static bt_status open_file(const char *path, FILE **out, uint64_t *size)
{
    switch (bt_regular_file_fopen(path, out, size)) {
    case BT_REGULAR_OK:
        return BT_OK;
    case BT_REGULAR_OPEN:
        return bt_fail(BT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    case BT_REGULAR_NOT_REGULAR:
        return bt_fail(BT_ERR_IO, "%s: not a regular file, expected a batchtune parameter file",
                       path);
    case BT_REGULAR_STAT:
        return bt_fail(BT_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    case BT_REGULAR_FDOPEN:
    default:
        return bt_fail(BT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
}

/* The first 40 bytes: magic, version, counts, enum values. */
static bt_status read_fixed_header(FILE *f, const char *path, uint64_t file_size, uint8_t *raw,
                                   pf_header *h)
{
    if (file_size == 0)
        return bt_fail(BT_ERR_FORMAT, "%s: the file is empty, not a batchtune parameter file",
                       path);
    if (file_size < PF_MAGIC_BYTES)
        return bt_fail(BT_ERR_FORMAT,
                       "%s: too short: %llu bytes, a batchtune parameter file has at least %u",
                       path, (unsigned long long)file_size,
                       PF_HEADER_BYTES + PF_SIZE_BYTES * PF_MIN_SIZES + PF_CRC_BYTES);
    BT_TRY(read_exact(f, path, raw, PF_MAGIC_BYTES, "the magic bytes"));
    if (memcmp(raw, PF_MAGIC, PF_MAGIC_BYTES) != 0)
        return bt_fail(BT_ERR_FORMAT,
                       "%s: not a batchtune parameter file (it does not start with \"BTNET\")",
                       path);
    if (file_size < PF_HEADER_BYTES)
        return bt_fail(BT_ERR_FORMAT,
                       "%s: too short: %llu bytes, the header alone needs %u; the file is "
                       "truncated",
                       path, (unsigned long long)file_size, PF_HEADER_BYTES);
    BT_TRY(read_exact(f, path, raw + PF_MAGIC_BYTES, PF_HEADER_BYTES - PF_MAGIC_BYTES,
                      "the header"));
    h->version = bt_get_u32(raw + 8);
    h->n_sizes = bt_get_u32(raw + 12);
    h->hidden = bt_get_u32(raw + 16);
    h->output = bt_get_u32(raw + 20);
    h->cost = bt_get_u32(raw + 24);
    h->init = bt_get_u32(raw + 28);
    h->param_count = bt_get_u64(raw + 32);

    if (h->version != PF_VERSION)
        return bt_fail(BT_ERR_FORMAT,
                       "%s: unsupported format version %lu; this build reads version %u (was it "
                       "written by a newer batchtune?)",
                       path, (unsigned long)h->version, PF_VERSION);
    if (h->n_sizes < PF_MIN_SIZES || h->n_sizes > PF_MAX_SIZES)
        return bt_fail(BT_ERR_FORMAT,
                       "%s: the header declares %lu layer sizes, expected %u to %lu; the header "
                       "is corrupt",
                       path, (unsigned long)h->n_sizes, PF_MIN_SIZES,
                       (unsigned long)PF_MAX_SIZES);
    if (h->hidden > BT_ACT_SOFTMAX)
        return bt_fail(BT_ERR_FORMAT, "%s: unknown hidden activation %lu in the header", path,
                       (unsigned long)h->hidden);
    if (h->output > BT_ACT_SOFTMAX)
        return bt_fail(BT_ERR_FORMAT, "%s: unknown output activation %lu in the header", path,
                       (unsigned long)h->output);
    if (h->cost > BT_COST_LOG_LIKELIHOOD)
        return bt_fail(BT_ERR_FORMAT, "%s: unknown cost %lu in the header", path,
                       (unsigned long)h->cost);
    if (h->init > BT_INIT_SCALED)
        return bt_fail(BT_ERR_FORMAT, "%s: unknown initialisation %lu in the header", path,
                       (unsigned long)h->init);
    return BT_OK;
}

/* The layer sizes, and the parameter count they imply, computed without wrapping. */
static bt_status read_sizes(FILE *f, const char *path, uint64_t file_size, uint8_t *raw,
                            pf_header *h)
{
    size_t bytes = PF_SIZE_BYTES * h->n_sizes;
    if (file_size < PF_HEADER_BYTES + bytes)
        return bt_fail(BT_ERR_FORMAT,
                       "%s: truncated: %llu bytes, but the header declares %lu layer sizes "
                       "(%zu bytes of header)",
                       path, (unsigned long long)file_size, (unsigned long)h->n_sizes,
                       PF_HEADER_BYTES + bytes);
    BT_TRY(read_exact(f, path, raw + PF_HEADER_BYTES, bytes, "the layer sizes"));
    for (uint32_t i = 0; i < h->n_sizes; ++i) {
        h->sizes[i] = bt_get_u64(raw + PF_HEADER_BYTES + PF_SIZE_BYTES * i);
        if (h->sizes[i] == 0)
            return bt_fail(BT_ERR_FORMAT, "%s: layer size %lu is 0; the header is corrupt", path,
                           (unsigned long)i + 1);
        if (h->sizes[i] > PF_MAX_UNITS)
            return bt_fail(BT_ERR_FORMAT,
                           "%s: layer size %lu is %llu units, more than the limit of %llu; the "
                           "header is corrupt",
                           path, (unsigned long)i + 1, (unsigned long long)h->sizes[i],
                           (unsigned long long)PF_MAX_UNITS);
    }
    uint64_t expected = 0;
    for (uint32_t l = 1; l < h->n_sizes; ++l) {
        uint64_t rows = h->sizes[l], cols = h->sizes[l - 1];
        /* rows, cols <= 2^24, so rows * (cols + 1) cannot wrap; the sum is checked. */
        uint64_t layer = rows * (cols + 1);
        if (expected > UINT64_MAX - layer)
            return bt_fail(BT_ERR_FORMAT, "%s: the layer sizes overflow the parameter count",
                           path);
        expected += layer;
    }
    if (h->param_count != expected)
        return bt_fail(BT_ERR_FORMAT,
                       "%s: the header's parameter count %llu does not match the layer sizes, "
                       "which need %llu; the header is corrupt",
                       path, (unsigned long long)h->param_count, (unsigned long long)expected);
    return BT_OK;
}

/* The declared size must be the real size, checked before anything is allocated from it. */
static bt_status check_file_size(const char *path, uint64_t file_size, const pf_header *h,
                                 uint64_t *param_bytes)
{
    uint64_t head = PF_HEADER_BYTES + (uint64_t)PF_SIZE_BYTES * h->n_sizes;
    /* param_count <= 16 * 2^24 * (2^24 + 1) < 2^53: four times that plus the rest fits. */
    uint64_t body = 4 * h->param_count;
    uint64_t expected = head + body + PF_CRC_BYTES;
    if (file_size < expected)
        return bt_fail(BT_ERR_FORMAT,
                       "%s: truncated: the header declares %llu parameters (%llu bytes in all) "
                       "but the file has only %llu bytes",
                       path, (unsigned long long)h->param_count, (unsigned long long)expected,
                       (unsigned long long)file_size);
    if (file_size > expected)
        return bt_fail(BT_ERR_FORMAT,
                       "%s: %llu trailing bytes after the declared %llu parameters (%llu bytes "
                       "in all); the file is corrupt",
                       path, (unsigned long long)(file_size - expected),
                       (unsigned long long)h->param_count, (unsigned long long)expected);
    if (body > SIZE_MAX)
        return bt_fail(BT_ERR_UNSUPPORTED, "%s: %llu parameters do not fit this address space",
                       path, (unsigned long long)h->param_count);
    *param_bytes = body;
    return BT_OK;
}

/* Options for the network described by a validated header. */
static bt_status header_opts(const char *path, const pf_header *h, size_t max_batch,
                             bt_network_opts *out)
{
    bt_network_opts opts = bt_network_opts_default();
    memset(opts.sizes, 0, sizeof opts.sizes);
    for (uint32_t i = 0; i < h->n_sizes; ++i)
        opts.sizes[i] = (size_t)h->sizes[i];
    opts.n_sizes = h->n_sizes;
    opts.hidden = (bt_activation)h->hidden;
    opts.output = (bt_activation)h->output;
    opts.cost = (bt_cost)h->cost;
    opts.init = (bt_init)h->init;
    opts.seed = 0; /* not stored: the parameters replace the initialisation */
    opts.max_batch = max_batch;
    if (bt_network_opts_validate(&opts) != BT_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", bt_last_error());
        return bt_fail(BT_ERR_FORMAT, "%s: invalid network in the header: %s", path, why);
    }
    *out = opts;
    return BT_OK;
}

/* The checksum over the whole file, read in chunks before anything as large as the parameters is
 * allocated: a damaged (or sparse, mostly empty) file that declares a huge network costs one read
 * pass, not its size in memory. Leaves the stream where the parameters start. */
static bt_status check_crc_streaming(FILE *f, const char *path, const uint8_t *raw,
                                     size_t raw_len, uint64_t param_bytes)
{
    off_t start = ftello(f);
    if (start < 0)
        return bt_fail(BT_ERR_IO, "%s: cannot tell the read position: %s", path, strerror(errno));
    uint8_t chunk[4 * PF_CHUNK_FLOATS];
    uint32_t crc = bt_crc32_update(BT_CRC32_INIT, raw, raw_len);
    for (uint64_t left = param_bytes; left > 0;) {
        size_t n = left < sizeof chunk ? (size_t)left : sizeof chunk;
        BT_TRY(read_exact(f, path, chunk, n, "the parameters"));
        crc = bt_crc32_update(crc, chunk, n);
        left -= n;
    }
    uint8_t crc_bytes[PF_CRC_BYTES];
    BT_TRY(read_exact(f, path, crc_bytes, sizeof crc_bytes, "the checksum"));
    uint32_t stored = bt_get_u32(crc_bytes);
    if (crc != stored)
        return bt_fail(BT_ERR_FORMAT,
                       "%s: corrupt: checksum mismatch (stored CRC-32 %08lx, computed %08lx)",
                       path, (unsigned long)stored, (unsigned long)crc);
    if (fseeko(f, start, SEEK_SET) != 0)
        return bt_fail(BT_ERR_IO, "%s: cannot seek back to the parameters: %s", path,
                       strerror(errno));
    return BT_OK;
}

/* NaN or infinite parameters (a run that diverged before it was saved) give NaN outputs and
 * costs: such a file is refused rather than evaluated. */
static bt_status check_finite(const char *path, const float *params, size_t count)
{
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < count; ++i) {
        if (!isfinite(params[i]) && bad++ == 0)
            first = i;
    }
    if (bad > 0)
        return bt_fail(BT_ERR_FORMAT,
                       "%s: %zu of the %zu parameters are not finite (parameter %zu is %s); the "
                       "network diverged before it was saved",
                       path, bad, count, first, isnan(params[first]) ? "NaN" : "infinite");
    return BT_OK;
}

/* Reads the parameters and the checksum, and converts the parameters in place to floats. */
static bt_status read_params(FILE *f, const char *path, const uint8_t *raw, size_t raw_len,
                             size_t count, float **out)
{
    float *params = malloc(count * sizeof *params);
    if (!params)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "%s: cannot allocate %zu parameters", path,
                       count);
    uint8_t *bytes = (uint8_t *)params;
    uint8_t crc_bytes[PF_CRC_BYTES];
    bt_status status = read_exact(f, path, bytes, count * sizeof *params, "the parameters");
    if (status == BT_OK)
        status = read_exact(f, path, crc_bytes, sizeof crc_bytes, "the checksum");
    if (status == BT_OK) {
        uint32_t crc = BT_CRC32_INIT;
        crc = bt_crc32_update(crc, raw, raw_len);
        crc = bt_crc32_update(crc, bytes, count * sizeof *params);
        uint32_t stored = bt_get_u32(crc_bytes);
        if (crc != stored)
            status = bt_fail(BT_ERR_FORMAT,
                             "%s: corrupt: checksum mismatch (stored CRC-32 %08lx, computed "
                             "%08lx)",
                             path, (unsigned long)stored, (unsigned long)crc);
    }
    if (status != BT_OK) {
        free(params);
        return status;
    }
    /* Element i's bytes are read before params[i] is written, and nothing later is touched. */
    for (size_t i = 0; i < count; ++i) {
        uint32_t bits = bt_get_u32(bytes + 4 * i);
        memcpy(&params[i], &bits, sizeof bits);
    }
    *out = params;
    return BT_OK;
}

static bt_status read_file(FILE *f, const char *path, uint64_t file_size, size_t max_batch,
                           bt_network_opts *opts, float **out, size_t *out_count)
{
    uint8_t raw[PF_HEADER_BYTES + PF_SIZE_BYTES * PF_MAX_SIZES];
    pf_header h;
    memset(&h, 0, sizeof h);
    BT_TRY(read_fixed_header(f, path, file_size, raw, &h));
    BT_TRY(read_sizes(f, path, file_size, raw, &h));
    uint64_t param_bytes = 0;
    BT_TRY(check_file_size(path, file_size, &h, &param_bytes));
    BT_TRY(header_opts(path, &h, max_batch, opts));

    size_t count = (size_t)h.param_count;
    size_t raw_len = PF_HEADER_BYTES + PF_SIZE_BYTES * h.n_sizes;
    BT_TRY(check_crc_streaming(f, path, raw, raw_len, param_bytes));
    float *params = NULL;
    BT_TRY(read_params(f, path, raw, raw_len, count, &params));
    bt_status finite = check_finite(path, params, count);
    if (finite != BT_OK) {
        free(params);
        return finite;
    }
    *out = params;
    *out_count = count;
    return BT_OK;
}

bt_status bt_params_file_read(const char *path, size_t max_batch, bt_network_opts *opts,
                              float **params, size_t *count)
{
    if (!path || !*path || !opts || !params || !count)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_params_file_read: NULL or empty argument");
    if (max_batch == 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "bt_params_file_read(%s): max_batch must be at least 1", path);
    FILE *f = NULL;
    uint64_t file_size = 0;
    BT_TRY(open_file(path, &f, &file_size));
    bt_network_opts o;
    float *p = NULL;
    size_t n = 0;
    bt_status status = read_file(f, path, file_size, max_batch, &o, &p, &n);
    fclose(f);
    if (status == BT_OK) {
        *opts = o;
        *params = p;
        *count = n;
    }
    return status;
}

bt_status bt_network_load(bt_device *device, const char *path, size_t max_batch,
                          bt_network **out)
{
    if (out)
        *out = NULL;
    if (!device || !path || !*path || !out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_load: %s is NULL or empty",
                       !device ? "device" : !path || !*path ? "path" : "out");
    if (max_batch == 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_network_load(%s): max_batch must be at least 1",
                       path);
    bt_network_opts opts;
    float *params = NULL;
    size_t count = 0;
    BT_TRY(bt_params_file_read(path, max_batch, &opts, &params, &count));
    bt_network *network = NULL;
    bt_status status = bt_network_create(device, &opts, &network);
    if (status == BT_OK)
        status = bt_network_set_params(network, params, count);
    free(params);
    if (status != BT_OK) {
        char why[1024];
        snprintf(why, sizeof why, "%s", bt_last_error());
        bt_network_destroy(network);
        return bt_fail(status, "%s: cannot create the network it describes: %s", path, why);
    }
    *out = network;
    return BT_OK;
}
