// Reading and writing guest registers and operands from VMM code (emulation
// of sensitive and string instructions), with the architecture's width rules:
// 32-bit writes zero-extend, 8- and 16-bit writes merge, ah..bh are bits 15:8.
#pragma once

#include <Zydis/Zydis.h>

#include <cstdint>

#include "cpu/vcpu_context.h"
#include "translator/decoder.h"

namespace xlat {

uint64_t ReadGpr(const VcpuContext& c, ZydisRegister r);
void WriteGpr(VcpuContext& c, ZydisRegister r, uint64_t v);

// The guest virtual address of a memory operand: base + index * scale +
// displacement, truncated to the address size, plus the FS/GS base.
uint64_t EffectiveAddress(const VcpuContext& c, const DecodedInsn& d, const ZydisDecodedOperand& op);

// Whether the access at `va` that instruction `d` makes (with the registers
// in c as they were before it) goes through SS: its only memory operand, or
// the explicit one at `va`, or else its implicit stack slot.
bool IsStackReference(const VcpuContext& c, const DecodedInsn& d, uint64_t va);
// Whether one of d's references through SS has a non-canonical address (an
// implicit stack slot counts if either rsp or the slot below it is).
bool IsNonCanonicalStackReference(const VcpuContext& c, const DecodedInsn& d);

}  // namespace xlat
