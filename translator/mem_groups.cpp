#include "translator/mem_groups.h"

#include <algorithm>

#include "cpu/vcpu_context.h"
#include "translator/emit_memory.h"

namespace xlat {

namespace {

constexpr int64_t kMaxSpan = 2048;

bool SameKey(const AddressExpr& a, const AddressExpr& b) {
  return a.base == b.base && a.index == b.index && a.scale == b.scale && a.addr_bits == b.addr_bits &&
         a.segment == b.segment;
}

// What a stack instruction does to rsp and where it accesses, relative to rsp
// before it: push and pop of a register (not rsp) or an immediate.
struct StackAccess {
  bool member = false;   // an access the stack group can cover
  int32_t at = 0;        // its address minus rsp before the instruction
  uint32_t size = 0;
  uint8_t access = 0;
};

StackAccess StackAccessOf(const DecodedInsn& d, InsnKind k) {
  StackAccess sa;
  const unsigned size = d.insn.operand_width / 8;
  const bool gpr = d.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && GprNumber(d.ops[0].reg.value) >= 0;
  if (k == InsnKind::kPush && (gpr || d.ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)) {
    sa = {true, -static_cast<int32_t>(size), size, kAccessWrite};
  } else if (k == InsnKind::kPop && gpr && GprNumber(d.ops[0].reg.value) != kRsp) {
    sa = {true, 0, size, kAccessRead};
  }
  return sa;
}

// How much an instruction moves rsp when that is a constant: push, pop (not
// into rsp), add/sub rsp with an immediate, lea rsp, [rsp + c]. False when
// it writes rsp in any other way (or might).
bool KnownRspChange(const DecodedInsn& d, InsnKind k, int64_t* delta) {
  const unsigned size = d.insn.operand_width / 8;
  *delta = 0;
  switch (k) {
    case InsnKind::kPush:
      *delta = -static_cast<int64_t>(size);
      return true;
    case InsnKind::kPop:
      if (d.ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && GprNumber(d.ops[0].reg.value) == kRsp) return false;
      // (pop [rsp + d] addresses with rsp already moved; the group is not
      // asked to cover it, only to follow rsp.)
      *delta = size;
      return true;
    case InsnKind::kLeave: case InsnKind::kEnter: case InsnKind::kCall: case InsnKind::kRet:
      return false;  // rsp from rbp, or the block ends
    default:
      break;
  }
  if (!(GprsWritten(d) & (1u << kRsp))) return true;
  const ZydisDecodedOperand& dst = d.ops[0];
  if (dst.type != ZYDIS_OPERAND_TYPE_REGISTER || dst.reg.value != ZYDIS_REGISTER_RSP) return false;
  const ZydisDecodedOperand& src = d.ops[1];
  switch (d.mnemonic()) {
    case ZYDIS_MNEMONIC_ADD:
    case ZYDIS_MNEMONIC_SUB:
      if (src.type != ZYDIS_OPERAND_TYPE_IMMEDIATE) return false;
      *delta = d.mnemonic() == ZYDIS_MNEMONIC_ADD ? src.imm.value.s : -src.imm.value.s;
      return true;
    case ZYDIS_MNEMONIC_LEA:
      if (src.mem.base != ZYDIS_REGISTER_RSP || src.mem.index != ZYDIS_REGISTER_NONE || d.insn.address_width != 64)
        return false;
      *delta = src.mem.disp.value;
      return true;
    default:
      return false;
  }
}

// The register other than rsp that an instruction moves by a constant, when
// that is all it writes: add/sub of an immediate, inc/dec, lea r, [r + c],
// all 64-bit. -1 otherwise.
int KnownRegChange(const DecodedInsn& d, int64_t* delta) {
  const ZydisDecodedOperand& dst = d.ops[0];
  if (d.insn.operand_count_visible < 1 || dst.type != ZYDIS_OPERAND_TYPE_REGISTER || dst.size != 64) return -1;
  const int r = GprNumber(dst.reg.value);
  if (r < 0 || r == kRsp || GprsWritten(d) != (1u << r)) return -1;
  const ZydisDecodedOperand& src = d.ops[1];
  switch (d.mnemonic()) {
    case ZYDIS_MNEMONIC_INC:
    case ZYDIS_MNEMONIC_DEC:
      *delta = d.mnemonic() == ZYDIS_MNEMONIC_INC ? 1 : -1;
      return r;
    case ZYDIS_MNEMONIC_ADD:
    case ZYDIS_MNEMONIC_SUB:
      if (d.insn.operand_count_visible != 2 || src.type != ZYDIS_OPERAND_TYPE_IMMEDIATE) return -1;
      *delta = d.mnemonic() == ZYDIS_MNEMONIC_ADD ? src.imm.value.s : -src.imm.value.s;
      return r;
    case ZYDIS_MNEMONIC_LEA:
      if (GprNumber(src.mem.base) != r || src.mem.index != ZYDIS_REGISTER_NONE || d.insn.address_width != 64) return -1;
      *delta = src.mem.disp.value;
      return r;
    default:
      return -1;
  }
}

}  // namespace

uint16_t GprsWritten(const DecodedInsn& d) {
  uint16_t m = 0;
  for (unsigned i = 0; i < d.insn.operand_count; ++i) {
    const ZydisDecodedOperand& op = d.ops[i];
    if (op.type != ZYDIS_OPERAND_TYPE_REGISTER || !(op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) continue;
    const int n = GprNumber(op.reg.value);
    if (n >= 0) m |= static_cast<uint16_t>(1u << n);
  }
  return m;
}

void FindMemGroups(const std::vector<DecodedInsn>& insns, const std::vector<InsnKind>& kinds, unsigned max_live,
                   std::vector<GroupMembership>* member, std::vector<MemGroup>* groups,
                   const std::vector<int32_t>* apart) {
  // A candidate's members are instructions, each a member of one candidate
  // at most: they are chained by index through next_member, and each one's
  // address (relative as min_disp is) is in at_of.
  struct Candidate {
    MemGroup g;
    uint16_t first_member, last_member, members;
    uint16_t regs;            // base and index registers (none for the stack group: it follows rsp)
    bool open;
    bool stack;
    int64_t rsp_at_first;     // the stack group: rsp_off at its first member
    int64_t base_at_first;    // the others: reg_off of the base and index at the first member
    int64_t index_at_first;
  };
  // Kept across calls (one translator per vCPU thread): no allocation per block.
  static thread_local std::vector<Candidate> cands;
  static thread_local std::vector<int64_t> at_of;
  static thread_local std::vector<uint16_t> next_member;
  cands.clear();
  at_of.resize(insns.size());
  next_member.resize(insns.size());
  member->assign(insns.size(), GroupMembership{});
  groups->clear();
  // rsp relative to where it was when rsp_off was last reset: known while
  // every change since was a known constant. Likewise every other register
  // (reg_off), which a group keyed by it follows while it moves by
  // constants: a store through [rbp + r9*8], add r9, 1, then a load through
  // [rbp + r9*8] is one group of two members 8 bytes apart.
  int64_t rsp_off = 0;
  int64_t reg_off[kGprCount] = {};
  auto add_member = [&](int ci, bool stack, const AddressExpr& key, int64_t at, uint32_t size, uint8_t access,
                        uint16_t regs, size_t i) {
    const uint16_t idx = static_cast<uint16_t>(i);
    at_of[i] = at;
    if (ci >= 0) {
      Candidate& c = cands[static_cast<size_t>(ci)];
      const int64_t lo = std::min(c.g.min_disp, at);
      const int64_t hi = std::max<int64_t>(c.g.min_disp + c.g.span, at + size);
      if (hi - lo <= kMaxSpan) {
        c.g.min_disp = lo;
        c.g.span = static_cast<uint32_t>(hi - lo);
        c.g.access |= access;
        next_member[c.last_member] = idx;
        c.last_member = idx;
        ++c.members;
        return;
      }
      c.open = false;
    }
    Candidate n;
    n.g.base = key;
    n.g.min_disp = at;
    n.g.span = size;
    n.g.access = access;
    n.first_member = n.last_member = idx;
    n.members = 1;
    n.regs = regs;
    n.open = true;
    n.stack = stack;
    n.rsp_at_first = rsp_off;
    n.base_at_first = key.base >= 0 ? reg_off[key.base] : 0;
    n.index_at_first = key.index >= 0 ? reg_off[key.index] : 0;
    cands.push_back(n);
  };
  for (size_t i = 0; i < insns.size(); ++i) {
    const DecodedInsn& d = insns[i];
    const StackAccess sa = StackAccessOf(d, kinds[i]);
    int stack_group = -1;
    for (size_t k = 0; k < cands.size(); ++k)
      if (cands[k].open && cands[k].stack) stack_group = static_cast<int>(k);
    AddressExpr stack_key;
    stack_key.base = kRsp;
    if (sa.member) {
      add_member(stack_group, true, stack_key, rsp_off + sa.at, sa.size, sa.access, 0, i);
    } else if (kinds[i] == InsnKind::kMem && !(apart && (*apart)[i] >= 0) && !UsesHighByteRegister(d) &&
               (d.insn.attributes & ZYDIS_ATTRIB_HAS_MODRM)) {
      // A member is re-encoded on the group's register with a displacement:
      // only a ModRM operand takes both (not mov's moffs forms), and not with
      // ah..bh (the re-encoding could not name a REX register).
      const int mi = d.MemOperand();
      const ZydisDecodedOperand& op = d.ops[mi];
      const AddressExpr x = AddressOf(d, op);
      const uint32_t size = op.size / 8;
      const uint8_t access =
          static_cast<uint8_t>(((op.actions & ZYDIS_OPERAND_ACTION_MASK_READ) ? kAccessRead : 0) |
                               ((op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) ? kAccessWrite : 0));
      if (x.base == kRsp && x.index < 0 && x.segment < 0 && x.addr_bits == 64) {
        add_member(stack_group, true, stack_key, rsp_off + x.disp, size, access, 0, i);
      } else {
        int c = -1;
        for (size_t k = 0; k < cands.size(); ++k)
          if (cands[k].open && !cands[k].stack && SameKey(cands[k].g.base, x)) c = static_cast<int>(k);
        const uint16_t regs =
            static_cast<uint16_t>((x.base >= 0 ? 1u << x.base : 0) | (x.index >= 0 ? 1u << x.index : 0));
        // Its address relative to the registers as they were at the group's first member.
        int64_t at = x.disp;
        if (c >= 0) {
          const Candidate& k = cands[static_cast<size_t>(c)];
          if (x.base >= 0) at += reg_off[x.base] - k.base_at_first;
          if (x.index >= 0) at += (reg_off[x.index] - k.index_at_first) * x.scale;
        }
        add_member(c, false, x, at, size, access, regs, i);
      }
    }
    // A write to a key register closes its groups (after this instruction:
    // it may itself be a member, its address computed before the write).
    // The stack group follows rsp while rsp moves by known amounts.
    // Other groups follow their registers while they move by constants (a
    // group through rsp and an index closes whenever rsp moves).
    int64_t delta = 0;
    const bool known = KnownRspChange(d, kinds[i], &delta);
    const uint16_t rsp_moved = !known || delta != 0 ? 1u << kRsp : 0;
    int64_t reg_delta = 0;
    const int moved = KnownRegChange(d, &reg_delta);
    const uint16_t written =
        static_cast<uint16_t>((GprsWritten(d) | rsp_moved) & ~(moved >= 0 ? 1u << moved : 0));
    for (Candidate& k : cands)
      if (k.open && (k.stack ? !known : (k.regs & written) != 0)) k.open = false;
    rsp_off = known ? rsp_off + delta : 0;
    if (moved >= 0) reg_off[moved] += reg_delta;
  }
  // Keep groups of two or more, while no more than max_live are open at once
  // (each holds a scratch register from its first member to its last).
  for (Candidate& c : cands) {
    if (c.members < 2) continue;
    const uint16_t first = c.first_member, last = c.last_member;
    unsigned overlapping = 0;
    for (const MemGroup& g : *groups)
      if (first <= g.last && g.first <= last) ++overlapping;
    if (overlapping >= max_live) continue;
    c.g.first = first;
    c.g.last = last;
    // The check runs at the first member, with rsp as it is there.
    c.g.base.disp = c.stack ? c.g.min_disp - c.rsp_at_first : c.g.min_disp;
    c.g.index = static_cast<int>(groups->size());
    for (uint16_t m = first;; m = next_member[m]) {
      (*member)[m] = GroupMembership{c.g.index, static_cast<int32_t>(at_of[m] - c.g.min_disp)};
      if (m == last) break;
    }
    groups->push_back(c.g);
  }
}

}  // namespace xlat
