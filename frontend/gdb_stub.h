// The gdb stub: -gdb tcp::PORT, -s (= -gdb tcp::1234) and -S, as in QEMU.
//
// gdb talks the remote serial protocol (gdb_protocol.h) over TCP to one
// vCPU, shown as thread 1. The stub drives the vCPU's debug API
// (cpu/vcpu.h): breakpoints are the vCPU's own, which stop translated code
// without touching guest memory, so gdb's software (Z0) and hardware (Z1)
// breakpoints are the same thing; Z2/Z3/Z4 are watchpoints; s/vCont;s is
// Vcpu::SetSingleStep; memory is read and written by guest virtual address
// through the guest's page tables.
//
// Threads. The vCPU thread (main) runs the guest and, while the guest is
// stopped, the protocol: it owns the socket then. While the guest runs, a
// watcher thread owns it: it accepts a connection, reads gdb's Ctrl-C (0x03)
// and notices a lost connection, and each time asks the vCPU to stop
// (Vcpu::RequestDebugStop, any thread). Ownership changes hands only while
// the vCPU is stopped, through Pause/Resume of the watcher.
//
// The run, as the main loop sees it (GdbStub::Run):
//
//   for (;;) {
//     if a stop is wanted (-S, a new connection, Ctrl-C, a breakpoint...):
//       serve gdb until it says continue, step, detach or kill;
//     set the vCPU's breakpoints, watchpoints and single-step as gdb left them;
//     out = run_guest();            // PcBoard::Run(): returns on kDebugStop too
//     if out is not kDebugStop: report the exit to gdb (W/X) and return out;
//   }
//
// The guest kernel's symbols (kernel_symbols.h) are found while this goes
// on: the stub keeps the breakpoints of the search for the kernel's entry
// with gdb's, and a stop that gdb asks for before the kernel has entered its
// own code (-S, or connecting during the first second) is held back until it
// has (at most 20 s), so that gdb always sees the run-time symbols: it gets
// their file through qXfer:exec-file:read (and vFile: host I/O, so gdb
// need not run on this host), and `break start_kernel` works at once.
// For a freestanding ELF -kernel, the file itself is the symbol file.
//
// Guest time stands still while gdb holds the guest (as QEMU's virtual
// clock while the VM is stopped): the Clock that the timers count is paused
// and the guest's TSC held back by as long, so the guest resumes without a
// jump in time, overdue timers or a clocksource watchdog alarm. The RTC's
// time of day keeps the host's. The vCPU's hang watchdog (a guest with
// interrupts off for a second) is off for a debugged run: a guest that gdb
// stops, steps or breaks into inside an interrupts-off region is not hung.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "cpu/vcpu.h"

namespace xlat {

class SymbolTable;

struct GdbStubOptions {
  std::string device;          // -gdb DEV; -s means "tcp::1234"
  bool start_stopped = false;  // -S: the guest waits for gdb's continue
  std::string symbols_path;    // --symbols FILE (System.map or vmlinux); empty: kallsyms
};

// QEMU's -gdb device for TCP: "tcp::PORT" or "tcp:HOST:PORT". An empty host
// is the loopback address, not every interface as in QEMU: the stub gives
// whoever connects the whole machine; "tcp:0.0.0.0:PORT" opens it to the
// network on purpose. False with *error for anything else.
bool ParseGdbDevice(std::string_view device, std::string* host, uint16_t* port, std::string* error);

class GdbServer;

class GdbStub {
 public:
  // Listens on the device (a port in use is an error now, before the guest
  // starts) and prepares the guest kernel's symbols from the -kernel file.
  // False-y (nullptr) with one line in *error.
  static std::unique_ptr<GdbStub> Create(const GdbStubOptions& options, std::span<const uint8_t> kernel_file,
                                         const std::string& kernel_path, std::string* error);
  ~GdbStub();
  GdbStub(const GdbStub&) = delete;
  GdbStub& operator=(const GdbStub&) = delete;

  // The board (re)loaded the Linux kernel into the machine of `vcpu` (call it
  // from the boot loader callback, after LoadLinux: at start and after every
  // machine reset). Starts the search for where the kernel runs.
  void OnKernelLoaded(Vcpu& vcpu);

  // Whether a host stop signal (SIGINT, SIGTERM) is pending: waiting for gdb
  // ends then, and Run() returns kStopped.
  void SetStopCheck(std::function<bool()> stop_requested);

  // Runs the guest (run_guest: one PcBoard/Board Run()) under gdb until the
  // run ends: the guest powers off or exits (gdb is told), gdb kills it
  // (kPowerOff, with a note on stderr), or a host signal stops it (kStopped).
  RunOutcome Run(Vcpu& vcpu, const std::function<RunOutcome()>& run_guest);

  // The guest kernel's symbols at their run-time addresses, once known
  // (nullptr before): for "name+0xoff" in trace output.
  const SymbolTable* kernel_symbols() const;

 private:
  GdbStub() = default;
  std::unique_ptr<GdbServer> server_;
};

// The same as stub.Run(vcpu, run_guest): the main loop of a debugged run.
RunOutcome RunWithDebugger(Vcpu& vcpu, GdbStub& stub, const std::function<RunOutcome()>& run_guest);

}  // namespace xlat
