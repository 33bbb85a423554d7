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
  fx.writes = (f->modified | f->set_0 | f->set_1 | f->undefined) & kArithFlags;
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
