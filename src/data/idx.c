/* IDX files: reading a whole file (raw or gzip) into memory, and validating its header. */
#define _POSIX_C_SOURCE 200809L
#include "data/idx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/error.h"

/* Two zero bytes, the data type, the number of dimensions. */
#define IDX_PREFIX_BYTES 4u
/* Each dimension is a big-endian uint32. */
#define IDX_DIM_BYTES 4u
#define IDX_TYPE_UBYTE 0x08u

/* First buffer size; it then doubles, so memory follows the data actually read. */
#define READ_INITIAL_CAPACITY ((size_t)1 << 20)
/* gzread takes an unsigned count and returns an int: never ask for more than this at once. */
#define READ_MAX_REQUEST ((size_t)1 << 30)

/* "60000 x 28 x 28" */
typedef struct shape_text {
    char text[48];
} shape_text;

static shape_text format_shape(const uint32_t *dims, unsigned ndims)
{
    shape_text shape = {{0}};
    size_t used = 0;
    for (unsigned i = 0; i < ndims && used < sizeof shape.text; ++i) {
        int n = snprintf(shape.text + used, sizeof shape.text - used, "%s%lu", i ? " x " : "",
                         (unsigned long)dims[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return shape;
}

static const char *idx_type_name(unsigned type)
{
    switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return "not an IDX type";
    }
}

static uint32_t read_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The four fixed bytes: magic zeros, type, number of dimensions. */
static bt_status check_prefix(const uint8_t *buf, size_t len, const char *what)
{
    if (len < IDX_PREFIX_BYTES)
        return bt_fail(BT_ERR_FORMAT,
                       "%s: too short for an IDX header: %zu bytes, the header alone needs at "
                       "least %u; the file is truncated or not an IDX file",
                       what, len, IDX_PREFIX_BYTES);
    if (buf[0] != 0 || buf[1] != 0)
        return bt_fail(BT_ERR_FORMAT,
                       "%s: not an IDX file: it starts with bytes 0x%02X 0x%02X, an IDX file "
                       "starts with 0x00 0x00%s",
                       what, buf[0], buf[1],
                       buf[0] == 0x1F && buf[1] == 0x8B ? " (this is gzip data: was the file "
                                                          "compressed twice?)"
                                                        : "");
    if (buf[2] != IDX_TYPE_UBYTE)
        return bt_fail(BT_ERR_FORMAT,
                       "%s: unsupported IDX data type 0x%02X (%s), only unsigned bytes (0x08) "
                       "are supported",
                       what, buf[2], idx_type_name(buf[2]));
    if (buf[3] < 1 || buf[3] > BT_IDX_MAX_DIMS)
        return bt_fail(BT_ERR_FORMAT,
                       "%s: the IDX header declares %u dimensions, only 1 to %u are supported "
                       "(labels have 1, images 3)",
                       what, buf[3], BT_IDX_MAX_DIMS);
    return BT_OK;
}

/* Reads the dimensions and multiplies them without wrapping. */
static bt_status read_dims(const uint8_t *buf, size_t len, const char *what, bt_idx *out)
{
    unsigned ndims = buf[3];
    size_t header = IDX_PREFIX_BYTES + IDX_DIM_BYTES * ndims;
    if (len < header)
        return bt_fail(BT_ERR_FORMAT,
                       "%s: truncated header: %u dimensions need %zu header bytes but the file "
                       "has only %zu",
                       what, ndims, header, len);
    for (unsigned i = 0; i < ndims; ++i)
        out->dims[i] = read_be32(buf + IDX_PREFIX_BYTES + IDX_DIM_BYTES * i);
    shape_text shape = format_shape(out->dims, ndims);
    size_t product = 1;
    for (unsigned i = 0; i < ndims; ++i) {
        size_t dim = out->dims[i];
        if (dim == 0)
            return bt_fail(BT_ERR_FORMAT,
                           "%s: dimension %u of the shape %s is 0, so the file holds no data",
                           what, i + 1, shape.text);
        if (product > SIZE_MAX / dim)
            return bt_fail(BT_ERR_FORMAT,
                           "%s: the shape %s in the header overflows the address space; the "
                           "header is corrupt",
                           what, shape.text);
        product *= dim;
    }
    out->ndims = ndims;
    out->count = product;
    return BT_OK;
}

/* The data must fill the rest of the buffer exactly. */
static bt_status check_data_size(size_t len, size_t header, const bt_idx *idx, const char *what)
{
    size_t present = len - header;
    if (present < idx->count)
        return bt_fail(BT_ERR_FORMAT,
                       "%s: truncated: header declares %zu bytes of data (shape %s) but only %zu "
                       "follow; the file is incomplete, download it again",
                       what, idx->count, format_shape(idx->dims, idx->ndims).text, present);
    if (present > idx->count)
        return bt_fail(BT_ERR_FORMAT,
                       "%s: has %zu trailing bytes after the declared data (shape %s, %zu bytes); "
                       "the file is corrupt or not a single IDX file",
                       what, present - idx->count, format_shape(idx->dims, idx->ndims).text,
                       idx->count);
    return BT_OK;
}

bt_status bt_idx_parse(const uint8_t *buf, size_t len, const char *what, bt_idx *out)
{
    if (!what)
        what = "IDX data";
    if (!out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_idx_parse(%s): out is NULL", what);
    memset(out, 0, sizeof *out);
    if (!buf && len > 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_idx_parse(%s): buf is NULL but len is %zu",
                       what, len);
    bt_idx idx = {0};
    BT_TRY(check_prefix(buf, len, what));
    BT_TRY(read_dims(buf, len, what, &idx));
    size_t header = IDX_PREFIX_BYTES + IDX_DIM_BYTES * idx.ndims;
    BT_TRY(check_data_size(len, header, &idx, what));
    idx.data = buf + header;
    *out = idx;
    return BT_OK;
}

/* open() rather than gzopen(), so that errno reliably says why, and directories are caught
 * before zlib reports them as a read error. */
static bt_status open_reader(const char *path, gzFile *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bt_fail(BT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return bt_fail(BT_ERR_IO, "%s: cannot stat: %s", path, strerror(err));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return bt_fail(BT_ERR_IO, "%s: is a directory, expected an IDX file", path);
    }
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "%s: cannot allocate zlib's reader", path);
    }
    *out = gz;
    return BT_OK;
}

/* zlib prefixes its messages with "<fd:N>: " for gzdopen'ed files; the path says it better. */
static const char *zlib_reason(gzFile gz, int *errnum)
{
    const char *msg = gzerror(gz, errnum);
    if (strncmp(msg, "<fd:", 4) == 0) {
        const char *rest = strstr(msg, ": ");
        if (rest)
            msg = rest + 2;
    }
    return msg;
}

/* Turns zlib's error state (if any) into a status naming the file. */
static bt_status check_zlib_state(gzFile gz, const char *path)
{
    int errnum = Z_OK;
    const char *reason = zlib_reason(gz, &errnum);
    switch (errnum) {
    case Z_OK:
        return BT_OK;
    case Z_ERRNO:
        return bt_fail(BT_ERR_IO, "%s: read failed: %s", path, reason);
    case Z_MEM_ERROR:
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "%s: zlib ran out of memory", path);
    case Z_BUF_ERROR:
        return bt_fail(BT_ERR_FORMAT,
                       "%s: corrupt gzip stream: it ends early (%s); the file is incomplete, "
                       "download it again",
                       path, reason);
    default:
        return bt_fail(BT_ERR_FORMAT,
                       "%s: corrupt gzip stream (%s); the file is damaged, download it again",
                       path, reason);
    }
}

/* Doubles the buffer, never past `limit`. */
static bt_status grow_buffer(uint8_t **buf, size_t *capacity, size_t limit, const char *path)
{
    size_t wanted = *capacity == 0 ? READ_INITIAL_CAPACITY
                    : *capacity > limit / 2 ? limit
                                            : *capacity * 2;
    if (wanted > limit)
        wanted = limit;
    uint8_t *bigger = realloc(*buf, wanted);
    if (!bigger)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "%s: cannot allocate %zu bytes to read the file",
                       path, wanted);
    *buf = bigger;
    *capacity = wanted;
    return BT_OK;
}

static bt_status fail_too_large(const char *path, size_t max_bytes)
{
    return bt_fail(BT_ERR_FORMAT,
                   "%s: holds more than %zu bytes of (decompressed) data, the limit for one "
                   "file; it is not an IDX file of a plausible size",
                   path, max_bytes);
}

/* Reads everything into *buf; the buffer holds at most max_bytes + 1 bytes, the one extra byte
 * telling that the limit was passed. */
static bt_status read_all(gzFile gz, const char *path, size_t max_bytes, uint8_t **buf,
                          size_t *len)
{
    size_t limit = max_bytes == SIZE_MAX ? SIZE_MAX : max_bytes + 1;
    size_t used = 0;
    size_t capacity = 0;
    for (;;) {
        if (used == capacity) {
            if (used > max_bytes)
                return fail_too_large(path, max_bytes);
            BT_TRY(grow_buffer(buf, &capacity, limit, path));
        }
        size_t request = capacity - used;
        if (request > READ_MAX_REQUEST)
            request = READ_MAX_REQUEST;
        int got = gzread(gz, *buf + used, (unsigned)request);
        if (got < 0)
            return check_zlib_state(gz, path);
        if (got == 0)
            break;
        used += (size_t)got;
    }
    /* A gzip stream cut short reads as a plain end of file; only the error state tells. */
    BT_TRY(check_zlib_state(gz, path));
    if (used > max_bytes)
        return fail_too_large(path, max_bytes);
    *len = used;
    return BT_OK;
}

/* Gives back the unused tail of the buffer; keeps the larger one if that fails. */
static uint8_t *shrink_to_fit(uint8_t *buf, size_t len)
{
    uint8_t *smaller = realloc(buf, len);
    if (!smaller)
        return buf;
    return smaller;
}

bt_status bt_idx_read_file(const char *path, size_t max_bytes, uint8_t **buf, size_t *len)
{
    if (!buf || !len)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_idx_read_file(%s): buf or len is NULL",
                       path ? path : "(null)");
    *buf = NULL;
    *len = 0;
    if (!path)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_idx_read_file: path is NULL");
    gzFile gz = NULL;
    BT_TRY(open_reader(path, &gz));
    uint8_t *data = NULL;
    size_t used = 0;
    bt_status status = read_all(gz, path, max_bytes, &data, &used);
    /* Closing a file opened for reading cannot lose data; its result adds nothing to read_all's. */
    gzclose_r(gz);
    if (status == BT_OK && used == 0)
        status = bt_fail(BT_ERR_FORMAT, "%s: is empty, expected an IDX file", path);
    if (status != BT_OK) {
        free(data);
        return status;
    }
    *buf = shrink_to_fit(data, used);
    *len = used;
    return BT_OK;
}
