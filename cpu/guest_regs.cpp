#include "cpu/guest_regs.h"

#include "mmu/page_walker.h"

namespace xlat {

uint64_t ReadGpr(const VcpuContext& c, ZydisRegister r) {
  if (r == ZYDIS_REGISTER_RIP) return c.rip;
  const int n = GprNumber(r);
  if (n < 0) return 0;
  const uint64_t v = c.gpr[n];
  if (IsHighByteReg(r)) return (v >> 8) & 0xff;  // ah..bh: rax..rbx bits 15:8
  switch (ZydisRegisterGetClass(r)) {
    case ZYDIS_REGCLASS_GPR8: return v & 0xff;
    case ZYDIS_REGCLASS_GPR16: return v & 0xffff;
    case ZYDIS_REGCLASS_GPR32: return v & 0xffffffffu;
    default: return v;
  }
}

void WriteGpr(VcpuContext& c, ZydisRegister r, uint64_t v) {
  const int n = GprNumber(r);
  if (n < 0) return;
  if (IsHighByteReg(r)) {
    uint64_t& g = c.gpr[n];
    g = (g & ~0xff00ull) | ((v & 0xff) << 8);
    return;
  }
  uint64_t& g = c.gpr[n];
  switch (ZydisRegisterGetClass(r)) {
    case ZYDIS_REGCLASS_GPR8: g = (g & ~0xffull) | (v & 0xff); break;
    case ZYDIS_REGCLASS_GPR16: g = (g & ~0xffffull) | (v & 0xffff); break;
    case ZYDIS_REGCLASS_GPR32: g = v & 0xffffffffu; break;
    default: g = v; break;
  }
}

uint64_t EffectiveAddress(const VcpuContext& c, const DecodedInsn& d, const ZydisDecodedOperand& op) {
  uint64_t a = 0;
  if (op.mem.base == ZYDIS_REGISTER_RIP || op.mem.base == ZYDIS_REGISTER_EIP) {
    a = d.next_rip();
  } else if (op.mem.base != ZYDIS_REGISTER_NONE) {
    a = c.gpr[GprNumber(op.mem.base)];
  }
  if (op.mem.index != ZYDIS_REGISTER_NONE) a += c.gpr[GprNumber(op.mem.index)] * (op.mem.scale ? op.mem.scale : 1);
  if (op.mem.disp.has_displacement) a += static_cast<uint64_t>(op.mem.disp.value);
  if (d.insn.address_width == 32) a &= 0xffffffffu;
  if (op.mem.segment == ZYDIS_REGISTER_FS) a += c.fs_base;
  if (op.mem.segment == ZYDIS_REGISTER_GS) a += c.gs_base;
  return a;
}

bool IsStackReference(const VcpuContext& c, const DecodedInsn& d, uint64_t va) {
  const ZydisDecodedOperand* only = nullptr;
  unsigned count = 0;
  bool stack_slot = false;
  for (unsigned i = 0; i < d.insn.operand_count; ++i) {
    const ZydisDecodedOperand& op = d.ops[i];
    if (op.type != ZYDIS_OPERAND_TYPE_MEMORY || op.mem.type == ZYDIS_MEMOP_TYPE_AGEN) continue;
    only = &op;
    ++count;
    if (op.visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT)
      stack_slot |= ReferencesStackSegment(d, op);
    else if (EffectiveAddress(c, d, op) == va)
      return ReferencesStackSegment(d, op);
  }
  if (count == 1) return ReferencesStackSegment(d, *only);
  return stack_slot;
}

bool IsNonCanonicalStackReference(const VcpuContext& c, const DecodedInsn& d) {
  for (unsigned i = 0; i < d.insn.operand_count; ++i) {
    const ZydisDecodedOperand& op = d.ops[i];
    if (op.type != ZYDIS_OPERAND_TYPE_MEMORY || op.mem.type == ZYDIS_MEMOP_TYPE_AGEN) continue;
    if (!ReferencesStackSegment(d, op)) continue;
    const uint64_t ea = EffectiveAddress(c, d, op);
    // Zydis names a push's or call's slot by rsp, where the store goes below it.
    const bool slot = op.visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT;
    if (!IsCanonical(ea) || (slot && !IsCanonical(ea - 8))) return true;
  }
  return false;
}

}  // namespace xlat
