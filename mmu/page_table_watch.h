// Which guest physical pages hold the page tables that cached translations
// were derived from, and which virtual ranges each of their entries maps.
//
// The shadow address-space cache (cpu/mapping_caches.h) keeps what the
// walker learned for several guest address spaces, so that switching CR3
// back to one of them needs no walks. That is right only if every change to
// a page-table entry those translations used is seen: the pages a recorded
// walk read are watched, the inline TLB never maps a watched page writable,
// a guest store to one takes the slow path, and OnWrite() names the virtual
// ranges, per address space, that the written entries map, for the caller to
// drop. Stores elsewhere cost nothing.
//
// A use is (space, level, base): the page serves as a level-`level` table of
// address space `space` (4 = PML4 .. 1 = page table) for the region that
// starts at virtual address `base`; entry i of it maps
// [base + i * span(level), base + (i + 1) * span(level)).
//
// A page written many times with no walk through it in between is most
// likely no longer a page table (the guest freed it) or is being rebuilt
// wholesale: rather than trap every store, it is released -- everything it
// maps is dropped and it is no longer watched (KVM's write-flooding rule).
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace xlat {

class PageTableWatch {
 public:
  // A virtual range of one address space that a page-table store affects.
  struct Range {
    uint32_t space;
    uint64_t begin, end;  // [begin, end), canonical guest VAs
  };
  static constexpr unsigned kMaxSpaces = 64;
  // Stores to one page, with no walk through it in between, before it is released.
  static constexpr uint32_t kFloodWrites = 32;

  // A walk of `va` in `space` read `tables` (top level first, `count` of
  // them; see WalkResult). Appends to *newly_watched the table pages that
  // were not watched before: the caller must revoke write access to them
  // wherever it cached it.
  void Record(uint32_t space, uint64_t va, const uint64_t* tables, unsigned count,
              std::vector<uint64_t>* newly_watched);

  bool IsWatched(uint64_t pa_page) const { return !pages_.empty() && pages_.count(pa_page) != 0; }
  bool empty() const { return pages_.empty(); }
  size_t watched_pages() const { return pages_.size(); }

  // A store of n bytes at guest physical `pa` (any page, watched or not):
  // appends the ranges it affects. Returns the number of watched pages it hit.
  // With the aligned 8-byte words around the store before and after it
  // (old_words[k] and new_words[k] for the word at (pa & ~7) + 8k), only
  // entries that changed in a way that matters count: an entry that was not
  // present had nothing cached from it, and setting A or D changes nothing
  // cached. Without them every entry written counts.
  unsigned OnWrite(uint64_t pa, size_t n, std::vector<Range>* out, const uint64_t* old_words = nullptr,
                   const uint64_t* new_words = nullptr);

  // Forgets every use by `space` (its cache slot is being reused).
  void DropSpace(uint32_t space);
  void Clear();

  uint64_t released() const { return released_; }

 private:
  struct Use {
    uint32_t space;
    uint8_t level;
    uint64_t base;  // 48-bit, not sign-extended
  };
  struct Page {
    std::vector<Use> uses;
    uint32_t writes_since_walk = 0;
  };
  static uint64_t Span(unsigned level) { return uint64_t{1} << (12 + 9 * (level - 1)); }
  static uint64_t Canonical(uint64_t va48) { return static_cast<uint64_t>(static_cast<int64_t>(va48 << 16) >> 16); }
  // Appends the range that entries [first, last] of a use map.
  static void AddRange(const Use& u, unsigned first, unsigned last, std::vector<Range>* out);

  std::unordered_map<uint64_t, Page> pages_;
  std::vector<uint64_t> pages_of_space_[kMaxSpaces];  // may repeat or hold released pages
  // The last leaf table recorded, so that a run of fills under one page
  // table does not look up all four levels each time.
  uint32_t last_space_ = ~0u;
  uint64_t last_leaf_table_ = ~0ull, last_leaf_base_ = ~0ull;
  uint64_t released_ = 0;
};

}  // namespace xlat
