// The code cache: one fixed-size host mapping (below 2 GiB so that host code
// addresses fit in an imm32), bump-allocated, flushed whole when full.
//
// The first `runtime_bytes` hold the VMM's thunks (world switch, slow-path
// entries); they survive flushes. Everything after is translations. A flush
// drops every block, and with them every link, jump-cache entry and lookup
// entry that points into the cache: the owner (the vCPU) resets those through
// the flush callback.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "codecache/block.h"

namespace xlat {

class CodeCache {
 public:
  static std::unique_ptr<CodeCache> Create(uint64_t bytes, uint64_t runtime_bytes, std::string* error);
  ~CodeCache();

  uint8_t* runtime_base() const { return base_; }
  uint64_t runtime_bytes() const { return runtime_bytes_; }
  uint64_t capacity() const { return size_ - runtime_bytes_; }
  uint64_t used() const { return static_cast<uint64_t>(cursor_ - (base_ + runtime_bytes_)); }

  // Where the next block will be placed, and how much room is left.
  uint8_t* cursor() const { return cursor_; }
  uint64_t room() const { return static_cast<uint64_t>(base_ + size_ - cursor_); }

  // Takes ownership of a block whose host code was written at cursor() with
  // size host_size; advances the cursor and registers the block for lookup.
  Block* Commit(std::unique_ptr<Block> block);

  Block* Lookup(uint64_t key) const {
    auto it = by_key_.find(key);
    return it == by_key_.end() ? nullptr : it->second;
  }
  // The block containing host address pc, or nullptr. Async-signal-safe as long
  // as no translation is being committed concurrently (single vCPU thread).
  Block* FindByHostPc(const uint8_t* pc) const;

  // Marks a block invalid and forgets it for lookup (its memory stays until
  // the next flush, since the vCPU may be returning through it).
  void Invalidate(Block* block);

  // Drops every translation. `on_flush` callbacks run first.
  void Flush();
  void AddFlushListener(std::function<void()> fn) { flush_listeners_.push_back(std::move(fn)); }
  uint64_t flush_count() const { return flushes_; }

  // Blocks whose guest code lies on guest physical page `page` (page-aligned PA).
  const std::vector<Block*>* BlocksOnPage(uint64_t page) const {
    auto it = by_page_.find(page);
    return it == by_page_.end() ? nullptr : &it->second;
  }
  bool IsCodePage(uint64_t page) const { return by_page_.count(page) != 0; }

 private:
  CodeCache(uint8_t* base, uint64_t size, uint64_t runtime_bytes)
      : base_(base), size_(size), runtime_bytes_(runtime_bytes), cursor_(base + runtime_bytes) {}
  uint8_t* base_;
  uint64_t size_;
  uint64_t runtime_bytes_;
  uint8_t* cursor_;
  uint64_t flushes_ = 0;
  std::vector<std::unique_ptr<Block>> blocks_;   // in host address order
  std::unordered_map<uint64_t, Block*> by_key_;
  std::unordered_map<uint64_t, std::vector<Block*>> by_page_;
  std::vector<std::function<void()>> flush_listeners_;
};

}  // namespace xlat
