// The translator's side of lazily saved flags (cpu/lazy_flags.h): which flag
// writers qualify, and the stub that makes one's flags again.
#pragma once

#include <asmjit/x86.h>

#include <cstdint>
#include <optional>

#include "cpu/lazy_flags.h"
#include "translator/decoder.h"

namespace xlat {

// The form of `w`, the last instruction of a block to write the arithmetic
// flags, if they may be saved lazily: an add, sub or cmp of a GPR with a GPR
// or an immediate, neither of them r11 (which an indirect transfer
// displaces) nor in `written_after` (GPRs the rest of the block writes), and
// for add and sub two different registers (the first operand's value before
// comes back as the result minus, or plus, the second).
std::optional<LazyFlagsDesc> LazyFlagsDescOf(const DecodedInsn& w, uint16_t written_after);

// Makes the flags `d` made again, in RFLAGS, from the registers (which must
// hold what they held after it), touching nothing else of the guest's.
void EmitLazyFlagsAgain(asmjit::x86::Assembler& a, const LazyFlagsDesc& d);

// The stub for `d`: entered by a jmp with the guest's GPRs as the block left
// them (r11 aside); leaves the flags `d` made in RFLAGS and, eagerly, in
// ctx.flags_lahf, touching nothing else of the guest's, and jumps to
// ctx.lazy_flags_ret.
void EmitLazyFlagsStub(asmjit::x86::Assembler& a, const LazyFlagsDesc& d);

}  // namespace xlat
