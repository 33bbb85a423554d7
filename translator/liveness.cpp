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

}  // namespace

FlagEffect FlagEffectOf(const DecodedInsn& d) {
  FlagEffect fx;
  const ZydisAccessedFlags* f = d.insn.cpu_flags;
  if (!f) return fx;
  fx.reads = f->tested & kArithFlags;
  fx.kills = (f->modified | f->set_0 | f->set_1) & ~f->undefined & kArithFlags;
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
