// Composite vector and x87 forms: VSIB gathers (index vector and mask loaded
// from the pool), fxsave/fxrstor, the x87 environment, and loads of control
// words with every exception kept masked.
#include <cstring>

#include "tests/difftest/composites.h"
#include "tests/difftest/generator.h"

namespace difftest {

namespace {

ZydisEncoderOperand MemAt(const MemPlan& plan, int64_t delta, uint16_t size) {
  ZydisEncoderOperand o = Gen::MemOperand(plan, size);
  o.mem.displacement += delta;
  return o;
}

ZydisEncoderOperand PoolMem(uint64_t va, uint16_t size) {
  ZydisEncoderOperand o;
  std::memset(&o, 0, sizeof o);
  o.type = ZYDIS_OPERAND_TYPE_MEMORY;
  o.mem.base = ZYDIS_REGISTER_RIP;
  o.mem.displacement = static_cast<int64_t>(va);
  o.mem.size = size;
  return o;
}

bool EmitMemImm(Gen& g, ZydisMnemonic m, const ZydisEncoderOperand& mem, uint64_t imm) {
  ZydisEncoderRequest r = MakeRequest(m);
  AddOperand(r, mem);
  AddImm(r, imm);
  return g.b().Emit(r);
}

bool Emit1(Gen& g, ZydisMnemonic m, const ZydisEncoderOperand& a) {
  ZydisEncoderRequest r = MakeRequest(m);
  AddOperand(r, a);
  return g.b().Emit(r);
}

// Places `size` writable bytes (aligned) and emits the address setup.
bool PlaceWritable(Gen& g, uint32_t size, uint32_t align, MemPlan* p) {
  MemReq q;
  q.size = size;
  q.align = align;
  q.a32 = g.rng().Chance(0.05);
  return g.PlanMem(q, p) && g.EmitMemSetup(*p);
}

}  // namespace

bool GenGather(Gen& g, const Form& f) {
  Rng& r = g.rng();
  const int index_bytes = static_cast<int>(f.param);
  const bool ymm = f.param2 == 32;
  const ZydisMnemonic m = f.mnemonic;
  const bool elem8 = m == ZYDIS_MNEMONIC_VGATHERDPD || m == ZYDIS_MNEMONIC_VGATHERQPD ||
                     m == ZYDIS_MNEMONIC_VPGATHERDQ || m == ZYDIS_MNEMONIC_VPGATHERQQ;
  const int elem = elem8 ? 8 : 4;
  // Element count and register widths (dest/mask, index).
  int count;
  bool dest_y, index_y;
  if (index_bytes == 4) {
    count = elem8 ? (ymm ? 4 : 2) : (ymm ? 8 : 4);
    dest_y = ymm;
    index_y = ymm && !elem8;
  } else {
    count = ymm ? 4 : 2;
    dest_y = ymm && elem8;
    index_y = ymm;
  }
  // Three distinct vector registers.
  int regs[3];
  for (int i = 0; i < 3; i++) {
    bool again;
    do {
      regs[i] = static_cast<int>(r.Below(16));
      again = false;
      for (int j = 0; j < i; j++) again |= regs[j] == regs[i];
    } while (again);
  }
  const int base = g.PickGpr(0);
  if (base < 0) return false;
  const uint64_t scale = uint64_t{1} << r.Below(4);
  const int64_t disp = r.Chance(0.5) ? r.Range(-128, 127) : r.Range(-4096, 4096);
  const uint64_t base_val = kDataVa + r.Below(kDataBytes);
  uint8_t index[32], mask[32];
  for (int i = 0; i < 32; i++) index[i] = static_cast<uint8_t>(r.Next()), mask[i] = static_cast<uint8_t>(r.Next());
  for (int i = 0; i < count; i++) {
    const bool on = r.Chance(0.75);
    uint64_t t;
    if (!on && r.Chance(0.3)) {
      t = kDataVa + kDataBytes + r.Below(kPage - 8);  // masked off: must not be touched
    } else {
      t = kDataVa + 16 + r.Below(kDataBytes - 64);
      if (r.Chance(0.25)) t = (t | (kPage - 1)) - r.Below(static_cast<uint64_t>(elem - 1));  // straddle
      if (t > kDataVa + kDataBytes - 16) t = kDataVa + kDataBytes - 16 - r.Below(kPage);
    }
    t -= (t - base_val - static_cast<uint64_t>(disp)) & (scale - 1);
    // Signed: the element may lie below the base.
    const int64_t diff = static_cast<int64_t>(t - base_val - static_cast<uint64_t>(disp));
    const uint64_t idx = static_cast<uint64_t>(diff / static_cast<int64_t>(scale));
    if (index_bytes == 4) {
      const uint32_t v = static_cast<uint32_t>(idx);
      std::memcpy(index + 4 * i, &v, 4);
    } else {
      std::memcpy(index + 8 * i, &idx, 8);
    }
    uint8_t* lane = mask + elem * i;
    lane[elem - 1] = static_cast<uint8_t>(on ? (lane[elem - 1] | 0x80) : (lane[elem - 1] & 0x7f));
  }
  const uint64_t index_va = g.b().PoolPut(index, 32, 32);
  const uint64_t mask_va = g.b().PoolPut(mask, 32, 32);
  if (!index_va || !mask_va) return false;
  auto vreg = [](int i, bool y) {
    return static_cast<ZydisRegister>((y ? ZYDIS_REGISTER_YMM0 : ZYDIS_REGISTER_XMM0) + i);
  };
  ZydisEncoderRequest ld = MakeRequest(ZYDIS_MNEMONIC_VMOVDQU);
  AddReg(ld, vreg(regs[1], index_y));
  AddOperand(ld, PoolMem(index_va, index_y ? 32 : 16));
  if (!g.b().Emit(ld)) return false;
  ZydisEncoderRequest lm = MakeRequest(ZYDIS_MNEMONIC_VMOVDQU);
  AddReg(lm, vreg(regs[2], dest_y));
  AddOperand(lm, PoolMem(mask_va, dest_y ? 32 : 16));
  if (!g.b().Emit(lm)) return false;
  if (!g.EmitMovImm(base, base_val)) return false;
  ZydisEncoderRequest q = MakeRequest(m);
  AddReg(q, vreg(regs[0], dest_y));
  ZydisEncoderOperand mem;
  std::memset(&mem, 0, sizeof mem);
  mem.type = ZYDIS_OPERAND_TYPE_MEMORY;
  mem.mem.base = Gen::Gpr(base, 8);
  mem.mem.index = vreg(regs[1], index_y);
  mem.mem.scale = static_cast<uint8_t>(scale);
  mem.mem.displacement = disp;
  mem.mem.size = static_cast<uint16_t>(elem);
  AddOperand(q, mem);
  AddReg(q, vreg(regs[2], dest_y));
  return g.b().Emit(q);
}

bool GenFxsave(Gen& g, const Form& f) {
  MemPlan p;
  if (!PlaceWritable(g, 512, 16, &p)) return false;
  const bool wide = f.param == 1;
  if (!Emit1(g, wide ? ZYDIS_MNEMONIC_FXSAVE64 : ZYDIS_MNEMONIC_FXSAVE, Gen::MemOperand(p, 512))) return false;
  // FOP, FIP and FDP (bytes 6..23) hold the host's view of the last x87
  // instruction: clear them so both runs store the same image.
  if (!EmitMemImm(g, ZYDIS_MNEMONIC_MOV, MemAt(p, 6, 2), 0)) return false;
  if (!EmitMemImm(g, ZYDIS_MNEMONIC_MOV, MemAt(p, 8, 8), 0)) return false;
  if (!EmitMemImm(g, ZYDIS_MNEMONIC_MOV, MemAt(p, 16, 8), 0)) return false;
  if (f.param2 == 1 &&
      !Emit1(g, wide ? ZYDIS_MNEMONIC_FXRSTOR64 : ZYDIS_MNEMONIC_FXRSTOR, Gen::MemOperand(p, 512)))
    return false;
  return true;
}

bool GenFpuEnv(Gen& g, const Form& f) {
  const bool full = f.param == 1;
  const uint32_t size = full ? 108 : 28;
  MemPlan p;
  if (!PlaceWritable(g, size, 1, &p)) return false;
  if (!Emit1(g, full ? ZYDIS_MNEMONIC_FNSAVE : ZYDIS_MNEMONIC_FNSTENV, Gen::MemOperand(p, static_cast<uint16_t>(size))))
    return false;
  // FIP, FCS/FOP, FDP, FDS: bytes 12..27 of the 32-bit environment.
  if (!EmitMemImm(g, ZYDIS_MNEMONIC_MOV, MemAt(p, 12, 4), 0)) return false;
  if (!EmitMemImm(g, ZYDIS_MNEMONIC_MOV, MemAt(p, 16, 8), 0)) return false;
  if (!EmitMemImm(g, ZYDIS_MNEMONIC_MOV, MemAt(p, 24, 4), 0)) return false;
  return Emit1(g, full ? ZYDIS_MNEMONIC_FRSTOR : ZYDIS_MNEMONIC_FLDENV,
               Gen::MemOperand(p, static_cast<uint16_t>(size)));
}

bool GenFldcw(Gen& g, const Form&) {
  Rng& r = g.rng();
  static constexpr uint16_t kPc[] = {0x000, 0x200, 0x300};
  const uint16_t fcw = static_cast<uint16_t>(0x107f | r.Pick(kPc) | (r.Below(4) << 10));
  MemPlan p;
  if (!PlaceWritable(g, 2, 1, &p)) return false;
  return EmitMemImm(g, ZYDIS_MNEMONIC_MOV, Gen::MemOperand(p, 2), fcw) &&
         Emit1(g, ZYDIS_MNEMONIC_FLDCW, Gen::MemOperand(p, 2));
}

bool GenLdmxcsr(Gen& g, const Form& f) {
  Rng& r = g.rng();
  uint32_t v = 0x1f80 | static_cast<uint32_t>(r.Below(4) << 13) | static_cast<uint32_t>(r.Next() & 0x3f);
  if (r.Chance(0.2)) v |= 0x8000;
  if (r.Chance(0.2)) v |= 0x0040;
  MemPlan p;
  if (!PlaceWritable(g, 4, 1, &p)) return false;
  return EmitMemImm(g, ZYDIS_MNEMONIC_MOV, Gen::MemOperand(p, 4), v) &&
         Emit1(g, f.param == 0 ? ZYDIS_MNEMONIC_LDMXCSR : ZYDIS_MNEMONIC_VLDMXCSR, Gen::MemOperand(p, 4));
}

bool GenFucomp(Gen& g, const Form&) {
  const int depth = g.fpu_depth() < 1 ? 1 : g.fpu_depth();
  const uint8_t i = static_cast<uint8_t>(g.rng().Below(static_cast<uint64_t>(depth)));
  if (!g.b().EmitRaw({0xdd, static_cast<uint8_t>(0xe8 + i)})) return false;
  g.set_fpu_depth(g.fpu_depth() - 1);
  return true;
}

}  // namespace difftest
