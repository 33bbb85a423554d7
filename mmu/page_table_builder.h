// Builds 4-level long-mode page tables in guest RAM, the way a guest kernel
// would: used by the loader (identity map of RAM for a freestanding guest)
// and by tests that need an exact virtual layout.
#pragma once

#include <cstdint>
#include <string>

namespace xlat {

class GuestRam;

// Page-table entry bits.
inline constexpr uint64_t kPtePresent = 1ull << 0, kPteWrite = 1ull << 1, kPteUser = 1ull << 2,
                          kPteAccessed = 1ull << 5, kPteDirty = 1ull << 6, kPteLarge = 1ull << 7,
                          kPteGlobal = 1ull << 8, kPteNx = 1ull << 63;

class PageTableBuilder {
 public:
  // Tables are allocated from guest physical [pool_pa, pool_pa + pool_bytes),
  // which must lie in RAM and be 4 KiB aligned. The PML4 is the first page.
  PageTableBuilder(GuestRam& ram, uint64_t pool_pa, uint64_t pool_bytes);

  uint64_t cr3() const { return pml4_; }

  // Maps [va, va + bytes) to [pa, pa + bytes) with `flags` (kPteWrite,
  // kPteUser, kPteNx, kPteGlobal...; Present is implied) using pages of
  // `page_size` (4 KiB, 2 MiB or 1 GiB). va, pa and bytes must be multiples of
  // page_size. Intermediate entries get P|RW|U so that the leaf decides.
  // False (with *error) when the pool is exhausted or arguments are invalid.
  bool Map(uint64_t va, uint64_t pa, uint64_t bytes, uint64_t flags, uint64_t page_size, std::string* error);

  // Removes the leaf mapping of the 4 KiB page at va (no-op if unmapped).
  void Unmap4K(uint64_t va);

  // Guest physical address of the leaf entry that maps va, or 0 if none.
  uint64_t LeafEntryPa(uint64_t va) const;

  // Bytes of page tables needed to map `bytes` with 2 MiB pages from VA 0.
  static constexpr uint64_t IdentityTableBytes(uint64_t bytes) {
    // A PML4, a PDPT per 512 GiB, a page directory per GiB.
    const uint64_t gib = (bytes + (1ull << 30) - 1) >> 30;
    return 4096 * (1 + (gib + 511) / 512 + gib);
  }

 private:
  uint64_t* Entry(uint64_t table_pa, unsigned index) const;
  bool NextTable(uint64_t table_pa, unsigned index, uint64_t* next, std::string* error);
  GuestRam& ram_;
  uint64_t pool_next_;
  uint64_t pool_end_;
  uint64_t pml4_ = 0;
};

}  // namespace xlat
