// BlockIndex (codecache/block_index.h) against std::unordered_map as the
// reference: random inserts, replacements and erasures, with keys crowded
// into few home slots so that probe runs wrap around the table's end and
// backward-shift deletion has to move entries across the wrap.
#include "codecache/block_index.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>
#include <vector>

namespace xlat {
namespace {

Block* FakeBlock(uint64_t n) { return reinterpret_cast<Block*>((n + 1) * 64); }

void ExpectSame(const BlockIndex& index, const std::unordered_map<uint64_t, Block*>& ref,
                const std::vector<uint64_t>& keys) {
  ASSERT_EQ(index.size(), ref.size());
  for (uint64_t k : keys) {
    auto it = ref.find(k);
    ASSERT_EQ(index.Find(k), it == ref.end() ? nullptr : it->second) << "key " << k;
  }
}

TEST(BlockIndex, MatchesAReferenceMapThroughInsertsReplacementsAndErasures) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    BlockIndex index(4);  // small: it has to grow too
    std::unordered_map<uint64_t, Block*> ref;
    // Few distinct keys (BlockKey-like: physical address << 1 | class) so
    // that the same ones come back after being erased.
    std::vector<uint64_t> keys;
    for (unsigned i = 0; i < 300; ++i) keys.push_back(((rng() % 4096) << 13) | (rng() & 1));
    for (unsigned step = 0; step < 20000; ++step) {
      const uint64_t k = keys[rng() % keys.size()];
      switch (rng() % 3) {
        case 0: case 1: {
          Block* b = FakeBlock(rng() % 1000);
          index.Set(k, b);
          ref[k] = b;
          break;
        }
        default: {
          // EraseIf only erases when the block matches.
          auto it = ref.find(k);
          Block* b = (it != ref.end() && rng() % 4) ? it->second : FakeBlock(5000 + rng() % 10);
          index.EraseIf(k, b);
          if (it != ref.end() && it->second == b) ref.erase(it);
          break;
        }
      }
      if (step % 500 == 0) ExpectSame(index, ref, keys);
    }
    ExpectSame(index, ref, keys);
    index.Clear();
    ref.clear();
    ExpectSame(index, ref, keys);
  }
}

}  // namespace
}  // namespace xlat
