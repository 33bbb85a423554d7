// The PC's two cascaded 8259A programmable interrupt controllers: master on
// ports 0x20-0x21 (IRQ 0-7), slave on 0xa0-0xa1 (IRQ 8-15) cascaded into the
// master's IR2, and the edge/level control registers (ELCR) on 0x4d0-0x4d1.
//
// What is modelled: the ICW1-ICW4 initialization sequence, OCW1 (mask), OCW2
// (non-specific/specific EOI, rotation, set priority), OCW3 (IRR/ISR read
// select, poll mode, special mask mode), auto-EOI, special fully nested mode,
// edge or level inputs per ELCR, and the spurious IRQ 7/15 a real 8259 gives
// when the request went away before the CPU acknowledged it.
//
// Edge-triggered inputs latch the rising edge in IRR and keep it until the
// acknowledge even if the line drops again (as QEMU does, so IrqLine::Pulse()
// works); level-triggered inputs follow the line.
//
// The master's INT output is an IrqLine (the local APIC's LINT0, programmed as
// ExtINT); when the CPU takes the interrupt, the local APIC calls
// Acknowledge(), which is the INTA cycle and returns the vector.
#pragma once

#include <array>
#include <cstdint>

#include "devices/interrupts.h"

namespace xlat {

class PortBus;

class Pic8259 {
 public:
  // `output`: the master's INT pin (may be null until SetOutput).
  explicit Pic8259(IrqLine* output = nullptr);
  Pic8259(const Pic8259&) = delete;
  Pic8259& operator=(const Pic8259&) = delete;

  void SetOutput(IrqLine* output);
  // Ports 0x20-0x21, 0xa0-0xa1, 0x4d0-0x4d1.
  void Register(PortBus& ports);
  // Power-on state: both chips uninitialized, all inputs unmasked, ELCR edge.
  void Reset();

  // Input line n (0-15). Input 2 is the cascade and is driven internally.
  IrqLine& input(unsigned n) { return inputs_[n]; }
  void SetIrq(unsigned n, bool level);

  // The level of the master's INT output.
  bool output_level() const { return output_level_; }
  // The INTA cycle: the vector of the highest-priority request, which moves
  // to in-service (unless auto-EOI); a spurious IRQ 7 (or 15) vector if none.
  int Acknowledge();

  // Port handlers, for the bus and for tests.
  uint32_t ReadPort(uint16_t port);
  void WritePort(uint16_t port, uint8_t value);

  // Inspection (tests, debugging).
  uint8_t irr(unsigned chip) const { return chips_[chip].irr; }
  uint8_t isr(unsigned chip) const { return chips_[chip].isr; }
  uint8_t imr(unsigned chip) const { return chips_[chip].imr; }
  uint8_t vector_base(unsigned chip) const { return chips_[chip].vector_base; }

 private:
  // One 8259A.
  struct Chip {
    uint8_t irr = 0;          // interrupt request register
    uint8_t isr = 0;          // in-service register
    uint8_t imr = 0;          // interrupt mask register
    uint8_t line_level = 0;   // input pin levels, for edge detection
    uint8_t elcr = 0;         // 1 = level-triggered input
    uint8_t elcr_mask = 0;    // which ELCR bits exist
    uint8_t vector_base = 0;  // ICW2
    uint8_t lowest_priority = 7;  // IR with the lowest priority (rotation)
    uint8_t init_step = 0;    // 0 = ready; 1..3 = waiting for ICW2..ICW4
    bool icw4_needed = false;
    bool single = false;      // ICW1 SNGL: no ICW3
    bool auto_eoi = false;
    bool rotate_on_auto_eoi = false;
    bool special_fully_nested = false;
    bool special_mask = false;
    bool read_isr = false;    // OCW3 RR/RIS: what the command port reads
    bool poll = false;        // OCW3 P: the next read is a poll
  };

  // The highest-priority IR in `bits` (respecting rotation), or 8 if none.
  static int HighestPriority(const Chip& c, uint8_t bits);
  // The IR the chip would present to the CPU now, or -1.
  int PendingIrq(unsigned chip) const;
  // INTA on one chip for `irq`: IRR -> ISR (or auto-EOI).
  void AckOnChip(unsigned chip, int irq);
  void SetChipInput(unsigned chip, unsigned irq, bool level);
  void WriteCommand(unsigned chip, uint8_t value);
  void WriteData(unsigned chip, uint8_t value);
  uint8_t PollRead(unsigned chip);
  // Recomputes the cascade and the INT output; raises or drops the output
  // line only when its level changes.
  void UpdateIrq();

  std::array<Chip, 2> chips_;
  std::array<FunctionIrqLine, 16> inputs_;
  IrqLine* output_ = nullptr;
  bool output_level_ = false;
};

}  // namespace xlat
