// Where the differential test puts things. Guest virtual addresses are chosen
// equal to the host addresses the native run uses, so every register that
// holds an address, every RIP-relative operand and every pushed return address
// has the same value in both runs and the final states compare byte for byte.
//
//   host / guest VA                    guest PA (4 KiB pages)
//   kCodeVa   .. +kCodeBytes  code     kCodePa.. shuffled: no two VA-adjacent
//                                      pages are PA-adjacent, so code that
//                                      straddles a page is split in the guest
//   kPoolVa   (inside the code area)   per-sequence constants (jump tables,
//                                      vector index operands, x87 words)
//   kDataVa   .. +kDataBytes  data     kDataPa.. shuffled the same way: every
//                                      page-crossing access takes the
//                                      translator's split path
//   kLowVa    .. +kLowBytes   data     below 4 GiB, for 0x67 (32-bit address)
//                                      forms; shuffled too
// One unmapped guard page sits on each side of each data area (PROT_NONE
// natively), so a deliberate #PF has a place to happen.
#pragma once

#include <cstdint>

namespace difftest {

inline constexpr uint64_t kPage = 4096;

inline constexpr uint64_t kCodeVa = 0x7e0000000000ull;
inline constexpr uint64_t kCodeBytes = 64 * 1024;
// Sequences start within the first page (so they straddle code pages at
// varying points) and must end before the pool.
inline constexpr uint64_t kPoolVa = kCodeVa + 48 * 1024;
inline constexpr uint64_t kPoolBytes = 16 * 1024;
inline constexpr uint64_t kMaxSequenceBytes = kPoolVa - kCodeVa - kPage - 64;

inline constexpr uint64_t kDataVa = 0x7e0000100000ull;  // within 2 GiB of code: RIP-relative reaches it
inline constexpr uint64_t kDataBytes = 64 * 1024;
inline constexpr uint64_t kLowVa = 0x40000000ull;
inline constexpr uint64_t kLowBytes = 16 * 1024;

// The stack (guest rsp) lives inside the high data area, away from its edges.
inline constexpr uint64_t kStackLo = kDataVa + 1024;
inline constexpr uint64_t kStackHi = kDataVa + kDataBytes - 1024;

// Guest physical layout (RAM is much larger; the rest stays unused).
inline constexpr uint64_t kGuestRamBytes = 64ull << 20;
inline constexpr uint64_t kPageTablePoolPa = 0x100000;
inline constexpr uint64_t kPageTablePoolBytes = 0x40000;
inline constexpr uint64_t kCodePa = 0x200000;
inline constexpr uint64_t kDataPa = 0x300000;
inline constexpr uint64_t kLowPa = 0x380000;

// Page i of an area of n pages lives at physical page PhysPageIndex(i, n):
// a fixed permutation in which VA-adjacent pages are never PA-adjacent.
constexpr uint64_t PhysPageIndex(uint64_t i, uint64_t n) {
  // Even pages first in reverse, then odd pages in reverse: i and i+1 land in
  // different halves or two apart.
  const uint64_t half = (n + 1) / 2;
  return (i % 2 == 0) ? (half - 1 - i / 2) : (half + (n / 2 - 1 - i / 2));
}

inline bool InRange(uint64_t a, uint64_t len, uint64_t lo, uint64_t bytes) {
  return a >= lo && len <= bytes && a - lo <= bytes - len;
}

}  // namespace difftest
