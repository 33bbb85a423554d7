#include "translator/decoder.h"

#include <array>
#include <cstring>

namespace xlat {

Decoder::Decoder() { ZydisDecoderInit(&decoder_, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64); }

Decoder::Status Decoder::Decode(const uint8_t* bytes, size_t avail, uint64_t rip, DecodedInsn* out) const {
  ZyanStatus st = ZydisDecoderDecodeFull(&decoder_, bytes, avail, &out->insn, out->ops);
  if (st == ZYDIS_STATUS_NO_MORE_DATA) return Status::kNeedMoreBytes;
  if (st == ZYDIS_STATUS_INSTRUCTION_TOO_LONG) return Status::kTooLong;
  if (ZYAN_FAILED(st)) return Status::kInvalid;
  out->rip = rip;
  std::memcpy(out->bytes, bytes, out->insn.length);
  return Status::kOk;
}

int DecodedInsn::MemOperand(bool implicit) const {
  for (unsigned i = 0; i < insn.operand_count; ++i) {
    const ZydisDecodedOperand& op = ops[i];
    if (op.type != ZYDIS_OPERAND_TYPE_MEMORY || op.mem.type == ZYDIS_MEMOP_TYPE_AGEN) continue;
    if (op.visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN && !implicit) continue;
    return static_cast<int>(i);
  }
  return -1;
}

namespace {

int GprNumberFromZydis(ZydisRegister reg) {
  if (reg == ZYDIS_REGISTER_NONE) return -1;
  ZydisRegisterClass cls = ZydisRegisterGetClass(reg);
  if (cls != ZYDIS_REGCLASS_GPR8 && cls != ZYDIS_REGCLASS_GPR16 && cls != ZYDIS_REGCLASS_GPR32 &&
      cls != ZYDIS_REGCLASS_GPR64)
    return -1;
  ZydisRegister big = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, reg);
  return ZydisRegisterGetId(big);
}

// Asked for every register operand of every instruction, many times over
// (pool, groups, liveness of registers): a table, not three library calls.
const std::array<int8_t, ZYDIS_REGISTER_MAX_VALUE + 1> kGprNumbers = [] {
  std::array<int8_t, ZYDIS_REGISTER_MAX_VALUE + 1> t{};
  for (int r = 0; r <= ZYDIS_REGISTER_MAX_VALUE; ++r)
    t[static_cast<size_t>(r)] = static_cast<int8_t>(GprNumberFromZydis(static_cast<ZydisRegister>(r)));
  return t;
}();

}  // namespace

int GprNumber(ZydisRegister reg) {
  const auto r = static_cast<unsigned>(reg);
  return r < kGprNumbers.size() ? kGprNumbers[r] : -1;
}

bool IsHighByteReg(ZydisRegister reg) {
  return reg == ZYDIS_REGISTER_AH || reg == ZYDIS_REGISTER_CH || reg == ZYDIS_REGISTER_DH ||
         reg == ZYDIS_REGISTER_BH;
}

ZydisRegister Gpr64(unsigned num) { return ZydisRegisterEncode(ZYDIS_REGCLASS_GPR64, static_cast<ZyanU8>(num)); }

}  // namespace xlat

namespace xlat {

bool UsesHighByteRegister(const DecodedInsn& d) {
  for (unsigned i = 0; i < d.insn.operand_count; ++i)
    if (d.ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER && IsHighByteReg(d.ops[i].reg.value)) return true;
  return false;
}

bool ReferencesStackSegment(const DecodedInsn& d, const ZydisDecodedOperand& op) {
  if (op.mem.segment == ZYDIS_REGISTER_FS || op.mem.segment == ZYDIS_REGISTER_GS) return false;
  // Prefixes do not redirect implicit stack slots (push, pop, call, ret...).
  if (op.visibility == ZYDIS_OPERAND_VISIBILITY_EXPLICIT) {
    // The last ES/CS/SS/DS override names the segment of an explicit operand.
    for (unsigned i = d.insn.raw.prefix_count; i-- > 0;) {
      switch (d.insn.raw.prefixes[i].value) {
        case 0x36: return true;
        case 0x26: case 0x2e: case 0x3e: return false;
        default: break;
      }
    }
  }
  return op.mem.segment == ZYDIS_REGISTER_SS;
}

}  // namespace xlat
