#include "translator/checked_span.h"

#include <algorithm>
#include <bit>

#include "translator/emit_memory.h"
#include "translator/liveness.h"
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

// An access a loop's checks may stand for: an explicit memory operand with
// a ModRM, flat 64-bit addressing, no high-byte register. *op and *x get
// the operand and its address.
bool PlainLoopAccess(const DecodedInsn& d, InsnKind kind, const ZydisDecodedOperand** op, AddressExpr* x) {
  if (kind != InsnKind::kMem || UsesHighByteRegister(d) || !(d.insn.attributes & ZYDIS_ATTRIB_HAS_MODRM)) return false;
  const int mi = d.MemOperand();
  if (mi < 0) return false;
  *op = &d.ops[mi];
  *x = AddressOf(d, **op);
  return x->segment < 0 && x->addr_bits == 64 && (*op)->size != 0;
}

uint8_t AccessBitsOf(const ZydisDecodedOperand& op) {
  return static_cast<uint8_t>(((op.actions & ZYDIS_OPERAND_ACTION_MASK_READ) ? kAccessRead : 0) |
                              ((op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) ? kAccessWrite : 0));
}

// What a register holds, relative to the loop head: origin's value there
// plus off, or nothing known (origin -1).
struct SymbolicValue {
  int8_t origin = -1;
  int64_t off = 0;
};

// Applies `d` to the symbolic registers: mov r, s; lea r, [s + c];
// add/sub r, imm; inc/dec r (all 64-bit) keep track; any other write
// forgets.
void StepSymbolic(const DecodedInsn& d, SymbolicValue (&sym)[kGprCount]) {
  const uint16_t w = GprsWritten(d);
  if (!w) return;
  const ZydisDecodedOperand& dst = d.ops[0];
  const int r = d.insn.operand_count_visible >= 1 && dst.type == ZYDIS_OPERAND_TYPE_REGISTER && dst.size == 64
                    ? GprNumber(dst.reg.value)
                    : -1;
  SymbolicValue v;  // unknown
  if (r >= 0 && w == (1u << r)) {
    const ZydisDecodedOperand& src = d.ops[1];
    switch (d.mnemonic()) {
      case ZYDIS_MNEMONIC_MOV:
        if (src.type == ZYDIS_OPERAND_TYPE_REGISTER && src.size == 64) v = sym[GprNumber(src.reg.value)];
        break;
      case ZYDIS_MNEMONIC_LEA:
        if (src.type == ZYDIS_OPERAND_TYPE_MEMORY && d.insn.address_width == 64 && src.mem.index == ZYDIS_REGISTER_NONE &&
            GprNumber(src.mem.base) >= 0) {
          v = sym[GprNumber(src.mem.base)];
          v.off += src.mem.disp.has_displacement ? src.mem.disp.value : 0;
        }
        break;
      case ZYDIS_MNEMONIC_ADD:
      case ZYDIS_MNEMONIC_SUB:
        if (d.insn.operand_count_visible == 2 && src.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
          v = sym[r];
          v.off += d.mnemonic() == ZYDIS_MNEMONIC_ADD ? src.imm.value.s : -src.imm.value.s;
        }
        break;
      case ZYDIS_MNEMONIC_INC: v = sym[r]; v.off += 1; break;
      case ZYDIS_MNEMONIC_DEC: v = sym[r]; v.off -= 1; break;
      default: break;
    }
  }
  for (unsigned g = 0; g < kGprCount; ++g)
    if (w & (1u << g)) sym[g] = SymbolicValue{};
  if (r >= 0 && w == (1u << r)) sym[r] = v;
}

}  // namespace

bool FindStrideSpans(const std::vector<DecodedInsn>& insns, const std::vector<InsnKind>& kinds,
                     const std::vector<int32_t>& apart, unsigned max_groups, StrideSpans* out,
                     std::vector<int8_t>* group) {
  max_groups = std::min(max_groups, kMaxStrideGroups);
  if (max_groups == 0) return false;
  // Follow each register through one iteration: a counter ends it as its
  // own value at the head plus a constant step. An access's registers are
  // taken as they stand before it.
  struct AccessRegs {
    SymbolicValue base, index;
  };
  static thread_local std::vector<AccessRegs> at;
  at.resize(insns.size());
  SymbolicValue sym[kGprCount];
  for (unsigned r = 0; r < kGprCount; ++r) sym[r] = SymbolicValue{static_cast<int8_t>(r), 0};
  // The instruction that sets the flags the closing jcc tests: a loop
  // whose exit it decides from a counter (cmp against a bound, dec to zero)
  // tends to run many iterations; one that exits on data it loaded (a
  // search, a partition scan) often runs two or three, where the check
  // before the loop costs more than the checks it saves.
  int exit_test = -1;
  for (size_t j = insns.size() - 1; j-- > 0;)
    if (FlagEffectOf(insns[j]).writes) {
      exit_test = static_cast<int>(j);
      break;
    }
  uint16_t exit_regs = 0;  // counter origins of the registers it compares
  uint16_t written = 0;
  for (size_t i = 0; i < insns.size(); ++i) {
    const DecodedInsn& d = insns[i];
    if (static_cast<int>(i) == exit_test)
      for (unsigned k = 0; k < d.insn.operand_count_visible; ++k) {
        if (d.ops[k].type != ZYDIS_OPERAND_TYPE_REGISTER) continue;
        const int r = GprNumber(d.ops[k].reg.value);
        if (r >= 0 && sym[r].origin >= 0) exit_regs |= static_cast<uint16_t>(1u << sym[r].origin);
      }
    if (kinds[i] == InsnKind::kMem) {
      const int mi = d.MemOperand();
      const int b = mi >= 0 ? GprNumber(d.ops[mi].mem.base) : -1, x = mi >= 0 ? GprNumber(d.ops[mi].mem.index) : -1;
      at[i].base = b >= 0 ? sym[b] : SymbolicValue{};
      at[i].index = x >= 0 ? sym[x] : SymbolicValue{};
    }
    written |= GprsWritten(d);
    StepSymbolic(d, sym);
  }
  uint16_t counters = 0;
  for (unsigned r = 0; r < kGprCount; ++r)
    if (r != kRsp && sym[r].origin == static_cast<int8_t>(r) && sym[r].off != 0) counters |= static_cast<uint16_t>(1u << r);
  if (!counters || !(exit_regs & counters)) return false;

  struct Candidate {
    StrideGroup g;
    int counter;
    int64_t lo, hi;
  };
  constexpr size_t kMaxCandidates = 8;
  Candidate cands[kMaxCandidates];
  size_t n = 0;
  static thread_local std::vector<int8_t> cand_of;
  cand_of.assign(insns.size(), -1);
  for (size_t i = 0; i < insns.size(); ++i) {
    const ZydisDecodedOperand* opp;
    AddressExpr x;
    if (apart[i] >= 0 || !PlainLoopAccess(insns[i], kinds[i], &opp, &x)) continue;
    const ZydisDecodedOperand& op = *opp;
    // [B + X*s + d] or [X + d], X the counter plus `moved` here, B unchanged.
    SymbolicValue v;
    unsigned scale;
    if (x.index >= 0 && x.base != x.index && (x.base < 0 || !(written & (1u << x.base)))) {
      v = at[i].index;
      scale = x.scale;
    } else if (x.base >= 0 && x.index < 0) {
      v = at[i].base;
      scale = 1;
      x.base = -1;  // the window's address is then [I*1 + lo]
    } else {
      continue;
    }
    if (v.origin < 0 || !(counters & (1u << v.origin))) continue;
    const int counter = v.origin;
    const int64_t step = sym[counter].off;
    const uint64_t stride = static_cast<uint64_t>(step < 0 ? -step : step) * scale;
    constexpr int64_t kMaxMove = kMaxStrideSpan;
    if (!std::has_single_bit(stride) || stride > kMaxStrideSpan || v.off < -kMaxMove || v.off > kMaxMove) continue;
    const int64_t moved = v.off;
    const int64_t lo = moved * static_cast<int64_t>(scale) + x.disp, hi = lo + op.size / 8;
    if (lo < INT32_MIN || hi > INT32_MAX) continue;
    AddressExpr key = x;
    key.disp = 0;
    key.index = static_cast<int8_t>(counter);
    key.scale = static_cast<uint8_t>(scale);
    size_t c = 0;
    while (c < n && !(cands[c].counter == counter && cands[c].g.at.base == key.base && cands[c].g.at.index == key.index &&
                      cands[c].g.at.scale == key.scale &&
                      std::max(cands[c].hi, hi) - std::min(cands[c].lo, lo) <= kMaxStrideSpan))
      ++c;
    if (c == n) {
      if (n == kMaxCandidates) continue;
      Candidate& k = cands[n++];
      k = Candidate{};
      k.g.at = key;
      k.g.shift = static_cast<uint8_t>(std::countr_zero(stride));
      k.counter = counter;
      k.lo = lo;
      k.hi = hi;
    }
    Candidate& k = cands[c];
    k.lo = std::min(k.lo, lo);
    k.hi = std::max(k.hi, hi);
    k.g.access |= AccessBitsOf(op);
    k.g.members++;
    cand_of[i] = static_cast<int8_t>(c);
  }
  // The counter whose best groups have the most members.
  int best_counter = -1;
  unsigned best_members = 0;
  int8_t chosen[kMaxCandidates];
  for (int r = 0; r < kGprCount; ++r) {
    if (!(counters & (1u << r))) continue;
    int8_t pick[kMaxCandidates];
    unsigned members = 0, picked = 0;
    for (size_t c = 0; c < n; ++c) pick[c] = -1;
    for (unsigned round = 0; round < max_groups; ++round) {
      int top = -1;
      for (size_t c = 0; c < n; ++c)
        if (cands[c].counter == r && pick[c] < 0 && (top < 0 || cands[c].g.members > cands[top].g.members))
          top = static_cast<int>(c);
      if (top < 0) break;
      pick[top] = static_cast<int8_t>(picked++);
      members += cands[top].g.members;
    }
    if (members > best_members) {
      best_members = members;
      best_counter = r;
      std::copy(pick, pick + n, chosen);
    }
  }
  if (best_counter < 0) return false;
  out->counter = best_counter;
  out->step = sym[best_counter].off;
  out->count = 0;
  for (size_t c = 0; c < n; ++c) {
    if (chosen[c] < 0) continue;
    StrideGroup& g = out->groups[chosen[c]];
    g = cands[c].g;
    g.at.disp = cands[c].lo;
    g.span = static_cast<uint32_t>(cands[c].hi - cands[c].lo);
    out->count++;
  }
  group->assign(insns.size(), -1);
  for (size_t i = 0; i < insns.size(); ++i)
    if (cand_of[i] >= 0) (*group)[i] = chosen[cand_of[i]];
  return true;
}

int64_t IndexBoundAt(const std::vector<DecodedInsn>& insns, size_t i, int reg) {
  for (size_t j = i; j-- > 0;)
    if (GprsWritten(insns[j]) & (1u << reg)) {
      uint64_t bound = 0;
      return BoundOf(insns[j], reg, &bound) ? static_cast<int64_t>(bound) : -1;
    }
  return -1;
}

bool LoopsToItself(const std::vector<DecodedInsn>& insns, const std::vector<InsnKind>& kinds, uint64_t rip) {
  if (insns.empty() || kinds.back() != InsnKind::kJcc) return false;
  const DecodedInsn& tail = insns.back();
  return tail.ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
         tail.direct_target() == rip;
}

bool FindCheckedSpan(const std::vector<DecodedInsn>& insns, const std::vector<InsnKind>& kinds, CheckedSpan* out,
                     std::vector<int32_t>* offset, unsigned min_members, bool indexed_only) {
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
    const ZydisDecodedOperand* opp;
    AddressExpr x;
    if (!PlainLoopAccess(insns[i], kinds[i], &opp, &x)) continue;
    const ZydisDecodedOperand& op = *opp;
    if (x.base >= 0 && (written & (1u << x.base))) continue;
    AddressExpr key = x;
    key.disp = 0;
    bool indexed = false;
    uint64_t reach = 0;  // the highest index * scale
    if (x.index >= 0 && (written & (1u << x.index))) {
      // The last write of the index before the access must bound it.
      const int64_t bound = IndexBoundAt(insns, i, x.index);
      if (bound < 0) continue;
      reach = static_cast<uint64_t>(bound) * x.scale;
      indexed = true;
      key.index = -1;
      key.scale = 1;
    }
    const int64_t lo = x.disp, hi = x.disp + static_cast<int64_t>(reach) + op.size / 8;
    if (hi - lo > kMaxCheckedSpan) continue;
    const uint8_t access = AccessBitsOf(op);
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
    if ((!indexed_only || cands[c].s.indexed) && (best == n_cands || cands[c].s.members > cands[best].s.members))
      best = c;
  if (best == n_cands || cands[best].s.members < min_members) return false;
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
