// The PC's interrupt controllers wired as on a real board (and as QEMU's pc
// machine): the 8259 pair, one I/O APIC and the vCPU's local APIC.
//
//   ISA IRQ n ---+--> PIC input n ----> PIC INT --> LAPIC LINT0 (ExtINT)
//                +--> I/O APIC pin n (IRQ 0 -> pin 2, the MADT's override;
//                                      IRQ 2 is the PIC cascade, no pin)
//   I/O APIC pins 16-23 (PCI INTx) ----> gsi(n)
//   I/O APIC messages --> LAPIC; LAPIC EOI of a level vector --> I/O APIC
//
// The local APIC is the CPU's InterruptSource; its MSRs (0x1b, 0x6e0,
// 0x800-0x8ff) are the MsrDevice. The PIT and the RTC are separate devices
// that drive isa_irq(0) and isa_irq(8).
#pragma once

#include <array>
#include <cstdint>
#include <functional>

#include "devices/clock.h"
#include "devices/interrupts.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "devices/pic8259.h"

namespace xlat {

class MmioBus;
class PortBus;

struct PcInterruptControllers {
  // `kick`, `guest_tsc`, `tsc_hz`: see Lapic. The clock must outlive this.
  PcInterruptControllers(Clock& clock, std::function<void()> kick, std::function<uint64_t()> guest_tsc,
                         uint64_t tsc_hz);
  PcInterruptControllers(const PcInterruptControllers&) = delete;
  PcInterruptControllers& operator=(const PcInterruptControllers&) = delete;

  // PIC ports 0x20-0x21, 0xa0-0xa1, 0x4d0-0x4d1; I/O APIC at 0xfec00000;
  // local APIC at 0xfee00000.
  void Register(PortBus& ports, MmioBus& mmio);
  void Reset();

  IrqLine& isa_irq(unsigned n) { return isa_lines_[n]; }  // 0-15
  IrqLine& gsi(unsigned n) { return ioapic.input(n); }     // I/O APIC pin 0-23
  InterruptSource& cpu_source() { return lapic; }
  MsrDevice& msrs() { return lapic; }

  Lapic lapic;
  IoApic ioapic;
  Pic8259 pic;

 private:
  void SetIsaIrq(unsigned n, bool level);
  std::array<FunctionIrqLine, 16> isa_lines_;
};

}  // namespace xlat
