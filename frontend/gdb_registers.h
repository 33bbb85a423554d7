// The guest registers as gdb sees them: the target description
// (qXfer:features:read:target.xml) and the 'g'/'G'/'p'/'P' register file.
//
// Register numbers are the order of the description, which follows what gdb
// 13 builds for amd64 itself (`maint print xml-tdesc` under a native Linux
// process), so that its amd64 code recognizes every one by name:
//    0-15  rax rbx rcx rdx rsi rdi rbp rsp r8..r15  (org.gnu.gdb.i386.core)
//   16-23  rip eflags cs ss ds es fs gs             (eflags and selectors 32-bit)
//   24-39  st0..st7 (80-bit), fctrl fstat ftag fiseg fioff foseg fooff fop
//   40-56  xmm0..xmm15, mxcsr                       (org.gnu.gdb.i386.sse)
//   57-58  fs_base gs_base                          (org.gnu.gdb.i386.segments)
//   59-74  ymm0h..ymm15h                            (org.gnu.gdb.i386.avx)
//   75-81  k_gs_base cr0 cr2 cr3 cr4 cr8 efer       (org.xlat.x86.sys, as QEMU
//          shows them; no group, so `info registers` lists them)
// Values are little-endian, as on the target.
//
// The x87/SSE/AVX state is read from the context's XSAVE area (standard
// format, cpu/vcpu.h): a component whose XSTATE_BV bit is clear is in its
// initial state whatever the area holds, and a write first puts the area of
// such a component in that state before it marks the component in use. The
// full x87 tag word gdb wants is rebuilt from FXSAVE's abridged one the way
// the CPU's FSTENV would (valid, zero, special or empty per register).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace xlat {
struct VcpuContext;
}

namespace xlat::gdb {

inline constexpr unsigned kRegCount = 82;
inline constexpr unsigned kRegRip = 16, kRegEflags = 17, kRegCs = 18, kRegSt0 = 24, kRegFctrl = 32,
                          kRegXmm0 = 40, kRegMxcsr = 56, kRegFsBase = 57, kRegYmm0h = 59, kRegKGsBase = 75,
                          kRegCr0 = 76, kRegCr3 = 78, kRegEfer = 81;

// The whole target.xml.
const std::string& TargetXml();

// Bytes of register n (0 for a number out of range).
unsigned RegisterSize(unsigned n);

// Register n's value, little-endian, RegisterSize(n) bytes; false if n is out of range.
bool ReadRegister(const VcpuContext& ctx, unsigned n, std::vector<uint8_t>* out);

// What a register write means for the vCPU.
enum class WriteResult {
  kOk,
  kFlushTranslations,  // CR0/CR3/CR4/EFER changed: Vcpu::FlushTranslations()
  kRejected,           // not writable this way (a segment selector: its descriptor is not reloaded)
  kBadRegister,        // n out of range or wrong size
};
WriteResult WriteRegister(VcpuContext& ctx, unsigned n, std::span<const uint8_t> value);

// The 'g' packet's register file (every register in order) and 'G'.
std::vector<uint8_t> ReadAllRegisters(const VcpuContext& ctx);
// Writes every register whose value changed; selectors that changed are
// left alone (see kRejected). *flush is set when translations must go.
bool WriteAllRegisters(VcpuContext& ctx, std::span<const uint8_t> file, bool* flush);

// The full 16-bit x87 tag word from FXSAVE's abridged one (exposed for tests).
uint16_t FullTagWord(uint8_t abridged, uint16_t fsw, std::span<const uint8_t, 80> st_regs);

}  // namespace xlat::gdb
