#include "mmu/tlb.h"

namespace xlat {

InlineTlb::InlineTlb(VcpuContext& ctx) : ctx_(ctx) {
  for (auto& v : filled_) v.reserve(kMaxTracked + 1);
  for (unsigned p = 0; p < kPrivClasses; ++p)
    for (unsigned i = 0; i < kTlbEntries; ++i) Clear(p, i);
}

void InlineTlb::Clear(unsigned p, unsigned i) {
  TlbEntry& e = ctx_.tlb[p][i];
  e.neg_tag_read = kTlbInvalidNegTag;
  e.neg_tag_write = kTlbInvalidNegTag;
  e.host_page = 0;
  e.guest_page_pa = ~0ull;
}

void InlineTlb::Fill(PrivClass priv, uint64_t va_page, uint64_t pa_page, uint8_t* host_page, bool writable) {
  const unsigned p = static_cast<unsigned>(priv), i = Index(va_page);
  TlbEntry& e = ctx_.tlb[p][i];
  e.neg_tag_read = 0 - va_page;
  e.neg_tag_write = writable ? 0 - va_page : kTlbInvalidNegTag;
  e.host_page = reinterpret_cast<uint64_t>(host_page);
  e.guest_page_pa = pa_page;
  if (filled_[p].size() <= kMaxTracked) filled_[p].push_back(i);
  ++fills_;
}

void InlineTlb::FlushPage(uint64_t va_page) {
  const unsigned i = Index(va_page);
  for (unsigned p = 0; p < kPrivClasses; ++p)
    if (ctx_.tlb[p][i].neg_tag_read == 0 - va_page) Clear(p, i);
}

void InlineTlb::RevokeWrite(uint64_t pa_page) {
  for (unsigned p = 0; p < kPrivClasses; ++p) {
    auto revoke = [&](uint32_t i) {
      if (ctx_.tlb[p][i].guest_page_pa == pa_page) ctx_.tlb[p][i].neg_tag_write = kTlbInvalidNegTag;
    };
    if (filled_[p].size() <= kMaxTracked) {
      for (uint32_t i : filled_[p]) revoke(i);
    } else {
      for (uint32_t i = 0; i < kTlbEntries; ++i) revoke(i);
    }
  }
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
