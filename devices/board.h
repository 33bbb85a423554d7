// The machine xlat emulates for a freestanding 64-bit guest: RAM, one vCPU, the
// port bus and the few devices a bare-metal program needs (a transmit-only
// serial port on 0x3f8 and QEMU's isa-debug-exit on 0xf4). The board only wires
// parts together; each device lives in its own file.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "cpu/vcpu.h"
#include "devices/port_bus.h"
#include "frontend/stats.h"
#include "mmu/guest_ram.h"

namespace xlat {

struct BoardConfig {
  uint64_t ram_bytes = 128ull << 20;
  uint64_t code_cache_bytes = 64ull << 20;
  unsigned shadow_spaces = 8;  // see VcpuConfig
  bool count_guest_insns = false;  // see VcpuConfig
  bool precise_fault_flags = false;  // see VcpuConfig
  uint32_t trace_threshold = 20000;  // see VcpuConfig
  // Where bytes the guest writes to the serial port go (default: stdout).
  std::function<void(uint8_t)> serial_out;
};

class Board {
 public:
  static std::unique_ptr<Board> Create(const BoardConfig& config, std::string* error);
  ~Board();

  GuestRam& ram() { return *ram_; }
  PortBus& ports() { return ports_; }
  Vcpu& vcpu() { return *vcpu_; }
  Stats& stats() { return stats_; }

  // Guest physical address where SetupFlatLongMode puts its page tables: the
  // top of RAM. A loaded program must stay below it.
  uint64_t flat_tables_base() const;

  // Builds identity-mapping page tables (2 MiB pages, writable, executable)
  // covering all of RAM at flat_tables_base() and puts the vCPU in 64-bit mode
  // at `entry`. False (with *error) if the tables do not fit.
  bool SetupFlatLongMode(uint64_t entry, std::string* error);

  RunOutcome Run();

 private:
  Board() = default;
  std::unique_ptr<GuestRam> ram_;
  PortBus ports_;
  Stats stats_;
  std::unique_ptr<Vcpu> vcpu_;
  bool started_ = false;  // Run() was called (it may be again: a run resumed after a stop)
};

}  // namespace xlat
