#include "mmu/page_table_builder.h"

#include <cstring>

#include "mmu/guest_ram.h"

namespace xlat {
namespace {
constexpr uint64_t kAddrMask = 0x000ffffffffff000ull;
}

PageTableBuilder::PageTableBuilder(GuestRam& ram, uint64_t pool_pa, uint64_t pool_bytes)
    : ram_(ram), pool_next_(pool_pa), pool_end_(pool_pa + pool_bytes) {
  std::string ignored;
  if (pool_next_ + 4096 <= pool_end_ && ram_.Contains(GuestPhysAddr(pool_next_), 4096)) {
    pml4_ = pool_next_;
    std::memset(ram_.HostPtr(GuestPhysAddr(pml4_), 4096), 0, 4096);
    pool_next_ += 4096;
  }
}

uint64_t* PageTableBuilder::Entry(uint64_t table_pa, unsigned index) const {
  return reinterpret_cast<uint64_t*>(ram_.HostPtr(GuestPhysAddr(table_pa + index * 8ull), 8));
}

bool PageTableBuilder::NextTable(uint64_t table_pa, unsigned index, uint64_t* next, std::string* error) {
  uint64_t* e = Entry(table_pa, index);
  if (*e & kPtePresent) {
    if (*e & kPteLarge) {
      *error = "page table builder: a large page is already mapped there";
      return false;
    }
    *next = *e & kAddrMask;
    return true;
  }
  if (pool_next_ + 4096 > pool_end_ || !ram_.Contains(GuestPhysAddr(pool_next_), 4096)) {
    *error = "page table builder: table pool exhausted";
    return false;
  }
  std::memset(ram_.HostPtr(GuestPhysAddr(pool_next_), 4096), 0, 4096);
  *e = pool_next_ | kPtePresent | kPteWrite | kPteUser;
  *next = pool_next_;
  pool_next_ += 4096;
  return true;
}

bool PageTableBuilder::Map(uint64_t va, uint64_t pa, uint64_t bytes, uint64_t flags, uint64_t page_size,
                           std::string* error) {
  if (!pml4_) {
    *error = "page table builder: pool is not in RAM";
    return false;
  }
  unsigned leaf_level = page_size == 4096 ? 1 : page_size == (2ull << 20) ? 2 : page_size == (1ull << 30) ? 3 : 0;
  if (!leaf_level || va % page_size || pa % page_size || bytes % page_size) {
    *error = "page table builder: misaligned mapping";
    return false;
  }
  for (uint64_t off = 0; off < bytes; off += page_size) {
    uint64_t v = va + off, table = pml4_;
    for (unsigned level = 4; level > leaf_level; --level) {
      unsigned idx = (v >> (12 + 9 * (level - 1))) & 511;
      if (!NextTable(table, idx, &table, error)) return false;
    }
    unsigned idx = (v >> (12 + 9 * (leaf_level - 1))) & 511;
    *Entry(table, idx) = (pa + off) | flags | kPtePresent | (leaf_level > 1 ? kPteLarge : 0);
  }
  return true;
}

uint64_t PageTableBuilder::LeafEntryPa(uint64_t va) const {
  if (!pml4_) return 0;
  uint64_t table = pml4_;
  for (unsigned level = 4; level >= 1; --level) {
    unsigned idx = (va >> (12 + 9 * (level - 1))) & 511;
    uint64_t* e = Entry(table, idx);
    if (!e || !(*e & kPtePresent)) return 0;
    if (level == 1 || (*e & kPteLarge)) return table + idx * 8;
    table = *e & kAddrMask;
  }
  return 0;
}

void PageTableBuilder::Unmap4K(uint64_t va) {
  uint64_t pa = LeafEntryPa(va);
  if (pa) *reinterpret_cast<uint64_t*>(ram_.HostPtr(GuestPhysAddr(pa), 8)) = 0;
}

}  // namespace xlat
