#include "frontend/gdb_registers.h"

#include <cstring>

#include "cpu/vcpu.h"
#include "cpu/vcpu_context.h"

namespace xlat::gdb {
namespace {

// gdb's order of the 16 GPRs -> x86 encoding order (VcpuContext::gpr).
constexpr uint8_t kGprOfReg[16] = {kRax, kRbx, kRcx, kRdx, kRsi, kRdi, kRbp, kRsp,
                                   kR8,  kR9,  kR10, kR11, kR12, kR13, kR14, kR15};
// gdb's selector order (cs ss ds es fs gs) -> VcpuContext::sel (es cs ss ds fs gs).
constexpr uint8_t kSelOfReg[6] = {1, 2, 3, 0, 4, 5};

constexpr uint64_t kXstateX87 = 1, kXstateSse = 2, kXstateAvx = 4;

// Offsets inside the FXSAVE legacy area (64-bit format).
constexpr unsigned kXsaveFop = 6, kXsaveFip = 8, kXsaveFcs = 12, kXsaveFdp = 16, kXsaveFds = 20;

uint64_t XstateBv(const VcpuContext& c) {
  uint64_t v;
  std::memcpy(&v, c.xsave_area + kXsaveHeader, 8);
  return v;
}

void SetXstateBv(VcpuContext& c, uint64_t v) { std::memcpy(c.xsave_area + kXsaveHeader, &v, 8); }

// Makes the area of a component hold what the component's state is, so that
// one field of it can be written.
void MakeComponentExplicit(VcpuContext& c, uint64_t bit) {
  const uint64_t bv = XstateBv(c);
  if (bv & bit) return;
  if (bit == kXstateX87) {
    // FCW 0x37f, everything else zero (FNINIT); MXCSR is not part of it.
    std::memset(c.xsave_area, 0, 24);
    std::memset(c.xsave_area + kXsaveSt0, 0, 128);
    const uint16_t fcw = 0x37f;
    std::memcpy(c.xsave_area + kXsaveFcw, &fcw, 2);
  } else if (bit == kXstateSse) {
    std::memset(c.xsave_area + kXsaveXmm0, 0, 256);
  } else if (bit == kXstateAvx) {
    std::memset(c.xsave_area + kXsaveYmmHi0, 0, 256);
  }
  SetXstateBv(c, bv | bit);
}

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

uint64_t LoadLe(std::span<const uint8_t> bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes.size() && i < 8; ++i) v |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  return v;
}

struct RegInfo {
  const char* name;
  unsigned bits;
  const char* type;
  const char* group;  // nullptr: gdb's default
};

// Target description text for one register.
void AppendReg(std::string& xml, const RegInfo& r, unsigned regnum) {
  xml += "    <reg name=\"";
  xml += r.name;
  xml += "\" bitsize=\"" + std::to_string(r.bits) + "\" type=\"";
  xml += r.type;
  xml += "\" regnum=\"" + std::to_string(regnum) + "\"";
  if (r.group) {
    xml += " group=\"";
    xml += r.group;
    xml += "\"";
  }
  xml += "/>\n";
}

std::string BuildTargetXml() {
  std::string x;
  x += "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target version=\"1.0\">\n";
  x += "  <architecture>i386:x86-64</architecture>\n";
  unsigned n = 0;
  x += "  <feature name=\"org.gnu.gdb.i386.core\">\n"
       "    <flags id=\"i386_eflags\" size=\"4\">\n";
  static const char* kEflags[][2] = {{"CF", "0"},  {"", "1"},    {"PF", "2"},   {"AF", "4"},   {"ZF", "6"},
                                     {"SF", "7"},  {"TF", "8"},  {"IF", "9"},   {"DF", "10"},  {"OF", "11"},
                                     {"NT", "14"}, {"RF", "16"}, {"VM", "17"},  {"AC", "18"},  {"VIF", "19"},
                                     {"VIP", "20"}, {"ID", "21"}};
  for (auto& f : kEflags)
    x += std::string("      <field name=\"") + f[0] + "\" start=\"" + f[1] + "\" end=\"" + f[1] + "\"/>\n";
  x += "    </flags>\n";
  static const char* kGprNames[16] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
                                      "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
  for (unsigned i = 0; i < 16; ++i)
    AppendReg(x, {kGprNames[i], 64, (i == 6 || i == 7) ? "data_ptr" : "int64", nullptr}, n++);
  AppendReg(x, {"rip", 64, "code_ptr", nullptr}, n++);
  AppendReg(x, {"eflags", 32, "i386_eflags", nullptr}, n++);
  for (const char* s : {"cs", "ss", "ds", "es", "fs", "gs"}) AppendReg(x, {s, 32, "int32", nullptr}, n++);
  for (unsigned i = 0; i < 8; ++i) {
    const std::string name = "st" + std::to_string(i);
    AppendReg(x, {name.c_str(), 80, "i387_ext", nullptr}, n++);
  }
  for (const char* s : {"fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop"})
    AppendReg(x, {s, 32, "int", "float"}, n++);
  x += "  </feature>\n";

  x += "  <feature name=\"org.gnu.gdb.i386.sse\">\n"
       "    <vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/>\n"
       "    <vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>\n"
       "    <vector id=\"v16i8\" type=\"int8\" count=\"16\"/>\n"
       "    <vector id=\"v8i16\" type=\"int16\" count=\"8\"/>\n"
       "    <vector id=\"v4i32\" type=\"int32\" count=\"4\"/>\n"
       "    <vector id=\"v2i64\" type=\"int64\" count=\"2\"/>\n"
       "    <union id=\"vec128\">\n"
       "      <field name=\"v4_float\" type=\"v4f\"/>\n"
       "      <field name=\"v2_double\" type=\"v2d\"/>\n"
       "      <field name=\"v16_int8\" type=\"v16i8\"/>\n"
       "      <field name=\"v8_int16\" type=\"v8i16\"/>\n"
       "      <field name=\"v4_int32\" type=\"v4i32\"/>\n"
       "      <field name=\"v2_int64\" type=\"v2i64\"/>\n"
       "      <field name=\"uint128\" type=\"uint128\"/>\n"
       "    </union>\n"
       "    <flags id=\"i386_mxcsr\" size=\"4\">\n";
  static const char* kMxcsr[][2] = {{"IE", "0"}, {"DE", "1"},  {"ZE", "2"},  {"OE", "3"},  {"UE", "4"},
                                    {"PE", "5"}, {"DAZ", "6"}, {"IM", "7"},  {"DM", "8"},  {"ZM", "9"},
                                    {"OM", "10"}, {"UM", "11"}, {"PM", "12"}, {"FZ", "15"}};
  for (auto& f : kMxcsr)
    x += std::string("      <field name=\"") + f[0] + "\" start=\"" + f[1] + "\" end=\"" + f[1] + "\"/>\n";
  x += "    </flags>\n";
  for (unsigned i = 0; i < 16; ++i) {
    const std::string name = "xmm" + std::to_string(i);
    AppendReg(x, {name.c_str(), 128, "vec128", nullptr}, n++);
  }
  AppendReg(x, {"mxcsr", 32, "i386_mxcsr", "vector"}, n++);
  x += "  </feature>\n";

  x += "  <feature name=\"org.gnu.gdb.i386.segments\">\n";
  // Addresses: gdb shows them with the symbol they point at (gs_base: a CPU's per-CPU area).
  AppendReg(x, {"fs_base", 64, "data_ptr", nullptr}, n++);
  AppendReg(x, {"gs_base", 64, "data_ptr", nullptr}, n++);
  x += "  </feature>\n";

  x += "  <feature name=\"org.gnu.gdb.i386.avx\">\n";
  for (unsigned i = 0; i < 16; ++i) {
    const std::string name = "ymm" + std::to_string(i) + "h";
    AppendReg(x, {name.c_str(), 128, "uint128", nullptr}, n++);
  }
  x += "  </feature>\n";

  // The system registers, as QEMU describes them (its i386 "sys" registers).
  x += "  <feature name=\"org.xlat.x86.sys\">\n"
       "    <flags id=\"x86_cr0\" size=\"8\">\n"
       "      <field name=\"PE\" start=\"0\" end=\"0\"/>\n"
       "      <field name=\"MP\" start=\"1\" end=\"1\"/>\n"
       "      <field name=\"EM\" start=\"2\" end=\"2\"/>\n"
       "      <field name=\"TS\" start=\"3\" end=\"3\"/>\n"
       "      <field name=\"ET\" start=\"4\" end=\"4\"/>\n"
       "      <field name=\"NE\" start=\"5\" end=\"5\"/>\n"
       "      <field name=\"WP\" start=\"16\" end=\"16\"/>\n"
       "      <field name=\"AM\" start=\"18\" end=\"18\"/>\n"
       "      <field name=\"NW\" start=\"29\" end=\"29\"/>\n"
       "      <field name=\"CD\" start=\"30\" end=\"30\"/>\n"
       "      <field name=\"PG\" start=\"31\" end=\"31\"/>\n"
       "    </flags>\n"
       "    <flags id=\"x86_cr4\" size=\"8\">\n";
  static const char* kCr4[][2] = {{"VME", "0"},   {"PVI", "1"},      {"TSD", "2"},   {"DE", "3"},
                                  {"PSE", "4"},   {"PAE", "5"},      {"MCE", "6"},   {"PGE", "7"},
                                  {"PCE", "8"},   {"OSFXSR", "9"},   {"OSXMMEXCPT", "10"}, {"UMIP", "11"},
                                  {"LA57", "12"}, {"FSGSBASE", "16"}, {"PCIDE", "17"}, {"OSXSAVE", "18"},
                                  {"SMEP", "20"}, {"SMAP", "21"},    {"PKE", "22"}};
  for (auto& f : kCr4)
    x += std::string("      <field name=\"") + f[0] + "\" start=\"" + f[1] + "\" end=\"" + f[1] + "\"/>\n";
  x += "    </flags>\n"
       "    <flags id=\"x86_efer\" size=\"8\">\n"
       "      <field name=\"SCE\" start=\"0\" end=\"0\"/>\n"
       "      <field name=\"LME\" start=\"8\" end=\"8\"/>\n"
       "      <field name=\"LMA\" start=\"10\" end=\"10\"/>\n"
       "      <field name=\"NXE\" start=\"11\" end=\"11\"/>\n"
       "      <field name=\"SVME\" start=\"12\" end=\"12\"/>\n"
       "      <field name=\"FFXSR\" start=\"14\" end=\"14\"/>\n"
       "    </flags>\n";
  AppendReg(x, {"k_gs_base", 64, "data_ptr", nullptr}, n++);
  AppendReg(x, {"cr0", 64, "x86_cr0", nullptr}, n++);
  AppendReg(x, {"cr2", 64, "data_ptr", nullptr}, n++);
  AppendReg(x, {"cr3", 64, "int", nullptr}, n++);
  AppendReg(x, {"cr4", 64, "x86_cr4", nullptr}, n++);
  AppendReg(x, {"cr8", 64, "int", nullptr}, n++);
  AppendReg(x, {"efer", 64, "x86_efer", nullptr}, n++);
  x += "  </feature>\n</target>\n";
  return x;
}

uint64_t* SysRegister(VcpuContext& c, unsigned n) {
  switch (n) {
    case kRegKGsBase: return &c.kernel_gs_base;
    case kRegCr0: return &c.cr0;
    case kRegCr0 + 1: return &c.cr2;
    case kRegCr3: return &c.cr3;
    case kRegCr3 + 1: return &c.cr4;
    case kRegCr3 + 2: return &c.cr8;
    case kRegEfer: return &c.efer;
    default: return nullptr;
  }
}

}  // namespace

const std::string& TargetXml() {
  static const std::string xml = BuildTargetXml();
  return xml;
}

unsigned RegisterSize(unsigned n) {
  if (n < 17) return 8;                           // GPRs, rip
  if (n < kRegSt0) return 4;                      // eflags, selectors
  if (n < kRegFctrl) return 10;                   // st0-7
  if (n < kRegXmm0) return 4;                     // x87 control
  if (n < kRegMxcsr) return 16;                   // xmm
  if (n == kRegMxcsr) return 4;
  if (n < kRegYmm0h) return 8;                    // fs_base, gs_base
  if (n < kRegKGsBase) return 16;                 // ymm upper halves
  if (n < kRegCount) return 8;                    // k_gs_base, control registers
  return 0;
}

uint16_t FullTagWord(uint8_t abridged, uint16_t fsw, std::span<const uint8_t, 80> st_regs) {
  const unsigned top = (fsw >> 11) & 7;
  uint16_t tags = 0;
  for (unsigned phys = 0; phys < 8; ++phys) {
    unsigned tag = 3;  // empty
    if (abridged & (1u << phys)) {
      const uint8_t* r = st_regs.data() + 10 * ((phys - top) & 7);  // ST(i) = R((top + i) & 7)
      const uint64_t mant = Load<uint64_t>(r);
      const unsigned exp = Load<uint16_t>(r + 8) & 0x7fff;
      if (exp == 0x7fff)
        tag = 2;  // special: infinity or NaN
      else if (exp == 0)
        tag = mant == 0 ? 1 : 2;  // zero, or denormal (special)
      else
        tag = (mant >> 63) ? 0 : 2;  // valid, or unnormal (special)
    }
    tags = static_cast<uint16_t>(tags | (tag << (2 * phys)));
  }
  return tags;
}

bool ReadRegister(const VcpuContext& c, unsigned n, std::vector<uint8_t>* out) {
  const unsigned size = RegisterSize(n);
  if (!size) return false;
  out->assign(size, 0);
  uint8_t* o = out->data();
  auto put = [o, size](uint64_t v) { std::memcpy(o, &v, size < 8 ? size : 8); };
  const uint64_t bv = XstateBv(c);
  if (n < 16) {
    put(c.gpr[kGprOfReg[n]]);
  } else if (n == kRegRip) {
    put(c.rip);
  } else if (n == kRegEflags) {
    put(c.rflags);
  } else if (n < kRegSt0) {
    put(c.sel[kSelOfReg[n - kRegCs]]);
  } else if (n < kRegFctrl) {
    if (bv & kXstateX87) std::memcpy(o, c.xsave_area + kXsaveSt0 + 16 * (n - kRegSt0), 10);
  } else if (n < kRegXmm0) {
    const unsigned i = n - kRegFctrl;
    if (!(bv & kXstateX87)) {
      put(i == 0 ? 0x37f : i == 2 ? 0xffff : 0);
    } else {
      const uint8_t* a = c.xsave_area;
      switch (i) {
        case 0: put(Load<uint16_t>(a + kXsaveFcw)); break;
        case 1: put(Load<uint16_t>(a + kXsaveFsw)); break;
        case 2: {
          uint8_t st[80];
          for (unsigned r = 0; r < 8; ++r) std::memcpy(st + 10 * r, a + kXsaveSt0 + 16 * r, 10);
          put(FullTagWord(a[kXsaveFtwAbridged], Load<uint16_t>(a + kXsaveFsw), st));
          break;
        }
        case 3: put(Load<uint16_t>(a + kXsaveFcs)); break;
        case 4: put(Load<uint32_t>(a + kXsaveFip)); break;
        case 5: put(Load<uint16_t>(a + kXsaveFds)); break;
        case 6: put(Load<uint32_t>(a + kXsaveFdp)); break;
        case 7: put(Load<uint16_t>(a + kXsaveFop) & 0x7ff); break;
      }
    }
  } else if (n < kRegMxcsr) {
    if (bv & kXstateSse) std::memcpy(o, c.xsave_area + kXsaveXmm0 + 16 * (n - kRegXmm0), 16);
  } else if (n == kRegMxcsr) {
    put(Load<uint32_t>(c.xsave_area + kXsaveMxcsr));  // saved whatever XSTATE_BV says
  } else if (n == kRegFsBase) {
    put(c.fs_base);
  } else if (n == kRegFsBase + 1) {
    put(c.gs_base);
  } else if (n < kRegKGsBase) {
    if (bv & kXstateAvx) std::memcpy(o, c.xsave_area + kXsaveYmmHi0 + 16 * (n - kRegYmm0h), 16);
  } else {
    put(*SysRegister(const_cast<VcpuContext&>(c), n));
  }
  return true;
}

WriteResult WriteRegister(VcpuContext& c, unsigned n, std::span<const uint8_t> value) {
  const unsigned size = RegisterSize(n);
  if (!size || value.size() != size) return WriteResult::kBadRegister;
  const uint64_t v = LoadLe(value);
  if (n < 16) {
    c.gpr[kGprOfReg[n]] = v;
  } else if (n == kRegRip) {
    c.rip = v;
  } else if (n == kRegEflags) {
    // The upper half is reserved (zero); bit 1 always reads as one.
    c.rflags = (v & 0xffffffffull) | 2;
  } else if (n < kRegSt0) {
    // A selector is more than its value (the descriptor cache): not written.
    if ((v & 0xffff) != c.sel[kSelOfReg[n - kRegCs]]) return WriteResult::kRejected;
  } else if (n < kRegFctrl) {
    MakeComponentExplicit(c, kXstateX87);
    std::memcpy(c.xsave_area + kXsaveSt0 + 16 * (n - kRegSt0), value.data(), 10);
  } else if (n < kRegXmm0) {
    MakeComponentExplicit(c, kXstateX87);
    uint8_t* a = c.xsave_area;
    const uint16_t v16 = static_cast<uint16_t>(v);
    const uint32_t v32 = static_cast<uint32_t>(v);
    switch (n - kRegFctrl) {
      case 0: std::memcpy(a + kXsaveFcw, &v16, 2); break;
      case 1: std::memcpy(a + kXsaveFsw, &v16, 2); break;
      case 2: {
        // Full tag word -> abridged: a register is in use unless tagged empty (3).
        uint8_t abridged = 0;
        for (unsigned r = 0; r < 8; ++r)
          if (((v16 >> (2 * r)) & 3) != 3) abridged = static_cast<uint8_t>(abridged | (1u << r));
        a[kXsaveFtwAbridged] = abridged;
        break;
      }
      case 3: std::memcpy(a + kXsaveFcs, &v16, 2); break;
      case 4: std::memcpy(a + kXsaveFip, &v32, 4); break;
      case 5: std::memcpy(a + kXsaveFds, &v16, 2); break;
      case 6: std::memcpy(a + kXsaveFdp, &v32, 4); break;
      case 7: {
        const uint16_t fop = v16 & 0x7ff;
        std::memcpy(a + kXsaveFop, &fop, 2);
        break;
      }
    }
  } else if (n < kRegMxcsr) {
    MakeComponentExplicit(c, kXstateSse);
    std::memcpy(c.xsave_area + kXsaveXmm0 + 16 * (n - kRegXmm0), value.data(), 16);
  } else if (n == kRegMxcsr) {
    const uint32_t m = static_cast<uint32_t>(v);
    std::memcpy(c.xsave_area + kXsaveMxcsr, &m, 4);
  } else if (n == kRegFsBase) {
    c.fs_base = v;
  } else if (n == kRegFsBase + 1) {
    c.gs_base = v;
  } else if (n < kRegKGsBase) {
    MakeComponentExplicit(c, kXstateAvx);
    std::memcpy(c.xsave_area + kXsaveYmmHi0 + 16 * (n - kRegYmm0h), value.data(), 16);
  } else {
    uint64_t* r = SysRegister(c, n);
    const bool changed = *r != v;
    *r = v;
    if (changed && (n == kRegCr0 || n == kRegCr3 || n == kRegCr3 + 1 || n == kRegEfer))
      return WriteResult::kFlushTranslations;
  }
  return WriteResult::kOk;
}

std::vector<uint8_t> ReadAllRegisters(const VcpuContext& ctx) {
  std::vector<uint8_t> file, one;
  for (unsigned n = 0; n < kRegCount; ++n) {
    ReadRegister(ctx, n, &one);
    file.insert(file.end(), one.begin(), one.end());
  }
  return file;
}

bool WriteAllRegisters(VcpuContext& ctx, std::span<const uint8_t> file, bool* flush) {
  *flush = false;
  size_t total = 0;
  for (unsigned n = 0; n < kRegCount; ++n) total += RegisterSize(n);
  if (file.size() != total) return false;
  size_t off = 0;
  std::vector<uint8_t> old;
  for (unsigned n = 0; n < kRegCount; ++n) {
    const unsigned size = RegisterSize(n);
    const auto value = file.subspan(off, size);
    off += size;
    ReadRegister(ctx, n, &old);
    if (std::memcmp(old.data(), value.data(), size) == 0) continue;  // unchanged: keeps XSTATE_BV as it is
    const WriteResult r = WriteRegister(ctx, n, value);
    if (r == WriteResult::kFlushTranslations) *flush = true;
  }
  return true;
}

}  // namespace xlat::gdb
