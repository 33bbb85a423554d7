// Decoding guest instructions (64-bit mode) with Zydis.
#pragma once

#include <Zydis/Zydis.h>

#include <cstddef>
#include <cstdint>

namespace xlat {

struct DecodedInsn {
  DecodedInsn() : rip(0), insn{}, ops{}, bytes{} {}
  // For storage that Decoder::Decode fills at once: a DecodedInsn is over a
  // kilobyte, and the translator makes one per guest instruction.
  struct Uninitialized {};
  explicit DecodedInsn(Uninitialized) {}

  uint64_t rip;
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  uint8_t bytes[16];

  unsigned length() const { return insn.length; }
  uint64_t next_rip() const { return rip + insn.length; }
  ZydisMnemonic mnemonic() const { return insn.mnemonic; }
  // Where a direct (rel8/rel32) jmp, jcc, call or loop goes.
  uint64_t direct_target() const { return next_rip() + static_cast<uint64_t>(ops[0].imm.value.s); }
  // Index of the operand that accesses memory (not lea's address generation),
  // or -1. Implicit ones count (e.g. push's stack slot) only if `implicit`.
  int MemOperand(bool implicit = false) const;
  bool HasPrefix(ZydisInstructionAttributes attr) const { return (insn.attributes & attr) != 0; }
};

class Decoder {
 public:
  Decoder();
  // kTooLong: more than 15 bytes of prefixes and opcode, #GP(0) (SDM vol. 2, 2.3.11).
  enum class Status { kOk, kInvalid, kNeedMoreBytes, kTooLong };
  // Decodes one 64-bit-mode instruction from at most `avail` bytes.
  Status Decode(const uint8_t* bytes, size_t avail, uint64_t rip, DecodedInsn* out) const;

 private:
  ZydisDecoder decoder_;
};

// 64-bit register number (0..15) of a general-purpose register of any width, or -1.
int GprNumber(ZydisRegister reg);
// 0..3 for an operand of 8, 16, 32 or 64 bits; -1 for other sizes.
inline int WidthLog2(unsigned bits) {
  return bits == 8 ? 0 : bits == 16 ? 1 : bits == 32 ? 2 : bits == 64 ? 3 : -1;
}
// True for ah, ch, dh, bh (not encodable together with a REX prefix).
bool IsHighByteReg(ZydisRegister reg);
ZydisRegister Gpr64(unsigned num);
// True when an operand is ah/ch/dh/bh: the instruction cannot take a REX
// prefix, so a rewrite may only use rax..rdi in its operands.
bool UsesHighByteRegister(const DecodedInsn& d);
// True when memory operand `op` goes through SS: a stack slot, an rsp or rbp
// base, or an ss: prefix. 64-bit mode ignores the ES/CS/SS/DS bases (and
// Zydis reports the default segment), but the segment still decides the
// exception of a non-canonical address: #SS(0) rather than #GP(0).
bool ReferencesStackSegment(const DecodedInsn& d, const ZydisDecodedOperand& op);

}  // namespace xlat
