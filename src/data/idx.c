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
 * before they are read. */
static bt_status open_reader(const char *path, int *out)
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
    *out = fd;
    return BT_OK;
}

/* Up to `size` bytes from fd; *got is 0 at the end of the file. */
static bt_status read_some(int fd, const char *path, uint8_t *dst, size_t size, size_t *got)
{
    if (size > READ_MAX_REQUEST)
        size = READ_MAX_REQUEST;
    for (;;) {
        ssize_t n = read(fd, dst, size);
        if (n >= 0) {
            *got = (size_t)n;
            return BT_OK;
        }
        if (errno != EINTR)
            return bt_fail(BT_ERR_IO, "%s: read failed: %s", path, strerror(errno));
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

/* The data size a complete and valid IDX header in buf[0..len) declares, header included; false
 * while the header is incomplete or when it is not one (the parser then says why). */
static bool declared_size(const uint8_t *buf, size_t len, size_t *total)
{
    if (len < IDX_PREFIX_BYTES || buf[0] != 0 || buf[1] != 0 || buf[2] != IDX_TYPE_UBYTE ||
        buf[3] < 1 || buf[3] > BT_IDX_MAX_DIMS)
        return false;
    size_t header = IDX_PREFIX_BYTES + IDX_DIM_BYTES * buf[3];
    if (len < header)
        return false;
    size_t product = 1;
    for (unsigned i = 0; i < buf[3]; ++i) {
        size_t dim = read_be32(buf + IDX_PREFIX_BYTES + IDX_DIM_BYTES * i);
        if (dim == 0 || product > SIZE_MAX / dim)
            return false;
        product *= dim;
    }
    if (product > SIZE_MAX - header)
        return false;
    *total = header + product;
    return true;
}

/* The output buffer: the data read or decompressed so far. The header's declared size is checked
 * against the limit as soon as the header is in, so that a small compressed file claiming a huge
 * shape fails at once instead of after decompressing up to the limit. */
typedef struct sink {
    const char *path;
    size_t max_bytes, limit; /* limit: max_bytes + 1, to tell that max_bytes was passed */
    uint8_t *buf;
    size_t used, capacity;
    bool header_checked;
} sink;

/* Room for at least one more byte. */
static bt_status sink_reserve(sink *s)
{
    if (s->used < s->capacity)
        return BT_OK;
    if (s->used > s->max_bytes)
        return fail_too_large(s->path, s->max_bytes);
    return grow_buffer(&s->buf, &s->capacity, s->limit, s->path);
}

/* Counts `n` bytes written at buf + used. */
static bt_status sink_advance(sink *s, size_t n)
{
    s->used += n;
    size_t total = 0;
    if (!s->header_checked && declared_size(s->buf, s->used, &total)) {
        s->header_checked = true;
        if (total > s->max_bytes) {
            uint32_t dims[BT_IDX_MAX_DIMS] = {0};
            for (unsigned i = 0; i < s->buf[3]; ++i)
                dims[i] = read_be32(s->buf + IDX_PREFIX_BYTES + IDX_DIM_BYTES * i);
            return bt_fail(BT_ERR_FORMAT,
                           "%s: the IDX header declares %zu bytes (shape %s), more than %zu, the "
                           "limit for one file; the header is corrupt",
                           s->path, total, format_shape(dims, s->buf[3]).text, s->max_bytes);
        }
    }
    if (s->used > s->max_bytes)
        return fail_too_large(s->path, s->max_bytes);
    return BT_OK;
}

/* A raw file: the bytes already read (`lead`), then the rest straight into the buffer. */
static bt_status read_raw(int fd, sink *s, const uint8_t *lead, size_t lead_len)
{
    while (lead_len > 0) {
        BT_TRY(sink_reserve(s));
        size_t n = s->capacity - s->used < lead_len ? s->capacity - s->used : lead_len;
        memcpy(s->buf + s->used, lead, n);
        lead += n;
        lead_len -= n;
        BT_TRY(sink_advance(s, n));
    }
    for (;;) {
        BT_TRY(sink_reserve(s));
        size_t got = 0;
        BT_TRY(read_some(fd, s->path, s->buf + s->used, s->capacity - s->used, &got));
        if (got == 0)
            return BT_OK;
        BT_TRY(sink_advance(s, got));
    }
}

#define GZ_INPUT_BYTES ((size_t)1 << 16)

static bt_status fail_gzip(const z_stream *zs, int ret, const char *path)
{
    if (ret == Z_MEM_ERROR)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "%s: zlib ran out of memory", path);
    return bt_fail(BT_ERR_FORMAT,
                   "%s: corrupt gzip stream (%s); the file is damaged, download it again", path,
                   zs->msg ? zs->msg : "invalid data");
}

/* gzip members one after the other (concatenated members are valid gzip), and nothing after the
 * last: bytes that do not start another member are trailing garbage, refused as a raw file's
 * trailing bytes are. `in` holds the first `in_len` bytes of the file. */
static bt_status read_gzip(int fd, sink *s, uint8_t *in, size_t in_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    int ret = inflateInit2(&zs, 16 + MAX_WBITS); /* gzip only */
    if (ret != Z_OK)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "%s: cannot allocate zlib's reader", s->path);
    zs.next_in = in;
    zs.avail_in = (uInt)in_len;
    bool eof = false, member_ended = false;
    bt_status status = BT_OK;
    for (;;) {
        if (zs.avail_in == 0 && !eof) {
            size_t got = 0;
            status = read_some(fd, s->path, in, GZ_INPUT_BYTES, &got);
            if (status != BT_OK)
                break;
            eof = got == 0;
            zs.next_in = in;
            zs.avail_in = (uInt)got;
        }
        if (member_ended) {
            if (zs.avail_in == 0) /* the end of the file after a whole member */
                break;
            if (zs.next_in[0] != 0x1F || (zs.avail_in >= 2 && zs.next_in[1] != 0x8B)) {
                off_t at = lseek(fd, 0, SEEK_CUR);
                status = bt_fail(BT_ERR_FORMAT,
                                 "%s: has trailing bytes after the gzip stream (from byte %lld); "
                                 "the file is corrupt or not a single gzip file",
                                 s->path, at < 0 ? -1ll : (long long)(at - (off_t)zs.avail_in));
                break;
            }
            inflateReset(&zs); /* another member */
            member_ended = false;
        }
        if (zs.avail_in == 0 && eof) {
            status = bt_fail(BT_ERR_FORMAT,
                             "%s: corrupt gzip stream: it ends early (unexpected end of file); "
                             "the file is incomplete, download it again",
                             s->path);
            break;
        }
        status = sink_reserve(s);
        if (status != BT_OK)
            break;
        size_t room = s->capacity - s->used;
        zs.next_out = s->buf + s->used;
        zs.avail_out = (uInt)(room > READ_MAX_REQUEST ? READ_MAX_REQUEST : room);
        uInt before = zs.avail_out;
        ret = inflate(&zs, Z_NO_FLUSH);
        if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR) {
            status = fail_gzip(&zs, ret, s->path);
            break;
        }
        status = sink_advance(s, before - zs.avail_out);
        if (status != BT_OK)
            break;
        member_ended = ret == Z_STREAM_END;
    }
    inflateEnd(&zs);
    return status;
}

/* Reads everything into *buf, decompressing gzip; the buffer holds at most max_bytes + 1 bytes,
 * the one extra byte telling that the limit was passed. */
static bt_status read_all(int fd, const char *path, size_t max_bytes, uint8_t **buf,
                          size_t *len)
{
    uint8_t *in = malloc(GZ_INPUT_BYTES);
    if (!in)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "%s: cannot allocate a read buffer", path);
    sink s = {path, max_bytes, max_bytes == SIZE_MAX ? SIZE_MAX : max_bytes + 1, NULL, 0, 0,
              false};
    /* Enough of the start to tell gzip's magic bytes. */
    size_t in_len = 0;
    bt_status status = BT_OK;
    while (status == BT_OK && in_len < 2) {
        size_t got = 0;
        status = read_some(fd, path, in + in_len, GZ_INPUT_BYTES - in_len, &got);
        if (got == 0)
            break;
        in_len += got;
    }
    if (status == BT_OK) {
        if (in_len >= 2 && in[0] == 0x1F && in[1] == 0x8B)
            status = read_gzip(fd, &s, in, in_len);
        else
            status = read_raw(fd, &s, in, in_len);
    }
    free(in);
    *buf = s.buf;
    *len = s.used;
    return status;
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
    int fd = -1;
    BT_TRY(open_reader(path, &fd));
    uint8_t *data = NULL;
    size_t used = 0;
    bt_status status = read_all(fd, path, max_bytes, &data, &used);
    close(fd);
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
