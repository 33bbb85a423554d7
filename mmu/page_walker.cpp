#include "mmu/page_walker.h"

#include "mmu/guest_ram.h"

namespace xlat {
namespace {

constexpr uint64_t kP = 1ull << 0, kRW = 1ull << 1, kUS = 1ull << 2, kA = 1ull << 5, kD = 1ull << 6,
                   kPS = 1ull << 7, kNX = 1ull << 63;
constexpr uint64_t kAddrMask = ((1ull << kGuestPhysAddrBits) - 1) & ~0xfffull;
constexpr uint64_t kCr0Wp = 1ull << 16, kCr0Pg = 1ull << 31;
constexpr uint64_t kEferNxe = 1ull << 11;

// Reserved bits of an entry at `level` (4 = PML4E .. 1 = PTE), given whether
// it maps a large page. Bits [51:MAXPHYADDR] always; NX when EFER.NXE=0.
uint64_t ReservedBits(int level, bool large, bool nxe) {
  uint64_t r = ((1ull << 52) - 1) & ~((1ull << kGuestPhysAddrBits) - 1);
  if (!nxe) r |= kNX;
  if (level == 4) r |= kPS;
  if (large && level == 3) r |= 0x3fffe000ull;   // 1 GiB page: bits 29:13
  if (large && level == 2) r |= 0x1fe000ull;     // 2 MiB page: bits 20:13
  return r;
}

}  // namespace

WalkResult WalkPageTables(GuestRam& ram, const PagingState& st, uint64_t va, AccessKind kind, bool user) {
  WalkResult res;
  if (!(st.cr0 & kCr0Pg)) {
    res.ok = true;
    res.pa = va;
    res.writable = res.user = res.executable = res.dirty = true;
    return res;
  }
  const bool write = kind == AccessKind::kWrite;
  const bool fetch = kind == AccessKind::kExecute;
  const bool nxe = st.efer & kEferNxe;
  uint32_t base_err = (write ? kPfWrite : 0) | (user ? kPfUser : 0) | (fetch && nxe ? kPfFetch : 0);

  uint64_t table = st.cr3 & kAddrMask;
  bool all_rw = true, all_us = true, any_nx = false;
  uint64_t* entries[4] = {};
  int leaf_level = 1;
  uint64_t entry = 0;
  for (int level = 4; level >= 1; --level) {
    unsigned shift = 12 + 9 * (level - 1);
    uint64_t idx = (va >> shift) & 511;
    uint64_t* e = reinterpret_cast<uint64_t*>(ram.HostPtr(GuestPhysAddr(table + idx * 8), 8));
    // A table outside RAM reads as all-ones: present with reserved bits set.
    entry = e ? *e : ~0ull;
    if (!(entry & kP)) {
      res.error_code = base_err;
      return res;
    }
    bool large = (level == 3 || level == 2) && (entry & kPS);
    if (entry & ReservedBits(level, large, nxe)) {
      res.error_code = base_err | kPfPresent | kPfReserved;
      return res;
    }
    entries[level - 1] = e;
    res.tables[res.table_count++] = table;
    all_rw &= (entry & kRW) != 0;
    all_us &= (entry & kUS) != 0;
    any_nx |= nxe && (entry & kNX);
    if (large || level == 1) {
      leaf_level = level;
      break;
    }
    table = entry & kAddrMask;
  }

  // Permission checks (SMEP/SMAP are not exposed to the guest).
  bool wp = st.cr0 & kCr0Wp;
  res.user = all_us;
  res.writable = user ? (all_rw && all_us) : (all_rw || !wp);
  res.executable = !any_nx && (!user || all_us);
  bool allowed = true;
  if (user && !all_us) allowed = false;
  if (write && !res.writable) allowed = false;
  if (fetch && !res.executable) allowed = false;
  if (!allowed) {
    res.error_code = base_err | kPfPresent;
    return res;
  }

  // Accessed on every level walked, dirty on the leaf for writes.
  for (int level = 4; level >= leaf_level; --level) {
    uint64_t* e = entries[level - 1];
    if (e && !(*e & kA)) *e |= kA;
  }
  uint64_t* leaf = entries[leaf_level - 1];
  if (write && leaf && !(*leaf & kD)) *leaf |= kD;
  res.dirty = leaf ? (*leaf & kD) != 0 : true;
  res.global = (st.cr4 & (1ull << 7)) && (entry & (1ull << 8));

  unsigned shift = 12 + 9 * (leaf_level - 1);
  res.page_size = 1ull << shift;
  uint64_t frame = entry & kAddrMask & ~(res.page_size - 1);
  res.pa = frame | (va & (res.page_size - 1));
  res.ok = true;
  return res;
}

}  // namespace xlat
