#include "translator/liveness.h"

#include <array>
#include <iterator>

#include "cpu/vcpu_context.h"

namespace xlat {

namespace {

bool IsShiftOrRotate(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR: case ZYDIS_MNEMONIC_SAR:
    case ZYDIS_MNEMONIC_ROL: case ZYDIS_MNEMONIC_ROR: case ZYDIS_MNEMONIC_RCL:
    case ZYDIS_MNEMONIC_RCR: case ZYDIS_MNEMONIC_SHLD: case ZYDIS_MNEMONIC_SHRD:
      return true;
    default:
      return false;
  }
}

// Instruction families whose results leave some arithmetic flags undefined
// in the manuals, and whose flags this host is asked about.
enum class UndefinedFamily { kNone, kLogic, kShift, kImul };

UndefinedFamily FamilyOf(const DecodedInsn& d) {
  switch (d.mnemonic()) {
    case ZYDIS_MNEMONIC_AND: case ZYDIS_MNEMONIC_OR: case ZYDIS_MNEMONIC_XOR: case ZYDIS_MNEMONIC_TEST:
      return UndefinedFamily::kLogic;
    case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR: case ZYDIS_MNEMONIC_SAR:
      return UndefinedFamily::kShift;
    case ZYDIS_MNEMONIC_IMUL:  // the two- and three-operand forms (one operand: rdx:rax)
      return d.insn.operand_count_visible >= 2 ? UndefinedFamily::kImul : UndefinedFamily::kNone;
    default:
      return UndefinedFamily::kNone;
  }
}

// RFLAGS after one instruction of a family, run natively with RFLAGS =
// flags_in: op picks and/or/xor/test, shl/shr/sar (count in cl) or imul;
// width 0..3 is 8..64 bits (imul has no 8-bit form: 16 bits then). (Below
// the red zone: the pushes could clobber what the compiler keeps under rsp.)
uint64_t RunProbe(UndefinedFamily family, unsigned op, unsigned width, uint64_t a, uint64_t b, uint64_t flags_in) {
  uint64_t out;
#define XLAT_FLAGS_PROBE(insn)                                                                  \
  __asm__ volatile("lea -128(%%rsp), %%rsp\n\tpushq %[fi]\n\tpopfq\n\t" insn                 \
                   "\n\tpushfq\n\tpopq %[o]\n\tlea 128(%%rsp), %%rsp"                           \
                   : [a] "+r"(a), [o] "=&r"(out)                                               \
                   : [b] "c"(b), [fi] "r"(flags_in)                                            \
                   : "cc", "memory")
  const unsigned form = (family == UndefinedFamily::kLogic ? 0 : family == UndefinedFamily::kShift ? 16 : 32) +
                        (family == UndefinedFamily::kImul ? 0 : op * 4) + width;
  switch (form) {
    case 0: XLAT_FLAGS_PROBE("andb %b[b], %b[a]"); break;
    case 1: XLAT_FLAGS_PROBE("andw %w[b], %w[a]"); break;
    case 2: XLAT_FLAGS_PROBE("andl %k[b], %k[a]"); break;
    case 3: XLAT_FLAGS_PROBE("andq %[b], %[a]"); break;
    case 4: XLAT_FLAGS_PROBE("orb %b[b], %b[a]"); break;
    case 5: XLAT_FLAGS_PROBE("orw %w[b], %w[a]"); break;
    case 6: XLAT_FLAGS_PROBE("orl %k[b], %k[a]"); break;
    case 7: XLAT_FLAGS_PROBE("orq %[b], %[a]"); break;
    case 8: XLAT_FLAGS_PROBE("xorb %b[b], %b[a]"); break;
    case 9: XLAT_FLAGS_PROBE("xorw %w[b], %w[a]"); break;
    case 10: XLAT_FLAGS_PROBE("xorl %k[b], %k[a]"); break;
    case 11: XLAT_FLAGS_PROBE("xorq %[b], %[a]"); break;
    case 12: XLAT_FLAGS_PROBE("testb %b[b], %b[a]"); break;
    case 13: XLAT_FLAGS_PROBE("testw %w[b], %w[a]"); break;
    case 14: XLAT_FLAGS_PROBE("testl %k[b], %k[a]"); break;
    case 15: XLAT_FLAGS_PROBE("testq %[b], %[a]"); break;
    case 16: XLAT_FLAGS_PROBE("shlb %%cl, %b[a]"); break;
    case 17: XLAT_FLAGS_PROBE("shlw %%cl, %w[a]"); break;
    case 18: XLAT_FLAGS_PROBE("shll %%cl, %k[a]"); break;
    case 19: XLAT_FLAGS_PROBE("shlq %%cl, %[a]"); break;
    case 20: XLAT_FLAGS_PROBE("shrb %%cl, %b[a]"); break;
    case 21: XLAT_FLAGS_PROBE("shrw %%cl, %w[a]"); break;
    case 22: XLAT_FLAGS_PROBE("shrl %%cl, %k[a]"); break;
    case 23: XLAT_FLAGS_PROBE("shrq %%cl, %[a]"); break;
    case 24: XLAT_FLAGS_PROBE("sarb %%cl, %b[a]"); break;
    case 25: XLAT_FLAGS_PROBE("sarw %%cl, %w[a]"); break;
    case 26: XLAT_FLAGS_PROBE("sarl %%cl, %k[a]"); break;
    case 27: XLAT_FLAGS_PROBE("sarq %%cl, %[a]"); break;
    case 32: case 33: XLAT_FLAGS_PROBE("imulw %w[b], %w[a]"); break;
    case 34: XLAT_FLAGS_PROBE("imull %k[b], %k[a]"); break;
    default: XLAT_FLAGS_PROBE("imulq %[b], %[a]"); break;
  }
#undef XLAT_FLAGS_PROBE
  return out;
}

// Of the flags `candidates`, those whose value after every probed
// instruction of the family is the same whatever the arithmetic flags were
// before it.
uint32_t ProbeDefinedFlags(UndefinedFamily family, uint32_t candidates) {
  // Operands whose nibbles carry and do not, products that overflow and do
  // not, results zero and not; for shifts the second is the count (non-zero:
  // a count that masks to zero passes every flag through, as FlagEffectOf
  // knows), up to and past the operand's width.
  static constexpr uint64_t kValues[] = {0, 1, 3, 0xf, 0x8, 0x88, 0xff, 0x1234, 0x8000000000000000ull,
                                         0x123456789abcdef0ull, ~0ull};
  static constexpr uint64_t kCounts[] = {1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63};
  static constexpr uint64_t kFlagsBefore[] = {0, kFlagAF, kFlagOF, kFlagAF | kFlagOF, kFlagCF | kFlagZF,
                                              kFlagSF | kFlagPF, kArithFlags};
  const unsigned ops = family == UndefinedFamily::kLogic ? 4 : family == UndefinedFamily::kShift ? 3 : 1;
  uint32_t defined = candidates;
  for (unsigned op = 0; op < ops; ++op)
    for (unsigned width = 0; width < 4; ++width)
      for (uint64_t a : kValues)
        for (size_t j = 0; j < (family == UndefinedFamily::kShift ? std::size(kCounts) : std::size(kValues)); ++j) {
          const uint64_t b = family == UndefinedFamily::kShift ? kCounts[j] : kValues[j];
          if (family == UndefinedFamily::kShift && (b & (width == 3 ? 63 : 31)) == 0) continue;
          const uint64_t first = RunProbe(family, op, width, a, b, 0x202 | kFlagsBefore[0]);
          for (uint64_t before : kFlagsBefore)
            defined &= ~static_cast<uint32_t>(RunProbe(family, op, width, a, b, 0x202 | before) ^ first);
        }
  return defined;
}

// The flags the family leaves undefined that this host defines (probed once).
uint32_t HostDefinedFlags(UndefinedFamily family) {
  static const uint32_t logic = ProbeDefinedFlags(UndefinedFamily::kLogic, kFlagAF);
  static const uint32_t shift = ProbeDefinedFlags(UndefinedFamily::kShift, kFlagAF | kFlagOF);
  static const uint32_t imul = ProbeDefinedFlags(UndefinedFamily::kImul, kFlagSF | kFlagZF | kFlagAF | kFlagPF);
  switch (family) {
    case UndefinedFamily::kLogic: return logic;
    case UndefinedFamily::kShift: return shift;
    case UndefinedFamily::kImul: return imul;
    default: return 0;
  }
}

}  // namespace

int32_t ConstantFlagsOf(const DecodedInsn& d) {
  const ZydisMnemonic m = d.mnemonic();
  if ((m != ZYDIS_MNEMONIC_XOR && m != ZYDIS_MNEMONIC_SUB && m != ZYDIS_MNEMONIC_CMP) ||
      d.insn.operand_count_visible != 2 || d.ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER ||
      d.ops[1].type != ZYDIS_OPERAND_TYPE_REGISTER || d.ops[0].reg.value != d.ops[1].reg.value)
    return -1;
  if (m != ZYDIS_MNEMONIC_XOR) return static_cast<int32_t>(kFlagZF | kFlagPF);  // x - x: 0, no borrow
  if (!(HostDefinedLogicFlags() & kFlagAF)) return -1;
  // The host's own xor of a value with itself, at the operand's width (xor
  // is op 2 of the logic family; widths 0..3 are 8..64 bits).
  static const auto kXorSelf = [] {
    std::array<int32_t, 4> f{};
    for (unsigned w = 0; w < 4; ++w)
      f[w] = static_cast<int32_t>(RunProbe(UndefinedFamily::kLogic, 2, w, 0x5a, 0x5a, 0x202) & kArithFlags);
    return f;
  }();
  const int width = WidthLog2(d.ops[0].size);
  return width < 0 ? -1 : kXorSelf[static_cast<unsigned>(width)];
}

uint32_t HostDefinedLogicFlags() { return HostDefinedFlags(UndefinedFamily::kLogic); }
uint32_t HostDefinedShiftFlags() { return HostDefinedFlags(UndefinedFamily::kShift); }
uint32_t HostDefinedImulFlags() { return HostDefinedFlags(UndefinedFamily::kImul); }

FlagEffect FlagEffectOf(const DecodedInsn& d) {
  FlagEffect fx;
  const ZydisAccessedFlags* f = d.insn.cpu_flags;
  if (!f) return fx;
  fx.reads = f->tested & kArithFlags;
  // Undefined flags this host computes regardless count as written.
  const uint32_t host_defined = f->undefined & HostDefinedFlags(FamilyOf(d));
  fx.kills = (f->modified | f->set_0 | f->set_1 | host_defined) & ~(f->undefined & ~host_defined) & kArithFlags;
  // (DF too: a save of the guest's flags must come after a cld or std.)
  fx.writes = (f->modified | f->set_0 | f->set_1 | f->undefined) & (kArithFlags | kFlagDF);
  if (IsShiftOrRotate(d.mnemonic())) {
    // A count of zero (in cl, or an immediate that masks to zero) leaves
    // every flag alone: the instruction passes flags through.
    const ZydisDecodedOperand& count = d.ops[d.insn.operand_count_visible - 1];
    const unsigned mask = d.insn.operand_width == 64 ? 63 : 31;
    if (count.type != ZYDIS_OPERAND_TYPE_IMMEDIATE || (count.imm.value.u & mask) == 0) fx.kills = 0;
    // rcl/rcr read CF; with a non-zero count they also define it.
  }
  return fx;
}

bool MayFaultNatively(const DecodedInsn& d) {
  return d.mnemonic() == ZYDIS_MNEMONIC_DIV || d.mnemonic() == ZYDIS_MNEMONIC_IDIV;
}

unsigned RequiredAlignment(const DecodedInsn& d) {
  const int mi = d.MemOperand();
  if (mi < 0) return 0;
  const unsigned size = d.ops[mi].size / 8;
  switch (d.mnemonic()) {
    case ZYDIS_MNEMONIC_CMPXCHG16B: case ZYDIS_MNEMONIC_FXSAVE: case ZYDIS_MNEMONIC_FXSAVE64:
    case ZYDIS_MNEMONIC_FXRSTOR: case ZYDIS_MNEMONIC_FXRSTOR64:
      return 16;
    case ZYDIS_MNEMONIC_MOVAPS: case ZYDIS_MNEMONIC_MOVAPD: case ZYDIS_MNEMONIC_MOVDQA:
    case ZYDIS_MNEMONIC_MOVNTPS: case ZYDIS_MNEMONIC_MOVNTPD: case ZYDIS_MNEMONIC_MOVNTDQ:
    case ZYDIS_MNEMONIC_MOVNTDQA: case ZYDIS_MNEMONIC_VMOVAPS: case ZYDIS_MNEMONIC_VMOVAPD:
    case ZYDIS_MNEMONIC_VMOVDQA: case ZYDIS_MNEMONIC_VMOVNTPS: case ZYDIS_MNEMONIC_VMOVNTPD:
    case ZYDIS_MNEMONIC_VMOVNTDQ: case ZYDIS_MNEMONIC_VMOVNTDQA:
      return size;  // 16, or 32 for ymm
    default:
      break;
  }
  // Legacy (non-VEX) SSE with a 16-byte memory operand requires alignment,
  // except the unaligned moves and the SSE4.2 string compares (SDM Vol. 1,
  // 12.1.2 and 11.4.1.1).
  if (size != 16 || d.insn.encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY) return 0;
  switch (d.mnemonic()) {
    case ZYDIS_MNEMONIC_MOVUPS: case ZYDIS_MNEMONIC_MOVUPD: case ZYDIS_MNEMONIC_MOVDQU:
    case ZYDIS_MNEMONIC_LDDQU: case ZYDIS_MNEMONIC_PCMPESTRI: case ZYDIS_MNEMONIC_PCMPESTRM:
    case ZYDIS_MNEMONIC_PCMPISTRI: case ZYDIS_MNEMONIC_PCMPISTRM:
      return 0;
    default:
      break;
  }
  switch (d.insn.meta.isa_ext) {
    case ZYDIS_ISA_EXT_SSE: case ZYDIS_ISA_EXT_SSE2: case ZYDIS_ISA_EXT_SSE3: case ZYDIS_ISA_EXT_SSSE3:
    case ZYDIS_ISA_EXT_SSE4: case ZYDIS_ISA_EXT_AES: case ZYDIS_ISA_EXT_PCLMULQDQ:
      return 16;
    default:
      return 0;
  }
}

void ComputeFlagLiveness(std::span<const FlagEffect> effects, std::span<uint32_t> live_in,
                         std::span<uint32_t> live_out, uint32_t live_at_end, std::span<const uint8_t> read_all_after) {
  uint32_t live = live_at_end;
  for (size_t i = effects.size(); i-- > 0;) {
    if (read_all_after[i]) live = kArithFlags;
    live_out[i] = live;
    const FlagEffect& fx = effects[i];
    live = (live & ~fx.kills) | fx.reads;
    live_in[i] = live;
  }
}

}  // namespace xlat
