// The code cache's index of valid translations by key (BlockKey: guest
// physical address and privilege class): an open-addressing hash table with
// linear probing.
//
// Why not std::unordered_map: every translation inserts once and every
// branch exit and jump-cache miss looks up, and a node-based map pays an
// allocation per insert, a division per probe and a pointer chase per hit.
// Here a probe is a multiply and usually one cache line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace xlat {

struct Block;

class BlockIndex {
 public:
  explicit BlockIndex(size_t expected = 1024) { Resize(SizeFor(expected)); }

  Block* Find(uint64_t key) const {
    for (size_t i = Home(key);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (!s.block) return nullptr;
      if (s.key == key) return s.block;
    }
  }

  // Maps key to block, replacing what it mapped to.
  void Set(uint64_t key, Block* block) {
    if (2 * (count_ + 1) > slots_.size()) Grow();
    size_t i = Home(key);
    for (; slots_[i].block; i = (i + 1) & mask_)
      if (slots_[i].key == key) {
        slots_[i].block = block;
        return;
      }
    slots_[i] = {key, block};
    ++count_;
  }

  // Forgets key if it maps to block.
  void EraseIf(uint64_t key, const Block* block) {
    for (size_t i = Home(key);; i = (i + 1) & mask_) {
      if (!slots_[i].block) return;
      if (slots_[i].key == key) {
        if (slots_[i].block == block) Erase(i);
        return;
      }
    }
  }

  void Clear() {
    for (Slot& s : slots_) s = {};
    count_ = 0;
  }
  size_t size() const { return count_; }

 private:
  struct Slot {
    uint64_t key = 0;
    Block* block = nullptr;  // nullptr: empty
  };

  static size_t SizeFor(size_t expected) {
    size_t n = 16;
    while (n < 2 * expected) n *= 2;
    return n;
  }
  size_t Home(uint64_t key) const { return (key * 0x9e3779b97f4a7c15ull) >> shift_; }

  void Resize(size_t n) {
    slots_.assign(n, Slot{});
    mask_ = n - 1;
    shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(n));
    count_ = 0;
  }
  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    Resize(old.size() * 2);
    for (const Slot& s : old)
      if (s.block) Set(s.key, s.block);
  }
  // Backward-shift deletion: moves each later entry of the probe run that
  // may live at i into it, so that lookups never need tombstones.
  void Erase(size_t i) {
    size_t j = i;
    for (;;) {
      slots_[i] = {};
      for (;;) {
        j = (j + 1) & mask_;
        if (!slots_[j].block) {
          --count_;
          return;
        }
        const size_t home = Home(slots_[j].key);
        // The entry at j stays if its home lies cyclically in (i, j].
        const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) break;
      }
      slots_[i] = slots_[j];
      i = j;
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  unsigned shift_ = 64;
  size_t count_ = 0;
};

}  // namespace xlat
