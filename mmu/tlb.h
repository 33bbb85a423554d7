// Maintenance of the inline TLB that translated code consults (the arrays live
// in VcpuContext; see the lookup sequence in translator/emit_memory.cpp).
//
// Entries are per 4 KiB guest virtual page even when the guest maps a large
// page. Flushing 65536 entries per privilege class on every CR3 write would
// cost more than the walks it saves, so each fill records its index and a
// flush clears only the recorded ones (falling back to a full clear when the
// record overflows).
#pragma once

#include <cstdint>
#include <vector>

#include "cpu/vcpu_context.h"

namespace xlat {

class InlineTlb {
 public:
  explicit InlineTlb(VcpuContext& ctx);

  // Maps guest page va_page (4 KiB aligned) to host page host_page for reads,
  // and for writes too when `writable`.
  void Fill(PrivClass priv, uint64_t va_page, uint8_t* host_page, bool writable);
  // Drops any entry for va_page in both privilege classes.
  void FlushPage(uint64_t va_page);
  // Drops write permission of every entry whose host page is host_page (used
  // when a page starts holding translated code).
  void RevokeWrite(uint8_t* host_page);
  void FlushAll();

 private:
  static unsigned Index(uint64_t va) { return static_cast<unsigned>((va >> 12) & (kTlbEntries - 1)); }
  VcpuContext& ctx_;
  std::vector<uint32_t> filled_[kPrivClasses];
  static constexpr size_t kMaxTracked = 4096;
};

}  // namespace xlat
