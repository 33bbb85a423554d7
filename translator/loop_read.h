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
// The same holds for a whole access group (mem_groups.h) whose base and
// index registers no instruction of the block writes: the fields of a
// struct the loop reads and updates through one pointer are checked once
// before the loop, stores included, rather than once per iteration.
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

// The access group (index into `groups`) of a block that loops to itself
// whose address registers the block never writes, with the most members,
// or -1. Not the stack group, nor one through fs/gs.
int FindLoopGroup(const std::vector<DecodedInsn>& insns, const std::vector<MemGroup>& groups,
                  const std::vector<GroupMembership>& membership);

}  // namespace xlat
