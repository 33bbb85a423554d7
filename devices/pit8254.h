// The 8254 programmable interval timer on ports 0x40-0x43, and the part of
// port 0x61 (the PC's "system control port B") that belongs to it: channel 2's
// gate (bit 0), the speaker data enable (bit 1), and channel 2's output
// (bit 5), plus the refresh toggle (bit 4) old delay loops poll.
//
// The counters are not stepped: each channel remembers when its counting
// element was loaded, and its count and OUT level are computed on demand from
// the host clock at 1.193182 MHz. That makes them exact against real time,
// which Linux needs: it calibrates the TSC by polling channel 2's output and
// its count. Channel 0's OUT drives IRQ 0; a Clock timer is armed only for the
// next rising edge of OUT (the periodic modes 2 and 3 re-arm, the one-shot
// modes 0, 1, 4 and 5 fire once), and the edge is delivered as a pulse, which
// both the PIC and the I/O APIC latch as an edge. Ticks the vCPU was too late
// to take are dropped, as a real PIC drops edges it has already latched.
//
// Modes 0-5, LSB/MSB/both access, the counter latch and read-back commands
// are modelled; BCD counting is not (the BCD bit is kept for the status byte).
#pragma once

#include <array>
#include <cstdint>

#include "devices/clock.h"
#include "devices/interrupts.h"

namespace xlat {

class PortBus;

class Pit8254 {
 public:
  static constexpr uint64_t kHz = 1193182;

  // `irq0`: channel 0's output (ISA IRQ 0). The clock must outlive the PIT.
  Pit8254(Clock& clock, IrqLine* irq0);
  ~Pit8254();
  Pit8254(const Pit8254&) = delete;
  Pit8254& operator=(const Pit8254&) = delete;

  // Ports 0x40-0x43 and 0x61.
  void Register(PortBus& ports);
  // As firmware leaves it: every channel in mode 3 with count 65536 (channel
  // 0 ticks at 18.2 Hz), channel 2's gate low.
  void Reset();

  uint32_t ReadPort(uint16_t port);
  void WritePort(uint16_t port, uint8_t value);

  // Inspection (tests, debugging): OUT and the current count of a channel.
  bool output(unsigned channel) const;
  uint16_t count(unsigned channel) const;

 private:
  struct Channel {
    uint8_t mode = 3;      // 0-5
    uint8_t access = 3;    // 1 = LSB, 2 = MSB, 3 = LSB then MSB
    bool bcd = false;      // kept for the status byte only
    bool gate = false;
    uint32_t reload = 0x10000;  // the count written (0 means 65536)
    bool loaded = false;     // a count was written since the control word
    bool triggered = false;  // modes 1 and 5: a gate rising edge started it
    bool counting = false;   // the counting element is running
    bool null_count = true;  // status bit: control word written, no count yet
    uint64_t start_ns = 0;     // when the counting element was loaded
    uint64_t held_ticks = 0;   // elapsed ticks while not counting
    bool write_msb_next = false;
    uint8_t write_lsb = 0;
    bool read_msb_next = false;
    bool count_latched = false;
    uint16_t latched_count = 0;
    bool status_latched = false;
    uint8_t latched_status = 0;
  };

  uint64_t Elapsed(const Channel& ch, uint64_t now) const;
  bool Out(const Channel& ch, uint64_t now) const;
  uint16_t Count(const Channel& ch, uint64_t now) const;
  // The tick (since start_ns) of OUT's next rising edge after `now`, or 0.
  uint64_t NextRisingEdge(const Channel& ch, uint64_t now) const;

  void WriteControl(uint8_t value);
  void WriteCounter(unsigned index, uint8_t value);
  uint8_t ReadCounter(unsigned index);
  void LoadCount(Channel& ch, uint32_t count);
  void LatchCount(Channel& ch);
  void LatchStatus(Channel& ch);
  void SetGate(Channel& ch, bool gate);
  // Arms the Clock timer for channel 0's next rising edge (or disarms it).
  void UpdateIrqTimer();
  void OnIrqTimer(uint64_t generation);

  Clock& clock_;
  IrqLine* irq0_;
  std::array<Channel, 3> channels_;
  uint8_t port61_ = 0;  // bits 0-3 as written
  bool timer_armed_ = false;
  Clock::TimerId timer_id_ = 0;
  uint64_t timer_deadline_ = Clock::kNever;
  uint64_t timer_generation_ = 0;
};

}  // namespace xlat
