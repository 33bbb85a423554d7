// The MC146818 real-time clock and its 128 bytes of CMOS RAM on ports
// 0x70 (index; bit 7 masks NMI) and 0x71 (data).
//
// The clock is not stepped: the guest's time is the host's wall-clock time
// (UTC) when the device was created, advanced by host monotonic time
// (Clock::HostNs, which runs on while a debugger holds the guest, as with
// QEMU's default -rtc clock=host), plus whatever offset the guest's own
// writes introduced. The time registers are rendered from it on every read
// in the format register B asks for (BCD or binary, 12 or 24 hours). UIP
// reads 1 during the 244 us before each second boundary, where the registers
// change, so a reader that saw UIP = 0 has 244 us to read a consistent time
// (what Linux's mc146818_get_time relies on). While register B's SET bit is
// 1, or the divider in register A is held in reset, the time registers are
// plain memory the guest writes; when it lets go, the clock runs from what it
// wrote (half a second into the second after a divider reset, as the chip
// does).
//
// Interrupts (IRQ 8, a level held until register C is read): update-ended
// and alarm at each second boundary, periodic at the rate in register A, each
// driven by one Clock timer armed only while enabled in register B. The flags
// in register C are also computed lazily, so a guest polling UF or PF without
// enabling the interrupt sees them too. The timers and the periodic rate
// count guest time (Clock::NowNs): a debugger's pause holds them back.
#pragma once

#include <array>
#include <cstdint>

#include "devices/clock.h"
#include "devices/interrupts.h"

namespace xlat {

class PortBus;

class RtcCmos {
 public:
  // `irq8`: ISA IRQ 8. The clock must outlive the RTC.
  RtcCmos(Clock& clock, IrqLine* irq8);
  ~RtcCmos();
  RtcCmos(const RtcCmos&) = delete;
  RtcCmos& operator=(const RtcCmos&) = delete;

  void Register(PortBus& ports);
  // Registers A-D to their defaults (24-hour BCD, 32.768 kHz divider, no
  // interrupts) and the time back to the host's. CMOS RAM is kept (it is
  // battery-backed).
  void Reset();

  uint32_t ReadPort(uint16_t port);
  void WritePort(uint16_t port, uint8_t value);

  // Port 0x70 bit 7: the chipset's NMI mask.
  bool nmi_masked() const { return nmi_masked_; }

  // Firmware's part of CMOS RAM, for the board: base memory 640 KiB,
  // extended memory in KiB (0x17-0x18, 0x30-0x31), memory above 16 MiB in
  // 64 KiB units (0x34-0x35) and above 4 GiB (0x5b-0x5d).
  void SetMemorySize(uint64_t below_4g_bytes, uint64_t above_4g_bytes);
  void SetByte(uint8_t index, uint8_t value) { ram_[index & 0x7f] = value; }
  uint8_t byte(uint8_t index) const { return ram_[index & 0x7f]; }

  // The guest's time in nanoseconds since the Unix epoch (tests).
  int64_t GuestNs() const;

 private:
  bool frozen() const;                   // SET or divider reset: the clock does not run
  bool binary() const;                   // register B DM
  bool hours24() const;                  // register B 24/12
  uint8_t Encode(int value) const;
  int Decode(uint8_t reg) const;
  // Time registers (in `regs`, indexed like CMOS RAM) <- seconds since the epoch.
  void RenderTime(int64_t seconds, uint8_t* regs) const;
  int64_t ParseTime() const;             // seconds since the epoch <- time registers
  void SetGuestNs(int64_t guest_ns);
  void SeeFlags();                       // register C's flags are up to date as of now
  uint64_t PeriodicNs(uint64_t* num, uint64_t* den) const;
  bool UpdateInProgress() const;
  uint8_t ReadRegister(uint8_t index);
  void WriteRegister(uint8_t index, uint8_t value);
  // Raises UF/PF for boundaries passed since register C was last read.
  void RefreshFlags();
  bool AlarmMatches(int64_t seconds) const;
  // Drives IRQ 8 from register C; changes the line only when its level changes.
  void UpdateIrq();
  void ArmTimer();
  void OnTimer(uint64_t generation);

  Clock& clock_;
  IrqLine* irq8_;
  std::array<uint8_t, 128> ram_{};
  uint8_t index_ = 0;
  bool nmi_masked_ = false;
  int64_t guest_minus_host_ns_ = 0;   // guest ns since the epoch - clock_.HostNs()
  int64_t flags_seen_ns_ = 0;         // guest time register C was last read
  uint64_t flags_seen_clock_ns_ = 0;  // and the clock's time then (Clock::NowNs)
  int64_t frozen_at_ns_ = 0;          // guest time when the clock stopped
  bool irq_level_ = false;
  bool timer_armed_ = false;
  Clock::TimerId timer_id_ = 0;
  uint64_t timer_generation_ = 0;
};

}  // namespace xlat
