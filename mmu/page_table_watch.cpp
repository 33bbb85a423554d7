#include "mmu/page_table_watch.h"

#include <algorithm>

namespace xlat {

void PageTableWatch::Record(uint32_t space, uint64_t va, const uint64_t* tables, unsigned count,
                            std::vector<uint64_t>* newly_watched) {
  if (count == 0 || space >= kMaxSpaces) return;
  const uint64_t va48 = va & ((uint64_t{1} << 48) - 1);
  // tables[k] is the level-(4 - k) table; it maps the region of its parent entry.
  const unsigned leaf_level = 4 - (count - 1);
  const uint64_t leaf_base = va48 & ~(Span(leaf_level + 1) - 1);
  if (space == last_space_ && tables[count - 1] == last_leaf_table_ && leaf_base == last_leaf_base_) {
    // Same leaf table for the same region as the last walk, and no watched
    // page written since (that resets the memo): the same path, all recorded.
    auto it = pages_.find(tables[count - 1]);
    if (it != pages_.end()) {
      it->second.writes_since_walk = 0;
      return;
    }
  }
  for (unsigned k = 0; k < count; ++k) {
    const unsigned level = 4 - k;
    const uint64_t base = level == 4 ? 0 : va48 & ~(Span(level + 1) - 1);
    auto [it, inserted] = pages_.try_emplace(tables[k]);
    Page& page = it->second;
    page.writes_since_walk = 0;
    if (inserted) newly_watched->push_back(tables[k]);
    const bool known = std::any_of(page.uses.begin(), page.uses.end(), [&](const Use& u) {
      return u.space == space && u.level == level && u.base == base;
    });
    if (!known) {
      page.uses.push_back(Use{space, static_cast<uint8_t>(level), base});
      pages_of_space_[space].push_back(tables[k]);
    }
  }
  last_space_ = space;
  last_leaf_table_ = tables[count - 1];
  last_leaf_base_ = leaf_base;
}

void PageTableWatch::AddRange(const Use& u, unsigned first, unsigned last, std::vector<Range>* out) {
  const uint64_t span = Span(u.level);
  const uint64_t begin = Canonical(u.base + first * span);
  // The end of the last entry; for the top entry of the upper half that is 2^64, i.e. 0.
  const uint64_t end = Canonical(u.base + last * span) + span;
  out->push_back(Range{u.space, begin, end == 0 ? ~uint64_t{0} : end});
}

namespace {
// Whether changing a page-table entry from `old_entry` to `new_entry` can
// invalidate something cached from it.
bool EntryChangeMatters(uint64_t old_entry, uint64_t new_entry) {
  constexpr uint64_t kPresent = 1, kAccessedDirty = (1u << 5) | (1u << 6);
  if (!(old_entry & kPresent)) return false;  // a walk through it faulted: nothing was cached
  const uint64_t changed = old_entry ^ new_entry;
  // Only A or D set: what was cached stays right (the walker sets them itself).
  return (changed & ~kAccessedDirty) != 0 || (changed & old_entry) != 0;
}
}  // namespace

unsigned PageTableWatch::OnWrite(uint64_t pa, size_t n, std::vector<Range>* out, const uint64_t* old_words,
                                 const uint64_t* new_words) {
  if (pages_.empty() || n == 0) return 0;
  unsigned hit = 0;
  const uint64_t end = pa + n;
  for (uint64_t page_pa = pa & ~uint64_t{0xfff}; page_pa < end; page_pa += 4096) {
    auto it = pages_.find(page_pa);
    if (it == pages_.end()) continue;
    ++hit;
    last_space_ = ~0u;  // a parent entry may have changed: the memo's path is not known to hold
    Page& page = it->second;
    const uint64_t lo = std::max(pa, page_pa), hi = std::min(end, page_pa + 4096);
    if (++page.writes_since_walk > kFloodWrites) {
      for (const Use& u : page.uses) AddRange(u, 0, 511, out);
      pages_.erase(it);
      ++released_;
      continue;
    }
    const unsigned first = static_cast<unsigned>((lo & 0xfff) / 8), last = static_cast<unsigned>(((hi - 1) & 0xfff) / 8);
    if (!old_words) {
      for (const Use& u : page.uses) AddRange(u, first, last, out);
      continue;
    }
    for (unsigned e = first; e <= last; ++e) {
      const size_t k = (page_pa + e * 8 - (pa & ~uint64_t{7})) / 8;
      if (!EntryChangeMatters(old_words[k], new_words[k])) continue;
      for (const Use& u : page.uses) AddRange(u, e, e, out);
    }
  }
  return hit;
}

void PageTableWatch::DropSpace(uint32_t space) {
  if (space >= kMaxSpaces) return;
  for (uint64_t page_pa : pages_of_space_[space]) {
    auto it = pages_.find(page_pa);
    if (it == pages_.end()) continue;
    std::vector<Use>& uses = it->second.uses;
    uses.erase(std::remove_if(uses.begin(), uses.end(), [&](const Use& u) { return u.space == space; }), uses.end());
    if (uses.empty()) pages_.erase(it);
  }
  pages_of_space_[space].clear();
  if (last_space_ == space) last_space_ = ~0u;
}

void PageTableWatch::Clear() {
  pages_.clear();
  for (auto& v : pages_of_space_) v.clear();
  last_space_ = ~0u;
}

}  // namespace xlat
