/* rng: seedable, reproducible random numbers (xoshiro256**).
 *
 * The whole state is the struct below: saving and restoring it (as
 * checkpoints do) continues the sequence exactly.  Independent streams for
 * one seed (data order, dropout, noise, init) come from distinct `stream`
 * ids, so adding draws to one never shifts another. */
#ifndef EKN_RNG_H
#define EKN_RNG_H
#include <stddef.h>
#include <stdint.h>

typedef struct ekn_rng {
    uint64_t s[4];
    double spare;     /* second normal deviate of the last Box-Muller pair */
    int has_spare;
} ekn_rng;

void ekn_rng_seed(ekn_rng *r, uint64_t seed, uint64_t stream);
uint64_t ekn_rng_u64(ekn_rng *r);
double ekn_rng_uniform(ekn_rng *r);            /* [0, 1) with 53 random bits */
float ekn_rng_uniformf(ekn_rng *r);            /* [0, 1) with 24 random bits */
uint64_t ekn_rng_below(ekn_rng *r, uint64_t n); /* uniform in [0, n), unbiased */
double ekn_rng_normal(ekn_rng *r);             /* standard normal */
void ekn_rng_shuffle(ekn_rng *r, uint32_t *idx, size_t n); /* Fisher-Yates */
#endif
