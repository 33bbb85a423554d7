#include "translator/lazy_flags.h"

#include "cpu/flags_slot.h"

namespace xlat {
namespace {

asmjit::x86::Gp GprOfWidth(unsigned reg, unsigned width_log2) {
  using namespace asmjit::x86;
  switch (width_log2) {
    case 0: return gpb(reg);
    case 1: return gpw(reg);
    case 2: return gpd(reg);
    default: return gpq(reg);
  }
}

}  // namespace

std::optional<LazyFlagsDesc> LazyFlagsDescOf(const DecodedInsn& w, uint16_t written_after) {
  LazyFlagsDesc d{};
  switch (w.mnemonic()) {
    case ZYDIS_MNEMONIC_ADD: d.op = LazyFlagsDesc::kAdd; break;
    case ZYDIS_MNEMONIC_SUB: d.op = LazyFlagsDesc::kSub; break;
    case ZYDIS_MNEMONIC_CMP: d.op = LazyFlagsDesc::kCmp; break;
    default: return std::nullopt;
  }
  if (w.insn.operand_count_visible != 2 || w.ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER || UsesHighByteRegister(w))
    return std::nullopt;
  const int dst = GprNumber(w.ops[0].reg.value);
  if (dst < 0) return std::nullopt;
  const int width = WidthLog2(w.ops[0].size);
  if (width < 0) return std::nullopt;
  d.width_log2 = static_cast<uint8_t>(width);
  d.dst = static_cast<uint8_t>(dst);
  uint16_t used = static_cast<uint16_t>(1u << dst);
  if (w.ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
    d.src_is_imm = true;
    d.imm = static_cast<int32_t>(static_cast<uint32_t>(w.ops[1].imm.value.u));
  } else if (w.ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER) {
    const int src = GprNumber(w.ops[1].reg.value);
    if (src < 0 || (src == dst && d.op != LazyFlagsDesc::kCmp)) return std::nullopt;
    d.src = static_cast<uint8_t>(src);
    used |= static_cast<uint16_t>(1u << src);
  } else {
    return std::nullopt;
  }
  if ((used & (1u << kR11)) || (used & written_after)) return std::nullopt;
  return d;
}

void EmitLazyFlagsAgain(asmjit::x86::Assembler& a, const LazyFlagsDesc& d) {
  using namespace asmjit;
  const x86::Gp dst = GprOfWidth(d.dst, d.width_log2);
  const Operand src = d.src_is_imm ? Operand(Imm(d.imm)) : Operand(GprOfWidth(d.src, d.width_log2));
  const x86::Mem tmp = GsSlot(XLAT_CTX_OFF(lazy_flags_tmp)).cloneResized(1u << d.width_log2);
  switch (d.op) {
    case LazyFlagsDesc::kAdd:  // the first operand as it was, then the add again
      a.mov(tmp, dst);
      a.emit(x86::Inst::kIdSub, tmp, src);
      a.emit(x86::Inst::kIdAdd, tmp, src);
      break;
    case LazyFlagsDesc::kSub:
      a.mov(tmp, dst);
      a.emit(x86::Inst::kIdAdd, tmp, src);
      a.emit(x86::Inst::kIdSub, tmp, src);
      break;
    case LazyFlagsDesc::kCmp:
      a.emit(x86::Inst::kIdCmp, dst, src);
      break;
  }
}

void EmitLazyFlagsStub(asmjit::x86::Assembler& a, const LazyFlagsDesc& d) {
  EmitLazyFlagsAgain(a, d);
  EmitSaveArithFlags(a);  // (keeps RFLAGS)
  a.jmp(GsSlot(XLAT_CTX_OFF(lazy_flags_ret)));
}

}  // namespace xlat
