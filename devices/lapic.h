// The local APIC of the one vCPU: xAPIC registers as MMIO at 0xfee00000,
// the same registers as x2APIC MSRs 0x800-0x8ff, IA32_APIC_BASE (0x1b) and
// IA32_TSC_DEADLINE (0x6e0). It is the CPU's InterruptSource.
//
// Where interrupts come from:
//  - Deliver(): messages from the I/O APIC (fixed, lowest priority, NMI,
//    ExtINT), checked against this APIC's destination (physical or logical);
//  - DeliverVector(): a fixed vector, unconditionally;
//  - LINT0 and LINT1 IrqLines. LINT0 is the 8259's INT: in ExtINT mode (the
//    "virtual wire" firmware leaves, and what Linux uses without an I/O APIC)
//    the vector comes from the PIC's INTA (the extint acknowledge function);
//    while the APIC is hardware-disabled through IA32_APIC_BASE, the PIC's INT
//    reaches the CPU directly, as on a CPU without an APIC;
//  - the APIC timer (one-shot, periodic, TSC-deadline) and self-IPIs (ICR with
//    destination self, all-including-self, or our own ID; x2APIC SELF_IPI).
//    INIT, SIPI and SMI have nobody to go to and are dropped.
//
// Priorities: a vector in IRR is delivered when its priority class (bits 7-4)
// is above the processor priority PPR = max(TPR, class of the highest ISR
// vector). EOI clears the highest ISR bit; if that vector was accepted
// level-triggered (TMR), the EOI is broadcast to the I/O APIC (eoi_broadcast),
// which clears the entry's remote IRR.
//
// The timer counts at a 1 GHz bus clock divided by the divide configuration
// register (QEMU's and KVM's default too): one tick per nanosecond of host
// monotonic time at divide-by-1. TSC-deadline mode compares against the guest
// TSC (guest_tsc()) and converts the distance to host time with tsc_hz.
// Timers are Clock timers, armed only while a timer is running.
#pragma once

#include <array>
#include <cstdint>
#include <functional>

#include "devices/clock.h"
#include "devices/interrupts.h"

namespace xlat {

class MmioBus;

// An interrupt message on the APIC bus (what an I/O APIC redirection entry
// or an MSI says).
struct ApicMessage {
  enum class Mode : uint8_t { kFixed = 0, kLowestPriority = 1, kSmi = 2, kNmi = 4, kInit = 5, kStartup = 6, kExtInt = 7 };
  uint8_t vector = 0;
  Mode mode = Mode::kFixed;
  bool logical = false;        // destination mode
  bool level = false;          // trigger mode
  uint32_t destination = 0;    // 8-bit xAPIC ID/logical mask, 0xffffffff = broadcast
};

// The host TSC frequency in Hz: from CPUID leaf 0x15 when it says, otherwise
// calibrated against CLOCK_MONOTONIC over ~20 ms. Computed once, cached.
uint64_t HostTscHz();

class Lapic : public InterruptSource, public MsrDevice {
 public:
  static constexpr uint64_t kDefaultBase = 0xfee00000;
  static constexpr uint64_t kMmioSize = 0x1000;
  static constexpr uint64_t kBusHz = 1'000'000'000;
  static constexpr uint32_t kMsrApicBase = 0x1b, kMsrTscDeadline = 0x6e0;
  static constexpr uint32_t kMsrX2apicFirst = 0x800, kMsrX2apicLast = 0x8ff;
  // IA32_APIC_BASE bits.
  static constexpr uint64_t kBaseBsp = 1ull << 8, kBaseX2apic = 1ull << 10, kBaseEnable = 1ull << 11;

  // `kick`: called (on the vCPU thread, possibly more than once) whenever
  // HasPending() or NmiPending() is true after a change of state.
  // `guest_tsc`: the guest's current TSC; `tsc_hz`: its frequency (both may be
  // null/0, which leaves the TSC-deadline timer unarmed).
  // The clock must outlive the APIC.
  Lapic(Clock& clock, std::function<void()> kick, std::function<uint64_t()> guest_tsc, uint64_t tsc_hz,
        uint32_t apic_id = 0);
  ~Lapic() override;
  Lapic(const Lapic&) = delete;
  Lapic& operator=(const Lapic&) = delete;

  // Wiring.
  void SetExtIntAcknowledge(std::function<int()> ack) { extint_ack_ = std::move(ack); }
  void SetEoiBroadcast(std::function<void(uint8_t vector)> eoi) { eoi_broadcast_ = std::move(eoi); }
  // The xAPIC page at 0xfee00000 (relocating it through IA32_APIC_BASE is not
  // supported: the base bits are kept but the registers stay there).
  void Register(MmioBus& mmio);
  // Power-on/INIT state: xAPIC enabled at 0xfee00000 (BSP), software
  // disabled (SVR 0xff), LVTs masked except LINT0 in ExtINT mode (as QEMU and
  // firmware leave the BSP, so the PIC's interrupts get through).
  void Reset();

  // Inputs.
  IrqLine& lint0() { return lint0_line_; }
  IrqLine& lint1() { return lint1_line_; }
  // False when the message was not accepted (another destination, or the
  // APIC disabled): the I/O APIC then leaves remote IRR clear.
  bool Deliver(const ApicMessage& message);
  void DeliverVector(uint8_t vector, bool level_triggered);

  // InterruptSource: the vCPU asks at an instruction boundary with IF = 1.
  bool HasPending() override;
  int Acknowledge() override;
  // NMIs (LINT1 in NMI mode, NMI IPIs and messages): taken regardless of IF.
  bool NmiPending() const { return nmi_pending_; }
  void AcknowledgeNmi() { nmi_pending_ = false; }

  // CR8 is TPR[7:4].
  bool HasTaskPriority() const override { return true; }
  uint64_t GetCr8() const override { return tpr_ >> 4; }
  void SetCr8(uint64_t cr8) override;

  // MsrDevice: 0x1b, 0x6e0 and, in x2APIC mode, 0x800-0x8ff. False is #GP.
  bool ReadMsr(uint32_t msr, uint64_t* value) override;
  bool WriteMsr(uint32_t msr, uint64_t value) override;
  uint64_t apic_base() const { return apic_base_; }
  bool SetApicBase(uint64_t value);  // false for a reserved bit or an invalid mode transition

  // xAPIC register access by offset (the MMIO handlers; tests).
  uint32_t ReadRegister(uint32_t offset);
  void WriteRegister(uint32_t offset, uint32_t value);

  bool hw_enabled() const { return apic_base_ & kBaseEnable; }
  bool x2apic() const { return apic_base_ & kBaseX2apic; }
  bool sw_enabled() const { return svr_ & 0x100; }
  uint32_t id() const { return id_; }
  uint8_t ppr() const;

 private:
  enum LvtIndex { kLvtTimer, kLvtThermal, kLvtPerf, kLvtLint0, kLvtLint1, kLvtError, kLvtCount };
  enum class TimerMode { kOneShot = 0, kPeriodic = 1, kTscDeadline = 2 };

  static int HighestBit(const std::array<uint32_t, 8>& bits);
  static bool TestBit(const std::array<uint32_t, 8>& bits, unsigned v) { return bits[v >> 5] & (1u << (v & 31)); }
  static void SetBit(std::array<uint32_t, 8>& bits, unsigned v, bool on) {
    if (on) bits[v >> 5] |= 1u << (v & 31);
    else bits[v >> 5] &= ~(1u << (v & 31));
  }

  bool ExtIntPending() const;
  bool MatchesDestination(uint32_t destination, bool logical) const;
  uint32_t X2apicLdr() const { return ((id_ >> 4) << 16) | (1u << (id_ & 15)); }
  // Puts a vector in IRR (the "accept" step); illegal vectors set ESR.
  bool AcceptInterrupt(uint8_t vector, bool level_triggered);
  void SignalError(uint32_t esr_bits);
  void RaiseNmi();
  void Eoi();
  void SendIpi(uint32_t icr_low, uint32_t destination);
  void SetLint(unsigned lvt, bool level);
  void WriteLvt(unsigned index, uint32_t value);
  void WriteSvr(uint32_t value);
  // Kicks the vCPU when an interrupt is deliverable.
  void UpdateIrq();
  void ResetRegisters();

  // The timer.
  TimerMode timer_mode() const { return static_cast<TimerMode>((lvt_[kLvtTimer] >> 17) & 3); }
  uint32_t CurrentCount() const;
  void WriteInitialCount(uint32_t value);
  void WriteDivide(uint32_t value);
  void WriteTscDeadline(uint64_t deadline);
  void StopTimer();
  void ArmTimerAt(uint64_t deadline_ns);
  void OnTimer(uint64_t generation);
  void FireTimer();

  Clock& clock_;
  std::function<void()> kick_;
  std::function<uint64_t()> guest_tsc_;
  uint64_t tsc_hz_;
  std::function<int()> extint_ack_;
  std::function<void(uint8_t)> eoi_broadcast_;
  FunctionIrqLine lint0_line_;
  FunctionIrqLine lint1_line_;

  const uint32_t initial_id_;
  uint64_t apic_base_ = 0;
  uint32_t id_ = 0;  // the x2APIC ID; the xAPIC ID register shows its low 8 bits in 31-24
  uint8_t tpr_ = 0;
  uint32_t ldr_ = 0, dfr_ = 0xffffffff, svr_ = 0xff;
  std::array<uint32_t, 8> isr_{}, tmr_{}, irr_{};
  uint32_t esr_ = 0, esr_pending_ = 0;
  uint32_t icr_low_ = 0, icr_high_ = 0;
  std::array<uint32_t, kLvtCount> lvt_{};
  bool lint0_level_ = false, lint1_level_ = false;
  bool extint_pending_ = false;  // an ExtINT message from the I/O APIC
  bool nmi_pending_ = false;

  uint32_t timer_initial_ = 0;
  uint32_t timer_divide_ = 0;    // the register
  unsigned timer_shift_ = 1;     // log2 of the divisor
  uint64_t timer_start_ns_ = 0;  // when the current count was last the initial count
  bool oneshot_pending_ = false; // a one-shot countdown has not fired yet
  uint64_t tsc_deadline_ = 0;
  bool timer_armed_ = false;
  Clock::TimerId timer_id_ = 0;
  uint64_t timer_generation_ = 0;
};

}  // namespace xlat
