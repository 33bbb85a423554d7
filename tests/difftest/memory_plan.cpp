// Placing a memory operand: an effective address inside a data area
// (often next to or across a page boundary), then an addressing mode and the
// register values that produce it. Every mode the encoding allows is used:
// base, base+disp8/32, base+index*scale+disp, index*scale+disp32 without a
// base, base == index, RIP-relative, rsp as base; with 32-bit addressing the
// sums wrap at 4 GiB and the upper register halves hold garbage.
#include <cstring>

#include "tests/difftest/generator.h"

namespace difftest {

namespace {
constexpr int kRsp = 4;
}  // namespace

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
  auto reg_name = [&](int i) { return Gpr(i, q.a32 ? 4 : 8); };
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
      if (Gpr(i, 8) == big) return i;
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

}  // namespace difftest
