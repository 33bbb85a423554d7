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

// The step by which `d` moves `reg` (all 64 bits), if it is a constant
// update of reg by itself: add/sub reg, imm; inc/dec reg; lea reg, [reg + c].
bool StepOf(const DecodedInsn& d, int* reg, int64_t* step) {
  const ZydisDecodedOperand& dst = d.ops[0];
  if (d.insn.operand_count_visible < 1 || dst.type != ZYDIS_OPERAND_TYPE_REGISTER || dst.size != 64) return false;
  const int r = GprNumber(dst.reg.value);
  if (r < 0 || r == kRsp) return false;
  const ZydisDecodedOperand& src = d.ops[1];
  switch (d.mnemonic()) {
    case ZYDIS_MNEMONIC_ADD:
    case ZYDIS_MNEMONIC_SUB:
      if (d.insn.operand_count_visible != 2 || src.type != ZYDIS_OPERAND_TYPE_IMMEDIATE) return false;
      *step = d.mnemonic() == ZYDIS_MNEMONIC_ADD ? src.imm.value.s : -src.imm.value.s;
      break;
    case ZYDIS_MNEMONIC_INC: *step = 1; break;
    case ZYDIS_MNEMONIC_DEC: *step = -1; break;
    case ZYDIS_MNEMONIC_LEA:
      if (src.type != ZYDIS_OPERAND_TYPE_MEMORY || GprNumber(src.mem.base) != r || src.mem.index != ZYDIS_REGISTER_NONE ||
          d.insn.address_width != 64)
        return false;
      *step = src.mem.disp.has_displacement ? src.mem.disp.value : 0;
      break;
    default:
      return false;
  }
  *reg = r;
  return *step != 0;
}

bool IsPowerOfTwo(uint64_t v) { return v && !(v & (v - 1)); }

}  // namespace

bool FindStrideSpans(const std::vector<DecodedInsn>& insns, const std::vector<InsnKind>& kinds,
                     const std::vector<int32_t>& apart, unsigned max_groups, StrideSpans* out,
                     std::vector<int8_t>* group) {
  max_groups = std::min(max_groups, kMaxStrideGroups);
  if (max_groups == 0) return false;
  // Registers written by more than one instruction, or by one that is not
  // a constant step of itself, are no counters.
  uint16_t written = 0, twice = 0, stepped = 0;
  int64_t step_of[kGprCount] = {};
  int at_of[kGprCount];
  for (size_t i = 0; i < insns.size(); ++i) {
    const uint16_t w = GprsWritten(insns[i]);
    twice |= written & w;
    written |= w;
    int r;
    int64_t st;
    if (StepOf(insns[i], &r, &st) && w == (1u << r)) {
      stepped |= static_cast<uint16_t>(1u << r);
      step_of[r] = st;
      at_of[r] = static_cast<int>(i);
    }
  }
  const uint16_t counters = stepped & ~twice;
  if (!counters) return false;

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
    int counter;
    bool counter_is_base;
    unsigned scale;
    if (x.index >= 0 && (counters & (1u << x.index)) && x.base != x.index &&
        (x.base < 0 || !(written & (1u << x.base)))) {
      counter = x.index;
      counter_is_base = false;
      scale = x.scale;
    } else if (x.base >= 0 && (counters & (1u << x.base)) && x.index < 0) {
      counter = x.base;
      counter_is_base = true;
      scale = 1;
    } else {
      continue;
    }
    const int64_t step = step_of[counter];
    const uint64_t stride = static_cast<uint64_t>(step < 0 ? -step : step) * scale;
    if (!IsPowerOfTwo(stride) || stride > kMaxStrideSpan) continue;
    // Where the counter stands at this access, relative to the loop head.
    const int64_t moved = static_cast<int>(i) > at_of[counter] ? step : 0;
    const int64_t lo = moved * static_cast<int64_t>(scale) + x.disp, hi = lo + op.size / 8;
    AddressExpr key = x;
    key.disp = 0;
    size_t c = 0;
    while (c < n && !(cands[c].counter == counter && cands[c].g.counter_is_base == counter_is_base &&
                      cands[c].g.at.base == key.base && cands[c].g.at.index == key.index &&
                      cands[c].g.at.scale == key.scale &&
                      std::max(cands[c].hi, hi) - std::min(cands[c].lo, lo) <= kMaxStrideSpan))
      ++c;
    if (c == n) {
      if (n == kMaxCandidates) continue;
      Candidate& k = cands[n++];
      k = Candidate{};
      k.g.at = key;
      k.g.counter_is_base = counter_is_base;
      k.g.shift = static_cast<uint8_t>(__builtin_ctzll(stride));
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
  out->step = step_of[best_counter];
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
