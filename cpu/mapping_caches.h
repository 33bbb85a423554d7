// Everything that remembers the guest's virtual -> physical mapping, and how
// each change of that mapping drops what it must:
//
//   the inline TLB       guest page -> host page, per privilege class
//   the jump cache       guest VA -> translated block (indirect branches)
//   cross-page links     a direct branch chained to a block on another
//                        virtual page (a same-page link cannot go stale: its
//                        source runs only while the page maps where it did)
//
// A CR3 write drops all of it except what belongs to global pages (PTE.G
// with CR4.PGE), which the architecture keeps across CR3 writes; INVLPG drops
// one page; a change of paging mode (CR0, CR4, EFER) drops everything.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "codecache/code_cache.h"
#include "cpu/thunks.h"
#include "cpu/vcpu_context.h"
#include "mmu/tlb.h"

namespace xlat {

struct Stats;

class MappingCaches {
 public:
  MappingCaches(VcpuContext& ctx, InlineTlb& tlb, CodeCache& cache, const Thunks& thunks, Stats& stats);

  // ---- The jump cache. ----
  void FillJumpCache(Block* b);
  void ForgetJumpCache(Block* b);
  // The block the jump cache holds for guest VA `rip` in `priv`, if valid.
  Block* LookupJumpCache(uint64_t rip, PrivClass priv) const;

  // ---- Links. ----
  // Links exit -> target, remembering it if it crosses pages.
  void Link(BlockExit& exit, Block* target);

  // ---- Mapping changes. ----
  void OnCr3Write();
  void OnInvlpg(uint64_t va);
  void OnPagingModeChange();
  // The code cache was flushed: nothing refers to a block any more.
  void OnCacheFlush();

 private:
  void ClearJumpCacheEntry(unsigned priv, unsigned index);
  void UnlinkCrossPage(bool keep_global);
  void UnlinkCrossPageTo(uint64_t page);

  VcpuContext& ctx_;
  InlineTlb& tlb_;
  CodeCache& cache_;
  const Thunks& thunks_;
  Stats& stats_;
  // Per jump-cache entry, the block it names (for the VMM's own lookups and
  // to know whether it is global); and the entries in use.
  std::vector<Block*> jc_blocks_[kPrivClasses];
  std::vector<uint32_t> jc_filled_[kPrivClasses];
  // Cross-page links by the virtual page of their target.
  std::unordered_map<uint64_t, std::vector<BlockExit*>> cross_links_;
  // Virtual pages of the blocks in the jump cache (may hold pages no longer
  // there; cleared with the jump cache).
  std::unordered_set<uint64_t> jc_pages_;
};

}  // namespace xlat
