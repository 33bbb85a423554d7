// The I/O APIC at 0xfec00000 (82093AA-style, version 0x20, 24 pins): an
// indirect register window (IOREGSEL at +0x00, IOWIN at +0x10) onto the ID,
// version and arbitration registers and 24 64-bit redirection entries, and the
// EOI register at +0x40 that version 0x20 parts have.
//
// Each pin's redirection entry turns its line into an APIC message (vector,
// delivery mode, logical/physical destination) for the local APIC. Edge pins
// send one message per rising edge; an edge on a masked pin is lost, as the
// datasheet says. Level pins send a message while the line is asserted and
// the entry's remote IRR is clear, and set remote IRR; the local APIC's EOI of
// that vector (the EOI broadcast), a write of the vector to the EOI register,
// or switching the entry to edge clears it, and a line still asserted then
// sends again.
//
// Lines are logical: true means asserted. The polarity bit is stored for the
// guest to read back but does not invert anything (as in QEMU), so devices
// never need to know how the guest programmed it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>

#include "devices/interrupts.h"
#include "devices/lapic.h"

namespace xlat {

class MmioBus;

class IoApic {
 public:
  static constexpr uint64_t kDefaultBase = 0xfec00000;
  static constexpr uint64_t kMmioSize = 0x1000;
  static constexpr unsigned kPins = 24;
  using DeliverFn = std::function<bool(const ApicMessage&)>;  // false: not accepted

  // `deliver`: where messages go (the local APIC's Deliver).
  explicit IoApic(DeliverFn deliver, uint8_t id = 0);
  IoApic(const IoApic&) = delete;
  IoApic& operator=(const IoApic&) = delete;

  void Register(MmioBus& mmio, uint64_t base = kDefaultBase);
  // Every entry masked, edge, vector 0; the ID back to its initial value.
  void Reset();

  IrqLine& input(unsigned pin) { return inputs_[pin]; }
  void SetPin(unsigned pin, bool level);
  // The local APIC's EOI broadcast for a level-triggered vector.
  void Eoi(uint8_t vector);

  uint32_t ReadMmio(uint64_t offset);
  void WriteMmio(uint64_t offset, uint32_t value);

  uint64_t redirection(unsigned pin) const { return rte_[pin]; }

 private:
  uint32_t ReadRegister(uint8_t index) const;
  void WriteRegister(uint8_t index, uint32_t value);
  // Sends what is due: pending edges and asserted level pins without remote IRR.
  void Service();

  DeliverFn deliver_;
  std::array<FunctionIrqLine, kPins> inputs_;
  const uint8_t initial_id_;
  uint8_t id_ = 0;
  uint8_t regsel_ = 0;
  std::array<uint64_t, kPins> rte_{};
  uint32_t irr_ = 0;         // requests waiting to be sent
  uint32_t line_level_ = 0;  // input levels, for edge detection
};

}  // namespace xlat
