/* Stored GEMM parameters: one small text file per device (format at bt_gemm_tuning_save in
 * batchtune_gemm_tuning.h). Text, so a user can read what was tuned; a CRC-32 line, so that a
 * truncated or edited file is told apart from a valid one. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/atomic_file.h"
#include "common/checksum.h"
#include "common/regular_file.h"
#include "device/device_impl.h"
#include "common/error.h"
#include "common/xdg_paths.h"
#include "gemm/gemm_impl.h"
#include "gemm/tuning/gemm_tuning_impl.h"

#define FORMAT_LINE "batchtune-gemm-tuning 2"
/* Format 1 had no engine lines; such a file reads as one without measured choices. */
#define FORMAT_LINE_1 "batchtune-gemm-tuning 1"
#define ENGINE_KEY "engine."
#define SUBDIR "gemm-tuning"
/* Far more than any file we write (a few hundred bytes of values plus the note). */
#define MAX_FILE_BYTES 65536
#define MAX_VALUE (1u << 24)

bt_status bt_gemm_tuning_default_dir(char *buf, size_t size)
{
    if (!buf || size == 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_gemm_tuning_default_dir: no buffer");
    bool unset = false;
    char *dir = bt_xdg_batchtune_dir(BT_XDG_DATA, &unset);
    if (!dir)
        return unset ? bt_fail(BT_ERR_IO, "no folder for stored GEMM parameters: neither "
                                          "XDG_DATA_HOME nor HOME is set")
                     : bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    int n = snprintf(buf, size, "%s", dir);
    free(dir);
    if (n < 0 || (size_t)n >= size)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "the data folder path is too long");
    return BT_OK;
}

/* Appends `text` to dst (of `size`, holding `*used` bytes) keeping [A-Za-z0-9._-] and turning
 * every other run of characters into one '_': a file name from a device name. */
static void append_sanitized(char *dst, size_t size, size_t *used, const char *text)
{
    bool gap = false;
    for (const char *p = text; *p && *used + 2 < size; ++p) {
        char c = *p;
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
        if (!keep) {
            gap = true;
            continue;
        }
        if (gap && *used > 0 && dst[*used - 1] != '_' && dst[*used - 1] != '/')
            dst[(*used)++] = '_';
        gap = false;
        dst[(*used)++] = c;
    }
    dst[*used] = '\0';
}

bt_status bt_gemm_tuning_path(const bt_device *dev, const char *dir, char *buf, size_t size)
{
    if (!dev || !buf || size == 0)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_gemm_tuning_path: NULL argument");
    char default_dir[1024];
    if (!dir) {
        BT_TRY(bt_gemm_tuning_default_dir(default_dir, sizeof default_dir));
        dir = default_dir;
    }
    /* Room for both names at full length: a cut name could make two devices share a file. */
    size_t need = strlen(dir) + sizeof SUBDIR + strlen(dev->info.platform_name) +
                  strlen(dev->info.name) + 16;
    if (need > size)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "the GEMM parameter file path under %s is too "
                                                "long",
                       dir);
    int n = snprintf(buf, size, "%s/" SUBDIR "/", dir);
    size_t used = (size_t)n;
    append_sanitized(buf, size, &used, dev->info.platform_name);
    buf[used++] = '-';
    buf[used++] = '-';
    append_sanitized(buf, size, &used, dev->info.name);
    snprintf(buf + used, size - used, ".txt");
    return BT_OK;
}

bool bt_gemm_tuning_file_missing(const char *path)
{
    struct stat st;
    return stat(path, &st) != 0 && errno == ENOENT;
}

/* ---- writing -------------------------------------------------------------------------------- */

/* A growing text buffer; `failed` once an allocation fails. */
typedef struct text_buf {
    char *data;
    size_t length, capacity;
    bool failed;
} text_buf;

static void text_add(text_buf *t, const char *fmt, ...) BT_PRINTF_LIKE(2, 3);
static void text_add(text_buf *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    for (;;) {
        va_list args;
        va_start(args, fmt);
        int n = vsnprintf(t->data + t->length, t->capacity - t->length, fmt, args);
        va_end(args);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if (t->length + (size_t)n < t->capacity) {
            t->length += (size_t)n;
            return;
        }
        size_t capacity = 2 * (t->capacity + (size_t)n);
        char *grown = realloc(t->data, capacity);
        if (!grown) {
            t->failed = true;
            return;
        }
        t->data = grown;
        t->capacity = capacity;
    }
}

/* Device strings on one line: a line break would end the value early. */
static void one_line(const char *src, char *dst, size_t size)
{
    snprintf(dst, size, "%s", src);
    for (char *p = dst; *p; ++p)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

static void add_key(text_buf *t, const bt_device *dev)
{
    char platform[sizeof dev->info.platform_name], name[sizeof dev->info.name];
    char driver[sizeof dev->info.driver_version];
    one_line(dev->info.platform_name, platform, sizeof platform);
    one_line(dev->info.name, name, sizeof name);
    one_line(dev->info.driver_version, driver, sizeof driver);
    text_add(t, "format=" FORMAT_LINE "\nplatform=%s\ndevice=%s\ndriver=%s\nclblast=%s\n",
             platform, name, driver, bt_clblast_version());
}

static void add_group(text_buf *t, const char *kernel, bool has, const unsigned *values,
                      const char *(*name_of)(unsigned), size_t count)
{
    if (!has) {
        text_add(t, "%s=default\n", kernel);
        return;
    }
    for (size_t i = 0; i < count; ++i)
        text_add(t, "%s.%s=%u\n", kernel, name_of((unsigned)i), values[i]);
}

static char trans_char(bt_transpose t) { return t == BT_TRANS ? 'T' : 'N'; }

static void add_engines(text_buf *t, const bt_gemm_params *params)
{
    for (size_t i = 0; params->has_engines && i < params->n_engines; ++i) {
        const bt_engine_choice *c = &params->engines[i];
        text_add(t, ENGINE_KEY "%c%c.%zux%zux%zu=%s\n", trans_char(c->shape.trans_a),
                 trans_char(c->shape.trans_b), c->shape.m, c->shape.n, c->shape.k,
                 bt_engine_str(c->engine));
    }
}

static const char *routine_param_name(unsigned index)
{
    (void)index;
    return "XGEMM_MIN_INDIRECT_SIZE";
}

static void add_note(text_buf *t, const char *note)
{
    if (!note)
        return;
    const char *line = note;
    while (*line) {
        size_t len = strcspn(line, "\n");
        text_add(t, "# %.*s\n", (int)len, line);
        line += len;
        if (*line == '\n')
            ++line;
    }
}

static bt_status ensure_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    bt_status status = BT_OK;
    for (char *p = copy + 1; status == BT_OK; ++p) {
        bool end = *p == '\0';
        if (*p != '/' && !end)
            continue;
        *p = '\0';
        if (mkdir(copy, 0755) != 0 && errno != EEXIST)
            status = bt_fail(BT_ERR_IO, "cannot create folder %s: %s", copy, strerror(errno));
        if (end)
            break;
        *p = '/';
    }
    free(copy);
    return status;
}

static bt_status write_atomically(const char *path, const char *data, size_t size)
{
    char *slash = strrchr(path, '/');
    if (slash && slash != path) {
        char *dir = strndup(path, (size_t)(slash - path));
        if (!dir)
            return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
        bt_status status = ensure_dir(dir);
        free(dir);
        BT_TRY(status);
    }
    bt_atomic_part part = {data, size};
    bt_atomic_step step = bt_atomic_write(path, &part, 1);
    if (step == BT_ATOMIC_NO_MEMORY)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    if (step != BT_ATOMIC_OK)
        return bt_fail(BT_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    return BT_OK;
}

bt_status bt_gemm_tuning_save(const bt_device *dev, const bt_gemm_params *params,
                              const char *note, const char *path)
{
    if (!dev || !params || !path)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_gemm_tuning_save: NULL argument");
    BT_TRY(bt_gemm_params_check(dev, params));
    text_buf t = {0};
    text_add(&t, "# CLBlast GEMM kernel parameters for one OpenCL device, written by batchtune "
                 "tune-gemm.\n# Applied when batchtune opens a device that matches platform, "
                 "device, driver and clblast.\n");
    add_note(&t, note);
    add_key(&t, dev);
    add_group(&t, "XgemmDirect", params->has_direct, params->direct, bt_gemm_direct_param_name,
              BT_GEMM_DIRECT_COUNT);
    add_group(&t, "Xgemm", params->has_indirect, params->indirect, bt_gemm_indirect_param_name,
              BT_GEMM_INDIRECT_COUNT);
    add_group(&t, "GemmRoutine", params->has_min_indirect_size, &params->min_indirect_size,
              routine_param_name, 1);
    add_engines(&t, params);
    if (!t.failed)
        text_add(&t, "crc32=%08x\n", (unsigned)bt_crc32_update(BT_CRC32_INIT, t.data, t.length));
    bt_status status = t.failed ? bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory")
                                : write_atomically(path, t.data, t.length);
    free(t.data);
    return status;
}

/* ---- reading -------------------------------------------------------------------------------- */

static bt_status read_file(const char *path, char **out, size_t *size)
{
    *out = NULL;
    /* Without blocking: a FIFO at the path would hang every command that opens the device. */
    FILE *f = NULL;
    uint64_t file_size = 0;
    switch (bt_regular_file_fopen(path, &f, &file_size)) {
    case BT_REGULAR_OK:
        break;
    case BT_REGULAR_NOT_REGULAR:
        return bt_fail(BT_ERR_FORMAT, "not a regular file (a FIFO, device or folder)");
    default:
        return bt_fail(BT_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    }
    char *data = malloc(MAX_FILE_BYTES + 1);
    if (!data) {
        fclose(f);
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    size_t n = fread(data, 1, MAX_FILE_BYTES + 1, f);
    bool error = ferror(f) != 0;
    fclose(f);
    if (error || n > MAX_FILE_BYTES) {
        free(data);
        return error ? bt_fail(BT_ERR_IO, "cannot read %s", path)
                     : bt_fail(BT_ERR_FORMAT, "corrupt: larger than %d bytes", MAX_FILE_BYTES);
    }
    data[n] = '\0';
    *out = data;
    *size = n;
    return BT_OK;
}

/* The lines between comments, in order: a cursor over the file's text (modified in place). */
typedef struct lines {
    char *next;
    unsigned number; /* of the line last returned */
} lines;

/* The next line that is not a comment, without its '\n'; NULL at the end. */
static char *next_line(lines *l)
{
    while (l->next && *l->next) {
        char *line = l->next;
        char *end = strchr(line, '\n');
        if (end) {
            *end = '\0';
            l->next = end + 1;
        } else {
            l->next = NULL;
        }
        ++l->number;
        if (line[0] != '#')
            return line;
    }
    return NULL;
}

/* The value of `key=value` in `line` (line `number`; NULL: the end of the file); BT_ERR_FORMAT if
 * the key differs. */
static bt_status match_key(const char *line, unsigned number, const char *key, const char **value)
{
    size_t len = strlen(key);
    if (!line || strncmp(line, key, len) != 0 || line[len] != '=')
        return bt_fail(BT_ERR_FORMAT, "corrupt: expected '%s=' at line %u", key, number);
    *value = line + len + 1;
    return BT_OK;
}

/* The value of `key=value` on the next line; BT_ERR_FORMAT if the key differs. */
static bt_status expect(lines *l, const char *key, const char **value)
{
    char *line = next_line(l);
    return match_key(line, l->number, key, value);
}

static bt_status parse_value(const char *text, unsigned line, unsigned *out)
{
    unsigned long v = 0;
    const char *p = text;
    if (!*p)
        return bt_fail(BT_ERR_FORMAT, "corrupt: empty value at line %u", line);
    for (; *p; ++p) {
        if (*p < '0' || *p > '9' || v > MAX_VALUE)
            return bt_fail(BT_ERR_FORMAT, "corrupt: '%s' at line %u is not a number up to %u",
                           text, line, MAX_VALUE);
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > MAX_VALUE)
        return bt_fail(BT_ERR_FORMAT, "corrupt: %lu at line %u is above %u", v, line, MAX_VALUE);
    *out = (unsigned)v;
    return BT_OK;
}

/* Either "<kernel>=default" or one "<kernel>.<NAME>=<value>" line per parameter, in order. */
static bt_status parse_group(lines *l, const char *kernel, bool *has, unsigned *values,
                             const char *(*name_of)(unsigned), size_t count)
{
    /* The group's first line (comments before it skipped): "=default" or its first value. */
    char *line = next_line(l);
    size_t len = strlen(kernel);
    if (line && strncmp(line, kernel, len) == 0 && strcmp(line + len, "=default") == 0) {
        *has = false;
        return BT_OK;
    }
    for (size_t i = 0; i < count; ++i) {
        char key[64];
        snprintf(key, sizeof key, "%s.%s", kernel, name_of((unsigned)i));
        if (i > 0)
            line = next_line(l);
        const char *value = NULL;
        BT_TRY(match_key(line, l->number, key, &value));
        BT_TRY(parse_value(value, l->number, &values[i]));
    }
    *has = true;
    return BT_OK;
}

/* The last line must be "crc32=<8 hex>" over every byte before it. */
static bt_status check_crc(char *data, size_t size)
{
    if (size == 0 || data[size - 1] != '\n')
        return bt_fail(BT_ERR_FORMAT, "corrupt: empty or cut short (no final line break)");
    /* The text is handled as C strings: a NUL byte would hide whatever follows it. */
    const char *nul = memchr(data, '\0', size);
    if (nul)
        return bt_fail(BT_ERR_FORMAT, "corrupt: a NUL byte at offset %zu, not a text file",
                       (size_t)(nul - data));
    data[size - 1] = '\0';
    char *last = strrchr(data, '\n');
    last = last ? last + 1 : data;
    unsigned stored = 0;
    int consumed = 0;
    if (strncmp(last, "crc32=", 6) != 0 || strlen(last) != 14 ||
        sscanf(last + 6, "%8x%n", &stored, &consumed) != 1 || consumed != 8)
        return bt_fail(BT_ERR_FORMAT, "corrupt: the last line is not 'crc32=<8 hex digits>'");
    uint32_t actual = bt_crc32_update(BT_CRC32_INIT, data, (size_t)(last - data));
    if (actual != stored)
        return bt_fail(BT_ERR_FORMAT, "corrupt: checksum %08x does not match the content "
                                      "(%08x): the file was cut short or edited",
                       stored, (unsigned)actual);
    last[0] = '\0'; /* the parser stops before the checksum line */
    return BT_OK;
}

/* A decimal dimension of an engine line, ending at `end`; advances *p past it. */
static bool parse_dimension(const char **p, char end, size_t *out)
{
    unsigned long long v = 0;
    const char *q = *p;
    if (*q < '0' || *q > '9')
        return false;
    for (; *q >= '0' && *q <= '9'; ++q) {
        v = v * 10 + (unsigned long long)(*q - '0');
        if (v > MAX_VALUE)
            return false;
    }
    if (*q != end)
        return false;
    *out = (size_t)v;
    *p = q + 1;
    return true;
}

static bool parse_trans(char c, bt_transpose *out)
{
    if (c != 'N' && c != 'T')
        return false;
    *out = c == 'T' ? BT_TRANS : BT_NO_TRANS;
    return true;
}

/* "<N|T><N|T>.<m>x<n>x<k>=fused|clblast", after "engine.". Duplicates and ranges are checked
 * by bt_gemm_params_check. */
static bt_status parse_engine(const char *text, unsigned line, bt_engine_choice *out)
{
    const char *p = text;
    bool ok = p[0] && p[1] && parse_trans(p[0], &out->shape.trans_a) &&
              parse_trans(p[1], &out->shape.trans_b) && p[2] == '.';
    if (ok) {
        p += 3;
        ok = parse_dimension(&p, 'x', &out->shape.m) && parse_dimension(&p, 'x', &out->shape.n) &&
             parse_dimension(&p, '=', &out->shape.k);
    }
    if (ok)
        ok = bt_engine_parse(p, &out->engine) == BT_OK && out->engine != BT_ENGINE_AUTO;
    if (!ok)
        return bt_fail(BT_ERR_FORMAT, "corrupt: line %u is not 'engine.<NT>.<m>x<n>x<k>=fused|"
                                      "clblast'",
                       line);
    return BT_OK;
}

typedef bt_gemm_tuning_file_key file_key;

static bt_status parse(char *data, file_key *key, bt_gemm_params *p)
{
    lines l = {data, 0};
    BT_TRY(expect(&l, "format", &key->format));
    if (strcmp(key->format, FORMAT_LINE) != 0 && strcmp(key->format, FORMAT_LINE_1) != 0)
        return bt_fail(BT_ERR_FORMAT, "corrupt: format '%s', expected '" FORMAT_LINE "'",
                       key->format);
    BT_TRY(expect(&l, "platform", &key->platform));
    BT_TRY(expect(&l, "device", &key->device));
    BT_TRY(expect(&l, "driver", &key->driver));
    BT_TRY(expect(&l, "clblast", &key->clblast));
    BT_TRY(parse_group(&l, "XgemmDirect", &p->has_direct, p->direct, bt_gemm_direct_param_name,
                       BT_GEMM_DIRECT_COUNT));
    BT_TRY(parse_group(&l, "Xgemm", &p->has_indirect, p->indirect, bt_gemm_indirect_param_name,
                       BT_GEMM_INDIRECT_COUNT));
    BT_TRY(parse_group(&l, "GemmRoutine", &p->has_min_indirect_size, &p->min_indirect_size,
                       routine_param_name, 1));
    bool engines_allowed = strcmp(key->format, FORMAT_LINE) == 0;
    for (char *line = next_line(&l); line; line = next_line(&l)) {
        if (!engines_allowed || strncmp(line, ENGINE_KEY, strlen(ENGINE_KEY)) != 0)
            return bt_fail(BT_ERR_FORMAT, "corrupt: unexpected line %u", l.number);
        if (p->n_engines == BT_GEMM_MAX_ENGINE_CHOICES)
            return bt_fail(BT_ERR_FORMAT, "corrupt: more than %d engine lines",
                           BT_GEMM_MAX_ENGINE_CHOICES);
        BT_TRY(parse_engine(line + strlen(ENGINE_KEY), l.number, &p->engines[p->n_engines++]));
    }
    p->has_engines = p->n_engines > 0;
    return BT_OK;
}

/* Foreign: another platform or device. Stale: the same device, another driver or CLBlast. */
static bt_status check_key(const bt_device *dev, const file_key *key)
{
    char platform[sizeof dev->info.platform_name], name[sizeof dev->info.name];
    char driver[sizeof dev->info.driver_version];
    one_line(dev->info.platform_name, platform, sizeof platform);
    one_line(dev->info.name, name, sizeof name);
    one_line(dev->info.driver_version, driver, sizeof driver);
    if (strcmp(key->platform, platform) != 0 || strcmp(key->device, name) != 0)
        return bt_fail(BT_ERR_UNSUPPORTED, "foreign: tuned for '%s' on '%s', not '%s' on '%s'",
                       key->device, key->platform, name, platform);
    if (strcmp(key->driver, driver) != 0 || strcmp(key->clblast, bt_clblast_version()) != 0)
        return bt_fail(BT_ERR_UNSUPPORTED, "stale: tuned with driver '%s' and CLBlast %s, now "
                                           "driver '%s' and CLBlast %s; run 'batchtune "
                                           "tune-gemm' again",
                       key->driver, key->clblast, driver, bt_clblast_version());
    return BT_OK;
}

bt_status bt_gemm_tuning_parse_text(char *text, size_t size, bt_gemm_tuning_file_key *key,
                                     bt_gemm_params *out)
{
    if (!text || !key || !out || text[size] != '\0')
        return bt_fail(BT_ERR_INVALID_ARGUMENT,
                       "bt_gemm_tuning_parse_text: NULL argument or unterminated text");
    bt_gemm_params params;
    memset(&params, 0, sizeof params);
    file_key k;
    BT_TRY(check_crc(text, size));
    BT_TRY(parse(text, &k, &params));
    *key = k;
    *out = params;
    return BT_OK;
}

bt_status bt_gemm_tuning_load(const bt_device *dev, const char *path, bt_gemm_params *out)
{
    if (!dev || !path || !out)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "bt_gemm_tuning_load: NULL argument");
    memset(out, 0, sizeof *out);
    char *data = NULL;
    size_t size = 0;
    BT_TRY(read_file(path, &data, &size));
    bt_gemm_params params;
    memset(&params, 0, sizeof params);
    file_key key;
    bt_status status = bt_gemm_tuning_parse_text(data, size, &key, &params);
    if (status == BT_OK)
        status = check_key(dev, &key);
    if (status == BT_OK && bt_gemm_params_check(dev, &params) != BT_OK) {
        char reason[512]; /* bt_fail writes the buffer bt_last_error() points to */
        snprintf(reason, sizeof reason, "%s", bt_last_error());
        status = bt_fail(BT_ERR_FORMAT, "corrupt: %s", reason);
    }
    free(data);
    if (status == BT_OK)
        *out = params;
    return status;
}
