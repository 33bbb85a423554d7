#include "mmu/tlb.h"

#include <algorithm>

namespace xlat {

InlineTlb::InlineTlb(VcpuContext& ctx) : ctx_(ctx) {
  for (auto& v : filled_) v.reserve(kMaxTracked);
  for (unsigned p = 0; p < kPrivClasses; ++p) {
    std::fill_n(ctx_.tlb_ntag_read[p], kTlbEntries, kTlbInvalidNegTag);
    std::fill_n(ctx_.tlb_ntag_write[p], kTlbEntries, kTlbInvalidNegTag);
  }
}

void InlineTlb::Fill(PrivClass priv, uint64_t va_page, uint8_t* host_page, bool writable) {
  unsigned p = static_cast<unsigned>(priv), i = Index(va_page);
  uint64_t ntag = 0 - va_page;
  ctx_.tlb_ntag_read[p][i] = ntag;
  ctx_.tlb_ntag_write[p][i] = writable ? ntag : kTlbInvalidNegTag;
  ctx_.tlb_addend[p][i] = reinterpret_cast<uint64_t>(host_page) - va_page;
  if (filled_[p].size() < kMaxTracked + 1) filled_[p].push_back(i);
}

void InlineTlb::FlushPage(uint64_t va_page) {
  unsigned i = Index(va_page);
  for (unsigned p = 0; p < kPrivClasses; ++p) {
    if (ctx_.tlb_ntag_read[p][i] == 0 - va_page) {
      ctx_.tlb_ntag_read[p][i] = kTlbInvalidNegTag;
      ctx_.tlb_ntag_write[p][i] = kTlbInvalidNegTag;
    }
  }
}

void InlineTlb::RevokeWrite(uint8_t* host_page) {
  for (unsigned p = 0; p < kPrivClasses; ++p) {
    auto revoke = [&](uint32_t i) {
      uint64_t va_page = 0 - ctx_.tlb_ntag_read[p][i];
      if (ctx_.tlb_ntag_read[p][i] != kTlbInvalidNegTag &&
          ctx_.tlb_addend[p][i] + va_page == reinterpret_cast<uint64_t>(host_page))
        ctx_.tlb_ntag_write[p][i] = kTlbInvalidNegTag;
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
      for (uint32_t i : filled_[p]) {
        ctx_.tlb_ntag_read[p][i] = kTlbInvalidNegTag;
        ctx_.tlb_ntag_write[p][i] = kTlbInvalidNegTag;
      }
    } else {
      std::fill_n(ctx_.tlb_ntag_read[p], kTlbEntries, kTlbInvalidNegTag);
      std::fill_n(ctx_.tlb_ntag_write[p], kTlbEntries, kTlbInvalidNegTag);
    }
    filled_[p].clear();
  }
}

}  // namespace xlat
