/* Internal: CRC-32 (zlib's) over buffers of any size, for the files we write. */
#ifndef BT_CHECKSUM_H
#define BT_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of no bytes; start every running CRC from it. */
#define BT_CRC32_INIT 0u

uint32_t bt_crc32_update(uint32_t crc, const void *data, size_t size);

#endif
