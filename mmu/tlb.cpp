#include "mmu/tlb.h"

namespace xlat {

InlineTlb::InlineTlb(VcpuContext& ctx) : ctx_(ctx) {
  for (auto& v : filled_) v.reserve(kMaxTracked + 1);
  for (auto& g : global_) g.assign(kTlbEntries, false);
  for (unsigned p = 0; p < kPrivClasses; ++p)
    for (unsigned i = 0; i < kTlbEntries; ++i) Clear(p, i);
}

void InlineTlb::Clear(unsigned p, unsigned i) {
  ctx_.tlb_read_tag[p][i] = kTlbInvalidNegTag;
  ctx_.tlb_write_tag[p][i] = kTlbInvalidNegTag;
  ctx_.tlb_host_page[p][i] = 0;
  ctx_.tlb_guest_pa[p][i] = ~0ull;
}

void InlineTlb::Fill(PrivClass priv, uint64_t va_page, uint64_t pa_page, uint8_t* host_page, bool writable,
                     bool global) {
  const unsigned p = static_cast<unsigned>(priv), i = Index(va_page);
  global_[p][i] = global;
  ctx_.tlb_read_tag[p][i] = 0 - va_page;
  ctx_.tlb_write_tag[p][i] = writable ? 0 - va_page : kTlbInvalidNegTag;
  ctx_.tlb_host_page[p][i] = reinterpret_cast<uint64_t>(host_page);
  ctx_.tlb_guest_pa[p][i] = pa_page;
  if (filled_[p].size() <= kMaxTracked) filled_[p].push_back(i);
  ++fills_;
}

void InlineTlb::FlushPage(uint64_t va_page) {
  const unsigned i = Index(va_page);
  for (unsigned p = 0; p < kPrivClasses; ++p)
    if (ctx_.tlb_read_tag[p][i] == 0 - va_page) Clear(p, i);
}

void InlineTlb::RevokeWrite(uint64_t pa_page) {
  for (unsigned p = 0; p < kPrivClasses; ++p) {
    auto revoke = [&](uint32_t i) {
      if (ctx_.tlb_guest_pa[p][i] == pa_page) ctx_.tlb_write_tag[p][i] = kTlbInvalidNegTag;
    };
    if (filled_[p].size() <= kMaxTracked) {
      for (uint32_t i : filled_[p]) revoke(i);
    } else {
      for (uint32_t i = 0; i < kTlbEntries; ++i) revoke(i);
    }
  }
}

void InlineTlb::FlushNonGlobal() {
  for (unsigned p = 0; p < kPrivClasses; ++p) {
    std::vector<uint32_t> kept;
    auto visit = [&](uint32_t i) {
      if (ctx_.tlb_read_tag[p][i] == kTlbInvalidNegTag) return;
      if (global_[p][i])
        kept.push_back(i);
      else
        Clear(p, i);
    };
    if (filled_[p].size() <= kMaxTracked) {
      for (uint32_t i : filled_[p]) visit(i);
    } else {
      for (uint32_t i = 0; i < kTlbEntries; ++i) visit(i);
    }
    filled_[p] = std::move(kept);
    filled_[p].reserve(kMaxTracked + 1);
  }
  ++flushes_;
}

void InlineTlb::FlushAll() {
  for (unsigned p = 0; p < kPrivClasses; ++p) {
    if (filled_[p].size() <= kMaxTracked) {
      for (uint32_t i : filled_[p]) Clear(p, i);
    } else {
      for (uint32_t i = 0; i < kTlbEntries; ++i) Clear(p, i);
    }
    filled_[p].clear();
  }
  ++flushes_;
}

}  // namespace xlat
