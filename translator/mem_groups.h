// Grouping memory accesses that share one TLB check.
//
// Within a block, accesses through the same base/index registers (or to
// absolute addresses) whose registers do not change in between, and whose
// displacements span less than half a page, very likely fall in one page:
// [rsp+8] .. [rsp+48], the fields of one struct, a load and the store back
// to the same element. One check covers the whole span at the group's first
// access and leaves the host address of its lowest byte in a pool register;
// every member then runs natively on [that register + its offset].
//
// The stack is one such base even while rsp moves, as long as it moves by
// known amounts: push and pop of a register or an immediate, add/sub of a
// constant, lea rsp, [rsp + c]. A prologue (push rbp; push r15 ... push rbx;
// sub rsp, 40; mov [rsp + 8], rdi) or an epilogue (add rsp, 40; pop rbx ...
// pop rbp) then costs one check, not one per push, pop and access.
//
// When the span crosses onto a page that is not contiguous in host memory,
// touches a page it may not, or faults, the check cannot stand for every
// member: the VMM declines it, the block is translated again without groups,
// and each access gets its own check (and precise fault) again.
#pragma once

#include <cstdint>
#include <vector>

#include "codecache/site.h"
#include "translator/classify.h"
#include "translator/decoder.h"

namespace xlat {

struct MemGroup {
  AddressExpr base;      // the address of the group's lowest byte (disp = min displacement)
  int64_t min_disp = 0;
  uint32_t span = 0;     // bytes from the lowest to one past the highest accessed
  uint8_t access = 0;    // MemAccessBits of all members
  uint16_t first = 0;    // instruction indices of the first and last members
  uint16_t last = 0;
  int index = 0;         // position in the block's group list
};

// Where an instruction stands in the groups.
struct GroupMembership {
  int group = -1;        // index into the group list, or -1
  int32_t offset = 0;    // its access's address minus the group's lowest byte
};

// GPRs an instruction may write (explicit and implicit operands).
uint16_t GprsWritten(const DecodedInsn& d);

// Fills *groups with the groups (of two or more accesses) and *member with
// each instruction's membership. At most `max_live` groups overlap at any
// point. Instructions with (*apart)[i] >= 0 are checked apart (a loop's
// span, checked_span.h) and join none. (The vectors are the caller's, and
// so is their capacity: this allocates nothing once they have grown, and it
// runs for every block.)
void FindMemGroups(const std::vector<DecodedInsn>& insns, const std::vector<InsnKind>& kinds, unsigned max_live,
                   std::vector<GroupMembership>* member, std::vector<MemGroup>* groups,
                   const std::vector<int32_t>* apart = nullptr);

}  // namespace xlat
