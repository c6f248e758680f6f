/* Internal: little-endian encoding for the files we write (program cache, parameter files), so
 * they read the same on any host. */
#ifndef BT_BYTE_ORDER_H
#define BT_BYTE_ORDER_H

#include <stdint.h>

static inline void bt_put_u32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; ++i)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void bt_put_u64(uint8_t *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; ++i)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t bt_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t bt_get_u64(const uint8_t *p)
{
    return (uint64_t)bt_get_u32(p) | (uint64_t)bt_get_u32(p + 4) << 32;
}

#endif
