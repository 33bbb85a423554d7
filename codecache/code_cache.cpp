#include "codecache/code_cache.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace xlat {

std::unique_ptr<CodeCache> CodeCache::Create(uint64_t capacity, uint64_t runtime_bytes, std::string* error) {
  if (capacity < (64u << 10) || capacity > (1ull << 30)) {
    *error = "code cache size must be between 64 KiB and 1 GiB";
    return nullptr;
  }
  const uint64_t bytes = capacity + runtime_bytes;
  // MAP_32BIT: host code addresses fit in a sign-extended imm32, which lets
  // translated code name its sites and reach the thunks with rel32 jumps.
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE | PROT_EXEC,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    *error = std::string("cannot map the code cache: ") + std::strerror(errno);
    return nullptr;
  }
  return std::unique_ptr<CodeCache>(new CodeCache(static_cast<uint8_t*>(p), bytes, runtime_bytes));
}

CodeCache::CodeCache(uint8_t* base, uint64_t size, uint64_t runtime_bytes)
    : base_(base), size_(size), runtime_bytes_(runtime_bytes), cursor_(base + runtime_bytes),
      by_key_(16384) {
  // Room for the sites of a full cache (a Linux boot makes one per 90 bytes
  // of host code), so that filling it does not copy the table over and over
  // as it grows. The table's untouched tail is address space, not memory.
  // (At most a million: a bigger cache grows its table as before.)
  sites_.reserve(std::min<uint64_t>((size - runtime_bytes) / 64, uint64_t{1} << 20));
}

CodeCache::~CodeCache() { munmap(base_, size_); }

Block* CodeCache::Commit(std::unique_ptr<Block> block) {
  Block* b = block.get();
  cursor_ = b->host_code + b->host_size;
  // Keep the next block 16-byte aligned: entries are branch targets.
  cursor_ = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(cursor_) + 15) & ~uintptr_t{15});
  by_key_.Set(b->key, b);
  b->ForEachPage([this, b](uint64_t page) { by_page_[page].push_back(b); });
  for (BlockExit& e : b->exits) e.from = b;
  blocks_.push_back(std::move(block));
  return b;
}

Block* CodeCache::FindByHostPc(const uint8_t* pc) const {
  auto it = std::upper_bound(blocks_.begin(), blocks_.end(), pc,
                             [](const uint8_t* p, const std::unique_ptr<Block>& b) { return p < b->host_code; });
  if (it == blocks_.begin()) return nullptr;
  Block* b = std::prev(it)->get();
  return pc < b->host_code + b->host_size ? b : nullptr;
}

void CodeCache::Link(BlockExit& exit, Block* target) {
  if (exit.linked_to == target) return;
  if (exit.linked_to) {
    auto& in = exit.linked_to->incoming;
    in.erase(std::remove(in.begin(), in.end(), &exit), in.end());
  }
  uint8_t* dest = target ? target->entry : exit.stub;
  int32_t rel = static_cast<int32_t>(dest - (exit.patch_site + 4));
  std::memcpy(exit.patch_site, &rel, 4);  // an aligned-enough 4-byte store: one vCPU, not running
  if (exit.pool_site) {
    SetPoolSite(exit, target && exit.SkipsSpillsTo(*target) ? target->pool_entry : nullptr);
  }
  exit.linked_to = target;
  if (target) target->incoming.push_back(&exit);
}

void CodeCache::SetPoolSite(const BlockExit& exit, uint8_t* pool_entry) {
  uint8_t* site = exit.pool_site;
  if (exit.pool_site_jcc) {  // 0F 8x rel32
    uint8_t* dest = pool_entry ? pool_entry : exit.pool_reloads;
    const int32_t rel = static_cast<int32_t>(dest - (site + 6));
    std::memcpy(site + 2, &rel, 4);
    return;
  }
  if (!pool_entry) {
    std::memcpy(site, kPoolNop, sizeof kPoolNop);
    return;
  }
  const int32_t rel = static_cast<int32_t>(pool_entry - (site + 5));
  site[0] = 0xe9;  // jmp rel32
  std::memcpy(site + 1, &rel, 4);
}

void CodeCache::Invalidate(Block* block) {
  if (!block->valid) return;
  block->valid = false;
  while (!block->incoming.empty()) Link(*block->incoming.back(), nullptr);
  for (BlockExit& e : block->exits) Link(e, nullptr);
  by_key_.EraseIf(block->key, block);
  block->ForEachPage([this, block](uint64_t page) {
    auto pit = by_page_.find(page);
    if (pit == by_page_.end()) return;
    auto& v = pit->second;
    v.erase(std::remove(v.begin(), v.end(), block), v.end());
    if (v.empty()) by_page_.erase(pit);
  });
}

void CodeCache::Flush() {
  for (auto& fn : flush_listeners_) fn();
  blocks_.clear();
  sites_.clear();
  by_key_.Clear();
  by_page_.clear();
  cursor_ = base_ + runtime_bytes_;
  ++flushes_;
}

}  // namespace xlat
