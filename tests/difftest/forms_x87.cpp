// x87 and MMX forms. The generator keeps the x87 stack valid: fpu_need is
// how many registers must hold values before the instruction (it pushes
// constants when there are fewer), fpu_delta how the depth changes (it pops
// with fstp st0 first when a push would overflow). MMX instructions leave
// every tag valid with TOP = 0; emms empties the stack again.
#include "tests/difftest/composites.h"
#include "tests/difftest/forms.h"

namespace difftest {

namespace {
using enum Op;

void X87(FormTable& t, std::initializer_list<ZydisMnemonic> ms, std::initializer_list<FormTable::Sig> sigs,
         int need, int delta) {
  for (ZydisMnemonic m : ms) {
    for (const auto& s : sigs) {
      Form& f = t.Add(m, s, kFX87);
      f.fpu_need = static_cast<uint8_t>(need);
      f.fpu_delta = static_cast<int8_t>(delta);
    }
  }
}
}  // namespace

void AddX87MmxForms(FormTable& t) {
  t.SetCategory(Cat::kX87);
  t.SetWeight(1.0f);
  // ---- loads ----
  X87(t, {ZYDIS_MNEMONIC_FLD}, {{kM32}, {kM64}, {kM80}}, 0, 1);
  X87(t, {ZYDIS_MNEMONIC_FLD}, {{kSti}}, 1, 1);
  X87(t, {ZYDIS_MNEMONIC_FILD}, {{kM16}, {kM32}, {kM64}}, 0, 1);
  X87(t, {ZYDIS_MNEMONIC_FBLD}, {{kM80}}, 0, 1);
  X87(t, {ZYDIS_MNEMONIC_FLD1, ZYDIS_MNEMONIC_FLDZ, ZYDIS_MNEMONIC_FLDPI, ZYDIS_MNEMONIC_FLDL2E,
          ZYDIS_MNEMONIC_FLDL2T, ZYDIS_MNEMONIC_FLDLG2, ZYDIS_MNEMONIC_FLDLN2},
      {{}}, 0, 1);
  // ---- stores ----
  X87(t, {ZYDIS_MNEMONIC_FST}, {{kM32}, {kM64}, {kSti}}, 1, 0);
  X87(t, {ZYDIS_MNEMONIC_FSTP}, {{kM32}, {kM64}, {kM80}, {kSti}}, 1, -1);
  X87(t, {ZYDIS_MNEMONIC_FIST}, {{kM16}, {kM32}}, 1, 0);
  X87(t, {ZYDIS_MNEMONIC_FISTP, ZYDIS_MNEMONIC_FISTTP}, {{kM16}, {kM32}, {kM64}}, 1, -1);
  X87(t, {ZYDIS_MNEMONIC_FBSTP}, {{kM80}}, 1, -1);
  // ---- arithmetic ----
  X87(t, {ZYDIS_MNEMONIC_FADD, ZYDIS_MNEMONIC_FSUB, ZYDIS_MNEMONIC_FSUBR, ZYDIS_MNEMONIC_FMUL, ZYDIS_MNEMONIC_FDIV,
          ZYDIS_MNEMONIC_FDIVR},
      {{kM32}, {kM64}, {kSt0, kSti}, {kSti, kSt0}}, 1, 0);
  X87(t, {ZYDIS_MNEMONIC_FADDP, ZYDIS_MNEMONIC_FSUBP, ZYDIS_MNEMONIC_FSUBRP, ZYDIS_MNEMONIC_FMULP,
          ZYDIS_MNEMONIC_FDIVP, ZYDIS_MNEMONIC_FDIVRP},
      {{kSti, kSt0}}, 2, -1);
  X87(t, {ZYDIS_MNEMONIC_FIADD, ZYDIS_MNEMONIC_FISUB, ZYDIS_MNEMONIC_FISUBR, ZYDIS_MNEMONIC_FIMUL,
          ZYDIS_MNEMONIC_FIDIV, ZYDIS_MNEMONIC_FIDIVR},
      {{kM16}, {kM32}}, 1, 0);
  // ---- compares ----
  X87(t, {ZYDIS_MNEMONIC_FCOM}, {{kM32}, {kM64}, {kSti}}, 1, 0);
  X87(t, {ZYDIS_MNEMONIC_FCOMP}, {{kM32}, {kM64}, {kSti}}, 1, -1);
  X87(t, {ZYDIS_MNEMONIC_FUCOM}, {{kSti}}, 1, 0);
  {
    // The encoder has no fucomp st(i): DD E8+i.
    Form& f = t.Custom("fucomp st(i)", GenFucomp, kFX87, ZYDIS_MNEMONIC_FUCOMP);
    f.fpu_need = 1;
    f.fpu_delta = -1;
  }
  X87(t, {ZYDIS_MNEMONIC_FCOMPP, ZYDIS_MNEMONIC_FUCOMPP}, {{}}, 2, -2);
  X87(t, {ZYDIS_MNEMONIC_FCOMI, ZYDIS_MNEMONIC_FUCOMI}, {{kSt0, kSti}}, 1, 0);
  X87(t, {ZYDIS_MNEMONIC_FCOMIP, ZYDIS_MNEMONIC_FUCOMIP}, {{kSt0, kSti}}, 1, -1);
  X87(t, {ZYDIS_MNEMONIC_FICOM}, {{kM16}, {kM32}}, 1, 0);
  X87(t, {ZYDIS_MNEMONIC_FICOMP}, {{kM16}, {kM32}}, 1, -1);
  X87(t, {ZYDIS_MNEMONIC_FTST, ZYDIS_MNEMONIC_FXAM}, {{}}, 1, 0);
  // ---- unary and transcendental ----
  X87(t, {ZYDIS_MNEMONIC_FCHS, ZYDIS_MNEMONIC_FABS, ZYDIS_MNEMONIC_FSQRT, ZYDIS_MNEMONIC_FRNDINT,
          ZYDIS_MNEMONIC_F2XM1, ZYDIS_MNEMONIC_FSIN, ZYDIS_MNEMONIC_FCOS},
      {{}}, 1, 0);
  X87(t, {ZYDIS_MNEMONIC_FSCALE, ZYDIS_MNEMONIC_FPREM, ZYDIS_MNEMONIC_FPREM1}, {{}}, 2, 0);
  X87(t, {ZYDIS_MNEMONIC_FXTRACT, ZYDIS_MNEMONIC_FPTAN, ZYDIS_MNEMONIC_FSINCOS}, {{}}, 1, 1);
  X87(t, {ZYDIS_MNEMONIC_FPATAN, ZYDIS_MNEMONIC_FYL2X, ZYDIS_MNEMONIC_FYL2XP1}, {{}}, 2, -1);
  X87(t, {ZYDIS_MNEMONIC_FXCH}, {{kSti}}, 1, 0);
  X87(t, {ZYDIS_MNEMONIC_FCMOVB, ZYDIS_MNEMONIC_FCMOVE, ZYDIS_MNEMONIC_FCMOVBE, ZYDIS_MNEMONIC_FCMOVU,
          ZYDIS_MNEMONIC_FCMOVNB, ZYDIS_MNEMONIC_FCMOVNE, ZYDIS_MNEMONIC_FCMOVNBE, ZYDIS_MNEMONIC_FCMOVNU},
      {{kSt0, kSti}}, 1, 0);
  // ---- control ----
  X87(t, {ZYDIS_MNEMONIC_FNSTSW}, {{kAx}, {kM16}}, 0, 0);
  X87(t, {ZYDIS_MNEMONIC_FNSTCW}, {{kM16}}, 0, 0);
  X87(t, {ZYDIS_MNEMONIC_FNCLEX, ZYDIS_MNEMONIC_FWAIT, ZYDIS_MNEMONIC_FNOP}, {{}}, 0, 0);
  X87(t, {ZYDIS_MNEMONIC_FNINIT}, {{}}, 0, -8);
  // Rotating TOP keeps every register valid only when all eight are.
  X87(t, {ZYDIS_MNEMONIC_FINCSTP, ZYDIS_MNEMONIC_FDECSTP}, {{}}, 8, 0);
  t.Custom("fldcw m16 (exceptions masked)", GenFldcw, kFX87, ZYDIS_MNEMONIC_FLDCW);
  t.Custom("fnstenv m28; fldenv m28", GenFpuEnv, kFX87, ZYDIS_MNEMONIC_FNSTENV, 0);
  t.Custom("fnsave m108; frstor m108", GenFpuEnv, kFX87, ZYDIS_MNEMONIC_FNSAVE, 1);
  t.Custom("fxsave m512", GenFxsave, 0, ZYDIS_MNEMONIC_FXSAVE, 0, 0);
  t.Custom("fxsave64 m512", GenFxsave, 0, ZYDIS_MNEMONIC_FXSAVE64, 1, 0);
  t.Custom("fxsave m512; fxrstor m512", GenFxsave, 0, ZYDIS_MNEMONIC_FXRSTOR, 0, 1);
  t.Custom("fxsave64 m512; fxrstor64 m512", GenFxsave, 0, ZYDIS_MNEMONIC_FXRSTOR64, 1, 1);

  // ---- MMX (and the SSE/SSSE3 instructions on mm registers) ----
  t.SetCategory(Cat::kMmx);
  t.SetWeight(0.7f);
  t.Family({ZYDIS_MNEMONIC_PADDB, ZYDIS_MNEMONIC_PADDW, ZYDIS_MNEMONIC_PADDD, ZYDIS_MNEMONIC_PADDQ,
            ZYDIS_MNEMONIC_PSUBB, ZYDIS_MNEMONIC_PSUBW, ZYDIS_MNEMONIC_PSUBD, ZYDIS_MNEMONIC_PSUBQ,
            ZYDIS_MNEMONIC_PADDSB, ZYDIS_MNEMONIC_PADDUSW, ZYDIS_MNEMONIC_PSUBSW, ZYDIS_MNEMONIC_PSUBUSB,
            ZYDIS_MNEMONIC_PMULLW, ZYDIS_MNEMONIC_PMULHW, ZYDIS_MNEMONIC_PMULHUW, ZYDIS_MNEMONIC_PMULUDQ,
            ZYDIS_MNEMONIC_PMADDWD, ZYDIS_MNEMONIC_PAVGB, ZYDIS_MNEMONIC_PAVGW, ZYDIS_MNEMONIC_PMINUB,
            ZYDIS_MNEMONIC_PMAXSW, ZYDIS_MNEMONIC_PSADBW, ZYDIS_MNEMONIC_PAND, ZYDIS_MNEMONIC_PANDN,
            ZYDIS_MNEMONIC_POR, ZYDIS_MNEMONIC_PXOR, ZYDIS_MNEMONIC_PCMPEQB, ZYDIS_MNEMONIC_PCMPGTD,
            ZYDIS_MNEMONIC_PACKSSWB, ZYDIS_MNEMONIC_PACKUSWB, ZYDIS_MNEMONIC_PUNPCKHDQ,
            ZYDIS_MNEMONIC_PSLLW, ZYDIS_MNEMONIC_PSRLQ, ZYDIS_MNEMONIC_PSRAD, ZYDIS_MNEMONIC_PSHUFB,
            ZYDIS_MNEMONIC_PHADDW, ZYDIS_MNEMONIC_PABSB, ZYDIS_MNEMONIC_PMULHRSW, ZYDIS_MNEMONIC_PSIGND,
            ZYDIS_MNEMONIC_PMADDUBSW},
           {{kMm, kMm}, {kMm, kM64}}, kFMmx);
  // The MMX unpack-low forms read only 32 bits of memory.
  t.Family({ZYDIS_MNEMONIC_PUNPCKLBW, ZYDIS_MNEMONIC_PUNPCKLDQ}, {{kMm, kMm}, {kMm, kM32}}, kFMmx);
  t.Family({ZYDIS_MNEMONIC_PSLLD, ZYDIS_MNEMONIC_PSRLW, ZYDIS_MNEMONIC_PSRAW, ZYDIS_MNEMONIC_PSLLQ}, {{kMm, kI8}},
           kFMmx);
  t.Family({ZYDIS_MNEMONIC_PSHUFW, ZYDIS_MNEMONIC_PALIGNR}, {{kMm, kMm, kI8}, {kMm, kM64, kI8}}, kFMmx);
  t.Family({ZYDIS_MNEMONIC_PEXTRW}, {{kR32, kMm, kI8}}, kFMmx);
  t.Family({ZYDIS_MNEMONIC_PINSRW}, {{kMm, kR32, kI8}, {kMm, kM16, kI8}}, kFMmx);
  t.Family({ZYDIS_MNEMONIC_PMOVMSKB}, {{kR32, kMm}}, kFMmx);
  t.Family({ZYDIS_MNEMONIC_MOVD}, {{kMm, kR32}, {kR32, kMm}, {kMm, kM32}, {kM32, kMm}}, kFMmx);
  t.Family({ZYDIS_MNEMONIC_MOVQ}, {{kMm, kR64}, {kR64, kMm}, {kMm, kM64}, {kM64, kMm}, {kMm, kMm}}, kFMmx);
  t.Family({ZYDIS_MNEMONIC_MOVNTQ}, {{kM64, kMm}}, kFMmx);
  t.Family({ZYDIS_MNEMONIC_MOVQ2DQ}, {{kXmm, kMm}}, kFMmx);
  t.Family({ZYDIS_MNEMONIC_MOVDQ2Q}, {{kMm, kXmm}}, kFMmx);
  t.Family({ZYDIS_MNEMONIC_CVTPI2PS, ZYDIS_MNEMONIC_CVTPI2PD}, {{kXmm, kMm}, {kXmm, kM64}}, kFMmx);
  t.Family({ZYDIS_MNEMONIC_CVTPS2PI, ZYDIS_MNEMONIC_CVTTPS2PI}, {{kMm, kXmm}, {kMm, kM64}}, kFMmx);
  t.Family({ZYDIS_MNEMONIC_CVTPD2PI}, {{kMm, kXmm}, {kMm, kM128}}, kFMmx | kFAlignVec);
  {
    Form& f = t.Add(ZYDIS_MNEMONIC_EMMS, {}, kFX87);
    f.fpu_delta = -8;
  }
  t.Custom("maskmovq mm, mm ([rdi])", GenMaskedStore, kFMmx, ZYDIS_MNEMONIC_MASKMOVQ, 0);
}

}  // namespace difftest
