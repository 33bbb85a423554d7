#include "cpu/mapping_caches.h"

#include <algorithm>
#include <cinttypes>

#include "cpu/trace.h"
#include "frontend/stats.h"

namespace xlat {

namespace {
constexpr uint64_t kRootMask = ((uint64_t{1} << kGuestPhysAddrBits) - 1) & ~uint64_t{0xfff};
uint64_t PageOf(uint64_t va) { return va & ~0xfffull; }
bool InRange(uint64_t va, uint64_t begin, uint64_t end) { return va >= begin && va < end; }
}  // namespace

MappingCaches::MappingCaches(VcpuContext& ctx, InlineTlb& tlb, CodeCache& cache, const Thunks& thunks,
                             Stats& stats, unsigned spaces)
    : ctx_(ctx), tlb_(tlb), cache_(cache), thunks_(thunks), stats_(stats) {
  for (unsigned p = 0; p < kPrivClasses; ++p) {
    jc_blocks_[p].assign(kJumpCacheEntries, nullptr);
    for (unsigned i = 0; i < kJumpCacheEntries; ++i) ClearJumpCacheEntry(p, i);
  }
  spaces_.resize(std::min(spaces, kMaxSpaces));
  stats_.shadow_spaces = spaces_.size();
}

// ---- The jump cache ----

template <typename Index>
void MappingCaches::PruneIndex(Index& index) {
  // A CR3 write empties the non-global indexes' lists, and the next address
  // space mostly lists the same pages again (two processes of one program
  // share their code's addresses): the lists keep their nodes and capacity,
  // so that filling them allocates nothing. Beyond a bound, empty ones go.
  if (index.size() > kMaxIdlePages) std::erase_if(index, [](const auto& node) { return node.second.empty(); });
}

void MappingCaches::ClearJumpCacheEntry(unsigned p, unsigned i) {
  ctx_.jc_tag[p][i] = kTlbInvalidNegTag;
  ctx_.jc_code[p][i] = reinterpret_cast<uint64_t>(thunks_.lookup_miss);
  jc_blocks_[p][i] = nullptr;
}

void MappingCaches::FillJumpCache(Block* b) {
  if (TraceOn(kLogExec | kLogCpu | kLogNoChain)) return;  // every block entry goes through the dispatcher
  const unsigned p = static_cast<unsigned>(b->priv), i = b->guest_rip & (kJumpCacheEntries - 1);
  if (jc_blocks_[p][i] != b)
    (b->global_code ? jc_global_pages_ : jc_local_pages_)[PageOf(b->guest_rip)].push_back(JcSlot(p, i));
  ctx_.jc_tag[p][i] = 0 - b->guest_rip;
  ctx_.jc_code[p][i] = reinterpret_cast<uint64_t>(b->host_code);
  jc_blocks_[p][i] = b;
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

void MappingCaches::ClearJumpCachePage(uint64_t page, std::vector<uint32_t>& slots, std::vector<Block*>* saved,
                                       uint64_t keep) {
  size_t kept = 0;
  for (uint32_t slot : slots) {
    const unsigned p = slot >> 16, i = slot & 0xffff;
    Block* b = jc_blocks_[p][i];
    if (!b || PageOf(b->guest_rip) != page) continue;  // the entry was reused
    if (saved && b->valid) saved->push_back(b);
    if (keep && b->jc_keep_stamp == keep)
      slots[kept++] = slot;
    else
      ClearJumpCacheEntry(p, i);
  }
  slots.resize(kept);
}

void MappingCaches::FlushNonGlobalJumpCache(std::vector<Block*>* saved, uint64_t keep) {
  for (auto& [page, slots] : jc_local_pages_) ClearJumpCachePage(page, slots, saved, keep);
  PruneIndex(jc_local_pages_);
}

void MappingCaches::ClearAllJumpCache() {
  for (unsigned p = 0; p < kPrivClasses; ++p)
    for (unsigned i = 0; i < kJumpCacheEntries; ++i)
      if (jc_blocks_[p][i]) ClearJumpCacheEntry(p, i);
  jc_local_pages_.clear();
  jc_global_pages_.clear();
}

// ---- Links ----

void MappingCaches::Link(BlockExit& exit, Block* target) {
  cache_.Link(exit, target);
  if (target && PageOf(target->guest_rip) != PageOf(exit.from->guest_rip))
    (target->global_code ? global_cross_links_ : cross_links_)[PageOf(target->guest_rip)].push_back(&exit);
}

void MappingCaches::UnlinkList(uint64_t page, std::vector<BlockExit*>& exits,
                               std::vector<std::pair<BlockExit*, Block*>>* saved, uint64_t keep) {
  size_t kept = 0;
  for (BlockExit* e : exits) {
    Block* t = e->linked_to;
    if (!t || PageOf(t->guest_rip) != page) continue;  // relinked or gone
    if (saved) saved->push_back({e, t});
    if (keep && e->keep_stamp == keep && e->keep_target == t)
      exits[kept++] = e;
    else
      cache_.Link(*e, nullptr);
  }
  exits.resize(kept);
}

void MappingCaches::UnlinkCrossPage(bool keep_global, std::vector<std::pair<BlockExit*, Block*>>* saved,
                                    uint64_t keep) {
  for (auto& [page, exits] : cross_links_) UnlinkList(page, exits, saved, keep);
  PruneIndex(cross_links_);
  if (keep_global) return;
  for (auto& [page, exits] : global_cross_links_) UnlinkList(page, exits, saved);
  global_cross_links_.clear();
}

void MappingCaches::UnlinkCrossPageTo(uint64_t page) {
  for (LinkIndex* index : {&cross_links_, &global_cross_links_}) {
    auto it = index->find(page);
    if (it == index->end()) continue;
    UnlinkList(page, it->second, nullptr);
    index->erase(it);
  }
}

// ---- Walks and page-table stores ----

void MappingCaches::RecordWalk(uint64_t va, const WalkResult& w) {
  // Global translations need no watching: see the header.
  if (spaces_.empty() || !w.ok || w.table_count == 0 || w.global) return;
  newly_watched_.clear();
  watch_.Record(current_, va, w.tables, w.table_count, &newly_watched_);
  for (uint64_t pa : newly_watched_) {
    // From now on stores to it must be seen. Saved writable entries are
    // checked when they are restored.
    tlb_.RevokeWrite(pa);
    stats_.pt_pages_watched++;
  }
}

void MappingCaches::FlushLiveRange(uint64_t begin, uint64_t end) {
  tlb_.FlushRange(begin, end, /*keep_global=*/true);
  auto drop_pages = [&](auto& index, auto&& drop) {
    if ((end - begin) / 4096 <= 64) {
      for (uint64_t page = PageOf(begin); page < end; page += 4096) {
        auto it = index.find(page);
        if (it == index.end()) continue;
        drop(page, it->second);
        index.erase(it);
      }
      return;
    }
    for (auto it = index.begin(); it != index.end();) {
      if (!InRange(it->first, begin, end)) {
        ++it;
        continue;
      }
      drop(it->first, it->second);
      it = index.erase(it);
    }
  };
  drop_pages(jc_local_pages_, [&](uint64_t page, std::vector<uint32_t>& slots) { ClearJumpCachePage(page, slots, nullptr); });
  drop_pages(cross_links_, [&](uint64_t page, std::vector<BlockExit*>& exits) { UnlinkList(page, exits, nullptr); });
}

void MappingCaches::OnPageTableWrite(uint64_t pa, size_t n, const uint64_t* old_words,
                                     const uint64_t* new_words) {
  ranges_.clear();
  const uint64_t released_before = watch_.released();
  if (!watch_.OnWrite(pa, n, &ranges_, old_words, new_words)) return;
  stats_.pt_write_faults++;
  stats_.pt_pages_released += watch_.released() - released_before;
  for (const PageTableWatch::Range& r : ranges_) {
    stats_.shadow_invalidations++;
    if (TraceOn(kLogMmu))
      Tracer::Get().Printf("mmu: page-table store at pa=%" PRIx64 " drops [%016" PRIx64 ", %016" PRIx64 ") of space %u\n",
                           pa, r.begin, r.end, r.space);
    if (r.space == current_) {
      FlushLiveRange(r.begin, r.end);
      continue;
    }
    if (r.space >= spaces_.size()) continue;
    AddressSpace& s = spaces_[r.space];
    std::erase_if(s.tlb, [&](const SavedTlbEntry& e) { return InRange(e.va_page, r.begin, r.end); });
    std::erase_if(s.jc, [&](Block* b) { return InRange(b->guest_rip, r.begin, r.end); });
    std::erase_if(s.links, [&](const std::pair<BlockExit*, Block*>& l) {
      return InRange(l.second->guest_rip, r.begin, r.end);
    });
  }
}

// ---- Mapping changes ----

void MappingCaches::OnCr3Write(uint64_t old_cr3, uint64_t new_cr3) {
  stats_.tlb_flushes++;
  if (spaces_.empty()) {
    tlb_.FlushNonGlobal();
    FlushNonGlobalJumpCache(nullptr);
    UnlinkCrossPage(/*keep_global=*/true, nullptr);
    return;
  }
  AddressSpace& cur = spaces_[current_];
  if (cur.root == ~0ull) cur.root = old_cr3 & kRootMask;  // what was learned so far was under the old CR3
  const uint64_t root = new_cr3 & kRootMask;
  if (root == cur.root) {
    // The caches hold nothing a walk would not give again.
    stats_.cr3_reloads++;
    return;
  }
  // Set the current address space aside, but for what the next one, if
  // cached, would put back as it is.
  const int next = SpaceOf(root);
  const uint64_t keep = next >= 0 ? MarkKept(spaces_[static_cast<unsigned>(next)]) : 0;
  cur.tlb.clear();
  cur.jc.clear();
  cur.links.clear();
  tlb_.SaveAndFlushNonGlobal(&cur.tlb);
  cur.tlb_saved_at = tlb_.revocations();
  FlushNonGlobalJumpCache(&cur.jc, keep);
  UnlinkCrossPage(/*keep_global=*/true, &cur.links, keep);
  cur.last_used = ++clock_;
  SwitchSpace(root);
}

int MappingCaches::SpaceOf(uint64_t root) const {
  for (unsigned i = 0; i < spaces_.size(); ++i)
    if (spaces_[i].root == root) return static_cast<int>(i);
  return -1;
}

uint64_t MappingCaches::MarkKept(const AddressSpace& next) {
  // (Restore skips what is in place: a jump-cache slot that holds its
  // block, an exit linked to its target. TLB entries differ: two processes
  // share code, but the data they touch is their own.)
  const uint64_t stamp = ++keep_stamp_;
  for (Block* b : next.jc) b->jc_keep_stamp = stamp;
  for (auto [exit, target] : next.links) {
    exit->keep_stamp = stamp;
    exit->keep_target = target;
  }
  return stamp;
}

void MappingCaches::SwitchSpace(uint64_t root) {
  if (const int i = SpaceOf(root); i >= 0) {
    current_ = static_cast<unsigned>(i);
    stats_.space_switches_cached++;
    Restore(spaces_[current_]);
    return;
  }
  // A new address space takes the least recently used slot.
  unsigned victim = current_ == 0 && spaces_.size() > 1 ? 1 : 0;
  for (unsigned i = 0; i < spaces_.size(); ++i)
    if (i != current_ && spaces_[i].last_used < spaces_[victim].last_used) victim = i;
  AddressSpace& s = spaces_[victim];
  watch_.DropSpace(victim);
  s = AddressSpace{};
  s.root = root;
  current_ = victim;
  stats_.space_switches_built++;
}

void MappingCaches::Restore(AddressSpace& s) {
  // Entries saved writable stay so only if the page has not become code or
  // page tables meanwhile (both take stores through the slow path).
  stats_.tlb_entries_restored += tlb_.Restore(
      s.tlb, s.tlb_saved_at, [this](uint64_t pa_page) { return !cache_.IsCodePage(pa_page) && !watch_.IsWatched(pa_page); });
  for (Block* b : s.jc)
    if (b->valid && !jc_blocks_[static_cast<unsigned>(b->priv)][b->guest_rip & (kJumpCacheEntries - 1)])
      FillJumpCache(b);
  for (auto [exit, target] : s.links)
    if (exit->from->valid && target->valid && !exit->linked_to) Link(*exit, target);
  s.tlb.clear();
  s.jc.clear();
  s.links.clear();
}

void MappingCaches::OnInvlpg(uint64_t va) {
  const uint64_t page = PageOf(va);
  tlb_.FlushPage(page);
  for (PageIndex* index : {&jc_local_pages_, &jc_global_pages_}) {
    auto it = index->find(page);
    if (it == index->end()) continue;
    ClearJumpCachePage(page, it->second, nullptr);
    index->erase(it);
  }
  UnlinkCrossPageTo(page);
}

void MappingCaches::OnPagingModeChange() {
  tlb_.FlushAll();
  stats_.tlb_flushes++;
  ClearAllJumpCache();
  UnlinkCrossPage(/*keep_global=*/false, nullptr);
  // Nothing learned under the old mode holds: forget every address space.
  for (AddressSpace& s : spaces_) s = AddressSpace{};
  watch_.Clear();
}

void MappingCaches::OnCacheFlush() {
  ClearAllJumpCache();
  cross_links_.clear();
  global_cross_links_.clear();
  // Saved blocks and links are gone with the cache; saved TLB entries stay.
  for (AddressSpace& s : spaces_) {
    s.jc.clear();
    s.links.clear();
  }
}

}  // namespace xlat
