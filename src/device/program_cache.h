/* Internal: on-disk cache of built OpenCL program binaries.
 *
 * One file per program, <dir>/programs/<key as 16 hex digits>.bin, where the key hashes the
 * platform, device, driver version, build options, library version and source text. File layout
 * (little-endian): "BTPROG01" | key u64 | payload size u64 | CRC-32 of payload u32 | 0 u32 |
 * payload (the device binary). Files are written to a temporary name and renamed, so a reader
 * never sees half a file; a file that fails any check is reported as corrupt and rewritten. */
#ifndef BT_PROGRAM_CACHE_H
#define BT_PROGRAM_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batchtune.h"

/* FNV-1a 64-bit: incremental, start from BT_HASH_SEED. */
#define BT_HASH_SEED 0xcbf29ce484222325ull
uint64_t bt_hash_bytes(uint64_t hash, const void *data, size_t size);
uint64_t bt_hash_string(uint64_t hash, const char *text); /* hashes the terminating NUL too */

/* malloc'ed path of the cache file for `key` under `dir`. */
char *bt_program_cache_path(const char *dir, uint64_t key);

typedef enum bt_cache_lookup {
    BT_CACHE_MISS,    /* no file */
    BT_CACHE_HIT,     /* *binary holds the payload; caller frees it */
    BT_CACHE_CORRUPT, /* a file exists but is damaged or belongs to another key */
} bt_cache_lookup;

bt_cache_lookup bt_program_cache_load(const char *dir, uint64_t key, uint8_t **binary,
                                      size_t *size);

/* Best effort: returns BT_OK or BT_ERR_IO (with a message) without touching a valid older file. */
bt_status bt_program_cache_store(const char *dir, uint64_t key, const uint8_t *binary,
                                 size_t size);

#endif
