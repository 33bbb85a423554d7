#include "mmu/tlb.h"

#include <algorithm>
#include <bit>

namespace xlat {

namespace {
constexpr uint64_t kNoLargePage = ~uint64_t{0};
// Below this many pages a range is flushed page by page; above, by a scan
// of the entries in use.
constexpr uint64_t kRangeScanPages = 64;
}  // namespace

InlineTlb::InlineTlb(VcpuContext& ctx) : ctx_(ctx) {
  for (unsigned p = 0; p < kPrivClasses; ++p) {
    local_[p].slots.reserve(kMaxTracked);
    globals_[p].slots.reserve(kMaxTracked);
    listed_[p].assign(kTlbEntries, 0);
  }
  for (auto& g : global_) g.assign(kTlbEntries, false);
  for (unsigned p = 0; p < kPrivClasses; ++p)
    for (unsigned i = 0; i < kTlbEntries; ++i)
      ctx_.tlb_read_pair_tag[p][i] = ctx_.tlb_write_pair_tag[p][i] = kTlbInvalidNegTag;
  for (auto& l : large_base_) l.assign(kTlbEntries, kNoLargePage);
  for (unsigned p = 0; p < kPrivClasses; ++p)
    for (unsigned i = 0; i < kTlbEntries; ++i) Clear(p, i);
}

// (Callers drop the pairs once the entry has changed: DropPairs.)
void InlineTlb::SetReadSide(unsigned p, unsigned i, uint64_t tag, uint64_t host) {
  ctx_.tlb_read_tag[p][i] = tag;
  ctx_.tlb_host_page[p][i] = host;
  ctx_.tlb_read_addend[p][i] = tag + host;
}

void InlineTlb::SetWriteSide(unsigned p, unsigned i, uint64_t tag, uint64_t host) {
  ctx_.tlb_write_tag[p][i] = tag;
  ctx_.tlb_write_host[p][i] = host;
  ctx_.tlb_write_addend[p][i] = tag + host;
}

void InlineTlb::DropPairs(unsigned p, unsigned i) {
  // Entry i changed: neither it nor the entry before pairs any more.
  for (unsigned e : {i, (i - 1) & static_cast<unsigned>(kTlbEntries - 1)}) {
    if (!(listed_[p][e] & kPaired)) continue;
    listed_[p][e] &= ~kPaired;
    ctx_.tlb_read_pair_tag[p][e] = kTlbInvalidNegTag;
    ctx_.tlb_write_pair_tag[p][e] = kTlbInvalidNegTag;
  }
}

void InlineTlb::Pair(PrivClass priv, uint64_t va_page) {
  const unsigned p = static_cast<unsigned>(priv), i = Index(va_page), next = Index(va_page + 4096);
  const uint64_t tag = 0 - va_page;
  auto paired = [&](const uint64_t* tags, const uint64_t* hosts) {
    return tags[i] == tag && tags[next] == tag - 4096 && hosts[next] == hosts[i] + 4096;
  };
  const bool read = paired(ctx_.tlb_read_tag[p], ctx_.tlb_host_page[p]);
  const bool write = paired(ctx_.tlb_write_tag[p], ctx_.tlb_write_host[p]);
  if (!read) return;  // (a writable pair is readable too)
  ctx_.tlb_read_pair_tag[p][i] = tag;
  ctx_.tlb_write_pair_tag[p][i] = write ? tag : kTlbInvalidNegTag;
  listed_[p][i] |= kPaired;
}

void InlineTlb::Clear(unsigned p, unsigned i) {
  const uint64_t guard = reinterpret_cast<uint64_t>(ctx_.tlb_guard_page);
  SetReadSide(p, i, kTlbInvalidNegTag, guard);
  SetWriteSide(p, i, kTlbInvalidNegTag, guard);
  DropPairs(p, i);
  ctx_.tlb_guest_pa[p][i] = ~0ull;
  large_base_[p][i] = kNoLargePage;
}

template <typename Fn>
void InlineTlb::ForEachFilled(unsigned p, Fn fn) {
  if (local_[p].overflow || globals_[p].overflow) {
    for (uint32_t i = 0; i < kTlbEntries; ++i) fn(i);
    return;
  }
  for (uint32_t i : local_[p].slots) fn(i);
  for (uint32_t i : globals_[p].slots) fn(i);
}

void InlineTlb::Fill(PrivClass priv, uint64_t va_page, uint64_t pa_page, uint8_t* host_page, bool writable,
                     bool global, uint64_t page_size) {
  const unsigned p = static_cast<unsigned>(priv), i = Index(va_page);
  global_[p][i] = global;
  SetReadSide(p, i, 0 - va_page, reinterpret_cast<uint64_t>(host_page));
  SetWriteSide(p, i, writable ? 0 - va_page : kTlbInvalidNegTag,
               reinterpret_cast<uint64_t>(writable ? host_page : ctx_.tlb_guard_page));
  DropPairs(p, i);
  ctx_.tlb_guest_pa[p][i] = pa_page;
  if (page_size > 4096) {
    const uint64_t base = va_page & ~(page_size - 1);
    large_base_[p][i] = base;
    large_[base] = LargePage{static_cast<uint8_t>(std::countr_zero(page_size)), global};
  } else {
    large_base_[p][i] = kNoLargePage;
  }
  const uint8_t bit = global ? kListedGlobal : kListedLocal;
  if (!(listed_[p][i] & bit)) {
    SlotList& list = global ? globals_[p] : local_[p];
    if (list.slots.size() < kMaxTracked)
      list.slots.push_back(i);
    else
      list.overflow = true;
    listed_[p][i] |= bit;
  }
  ++fills_;
}

void InlineTlb::FlushPage(uint64_t va_page) {
  const unsigned i = Index(va_page);
  for (unsigned p = 0; p < kPrivClasses; ++p)
    if (ctx_.tlb_read_tag[p][i] == 0 - va_page) Clear(p, i);
  if (large_.empty()) return;
  // The architecture drops the whole large page (SDM 4.10.4.1): find it by
  // the bases it could have.
  for (unsigned log2 : {21u, 30u}) {
    const uint64_t base = va_page & ~((uint64_t{1} << log2) - 1);
    auto it = large_.find(base);
    if (it == large_.end() || it->second.log2_size != log2) continue;
    large_.erase(it);
    for (unsigned p = 0; p < kPrivClasses; ++p)
      ForEachFilled(p, [&](uint32_t e) {
        if (large_base_[p][e] == base) Clear(p, e);
      });
  }
}

void InlineTlb::FlushRange(uint64_t begin, uint64_t end, bool keep_global) {
  begin &= ~uint64_t{0xfff};
  if (end <= begin) return;
  const bool few_pages = (end - begin) / 4096 <= kRangeScanPages;
  if (!keep_global && few_pages) {
    for (uint64_t va = begin; va < end; va += 4096) FlushPage(va);
    return;
  }
  auto drop = [&](unsigned p, uint32_t i) {
    const uint64_t tag = ctx_.tlb_read_tag[p][i];
    if (tag == kTlbInvalidNegTag || (keep_global && global_[p][i])) return;
    const uint64_t va = 0 - tag;
    if (va >= begin && va < end) Clear(p, i);
  };
  if (few_pages) {
    for (uint64_t va = begin; va < end; va += 4096)
      for (unsigned p = 0; p < kPrivClasses; ++p) drop(p, Index(va));
  } else if (keep_global) {
    // Non-global entries are all in local_ unless it overflowed.
    for (unsigned p = 0; p < kPrivClasses; ++p) {
      if (local_[p].overflow) {
        for (uint32_t i = 0; i < kTlbEntries; ++i) drop(p, i);
      } else {
        for (uint32_t i : local_[p].slots) drop(p, i);
      }
    }
  } else {
    for (unsigned p = 0; p < kPrivClasses; ++p) ForEachFilled(p, [&](uint32_t i) { drop(p, i); });
  }
  // Large pages that lost entries may stay listed: an INVLPG of one then finds nothing more to drop.
  for (auto it = large_.begin(); it != large_.end();)
    it = it->first >= begin && it->first < end && !(keep_global && it->second.global) ? large_.erase(it)
                                                                                       : std::next(it);
}

void InlineTlb::RevokeWrite(uint64_t pa_page) {
  ++revocations_;
  for (unsigned p = 0; p < kPrivClasses; ++p)
    ForEachFilled(p, [&](uint32_t i) {
      if (ctx_.tlb_guest_pa[p][i] != pa_page) return;
      SetWriteSide(p, i, kTlbInvalidNegTag, reinterpret_cast<uint64_t>(ctx_.tlb_guard_page));
      DropPairs(p, i);
    });
}

void InlineTlb::FlushNonGlobalImpl(std::vector<SavedTlbEntry>* saved) {
  for (unsigned p = 0; p < kPrivClasses; ++p) {
    auto visit = [&](uint32_t i) {
      listed_[p][i] &= ~kListedLocal;
      const uint64_t tag = ctx_.tlb_read_tag[p][i];
      if (tag == kTlbInvalidNegTag || global_[p][i]) return;
      if (saved) {
        const uint64_t large = large_base_[p][i];
        auto it = large == kNoLargePage ? large_.end() : large_.find(large);
        saved->push_back(SavedTlbEntry{0 - tag, ctx_.tlb_guest_pa[p][i], ctx_.tlb_host_page[p][i], large,
                                       it == large_.end() ? 0u : it->second.log2_size, static_cast<uint8_t>(p),
                                       ctx_.tlb_write_tag[p][i] == tag});
      }
      Clear(p, i);
    };
    if (local_[p].overflow) {
      for (uint32_t i = 0; i < kTlbEntries; ++i) visit(i);
    } else {
      for (uint32_t i : local_[p].slots) visit(i);
    }
    local_[p].slots.clear();
    local_[p].overflow = false;
  }
  for (auto it = large_.begin(); it != large_.end();) it = it->second.global ? std::next(it) : large_.erase(it);
  ++flushes_;
}

void InlineTlb::FlushNonGlobal() { FlushNonGlobalImpl(nullptr); }

void InlineTlb::SaveAndFlushNonGlobal(std::vector<SavedTlbEntry>* saved) { FlushNonGlobalImpl(saved); }

size_t InlineTlb::Restore(const std::vector<SavedTlbEntry>& saved, uint64_t saved_at,
                          const std::function<bool(uint64_t)>& writable_ok) {
  const bool check = saved_at != revocations_;
  size_t restored = 0;
  for (const SavedTlbEntry& e : saved) {
    const unsigned p = e.priv, i = Index(e.va_page);
    if (ctx_.tlb_read_tag[p][i] != kTlbInvalidNegTag) continue;  // a global page holds the slot
    const bool writable = e.writable && (!check || writable_ok(e.pa_page));
    Fill(static_cast<PrivClass>(p), e.va_page, e.pa_page, reinterpret_cast<uint8_t*>(e.host_page), writable,
         /*global=*/false, e.large_size ? uint64_t{1} << e.large_size : 4096);
    --fills_;  // not a fill: nothing was walked
    ++restored;
  }
  return restored;
}

void InlineTlb::FlushAll() {
  for (unsigned p = 0; p < kPrivClasses; ++p) {
    ForEachFilled(p, [&](uint32_t i) { Clear(p, i); });
    for (SlotList* list : {&local_[p], &globals_[p]}) {
      for (uint32_t i : list->slots) listed_[p][i] = 0;
      if (list->overflow) std::fill(listed_[p].begin(), listed_[p].end(), 0);
      list->slots.clear();
      list->overflow = false;
    }
  }
  large_.clear();
  ++flushes_;
}

}  // namespace xlat
