// The initial state of a sequence: registers with edge values, rsp in the
// stack area, random arithmetic flags and DF, an x87 stack of random depth,
// MXCSR/FCW with random rounding and precision but every exception masked,
// and vector registers and data areas filled with a mix of floats, doubles,
// edge integers, zeros and noise.
#include <cmath>
#include <cstring>

#include "tests/difftest/generator.h"

namespace difftest {

namespace {

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

}  // namespace difftest
