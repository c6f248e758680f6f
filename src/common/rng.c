/* xoshiro256** (Blackman and Vigna), seeded through splitmix64. */
#include "common/rng.h"

#include <math.h>

uint64_t bt_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t bt_rng_shuffle_seed(uint64_t network_seed) { return bt_splitmix64(&network_seed); }

void bt_rng_init(bt_rng *rng, uint64_t seed, uint64_t stream)
{
    uint64_t state = seed ^ (stream * 0xd1342543de82ef95ull + 0x632be59bd9b4e019ull);
    for (int i = 0; i < 4; ++i)
        rng->s[i] = bt_splitmix64(&state);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t bt_rng_next(bt_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double bt_rng_uniform(bt_rng *rng) { return (double)(bt_rng_next(rng) >> 11) * 0x1.0p-53; }

double bt_rng_normal(bt_rng *rng)
{
    double u1 = 1.0 - bt_rng_uniform(rng); /* (0, 1]: log is finite */
    double u2 = bt_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t bt_rng_below(bt_rng *rng, uint64_t bound)
{
    /* Rejection from the top of the range removes the modulo bias. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do
        x = bt_rng_next(rng);
    while (x >= limit);
    return x % bound;
}

void bt_rng_permutation(bt_rng *rng, uint32_t *values, size_t count)
{
    for (size_t i = 0; i < count; ++i)
        values[i] = (uint32_t)i;
    for (size_t i = count; i > 1; --i) {
        size_t j = (size_t)bt_rng_below(rng, i);
        uint32_t tmp = values[i - 1];
        values[i - 1] = values[j];
        values[j] = tmp;
    }
}
