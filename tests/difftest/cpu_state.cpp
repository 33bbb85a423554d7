#include "tests/difftest/cpu_state.h"

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>

namespace difftest {

const char* const kGprNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                   "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};

namespace {

std::string Hex(const uint8_t* p, unsigned n) {
  // Printed most significant byte first, the way a register is read.
  std::string s;
  char b[4];
  for (unsigned i = n; i-- > 0;) {
    std::snprintf(b, sizeof b, "%02x", p[i]);
    s += b;
    if (i % 8 == 0 && i) s += '_';
  }
  return s;
}

std::string Fmt(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string Fmt(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

std::string FlagString(uint64_t f) {
  std::string s;
  const struct { uint64_t bit; const char* name; } kFlags[] = {
      {kFlagOF, "OF"}, {kFlagDF, "DF"}, {kFlagSF, "SF"}, {kFlagZF, "ZF"},
      {kFlagAF, "AF"}, {kFlagPF, "PF"}, {kFlagCF, "CF"}};
  for (auto& fl : kFlags) {
    if (!s.empty()) s += ' ';
    s += (f & fl.bit) ? fl.name : "--";
  }
  return s;
}

std::string VectorName(int v) {
  switch (v) {
    case kNoFault: return "none (reached the end)";
    case kVecDE: return "#DE(0)";
    case kVecUD: return "#UD(6)";
    case kVecGP: return "#GP(13)";
    case kVecPF: return "#PF(14)";
    case kVecMF: return "#MF(16)";
    case kVecAC: return "#AC(17)";
    case kVecXM: return "#XM(19)";
    default: return Fmt("vector %d", v);
  }
}

}  // namespace

void NormalizeXsave(uint8_t* x) {
  uint64_t bv;
  std::memcpy(&bv, x + kXHeader, 8);
  if (!(bv & 1)) {
    // x87 initial configuration: FCW 0x037f, everything else zero. MXCSR
    // (bytes 24..31) belongs to SSE/AVX and is always saved.
    uint8_t mx[8];
    std::memcpy(mx, x + 24, 8);
    std::memset(x, 0, 160);
    std::memcpy(x + 24, mx, 8);
    const uint16_t fcw = 0x037f;
    std::memcpy(x + kXFcw, &fcw, 2);
  }
  if (!(bv & 2)) std::memset(x + kXXmm0, 0, 256);
  if (!(bv & 4)) std::memset(x + kXYmmHi0, 0, 256);
  std::memset(x + kXHeader, 0, 64);
  x[kXHeader] = 0x7;
  // FOP/FIP/FDP and the reserved bytes are never compared; clear them so
  // that a dump shows only meaningful state.
  std::memset(x + 6, 0, 18);
  std::memset(x + 28, 0, 4);  // MXCSR_MASK
  std::memset(x + 416, 0, 96);
}

std::vector<std::string> CompareStates(const CpuState& n, const CpuState& x, bool rip_slack,
                                       bool mem_fault_dead_flags) {
  std::vector<std::string> d;
  if (n.vector != x.vector) {
    d.push_back(Fmt("end:    native %s, xlat %s", VectorName(n.vector).c_str(), VectorName(x.vector).c_str()));
  }
  const bool rip_ok = n.rip == x.rip || (rip_slack && x.rip == n.rip + 1);
  if (!rip_ok) d.push_back(Fmt("rip:    native %016" PRIx64 "  xlat %016" PRIx64, n.rip, x.rip));
  if (n.vector == kVecPF && x.vector == kVecPF && n.fault_addr != x.fault_addr)
    d.push_back(Fmt("cr2:    native %016" PRIx64 "  xlat %016" PRIx64, n.fault_addr, x.fault_addr));
  for (unsigned i = 0; i < 16; i++) {
    if (n.gpr[i] != x.gpr[i])
      d.push_back(Fmt("%-7s native %016" PRIx64 "  xlat %016" PRIx64 "  (xor %016" PRIx64 ")", kGprNames[i],
                      n.gpr[i], x.gpr[i], n.gpr[i] ^ x.gpr[i]));
  }
  constexpr uint64_t kArith = 0x8d5;  // CF PF AF ZF SF OF
  const bool mem_fault = n.vector == kVecPF || n.vector == kVecGP;
  const uint64_t compared = (mem_fault_dead_flags && mem_fault) ? (kComparedFlags & ~kArith) : kComparedFlags;
  if ((n.rflags ^ x.rflags) & compared)
    d.push_back(Fmt("flags:  native %s  xlat %s", FlagString(n.rflags).c_str(), FlagString(x.rflags).c_str()));
  if (n.mxcsr() != x.mxcsr()) d.push_back(Fmt("mxcsr:  native %08x  xlat %08x", n.mxcsr(), x.mxcsr()));
  if (n.fcw() != x.fcw()) d.push_back(Fmt("fcw:    native %04x  xlat %04x", n.fcw(), x.fcw()));
  if (n.fsw() != x.fsw()) d.push_back(Fmt("fsw:    native %04x  xlat %04x (top %d vs %d)", n.fsw(), x.fsw(),
                                           (n.fsw() >> 11) & 7, (x.fsw() >> 11) & 7));
  if (n.ftw() != x.ftw()) d.push_back(Fmt("ftw:    native %02x  xlat %02x", n.ftw(), x.ftw()));
  for (unsigned i = 0; i < 8; i++) {
    const uint8_t* a = n.xsave + kXSt0 + 16 * i;
    const uint8_t* b = x.xsave + kXSt0 + 16 * i;
    if (std::memcmp(a, b, 10) != 0)
      d.push_back(Fmt("st%u:    native %s  xlat %s", i, Hex(a, 10).c_str(), Hex(b, 10).c_str()));
  }
  for (unsigned i = 0; i < 16; i++) {
    uint8_t a[32], b[32];
    n.GetYmm(i, a);
    x.GetYmm(i, b);
    if (std::memcmp(a, b, 32) != 0)
      d.push_back(Fmt("ymm%-3u native %s\n        xlat   %s", i, Hex(a, 32).c_str(), Hex(b, 32).c_str()));
  }
  return d;
}

std::vector<std::string> CompareBytes(const uint8_t* n, const uint8_t* x, uint64_t bytes, uint64_t va,
                                      unsigned max_runs) {
  std::vector<std::string> d;
  uint64_t i = 0;
  unsigned runs = 0;
  while (i < bytes) {
    if (n[i] == x[i]) {
      // Skip equal bytes a word at a time.
      if ((i & 7) == 0 && i + 8 <= bytes && std::memcmp(n + i, x + i, 8) == 0) {
        i += 8;
      } else {
        i++;
      }
      continue;
    }
    uint64_t j = i;
    // A run ends after 8 equal bytes in a row.
    uint64_t equal = 0;
    while (j < bytes && equal < 8) {
      equal = (n[j] == x[j]) ? equal + 1 : 0;
      j++;
    }
    const uint64_t end = j - equal;
    if (++runs <= max_runs) {
      std::string s = Fmt("mem %016" PRIx64 "..%016" PRIx64 " (%" PRIu64 " bytes, page offset %03" PRIx64 ")\n",
                          va + i, va + end, end - i, (va + i) & 0xfff);
      for (uint64_t k = i; k < end; k += 32) {
        const uint64_t m = std::min<uint64_t>(32, end - k);
        std::string ln = Fmt("   %016" PRIx64 " native ", va + k), lx = "                    xlat   ";
        for (uint64_t q = 0; q < m; q++) {
          ln += Fmt("%02x", n[k + q]);
          lx += Fmt("%02x", x[k + q]);
          if (q % 8 == 7) ln += ' ', lx += ' ';
        }
        s += ln + "\n" + lx + (k + 32 < end ? "\n" : "");
      }
      d.push_back(s);
    }
    i = end;
  }
  if (runs > max_runs) d.push_back(Fmt("... and %u more differing ranges", runs - max_runs));
  return d;
}

std::string FormatState(const CpuState& s) {
  std::string out;
  for (unsigned i = 0; i < 16; i++)
    out += Fmt("  %-4s %016" PRIx64 "%s", kGprNames[i], s.gpr[i], (i % 4 == 3) ? "\n" : "");
  out += Fmt("  rip  %016" PRIx64 "  flags %s  end %s\n", s.rip, FlagString(s.rflags).c_str(),
             VectorName(s.vector).c_str());
  out += Fmt("  mxcsr %08x fcw %04x fsw %04x ftw %02x\n", s.mxcsr(), s.fcw(), s.fsw(), s.ftw());
  return out;
}

}  // namespace difftest
