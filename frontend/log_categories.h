// The trace categories of `-d LIST`, in one place: the option parser validates
// against this table, `-d help` prints it, and the logging code (later) tests
// the bits. Names follow QEMU's where QEMU has the same thing (in_asm, out_asm,
// exec, int, mmu, cpu); `exits` and `io` are ours.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace xlat {

enum LogCategory : uint32_t {
  kLogInAsm = 1u << 0,   // guest code as it is translated
  kLogOutAsm = 1u << 1,  // host code each guest block became
  kLogExec = 1u << 2,    // every block entered
  kLogInt = 1u << 3,     // guest exceptions and interrupts
  kLogExits = 1u << 4,   // exits from translated code to the VMM
  kLogMmu = 1u << 5,     // page walks, TLB fills and flushes
  kLogIo = 1u << 6,      // port and MMIO accesses
  kLogCpu = 1u << 7,     // guest registers before each block
};

struct LogCategoryInfo {
  std::string_view name;
  LogCategory bit;
  std::string_view help;
};

inline constexpr std::array<LogCategoryInfo, 8> kLogCategories = {{
    {"in_asm", kLogInAsm, "show guest code as it is translated"},
    {"out_asm", kLogOutAsm, "show the host code each guest block became"},
    {"exec", kLogExec, "show every translated block entered"},
    {"int", kLogInt, "show guest exceptions and interrupts"},
    {"exits", kLogExits, "show exits from translated code to the VMM"},
    {"mmu", kLogMmu, "show page walks, TLB fills and flushes"},
    {"io", kLogIo, "show port and MMIO accesses"},
    {"cpu", kLogCpu, "show the guest registers before each block"},
}};

}  // namespace xlat
