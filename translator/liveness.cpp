#include "translator/liveness.h"

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

bool IsLogicOp(ZydisMnemonic m) {
  return m == ZYDIS_MNEMONIC_AND || m == ZYDIS_MNEMONIC_OR || m == ZYDIS_MNEMONIC_XOR || m == ZYDIS_MNEMONIC_TEST;
}

// RFLAGS after `op` (0 and, 1 or, 2 xor, 3 test) on a and b of the given
// width, run with RFLAGS = flags_in. (Below the red zone: pushes there
// could clobber what the compiler keeps under rsp.)
uint64_t RunLogicOp(unsigned op, unsigned width, uint64_t a, uint64_t b, uint64_t flags_in) {
  uint64_t out;
#define XLAT_LOGIC_PROBE(insn)                                                                       \
  __asm__ volatile("lea -128(%%rsp), %%rsp\n\tpushq %[fi]\n\tpopfq\n\t" insn                    \
                   "\n\tpushfq\n\tpopq %[o]\n\tlea 128(%%rsp), %%rsp"                              \
                   : [a] "+r"(a), [o] "=&r"(out)                                                    \
                   : [b] "r"(b), [fi] "r"(flags_in)                                                 \
                   : "cc", "memory")
  switch (op * 4 + width) {
    case 0: XLAT_LOGIC_PROBE("andb %b[b], %b[a]"); break;
    case 1: XLAT_LOGIC_PROBE("andw %w[b], %w[a]"); break;
    case 2: XLAT_LOGIC_PROBE("andl %k[b], %k[a]"); break;
    case 3: XLAT_LOGIC_PROBE("andq %[b], %[a]"); break;
    case 4: XLAT_LOGIC_PROBE("orb %b[b], %b[a]"); break;
    case 5: XLAT_LOGIC_PROBE("orw %w[b], %w[a]"); break;
    case 6: XLAT_LOGIC_PROBE("orl %k[b], %k[a]"); break;
    case 7: XLAT_LOGIC_PROBE("orq %[b], %[a]"); break;
    case 8: XLAT_LOGIC_PROBE("xorb %b[b], %b[a]"); break;
    case 9: XLAT_LOGIC_PROBE("xorw %w[b], %w[a]"); break;
    case 10: XLAT_LOGIC_PROBE("xorl %k[b], %k[a]"); break;
    case 11: XLAT_LOGIC_PROBE("xorq %[b], %[a]"); break;
    case 12: XLAT_LOGIC_PROBE("testb %b[b], %b[a]"); break;
    case 13: XLAT_LOGIC_PROBE("testw %w[b], %w[a]"); break;
    case 14: XLAT_LOGIC_PROBE("testl %k[b], %k[a]"); break;
    default: XLAT_LOGIC_PROBE("testq %[b], %[a]"); break;
  }
#undef XLAT_LOGIC_PROBE
  return out;
}

}  // namespace

bool HostLogicOpsDefineAf() {
  static const bool defined = [] {
    // Operands whose nibbles carry and do not, results zero and not, every
    // other flag in both states before; AF before clear and set.
    static constexpr uint64_t kValues[] = {0, 1, 0xf, 0x8, 0x88, 0xff, 0x8000000000000000ull, 0x123456789abcdef0ull,
                                           ~0ull};
    for (unsigned op = 0; op < 4; ++op)
      for (unsigned width = 0; width < 4; ++width)
        for (uint64_t a : kValues)
          for (uint64_t b : kValues)
            for (uint64_t others : {uint64_t{0}, uint64_t{kArithFlags & ~kFlagAF}}) {
              const uint64_t base = 0x202 | others;  // IF (unchanged at CPL 3) and the reserved bit 1
              const uint64_t af_clear = RunLogicOp(op, width, a, b, base);
              const uint64_t af_set = RunLogicOp(op, width, a, b, base | kFlagAF);
              if ((af_clear ^ af_set) & kFlagAF) return false;
            }
    return true;
  }();
  return defined;
}

FlagEffect FlagEffectOf(const DecodedInsn& d) {
  FlagEffect fx;
  const ZydisAccessedFlags* f = d.insn.cpu_flags;
  if (!f) return fx;
  fx.reads = f->tested & kArithFlags;
  uint32_t undefined = f->undefined;
  if (IsLogicOp(d.mnemonic()) && HostLogicOpsDefineAf()) undefined &= ~kFlagAF;
  fx.kills = (f->modified | f->set_0 | f->set_1 | (f->undefined & ~undefined)) & ~undefined & kArithFlags;
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
                         std::span<uint32_t> live_out, uint32_t live_at_end, int read_all_after) {
  uint32_t live = live_at_end;
  for (size_t i = effects.size(); i-- > 0;) {
    if (static_cast<int>(i) == read_all_after) live = kArithFlags;
    live_out[i] = live;
    const FlagEffect& fx = effects[i];
    live = (live & ~fx.kills) | fx.reads;
    live_in[i] = live;
  }
}

}  // namespace xlat
