// Accesses in a loop checked once, before the loop head: a block that
// branches back to its own start runs its body once per iteration, and
// every access pays its TLB check each time.
//
// Where an access's base register is not written anywhere in the block and
// its index register is bounded by the block itself before the access
// (movzx from a byte, or an and with a small constant) or never written,
// every iteration accesses within [base + disp, base + disp + bound * scale
// + size). One check of that span, before the loop head, stands for all
// iterations: the access then runs natively on [host base + index * scale].
// Accesses through the same base share the span (each keeps its own
// bounded index). The table lookup of a CRC or a byte-indexed decoder loop
// loses its check, and with it three loads on the critical path.
//
// An unchanged base without an index is the same case: the fields of a
// struct a loop reads and updates through one pointer share one check, and
// join no access group.
//
// A translation found through the TLB may be used until the guest
// invalidates it (invlpg or a CR3 write, both of which leave the block). A
// store must also see write protection that the VMM adds in a callout (a
// page becoming a page table): a callout that adds any leaves the block
// (VcpuRuntime::LeaveAfterRevocation), and the loop is entered again through
// its check. A span the VMM cannot stand behind (not RAM, crossing onto a
// discontiguous page, unmapped, or a store to code or page tables) is
// declined like an access group's: the block is translated again without
// either.
//
// (Tried and dropped: the same for any block, the span checked at its start
// to take the check off a chain of dependent loads, an interpreter's
// register file and dispatch table. A 2 KiB span straddles a page about
// half the time, and the inline check covers one page: such blocks went to
// the VMM at every run until declined, and lost their groups with it. The
// bytecode interpreter kernel went from 3.46 s to 3.75 s.)
#pragma once

#include <cstdint>
#include <vector>

#include "codecache/site.h"
#include "translator/classify.h"
#include "translator/decoder.h"

namespace xlat {

struct CheckedSpan {
  AddressExpr base;      // its lowest byte: base + disp (+ index * scale when invariant)
  bool indexed = false;  // members keep their (bounded) index registers
  uint32_t span = 0;     // bytes from there
  uint8_t access = 0;    // MemAccessBits of its members
  unsigned members = 0;
};

// Whether the block ends with a jcc back to its own start (`rip`).
bool LoopsToItself(const std::vector<DecodedInsn>& insns, const std::vector<InsnKind>& kinds, uint64_t rip);

// In a block that loops to itself: the span with the most members. For
// each instruction, *offset gets its access's displacement from the span's
// base, or -1 when it is not a member. False if there is none.
bool FindCheckedSpan(const std::vector<DecodedInsn>& insns, const std::vector<InsnKind>& kinds, CheckedSpan* span,
                     std::vector<int32_t>* offset);

inline constexpr uint32_t kMaxCheckedSpan = 2048;

}  // namespace xlat
