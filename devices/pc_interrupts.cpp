#include "devices/pc_interrupts.h"

#include <utility>

#include "devices/mmio_bus.h"
#include "devices/port_bus.h"

namespace xlat {

namespace {
template <size_t... I>
std::array<FunctionIrqLine, 16> MakeIsaLines(std::function<void(unsigned, bool)> set, std::index_sequence<I...>) {
  return {FunctionIrqLine([set](bool level) { set(I, level); })...};
}
}  // namespace

PcInterruptControllers::PcInterruptControllers(Clock& clock, std::function<void()> kick,
                                               std::function<uint64_t()> guest_tsc, uint64_t tsc_hz)
    : lapic(clock, std::move(kick), std::move(guest_tsc), tsc_hz),
      ioapic([this](const ApicMessage& m) { return lapic.Deliver(m); }),
      pic(&lapic.lint0()),
      isa_lines_(MakeIsaLines([this](unsigned n, bool level) { SetIsaIrq(n, level); },
                              std::make_index_sequence<16>())) {
  lapic.SetExtIntAcknowledge([this] { return pic.Acknowledge(); });
  lapic.SetEoiBroadcast([this](uint8_t vector) { ioapic.Eoi(vector); });
}

void PcInterruptControllers::Register(PortBus& ports, MmioBus& mmio) {
  pic.Register(ports);
  ioapic.Register(mmio);
  lapic.Register(mmio);
}

void PcInterruptControllers::Reset() {
  pic.Reset();
  ioapic.Reset();
  lapic.Reset();
}

void PcInterruptControllers::SetIsaIrq(unsigned n, bool level) {
  pic.SetIrq(n, level);
  if (n == 2) return;  // the cascade: no ISA device, and pin 2 is IRQ 0's
  ioapic.SetPin(n == 0 ? 2 : n, level);
}

}  // namespace xlat
