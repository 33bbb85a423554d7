// common.h — helpers shared by the bench kernels (guest programs: see
// roms/runtime/guest.h). Kernels print only deterministic checksums, never
// time: bench/kernels measures from the outside and compares the outputs.
#ifndef XLAT_BENCH_COMMON_H
#define XLAT_BENCH_COMMON_H

#include "guest.h"

#define NOINLINE __attribute__((noinline))

// splitmix64: fast, deterministic test data.
static inline uint64_t SplitMix(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static inline uint64_t MixIn(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdull;
}

#endif  // XLAT_BENCH_COMMON_H
