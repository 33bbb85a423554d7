// Arithmetic flags saved lazily before an indirect branch.
//
// A block that ends in an indirect branch saves the guest's arithmetic flags
// (flags_slot.h) because it cannot know whether the target reads them, and
// almost no target does. Where the last instruction that wrote them is an
// add, sub or cmp of registers (or a register and an immediate) that the rest
// of the block leaves alone, the block stores instead which instruction it
// was: one store of a constant where lahf, seto and parking rax took five
// instructions. Whoever needs the flags makes them again from the registers,
// which still hold the operands (an add's first one is its result minus its
// second): host code where translated code needs them (a stub per
// instruction form, which the target's indirect entry jumps to), C++ where
// the VMM does (SavedArithFlags).
//
// ctx.flags_lahf then holds (id << 16) | kLazyFlagsMarker. The marker is
// lahf's AH bit 3, RFLAGS bit 3, which is reserved and always 0: the eager
// save's 16-bit store of AH:AL turns it off by itself. For an id,
// ctx.lazy_flags_desc[id] is the instruction's form (LazyFlagsDesc, packed)
// and ctx.lazy_flags_stub[id] its stub's host address.
//
// The translator hands out ids and emits stubs into the code cache; a flush
// forgets both. That is safe because the slot is read only on the path from
// the store that wrote it (the target's indirect entry, the lookup-miss
// thunk, the VMM at a site of the same block), before the VMM could flush.
#pragma once

#include <cstdint>

namespace xlat {

struct VcpuContext;

inline constexpr uint64_t kLazyFlagsMarker = 0x0800;

struct LazyFlagsDesc {
  enum Op : uint8_t { kAdd, kSub, kCmp };
  Op op;
  uint8_t width_log2;  // operand size: 1 << width_log2 bytes
  uint8_t dst;         // first operand's GPR
  bool src_is_imm;
  uint8_t src;         // second operand's GPR, or
  int32_t imm;         // its immediate, sign-extended to 32 bits

  uint64_t Pack() const {
    return uint64_t{op} | uint64_t{width_log2} << 2 | uint64_t{dst} << 4 | uint64_t{src_is_imm} << 8 |
           uint64_t{src} << 9 | uint64_t{static_cast<uint32_t>(imm)} << 32;
  }
  static LazyFlagsDesc Unpack(uint64_t v) {
    return LazyFlagsDesc{static_cast<Op>(v & 3),  static_cast<uint8_t>((v >> 2) & 3),
                         static_cast<uint8_t>((v >> 4) & 15), ((v >> 8) & 1) != 0,
                         static_cast<uint8_t>((v >> 9) & 15), static_cast<int32_t>(v >> 32)};
  }
};

// The arithmetic flags (RFLAGS layout) that `desc` left, with the guest's
// GPRs `gpr` as they were when the block stored it: the host's own add, sub
// or cmp makes them.
uint64_t LazyArithFlags(const LazyFlagsDesc& desc, const uint64_t* gpr);

// The arithmetic flags in ctx.flags_lahf, saved either way (the GPRs in
// ctx.gpr already precise). A lazy save is made eager in the slot.
uint64_t SavedArithFlags(VcpuContext& ctx);

}  // namespace xlat
