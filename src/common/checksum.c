/* CRC-32 through zlib. */
#include "common/checksum.h"

#include <limits.h>
#include <zlib.h>

uint32_t bt_crc32_update(uint32_t crc, const void *data, size_t size)
{
    /* zlib's crc32 takes an unsigned int length: feed large blocks in pieces. */
    const Bytef *p = data;
    uLong c = crc;
    while (size > 0) {
        uInt piece = size > UINT_MAX ? UINT_MAX : (uInt)size;
        c = crc32(c, p, piece);
        p += piece;
        size -= piece;
    }
    return (uint32_t)c;
}
