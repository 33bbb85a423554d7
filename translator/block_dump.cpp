#include "translator/block_dump.h"

#include <capstone/capstone.h>

#include <cinttypes>
#include <cstdio>

#include "codecache/block.h"

namespace xlat {

namespace {

void Disassemble(std::string& out, const uint8_t* code, size_t size, uint64_t addr, const char* prefix) {
  csh cs;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) return;
  cs_insn* insn;
  size_t n = cs_disasm(cs, code, size, addr, 0, &insn);
  char line[256];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(line, sizeof line, "%s0x%016" PRIx64 ":  %-8s %s\n", prefix, insn[i].address, insn[i].mnemonic,
                  insn[i].op_str);
    out += line;
  }
  if (n) cs_free(insn, n);
  cs_close(&cs);
}

}  // namespace

std::string DumpBlock(const Block& b, const uint8_t* guest_code, bool in_asm, bool out_asm) {
  std::string out;
  char line[160];
  std::snprintf(line, sizeof line, "---- block guest 0x%016" PRIx64 " (pa 0x%" PRIx64 "), %zu insns, host %p +%u\n",
                b.guest_rip, b.guest_phys, b.insn_rips.size(), static_cast<void*>(b.host_code), b.host_size);
  out += line;
  if (in_asm && guest_code) Disassemble(out, guest_code, b.guest_size, b.guest_rip, "  IN  ");
  if (out_asm) Disassemble(out, b.host_code, b.host_size, reinterpret_cast<uint64_t>(b.host_code), "  OUT ");
  return out;
}

}  // namespace xlat
