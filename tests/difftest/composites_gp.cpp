// Composite general-purpose forms: division that cannot trap (and division
// that must), cmpxchg primed to succeed, xlat, moffs moves, multiword
// arithmetic, and the deliberate faults.
#include <cstring>

#include "tests/difftest/composites.h"
#include "tests/difftest/generator.h"

namespace difftest {

namespace {

constexpr uint16_t kRaxBit = 1u << 0, kRcxBit = 1u << 1, kRdxBit = 1u << 2, kRbxBit = 1u << 3;

uint64_t SizeMask(int bytes) { return bytes == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * bytes)) - 1; }

// The memory operand of `plan` moved by `delta` bytes.
ZydisEncoderOperand MemAt(const MemPlan& plan, int64_t delta, uint16_t size) {
  ZydisEncoderOperand o = Gen::MemOperand(plan, size);
  o.mem.displacement += delta;
  return o;
}

bool Emit1(Gen& g, ZydisMnemonic m, const ZydisEncoderOperand& a, uint32_t prefixes = 0) {
  ZydisEncoderRequest r = MakeRequest(m);
  r.prefixes = prefixes;
  AddOperand(r, a);
  return g.b().Emit(r);
}

bool EmitRegMem(Gen& g, ZydisMnemonic m, ZydisRegister reg, const ZydisEncoderOperand& mem, bool mem_first,
                uint32_t prefixes = 0) {
  ZydisEncoderRequest r = MakeRequest(m);
  r.prefixes = prefixes;
  if (mem_first) {
    AddOperand(r, mem);
    AddReg(r, reg);
  } else {
    AddReg(r, reg);
    AddOperand(r, mem);
  }
  return g.b().Emit(r);
}

ZydisRegister Acc(int bytes) {
  switch (bytes) {
    case 1: return ZYDIS_REGISTER_AL;
    case 2: return ZYDIS_REGISTER_AX;
    case 4: return ZYDIS_REGISTER_EAX;
    default: return ZYDIS_REGISTER_RAX;
  }
}

bool EmitSignExtend(Gen& g, int bytes) {
  static constexpr ZydisMnemonic kExt[] = {ZYDIS_MNEMONIC_INVALID, ZYDIS_MNEMONIC_CBW, ZYDIS_MNEMONIC_CWD,
                                           ZYDIS_MNEMONIC_INVALID, ZYDIS_MNEMONIC_CDQ, ZYDIS_MNEMONIC_INVALID,
                                           ZYDIS_MNEMONIC_INVALID, ZYDIS_MNEMONIC_INVALID, ZYDIS_MNEMONIC_CQO};
  return g.b().Emit(MakeRequest(kExt[bytes]));
}

}  // namespace

bool GenDiv(Gen& g, const Form& f) {
  Rng& r = g.rng();
  const int size = static_cast<int>(f.param);
  const bool mem = f.param2 != 0;
  const bool is_signed = f.mnemonic == ZYDIS_MNEMONIC_IDIV;
  const uint64_t mask = SizeMask(size);
  if (!mem) {
    const int d = g.PickGpr(kRaxBit | kRdxBit);
    if (d < 0) return false;
    uint64_t v = r.Interesting() & mask;
    if (v == 0) v = 1 + r.Below(7);
    // Divisor: the low `size` bytes; the rest is noise the division ignores.
    if (!g.EmitMovImm(d, v | (r.Next() & ~mask))) return false;
    if (is_signed) {
      uint64_t a = r.Interesting();
      if (v == mask) a &= ~(uint64_t{1} << (8 * size - 1));  // never MIN / -1
      if (!g.EmitMovImm(0, a)) return false;
      if (!EmitSignExtend(g, size)) return false;
    } else if (size == 1) {
      // ax / r8: ah < divisor.
      const uint64_t ah = r.Below(v);
      if (!g.EmitMovImm(0, (r.Next() & ~uint64_t{0xff00}) | (ah << 8))) return false;
    } else {
      if (!g.EmitMovImm(2, (r.Below(v) & mask) | (size == 8 ? 0 : (r.Next() & ~mask)))) return false;
    }
    ZydisEncoderRequest q = MakeRequest(f.mnemonic);
    AddReg(q, Gen::Gpr(d, size));
    return g.b().Emit(q);
  }
  // Memory divisor: the dividend's high half is zero (or the sign), so only
  // a zero divisor in memory can trap (#DE, compared like any outcome).
  if (is_signed) {
    if (!g.EmitMovImm(0, r.Interesting() & ~(uint64_t{1} << (8 * size - 1)))) return false;
    if (!EmitSignExtend(g, size)) return false;
  } else if (size == 1) {
    if (!g.EmitMovImm(0, r.Next() & ~uint64_t{0xff00})) return false;
  } else {
    if (!g.EmitMovImm(0, r.Next())) return false;
    if (!g.EmitMovImm(2, size == 8 ? 0 : (r.Next() & ~mask))) return false;
  }
  MemReq q;
  q.size = static_cast<uint32_t>(size);
  q.avoid = kRaxBit | kRdxBit;
  q.a32 = r.Chance(0.05);
  MemPlan p;
  if (!g.PlanMem(q, &p) || !g.EmitMemSetup(p)) return false;
  if (r.Chance(0.7)) {
    // Usually a known nonzero divisor (the data areas hold many zeros).
    uint64_t v = r.Interesting() & SizeMask(size > 4 ? 4 : size);
    if (v == 0) v = 3;
    ZydisEncoderRequest st = MakeRequest(ZYDIS_MNEMONIC_MOV);
    AddOperand(st, Gen::MemOperand(p, static_cast<uint16_t>(size)));
    AddImm(st, size == 8 ? static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(v))) : v);
    if (!g.b().Emit(st)) return false;
  }
  return Emit1(g, f.mnemonic, Gen::MemOperand(p, static_cast<uint16_t>(size)));
}

bool GenDivByZero(Gen& g, const Form& f) {
  const int size = static_cast<int>(f.param);
  if (f.mnemonic == ZYDIS_MNEMONIC_IDIV) {
    // MIN / -1 overflows the quotient.
    const int d = g.PickGpr(kRaxBit | kRdxBit);
    if (d < 0 || !g.EmitMovImm(d, ~uint64_t{0})) return false;
    if (!g.EmitMovImm(0, (g.rng().Next() << 32) | 0x80000000u)) return false;
    if (!EmitSignExtend(g, size)) return false;
    ZydisEncoderRequest q = MakeRequest(ZYDIS_MNEMONIC_IDIV);
    AddReg(q, Gen::Gpr(d, size));
    return g.b().Emit(q);
  }
  if (size == 1) {
    MemReq q;
    q.size = 1;
    q.avoid = kRaxBit;
    MemPlan p;
    if (!g.PlanMem(q, &p) || !g.EmitMemSetup(p)) return false;
    ZydisEncoderRequest st = MakeRequest(ZYDIS_MNEMONIC_MOV);
    AddOperand(st, Gen::MemOperand(p, 1));
    AddImm(st, 0);
    if (!g.b().Emit(st)) return false;
    return Emit1(g, ZYDIS_MNEMONIC_DIV, Gen::MemOperand(p, 1));
  }
  const int d = g.PickGpr(kRaxBit | kRdxBit);
  if (d < 0 || !g.EmitMovImm(d, 0)) return false;
  ZydisEncoderRequest q = MakeRequest(ZYDIS_MNEMONIC_DIV);
  AddReg(q, Gen::Gpr(d, size));
  return g.b().Emit(q);
}

bool GenCmpxchgPair(Gen& g, const Form& f) {
  const bool wide = f.mnemonic == ZYDIS_MNEMONIC_CMPXCHG16B;
  const int half = wide ? 8 : 4;
  MemReq q;
  q.size = static_cast<uint32_t>(2 * half);
  q.align = wide ? 16 : 1;
  q.avoid = kRaxBit | kRdxBit;
  q.a32 = g.rng().Chance(0.05);
  MemPlan p;
  if (!g.PlanMem(q, &p) || !g.EmitMemSetup(p)) return false;
  if (g.rng().Chance(0.5)) {
    // Prime edx:eax with the current contents: the exchange succeeds.
    const ZydisRegister lo = wide ? ZYDIS_REGISTER_RAX : ZYDIS_REGISTER_EAX;
    const ZydisRegister hi = wide ? ZYDIS_REGISTER_RDX : ZYDIS_REGISTER_EDX;
    if (!EmitRegMem(g, ZYDIS_MNEMONIC_MOV, lo, MemAt(p, 0, static_cast<uint16_t>(half)), false)) return false;
    if (!EmitRegMem(g, ZYDIS_MNEMONIC_MOV, hi, MemAt(p, half, static_cast<uint16_t>(half)), false)) return false;
  }
  return Emit1(g, f.mnemonic, Gen::MemOperand(p, static_cast<uint16_t>(2 * half)),
               (f.flags & kFLock) ? ZYDIS_ATTRIB_HAS_LOCK : 0);
}

bool GenCmpxchgPrimed(Gen& g, const Form& f) {
  const int size = static_cast<int>(f.param);
  MemReq q;
  q.size = static_cast<uint32_t>(size);
  q.avoid = kRaxBit;
  MemPlan p;
  if (!g.PlanMem(q, &p) || !g.EmitMemSetup(p)) return false;
  const uint16_t sz = static_cast<uint16_t>(size);
  if (!EmitRegMem(g, ZYDIS_MNEMONIC_MOV, Acc(size), Gen::MemOperand(p, sz), false)) return false;
  const int src = g.PickGpr(kRaxBit);
  if (src < 0) return false;
  return EmitRegMem(g, ZYDIS_MNEMONIC_CMPXCHG, Gen::Gpr(src, size), Gen::MemOperand(p, sz), true,
                    ZYDIS_ATTRIB_HAS_LOCK);
}

bool GenXlat(Gen& g, const Form& f) {
  const bool a32 = f.flags & kFA32;
  const uint64_t area = a32 ? kLowVa : kDataVa;
  const uint64_t bytes = a32 ? kLowBytes : kDataBytes;
  const uint64_t t = area + g.rng().Below(bytes - 256);
  const uint64_t hi = a32 ? (g.rng().Next() << 32) : 0;
  if (!g.EmitMovImm(3, t | hi)) return false;  // rbx
  ZydisEncoderRequest r = MakeRequest(ZYDIS_MNEMONIC_XLAT);
  if (a32) r.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_32;
  return g.b().Emit(r);
}

bool GenMoffs(Gen& g, const Form& f) {
  const int size = static_cast<int>(f.param);
  const bool store = f.param2 != 0;
  const bool a32 = f.flags & kFA32;
  const uint64_t area = a32 ? kLowVa : kDataVa;
  const uint64_t bytes = a32 ? kLowBytes : kDataBytes;
  uint64_t ea = area + g.rng().Below(bytes - kPage);  // not in the last page
  if (g.rng().Chance(0.3)) ea = (ea | (kPage - 1)) - g.rng().Below(static_cast<uint64_t>(size));
  if (store && !g.Writable(ea, ea + static_cast<uint64_t>(size))) return false;
  ZydisEncoderOperand m;
  std::memset(&m, 0, sizeof m);
  m.type = ZYDIS_OPERAND_TYPE_MEMORY;
  m.mem.displacement = static_cast<int64_t>(ea);
  m.mem.size = static_cast<uint16_t>(size);
  return EmitRegMem(g, ZYDIS_MNEMONIC_MOV, Acc(size), m, store);
}

bool GenAdcChain(Gen& g, const Form& f) {
  MemReq q;
  q.size = 64;
  q.a32 = g.rng().Chance(0.05);
  MemPlan p;
  if (!g.PlanMem(q, &p) || !g.EmitMemSetup(p)) return false;
  const uint16_t avoid = p.regs;
  if (f.param == 0) {
    static constexpr ZydisMnemonic kOps[] = {ZYDIS_MNEMONIC_ADD, ZYDIS_MNEMONIC_ADC, ZYDIS_MNEMONIC_SBB,
                                             ZYDIS_MNEMONIC_ADC, ZYDIS_MNEMONIC_SBB, ZYDIS_MNEMONIC_ADC};
    for (int i = 0; i < 6; i++) {
      const int reg = g.PickGpr(avoid);
      if (reg < 0) return false;
      const bool to_mem = g.rng().Chance(0.5);
      if (!EmitRegMem(g, kOps[i], Gen::Gpr(reg, 8), MemAt(p, 8 * i, 8), to_mem)) return false;
    }
    return true;
  }
  // 256-bit add: [b] += [a], four words, carries chained.
  const int reg = g.PickGpr(avoid);
  if (reg < 0) return false;
  for (int i = 0; i < 4; i++) {
    if (!EmitRegMem(g, ZYDIS_MNEMONIC_MOV, Gen::Gpr(reg, 8), MemAt(p, 8 * i, 8), false)) return false;
    if (!EmitRegMem(g, i == 0 ? ZYDIS_MNEMONIC_ADD : ZYDIS_MNEMONIC_ADC, Gen::Gpr(reg, 8), MemAt(p, 32 + 8 * i, 8),
                    true))
      return false;
  }
  return true;
}

bool GenRaw(Gen& g, const Form& f) {
  switch (f.param) {
    case 0: return g.b().EmitRaw({0x0f, 0x0b});              // ud2
    case 1: return g.b().EmitRaw({0xf0, 0x48, 0x01, 0xc8});  // lock add rax, rcx: #UD
    default: return false;
  }
}

bool GenGuardPage(Gen& g, const Form& f) {
  Rng& r = g.rng();
  const uint64_t end = kDataVa + kDataBytes;
  switch (f.param) {
    case 0: {  // a load from the guard page after (or before) the data area
      const uint64_t ea = r.Chance(0.5) ? end + r.Below(kPage - 8) : kDataVa - kPage + r.Below(kPage - 8);
      const int b = g.PickGpr(kRaxBit);
      const int64_t disp = r.Range(-128, 127);
      if (b < 0 || !g.EmitMovImm(b, ea - static_cast<uint64_t>(disp))) return false;
      ZydisEncoderOperand m;
      std::memset(&m, 0, sizeof m);
      m.type = ZYDIS_OPERAND_TYPE_MEMORY;
      m.mem.base = Gen::Gpr(b, 8);
      m.mem.displacement = disp;
      m.mem.size = 8;
      return EmitRegMem(g, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RAX, m, false);
    }
    case 1: {  // a store whose first bytes are in the area and the rest in the guard page
      const int size = r.Chance(0.5) ? 8 : 16;
      const uint64_t ea = end - 1 - r.Below(static_cast<uint64_t>(size - 1));
      const int b = g.PickGpr(0);
      if (b < 0 || !g.EmitMovImm(b, ea)) return false;
      ZydisEncoderOperand m;
      std::memset(&m, 0, sizeof m);
      m.type = ZYDIS_OPERAND_TYPE_MEMORY;
      m.mem.base = Gen::Gpr(b, 8);
      m.mem.size = static_cast<uint16_t>(size);
      if (size == 8) {
        const int s = g.PickGpr(0);
        return s >= 0 && EmitRegMem(g, ZYDIS_MNEMONIC_MOV, Gen::Gpr(s, 8), m, true);
      }
      return EmitRegMem(g, ZYDIS_MNEMONIC_VMOVDQU, static_cast<ZydisRegister>(ZYDIS_REGISTER_XMM0 + r.Below(16)), m,
                        true);
    }
    case 2: {  // push with rsp at the bottom of the area
      if (!g.EmitMovImm(4, kDataVa + r.Below(8))) return false;
      ZydisEncoderRequest q = MakeRequest(ZYDIS_MNEMONIC_PUSH);
      AddReg(q, Gen::Gpr(g.PickGpr(0), 8));
      if (!g.b().Emit(q)) return false;
      g.add_rsp(-8);
      return true;
    }
    case 3: {  // rep movsb that runs into the guard page part way
      if (!g.b().Emit(MakeRequest(ZYDIS_MNEMONIC_CLD))) return false;
      if (!g.EmitMovImm(7, end - 1 - r.Below(16))) return false;              // rdi
      if (!g.EmitMovImm(6, kDataVa + 64 + r.Below(kDataBytes / 2))) return false;  // rsi
      if (!g.EmitMovImm(1, 17 + r.Below(40))) return false;                   // rcx
      ZydisEncoderRequest q = MakeRequest(ZYDIS_MNEMONIC_MOVSB);
      q.prefixes = ZYDIS_ATTRIB_HAS_REP;
      return g.b().Emit(q);
    }
    default: return false;
  }
}

bool GenMisalignedVec(Gen& g, const Form& f) {
  const int size = f.param == 2 ? 32 : 16;
  MemReq q;
  q.size = static_cast<uint32_t>(size) + 16;
  q.allow_cross = false;
  q.avoid = kRaxBit | kRdxBit;
  MemPlan p;
  if (!g.PlanMem(q, &p) || !g.EmitMemSetup(p)) return false;
  const int64_t shift = 1 + static_cast<int64_t>(g.rng().Below(15));
  const ZydisEncoderOperand m = MemAt(p, static_cast<int64_t>((p.ea + static_cast<uint64_t>(shift)) % 16 == 0 ? shift + 1 : shift),
                                      static_cast<uint16_t>(size));
  const ZydisRegister x = static_cast<ZydisRegister>(ZYDIS_REGISTER_XMM0 + g.rng().Below(16));
  switch (f.param) {
    case 0: return EmitRegMem(g, ZYDIS_MNEMONIC_MOVAPS, x, m, false);
    case 1: return EmitRegMem(g, ZYDIS_MNEMONIC_MOVDQA, x, m, true);
    case 2: return EmitRegMem(g, ZYDIS_MNEMONIC_VMOVAPS, static_cast<ZydisRegister>(x - ZYDIS_REGISTER_XMM0 + ZYDIS_REGISTER_YMM0), m, false);
    case 3: return Emit1(g, ZYDIS_MNEMONIC_CMPXCHG16B, m);
    default: return false;
  }
}

bool GenMaskedStore(Gen& g, const Form& f) {
  const bool a32 = f.flags & kFA32;
  const bool mmx = f.mnemonic == ZYDIS_MNEMONIC_MASKMOVQ;
  const uint64_t size = mmx ? 8 : 16;
  const uint64_t area = a32 ? kLowVa : kDataVa;
  const uint64_t bytes = a32 ? kLowBytes : kDataBytes;
  uint64_t ea = area + g.rng().Below(bytes - kPage);  // not in the last page
  if (g.rng().Chance(0.3)) ea = (ea | (kPage - 1)) - g.rng().Below(size - 1);
  if (!g.Writable(ea, ea + size)) return false;
  if (!g.EmitMovImm(7, ea | (a32 ? g.rng().Next() << 32 : 0))) return false;
  ZydisEncoderRequest r = MakeRequest(f.mnemonic);
  if (a32) r.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_32;
  const ZydisRegister base = mmx ? ZYDIS_REGISTER_MM0 : ZYDIS_REGISTER_XMM0;
  const uint64_t n = mmx ? 8 : 16;
  AddReg(r, static_cast<ZydisRegister>(base + g.rng().Below(n)));
  AddReg(r, static_cast<ZydisRegister>(base + g.rng().Below(n)));
  if (!g.b().Emit(r)) return false;
  if (mmx) g.set_fpu_depth(8);
  return true;
}

}  // namespace difftest
