// Composite stack and string forms. The generator knows rsp exactly, so
// each of these keeps the stack inside the data area; string instructions
// get rsi/rdi/rcx set so that either direction (DF) stays inside an area.
#include <cstring>

#include "tests/difftest/composites.h"
#include "tests/difftest/generator.h"

namespace difftest {

namespace {

constexpr int kRcx = 1, kRbp = 5, kRsi = 6, kRdi = 7, kRsp = 4;

ZydisEncoderOperand RspMem(int64_t disp, uint16_t size) {
  ZydisEncoderOperand m;
  std::memset(&m, 0, sizeof m);
  m.type = ZYDIS_OPERAND_TYPE_MEMORY;
  m.mem.base = ZYDIS_REGISTER_RSP;
  m.mem.displacement = disp;
  m.mem.size = size;
  return m;
}

bool EmitOps(Gen& g, ZydisMnemonic mn, std::initializer_list<ZydisEncoderOperand> ops) {
  ZydisEncoderRequest r = MakeRequest(mn);
  for (const auto& o : ops) AddOperand(r, o);
  return g.b().Emit(r);
}

ZydisEncoderOperand RegOp(ZydisRegister reg) {
  ZydisEncoderOperand o;
  std::memset(&o, 0, sizeof o);
  o.type = ZYDIS_OPERAND_TYPE_REGISTER;
  o.reg.value = reg;
  return o;
}

ZydisEncoderOperand ImmOp(uint64_t v) {
  ZydisEncoderOperand o;
  std::memset(&o, 0, sizeof o);
  o.type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
  o.imm.u = v;
  return o;
}

int StringWidth(ZydisMnemonic m) {
  const char* s = ZydisMnemonicGetString(m);
  switch (s[std::strlen(s) - 1]) {
    case 'b': return 1;
    case 'w': return 2;
    case 'd': return 4;
    default: return 8;
  }
}

}  // namespace

bool GenPushRsp(Gen& g, const Form&) {
  if (!g.EnsureStack(64, 64)) return false;
  if (!EmitOps(g, ZYDIS_MNEMONIC_PUSH, {RegOp(ZYDIS_REGISTER_RSP)})) return false;
  g.add_rsp(-8);
  return true;
}

bool GenPopRsp(Gen& g, const Form&) {
  if (!g.EnsureStack(64, 64)) return false;
  const int r = g.PickGpr(0);
  const uint64_t t = g.RandomStackPointer();
  if (r < 0 || !g.EmitMovImm(r, t)) return false;
  if (!EmitOps(g, ZYDIS_MNEMONIC_PUSH, {RegOp(Gen::Gpr(r, 8))})) return false;
  if (!EmitOps(g, ZYDIS_MNEMONIC_POP, {RegOp(ZYDIS_REGISTER_RSP)})) return false;
  g.set_rsp(t);
  return true;
}

bool GenStackMemRsp(Gen& g, const Form& f) {
  if (!g.EnsureStack(160, 160)) return false;
  const int64_t disp = g.rng().Range(-64, 64) & (g.rng().Chance(0.8) ? ~int64_t{7} : ~int64_t{0});
  if (!EmitOps(g, f.param == 0 ? ZYDIS_MNEMONIC_PUSH : ZYDIS_MNEMONIC_POP, {RspMem(disp, 8)})) return false;
  g.add_rsp(f.param == 0 ? -8 : 8);
  return true;
}

bool GenPushfPopf(Gen& g, const Form& f) {
  if (!g.EnsureStack(64, 64)) return false;
  // Only the flags both runs agree on survive: IF (1 natively at CPL 3, 0 in
  // the guest), TF (set while the self-check traces), RF, AC... are masked.
  const uint64_t keep = kComparedFlags;
  switch (f.param) {
    case 0:
      return g.b().Emit(MakeRequest(ZYDIS_MNEMONIC_PUSHFQ)) &&
             EmitOps(g, ZYDIS_MNEMONIC_AND, {RspMem(0, 8), ImmOp(keep)}) &&
             g.b().Emit(MakeRequest(ZYDIS_MNEMONIC_POPFQ));
    case 1: {
      const int r = g.PickGpr(0);
      if (r < 0) return false;
      return g.b().Emit(MakeRequest(ZYDIS_MNEMONIC_PUSHFQ)) &&
             EmitOps(g, ZYDIS_MNEMONIC_AND, {RspMem(0, 8), ImmOp(keep)}) &&
             EmitOps(g, ZYDIS_MNEMONIC_POP, {RegOp(Gen::Gpr(r, 8))});
    }
    case 2:
      return g.b().Emit(MakeRequest(ZYDIS_MNEMONIC_PUSHF)) &&
             EmitOps(g, ZYDIS_MNEMONIC_AND, {RspMem(0, 2), ImmOp(keep)}) &&
             g.b().Emit(MakeRequest(ZYDIS_MNEMONIC_POPF));
    default: return false;
  }
}

bool GenPopfImm(Gen& g, const Form&) {
  if (!g.EnsureStack(64, 64)) return false;
  uint64_t v = 0x2 | (g.rng().Next() & (kFlagCF | kFlagPF | kFlagAF | kFlagZF | kFlagSF | kFlagOF));
  if (g.rng().Chance(0.3)) v |= kFlagDF;
  return EmitOps(g, ZYDIS_MNEMONIC_PUSH, {ImmOp(v)}) && g.b().Emit(MakeRequest(ZYDIS_MNEMONIC_POPFQ));
}

bool GenEnterLeave(Gen& g, const Form& f) {
  const int level = static_cast<int>(f.param);
  const uint64_t frame = g.rng().Chance(0.3) ? g.rng().Below(16) : g.rng().Below(257);
  const uint64_t pushed = 8 * static_cast<uint64_t>(level > 0 ? level + 1 : 1);
  if (!g.EnsureStack(static_cast<int64_t>(pushed + frame + 64), 64)) return false;
  // With a nesting level, enter copies frame pointers from [rbp-8], [rbp-16]...
  if (level > 0 && !g.EmitMovImm(kRbp, g.RandomDataAddress(64, 1) + 32)) return false;
  if (!EmitOps(g, ZYDIS_MNEMONIC_ENTER, {ImmOp(frame), ImmOp(static_cast<uint64_t>(level))})) return false;
  const uint64_t rsp0 = g.rsp();
  g.set_rsp(rsp0 - pushed - frame);
  // The saved frame pointer may be clobbered by the body (it only changes
  // rbp); nothing else on this frame matters.
  if (!g.EmitBody(static_cast<int>(g.rng().Below(4)), 1u << kRbp | 1u << kRsp)) return false;
  if (!g.b().Emit(MakeRequest(ZYDIS_MNEMONIC_LEAVE))) return false;
  g.set_rsp(rsp0);
  return true;
}

bool GenLeave(Gen& g, const Form&) {
  const uint64_t t = g.RandomStackPointer();
  if (!g.EmitMovImm(kRbp, t)) return false;
  if (!g.b().Emit(MakeRequest(ZYDIS_MNEMONIC_LEAVE))) return false;
  g.set_rsp(t + 8);
  return true;
}

bool GenRspArith(Gen& g, const Form& f) {
  Rng& r = g.rng();
  switch (f.param) {
    case 0: {
      if (!g.EnsureStack(320, 320)) return false;
      const int64_t d = r.Range(-256, 256);
      ZydisEncoderOperand m = RspMem(d, 8);
      if (!EmitOps(g, ZYDIS_MNEMONIC_LEA, {RegOp(ZYDIS_REGISTER_RSP), m})) return false;
      g.add_rsp(d);
      return true;
    }
    case 1: {
      if (!g.EnsureStack(320, 320)) return false;
      const int64_t d = r.Chance(0.5) ? r.Range(-128, 127) : r.Range(-256, 256);
      const bool sub = r.Chance(0.5);
      if (!EmitOps(g, sub ? ZYDIS_MNEMONIC_SUB : ZYDIS_MNEMONIC_ADD,
                   {RegOp(ZYDIS_REGISTER_RSP), ImmOp(static_cast<uint64_t>(d))}))
        return false;
      g.add_rsp(sub ? -d : d);
      return true;
    }
    case 2:
    case 3: {
      const int reg = g.PickGpr(0);
      const uint64_t t = g.RandomStackPointer();
      if (reg < 0 || !g.EmitMovImm(reg, t)) return false;
      if (f.param == 2) {
        if (!EmitOps(g, ZYDIS_MNEMONIC_MOV, {RegOp(ZYDIS_REGISTER_RSP), RegOp(Gen::Gpr(reg, 8))})) return false;
      } else {
        if (!EmitOps(g, ZYDIS_MNEMONIC_XCHG, {RegOp(ZYDIS_REGISTER_RSP), RegOp(Gen::Gpr(reg, 8))})) return false;
      }
      g.set_rsp(t);
      return true;
    }
    case 4: {
      if (!g.EnsureStack(64, 64)) return false;
      if (!EmitOps(g, ZYDIS_MNEMONIC_AND, {RegOp(ZYDIS_REGISTER_RSP), ImmOp(static_cast<uint64_t>(-16))}))
        return false;
      g.set_rsp(g.rsp() & ~uint64_t{15});
      return true;
    }
    default: return false;
  }
}

bool GenString(Gen& g, const Form& f) {
  Rng& r = g.rng();
  const int w = StringWidth(f.mnemonic);
  const bool rep = f.flags & (kFRep | kFRepe | kFRepne);
  const bool a32 = f.flags & kFA32;
  const uint64_t count = rep ? (r.Chance(0.1) ? 0 : r.Below(r.Chance(0.7) ? 9 : 41)) : 1;
  const uint64_t span = count * static_cast<uint64_t>(w);
  const uint64_t area = a32 ? kLowVa : kDataVa;
  const uint64_t bytes = a32 ? kLowBytes : kDataBytes;
  // Room for `span` bytes in either direction (DF is whatever earlier items left).
  const uint64_t margin = 2 * span + 64;
  if (2 * margin >= bytes) return false;
  auto pick = [&]() {
    uint64_t a = area + margin + r.Below(bytes - 2 * margin);
    if (r.Chance(0.25)) a = (a & ~(kPage - 1)) + r.Range(-8, 8);  // start at a page boundary
    if (a < area + margin) a = area + margin;
    if (a > area + bytes - margin) a = area + bytes - margin;
    if (r.Chance(0.7)) a &= ~static_cast<uint64_t>(w - 1);
    return a;
  };
  const bool uses_rsi = f.mnemonic != ZYDIS_MNEMONIC_STOSB && f.mnemonic != ZYDIS_MNEMONIC_STOSW &&
                        f.mnemonic != ZYDIS_MNEMONIC_STOSD && f.mnemonic != ZYDIS_MNEMONIC_STOSQ &&
                        f.mnemonic != ZYDIS_MNEMONIC_SCASB && f.mnemonic != ZYDIS_MNEMONIC_SCASW &&
                        f.mnemonic != ZYDIS_MNEMONIC_SCASD && f.mnemonic != ZYDIS_MNEMONIC_SCASQ;
  const bool uses_rdi = f.mnemonic < ZYDIS_MNEMONIC_LODSB || f.mnemonic > ZYDIS_MNEMONIC_LODSW;
  const bool writes = f.mnemonic == ZYDIS_MNEMONIC_MOVSB || f.mnemonic == ZYDIS_MNEMONIC_MOVSW ||
                      f.mnemonic == ZYDIS_MNEMONIC_MOVSD || f.mnemonic == ZYDIS_MNEMONIC_MOVSQ ||
                      f.mnemonic == ZYDIS_MNEMONIC_STOSB || f.mnemonic == ZYDIS_MNEMONIC_STOSW ||
                      f.mnemonic == ZYDIS_MNEMONIC_STOSD || f.mnemonic == ZYDIS_MNEMONIC_STOSQ;
  const uint64_t rsi = pick();
  uint64_t rdi = pick();
  if (uses_rsi && uses_rdi && r.Chance(0.25)) {
    // Overlapping source and destination (memmove-like), or identical.
    rdi = r.Chance(0.3) ? rsi : rsi + static_cast<uint64_t>(r.Range(-static_cast<int64_t>(span) - 4,
                                                                     static_cast<int64_t>(span) + 4));
    if (rdi < area + margin || rdi > area + bytes - margin) rdi = rsi;
  }
  if (writes && !g.Writable(rdi - span - 16, rdi + span + 16)) return false;
  const uint64_t hi = a32 ? (r.Next() << 32) : 0;
  if ((g.reserved() & (1u << kRsi)) && uses_rsi) return false;
  if (uses_rsi && !g.EmitMovImm(kRsi, rsi | hi)) return false;
  if (uses_rdi && !g.EmitMovImm(kRdi, rdi | (a32 ? r.Next() << 32 : 0))) return false;
  if (rep && !g.EmitMovImm(kRcx, count | (a32 ? r.Next() << 32 : 0))) return false;
  // scas/stos compare or store the accumulator: zero matches the zero-filled runs.
  if ((f.mnemonic >= ZYDIS_MNEMONIC_SCASB && f.mnemonic <= ZYDIS_MNEMONIC_SCASW) && r.Chance(0.3) &&
      !g.EmitMovImm(0, 0))
    return false;
  ZydisEncoderRequest q = MakeRequest(f.mnemonic);
  if (f.flags & kFRep) q.prefixes |= ZYDIS_ATTRIB_HAS_REP;
  if (f.flags & kFRepe) q.prefixes |= ZYDIS_ATTRIB_HAS_REPE;
  if (f.flags & kFRepne) q.prefixes |= ZYDIS_ATTRIB_HAS_REPNE;
  if (a32) q.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_32;
  return g.b().Emit(q);
}

}  // namespace difftest
