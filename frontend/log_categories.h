// The trace categories of `-d LIST`, in one place: the option parser validates
// against this table, `-d help` prints it, and the logging code tests the
// bits. Names follow QEMU's where QEMU has the same thing (in_asm, out_asm,
// exec, int, mmu, cpu, guest_errors, cpu_reset, nochain); `exits` and `io`
// are ours.
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
  kLogGuestErrors = 1u << 8,  // port and MMIO accesses no device decodes
  kLogCpuReset = 1u << 9,     // the guest registers at power-on and at each machine reset
  kLogNoChain = 1u << 10,     // not a log: no block linked to another, every entry through the dispatcher
};

struct LogCategoryInfo {
  std::string_view name;
  LogCategory bit;
  std::string_view help;
};

inline constexpr std::array<LogCategoryInfo, 11> kLogCategories = {{
    {"in_asm", kLogInAsm, "show guest code as it is translated"},
    {"out_asm", kLogOutAsm, "show the host code each guest block became"},
    {"exec", kLogExec, "show every translated block entered"},
    {"int", kLogInt, "show guest exceptions and interrupts"},
    {"exits", kLogExits, "show exits from translated code to the VMM"},
    {"mmu", kLogMmu, "show page walks, TLB fills and flushes"},
    {"io", kLogIo, "show port and MMIO accesses"},
    {"cpu", kLogCpu, "show the guest registers before each block"},
    {"guest_errors", kLogGuestErrors, "show port and MMIO accesses that no device decodes"},
    {"cpu_reset", kLogCpuReset, "show the guest registers at power-on and when the machine resets"},
    {"nochain", kLogNoChain, "do not chain translated blocks (every block entry goes through the dispatcher)"},
}};

}  // namespace xlat
