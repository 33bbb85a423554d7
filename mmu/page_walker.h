// The guest page walker: 4-level long-mode paging with 4 KiB, 2 MiB and 1 GiB
// pages, NX, U/S, R/W with CR0.WP, and accessed/dirty bits written back to
// the guest's entries exactly as hardware does (A on every level walked, D on
// the leaf of a write). Faults come back as #PF error codes.
#pragma once

#include <cstdint>

namespace xlat {

class GuestRam;

enum class AccessKind : uint8_t { kRead, kWrite, kExecute };

struct PagingState {
  uint64_t cr0 = 0, cr3 = 0, cr4 = 0, efer = 0;
};

// #PF error code bits.
inline constexpr uint32_t kPfPresent = 1u << 0;
inline constexpr uint32_t kPfWrite = 1u << 1;
inline constexpr uint32_t kPfUser = 1u << 2;
inline constexpr uint32_t kPfReserved = 1u << 3;
inline constexpr uint32_t kPfFetch = 1u << 4;

// Guest physical address width reported by CPUID 0x80000008; entry bits above
// it are reserved.
inline constexpr unsigned kGuestPhysAddrBits = 40;

struct WalkResult {
  bool ok = false;
  uint64_t pa = 0;             // guest physical address of va
  bool writable = false;       // a write by this privilege would be allowed
  bool user = false;           // U=1 on every level
  bool executable = false;
  bool dirty = false;          // leaf D bit (after this walk)
  bool global = false;         // leaf G bit with CR4.PGE: survives CR3 writes
  uint64_t page_size = 4096;
  uint32_t error_code = 0;     // #PF error code when !ok
  // The page-table pages the walk read, top level (the PML4, from CR3) first:
  // 4 for a 4 KiB page, 3 for 2 MiB, 2 for 1 GiB; 0 with paging off. What
  // is cached from this walk is right only while these stay unchanged.
  uint64_t tables[4] = {};
  uint8_t table_count = 0;
};

// Translates va for an access of `kind` at user (CPL 3) or supervisor
// privilege. With paging off, va is the physical address.
WalkResult WalkPageTables(GuestRam& ram, const PagingState& st, uint64_t va, AccessKind kind, bool user);

inline bool IsCanonical(uint64_t va) {
  return static_cast<uint64_t>((static_cast<int64_t>(va << 16) >> 16)) == va;
}

}  // namespace xlat
