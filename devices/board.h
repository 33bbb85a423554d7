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
  // Where bytes the guest writes to the serial port go (default: stdout).
  std::function<void(uint8_t)> serial_out;
};

class Board {
 public:
  static std::unique_ptr<Board> Create(const BoardConfig& config, std::string* error);

  GuestRam& ram() { return *ram_; }
  PortBus& ports() { return ports_; }
  Vcpu& vcpu() { return *vcpu_; }
  Stats& stats() { return stats_; }

  // Builds identity-mapping page tables (2 MiB pages) covering all of RAM at
  // guest physical `table_base` (needs kFlatPageTableBytes free there) and puts
  // the vCPU in 64-bit mode at `entry` with CR3 pointing at them.
  static constexpr uint64_t FlatPageTableBytes(uint64_t ram_bytes) {
    return 4096 * (2 + ((ram_bytes + (1ull << 30) - 1) >> 30));
  }
  void SetupFlatLongMode(uint64_t entry, uint64_t table_base);

  RunOutcome Run() { return vcpu_->Run(); }

 private:
  Board() = default;
  std::unique_ptr<GuestRam> ram_;
  PortBus ports_;
  Stats stats_;
  std::unique_ptr<Vcpu> vcpu_;
};

}  // namespace xlat
