/* On-disk cache of built program binaries (format in program_cache.h). */
#define _POSIX_C_SOURCE 200809L
#include "common/byte_order.h"
#include "common/atomic_file.h"
#include "common/checksum.h"
#include "device/program_cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"

#define CACHE_MAGIC "BTPROG01"
#define HEADER_SIZE 32
/* A program binary beyond this is not something we wrote. */
#define MAX_PAYLOAD ((uint64_t)512 << 20)

uint64_t bt_hash_bytes(uint64_t hash, const void *data, size_t size)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < size; ++i) {
        hash ^= p[i];
        hash *= 0x100000001b3ull;
    }
    return hash;
}

uint64_t bt_hash_string(uint64_t hash, const char *text)
{
    return bt_hash_bytes(hash, text ? text : "", strlen(text ? text : "") + 1);
}

char *bt_program_cache_path(const char *dir, uint64_t key)
{
    size_t len = strlen(dir) + 40;
    char *path = malloc(len);
    if (path)
        snprintf(path, len, "%s/programs/%016llx.bin", dir, (unsigned long long)key);
    return path;
}

bt_cache_lookup bt_program_cache_load(const char *dir, uint64_t key, uint8_t **binary,
                                      size_t *size)
{
    *binary = NULL;
    *size = 0;
    char *path = bt_program_cache_path(dir, key);
    if (!path)
        return BT_CACHE_MISS;
    FILE *f = fopen(path, "rb");
    free(path);
    if (!f)
        return BT_CACHE_MISS;

    bt_cache_lookup result = BT_CACHE_CORRUPT;
    uint8_t header[HEADER_SIZE];
    uint8_t *payload = NULL;
    if (fread(header, 1, HEADER_SIZE, f) != HEADER_SIZE || memcmp(header, CACHE_MAGIC, 8) != 0 ||
        bt_get_u64(header + 8) != key)
        goto done;
    uint64_t payload_size = bt_get_u64(header + 16);
    uint32_t crc = (uint32_t)bt_get_u64(header + 24); /* low half is the CRC, high half zero */
    if (payload_size == 0 || payload_size > MAX_PAYLOAD || (bt_get_u64(header + 24) >> 32) != 0)
        goto done;
    payload = malloc((size_t)payload_size);
    if (!payload) {
        result = BT_CACHE_MISS;
        goto done;
    }
    if (fread(payload, 1, (size_t)payload_size, f) != payload_size || fgetc(f) != EOF ||
        bt_crc32_update(BT_CRC32_INIT, payload, (size_t)payload_size) != crc)
        goto done;
    *binary = payload;
    *size = (size_t)payload_size;
    payload = NULL;
    result = BT_CACHE_HIT;
done:
    free(payload);
    fclose(f);
    return result;
}

/* mkdir -p for the two levels we use. */
static bt_status ensure_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    for (char *p = copy + 1; *p; ++p) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
            bt_status s = bt_fail(BT_ERR_IO, "cannot create cache folder %s: %s", copy,
                                  strerror(errno));
            free(copy);
            return s;
        }
        *p = '/';
    }
    bt_status status = BT_OK;
    if (mkdir(copy, 0755) != 0 && errno != EEXIST)
        status = bt_fail(BT_ERR_IO, "cannot create cache folder %s: %s", copy, strerror(errno));
    free(copy);
    return status;
}

bt_status bt_program_cache_store(const char *dir, uint64_t key, const uint8_t *binary,
                                 size_t size)
{
    if (!binary || size == 0 || size > MAX_PAYLOAD)
        return bt_fail(BT_ERR_INVALID_ARGUMENT, "program binary of %zu bytes not cached", size);
    char *path = bt_program_cache_path(dir, key);
    if (!path)
        return bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    char *slash = strrchr(path, '/');
    *slash = '\0';
    bt_status status = ensure_dir(path);
    *slash = '/';
    if (status != BT_OK) {
        free(path);
        return status;
    }

    uint8_t header[HEADER_SIZE] = {0};
    memcpy(header, CACHE_MAGIC, 8);
    bt_put_u64(header + 8, key);
    bt_put_u64(header + 16, size);
    bt_put_u64(header + 24, bt_crc32_update(BT_CRC32_INIT, binary, size));

    bt_atomic_part parts[] = {{header, HEADER_SIZE}, {binary, size}};
    bt_atomic_step step = bt_atomic_write(path, parts, 2);
    if (step == BT_ATOMIC_NO_MEMORY)
        status = bt_fail(BT_ERR_OUT_OF_HOST_MEMORY, "out of host memory");
    else if (step != BT_ATOMIC_OK)
        status = bt_fail(BT_ERR_IO, "cannot write program cache file %s: %s", path,
                         strerror(errno));
    free(path);
    return status;
}
