// General-purpose integer forms: ALU, shifts, multiply/divide, bit
// operations, moves and extensions, flags, lock-prefixed read-modify-write,
// BMI1/BMI2/ADX/LZCNT/POPCNT/MOVBE/CRC32.
#include "tests/difftest/composites.h"
#include "tests/difftest/forms.h"

namespace difftest {

namespace {
using enum Op;
}

void AddGpForms(FormTable& t) {
  t.SetCategory(Cat::kGp);
  t.SetWeight(1.0f);

  // ---- two-operand ALU: every size, reg/mem/imm ----
  t.Family({ZYDIS_MNEMONIC_ADD, ZYDIS_MNEMONIC_OR, ZYDIS_MNEMONIC_ADC, ZYDIS_MNEMONIC_SBB, ZYDIS_MNEMONIC_AND,
            ZYDIS_MNEMONIC_SUB, ZYDIS_MNEMONIC_XOR, ZYDIS_MNEMONIC_CMP},
           {{kR8, kR8}, {kR16, kR16}, {kR32, kR32}, {kR64, kR64},
            {kR8, kM8}, {kR16, kM16}, {kR32, kM32}, {kR64, kM64},
            {kM8, kR8}, {kM16, kR16}, {kM32, kR32}, {kM64, kR64},
            {kAl, kI8}, {kEax, kI32}, {kRax, kI32},
            {kR8, kI8}, {kR16, kI16}, {kR32, kI32}, {kR64, kI32}, {kR32, kS8}, {kR64, kS8},
            {kM8, kI8}, {kM16, kI16}, {kM32, kI32}, {kM64, kI32}, {kM64, kS8}});
  t.Family({ZYDIS_MNEMONIC_TEST},
           {{kR8, kR8}, {kR16, kR16}, {kR32, kR32}, {kR64, kR64}, {kM8, kR8}, {kM32, kR32}, {kM64, kR64},
            {kAl, kI8}, {kR32, kI32}, {kR64, kI32}, {kM8, kI8}, {kM16, kI16}, {kM64, kI32}});
  t.Family({ZYDIS_MNEMONIC_MOV},
           {{kR8, kR8}, {kR16, kR16}, {kR32, kR32}, {kR64, kR64}, {kR8, kM8}, {kR16, kM16}, {kR32, kM32},
            {kR64, kM64}, {kM8, kR8}, {kM16, kR16}, {kM32, kR32}, {kM64, kR64}, {kR8, kI8}, {kR16, kI16},
            {kR32, kI32}, {kR64, kI32}, {kR64, kI64}, {kM8, kI8}, {kM16, kI16}, {kM32, kI32}, {kM64, kI32}});
  t.Family({ZYDIS_MNEMONIC_XCHG},
           {{kR8, kR8}, {kR16, kR16}, {kR32, kR32}, {kR64, kR64}, {kAx, kR16}, {kEax, kR32}, {kRax, kR64},
            {kM8, kR8}, {kM16, kR16}, {kM32, kR32}, {kM64, kR64}});
  t.Family({ZYDIS_MNEMONIC_XADD, ZYDIS_MNEMONIC_CMPXCHG},
           {{kR8, kR8}, {kR16, kR16}, {kR32, kR32}, {kR64, kR64}, {kM8, kR8}, {kM16, kR16}, {kM32, kR32},
            {kM64, kR64}});

  // ---- one-operand ALU ----
  t.Family({ZYDIS_MNEMONIC_INC, ZYDIS_MNEMONIC_DEC, ZYDIS_MNEMONIC_NEG, ZYDIS_MNEMONIC_NOT},
           {{kR8}, {kR16}, {kR32}, {kR64}, {kM8}, {kM16}, {kM32}, {kM64}});
  t.Family({ZYDIS_MNEMONIC_MUL, ZYDIS_MNEMONIC_IMUL}, {{kR8}, {kR16}, {kR32}, {kR64}, {kM8}, {kM16}, {kM32}, {kM64}});
  t.Family({ZYDIS_MNEMONIC_IMUL},
           {{kR16, kR16}, {kR32, kR32}, {kR64, kR64}, {kR16, kM16}, {kR32, kM32}, {kR64, kM64},
            {kR16, kR16, kS8}, {kR32, kR32, kI32}, {kR64, kR64, kS8}, {kR64, kR64, kI32}, {kR32, kM32, kS8},
            {kR64, kM64, kI32}, {kR16, kM16, kI16}});

  // ---- shifts and rotates: by 1, by cl, by imm8 ----
  t.Family({ZYDIS_MNEMONIC_ROL, ZYDIS_MNEMONIC_ROR, ZYDIS_MNEMONIC_RCL, ZYDIS_MNEMONIC_RCR, ZYDIS_MNEMONIC_SHL,
            ZYDIS_MNEMONIC_SHR, ZYDIS_MNEMONIC_SAR},
           {{kR8, kCl}, {kR16, kI8}, {kR32, kCl}, {kR64, kI8}, {kR64, kOne}, {kR32, kOne}, {kM8, kOne},
            {kM16, kCl}, {kM32, kI8}, {kM64, kCl}, {kM64, kI8}});
  t.Family({ZYDIS_MNEMONIC_SHLD, ZYDIS_MNEMONIC_SHRD},
           {{kR16, kR16, kI8}, {kR32, kR32, kCl}, {kR64, kR64, kI8}, {kR64, kR64, kCl}, {kM16, kR16, kCl},
            {kM32, kR32, kI8}, {kM64, kR64, kCl}});

  // ---- bit operations; memory forms with register offsets reach +-256 bytes ----
  t.Family({ZYDIS_MNEMONIC_BT, ZYDIS_MNEMONIC_BTS, ZYDIS_MNEMONIC_BTR, ZYDIS_MNEMONIC_BTC},
           {{kR16, kR16}, {kR32, kR32}, {kR64, kR64}, {kR32, kI8}, {kR64, kI8}, {kM16, kBo16}, {kM32, kBo32},
            {kM64, kBo64}, {kM16, kI8}, {kM64, kI8}});
  t.Family({ZYDIS_MNEMONIC_BSF, ZYDIS_MNEMONIC_BSR, ZYDIS_MNEMONIC_TZCNT, ZYDIS_MNEMONIC_LZCNT, ZYDIS_MNEMONIC_POPCNT},
           {{kR16, kR16}, {kR32, kR32}, {kR64, kR64}, {kR32, kM32}, {kR64, kM64}});
  t.Family({ZYDIS_MNEMONIC_BSWAP}, {{kR32}, {kR64}});

  // ---- moves with extension ----
  t.Family({ZYDIS_MNEMONIC_MOVZX, ZYDIS_MNEMONIC_MOVSX},
           {{kR16, kR8}, {kR32, kR8}, {kR64, kR8}, {kR32, kR16}, {kR64, kR16}, {kR16, kM8}, {kR32, kM8},
            {kR64, kM8}, {kR32, kM16}, {kR64, kM16}});
  t.Family({ZYDIS_MNEMONIC_MOVSXD}, {{kR64, kR32}, {kR64, kM32}});
  t.Family({ZYDIS_MNEMONIC_CBW, ZYDIS_MNEMONIC_CWDE, ZYDIS_MNEMONIC_CDQE, ZYDIS_MNEMONIC_CWD, ZYDIS_MNEMONIC_CDQ,
            ZYDIS_MNEMONIC_CQO, ZYDIS_MNEMONIC_LAHF, ZYDIS_MNEMONIC_SAHF, ZYDIS_MNEMONIC_CLC, ZYDIS_MNEMONIC_STC,
            ZYDIS_MNEMONIC_CMC, ZYDIS_MNEMONIC_NOP, ZYDIS_MNEMONIC_PAUSE, ZYDIS_MNEMONIC_LFENCE,
            ZYDIS_MNEMONIC_MFENCE, ZYDIS_MNEMONIC_SFENCE, ZYDIS_MNEMONIC_ENDBR64},
           {{}});
  t.Family({ZYDIS_MNEMONIC_CLD, ZYDIS_MNEMONIC_STD}, {{}}, kFSetsDf);
  t.Family({ZYDIS_MNEMONIC_NOP}, {{kM16}, {kM32}, {kM64}});
  t.Family({ZYDIS_MNEMONIC_PREFETCHT0, ZYDIS_MNEMONIC_PREFETCHT1, ZYDIS_MNEMONIC_PREFETCHT2,
            ZYDIS_MNEMONIC_PREFETCHNTA, ZYDIS_MNEMONIC_PREFETCHW},
           {{kM8}});
  t.Family({ZYDIS_MNEMONIC_CLFLUSH, ZYDIS_MNEMONIC_CLFLUSHOPT}, {{kMLine}});
  t.Family({ZYDIS_MNEMONIC_LEA}, {{kR16, kMAgen}, {kR32, kMAgen}, {kR64, kMAgen}});

  // ---- condition codes ----
  const std::initializer_list<ZydisMnemonic> kCmov = {
      ZYDIS_MNEMONIC_CMOVO,  ZYDIS_MNEMONIC_CMOVNO, ZYDIS_MNEMONIC_CMOVB,  ZYDIS_MNEMONIC_CMOVNB,
      ZYDIS_MNEMONIC_CMOVZ,  ZYDIS_MNEMONIC_CMOVNZ, ZYDIS_MNEMONIC_CMOVBE, ZYDIS_MNEMONIC_CMOVNBE,
      ZYDIS_MNEMONIC_CMOVS,  ZYDIS_MNEMONIC_CMOVNS, ZYDIS_MNEMONIC_CMOVP,  ZYDIS_MNEMONIC_CMOVNP,
      ZYDIS_MNEMONIC_CMOVL,  ZYDIS_MNEMONIC_CMOVNL, ZYDIS_MNEMONIC_CMOVLE, ZYDIS_MNEMONIC_CMOVNLE};
  t.SetWeight(0.5f);
  t.Family(kCmov, {{kR32, kR32}, {kR64, kM64}, {kR16, kM16}, {kR32, kM32}});
  const std::initializer_list<ZydisMnemonic> kSet = {
      ZYDIS_MNEMONIC_SETO,  ZYDIS_MNEMONIC_SETNO, ZYDIS_MNEMONIC_SETB,  ZYDIS_MNEMONIC_SETNB,
      ZYDIS_MNEMONIC_SETZ,  ZYDIS_MNEMONIC_SETNZ, ZYDIS_MNEMONIC_SETBE, ZYDIS_MNEMONIC_SETNBE,
      ZYDIS_MNEMONIC_SETS,  ZYDIS_MNEMONIC_SETNS, ZYDIS_MNEMONIC_SETP,  ZYDIS_MNEMONIC_SETNP,
      ZYDIS_MNEMONIC_SETL,  ZYDIS_MNEMONIC_SETNL, ZYDIS_MNEMONIC_SETLE, ZYDIS_MNEMONIC_SETNLE};
  t.Family(kSet, {{kR8}, {kM8}});
  t.SetWeight(1.0f);

  // ---- lock-prefixed read-modify-write ----
  t.Family({ZYDIS_MNEMONIC_ADD, ZYDIS_MNEMONIC_OR, ZYDIS_MNEMONIC_ADC, ZYDIS_MNEMONIC_SBB, ZYDIS_MNEMONIC_AND,
            ZYDIS_MNEMONIC_SUB, ZYDIS_MNEMONIC_XOR},
           {{kM8, kR8}, {kM32, kR32}, {kM64, kR64}, {kM16, kI16}, {kM64, kS8}}, kFLock);
  t.Family({ZYDIS_MNEMONIC_INC, ZYDIS_MNEMONIC_DEC, ZYDIS_MNEMONIC_NEG, ZYDIS_MNEMONIC_NOT},
           {{kM8}, {kM32}, {kM64}}, kFLock);
  t.Family({ZYDIS_MNEMONIC_XADD, ZYDIS_MNEMONIC_CMPXCHG}, {{kM8, kR8}, {kM16, kR16}, {kM32, kR32}, {kM64, kR64}},
           kFLock);
  t.Family({ZYDIS_MNEMONIC_BTS, ZYDIS_MNEMONIC_BTR, ZYDIS_MNEMONIC_BTC}, {{kM32, kBo32}, {kM64, kBo64}, {kM16, kI8}},
           kFLock);

  // ---- BMI1/BMI2/ADX/MOVBE/CRC32 ----
  t.SetCategory(Cat::kBmi);
  t.Family({ZYDIS_MNEMONIC_ANDN, ZYDIS_MNEMONIC_PDEP, ZYDIS_MNEMONIC_PEXT, ZYDIS_MNEMONIC_MULX},
           {{kR32, kR32, kR32}, {kR64, kR64, kR64}, {kR32, kR32, kM32}, {kR64, kR64, kM64}});
  t.Family({ZYDIS_MNEMONIC_BEXTR, ZYDIS_MNEMONIC_BZHI, ZYDIS_MNEMONIC_SARX, ZYDIS_MNEMONIC_SHLX, ZYDIS_MNEMONIC_SHRX},
           {{kR32, kR32, kR32}, {kR64, kR64, kR64}, {kR32, kM32, kR32}, {kR64, kM64, kR64}});
  t.Family({ZYDIS_MNEMONIC_BLSI, ZYDIS_MNEMONIC_BLSMSK, ZYDIS_MNEMONIC_BLSR},
           {{kR32, kR32}, {kR64, kR64}, {kR32, kM32}, {kR64, kM64}});
  t.Family({ZYDIS_MNEMONIC_RORX}, {{kR32, kR32, kI8}, {kR64, kR64, kI8}, {kR32, kM32, kI8}, {kR64, kM64, kI8}});
  t.Family({ZYDIS_MNEMONIC_ADCX, ZYDIS_MNEMONIC_ADOX}, {{kR32, kR32}, {kR64, kR64}, {kR32, kM32}, {kR64, kM64}});
  t.Family({ZYDIS_MNEMONIC_MOVBE}, {{kR16, kM16}, {kR32, kM32}, {kR64, kM64}, {kM16, kR16}, {kM32, kR32}, {kM64, kR64}});
  t.Family({ZYDIS_MNEMONIC_CRC32}, {{kR32, kR8}, {kR32, kR16}, {kR32, kR32}, {kR64, kR64}, {kR32, kM8}, {kR32, kM16},
                                    {kR32, kM32}, {kR64, kM8}, {kR64, kM64}});

  // ---- composites ----
  t.SetCategory(Cat::kGp);
  for (int size : {1, 2, 4, 8}) {
    const std::string w = std::to_string(size * 8);
    t.Custom("div r" + w + " (safe divisor)", GenDiv, 0, ZYDIS_MNEMONIC_DIV, size, 0);
    t.Custom("idiv r" + w + " (safe divisor)", GenDiv, 0, ZYDIS_MNEMONIC_IDIV, size, 0);
    t.Custom("div m" + w + " (rdx 0)", GenDiv, kFMayFault, ZYDIS_MNEMONIC_DIV, size, 1);
    t.Custom("idiv m" + w + " (sign-extended)", GenDiv, kFMayFault, ZYDIS_MNEMONIC_IDIV, size, 1);
  }
  t.Custom("cmpxchg8b m64", GenCmpxchgPair, 0, ZYDIS_MNEMONIC_CMPXCHG8B, 0);
  t.Custom("lock cmpxchg8b m64", GenCmpxchgPair, kFLock, ZYDIS_MNEMONIC_CMPXCHG8B, 0);
  t.Custom("cmpxchg16b m128", GenCmpxchgPair, 0, ZYDIS_MNEMONIC_CMPXCHG16B, 0);
  t.Custom("lock cmpxchg16b m128", GenCmpxchgPair, kFLock, ZYDIS_MNEMONIC_CMPXCHG16B, 0);
  for (int size : {1, 2, 4, 8}) {
    t.Custom("lock cmpxchg m" + std::to_string(size * 8) + " (primed)", GenCmpxchgPrimed, kFLock,
             ZYDIS_MNEMONIC_CMPXCHG, size);
  }
  t.Custom("xlatb", GenXlat, 0, ZYDIS_MNEMONIC_XLAT);
  t.Custom("xlatb (a32)", GenXlat, kFA32, ZYDIS_MNEMONIC_XLAT);
  for (int size : {1, 2, 4, 8}) {
    const std::string w = std::to_string(size * 8);
    t.Custom("mov acc" + w + ", moffs64", GenMoffs, 0, ZYDIS_MNEMONIC_MOV, size, 0);
    t.Custom("mov moffs64, acc" + w, GenMoffs, 0, ZYDIS_MNEMONIC_MOV, size, 1);
  }
  t.Custom("mov eax, moffs32 (a32)", GenMoffs, kFA32, ZYDIS_MNEMONIC_MOV, 4, 0);
  t.Custom("mov moffs32, rax (a32)", GenMoffs, kFA32, ZYDIS_MNEMONIC_MOV, 8, 1);
  t.Custom("adc/sbb chain through memory", GenAdcChain, 0, ZYDIS_MNEMONIC_ADC, 0);
  t.Custom("add/adc chain, 4 words", GenAdcChain, 0, ZYDIS_MNEMONIC_ADC, 1);

  // ---- deliberate faults: rare, and each one ends its sequence ----
  t.SetCategory(Cat::kFault);
  t.SetWeight(0.05f);
  t.Custom("div r64 by zero (#DE)", GenDivByZero, kFFault, ZYDIS_MNEMONIC_DIV, 8);
  t.Custom("idiv r32 overflow (#DE)", GenDivByZero, kFFault, ZYDIS_MNEMONIC_IDIV, 4);
  t.Custom("div m8 by zero (#DE)", GenDivByZero, kFFault, ZYDIS_MNEMONIC_DIV, 1);
  t.Custom("ud2 (#UD)", GenRaw, kFFault, ZYDIS_MNEMONIC_UD2, 0);
  t.Custom("lock add r64, r64 (#UD)", GenRaw, kFFault, ZYDIS_MNEMONIC_ADD, 1);
  t.Custom("movaps xmm, m128 misaligned (#GP)", GenMisalignedVec, kFFault, ZYDIS_MNEMONIC_MOVAPS, 0);
  t.Custom("movdqa m128, xmm misaligned (#GP)", GenMisalignedVec, kFFault, ZYDIS_MNEMONIC_MOVDQA, 1);
  t.Custom("vmovaps ymm, m256 misaligned (#GP)", GenMisalignedVec, kFFault, ZYDIS_MNEMONIC_VMOVAPS, 2);
  t.Custom("cmpxchg16b misaligned (#GP)", GenMisalignedVec, kFFault, ZYDIS_MNEMONIC_CMPXCHG16B, 3);
  t.Custom("load past the data area (#PF)", GenGuardPage, kFFault, ZYDIS_MNEMONIC_MOV, 0);
  t.Custom("store straddling into a guard page (#PF)", GenGuardPage, kFFault, ZYDIS_MNEMONIC_MOV, 1);
  t.Custom("push below the data area (#PF)", GenGuardPage, kFFault | kFStack, ZYDIS_MNEMONIC_PUSH, 2);
  t.Custom("rep movsb into a guard page (#PF)", GenGuardPage, kFFault, ZYDIS_MNEMONIC_MOVSB, 3);
  t.SetWeight(1.0f);
}

}  // namespace difftest
