#include "tests/difftest/builder.h"

#include <cstring>

#include "tests/difftest/layout.h"

namespace difftest {

ZydisEncoderRequest MakeRequest(ZydisMnemonic m) {
  ZydisEncoderRequest r;
  std::memset(&r, 0, sizeof r);
  r.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
  // The guest has XCR0 = x87|SSE|AVX: never EVEX, and no XOP/3DNow! on Zen 4.
  r.allowed_encodings = static_cast<ZydisEncodableEncoding>(ZYDIS_ENCODABLE_ENCODING_LEGACY |
                                                            ZYDIS_ENCODABLE_ENCODING_VEX);
  r.mnemonic = m;
  return r;
}

void AddReg(ZydisEncoderRequest& r, ZydisRegister reg, bool is4) {
  ZydisEncoderOperand& o = r.operands[r.operand_count++];
  o.type = ZYDIS_OPERAND_TYPE_REGISTER;
  o.reg.value = reg;
  o.reg.is4 = is4;
}

void AddImm(ZydisEncoderRequest& r, uint64_t v) {
  ZydisEncoderOperand& o = r.operands[r.operand_count++];
  o.type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
  o.imm.u = v;
}

void AddOperand(ZydisEncoderRequest& r, const ZydisEncoderOperand& op) { r.operands[r.operand_count++] = op; }

void Builder::Reset(uint64_t base_va) {
  base_ = base_va;
  bytes_.clear();
  fixups_.clear();
  labels_.clear();
  pool_.clear();
  pool_fixups_.clear();
}

bool Builder::Append(const uint8_t* p, size_t n) {
  if (bytes_.size() + n > kMaxSequenceBytes) return false;
  bytes_.insert(bytes_.end(), p, p + n);
  return true;
}

bool Builder::Encode(ZydisEncoderRequest* req, uint64_t va, uint8_t* out, size_t* len) {
  ZyanUSize n = ZYDIS_MAX_INSTRUCTION_LENGTH;
  if (!ZYAN_SUCCESS(ZydisEncoderEncodeInstructionAbsolute(req, out, &n, va))) return false;
  *len = n;
  return true;
}

bool Builder::Emit(ZydisEncoderRequest req) {
  int eip_op = -1;
  for (int i = 0; i < req.operand_count; i++)
    if (req.operands[i].type == ZYDIS_OPERAND_TYPE_MEMORY && req.operands[i].mem.base == ZYDIS_REGISTER_EIP)
      eip_op = i;
  uint8_t buf[ZYDIS_MAX_INSTRUCTION_LENGTH + 1];
  if (eip_op < 0) {
    size_t n;
    if (!Encode(&req, va(), buf, &n)) return false;
    return Append(buf, n);
  }
  // EIP-relative: the encoder does not produce it, so encode RIP-relative
  // with a placeholder displacement, insert the 0x67 prefix in front of the
  // REX/VEX/opcode bytes, and patch the displacement for the 32-bit
  // wrap-around address computation.
  const uint64_t target = static_cast<uint64_t>(req.operands[eip_op].mem.displacement);
  req.operands[eip_op].mem.base = ZYDIS_REGISTER_RIP;
  req.operands[eip_op].mem.displacement = 0x12345678;  // forces disp32
  ZyanUSize n = ZYDIS_MAX_INSTRUCTION_LENGTH;
  if (!ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(&req, buf, &n))) return false;
  size_t p = 0;
  while (p < n && (buf[p] == 0x66 || buf[p] == 0xf2 || buf[p] == 0xf3 || buf[p] == 0xf0)) p++;
  std::memmove(buf + p + 1, buf + p, n - p);
  buf[p] = 0x67;
  n++;
  if (n > ZYDIS_MAX_INSTRUCTION_LENGTH) return false;
  ZydisDecoder dec;
  ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisDecodedInstruction insn;
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&dec, nullptr, buf, n, &insn)) || insn.length != n ||
      insn.address_width != 32 || insn.raw.disp.size != 32)
    return false;
  const uint32_t next_eip = static_cast<uint32_t>(va() + n);
  const int64_t disp = static_cast<int64_t>(target) - static_cast<int64_t>(next_eip);
  if (disp < INT32_MIN || disp > INT32_MAX) return false;
  const int32_t d32 = static_cast<int32_t>(disp);
  std::memcpy(buf + insn.raw.disp.offset, &d32, 4);
  return Append(buf, n);
}

bool Builder::EmitRaw(std::initializer_list<uint8_t> bytes) { return Append(bytes.begin(), bytes.size()); }

bool Builder::EmitBranch(ZydisMnemonic m, int label, bool rel8, ZydisAddressSizeHint asz) {
  ZydisEncoderRequest r = MakeRequest(m);
  r.branch_type = rel8 ? ZYDIS_BRANCH_TYPE_SHORT : ZYDIS_BRANCH_TYPE_NEAR;
  r.branch_width = rel8 ? ZYDIS_BRANCH_WIDTH_8 : ZYDIS_BRANCH_WIDTH_32;
  r.address_size_hint = asz;
  AddImm(r, 0);
  uint8_t buf[ZYDIS_MAX_INSTRUCTION_LENGTH];
  ZyanUSize n = sizeof buf;
  if (!ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(&r, buf, &n))) return false;
  const size_t start = bytes_.size();
  if (!Append(buf, n)) return false;
  const uint8_t w = rel8 ? 1 : 4;
  fixups_.push_back({static_cast<uint32_t>(start + n - w), w, label, static_cast<uint32_t>(start + n)});
  return true;
}

bool Builder::EmitLeaLabel(ZydisRegister reg, int label) {
  ZydisEncoderRequest r = MakeRequest(ZYDIS_MNEMONIC_LEA);
  AddReg(r, reg);
  ZydisEncoderOperand m;
  std::memset(&m, 0, sizeof m);
  m.type = ZYDIS_OPERAND_TYPE_MEMORY;
  m.mem.base = ZYDIS_REGISTER_RIP;
  m.mem.displacement = 0x12345678;  // forces disp32; patched when resolving
  m.mem.size = 8;
  AddOperand(r, m);
  uint8_t buf[ZYDIS_MAX_INSTRUCTION_LENGTH];
  ZyanUSize n = sizeof buf;
  if (!ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(&r, buf, &n))) return false;
  const size_t start = bytes_.size();
  if (!Append(buf, n)) return false;
  // lea has no immediate: the displacement is the last four bytes.
  fixups_.push_back({static_cast<uint32_t>(start + n - 4), 4, label, static_cast<uint32_t>(start + n)});
  return true;
}

int Builder::NewLabel() {
  labels_.push_back(-1);
  return static_cast<int>(labels_.size() - 1);
}

void Builder::Bind(int label) { labels_[label] = static_cast<int64_t>(bytes_.size()); }

void Builder::PoolAddressOf(uint64_t pool_va, int label) { pool_fixups_.push_back({pool_va, label}); }

uint64_t Builder::PoolPut(const void* p, size_t n, size_t align) {
  size_t off = (pool_.size() + align - 1) / align * align;
  if (off + n > kPoolBytes) return 0;
  pool_.resize(off + n);
  std::memcpy(pool_.data() + off, p, n);
  return kPoolVa + off;
}

void Builder::Restore(const Mark& m) {
  bytes_.resize(m.bytes);
  fixups_.resize(m.fixups);
  pool_.resize(m.pool);
  pool_fixups_.resize(m.pool_fixups);
  // Labels bound past the mark are unbound again (labels created after it
  // are simply never referenced).
  for (auto& l : labels_)
    if (l > static_cast<int64_t>(m.bytes)) l = -1;
}

bool Builder::Resolve(std::string* error) {
  for (const Fixup& f : fixups_) {
    if (labels_[f.label] < 0) {
      *error = "unbound label";
      return false;
    }
    const int64_t rel = labels_[f.label] - static_cast<int64_t>(f.end);
    if (f.width == 1) {
      if (rel < -128 || rel > 127) {
        *error = "rel8 branch out of range";
        return false;
      }
      bytes_[f.at] = static_cast<uint8_t>(static_cast<int8_t>(rel));
    } else {
      const int32_t r32 = static_cast<int32_t>(rel);
      std::memcpy(&bytes_[f.at], &r32, 4);
    }
  }
  for (const PoolFixup& f : pool_fixups_) {
    if (labels_[f.label] < 0) {
      *error = "unbound label (pool)";
      return false;
    }
    const uint64_t addr = LabelVa(f.label);
    std::memcpy(&pool_[f.pool_va - kPoolVa], &addr, 8);
  }
  return true;
}

}  // namespace difftest
