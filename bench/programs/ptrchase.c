// ptrchase.c — pointer chasing through a 256 MiB array holding one random
// cycle (Sattolo's algorithm): every load depends on the previous one and
// misses the caches and the TLB. Measures memory latency and, under xlat,
// what the inline TLB check adds to a dependent load.
#include "common.h"

#define ENTRIES (32u << 20)  // 32 Mi x 8 bytes = 256 MiB
#define STEPS (4u << 20)
static uint64_t next[ENTRIES];

int main(void) {
  for (uint64_t i = 0; i < ENTRIES; i++) next[i] = i;
  // Sattolo: a uniformly random cyclic permutation (one cycle through all).
  uint64_t state = 161803398;
  for (uint64_t i = ENTRIES - 1; i > 0; i--) {
    uint64_t j = SplitMix(&state) % i;
    uint64_t t = next[i];
    next[i] = next[j];
    next[j] = t;
  }
  uint64_t p = 0, h = 0;
  for (uint32_t s = 0; s < STEPS; s++) {
    p = next[p];
    h += p;
  }
  // The cycle covers every entry: following it ENTRIES times returns to 0.
  guest_printf("ptrchase-256MiB: steps=%u end=%lu sum=%016lx\n", STEPS, p, h);
  return 0;
}
