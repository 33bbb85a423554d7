#include "cpu/mapping_caches.h"

#include "cpu/trace.h"
#include "frontend/stats.h"

namespace xlat {

namespace {
constexpr size_t kMaxTrackedJc = 16384;
uint64_t PageOf(uint64_t va) { return va & ~0xfffull; }
}  // namespace

MappingCaches::MappingCaches(VcpuContext& ctx, InlineTlb& tlb, CodeCache& cache, const Thunks& thunks,
                             Stats& stats)
    : ctx_(ctx), tlb_(tlb), cache_(cache), thunks_(thunks), stats_(stats) {
  for (unsigned p = 0; p < kPrivClasses; ++p) {
    jc_blocks_[p].assign(kJumpCacheEntries, nullptr);
    for (unsigned i = 0; i < kJumpCacheEntries; ++i) ClearJumpCacheEntry(p, i);
  }
}

void MappingCaches::ClearJumpCacheEntry(unsigned p, unsigned i) {
  ctx_.jc_tag[p][i] = kTlbInvalidNegTag;
  ctx_.jc_code[p][i] = reinterpret_cast<uint64_t>(thunks_.lookup_miss);
  jc_blocks_[p][i] = nullptr;
}

void MappingCaches::FillJumpCache(Block* b) {
  if (TraceOn(kLogExec | kLogCpu)) return;  // every block entry goes through the dispatcher
  const unsigned p = static_cast<unsigned>(b->priv), i = b->guest_rip & (kJumpCacheEntries - 1);
  if (!jc_blocks_[p][i] && jc_filled_[p].size() <= kMaxTrackedJc) jc_filled_[p].push_back(i);
  ctx_.jc_tag[p][i] = 0 - b->guest_rip;
  ctx_.jc_code[p][i] = reinterpret_cast<uint64_t>(b->host_code);
  jc_blocks_[p][i] = b;
  jc_pages_.insert(PageOf(b->guest_rip));
  stats_.jump_cache_fills++;
}

void MappingCaches::ForgetJumpCache(Block* b) {
  const unsigned p = static_cast<unsigned>(b->priv), i = b->guest_rip & (kJumpCacheEntries - 1);
  if (jc_blocks_[p][i] == b) ClearJumpCacheEntry(p, i);
}

Block* MappingCaches::LookupJumpCache(uint64_t rip, PrivClass priv) const {
  const unsigned p = static_cast<unsigned>(priv), i = rip & (kJumpCacheEntries - 1);
  Block* b = jc_blocks_[p][i];
  return b && b->valid && b->guest_rip == rip ? b : nullptr;
}

void MappingCaches::Link(BlockExit& exit, Block* target) {
  cache_.Link(exit, target);
  if (target && PageOf(target->guest_rip) != PageOf(exit.from->guest_rip))
    cross_links_[PageOf(target->guest_rip)].push_back(&exit);
}

void MappingCaches::UnlinkCrossPage(bool keep_global) {
  for (auto it = cross_links_.begin(); it != cross_links_.end();) {
    std::vector<BlockExit*>& v = it->second;
    size_t kept = 0;
    for (BlockExit* e : v) {
      Block* t = e->linked_to;
      if (!t || PageOf(t->guest_rip) != it->first) continue;  // relinked or gone
      if (keep_global && t->global_code)
        v[kept++] = e;
      else
        cache_.Link(*e, nullptr);
    }
    v.resize(kept);
    it = v.empty() ? cross_links_.erase(it) : std::next(it);
  }
}

void MappingCaches::UnlinkCrossPageTo(uint64_t page) {
  auto it = cross_links_.find(page);
  if (it == cross_links_.end()) return;
  for (BlockExit* e : it->second)
    if (e->linked_to && PageOf(e->linked_to->guest_rip) == page) cache_.Link(*e, nullptr);
  cross_links_.erase(it);
}

void MappingCaches::OnCr3Write() {
  tlb_.FlushNonGlobal();
  stats_.tlb_flushes++;
  for (unsigned p = 0; p < kPrivClasses; ++p) {
    if (jc_filled_[p].size() > kMaxTrackedJc) {
      for (unsigned i = 0; i < kJumpCacheEntries; ++i)
        if (jc_blocks_[p][i] && !jc_blocks_[p][i]->global_code) ClearJumpCacheEntry(p, i);
      jc_filled_[p].clear();
      for (unsigned i = 0; i < kJumpCacheEntries; ++i)
        if (jc_blocks_[p][i]) jc_filled_[p].push_back(i);
      continue;
    }
    size_t kept = 0;
    for (uint32_t i : jc_filled_[p]) {
      Block* b = jc_blocks_[p][i];
      if (!b) continue;
      if (b->global_code)
        jc_filled_[p][kept++] = i;
      else
        ClearJumpCacheEntry(p, i);
    }
    jc_filled_[p].resize(kept);
  }
  UnlinkCrossPage(/*keep_global=*/true);
}

void MappingCaches::OnInvlpg(uint64_t va) {
  const uint64_t page = PageOf(va);
  tlb_.FlushPage(page);
  if (jc_pages_.erase(page)) {
    for (unsigned p = 0; p < kPrivClasses; ++p)
      for (uint64_t v = page; v < page + 4096; ++v) {
        const unsigned i = v & (kJumpCacheEntries - 1);
        Block* b = jc_blocks_[p][i];
        if (b && PageOf(b->guest_rip) == page) ClearJumpCacheEntry(p, i);
      }
  }
  UnlinkCrossPageTo(page);
}

void MappingCaches::OnPagingModeChange() {
  tlb_.FlushAll();
  stats_.tlb_flushes++;
  for (unsigned p = 0; p < kPrivClasses; ++p) {
    for (unsigned i = 0; i < kJumpCacheEntries; ++i)
      if (jc_blocks_[p][i]) ClearJumpCacheEntry(p, i);
    jc_filled_[p].clear();
  }
  UnlinkCrossPage(/*keep_global=*/false);
  jc_pages_.clear();
}

void MappingCaches::OnCacheFlush() {
  for (unsigned p = 0; p < kPrivClasses; ++p) {
    for (unsigned i = 0; i < kJumpCacheEntries; ++i)
      if (jc_blocks_[p][i]) ClearJumpCacheEntry(p, i);
    jc_filled_[p].clear();
  }
  cross_links_.clear();
  jc_pages_.clear();
}

}  // namespace xlat
