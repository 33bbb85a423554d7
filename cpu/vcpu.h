// A virtual CPU: its context (reached through GS while guest code runs), the
// dispatch loop that finds or makes translations and runs them, and the
// handling of every exit back to the VMM.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "cpu/vcpu_context.h"

namespace xlat {

class GuestRam;
class PortBus;
class CodeCache;
class Translator;
class Stats;

// XSAVE standard-format offsets of the guest vector state in ctx.xsave_area.
inline constexpr unsigned kXsaveFcw = 0, kXsaveFsw = 2, kXsaveFtwAbridged = 4;
inline constexpr unsigned kXsaveMxcsr = 24;
inline constexpr unsigned kXsaveSt0 = 32;      // st(i)/mm(i) at 32 + 16*i
inline constexpr unsigned kXsaveXmm0 = 160;    // xmm(i) at 160 + 16*i
inline constexpr unsigned kXsaveHeader = 512;  // XSTATE_BV at 512
inline constexpr unsigned kXsaveYmmHi0 = 576;  // ymm(i)[255:128] at 576 + 16*i
inline constexpr uint64_t kGuestXcr0 = 0x7;    // x87 | SSE | AVX

// How a run ended.
struct RunOutcome {
  enum class Kind {
    kDebugExit,       // guest wrote to the isa-debug-exit port; exit_status = (v << 1) | 1
    kHalted,          // hlt with interrupts disabled: nothing can wake the CPU
    kFatalException,  // unhandled guest exception (no IDT delivery yet) -- message has the dump
    kStopped,         // stop requested from the host (signal, step limit)
    kError,           // VMM-internal failure (message says what)
  };
  Kind kind = Kind::kError;
  int exit_status = 0;
  std::string message;
};

struct VcpuConfig {
  uint64_t code_cache_bytes = 64ull << 20;
};

class Vcpu {
 public:
  Vcpu(GuestRam& ram, PortBus& ports, Stats& stats, const VcpuConfig& config);
  ~Vcpu();
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;

  // False (with *error) when host resources could not be set up.
  bool Init(std::string* error);

  // Architectural state; valid to read and write while the vCPU is not running.
  VcpuContext& ctx() { return *ctx_; }

  // Vector state helpers over ctx().xsave_area.
  void SetYmm(unsigned i, const uint8_t bytes[32]);
  void GetYmm(unsigned i, uint8_t bytes[32]) const;

  // Puts the CPU in 64-bit long mode at CPL 0 with paging on (CR3 = cr3),
  // flat segments, interrupts off, x87/SSE/AVX enabled, XCR0 = kGuestXcr0,
  // and the vector state in its reset/init values.
  void ResetToLongMode(uint64_t rip, uint64_t cr3);

  // Runs until the guest ends the run (debug exit, halt, fatal exception).
  RunOutcome Run();

  // Asks a running vCPU to stop at the next block boundary (async-signal-safe).
  void RequestStop();

  // All translations and TLB state are dropped (e.g. after a test rewrites code).
  void FlushTranslations();

  Stats& stats() { return stats_; }
  CodeCache& code_cache() { return *cache_; }
  GuestRam& ram() { return ram_; }
  PortBus& ports() { return ports_; }

  // Set by devices (isa-debug-exit) to end the run.
  void RequestExit(int status);

  // Formats the guest register state for an error report.
  std::string DumpRegisters() const;

 private:
  friend class VcpuRuntime;
  GuestRam& ram_;
  PortBus& ports_;
  Stats& stats_;
  VcpuConfig config_;
  VcpuContext* ctx_ = nullptr;
  std::unique_ptr<CodeCache> cache_;
  std::unique_ptr<Translator> translator_;
  std::unique_ptr<class VcpuRuntime> runtime_;
  bool exit_requested_ = false;
  int exit_status_ = 0;
};

}  // namespace xlat
