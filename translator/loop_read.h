// A read in a loop whose address range does not change between iterations.
//
// A block that branches back to its own start runs its body once per
// iteration, and every memory access pays its TLB check each time. Where a
// read's base register is not written anywhere in the block and its index
// register is bounded by the block itself before the read (movzx from a
// byte, or an and with a small constant), every iteration reads within
// [base + disp, base + disp + bound * scale + size). One check of that span,
// before the loop head, stands for all iterations: the read then runs
// natively on [host base + index * scale]. The table lookup of a CRC or a
// byte-indexed decoder loop loses its check, and with it three loads on the
// critical path.
//
// Only reads: a translation found through the TLB may be used until the
// guest invalidates it (invlpg or a CR3 write, both of which leave the
// block), but a store must see write protection that the VMM may add in any
// callout (a page becoming a page table). A span the VMM cannot stand
// behind (not RAM, crossing onto a discontiguous page, unmapped) is declined
// like an access group's: the block is translated again without either.
#pragma once

#include <cstdint>
#include <vector>

#include "codecache/site.h"
#include "translator/classify.h"
#include "translator/decoder.h"
#include "translator/mem_groups.h"

namespace xlat {

struct LoopRead {
  int insn = -1;        // index of the read in the block, or -1: none
  AddressExpr base;     // the lowest byte it can read: base + disp, with the
                        // index too when that is invariant
  bool indexed = false; // the read adds its (bounded) index to the checked base
  uint32_t span = 0;    // bytes it can read from there
};

// Whether the block ends with a jcc back to its own start (`rip`).
bool LoopsToItself(const std::vector<DecodedInsn>& insns, const std::vector<InsnKind>& kinds, uint64_t rip);

// The first such read of a block that loops to itself, other than a member
// of an access group (`groups`, per instruction), or none. Spans are at most
// kMaxLoopReadSpan bytes.
LoopRead FindLoopRead(const std::vector<DecodedInsn>& insns, const std::vector<InsnKind>& kinds,
                      const std::vector<GroupMembership>& groups);

inline constexpr uint32_t kMaxLoopReadSpan = 2048;

}  // namespace xlat
