// A small, fast, reproducible random source (xoshiro256**, seeded by
// splitmix64). Every sequence derives everything from its own 64-bit seed.
#pragma once

#include <cstdint>

namespace difftest {

inline uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t x = seed;
    for (auto& w : s_) w = SplitMix64(x);
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n) (n > 0); the tiny modulo bias does not matter here.
  uint64_t Below(uint64_t n) { return Next() % n; }
  // Uniform in [lo, hi] (inclusive).
  int64_t Range(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1)); }
  bool Chance(double p) { return (Next() >> 11) * (1.0 / 9007199254740992.0) < p; }
  double Unit() { return (Next() >> 11) * (1.0 / 9007199254740992.0); }
  template <typename T, unsigned long N>
  const T& Pick(const T (&a)[N]) { return a[Below(N)]; }

  // A 64-bit value with a distribution that hits the edges: small numbers,
  // powers of two and their neighbours, sign boundaries, all-ones, and noise.
  uint64_t Interesting() {
    switch (Below(10)) {
      case 0: return Below(16);
      case 1: return ~uint64_t{0} - Below(4);
      case 2: return (uint64_t{1} << Below(64)) + Range(-1, 1);
      case 3: return static_cast<uint32_t>(Next());
      case 4: return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(Next())));
      case 5: return uint64_t{0x8000000000000000} >> (Below(4) * 16);
      case 6: return Below(256);
      default: return Next();
    }
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace difftest
