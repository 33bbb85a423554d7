#include "tests/difftest/generator.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace difftest {

namespace {

constexpr ZydisRegister kR64[16] = {
    ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_RDX, ZYDIS_REGISTER_RBX,
    ZYDIS_REGISTER_RSP, ZYDIS_REGISTER_RBP, ZYDIS_REGISTER_RSI, ZYDIS_REGISTER_RDI,
    ZYDIS_REGISTER_R8,  ZYDIS_REGISTER_R9,  ZYDIS_REGISTER_R10, ZYDIS_REGISTER_R11,
    ZYDIS_REGISTER_R12, ZYDIS_REGISTER_R13, ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R15};
constexpr ZydisRegister kR32[16] = {
    ZYDIS_REGISTER_EAX,  ZYDIS_REGISTER_ECX,  ZYDIS_REGISTER_EDX,  ZYDIS_REGISTER_EBX,
    ZYDIS_REGISTER_ESP,  ZYDIS_REGISTER_EBP,  ZYDIS_REGISTER_ESI,  ZYDIS_REGISTER_EDI,
    ZYDIS_REGISTER_R8D,  ZYDIS_REGISTER_R9D,  ZYDIS_REGISTER_R10D, ZYDIS_REGISTER_R11D,
    ZYDIS_REGISTER_R12D, ZYDIS_REGISTER_R13D, ZYDIS_REGISTER_R14D, ZYDIS_REGISTER_R15D};
constexpr ZydisRegister kR16[16] = {
    ZYDIS_REGISTER_AX,   ZYDIS_REGISTER_CX,   ZYDIS_REGISTER_DX,   ZYDIS_REGISTER_BX,
    ZYDIS_REGISTER_SP,   ZYDIS_REGISTER_BP,   ZYDIS_REGISTER_SI,   ZYDIS_REGISTER_DI,
    ZYDIS_REGISTER_R8W,  ZYDIS_REGISTER_R9W,  ZYDIS_REGISTER_R10W, ZYDIS_REGISTER_R11W,
    ZYDIS_REGISTER_R12W, ZYDIS_REGISTER_R13W, ZYDIS_REGISTER_R14W, ZYDIS_REGISTER_R15W};
constexpr ZydisRegister kR8[16] = {
    ZYDIS_REGISTER_AL,   ZYDIS_REGISTER_CL,   ZYDIS_REGISTER_DL,   ZYDIS_REGISTER_BL,
    ZYDIS_REGISTER_SPL,  ZYDIS_REGISTER_BPL,  ZYDIS_REGISTER_SIL,  ZYDIS_REGISTER_DIL,
    ZYDIS_REGISTER_R8B,  ZYDIS_REGISTER_R9B,  ZYDIS_REGISTER_R10B, ZYDIS_REGISTER_R11B,
    ZYDIS_REGISTER_R12B, ZYDIS_REGISTER_R13B, ZYDIS_REGISTER_R14B, ZYDIS_REGISTER_R15B};
constexpr ZydisRegister kR8Hi[4] = {ZYDIS_REGISTER_AH, ZYDIS_REGISTER_CH, ZYDIS_REGISTER_DH, ZYDIS_REGISTER_BH};

constexpr int kRsp = 4;

// ---- Initial values ----

// A float32 that is usually an ordinary number, sometimes a special value.
uint32_t RandomF32(Rng& r) {
  float f;
  switch (r.Below(12)) {
    case 0: f = 0.0f; break;
    case 1: f = -0.0f; break;
    case 2: f = INFINITY; break;
    case 3: f = r.Chance(0.5) ? NAN : -NAN; break;
    case 4: f = 1e-40f * static_cast<float>(r.Range(1, 1000)); break;  // denormal
    case 5: f = static_cast<float>(r.Range(-100, 100)); break;
    case 6: f = static_cast<float>(r.Range(-100, 100)) + 0.5f; break;
    default: f = static_cast<float>(std::ldexp(r.Unit() * 2 - 1, static_cast<int>(r.Range(-30, 40)))); break;
  }
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

uint64_t RandomF64(Rng& r) {
  double d;
  switch (r.Below(12)) {
    case 0: d = 0.0; break;
    case 1: d = -0.0; break;
    case 2: d = r.Chance(0.5) ? INFINITY : -INFINITY; break;
    case 3: d = NAN; break;
    case 4: d = 1e-310 * static_cast<double>(r.Range(1, 1000)); break;
    case 5: d = static_cast<double>(r.Range(-1000, 1000)); break;
    case 6: d = static_cast<double>(r.Range(-1000, 1000)) + 0.25; break;
    default: d = std::ldexp(r.Unit() * 2 - 1, static_cast<int>(r.Range(-60, 80))); break;
  }
  uint64_t u;
  std::memcpy(&u, &d, 8);
  return u;
}

// Fills n bytes (a multiple of 8) with one kind of content.
void FillChunk(Rng& r, uint8_t* p, size_t n) {
  const unsigned mode = static_cast<unsigned>(r.Below(8));
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v;
    switch (mode) {
      case 0: v = RandomF32(r) | (uint64_t{RandomF32(r)} << 32); break;
      case 1: v = RandomF64(r); break;
      case 2: v = r.Interesting(); break;
      case 3: v = r.Below(4) == 0 ? 0 : r.Below(256); break;
      case 4: v = 0; break;
      default: v = r.Next(); break;
    }
    std::memcpy(p + i, &v, 8);
  }
}

void FillArea(Rng& r, std::vector<uint8_t>& a, size_t bytes) {
  a.resize(bytes);
  for (size_t off = 0; off < bytes; off += 64) FillChunk(r, a.data() + off, 64);
}

// An 80-bit x87 value.
void RandomF80(Rng& r, uint8_t out[10]) {
  long double v;
  switch (r.Below(10)) {
    case 0: v = 0.0L; break;
    case 1: v = static_cast<long double>(r.Range(-1000, 1000)); break;
    case 2: {  // raw bits: unnormals, pseudo-denormals, NaNs...
      uint64_t m = r.Next();
      uint16_t e = static_cast<uint16_t>(r.Next());
      std::memcpy(out, &m, 8);
      std::memcpy(out + 8, &e, 2);
      return;
    }
    case 3: {
      double d;
      uint64_t u = RandomF64(r);
      std::memcpy(&d, &u, 8);
      v = d;
      break;
    }
    default: v = std::ldexp(static_cast<long double>(r.Unit() * 2 - 1), static_cast<int>(r.Range(-100, 100))); break;
  }
  std::memcpy(out, &v, 10);
}

}  // namespace

Gen::Gen(uint64_t seed, const GenOptions& opt, GenStats* stats) : rng_(seed), opt_(opt), stats_(stats) {
  if (stats_ && stats_->per_form.size() != AllForms().size()) stats_->per_form.assign(AllForms().size(), 0);
}

ZydisRegister Gen::Gpr(int i, int bytes) {
  switch (bytes) {
    case 1: return kR8[i];
    case 2: return kR16[i];
    case 4: return kR32[i];
    default: return kR64[i];
  }
}

int Gen::PickGpr(uint16_t avoid) {
  const uint16_t forbidden = avoid | reserved_ | (1u << kRsp);
  if (forbidden == 0xffff) return -1;
  for (;;) {
    const int r = static_cast<int>(rng_.Below(16));
    if (!((forbidden >> r) & 1)) return r;
  }
}

ZydisRegister Gen::PickGpr8(uint16_t avoid, int* gpr_index) {
  if (rng_.Below(5) == 0) {
    for (int t = 0; t < 8; t++) {
      const int i = static_cast<int>(rng_.Below(4));
      if (!(((avoid | reserved_) >> i) & 1)) {
        *gpr_index = i;
        return kR8Hi[i];
      }
    }
  }
  const int i = PickGpr(avoid);
  *gpr_index = i;
  return i < 0 ? ZYDIS_REGISTER_NONE : kR8[i];
}

uint64_t Gen::RandomStackPointer() {
  uint64_t v = kStackLo + 256 + rng_.Below(kStackHi - kStackLo - 512);
  switch (rng_.Below(10)) {
    case 0: v |= 0xfff; v -= rng_.Range(0, 15); break;  // next to a page end
    case 1: break;                                      // misaligned
    case 2: v &= ~uint64_t{3}; break;
    default: v &= ~uint64_t{7}; break;
  }
  return v;
}

uint64_t Gen::RandomDataAddress(uint64_t room, uint64_t align) {
  uint64_t v = kDataVa + 64 + rng_.Below(kDataBytes - room - 128);
  return v & ~(align - 1);
}

bool Gen::EmitMovImm(int gpr, uint64_t value) {
  ZydisEncoderRequest r = MakeRequest(ZYDIS_MNEMONIC_MOV);
  AddReg(r, kR64[gpr]);
  AddImm(r, value);
  if (gpr == kRsp) {
    rsp_ = value;
    rsp_write_ok_ = true;
  }
  return b_.Emit(r);
}

bool Gen::EnsureStack(int64_t below, int64_t above) {
  if (rsp_ >= kStackLo + static_cast<uint64_t>(below) && rsp_ + static_cast<uint64_t>(above) <= kStackHi) return true;
  if (reserved_ & (1u << kRsp)) return false;
  uint64_t v;
  for (int t = 0;; t++) {
    v = RandomStackPointer();
    if (v >= kStackLo + static_cast<uint64_t>(below) && v + static_cast<uint64_t>(above) <= kStackHi) break;
    if (t > 100) return false;
  }
  return EmitMovImm(kRsp, v);
}

bool Gen::PlanMem(const MemReq& q, MemPlan* p) {
  *p = MemPlan{};
  p->a32 = q.a32;
  const uint64_t area = q.a32 ? kLowVa : kDataVa;
  const uint64_t bytes = q.a32 ? kLowBytes : kDataBytes;
  const uint64_t align = q.align ? q.align : 1;
  const int64_t lo = static_cast<int64_t>(area) - q.foot_lo;
  const int64_t hi = static_cast<int64_t>(area + bytes) - q.size - q.foot_hi;
  if (hi < lo) return false;
  const uint64_t pages = bytes / kPage;
  int64_t ea = -1;
  for (int attempt = 0;; attempt++) {
    if (attempt == 16) return false;
    ea = -1;
    const unsigned how = static_cast<unsigned>(rng_.Below(100));
    if (q.allow_cross && q.size > align && how < 22) {
      // Straddle an interior page boundary.
      const int64_t boundary = static_cast<int64_t>(area + kPage * rng_.Range(1, static_cast<int64_t>(pages) - 1));
      ea = boundary - rng_.Range(1, q.size - 1);
      ea &= ~static_cast<int64_t>(align - 1);
    } else if (how < 45) {
      // Near a page boundary, on either side.
      const int64_t boundary = static_cast<int64_t>(area + kPage * rng_.Range(0, static_cast<int64_t>(pages)));
      ea = boundary + rng_.Range(-96, 96);
      ea &= ~static_cast<int64_t>(align - 1);
    }
    if (ea < lo || ea > hi) {
      ea = lo + static_cast<int64_t>(rng_.Below(static_cast<uint64_t>(hi - lo) + 1));
      ea &= ~static_cast<int64_t>(align - 1);
      if (ea < lo) ea += static_cast<int64_t>(align);
      if (ea > hi) continue;
    }
    if (Writable(static_cast<uint64_t>(ea + q.foot_lo), static_cast<uint64_t>(ea + q.size + q.foot_hi))) break;
  }
  p->ea = static_cast<uint64_t>(ea);
  if (stats_ && q.size > 1 && (p->ea & ~(kPage - 1)) != ((p->ea + q.size - 1) & ~(kPage - 1))) stats_->page_crossing++;
  if (stats_ && q.a32) stats_->a32++;

  auto rand_disp = [&](bool wide) -> int64_t {
    if (!wide) return rng_.Range(-128, 127);
    switch (rng_.Below(4)) {
      case 0: return rng_.Range(-4096, 4096);
      case 1: return rng_.Range(128, 200);
      case 2: return static_cast<int32_t>(rng_.Next());
      default: return rng_.Range(-0x100000, 0x100000);
    }
  };
  auto rand_index = [&]() -> uint64_t {
    switch (rng_.Below(10)) {
      case 0: case 1: case 2: case 3: return static_cast<uint64_t>(rng_.Range(-64, 64));
      case 4: case 5: case 6: return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(rng_.Next())));
      default: return rng_.Next();
    }
  };
  const uint64_t garbage_hi = q.a32 ? (rng_.Chance(0.5) ? rng_.Next() << 32 : 0) : 0;
  auto reg_name = [&](int i) { return q.a32 ? kR32[i] : kR64[i]; };
  auto fits = [&](uint64_t v) { return q.a32 ? static_cast<uint32_t>(v) : v; };

  const unsigned mode = q.simple ? static_cast<unsigned>(rng_.Below(2))
                                 : static_cast<unsigned>(rng_.Below(100));
  // 0-1: base(+disp8) | <16 base+disp32 | <50 base+index*scale+disp | <58 index*scale+disp32
  // | <72 rip-relative | <78 base==index | <84 rsp base | else base+index
  const uint16_t avoid = q.avoid;
  if (!q.simple && mode >= 58 && mode < 72 && q.allow_rip) {
    p->rip_rel = true;
    if (stats_) stats_->rip_relative++;
    return true;
  }
  if (!q.simple && mode >= 78 && mode < 84 && q.allow_rsp_base && !q.a32 && !(reserved_ & (1u << kRsp))) {
    p->base = ZYDIS_REGISTER_RSP;
    p->disp = rng_.Chance(0.5) ? rand_disp(false) : rand_disp(true);
    p->base_val = p->ea - static_cast<uint64_t>(p->disp);
    p->regs = 1u << kRsp;
    return true;
  }
  if (!q.simple && mode >= 72 && mode < 78) {
    // base == index: ea = v * (1 + scale) + disp.
    const int b = PickGpr(avoid);
    if (b < 0) return false;
    p->scale = static_cast<uint8_t>(1u << rng_.Below(4));
    const uint64_t mult = 1u + p->scale;
    int64_t disp = rand_disp(rng_.Chance(0.5));
    uint64_t t = fits(p->ea - static_cast<uint64_t>(disp));
    disp += static_cast<int64_t>(t % mult);
    t = fits(p->ea - static_cast<uint64_t>(disp));
    p->disp = disp;
    p->base = p->index = reg_name(b);
    p->base_val = p->index_val = (t / mult) | garbage_hi;
    p->regs = static_cast<uint16_t>(1u << b);
    return true;
  }
  if (!q.simple && mode >= 50 && mode < 58) {
    // No base: [index*scale + disp32].
    const int x = PickGpr(avoid);
    if (x < 0) return false;
    p->scale = static_cast<uint8_t>(1u << rng_.Below(4));
    int64_t disp = static_cast<int32_t>(rng_.Next()) / 2;
    disp += static_cast<int64_t>(fits(p->ea - static_cast<uint64_t>(disp)) & (p->scale - 1u));
    p->disp = disp;
    p->index = reg_name(x);
    p->index_val = (fits(p->ea - static_cast<uint64_t>(disp)) / p->scale) | garbage_hi;
    p->regs = static_cast<uint16_t>(1u << x);
    return true;
  }
  const int b = PickGpr(avoid);
  if (b < 0) return false;
  p->base = reg_name(b);
  p->regs = static_cast<uint16_t>(1u << b);
  if (mode < 2) {
    p->disp = (mode == 0) ? 0 : rand_disp(false);
  } else if (mode < 16) {
    p->disp = rand_disp(true);
  } else {
    const int x = PickGpr(avoid | static_cast<uint16_t>(1u << b));
    if (x < 0) return false;
    p->index = reg_name(x);
    p->scale = static_cast<uint8_t>(1u << rng_.Below(4));
    p->index_val = rand_index();
    if (q.a32) p->index_val = static_cast<uint32_t>(p->index_val) | garbage_hi;
    p->regs |= static_cast<uint16_t>(1u << x);
    const unsigned d = static_cast<unsigned>(rng_.Below(3));
    p->disp = d == 0 ? 0 : rand_disp(d == 2);
  }
  const uint64_t scaled = p->index == ZYDIS_REGISTER_NONE ? 0 : p->index_val * p->scale;
  p->base_val = fits(p->ea - scaled - static_cast<uint64_t>(p->disp)) | garbage_hi;
  return true;
}

bool Gen::Writable(uint64_t lo, uint64_t hi) const {
  for (const auto& r : protected_)
    if (lo < r.second && r.first < hi) return false;
  return true;
}

bool Gen::EmitMemSetup(const MemPlan& p) {
  auto idx = [](ZydisRegister r) -> int {
    const ZydisRegister big = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
    for (int i = 0; i < 16; i++)
      if (kR64[i] == big) return i;
    return -1;
  };
  const bool has_base = p.base != ZYDIS_REGISTER_NONE && !p.rip_rel;
  const bool has_index = p.index != ZYDIS_REGISTER_NONE && p.index != p.base;
  const bool index_first = rng_.Chance(0.5);
  if (has_index && index_first && !EmitMovImm(idx(p.index), p.index_val)) return false;
  if (has_base && !EmitMovImm(idx(p.base), p.base_val)) return false;
  if (p.base == p.index && p.index != ZYDIS_REGISTER_NONE && !has_base && !EmitMovImm(idx(p.index), p.index_val))
    return false;
  if (has_index && !index_first && !EmitMovImm(idx(p.index), p.index_val)) return false;
  return true;
}

ZydisEncoderOperand Gen::MemOperand(const MemPlan& p, uint16_t enc_size) {
  ZydisEncoderOperand o;
  std::memset(&o, 0, sizeof o);
  o.type = ZYDIS_OPERAND_TYPE_MEMORY;
  o.mem.size = enc_size;
  if (p.rip_rel) {
    o.mem.base = p.a32 ? ZYDIS_REGISTER_EIP : ZYDIS_REGISTER_RIP;
    o.mem.displacement = static_cast<int64_t>(p.ea);
    return o;
  }
  o.mem.base = p.base;
  o.mem.index = p.index;
  o.mem.scale = p.index == ZYDIS_REGISTER_NONE ? 0 : p.scale;
  o.mem.displacement = p.disp;
  return o;
}

bool Gen::EmitGeneric(const Form& f) {
  if (f.flags & kFStack) {
    if (!EnsureStack(128, 128)) return false;
  }
  const int mi = f.mem_index();
  const bool want_a32 = (f.flags & kFA32) ||
                        (mi >= 0 && !(f.flags & kFNoA32) && Info(f.ops[mi]).cls == OpClass::kMem && rng_.Chance(0.06));

  ZydisEncoderRequest r = MakeRequest(f.mnemonic);
  if (f.flags & kFLock) r.prefixes |= ZYDIS_ATTRIB_HAS_LOCK;
  if (f.flags & kFRep) r.prefixes |= ZYDIS_ATTRIB_HAS_REP;
  if (f.flags & kFRepe) r.prefixes |= ZYDIS_ATTRIB_HAS_REPE;
  if (f.flags & kFRepne) r.prefixes |= ZYDIS_ATTRIB_HAS_REPNE;

  // Registers whose value the item controls (bit offsets) stay out of the
  // address computation.
  uint16_t controlled = 0;
  int bo_reg = -1;
  uint64_t bo_value = 0;
  for (int i = 0; i < f.nops; i++) {
    if (Info(f.ops[i]).cls == OpClass::kBitOff) {
      bo_reg = PickGpr(0);
      if (bo_reg < 0) return false;
      controlled |= static_cast<uint16_t>(1u << bo_reg);
      const int64_t bits = rng_.Range(-2048, 2047);
      const int w = Info(f.ops[i]).size;
      // The register is read at its operand size: garbage above it tests
      // that the translator sign-extends the right width.
      const uint64_t mask = w == 8 ? ~uint64_t{0} : ((uint64_t{1} << (8 * w)) - 1);
      bo_value = (static_cast<uint64_t>(bits) & mask) | (rng_.Next() & ~mask);
    }
  }

  MemPlan plan;
  bool have_plan = false;
  if (mi >= 0 && Info(f.ops[mi]).cls == OpClass::kMem) {
    const OpInfo& mo = Info(f.ops[mi]);
    MemReq q;
    q.size = mo.size;
    q.align = 1;
    if ((f.flags & kFAlignVec) && (mo.size == 16 || mo.size == 32)) q.align = mo.size;
    if (f.flags & kFAlign16) q.align = 16;
    if (bo_reg >= 0) {
      q.foot_lo = -(256 + 8);
      q.foot_hi = 256 + 8;
    }
    q.a32 = want_a32;
    q.allow_cross = !(f.flags & kFNoCross);
    q.allow_rsp_base = !neutral() && !(f.flags & (kFStack | kFNoRspBase)) && rng_.Chance(0.06);
    q.avoid = controlled;
    if (!PlanMem(q, &plan)) return false;
    have_plan = true;
  }

  for (int i = 0; i < f.nops; i++) {
    const Op op = f.ops[i];
    const OpInfo& in = Info(op);
    switch (op) {
      case Op::kR8: {
        int gi;
        const ZydisRegister reg = PickGpr8(controlled, &gi);
        if (reg == ZYDIS_REGISTER_NONE) return false;
        AddReg(r, reg);
        break;
      }
      case Op::kR16: case Op::kR32: case Op::kR64: {
        const int gi = PickGpr(controlled);
        if (gi < 0) return false;
        AddReg(r, Gpr(gi, in.size));
        break;
      }
      case Op::kAl: AddReg(r, ZYDIS_REGISTER_AL); break;
      case Op::kAx: AddReg(r, ZYDIS_REGISTER_AX); break;
      case Op::kEax: AddReg(r, ZYDIS_REGISTER_EAX); break;
      case Op::kRax: AddReg(r, ZYDIS_REGISTER_RAX); break;
      case Op::kCl: AddReg(r, ZYDIS_REGISTER_CL); break;
      case Op::kDx: AddReg(r, ZYDIS_REGISTER_DX); break;
      case Op::kBo16: case Op::kBo32: case Op::kBo64: AddReg(r, Gpr(bo_reg, in.size)); break;
      case Op::kI8: AddImm(r, rng_.Chance(0.3) ? rng_.Below(8) : rng_.Below(256)); break;
      case Op::kI16: AddImm(r, static_cast<uint64_t>(static_cast<int64_t>(static_cast<int16_t>(rng_.Next())))); break;
      case Op::kI32: AddImm(r, static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(rng_.Interesting())))); break;
      case Op::kI64: AddImm(r, rng_.Interesting()); break;
      case Op::kS8: AddImm(r, static_cast<uint64_t>(rng_.Range(-128, 127))); break;
      case Op::kOne: AddImm(r, 1); break;
      case Op::kXmm: AddReg(r, static_cast<ZydisRegister>(ZYDIS_REGISTER_XMM0 + rng_.Below(16))); break;
      case Op::kYmm: AddReg(r, static_cast<ZydisRegister>(ZYDIS_REGISTER_YMM0 + rng_.Below(16))); break;
      case Op::kXmmIs4: AddReg(r, static_cast<ZydisRegister>(ZYDIS_REGISTER_XMM0 + rng_.Below(16)), true); break;
      case Op::kYmmIs4: AddReg(r, static_cast<ZydisRegister>(ZYDIS_REGISTER_YMM0 + rng_.Below(16)), true); break;
      case Op::kXmm0: AddReg(r, ZYDIS_REGISTER_XMM0); break;
      case Op::kMm: AddReg(r, static_cast<ZydisRegister>(ZYDIS_REGISTER_MM0 + rng_.Below(8))); break;
      case Op::kSt0: AddReg(r, ZYDIS_REGISTER_ST0); break;
      case Op::kSti: {
        const int depth = std::max(fpu_depth_, 1);
        AddReg(r, static_cast<ZydisRegister>(ZYDIS_REGISTER_ST0 + rng_.Below(static_cast<uint64_t>(depth))));
        break;
      }
      case Op::kMAgen: {
        // lea: any registers, any values; no access happens.
        ZydisEncoderOperand o;
        std::memset(&o, 0, sizeof o);
        o.type = ZYDIS_OPERAND_TYPE_MEMORY;
        const bool a32 = rng_.Chance(0.15);
        o.mem.size = a32 ? 4 : 8;
        if (rng_.Chance(0.2)) {
          o.mem.base = a32 ? ZYDIS_REGISTER_EIP : ZYDIS_REGISTER_RIP;
          o.mem.displacement = static_cast<int64_t>(a32 ? kLowVa + rng_.Below(kLowBytes)
                                                        : kCodeVa + rng_.Below(kCodeBytes + kDataBytes));
        } else {
          auto name = [&](int gi) { return a32 ? kR32[gi] : kR64[gi]; };
          const unsigned m = static_cast<unsigned>(rng_.Below(3));
          if (m != 1) o.mem.base = name(static_cast<int>(rng_.Below(16)));
          if (m != 0) {
            int x;
            do x = static_cast<int>(rng_.Below(16)); while (x == kRsp);
            o.mem.index = name(x);
            o.mem.scale = static_cast<uint8_t>(1u << rng_.Below(4));
          }
          o.mem.displacement = rng_.Chance(0.5) ? rng_.Range(-128, 127) : static_cast<int32_t>(rng_.Next());
        }
        AddOperand(r, o);
        break;
      }
      default:
        if (in.cls == OpClass::kMem) {
          AddOperand(r, MemOperand(plan, in.enc_size ? in.enc_size : in.size));
          break;
        }
        return false;
    }
  }

  if (bo_reg >= 0 && !EmitMovImm(bo_reg, bo_value)) return false;
  if (have_plan && !EmitMemSetup(plan)) return false;
  if (!b_.Emit(r)) return false;
  if (f.flags & kFStack) add_rsp(f.rsp_delta);
  if (f.flags & kFX87) set_fpu_depth(fpu_depth_ + f.fpu_delta);
  if (f.flags & kFMmx) set_fpu_depth(8);
  return true;
}

bool Gen::EmitFpuFixups(const Form& f) {
  if (!(f.flags & kFX87)) return true;
  const int need = f.fpu_need;
  const int delta = f.fpu_delta;
  static constexpr ZydisMnemonic kPushes[] = {ZYDIS_MNEMONIC_FLD1, ZYDIS_MNEMONIC_FLDZ, ZYDIS_MNEMONIC_FLDPI,
                                              ZYDIS_MNEMONIC_FLDL2E, ZYDIS_MNEMONIC_FLDLN2};
  while (fpu_depth_ < need) {
    if (neutral()) return false;
    if (!b_.Emit(MakeRequest(rng_.Pick(kPushes)))) return false;
    fpu_depth_++;
  }
  while (fpu_depth_ + delta > 8) {
    if (neutral()) return false;
    ZydisEncoderRequest r = MakeRequest(ZYDIS_MNEMONIC_FSTP);
    AddReg(r, ZYDIS_REGISTER_ST0);
    if (!b_.Emit(r)) return false;
    fpu_depth_--;
  }
  return true;
}

bool Gen::Eligible(const Form& f) const {
  if (neutral()) {
    if (f.flags & (kFStack | kFControl | kFNotNeutral)) return false;
    if (f.fpu_delta != 0) return false;
    if ((f.flags & kFX87) && fpu_depth_ < f.fpu_need) return false;
  }
  return true;
}

int Gen::PickForm() {
  if (cumulative_.empty()) {
    const auto& forms = AllForms();
    double sum = 0;
    for (size_t i = 0; i < forms.size(); i++) {
      if (opt_.enabled && !(*opt_.enabled)[i]) continue;
      if (forms[i].weight <= 0) continue;
      sum += forms[i].weight;
      candidates_.push_back(static_cast<int>(i));
      cumulative_.push_back(sum);
    }
    if (candidates_.empty()) return -1;
  }
  const auto& forms = AllForms();
  for (int t = 0; t < 64; t++) {
    const double x = rng_.Unit() * cumulative_.back();
    const size_t k = static_cast<size_t>(std::upper_bound(cumulative_.begin(), cumulative_.end(), x) -
                                         cumulative_.begin());
    const int i = candidates_[std::min(k, candidates_.size() - 1)];
    if (Eligible(forms[i])) return i;
  }
  return -1;
}

bool Gen::Validate(size_t from, const Form& f) {
  ZydisDecoder dec;
  ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  const auto& code = b_.bytes();
  size_t off = from;
  ZydisMnemonic last = ZYDIS_MNEMONIC_INVALID;
  while (off < code.size()) {
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, code.data() + off, code.size() - off, &insn, ops))) {
      // A deliberate #UD (lock on a register operand) does not decode; it
      // is the item's last instruction.
      return (f.flags & kFFault) != 0;
    }
    if (insn.encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY && insn.encoding != ZYDIS_INSTRUCTION_ENCODING_VEX)
      return false;
    for (int i = 0; i < insn.operand_count; i++) {
      const ZydisDecodedOperand& o = ops[i];
      if (o.type != ZYDIS_OPERAND_TYPE_REGISTER || !(o.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) continue;
      const ZydisRegister big = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, o.reg.value);
      for (int g = 0; g < 16; g++) {
        if (kR64[g] != big) continue;
        if ((reserved_ >> g) & 1) return false;
        if (g == kRsp && !(f.flags & (kFStack | kFControl)) && !rsp_write_ok_) return false;
      }
    }
    last = insn.mnemonic;
    off += insn.length;
  }
  if (!f.gen && last != f.mnemonic) return false;
  return true;
}

bool Gen::EmitItem(int form_index) {
  const Form& f = AllForms()[form_index];
  const Builder::Mark mark = b_.Save();
  const uint64_t rsp0 = rsp_;
  const int fpu0 = fpu_depth_;
  const bool rsp_ok0 = rsp_write_ok_;
  const size_t pending0 = pending_.size();
  const size_t protected0 = protected_.size();
  rsp_write_ok_ = false;
  bool ok = EmitFpuFixups(f);
  if (ok) ok = f.gen ? f.gen(*this, f) : EmitGeneric(f);
  if (ok && !Validate(mark.bytes, f)) {
    ok = false;
    if (stats_) stats_->validation_rejects++;
  }
  if (ok && neutral_depth_ == 0) {
    // A pending rel8 branch must still reach the end of this item.
    for (size_t i = 0; i < pending0; i++) {
      if (pending_[i].short_branch && b_.size() - pending_[i].branch_end > 127) {
        pending_[i].items_left = 0;  // bind it before this item instead
        ok = false;
      }
    }
  }
  rsp_write_ok_ = rsp_ok0;
  if (!ok) {
    b_.Restore(mark);
    rsp_ = rsp0;
    fpu_depth_ = fpu0;
    pending_.resize(pending0);
    protected_.resize(protected0);
    if (stats_) stats_->retries++;
    return false;
  }
  if (stats_) {
    stats_->per_form[form_index]++;
    stats_->items++;
  }
  return true;
}

bool Gen::EmitBody(int n, uint16_t reserve) {
  const uint16_t saved = reserved_;
  reserved_ |= reserve;
  neutral_depth_++;
  bool ok = true;
  for (int i = 0; i < n && ok; i++) {
    bool done = false;
    for (int t = 0; t < 30 && !done; t++) {
      const int k = PickForm();
      if (k < 0) break;
      done = EmitItem(k);
    }
    // A body may come out shorter than asked when few forms are enabled.
  }
  neutral_depth_--;
  reserved_ = saved;
  return ok;
}

void Gen::AddPendingLabel(int label, int skip, bool short_branch, uint32_t branch_end) {
  pending_.push_back({label, skip, short_branch, branch_end});
}

void Gen::BindDuePending(bool force_all) {
  for (size_t i = 0; i < pending_.size();) {
    if (force_all || pending_[i].items_left <= 0) {
      b_.Bind(pending_[i].label);
      pending_.erase(pending_.begin() + static_cast<long>(i));
    } else {
      i++;
    }
  }
}

void Gen::InitState(Sequence* s) {
  CpuState& st = s->init;
  st.Clear();
  for (int i = 0; i < 16; i++) st.gpr[i] = rng_.Interesting();
  rsp_ = RandomStackPointer();
  st.gpr[kRsp] = rsp_;
  st.rflags = 0x2 | (rng_.Next() & (kFlagCF | kFlagPF | kFlagAF | kFlagZF | kFlagSF | kFlagOF));
  if (rng_.Chance(0.15)) st.rflags |= kFlagDF;

  uint8_t* x = st.xsave;
  // x87: all exceptions masked; random precision (not the reserved 01) and rounding.
  static constexpr uint16_t kPc[] = {0x000, 0x200, 0x300, 0x300};
  const uint16_t fcw = static_cast<uint16_t>(0x037f & ~0x0300) | rng_.Pick(kPc) |
                       static_cast<uint16_t>(rng_.Below(4) << 10) | 0x40;
  fpu_depth_ = static_cast<int>(rng_.Below(9));
  const unsigned top = static_cast<unsigned>((8 - fpu_depth_) & 7);
  const uint16_t fsw = static_cast<uint16_t>((top << 11) | (rng_.Next() & 0x4700));  // C0-C3
  uint8_t ftw = 0;
  for (int i = 0; i < fpu_depth_; i++) ftw |= static_cast<uint8_t>(1u << ((top + static_cast<unsigned>(i)) & 7));
  std::memcpy(x + kXFcw, &fcw, 2);
  std::memcpy(x + kXFsw, &fsw, 2);
  x[kXFtw] = ftw;
  for (int i = 0; i < 8; i++) RandomF80(rng_, x + kXSt0 + 16 * i);
  // MXCSR: exceptions masked, random rounding, sometimes FTZ/DAZ, random sticky flags.
  uint32_t mxcsr = 0x1f80 | static_cast<uint32_t>(rng_.Below(4) << 13);
  if (rng_.Chance(0.1)) mxcsr |= 0x8000;
  if (rng_.Chance(0.1)) mxcsr |= 0x0040;
  mxcsr |= static_cast<uint32_t>(rng_.Next() & 0x3f);
  st.set_mxcsr(mxcsr);
  for (unsigned i = 0; i < 16; i++) {
    uint8_t y[32];
    FillChunk(rng_, y, 32);
    st.SetYmm(i, y);
  }
  x[kXHeader] = 0x7;

  FillArea(rng_, s->data, kDataBytes);
  FillArea(rng_, s->low, kLowBytes);
}

bool Gen::Generate(Sequence* out, std::string* error) {
  InitState(out);
  out->entry = kCodeVa + rng_.Below(kPage - 16);
  b_.Reset(out->entry);
  // Always drawn, so that a prefix (exact_items) is generated from the same
  // random stream as the full sequence.
  int n = static_cast<int>(rng_.Range(opt_.min_items, opt_.max_items));
  if (opt_.exact_items >= 0) n = opt_.exact_items;
  out->items.clear();
  for (int i = 0; i < n; i++) {
    bool done = false;
    size_t begin = 0;
    int k = -1;
    for (int t = 0; t < 400 && !done; t++) {
      BindDuePending(false);
      begin = b_.size();
      k = PickForm();
      if (k < 0) {
        // Nothing eligible here (e.g. inside a skip region with only stack
        // forms enabled): close the region.
        BindDuePending(true);
        continue;
      }
      const size_t pending_before = pending_.size();
      done = EmitItem(k);
      if (done) {
        for (size_t j = 0; j < std::min(pending_before, pending_.size()); j++) pending_[j].items_left--;
      }
    }
    if (!done) {
      *error = "could not emit an item (form " + (k >= 0 ? AllForms()[k].name : std::string("none")) + ")";
      return false;
    }
    out->items.push_back({k, static_cast<uint32_t>(begin), static_cast<uint32_t>(b_.size())});
  }
  BindDuePending(true);
  if (!b_.Resolve(error)) return false;
  out->code = b_.bytes();
  out->pool = b_.pool();
  out->end = b_.va();
  return true;
}

bool GenerateSequence(uint64_t seed, const GenOptions& opt, Sequence* out, GenStats* stats, std::string* error) {
  Gen g(seed, opt, stats);
  out->seed = seed;
  return g.Generate(out, error);
}

}  // namespace difftest
