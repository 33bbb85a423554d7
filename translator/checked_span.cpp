#include "translator/checked_span.h"

#include <algorithm>

#include "translator/emit_memory.h"
#include "translator/mem_groups.h"

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
         tail.direct_target() == rip;
}

bool FindCheckedSpan(const std::vector<DecodedInsn>& insns, const std::vector<InsnKind>& kinds, CheckedSpan* out,
                     std::vector<int32_t>* offset) {
  // Candidate spans, each a base register with its accesses' union; at most
  // a few per block (kept inline: this runs for every block).
  struct Candidate {
    CheckedSpan s;
    int64_t lo, hi;  // the union of the members' ranges, relative to the base register
  };
  constexpr size_t kMaxCandidates = 8;
  Candidate cands[kMaxCandidates];
  size_t n_cands = 0;
  static thread_local std::vector<int8_t> cand_of;  // per instruction
  cand_of.assign(insns.size(), -1);
  uint16_t written = 0;  // anywhere in the loop: the next iteration sees it
  for (const DecodedInsn& d : insns) written |= GprsWritten(d);

  for (size_t i = 0; i < insns.size(); ++i) {
    const DecodedInsn& d = insns[i];
    if (kinds[i] != InsnKind::kMem || UsesHighByteRegister(d) ||
        !(d.insn.attributes & ZYDIS_ATTRIB_HAS_MODRM))
      continue;
    const int mi = d.MemOperand();
    if (mi < 0) continue;
    const ZydisDecodedOperand& op = d.ops[mi];
    const AddressExpr x = AddressOf(d, op);
    if (x.segment >= 0 || x.addr_bits != 64 || op.size == 0) continue;
    if (x.base >= 0 && (written & (1u << x.base))) continue;
    AddressExpr key = x;
    key.disp = 0;
    bool indexed = false;
    uint64_t reach = 0;  // the highest index * scale
    if (x.index >= 0 && (written & (1u << x.index))) {
      // The last write of the index before the access must bound it.
      int w = -1;
      for (size_t j = i; j-- > 0;)
        if (GprsWritten(insns[j]) & (1u << x.index)) {
          w = static_cast<int>(j);
          break;
        }
      uint64_t bound = 0;
      if (w < 0 || !BoundOf(insns[w], x.index, &bound)) continue;
      reach = bound * x.scale;
      indexed = true;
      key.index = -1;
      key.scale = 1;
    }
    const int64_t lo = x.disp, hi = x.disp + static_cast<int64_t>(reach) + op.size / 8;
    if (hi - lo > kMaxCheckedSpan) continue;
    const uint8_t access = static_cast<uint8_t>(((op.actions & ZYDIS_OPERAND_ACTION_MASK_READ) ? kAccessRead : 0) |
                                                ((op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) ? kAccessWrite : 0));
    size_t c = 0;
    while (c < n_cands && !(cands[c].s.indexed == indexed && cands[c].s.base.base == key.base &&
                            cands[c].s.base.index == key.index && cands[c].s.base.scale == key.scale &&
                            std::max(cands[c].hi, hi) - std::min(cands[c].lo, lo) <= kMaxCheckedSpan))
      ++c;
    if (c == n_cands) {
      if (n_cands == kMaxCandidates) continue;
      cands[n_cands++] = Candidate{CheckedSpan{key, indexed, 0, 0, 0}, lo, hi};
    }
    Candidate& k = cands[c];
    k.lo = std::min(k.lo, lo);
    k.hi = std::max(k.hi, hi);
    k.s.access |= access;
    k.s.members++;
    cand_of[i] = static_cast<int8_t>(c);
  }
  size_t best = n_cands;
  for (size_t c = 0; c < n_cands; ++c)
    if (best == n_cands || cands[c].s.members > cands[best].s.members) best = c;
  if (best == n_cands) return false;
  Candidate& k = cands[best];
  *out = k.s;
  out->base.disp = k.lo;
  out->span = static_cast<uint32_t>(k.hi - k.lo);
  offset->assign(insns.size(), -1);
  for (size_t i = 0; i < insns.size(); ++i) {
    if (cand_of[i] != static_cast<int8_t>(best)) continue;
    const AddressExpr x = AddressOf(insns[i], insns[i].ops[insns[i].MemOperand()]);
    (*offset)[i] = static_cast<int32_t>(x.disp - k.lo);
  }
  return true;
}

}  // namespace xlat
