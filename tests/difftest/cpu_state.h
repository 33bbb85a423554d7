// The architectural state the two runs are compared on, and the comparison.
//
// The vector and x87 state is kept as a standard-format XSAVE image with
// RFBM = x87|SSE|AVX (the guest's XCR0), the format both the native runner
// (xsave/xrstor) and the vCPU context (ctx().xsave_area) use. Normalize()
// makes two images of the same state byte-equal where it matters: a component
// that XSAVE reports in its initial configuration (XSTATE_BV bit clear) is
// written out in that configuration.
//
// Compared: all 16 GPRs, where the run stopped (RIP, and the exception vector
// and CR2 if it faulted), CF PF AF ZF SF OF and DF, MXCSR, x87 FCW, FSW, the
// abridged tag word and ST0-7 as 80-bit values, YMM0-15, and every byte of
// the data areas. Not compared: FOP/FIP/FDP (they hold the host address of
// whatever instruction the translator emitted), the x87 error pointers
// stored by FXSAVE (the sequences mask those bytes), and flags other than
// the ones above.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace difftest {

inline constexpr unsigned kXFcw = 0, kXFsw = 2, kXFtw = 4, kXMxcsr = 24, kXSt0 = 32, kXXmm0 = 160,
                          kXHeader = 512, kXYmmHi0 = 576;
inline constexpr unsigned kXsaveBytes = 832;
inline constexpr uint64_t kXsaveMask = 0x7;  // x87 | SSE | AVX

inline constexpr uint64_t kFlagCF = 1 << 0, kFlagPF = 1 << 2, kFlagAF = 1 << 4, kFlagZF = 1 << 6,
                          kFlagSF = 1 << 7, kFlagTF = 1 << 8, kFlagDF = 1 << 10, kFlagOF = 1 << 11;
inline constexpr uint64_t kComparedFlags = kFlagCF | kFlagPF | kFlagAF | kFlagZF | kFlagSF | kFlagOF | kFlagDF;

inline constexpr int kNoFault = -1;

// Exception vectors a sequence may end with.
inline constexpr int kVecDE = 0, kVecUD = 6, kVecGP = 13, kVecPF = 14, kVecMF = 16, kVecAC = 17, kVecXM = 19;

struct alignas(64) CpuState {
  uint64_t gpr[16];
  uint64_t rip;        // the terminator (end of sequence) or the faulting instruction
  uint64_t rflags;
  int32_t vector;      // kNoFault, or the exception the run ended with
  uint32_t error_code; // informational
  uint64_t fault_addr; // CR2 when vector == #PF
  uint64_t pad[4];
  alignas(64) uint8_t xsave[1024];

  void Clear() { std::memset(this, 0, sizeof *this); vector = kNoFault; }

  uint16_t fcw() const { return Get<uint16_t>(kXFcw); }
  uint16_t fsw() const { return Get<uint16_t>(kXFsw); }
  uint8_t ftw() const { return xsave[kXFtw]; }
  uint32_t mxcsr() const { return Get<uint32_t>(kXMxcsr); }
  void set_mxcsr(uint32_t v) { std::memcpy(xsave + kXMxcsr, &v, 4); }
  // ymm(i) as 32 bytes: low half from the legacy area, high half from AVX.
  void GetYmm(unsigned i, uint8_t out[32]) const {
    std::memcpy(out, xsave + kXXmm0 + 16 * i, 16);
    std::memcpy(out + 16, xsave + kXYmmHi0 + 16 * i, 16);
  }
  void SetYmm(unsigned i, const uint8_t in[32]) {
    std::memcpy(xsave + kXXmm0 + 16 * i, in, 16);
    std::memcpy(xsave + kXYmmHi0 + 16 * i, in + 16, 16);
  }

  template <typename T>
  T Get(unsigned off) const {
    T v;
    std::memcpy(&v, xsave + off, sizeof v);
    return v;
  }
};

// Rewrites components whose XSTATE_BV bit is clear in their initial
// configuration, sets XSTATE_BV to x87|SSE|AVX and clears the rest of the
// header, so that two images of one state are equal on the compared bytes.
void NormalizeXsave(uint8_t* xsave);

// Human-readable differences between the native (reference) and the xlat
// state; empty when they agree on everything compared. `rip_slack` accepts
// an xlat RIP one byte past the reference (a guest `hlt` may report either
// the hlt or the next instruction).
// `mem_fault_dead_flags`: at a #PF or #GP, arithmetic flags are not
// compared. By default xlat's inline TLB check may clobber flags that are
// dead (overwritten before being read on every path); a fault raised by the
// access (a page fault, a non-canonical or misaligned address) then shows
// those in its frame. Run with --precise-flags to check that xlat's precise
// mode has none.
std::vector<std::string> CompareStates(const CpuState& native, const CpuState& xlat, bool rip_slack,
                                       bool mem_fault_dead_flags = false);

// Differences between two copies of a data area based at `va`: runs of
// differing bytes, each with both contents.
std::vector<std::string> CompareBytes(const uint8_t* native, const uint8_t* xlat, uint64_t bytes, uint64_t va,
                                      unsigned max_runs);

// One line per register for a full dump.
std::string FormatState(const CpuState& s);

extern const char* const kGprNames[16];

}  // namespace difftest
