// The code cache: one fixed-size host mapping (below 2 GiB, so host code
// addresses fit in an imm32 and every block reaches the thunks with rel32),
// bump-allocated, flushed whole when full.
//
// The first `runtime_bytes` hold the VMM's thunks (world switch, slow-path
// entries); they survive flushes. Everything after is translations. A flush
// drops every block, and with them every link, site, jump-cache entry and
// lookup entry that points into the cache: the owner (the vCPU) resets the
// ones it keeps through the flush listeners.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "codecache/block.h"
#include "codecache/block_index.h"
#include "codecache/site.h"

namespace xlat {

class CodeCache {
 public:
  // `capacity` bytes for translations, plus `runtime_bytes` for the thunks.
  static std::unique_ptr<CodeCache> Create(uint64_t capacity, uint64_t runtime_bytes, std::string* error);
  ~CodeCache();
  CodeCache(const CodeCache&) = delete;
  CodeCache& operator=(const CodeCache&) = delete;

  uint8_t* runtime_base() const { return base_; }
  uint64_t runtime_bytes() const { return runtime_bytes_; }
  uint64_t capacity() const { return size_ - runtime_bytes_; }
  uint64_t used() const { return static_cast<uint64_t>(cursor_ - (base_ + runtime_bytes_)); }

  // Where the next block will be placed, and how much room is left.
  uint8_t* cursor() const { return cursor_; }
  uint64_t room() const { return static_cast<uint64_t>(base_ + size_ - cursor_); }

  // Takes ownership of a block whose host code was written at cursor(), with
  // size host_size; advances the cursor and registers the block for lookup.
  Block* Commit(std::unique_ptr<Block> block);

  Block* Lookup(uint64_t key) const { return by_key_.Find(key); }
  // The block containing host address pc, or nullptr. Async-signal-safe as
  // long as no block is being committed concurrently (one vCPU thread).
  Block* FindByHostPc(const uint8_t* pc) const;

  // Sites: ids are dense from 0 and valid until the next flush.
  uint32_t AddSite(const Site& site) {
    sites_.push_back(site);
    return static_cast<uint32_t>(sites_.size() - 1);
  }
  Site& site(uint32_t id) { return sites_[id]; }
  uint32_t site_count() const { return static_cast<uint32_t>(sites_.size()); }
  // Sites are reserved before the block's code exists; a translation that is
  // abandoned gives its sites back.
  void TruncateSites(uint32_t count) { sites_.resize(count); }

  // Points a direct exit at `target` (patching its rel32), or back at its own
  // stub when target is nullptr; and its pool site, if any, at target's pool
  // entry when their pools are the same, else back at its reloads.
  void Link(BlockExit& exit, Block* target);

  // Marks a block invalid: unlinks every exit that points at it, forgets it
  // for lookup. Its memory stays until the next flush.
  void Invalidate(Block* block);

  // Drops every translation; the flush listeners run first.
  void Flush();
  void AddFlushListener(std::function<void()> fn) { flush_listeners_.push_back(std::move(fn)); }
  uint64_t flush_count() const { return flushes_; }

  // Valid blocks whose guest code lies on guest physical page `page`.
  const std::vector<Block*>* BlocksOnPage(uint64_t page) const {
    auto it = by_page_.find(page);
    return it == by_page_.end() ? nullptr : &it->second;
  }
  bool IsCodePage(uint64_t page) const { return by_page_.count(page) != 0; }

  // Every block ever committed since the last flush, valid or not, in host order.
  const std::vector<std::unique_ptr<Block>>& blocks() const { return blocks_; }

 private:
  CodeCache(uint8_t* base, uint64_t size, uint64_t runtime_bytes);
  static void SetPoolSite(const BlockExit& exit, uint8_t* pool_entry);
  uint8_t* base_;
  uint64_t size_;
  uint64_t runtime_bytes_;
  uint8_t* cursor_;
  uint64_t flushes_ = 0;
  std::vector<std::unique_ptr<Block>> blocks_;   // in host address order
  std::vector<Site> sites_;
  BlockIndex by_key_;
  std::unordered_map<uint64_t, std::vector<Block*>> by_page_;
  std::vector<std::function<void()>> flush_listeners_;
};

// What an unlinked pool site of the nop form holds: a 5-byte nop
// (0F 1F 44 00 00), the size of the `jmp rel32` it becomes when linked.
inline constexpr uint8_t kPoolNop[5] = {0x0f, 0x1f, 0x44, 0x00, 0x00};

// The lookup key of a translation: guest physical address of its first byte
// and the privilege class it was translated for.
inline uint64_t BlockKey(uint64_t guest_phys, PrivClass priv) {
  return (guest_phys << 1) | static_cast<uint64_t>(priv);
}
// Single-instruction translations made while the guest single-steps (TF).
inline constexpr uint64_t kSingleStepKeyBit = 1ull << 63;

}  // namespace xlat
