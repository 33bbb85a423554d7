// Flag liveness within a block. A rewrite that inserts flag-clobbering code
// before a guest instruction may do so only where no arithmetic flag is live.
//
// An instruction kills a flag only if it always writes it: flags Zydis lists
// as "undefined" may in fact be left unchanged by the hardware, and shifts
// and rotates by a count that may be zero change nothing, so neither kills.
// The exception: flags the manuals leave undefined after and/or/xor/test,
// shl/shr/sar and imul that this host is seen to compute whatever came
// before (HostDefined*Flags): those are as good as written.
// At the end of a block every flag is live (the successor is unknown).
#pragma once

#include <cstdint>
#include <span>

#include "translator/decoder.h"

namespace xlat {

struct FlagEffect {
  uint32_t reads = 0;   // RFLAGS bit mask of arithmetic flags read
  uint32_t kills = 0;   // ... always written
  uint32_t writes = 0;  // arithmetic flags and DF possibly written (including "undefined")
};

FlagEffect FlagEffectOf(const DecodedInsn& d);

// Of the arithmetic flags the manuals leave undefined after and/or/xor/test
// (AF), after shl/shr/sar by a non-zero count (AF, OF) and after two- and
// three-operand imul (SF, ZF, AF, PF), those whose value on this host never
// depends on the flags before the instruction. (A host that passed one
// through would make the flag before live across the instruction.) Each
// family is run natively once, at every width, on operands, counts and
// flags that reach the corners.
uint32_t HostDefinedLogicFlags();
uint32_t HostDefinedShiftFlags();
uint32_t HostDefinedImulFlags();

// The arithmetic flags (RFLAGS layout) `d` leaves whatever the operands, or
// -1: xor, sub and cmp of a register with itself (a zero result; xor's AF as
// this host's own xor of a register with itself makes it, where it never
// depends on the flags before).
int32_t ConstantFlagsOf(const DecodedInsn& d);

// True for instructions that raise an exception when run natively on some
// operands that the translation does not check first: div/idiv (#DE).
// Their exception frame must hold the exact flags.
bool MayFaultNatively(const DecodedInsn& d);

// The alignment (in bytes) a memory operand must have, else #GP(0): movaps
// and the other aligned moves (16, or 32 for a VEX ymm operand), legacy SSE
// with a 16-byte operand, cmpxchg16b, fxsave/fxrstor. 0 for none. Where the
// guest's flags are dead the TLB lookup tests it and the VMM raises the #GP;
// where they are live the access faults natively, flags intact.
unsigned RequiredAlignment(const DecodedInsn& d);

// live_in[i] / live_out[i]: arithmetic flags live before / after insn i.
// `live_at_end`: flags live when the block leaves. `read_all_after[i]`
// nonzero: after insn i a pseudo-instruction reads every flag (the flags
// save before an indirect branch, or before a trace's guard).
void ComputeFlagLiveness(std::span<const FlagEffect> effects, std::span<uint32_t> live_in,
                         std::span<uint32_t> live_out, uint32_t live_at_end, std::span<const uint8_t> read_all_after);

}  // namespace xlat
