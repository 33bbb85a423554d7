#include "translator/loop_read.h"

#include "translator/emit_memory.h"

namespace xlat {

namespace {

// The largest value `w` leaves in the whole 64-bit register `reg`, if it
// bounds it: movzx from a byte, or and with a small non-negative constant
// (both into 32 or 64 bits, which clears the upper bits). Else false.
bool BoundOf(const DecodedInsn& w, int reg, uint64_t* bound) {
  const ZydisDecodedOperand& dst = w.ops[0];
  if (w.insn.operand_count_visible < 2 || dst.type != ZYDIS_OPERAND_TYPE_REGISTER ||
      GprNumber(dst.reg.value) != reg || dst.size < 32)
    return false;
  const ZydisDecodedOperand& src = w.ops[1];
  switch (w.mnemonic()) {
    case ZYDIS_MNEMONIC_MOVZX:
      if (src.size != 8) return false;
      *bound = 0xff;
      return true;
    case ZYDIS_MNEMONIC_AND:
      if (src.type != ZYDIS_OPERAND_TYPE_IMMEDIATE || src.imm.value.s < 0 || src.imm.value.s > 0xfff) return false;
      *bound = static_cast<uint64_t>(src.imm.value.s);
      return true;
    default:
      return false;
  }
}

}  // namespace

bool LoopsToItself(const std::vector<DecodedInsn>& insns, const std::vector<InsnKind>& kinds, uint64_t rip) {
  if (insns.empty() || kinds.back() != InsnKind::kJcc) return false;
  const DecodedInsn& tail = insns.back();
  return tail.ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
         tail.next_rip() + static_cast<uint64_t>(tail.ops[0].imm.value.s) == rip;
}

LoopRead FindLoopRead(const std::vector<DecodedInsn>& insns, const std::vector<InsnKind>& kinds,
                      const std::vector<GroupMembership>& groups) {
  LoopRead none;
  uint16_t written = 0;
  for (const DecodedInsn& d : insns) written |= GprsWritten(d);

  for (size_t i = 0; i < insns.size(); ++i) {
    const DecodedInsn& d = insns[i];
    if (kinds[i] != InsnKind::kMem || groups[i].group >= 0 || UsesHighByteRegister(d) ||
        !(d.insn.attributes & ZYDIS_ATTRIB_HAS_MODRM))
      continue;
    const int mi = d.MemOperand();
    if (mi < 0) continue;
    const ZydisDecodedOperand& op = d.ops[mi];
    if (op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) continue;
    const AddressExpr x = AddressOf(d, op);
    if (x.segment >= 0 || x.addr_bits != 64) continue;
    if (x.base >= 0 && (written & (1u << x.base))) continue;
    LoopRead r;
    r.insn = static_cast<int>(i);
    r.base = x;
    r.base.index = -1;
    r.base.scale = 1;
    uint64_t reach = 0;  // the highest index * scale
    if (x.index >= 0 && (written & (1u << x.index))) {
      // The last write of the index before the read must bound it.
      int w = -1;
      for (size_t j = i; j-- > 0;)
        if (GprsWritten(insns[j]) & (1u << x.index)) {
          w = static_cast<int>(j);
          break;
        }
      uint64_t bound = 0;
      if (w < 0 || !BoundOf(insns[w], x.index, &bound)) continue;
      reach = bound * x.scale;
      r.indexed = true;
    } else if (x.index >= 0) {
      r.base.index = x.index;  // invariant too: the whole address is
      r.base.scale = x.scale;
    }
    const uint64_t span = reach + op.size / 8;
    if (op.size == 0 || span > kMaxLoopReadSpan) continue;
    r.span = static_cast<uint32_t>(span);
    return r;
  }
  return none;
}

int FindLoopGroup(const std::vector<DecodedInsn>& insns, const std::vector<MemGroup>& groups,
                  const std::vector<GroupMembership>& membership) {
  uint16_t written = 0;
  for (const DecodedInsn& d : insns) written |= GprsWritten(d);
  int best = -1;
  unsigned best_members = 0;
  for (const MemGroup& g : groups) {
    const AddressExpr& x = g.base;
    if (x.base == kRsp || x.segment >= 0 || x.addr_bits != 64) continue;
    const uint16_t regs = static_cast<uint16_t>((x.base >= 0 ? 1u << x.base : 0) | (x.index >= 0 ? 1u << x.index : 0));
    if (regs & written) continue;
    unsigned members = 0;
    for (const GroupMembership& m : membership) members += m.group == g.index;
    if (members > best_members) {
      best = g.index;
      best_members = members;
    }
  }
  return best;
}

}  // namespace xlat
