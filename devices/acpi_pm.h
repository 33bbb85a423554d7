// The ACPI power-management registers the FADT points at (acpi_tables.h uses
// the same AcpiPmPorts), at PIIX4-like I/O ports by default:
//
//   PM1a_EVT_BLK  0xb000  PM1_STS (16 bits, write 1 to clear), PM1_EN (16 bits)
//   PM1a_CNT_BLK  0xb004  PM1_CNT: SCI_EN (reads 1: there is no SMM, the
//                         machine is always in ACPI mode), BM_RLD, SLP_TYP,
//                         SLP_EN (write-only)
//   PM_TMR_BLK    0xb008  the PM timer: a free-running 32-bit up-counter at
//                         3.579545 MHz computed from the host clock, so it
//                         tracks real time (Linux may calibrate with it and
//                         use it as a clocksource; it reads it masked to 24
//                         bits). TMR_STS is set whenever its bit 31 has
//                         changed since it was last cleared.
//   RESET_REG     0xcf9   the PIIX reset control register: a write with bit 2
//                         (RST_CPU) set, such as 0x06 or 0x0e, resets the
//                         machine. Linux's default reboot method writes the
//                         FADT's RESET_VALUE (0x06) here.
//
// Writing SLP_TYP = kAcpiS5SlpTyp with SLP_EN is the S5 "soft off" that the
// DSDT's \_S5 package promises: it calls `poweroff`. Other sleep types are not
// offered by the DSDT and are ignored.
//
// The SCI (ISA IRQ 9, level, active high per the MADT) is raised while any
// of PWRBTN, SLPBTN, RTC or GBL is both set in PM1_STS and enabled in PM1_EN;
// PressPowerButton() sets PWRBTN_STS, which makes an ACPI guest shut down.
// The timer overflow does not raise the SCI (no guest we know enables it).
// Callbacks run on the vCPU thread from inside the port write.
#pragma once

#include <cstdint>
#include <functional>

#include "devices/interrupts.h"

namespace xlat {

class PortBus;

struct AcpiPmPorts {
  uint16_t pm1a_evt = 0xb000;  // 4 ports
  uint16_t pm1a_cnt = 0xb004;  // 2 ports
  uint16_t pm_tmr = 0xb008;    // 4 ports
  uint16_t reset = 0xcf9;      // 1 port
};

constexpr uint8_t kAcpiS5SlpTyp = 5;     // \_S5 = Package () {5, 5, 0, 0}
constexpr uint8_t kAcpiResetValue = 0x06;
constexpr uint64_t kAcpiPmTimerHz = 3579545;
constexpr unsigned kAcpiSciIrq = 9;

class AcpiPm {
 public:
  // PM1_STS bits.
  static constexpr uint16_t kTmrSts = 0x0001, kBmSts = 0x0010, kGblSts = 0x0020, kPwrbtnSts = 0x0100,
                            kSlpbtnSts = 0x0200, kRtcSts = 0x0400, kWakSts = 0x8000;
  // PM1_CNT bits.
  static constexpr uint16_t kSciEn = 0x0001, kBmRld = 0x0002, kGblRls = 0x0004, kSlpTypMask = 0x1c00,
                            kSlpEn = 0x2000;

  // `now_ns`: host monotonic time (e.g. Clock::NowNs). `sci` may be null.
  AcpiPm(std::function<uint64_t()> now_ns, IrqLine* sci, std::function<void()> poweroff,
         std::function<void()> reset, AcpiPmPorts ports = {});
  AcpiPm(const AcpiPm&) = delete;
  AcpiPm& operator=(const AcpiPm&) = delete;

  void Register(PortBus& ports);
  // Status, enables and control cleared (SCI_EN stays 1); the timer runs on.
  void Reset();

  // The front-panel power button (any vCPU-thread caller, e.g. a Clock timer).
  void PressPowerButton();

  uint32_t ReadPort(uint16_t port, unsigned size);
  void WritePort(uint16_t port, unsigned size, uint32_t value);

  // Inspection (tests, debugging).
  uint32_t timer() const;
  uint16_t pm1_status() const;
  uint16_t pm1_enable() const { return pm1_en_; }
  uint16_t pm1_control() const { return pm1_cnt_ | kSciEn; }
  bool sci_level() const { return sci_level_; }
  const AcpiPmPorts& ports() const { return ports_; }

 private:
  uint64_t Ticks() const;
  void UpdateSci();

  std::function<uint64_t()> now_ns_;
  IrqLine* sci_;
  std::function<void()> poweroff_;
  std::function<void()> reset_;
  AcpiPmPorts ports_;

  uint64_t timer_origin_ns_ = 0;
  uint64_t tmr_sts_epoch_ = 0;  // Ticks() >> 31 when TMR_STS was last cleared
  uint16_t pm1_sts_ = 0;        // without TMR_STS, which is computed
  uint16_t pm1_en_ = 0;
  uint16_t pm1_cnt_ = 0;        // BM_RLD and SLP_TYP as written
  uint8_t reset_control_ = 0;   // bits 1 and 3 as written
  bool sci_level_ = false;
};

}  // namespace xlat
