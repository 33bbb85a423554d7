// The code buffer a sequence is assembled into: Zydis-encoded instructions
// at their final virtual address, labels with rel8/rel32 fixups, and the
// constant pool (kPoolVa). Everything can be rolled back to a mark, which is
// how the generator drops an item that came out wrong.
#pragma once

#include <Zydis/Zydis.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace difftest {

class Builder {
 public:
  void Reset(uint64_t base_va);

  uint64_t base() const { return base_; }
  uint64_t va() const { return base_ + bytes_.size(); }
  size_t size() const { return bytes_.size(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  const std::vector<uint8_t>& pool() const { return pool_; }

  // Encodes one instruction at va(). Memory operands based on RIP and
  // branch targets are absolute addresses; a memory operand based on EIP is
  // an absolute address below 4 GiB reached EIP-relative with a 0x67 prefix.
  bool Emit(ZydisEncoderRequest req);
  bool EmitRaw(std::initializer_list<uint8_t> bytes);
  // A branch (jcc, jmp, call, loop*, jrcxz/jecxz) to a label, rel8 or rel32.
  bool EmitBranch(ZydisMnemonic m, int label, bool rel8, ZydisAddressSizeHint asz = ZYDIS_ADDRESS_SIZE_HINT_NONE);

  // `lea reg, [rip + label]` (the address of a label, resolved later).
  bool EmitLeaLabel(ZydisRegister reg, int label);

  int NewLabel();
  void Bind(int label);
  bool IsBound(int label) const { return labels_[label] >= 0; }
  uint64_t LabelVa(int label) const { return base_ + static_cast<uint64_t>(labels_[label]); }
  // Stores the label's final address into the pool at `pool_va` when
  // resolving (jump tables, call targets in memory).
  void PoolAddressOf(uint64_t pool_va, int label);

  // Copies n bytes into the pool (aligned) and returns their address.
  // Returns 0 if the pool is full.
  uint64_t PoolPut(const void* p, size_t n, size_t align);

  struct Mark {
    size_t bytes, fixups, pool, pool_fixups;
  };
  Mark Save() const { return {bytes_.size(), fixups_.size(), pool_.size(), pool_fixups_.size()}; }
  void Restore(const Mark& m);

  // Patches every branch; false if a label is unbound or a rel8 does not reach.
  bool Resolve(std::string* error);

  // For branch distance checks before resolving.
  struct Fixup {
    uint32_t at;     // offset of the rel field
    uint8_t width;   // 1 or 4
    int label;
    uint32_t end;    // offset just after the branch
  };
  const std::vector<Fixup>& fixups() const { return fixups_; }

  static bool Encode(ZydisEncoderRequest* req, uint64_t va, uint8_t* out, size_t* len);

 private:
  bool Append(const uint8_t* p, size_t n);
  uint64_t base_ = 0;
  std::vector<uint8_t> bytes_;
  std::vector<Fixup> fixups_;
  std::vector<int64_t> labels_;
  std::vector<uint8_t> pool_;
  struct PoolFixup {
    uint64_t pool_va;
    int label;
  };
  std::vector<PoolFixup> pool_fixups_;
};

// A request with the machine mode, mnemonic and LEGACY|VEX encodings set.
ZydisEncoderRequest MakeRequest(ZydisMnemonic m);
void AddReg(ZydisEncoderRequest& r, ZydisRegister reg, bool is4 = false);
void AddImm(ZydisEncoderRequest& r, uint64_t v);
void AddOperand(ZydisEncoderRequest& r, const ZydisEncoderOperand& op);

}  // namespace difftest
