#include "translator/block_dump.h"

#include <capstone/capstone.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>

#include "codecache/block.h"
#include "translator/classify.h"

namespace xlat {

namespace {

// Disassembles [code, code + size) at `addr`, one line per instruction.
void Disassemble(std::string& out, const uint8_t* code, size_t size, uint64_t addr, const char* prefix) {
  csh cs;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) return;
  cs_insn* insn;
  const size_t n = cs_disasm(cs, code, size, addr, 0, &insn);
  char line[256];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(line, sizeof line, "%s0x%016" PRIx64 ":  %-8s %s\n", prefix, insn[i].address, insn[i].mnemonic,
                  insn[i].op_str);
    out += line;
  }
  if (n) cs_free(insn, n);
  cs_close(&cs);
}

// The guest instruction at index i as one disassembled line.
std::string GuestLine(const Block& b, const uint8_t* guest_code, size_t i) {
  const uint64_t rip = b.insn_rips[i];
  uint64_t off = 0;
  for (size_t k = 0; k < i && k < b.insn_lens.size(); ++k) off += b.insn_lens[k];
  const uint64_t len = i < b.insn_lens.size() ? b.insn_lens[i] : 0;
  std::string out;
  if (guest_code && len && off + len <= b.guest_size) Disassemble(out, guest_code + off, len, rip, "");
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out.empty() ? "(undecodable)" : out;
}

}  // namespace

std::string DumpBlockInAsm(const Block& b, const uint8_t* guest_code,
                           const std::function<std::string(uint64_t)>& symbolize) {
  std::string out;
  char line[256];
  const std::string sym = symbolize ? symbolize(b.guest_rip) : std::string();
  std::snprintf(line, sizeof line, "IN: %s\n----- guest 0x%016" PRIx64 " (phys 0x%" PRIx64 "), %zu instructions, %s%s\n",
                sym.c_str(), b.guest_rip, b.guest_phys, b.insn_rips.size(),
                b.priv == PrivClass::kUser ? "user" : "kernel",
                !b.trace ? "" : b.trace_loops ? ", trace (loops)" : ", trace");
  out += line;
  for (size_t i = 0; i < b.insn_rips.size(); ++i) {
    std::string text = GuestLine(b, guest_code, i);
    // A direct branch's target by name: "call 0xffffffff81234560  <printk>".
    const size_t sp = text.find_first_of(' ', text.find(":  ") + 3);
    const std::string mnemonic = sp == std::string::npos ? "" : text.substr(text.find(":  ") + 3, sp - text.find(":  ") - 3);
    const size_t target_at = text.rfind(" 0x");
    if (symbolize && (mnemonic[0] == 'j' || mnemonic == "call" || mnemonic.rfind("loop", 0) == 0) &&
        target_at != std::string::npos) {
      const std::string name = symbolize(std::strtoull(text.c_str() + target_at + 1, nullptr, 16));
      if (!name.empty()) text += "  <" + name + ">";
    }
    out += "  " + text + "\n";
  }
  return out;
}

std::string DumpBlockOutAsm(const Block& b, const uint8_t* guest_code) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "OUT: [size=%u] host %p (indirect entry), entry %p\n", b.host_size,
                static_cast<void*>(b.host_code), static_cast<void*>(b.entry));
  out += line;
  const size_t n = std::min(b.insn_rips.size(), b.insn_host.empty() ? 0 : b.insn_host.size() - 1);
  const uint32_t first = b.insn_host.empty() ? b.host_size : b.insn_host[0];
  out += "  -- entries (indirect: check target, restore flags if read; both: pool spills, poll)\n";
  Disassemble(out, b.host_code, first, reinterpret_cast<uint64_t>(b.host_code), "     ");
  for (size_t i = 0; i < n; ++i) {
    const char* kind = i < b.insn_kinds.size() ? InsnKindName(static_cast<InsnKind>(b.insn_kinds[i])) : "?";
    out += "  -- [" + std::string(kind) + "] " + GuestLine(b, guest_code, i) + "\n";
    const uint32_t begin = b.insn_host[i], end = b.insn_host[i + 1];
    Disassemble(out, b.host_code + begin, end - begin, reinterpret_cast<uint64_t>(b.host_code) + begin, "     ");
  }
  if (!b.insn_host.empty() && b.insn_host.back() < b.host_size) {
    out += "  -- cold code (slow paths, exit stubs)\n";
    const uint32_t cold = b.insn_host.back();
    Disassemble(out, b.host_code + cold, b.host_size - cold, reinterpret_cast<uint64_t>(b.host_code) + cold,
                "     ");
  }
  return out;
}

}  // namespace xlat
