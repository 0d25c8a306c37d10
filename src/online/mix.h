/* mix.h: the 64-bit finaliser (murmur3 fmix64) that every hash of the online table is built on. */
#ifndef CREC_ONLINE_MIX_H
#define CREC_ONLINE_MIX_H

#include <stdint.h>

static inline uint64_t crec__mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}
#endif
