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
#include <functional>
#include <unordered_map>
#include <vector>

#include "cpu/vcpu_context.h"

namespace xlat {

// A non-global entry set aside while its address space is not current.
struct SavedTlbEntry {
  uint64_t va_page;
  uint64_t pa_page;
  uint64_t host_page;
  uint64_t large_base;  // the large page it belongs to, or ~0 for a 4 KiB page
  uint32_t large_size;  // log2 of that page's size (21 or 30), 0 for 4 KiB
  uint8_t priv;
  bool writable;
};

class InlineTlb {
 public:
  explicit InlineTlb(VcpuContext& ctx);

  // Maps guest page va_page (4 KiB aligned) -> guest physical pa_page at host
  // address host_page, for reads, and for writes too when `writable`.
  // `page_size` is the guest's page size: INVLPG of any address in a large
  // page drops every 4 KiB entry made from it.
  void Fill(PrivClass priv, uint64_t va_page, uint64_t pa_page, uint8_t* host_page, bool writable,
            bool global = false, uint64_t page_size = 4096);
  // When the entries of va_page and the page after it are both filled, with
  // host pages one after the other, sets va_page's pair tags
  // (vcpu_context.h): a span across the two then checks inline. They go
  // when either entry changes.
  void Pair(PrivClass priv, uint64_t va_page);
  // INVLPG: drops any entry for va_page in both privilege classes, and all
  // the entries of the large page it lies in, if it came from one.
  void FlushPage(uint64_t va_page);
  // Drops every entry for a guest page in [begin, end), or only the non-global ones.
  void FlushRange(uint64_t begin, uint64_t end, bool keep_global = false);
  // Drops write permission from every entry that maps guest physical page
  // pa_page (when the page starts holding translated code).
  void RevokeWrite(uint64_t pa_page);
  void FlushAll();
  // A CR3 write: drops every entry but those of global pages.
  void FlushNonGlobal();
  // The same, handing the dropped entries to *saved (to Restore() when the
  // address space is current again).
  void SaveAndFlushNonGlobal(std::vector<SavedTlbEntry>* saved);
  // Puts saved entries back where their slot is free. `writable_ok(pa_page)`
  // says whether a saved writable entry may stay writable (the page may have
  // gained translated code or page tables since); it is not asked when no
  // RevokeWrite() happened since `saved_at` (a revocations() value).
  // Returns how many went back.
  size_t Restore(const std::vector<SavedTlbEntry>& saved, uint64_t saved_at,
                 const std::function<bool(uint64_t)>& writable_ok);
  // Counts RevokeWrite() calls: saved entries older than the last one must be checked.
  uint64_t revocations() const { return revocations_; }
  uint64_t fills() const { return fills_; }
  uint64_t flushes() const { return flushes_; }

 private:
  static unsigned Index(uint64_t va) { return static_cast<unsigned>((va >> 12) & (kTlbEntries - 1)); }
  void Clear(unsigned priv, unsigned i);
  // An entry's tag and host page for reads (or writes), and their sum, the addend.
  void SetReadSide(unsigned p, unsigned i, uint64_t tag, uint64_t host);
  void SetWriteSide(unsigned p, unsigned i, uint64_t tag, uint64_t host);
  // Entry i changed: drops the pair tags of it and of the entry before.
  void DropPairs(unsigned p, unsigned i);
  void FlushNonGlobalImpl(std::vector<SavedTlbEntry>* saved);
  // Calls fn(priv, index) for every entry that may be in use.
  template <typename Fn>
  void ForEachFilled(unsigned p, Fn fn);
  VcpuContext& ctx_;
  // The slots in use, per class, each listed once: non-global entries in
  // local_ (what a CR3 write visits) and global ones in globals_. A list
  // that would grow past kMaxTracked stops and is marked overflowed; its
  // users then scan every slot. A slot may sit in a list after it was
  // cleared or changed kind: visitors check the slot itself.
  struct SlotList {
    std::vector<uint32_t> slots;
    bool overflow = false;
  };
  SlotList local_[kPrivClasses], globals_[kPrivClasses];
  std::vector<uint8_t> listed_[kPrivClasses];  // per slot: kListedLocal | kListedGlobal
  static constexpr uint8_t kListedLocal = 1, kListedGlobal = 2;
  static constexpr uint8_t kPaired = 4;  // the slot's pair tags are set
  std::vector<bool> global_[kPrivClasses];
  // Large guest pages with entries here: base -> log2 size (and whether global).
  struct LargePage {
    uint8_t log2_size;
    bool global;
  };
  std::unordered_map<uint64_t, LargePage> large_;
  // Per entry, the base of its large page (~0: a 4 KiB page).
  std::vector<uint64_t> large_base_[kPrivClasses];
  static constexpr size_t kMaxTracked = 8192;
  uint64_t fills_ = 0;
  uint64_t flushes_ = 0;
  uint64_t revocations_ = 0;
};

}  // namespace xlat
