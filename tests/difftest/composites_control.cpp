// Composite control flow. All branches stay inside the sequence: forward
// branches skip the next few items (which must then be neutral, see
// Gen::AddPendingLabel), backward branches close bounded loops, and calls
// reach a subroutine placed inline behind a jump. Return addresses are
// protected from the bodies' stores while they are live.
#include <cstring>

#include "tests/difftest/composites.h"
#include "tests/difftest/generator.h"

namespace difftest {

namespace {

constexpr int kRcx = 1;

ZydisEncoderOperand RegOp(ZydisRegister reg) {
  ZydisEncoderOperand o;
  std::memset(&o, 0, sizeof o);
  o.type = ZYDIS_OPERAND_TYPE_REGISTER;
  o.reg.value = reg;
  return o;
}

bool Emit1(Gen& g, ZydisMnemonic m, const ZydisEncoderOperand& a) {
  ZydisEncoderRequest r = MakeRequest(m);
  AddOperand(r, a);
  return g.b().Emit(r);
}

ZydisEncoderOperand PoolMem(uint64_t va) {
  ZydisEncoderOperand o;
  std::memset(&o, 0, sizeof o);
  o.type = ZYDIS_OPERAND_TYPE_MEMORY;
  o.mem.base = ZYDIS_REGISTER_RIP;
  o.mem.displacement = static_cast<int64_t>(va);
  o.mem.size = 8;
  return o;
}

// Keeps [lo, hi) write-protected for the lifetime of the object.
class ProtectScope {
 public:
  ProtectScope(Gen& g, uint64_t lo, uint64_t hi) : g_(g) { g_.Protect(lo, hi); }
  ~ProtectScope() { g_.Unprotect(); }

 private:
  Gen& g_;
};

bool Body(Gen& g, int max_items, uint16_t reserve = 0) {
  return g.EmitBody(static_cast<int>(g.rng().Below(static_cast<uint64_t>(max_items) + 1)), reserve);
}

}  // namespace

bool GenBranchFwd(Gen& g, const Form& f) {
  const bool rel8 = f.param == 1;
  if ((f.mnemonic == ZYDIS_MNEMONIC_JRCXZ || f.mnemonic == ZYDIS_MNEMONIC_JECXZ) && g.rng().Chance(0.4)) {
    // Make the branch go either way.
    if (!g.EmitMovImm(kRcx, g.rng().Chance(0.5) ? 0 : (g.rng().Next() << 32))) return false;
  }
  if ((f.mnemonic == ZYDIS_MNEMONIC_LOOP || f.mnemonic == ZYDIS_MNEMONIC_LOOPE ||
       f.mnemonic == ZYDIS_MNEMONIC_LOOPNE) &&
      g.rng().Chance(0.4)) {
    if (!g.EmitMovImm(kRcx, g.rng().Below(3))) return false;
  }
  const int label = g.b().NewLabel();
  if (!g.b().EmitBranch(f.mnemonic, label, rel8)) return false;
  g.AddPendingLabel(label, static_cast<int>(g.rng().Below(4)), rel8, static_cast<uint32_t>(g.b().size()));
  return true;
}

bool GenLoopBack(Gen& g, const Form& f) {
  Rng& r = g.rng();
  const uint64_t n = 1 + r.Below(5);
  int counter = kRcx;
  if (f.param == 1) {
    counter = g.PickGpr(0);
    if (counter < 0) return false;
  }
  if (!g.EmitMovImm(counter, n)) return false;
  const int top = g.b().NewLabel();
  g.b().Bind(top);
  const size_t top_off = g.b().size();
  if (!Body(g, 3, static_cast<uint16_t>(1u << counter))) return false;
  switch (f.param) {
    case 0:
      if (g.b().size() + 2 - top_off > 128) return false;
      return g.b().EmitBranch(ZYDIS_MNEMONIC_LOOP, top, true);
    case 1: {
      if (!Emit1(g, ZYDIS_MNEMONIC_DEC, RegOp(Gen::Gpr(counter, 8)))) return false;
      const bool rel8 = g.b().size() + 2 - top_off <= 128 && r.Chance(0.7);
      return g.b().EmitBranch(ZYDIS_MNEMONIC_JNZ, top, rel8);
    }
    case 2:
      if (g.b().size() + 2 - top_off > 128) return false;
      return g.b().EmitBranch(r.Chance(0.5) ? ZYDIS_MNEMONIC_LOOPE : ZYDIS_MNEMONIC_LOOPNE, top, true);
    default: return false;
  }
}

bool GenCallRet(Gen& g, const Form& f) {
  Rng& r = g.rng();
  Builder& b = g.b();
  if (!g.EnsureStack(256, 256)) return false;
  const uint64_t rsp0 = g.rsp();
  const int sub = b.NewLabel();
  const int after = b.NewLabel();
  // The subroutine sits behind a jump over it.
  auto subroutine = [&](int ret_pop) -> bool {
    if (!b.EmitBranch(ZYDIS_MNEMONIC_JMP, after, r.Chance(0.5))) return false;
    b.Bind(sub);
    {
      ProtectScope keep(g, rsp0 - 8, rsp0);
      g.set_rsp(rsp0 - 8);
      if (!Body(g, 3)) return false;
    }
    ZydisEncoderRequest q = MakeRequest(ZYDIS_MNEMONIC_RET);
    if (ret_pop > 0) AddImm(q, static_cast<uint64_t>(ret_pop));
    if (!b.Emit(q)) return false;
    b.Bind(after);
    g.set_rsp(rsp0 + static_cast<uint64_t>(ret_pop));
    return true;
  };
  switch (f.param) {
    case 0:
      return b.EmitBranch(ZYDIS_MNEMONIC_CALL, sub, false) && subroutine(0);
    case 1: {
      const int reg = g.PickGpr(0);
      return reg >= 0 && b.EmitLeaLabel(Gen::Gpr(reg, 8), sub) &&
             Emit1(g, ZYDIS_MNEMONIC_CALL, RegOp(Gen::Gpr(reg, 8))) && subroutine(0);
    }
    case 2: {
      const uint64_t zero = 0;
      const uint64_t slot = b.PoolPut(&zero, 8, 8);
      if (!slot) return false;
      b.PoolAddressOf(slot, sub);
      return Emit1(g, ZYDIS_MNEMONIC_CALL, PoolMem(slot)) && subroutine(0);
    }
    case 3: {
      const int reg = g.PickGpr(0);
      if (reg < 0 || !b.EmitLeaLabel(Gen::Gpr(reg, 8), sub)) return false;
      MemReq q;
      q.size = 8;
      q.avoid = static_cast<uint16_t>(1u << reg);
      MemPlan p;
      if (!g.PlanMem(q, &p) || !g.EmitMemSetup(p)) return false;
      ZydisEncoderRequest st = MakeRequest(ZYDIS_MNEMONIC_MOV);
      AddOperand(st, Gen::MemOperand(p, 8));
      AddReg(st, Gen::Gpr(reg, 8));
      return b.Emit(st) && Emit1(g, ZYDIS_MNEMONIC_CALL, Gen::MemOperand(p, 8)) && subroutine(0);
    }
    case 4: {
      const int pop = static_cast<int>(r.Chance(0.8) ? 8 * r.Below(5) : r.Below(40));
      return b.EmitBranch(ZYDIS_MNEMONIC_CALL, sub, false) && subroutine(pop);
    }
    case 5: {
      // call; ud2; (return lands here) ... sub: add qword [rsp], 2; ret
      if (!b.EmitBranch(ZYDIS_MNEMONIC_CALL, sub, false)) return false;
      if (!b.EmitRaw({0x0f, 0x0b})) return false;  // ud2: skipped by the modified return
      if (!b.EmitBranch(ZYDIS_MNEMONIC_JMP, after, true)) return false;
      b.Bind(sub);
      ZydisEncoderRequest add = MakeRequest(ZYDIS_MNEMONIC_ADD);
      ZydisEncoderOperand m;
      std::memset(&m, 0, sizeof m);
      m.type = ZYDIS_OPERAND_TYPE_MEMORY;
      m.mem.base = ZYDIS_REGISTER_RSP;
      m.mem.size = 8;
      AddOperand(add, m);
      AddImm(add, 2);
      if (!b.Emit(add) || !b.Emit(MakeRequest(ZYDIS_MNEMONIC_RET))) return false;
      b.Bind(after);
      return true;
    }
    case 6: {
      // lea r, [rip+target]; push r; ret; ud2; target:
      const int reg = g.PickGpr(0);
      if (reg < 0 || !b.EmitLeaLabel(Gen::Gpr(reg, 8), after)) return false;
      if (!Emit1(g, ZYDIS_MNEMONIC_PUSH, RegOp(Gen::Gpr(reg, 8)))) return false;
      if (!b.Emit(MakeRequest(ZYDIS_MNEMONIC_RET)) || !b.EmitRaw({0x0f, 0x0b})) return false;
      b.Bind(after);
      return true;
    }
    case 7: {
      // call s1; jmp after; s1: body; call s2; body; ret; s2: body; ret; after:
      const int sub2 = b.NewLabel();
      if (!b.EmitBranch(ZYDIS_MNEMONIC_CALL, sub, false)) return false;
      if (!b.EmitBranch(ZYDIS_MNEMONIC_JMP, after, false)) return false;
      b.Bind(sub);
      {
        ProtectScope keep(g, rsp0 - 16, rsp0);
        g.set_rsp(rsp0 - 8);
        if (!Body(g, 2)) return false;
        if (!b.EmitBranch(ZYDIS_MNEMONIC_CALL, sub2, false)) return false;
        if (!Body(g, 2)) return false;
        if (!b.Emit(MakeRequest(ZYDIS_MNEMONIC_RET))) return false;
        b.Bind(sub2);
        g.set_rsp(rsp0 - 16);
        if (!Body(g, 2)) return false;
        if (!b.Emit(MakeRequest(ZYDIS_MNEMONIC_RET))) return false;
      }
      b.Bind(after);
      g.set_rsp(rsp0);
      return true;
    }
    case 8: {
      // call next; pop r: r = address of `next`.
      const int reg = g.PickGpr(0);
      if (reg < 0 || !b.EmitBranch(ZYDIS_MNEMONIC_CALL, sub, false)) return false;
      b.Bind(sub);
      return Emit1(g, ZYDIS_MNEMONIC_POP, RegOp(Gen::Gpr(reg, 8)));
    }
    default: return false;
  }
}

bool GenJmpIndirect(Gen& g, const Form& f) {
  Rng& r = g.rng();
  Builder& b = g.b();
  const int target = b.NewLabel();
  switch (f.param) {
    case 0: {
      const int reg = g.PickGpr(0);
      if (reg < 0 || !b.EmitLeaLabel(Gen::Gpr(reg, 8), target)) return false;
      if (!Emit1(g, ZYDIS_MNEMONIC_JMP, RegOp(Gen::Gpr(reg, 8)))) return false;
      break;
    }
    case 1: {
      const uint64_t zero = 0;
      const uint64_t slot = b.PoolPut(&zero, 8, 8);
      if (!slot) return false;
      b.PoolAddressOf(slot, target);
      if (!Emit1(g, ZYDIS_MNEMONIC_JMP, PoolMem(slot))) return false;
      break;
    }
    case 2: {
      // A four-entry table in the pool, every entry the target.
      uint64_t zeros[4] = {};
      const uint64_t table = b.PoolPut(zeros, sizeof zeros, 8);
      if (!table) return false;
      for (int i = 0; i < 4; i++) b.PoolAddressOf(table + 8 * static_cast<uint64_t>(i), target);
      const int base = g.PickGpr(0);
      const int index = g.PickGpr(base >= 0 ? static_cast<uint16_t>(1u << base) : 0);
      if (base < 0 || index < 0) return false;
      const uint64_t k = r.Below(4);
      const int64_t disp = r.Chance(0.5) ? 0 : r.Range(-64, 64) * 8;
      if (!g.EmitMovImm(base, table - static_cast<uint64_t>(disp)) || !g.EmitMovImm(index, k)) return false;
      ZydisEncoderOperand m;
      std::memset(&m, 0, sizeof m);
      m.type = ZYDIS_OPERAND_TYPE_MEMORY;
      m.mem.base = Gen::Gpr(base, 8);
      m.mem.index = Gen::Gpr(index, 8);
      m.mem.scale = 8;
      m.mem.displacement = disp;
      m.mem.size = 8;
      if (!Emit1(g, ZYDIS_MNEMONIC_JMP, m)) return false;
      break;
    }
    default: return false;
  }
  g.AddPendingLabel(target, static_cast<int>(r.Below(3)), false, static_cast<uint32_t>(b.size()));
  return true;
}

}  // namespace difftest
