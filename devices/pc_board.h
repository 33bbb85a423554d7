// The PC: what `xlat -kernel bzImage` boots a Linux kernel on. RAM, one
// vCPU, the clock, the interrupt controllers (8259 pair, I/O APIC, local
// APIC), the 8254 PIT, the CMOS RTC, a 16550A UART on COM1, the i8042, port
// 0x80, a PCI host bridge, the ACPI tables and power-management registers,
// and QEMU's isa-debug-exit on 0xf4. The board only creates and wires them;
// each device lives in its own file.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cpu/vcpu.h"
#include "devices/clock.h"
#include "devices/mmio_bus.h"
#include "devices/port_bus.h"
#include "frontend/stats.h"
#include "mmu/guest_ram.h"

namespace xlat {

class Uart16550;
class Pit8254;
class RtcCmos;
class I8042;
class Port80;
class PciHost;
class AcpiPm;
struct PcInterruptControllers;

struct PcConfig {
  uint64_t ram_bytes = 512ull << 20;
  uint64_t code_cache_bytes = 64ull << 20;
  unsigned shadow_spaces = 8;  // see VcpuConfig
  bool count_guest_insns = false;  // see VcpuConfig
  bool precise_fault_flags = false;
  uint32_t trace_threshold = 20000;  // see VcpuConfig
  // -no-reboot: a reset (triple fault, keyboard-controller or ACPI reset)
  // ends the run instead of restarting the machine.
  bool no_reboot = false;
  // A Linux kernel panic ends the run (status 2) unless this is set; with
  // panic=N on the kernel command line the kernel resets by itself instead.
  bool panic_keeps_running = false;
  // Where the UART's output goes (default: stdout, unbuffered).
  std::function<void(uint8_t)> serial_out;
};

// A guest physical range the board uses for itself (ACPI tables, APIC
// registers): the loader keeps it out of the RAM it hands the guest.
struct ReservedRegion {
  uint64_t base;
  uint64_t size;
  bool acpi;  // ACPI tables (reclaimable) rather than plain reserved
};

class PcBoard {
 public:
  static std::unique_ptr<PcBoard> Create(const PcConfig& config, std::string* error);
  ~PcBoard();
  PcBoard(const PcBoard&) = delete;
  PcBoard& operator=(const PcBoard&) = delete;

  // What the boot loader must respect, and where the ACPI RSDP is.
  const std::vector<ReservedRegion>& reserved() const { return reserved_; }
  uint64_t rsdp_pa() const { return rsdp_pa_; }

  // How to (re)load the guest: called now and after every machine reset
  // (RAM is zeroed and the devices reset in between). It loads the kernel
  // and sets the vCPU at its entry. False with a one-line *error.
  bool SetBootLoader(std::function<bool(PcBoard&, std::string*)> loader, std::string* error);

  // Runs until the guest powers off, exits through isa-debug-exit, panics
  // into a reset with -no-reboot, or a stop is requested.
  RunOutcome Run();

  GuestRam& ram() { return *ram_; }
  Vcpu& vcpu() { return *vcpu_; }
  Stats& stats() { return stats_; }
  Clock& clock() { return *clock_; }
  Uart16550& uart() { return *uart_; }

 private:
  PcBoard() = default;
  bool Reset(std::string* error);  // the machine's reset line: devices, RAM, the kernel again
  bool BuildFirmwareTables(std::string* error);

  PcConfig config_;
  std::function<bool(PcBoard&, std::string*)> loader_;
  std::vector<ReservedRegion> reserved_;
  uint64_t rsdp_pa_ = 0;
  Stats stats_;
  std::unique_ptr<GuestRam> ram_;
  std::unique_ptr<Clock> clock_;
  PortBus ports_;
  MmioBus mmio_;
  std::unique_ptr<Vcpu> vcpu_;
  std::unique_ptr<PcInterruptControllers> irqs_;
  std::unique_ptr<Pit8254> pit_;
  std::unique_ptr<RtcCmos> rtc_;
  std::unique_ptr<Uart16550> uart_;
  std::unique_ptr<I8042> i8042_;
  std::unique_ptr<Port80> port80_;
  std::unique_ptr<PciHost> pci_;
  std::unique_ptr<AcpiPm> acpi_pm_;
  bool reset_requested_ = false;
  // The last console line, watched for the end of a Linux kernel panic.
  std::string console_line_;
  std::string last_console_line_;  // the last non-empty complete line
  void WatchConsole(uint8_t c);
  uint64_t resets_ = 0;
  bool started_ = false;  // Run() was called (it may be again: a run resumed after a stop)
};

}  // namespace xlat
