// Maintenance of the inline TLB that translated code consults (the entries
// live in VcpuContext; the lookup sequence is in translator/emit_memory.h).
//
// Entries are per 4 KiB guest virtual page even when the guest maps a large
// page. A flush of 65536 entries per privilege class on every CR3 write would
// cost more than the walks it saves, so every fill records its index and a
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

  // Maps guest page va_page (4 KiB aligned) -> guest physical pa_page at host
  // address host_page, for reads, and for writes too when `writable`.
  void Fill(PrivClass priv, uint64_t va_page, uint64_t pa_page, uint8_t* host_page, bool writable,
            bool global = false);
  // Drops any entry for va_page in both privilege classes.
  void FlushPage(uint64_t va_page);
  // Drops write permission from every entry that maps guest physical page
  // pa_page (when the page starts holding translated code).
  void RevokeWrite(uint64_t pa_page);
  void FlushAll();
  // A CR3 write: drops every entry but those of global pages.
  void FlushNonGlobal();

  uint64_t fills() const { return fills_; }
  uint64_t flushes() const { return flushes_; }

 private:
  static unsigned Index(uint64_t va) { return static_cast<unsigned>((va >> 12) & (kTlbEntries - 1)); }
  void Clear(unsigned priv, unsigned i);
  VcpuContext& ctx_;
  std::vector<uint32_t> filled_[kPrivClasses];
  std::vector<bool> global_[kPrivClasses];
  static constexpr size_t kMaxTracked = 8192;
  uint64_t fills_ = 0;
  uint64_t flushes_ = 0;
};

}  // namespace xlat
