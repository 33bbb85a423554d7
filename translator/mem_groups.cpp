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

// GPRs an instruction may write.
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

}  // namespace

std::vector<MemGroup> FindMemGroups(const std::vector<DecodedInsn>& insns, const std::vector<InsnKind>& kinds,
                                    unsigned max_live, std::vector<int>* group_of) {
  struct Candidate {
    MemGroup g;
    std::vector<uint16_t> members;
    uint16_t regs;  // base and index registers
    bool open;
  };
  std::vector<Candidate> cands;
  group_of->assign(insns.size(), -1);
  for (size_t i = 0; i < insns.size(); ++i) {
    const DecodedInsn& d = insns[i];
    // (Not with ah..bh: the member's re-encoding could not name a REX register.)
    if (kinds[i] == InsnKind::kMem && !UsesHighByteRegister(d)) {
      const int mi = d.MemOperand();
      const ZydisDecodedOperand& op = d.ops[mi];
      AddressExpr x = AddressOf(d, op);
      const int64_t disp = x.disp;
      const uint32_t size = op.size / 8;
      const uint8_t access =
          static_cast<uint8_t>(((op.actions & ZYDIS_OPERAND_ACTION_MASK_READ) ? kAccessRead : 0) |
                               ((op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) ? kAccessWrite : 0));
      Candidate* c = nullptr;
      for (Candidate& k : cands)
        if (k.open && SameKey(k.g.base, x)) c = &k;
      const int64_t lo = c ? std::min(c->g.min_disp, disp) : disp;
      const int64_t hi = c ? std::max<int64_t>(c->g.min_disp + c->g.span, disp + size) : disp + size;
      if (c && hi - lo <= kMaxSpan) {
        c->g.min_disp = lo;
        c->g.span = static_cast<uint32_t>(hi - lo);
        c->g.access |= access;
        c->members.push_back(static_cast<uint16_t>(i));
      } else {
        if (c) c->open = false;
        Candidate n;
        n.g.base = x;
        n.g.min_disp = disp;
        n.g.span = size;
        n.g.access = access;
        n.members.push_back(static_cast<uint16_t>(i));
        n.regs = static_cast<uint16_t>((x.base >= 0 ? 1u << x.base : 0) | (x.index >= 0 ? 1u << x.index : 0));
        n.open = true;
        cands.push_back(n);
      }
    }
    // A write to a key register closes its groups (after this instruction:
    // it may itself be a member, its address computed before the write).
    const uint16_t written = GprsWritten(d);
    // (Zydis lists the implicit rsp of stack instructions as written; this
    // is belt and braces for them.)
    const uint16_t also = (kinds[i] == InsnKind::kPush || kinds[i] == InsnKind::kPop || kinds[i] == InsnKind::kLeave ||
                           kinds[i] == InsnKind::kEnter)
                              ? (1u << kRsp)
                              : 0;
    for (Candidate& k : cands)
      if (k.open && (k.regs & (written | also))) k.open = false;
  }
  // Keep groups of two or more, while no more than max_live are open at once
  // (each holds a scratch register from its first member to its last).
  std::vector<MemGroup> groups;
  std::vector<std::pair<uint16_t, uint16_t>> live;
  for (Candidate& c : cands) {
    if (c.members.size() < 2) continue;
    const uint16_t first = c.members.front(), last = c.members.back();
    unsigned overlapping = 0;
    for (auto& [f, l] : live)
      if (first <= l && f <= last) ++overlapping;
    if (overlapping >= max_live) continue;
    live.push_back({first, last});
    c.g.first = first;
    c.g.last = last;
    c.g.base.disp = c.g.min_disp;
    c.g.index = static_cast<int>(groups.size());
    for (uint16_t m : c.members) (*group_of)[m] = static_cast<int>(groups.size());
    groups.push_back(c.g);
  }
  return groups;
}

}  // namespace xlat
