/* Internal: the seeded PRNG behind initial parameters and epoch shuffles (xoshiro256**, seeded
 * by splitmix64), so results depend only on the seed, never on the platform's rand(). */
#ifndef BT_RNG_H
#define BT_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct bt_rng {
    uint64_t s[4];
} bt_rng;

/* splitmix64 (Steele, Lea and Flood): advances *state by the golden-ratio increment and returns
 * its mix. The generator of every fixed pseudo-random value we draw outside bt_rng. */
uint64_t bt_splitmix64(uint64_t *state);

/* The seed of the epoch shuffles for a network seed: splitmix64's first output from it, so the
 * shuffle and the initial parameters draw different streams from one seed. `batchtune train` and
 * the tuner both use it, so that one seed gives the same epoch orders in both. */
uint64_t bt_rng_shuffle_seed(uint64_t network_seed);

/* A stream for (seed, stream): different streams of one seed are independent. */
void bt_rng_init(bt_rng *rng, uint64_t seed, uint64_t stream);
uint64_t bt_rng_next(bt_rng *rng);
/* Uniform in [0, 1). */
double bt_rng_uniform(bt_rng *rng);
/* Standard normal (Box-Muller). */
double bt_rng_normal(bt_rng *rng);
/* Uniform integer in [0, bound), unbiased; bound > 0. */
uint64_t bt_rng_below(bt_rng *rng, uint64_t bound);
/* Fisher-Yates: values becomes a uniformly random permutation of 0..count-1. */
void bt_rng_permutation(bt_rng *rng, uint32_t *values, size_t count);

#endif
