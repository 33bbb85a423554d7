// Everything that remembers the guest's virtual -> physical mapping, and how
// each change of that mapping drops what it must:
//
//   the inline TLB       guest page -> host page, per privilege class
//   the jump cache       guest VA -> translated block (indirect branches)
//   cross-page links     a direct branch chained to a block on another
//                        virtual page (a same-page link cannot go stale: its
//                        source runs only while the page maps where it did)
//
// Shadow address spaces. With N > 0 spaces configured, what was learned for
// an address space (the non-global part of all three) is set aside when CR3
// moves to another one and put back when CR3 returns, so a process switch
// back to one of the N most recent address spaces costs no walks and no
// exits. That is right because the cached state is kept coherent with the
// guest's page tables instead of being thrown away: every walk that feeds a
// cache is recorded in a PageTableWatch, the pages it read are write-
// protected, and a store to one drops exactly the virtual ranges its entries
// map, in whichever address space they belong to. For the same reason a CR3
// write of the current value (Linux's local TLB flush without PCID) drops
// nothing: there is nothing stale to drop. Global pages are outside all of
// this: the architecture keeps them across CR3 writes and page-table stores
// alike until INVLPG or a CR4.PGE change (SDM 4.10.2.4), so their walks are
// not watched and stores never drop them.
//
// With N = 0 (-accel tcg,shadow-spaces=0) every CR3 write drops all but the
// global pages, as a TLB without PCIDs does, and nothing is watched.
//
// INVLPG drops one page (all of a large page); a change of paging mode (CR0,
// CR4, EFER) drops everything, in every address space.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "codecache/code_cache.h"
#include "cpu/thunks.h"
#include "cpu/vcpu_context.h"
#include "mmu/page_table_watch.h"
#include "mmu/page_walker.h"
#include "mmu/tlb.h"

namespace xlat {

struct Stats;

class MappingCaches {
 public:
  static constexpr unsigned kDefaultSpaces = 8;
  static constexpr unsigned kMaxSpaces = PageTableWatch::kMaxSpaces;

  MappingCaches(VcpuContext& ctx, InlineTlb& tlb, CodeCache& cache, const Thunks& thunks, Stats& stats,
                unsigned spaces);

  // ---- The jump cache. ----
  void FillJumpCache(Block* b);
  void ForgetJumpCache(Block* b);
  // The block the jump cache holds for guest VA `rip` in `priv`, if valid.
  Block* LookupJumpCache(uint64_t rip, PrivClass priv) const;

  // ---- Links. ----
  // Links exit -> target, remembering it if it crosses pages.
  void Link(BlockExit& exit, Block* target);

  // ---- Walks and page-table stores. ----
  // A walk of `va` whose result is about to be cached (TLB fill, code
  // lookup). Page-table pages it makes watched lose write access at once.
  void RecordWalk(uint64_t va, const WalkResult& w);
  // Whether stores to guest physical page `pa_page` must take the slow path
  // because it holds page tables the caches depend on.
  bool IsPageTable(uint64_t pa_page) const { return watch_.IsWatched(pa_page); }
  // The guest stored n bytes at guest physical `pa` (any page): drops what
  // the page-table entries it changed mapped. old_words/new_words: see
  // PageTableWatch::OnWrite.
  void OnPhysicalWrite(uint64_t pa, size_t n, const uint64_t* old_words = nullptr,
                       const uint64_t* new_words = nullptr) {
    if (!watch_.empty()) OnPageTableWrite(pa, n, old_words, new_words);
  }
  // Whether a store to [pa, pa + n) touches a watched page-table page.
  bool TouchesPageTable(uint64_t pa, size_t n) const {
    return !watch_.empty() && n && (watch_.IsWatched(pa & ~0xfffull) || watch_.IsWatched((pa + n - 1) & ~0xfffull));
  }

  // ---- Mapping changes. ----
  void OnCr3Write(uint64_t old_cr3, uint64_t new_cr3);
  void OnInvlpg(uint64_t va);
  void OnPagingModeChange();
  // The code cache was flushed: nothing refers to a block any more.
  void OnCacheFlush();

 private:
  // What one address space learned, set aside while it is not current.
  struct AddressSpace {
    uint64_t root = ~0ull;  // CR3's page-table base
    uint64_t last_used = 0;
    std::vector<SavedTlbEntry> tlb;
    uint64_t tlb_saved_at = 0;  // InlineTlb::revocations() when tlb was saved
    std::vector<Block*> jc;  // jump-cache blocks (slot and class follow from the block)
    std::vector<std::pair<BlockExit*, Block*>> links;
  };

  void ClearJumpCacheEntry(unsigned priv, unsigned index);
  // Unlinks cross-page links (all, or all but those to global code); the
  // ones visited go to *saved if given. Non-global links whose exit carries
  // the stamp `keep` (MarkKept; 0: none) stay, as in UnlinkList.
  void UnlinkCrossPage(bool keep_global, std::vector<std::pair<BlockExit*, Block*>>* saved, uint64_t keep = 0);
  void UnlinkCrossPageTo(uint64_t page);
  // Clears the non-global jump-cache entries but those stamped `keep`.
  void FlushNonGlobalJumpCache(std::vector<Block*>* saved, uint64_t keep = 0);
  // Drops the current address space's non-global state for guest pages in [begin, end).
  void FlushLiveRange(uint64_t begin, uint64_t end);
  void OnPageTableWrite(uint64_t pa, size_t n, const uint64_t* old_words, const uint64_t* new_words);
  void SwitchSpace(uint64_t root);
  void Restore(AddressSpace& s);

  VcpuContext& ctx_;
  InlineTlb& tlb_;
  CodeCache& cache_;
  const Thunks& thunks_;
  Stats& stats_;
  // Per jump-cache entry, the block it names (for the VMM's own lookups and
  // to know whether it is global).
  std::vector<Block*> jc_blocks_[kPrivClasses];
  // The entries in use by the virtual page of their block: non-global and
  // global code apart, so that a CR3 write visits only what it drops.
  // Values are JcSlot()s; one may be stale (its entry reused): check the block.
  using PageIndex = std::unordered_map<uint64_t, std::vector<uint32_t>>;
  PageIndex jc_local_pages_, jc_global_pages_;
  static uint32_t JcSlot(unsigned priv, unsigned index) { return priv << 16 | index; }
  // Cross-page links by the virtual page of their target, non-global and
  // global targets apart.
  using LinkIndex = std::unordered_map<uint64_t, std::vector<BlockExit*>>;
  LinkIndex cross_links_, global_cross_links_;
  // Drops the jump-cache entries `slots` lists for `page`, each valid one
  // going to *saved if given, but for those whose block carries the stamp
  // `keep` (0: none); `slots` is left listing only those.
  void ClearJumpCachePage(uint64_t page, std::vector<uint32_t>& slots, std::vector<Block*>* saved, uint64_t keep = 0);
  // Unlinks the links into `page` that `exits` lists, likewise.
  void UnlinkList(uint64_t page, std::vector<BlockExit*>& exits, std::vector<std::pair<BlockExit*, Block*>>* saved,
                  uint64_t keep = 0);
  void ClearAllJumpCache();
  // Drops a page index's empty lists once it has grown past kMaxIdlePages.
  template <typename Index>
  void PruneIndex(Index& index);
  static constexpr size_t kMaxIdlePages = 4096;

  // A CR3 write between two cached address spaces leaves in place the
  // jump-cache entries and cross-page links that the next one would put
  // back (two processes of one program share their code): MarkKept stamps
  // the next space's saved ones with a fresh stamp, and the flush and
  // unlink pass over stamped ones (still saving them for the space being
  // left), which stay in the page indexes.
  uint64_t keep_stamp_ = 0;
  int SpaceOf(uint64_t root) const;
  uint64_t MarkKept(const AddressSpace& next);

  // Shadow address spaces; empty when disabled. current_ indexes the one CR3 names.
  std::vector<AddressSpace> spaces_;
  unsigned current_ = 0;
  uint64_t clock_ = 0;
  PageTableWatch watch_;
  std::vector<uint64_t> newly_watched_;
  std::vector<PageTableWatch::Range> ranges_;
};

}  // namespace xlat
