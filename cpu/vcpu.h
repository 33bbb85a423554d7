// A virtual CPU: its context (reached through GS while guest code runs), the
// dispatch loop that finds or makes translations and runs them, and the
// handling of every exit back to the VMM.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "cpu/vcpu_context.h"

namespace xlat {

class GuestRam;
class PortBus;
class MmioBus;
class Clock;
class InterruptSource;
class MsrDevice;
class CodeCache;
class Translator;
class InlineTlb;
struct Stats;
struct Thunks;

// XSAVE standard-format offsets of the guest vector state in ctx.xsave_area.
inline constexpr unsigned kXsaveFcw = 0, kXsaveFsw = 2, kXsaveFtwAbridged = 4;
inline constexpr unsigned kXsaveMxcsr = 24;
inline constexpr unsigned kXsaveSt0 = 32;      // st(i)/mm(i) at 32 + 16*i
inline constexpr unsigned kXsaveXmm0 = 160;    // xmm(i) at 160 + 16*i
inline constexpr unsigned kXsaveHeader = 512;  // XSTATE_BV at 512
inline constexpr unsigned kXsaveYmmHi0 = 576;  // ymm(i)[255:128] at 576 + 16*i
inline constexpr uint64_t kGuestXcr0 = 0x7;    // x87 | SSE | AVX
inline constexpr unsigned kGuestXsaveBytes = 832;

// How a run ended.
struct RunOutcome {
  enum class Kind {
    kDebugExit,       // guest wrote to the isa-debug-exit port; exit_status = (v << 1) | 1
    kHalted,          // hlt with interrupts disabled: nothing can wake the CPU
    kFatalException,  // unhandled guest exception (no IDT delivery yet); message has the dump
    kStopped,         // stop requested from the host (signal)
    kTripleFault,     // the CPU shut down (and no reset was asked for); message has the last state
    kPowerOff,        // the guest turned the machine off (ACPI S5): exit status 0
    kHung,            // interrupts off for too long (SetHangTimeout): message says what
    kPanic,           // the guest kernel panicked (message has its last words)
    kReboot,          // the guest reset the machine and -no-reboot asked to stop instead: status 0
    kDebugStop,       // a debugger event (debug_reason): the guest can run on with another Run()
    kError,           // VMM-internal failure (message says what)
  };
  Kind kind = Kind::kError;
  int exit_status = 0;
  std::string message;
  // kDebugStop: why, and for a watchpoint the address that was accessed.
  enum class DebugReason { kBreakpoint, kStep, kWatchpoint, kInterrupt };
  DebugReason debug_reason = DebugReason::kInterrupt;
  uint64_t debug_address = 0;
};

enum class WatchKind : uint8_t { kWrite = 1, kRead = 2, kAccess = 3 };

struct VcpuConfig {
  uint64_t code_cache_bytes = 64ull << 20;
  // Keep the guest's arithmetic flags exact at every possible fault, even
  // where they are dead (they then show in a #PF frame): slower; for
  // debugging and the differential test.
  bool precise_fault_flags = false;
  // Guest address spaces whose translations are kept across CR3 writes
  // (shadow paging, cpu/mapping_caches.h); 0: every CR3 write flushes.
  unsigned shadow_spaces = 8;
  // Count the guest instructions executed (Stats::guest_insns): a few host
  // instructions per block.
  bool count_guest_insns = false;
  // Entries through the jump cache after which a block that ends with an
  // indirect jmp starts a trace (cpu/vcpu_traces.cpp); 0: no traces.
  uint32_t trace_threshold = 20000;
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
  // After writing CR3/CR0/CR4/EFER or guest memory that holds code, call
  // FlushTranslations().
  VcpuContext& ctx() { return *ctx_; }
  const VcpuContext& ctx() const { return *ctx_; }

  // Vector state helpers over ctx().xsave_area.
  void SetYmm(unsigned i, const uint8_t bytes[32]);
  void GetYmm(unsigned i, uint8_t bytes[32]) const;
  uint32_t mxcsr() const;
  void set_mxcsr(uint32_t v);

  // Puts the CPU in 64-bit long mode at CPL 0 with paging on (CR3 = cr3),
  // flat segments, interrupts off, x87/SSE/AVX enabled, XCR0 = kGuestXcr0,
  // the vector state in its reset values, every GPR zero.
  void ResetToLongMode(uint64_t rip, uint64_t cr3);

  // Runs until the guest ends the run (debug exit, halt, fatal exception) or
  // a stop is requested.
  RunOutcome Run();

  // Asks a running vCPU to stop at the next block boundary. Async-signal-safe
  // and callable from any thread.
  void RequestStop();

  // Drops every translation, TLB entry and jump-cache entry.
  void FlushTranslations();

  // Set by devices (isa-debug-exit) to end the run after the current instruction.
  void RequestExit(int status);
  // ACPI S5: ends the run with kPowerOff.
  void RequestPowerOff();
  // The board saw the guest kernel panic (on its console): ends the run with kPanic.
  void RequestPanicExit(std::string message);

  // ---- Platform wiring (once, before Run). ----
  void AttachMmio(MmioBus* bus) { mmio_ = bus; }
  void AttachClock(Clock* clock) { clock_ = clock; }
  Clock* clock() const { return clock_; }
  void AttachInterruptSource(InterruptSource* source) { irq_source_ = source; }
  void AttachMsrDevice(MsrDevice* device) { msr_device_ = device; }
  MsrDevice* msr_device() const { return msr_device_; }
  // Called on the vCPU thread after a kick, before interrupts are looked at
  // (devices that take host input poll it here).
  void SetOnKick(std::function<void()> fn) { on_kick_ = std::move(fn); }
  // What a triple fault does: true resets (the board reloads the machine and
  // the run goes on), false ends the run (-no-reboot).
  void SetOnTripleFault(std::function<bool()> fn) { on_triple_fault_ = std::move(fn); }
  // A guest that, after it has once enabled interrupts, keeps them disabled
  // for this long is hung (a kernel panic spins like that): the run ends
  // with kHung. 0: never. Needs a clock (it re-checks
  // every quarter second).
  void SetHangTimeout(uint64_t ns) { hang_timeout_ns_ = ns; }

  // ---- Debugging (the gdb stub). The vCPU must not be running. ----
  // Run() stops (kDebugStop, kBreakpoint) before executing the instruction
  // at guest VA `va`. A Run() that starts at a breakpoint runs it first.
  void SetBreakpoint(uint64_t va, bool on);
  // Run() stops (kWatchpoint) after an access by translated code to
  // [va, va + len) of the given kind (reads stop before the instruction).
  void SetWatchpoint(uint64_t va, uint64_t len, WatchKind kind, bool on);
  // The next Run() executes one instruction and stops (kStep).
  void SetSingleStep(bool on);
  // The guest's TSC is the host's plus ctx().tsc_offset: sets the offset
  // (rdtsc runs natively only while it is 0), e.g. to hold the TSC back by
  // the time the debugger kept the guest stopped.
  void SetTscOffset(uint64_t offset);
  // Guest virtual memory through the guest's page tables, with CPL 0
  // rights; a write that hits translated code invalidates it.
  bool DebugRead(uint64_t va, void* out, size_t n);
  bool DebugWrite(uint64_t va, const void* in, size_t n);
  // Any thread, async-signal-safe: Run() returns kDebugStop (kInterrupt) soon.
  void RequestDebugStop();

  // Makes the vCPU look at its interrupts, timers and host input soon:
  // leaves translated code at the next block boundary, or wakes it from hlt.
  // Any thread; async-signal-safe.
  void Kick();

  // Formats the guest register state for an error report.
  std::string DumpRegisters() const;

  Stats& stats() { return stats_; }
  GuestRam& ram() { return ram_; }
  PortBus& ports() { return ports_; }
  CodeCache& code_cache() { return *cache_; }

 private:
  friend class VcpuRuntime;
  GuestRam& ram_;
  PortBus& ports_;
  Stats& stats_;
  VcpuConfig config_;
  VcpuContext* ctx_ = nullptr;
  std::unique_ptr<CodeCache> cache_;
  std::unique_ptr<class VcpuRuntime> runtime_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> kicked_{false};
  std::atomic<bool> debug_stop_requested_{false};
  MmioBus* mmio_ = nullptr;
  Clock* clock_ = nullptr;
  InterruptSource* irq_source_ = nullptr;
  MsrDevice* msr_device_ = nullptr;
  std::function<void()> on_kick_;
  std::function<bool()> on_triple_fault_;
  uint64_t hang_timeout_ns_ = 0;
  int wake_fd_ = -1;  // eventfd that wakes a halted vCPU
  bool exit_requested_ = false;
  RunOutcome::Kind exit_kind_ = RunOutcome::Kind::kDebugExit;
  int exit_status_ = 0;
  std::string exit_message_;
};

}  // namespace xlat
