#include "devices/lapic.h"

#include <cpuid.h>
#include <time.h>
#include <x86intrin.h>

#include <algorithm>

#include "devices/mmio_bus.h"

namespace xlat {

namespace {

constexpr uint64_t kNsPerSec = 1'000'000'000;

// Register offsets in the xAPIC page (the x2APIC MSR is 0x800 + offset / 16).
enum : uint32_t {
  kRegId = 0x20,
  kRegVersion = 0x30,
  kRegTpr = 0x80,
  kRegApr = 0x90,
  kRegPpr = 0xa0,
  kRegEoi = 0xb0,
  kRegRrd = 0xc0,
  kRegLdr = 0xd0,
  kRegDfr = 0xe0,
  kRegSvr = 0xf0,
  kRegIsr = 0x100,
  kRegTmr = 0x180,
  kRegIrr = 0x200,
  kRegEsr = 0x280,
  kRegIcrLow = 0x300,
  kRegIcrHigh = 0x310,
  kRegLvtTimer = 0x320,  // LVTs: timer, thermal, perf, LINT0, LINT1, error
  kRegLvtError = 0x370,
  kRegInitialCount = 0x380,
  kRegCurrentCount = 0x390,
  kRegDivide = 0x3e0,
  kRegSelfIpi = 0x3f0,  // x2APIC only
};

// Version 0x14 (integrated APIC), max LVT entry 5: six LVTs, no CMCI. This is
// what QEMU reports and what Linux expects of a modern APIC.
constexpr uint32_t kVersion = 0x14 | (5u << 16);

constexpr uint32_t kLvtMasked = 1u << 16;
constexpr uint32_t kSvrEnable = 1u << 8;
// Writable bits of each LVT (delivery status and remote IRR are read-only).
constexpr uint32_t kLvtWritable[] = {
    0x000700ff,  // timer: vector, mask, mode
    0x000107ff,  // thermal: vector, delivery mode, mask
    0x000107ff,  // perf
    0x0001a7ff,  // LINT0: vector, delivery mode, polarity, trigger, mask
    0x0001a7ff,  // LINT1
    0x000100ff,  // error: vector, mask
};
constexpr uint32_t kEsrReceiveIllegalVector = 1u << 6;
// A periodic timer faster than this would keep the vCPU from running the
// guest; like KVM, we stretch the period (the count still reads as programmed).
constexpr uint64_t kMinPeriodNs = 10'000;

uint32_t DeliveryMode(uint32_t lvt) { return (lvt >> 8) & 7; }

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * kNsPerSec + static_cast<uint64_t>(ts.tv_nsec);
}

// One (monotonic ns, TSC) pair taken as close together as we can: the TSC
// read bracketed by the two clock reads that were nearest each other.
void SamplePair(uint64_t* ns, uint64_t* tsc) {
  uint64_t best = ~0ull;
  for (int i = 0; i < 8; i++) {
    const uint64_t t0 = MonotonicNs();
    const uint64_t c = __rdtsc();
    const uint64_t t1 = MonotonicNs();
    if (t1 - t0 < best) {
      best = t1 - t0;
      *ns = t0 + (t1 - t0) / 2;
      *tsc = c;
    }
  }
}

uint64_t CalibrateTscHz() {
  // CPUID 0x15: TSC = crystal * EBX / EAX, when the crystal frequency is given.
  unsigned eax, ebx, ecx, edx;
  if (__get_cpuid_max(0, nullptr) >= 0x15 && __get_cpuid(0x15, &eax, &ebx, &ecx, &edx) && eax && ebx && ecx)
    return static_cast<uint64_t>(ecx) * ebx / eax;
  uint64_t ns0, tsc0, ns1, tsc1;
  SamplePair(&ns0, &tsc0);
  timespec sleep = {0, 20'000'000};
  while (nanosleep(&sleep, &sleep) != 0) {
  }
  SamplePair(&ns1, &tsc1);
  return static_cast<uint64_t>(static_cast<unsigned __int128>(tsc1 - tsc0) * kNsPerSec / (ns1 - ns0));
}

}  // namespace

uint64_t HostTscHz() {
  static const uint64_t hz = CalibrateTscHz();
  return hz;
}

Lapic::Lapic(Clock& clock, std::function<void()> kick, std::function<uint64_t()> guest_tsc, uint64_t tsc_hz,
             uint32_t apic_id)
    : clock_(clock),
      kick_(std::move(kick)),
      guest_tsc_(std::move(guest_tsc)),
      tsc_hz_(tsc_hz),
      lint0_line_([this](bool level) { SetLint(kLvtLint0, level); }),
      lint1_line_([this](bool level) { SetLint(kLvtLint1, level); }),
      initial_id_(apic_id) {
  Reset();
}

Lapic::~Lapic() { StopTimer(); }

void Lapic::Reset() {
  apic_base_ = kDefaultBase | kBaseBsp | kBaseEnable;
  ResetRegisters();
}

void Lapic::ResetRegisters() {
  StopTimer();
  id_ = initial_id_;
  tpr_ = 0;
  ldr_ = 0;
  dfr_ = 0xffffffff;
  svr_ = 0xff;
  isr_ = {};
  tmr_ = {};
  irr_ = {};
  esr_ = esr_pending_ = 0;
  icr_low_ = icr_high_ = 0;
  lvt_.fill(kLvtMasked);
  lvt_[kLvtLint0] = 7u << 8;  // ExtINT, unmasked: the virtual wire to the PIC
  extint_pending_ = false;
  nmi_pending_ = false;
  timer_initial_ = 0;
  timer_divide_ = 0;
  timer_shift_ = 1;
  timer_start_ns_ = 0;
  oneshot_pending_ = false;
  tsc_deadline_ = 0;
  UpdateIrq();
}

void Lapic::Register(MmioBus& mmio) {
  mmio.Register(
      "lapic", kDefaultBase, kMmioSize,
      [this](uint64_t offset, unsigned size) -> uint64_t {
        // Not decoded while disabled or in x2APIC mode.
        if (!hw_enabled() || x2apic()) return ~0ull;
        const unsigned byte = offset & 3;
        uint64_t value = ReadRegister(static_cast<uint32_t>(offset & ~3ull)) >> (8 * byte);
        return size >= 4 ? value : value & ((1ull << (8 * size)) - 1);
      },
      [this](uint64_t offset, unsigned size, uint64_t value) {
        // Registers take aligned 32-bit writes (wider writes give the low half).
        if (!hw_enabled() || x2apic() || (offset & 3) || size < 4) return;
        WriteRegister(static_cast<uint32_t>(offset), static_cast<uint32_t>(value));
      });
}

// ---- Priorities, acceptance, delivery to the CPU ----

int Lapic::HighestBit(const std::array<uint32_t, 8>& bits) {
  for (int i = 7; i >= 0; i--)
    if (bits[i]) return i * 32 + 31 - __builtin_clz(bits[i]);
  return -1;
}

uint8_t Lapic::ppr() const {
  const int isrv = HighestBit(isr_);
  const uint8_t isr_class = isrv < 0 ? 0 : isrv & 0xf0;
  return (tpr_ & 0xf0) >= isr_class ? tpr_ : isr_class;
}

bool Lapic::ExtIntPending() const {
  // Without the APIC (hardware-disabled), the PIC's INT goes to the CPU.
  if (!hw_enabled()) return lint0_level_;
  if (extint_pending_) return true;
  const uint32_t lvt = lvt_[kLvtLint0];
  return lint0_level_ && !(lvt & kLvtMasked) && DeliveryMode(lvt) == 7;
}

bool Lapic::HasPending() {
  if (ExtIntPending()) return true;
  if (!hw_enabled()) return false;
  const int v = HighestBit(irr_);
  return v >= 0 && (v & 0xf0) > (ppr() & 0xf0);
}

int Lapic::Acknowledge() {
  if (ExtIntPending()) {
    // The vector is the PIC's to give (its INTA cycle).
    extint_pending_ = false;
    const int vector = extint_ack_ ? extint_ack_() : -1;
    UpdateIrq();
    return vector;
  }
  if (!hw_enabled()) return -1;
  const int v = HighestBit(irr_);
  if (v < 0 || (v & 0xf0) <= (ppr() & 0xf0)) return -1;
  SetBit(irr_, v, false);
  SetBit(isr_, v, true);
  UpdateIrq();
  return v;
}

void Lapic::UpdateIrq() {
  if (kick_ && (nmi_pending_ || HasPending())) kick_();
}

bool Lapic::AcceptInterrupt(uint8_t vector, bool level_triggered) {
  // A software-disabled APIC accepts nothing but NMI/INIT/SIPI (as KVM).
  if (!hw_enabled() || !sw_enabled()) return false;
  if (vector < 16) {
    SignalError(kEsrReceiveIllegalVector);
    return false;
  }
  SetBit(irr_, vector, true);
  SetBit(tmr_, vector, level_triggered);
  UpdateIrq();
  return true;
}

void Lapic::SignalError(uint32_t esr_bits) {
  esr_pending_ |= esr_bits;
  const uint32_t lvt = lvt_[kLvtError];
  if (!(lvt & kLvtMasked) && (lvt & 0xff) >= 16) AcceptInterrupt(lvt & 0xff, false);
}

void Lapic::RaiseNmi() {
  nmi_pending_ = true;
  UpdateIrq();
}

void Lapic::Eoi() {
  const int v = HighestBit(isr_);
  if (v < 0) return;
  SetBit(isr_, v, false);
  // A level-triggered interrupt: tell the I/O APIC it was serviced.
  if (TestBit(tmr_, v) && eoi_broadcast_) eoi_broadcast_(static_cast<uint8_t>(v));
  UpdateIrq();
}

bool Lapic::MatchesDestination(uint32_t destination, bool logical) const {
  if (destination == 0xffffffff) return true;  // broadcast
  if (x2apic()) {
    if (!logical) return destination == id_;
    // Cluster model: cluster in bits 31-16, member bitmap in 15-0.
    const uint32_t ldr = X2apicLdr();
    return (destination >> 16) == (ldr >> 16) && (destination & ldr & 0xffff) != 0;
  }
  const uint8_t dest = destination & 0xff;
  if (dest == 0xff) return true;
  if (!logical) return dest == (id_ & 0xff);
  const uint8_t ldr = ldr_ >> 24;
  if ((dfr_ >> 28) == 0xf) return (dest & ldr) != 0;                  // flat model
  return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xf) != 0;         // cluster model
}

bool Lapic::Deliver(const ApicMessage& message) {
  if (!hw_enabled() || !MatchesDestination(message.destination, message.logical)) return false;
  switch (message.mode) {
    case ApicMessage::Mode::kFixed:
    case ApicMessage::Mode::kLowestPriority:  // the only CPU is the lowest
      return AcceptInterrupt(message.vector, message.level);
    case ApicMessage::Mode::kNmi:
      RaiseNmi();
      return true;
    case ApicMessage::Mode::kExtInt:
      extint_pending_ = true;
      UpdateIrq();
      return true;
    default:  // SMI, INIT, SIPI
      return false;
  }
}

void Lapic::DeliverVector(uint8_t vector, bool level_triggered) { AcceptInterrupt(vector, level_triggered); }

void Lapic::SetLint(unsigned index, bool level) {
  bool& line = index == kLvtLint0 ? lint0_level_ : lint1_level_;
  const bool rising = level && !line;
  line = level;
  const uint32_t lvt = lvt_[index];
  if (rising && hw_enabled() && !(lvt & kLvtMasked)) {
    switch (DeliveryMode(lvt)) {
      case 0:  // fixed (Linux's "virtual wire" timer fallback)
        AcceptInterrupt(lvt & 0xff, false);
        break;
      case 4:
        RaiseNmi();
        break;
      default:  // ExtINT is level-sensitive: HasPending() looks at the line
        break;
    }
  }
  UpdateIrq();
}

void Lapic::SendIpi(uint32_t icr_low, uint32_t destination) {
  const bool logical = icr_low & (1u << 11);
  bool to_self;
  switch ((icr_low >> 18) & 3) {
    case 0: to_self = MatchesDestination(destination, logical); break;
    case 1: to_self = true; break;    // self
    case 2: to_self = true; break;    // all including self
    default: to_self = false; break;  // all excluding self: nobody else
  }
  if (!to_self) return;
  switch (DeliveryMode(icr_low)) {
    case 0:  // fixed
    case 1:  // lowest priority
      AcceptInterrupt(icr_low & 0xff, false);
      break;
    case 4:
      RaiseNmi();
      break;
    default:  // SMI, INIT, SIPI: no other CPU to start
      break;
  }
}

void Lapic::SetCr8(uint64_t cr8) {
  tpr_ = static_cast<uint8_t>((cr8 & 15) << 4);
  UpdateIrq();
}

// ---- Registers ----

void Lapic::WriteSvr(uint32_t value) {
  // Vector, APIC software enable, focus processor checking; no EOI-broadcast
  // suppression (not advertised in the version register).
  svr_ = value & 0x3ff;
  if (!sw_enabled()) {
    // Software disable masks every LVT (and keeps them masked until re-enabled).
    for (uint32_t& lvt : lvt_) lvt |= kLvtMasked;
  }
  UpdateIrq();
}

void Lapic::WriteLvt(unsigned index, uint32_t value) {
  value &= kLvtWritable[index];
  if (!sw_enabled()) value |= kLvtMasked;
  const uint32_t old = lvt_[index];
  lvt_[index] = (old & ~kLvtWritable[index]) | value;
  if (index == kLvtTimer && ((old ^ value) >> 17 & 3)) {
    // Changing the timer mode stops the timer (as KVM; Linux always writes
    // the count or the deadline after the mode).
    StopTimer();
    timer_initial_ = 0;
    tsc_deadline_ = 0;
  }
  // A level still high on LINT0/1 may now be deliverable (ExtINT).
  UpdateIrq();
}

uint32_t Lapic::ReadRegister(uint32_t offset) {
  switch (offset) {
    case kRegId: return x2apic() ? id_ : id_ << 24;
    case kRegVersion: return kVersion;
    case kRegTpr: return tpr_;
    case kRegApr: return 0;
    case kRegPpr: return ppr();
    case kRegLdr: return x2apic() ? X2apicLdr() : ldr_;
    case kRegDfr: return dfr_;
    case kRegSvr: return svr_;
    case kRegEsr: return esr_;
    case kRegIcrLow: return icr_low_;  // delivery status: always idle
    case kRegIcrHigh: return icr_high_;
    case kRegInitialCount: return timer_initial_;
    case kRegCurrentCount: return CurrentCount();
    case kRegDivide: return timer_divide_;
    default: break;
  }
  if (offset >= kRegIsr && offset < kRegIsr + 0x80 && !(offset & 0xf)) return isr_[(offset - kRegIsr) >> 4];
  if (offset >= kRegTmr && offset < kRegTmr + 0x80 && !(offset & 0xf)) return tmr_[(offset - kRegTmr) >> 4];
  if (offset >= kRegIrr && offset < kRegIrr + 0x80 && !(offset & 0xf)) return irr_[(offset - kRegIrr) >> 4];
  if (offset >= kRegLvtTimer && offset <= kRegLvtError && !(offset & 0xf)) return lvt_[(offset - kRegLvtTimer) >> 4];
  return 0;
}

void Lapic::WriteRegister(uint32_t offset, uint32_t value) {
  switch (offset) {
    case kRegId:
      if (!x2apic()) id_ = value >> 24;
      return;
    case kRegTpr:
      tpr_ = value & 0xff;
      UpdateIrq();
      return;
    case kRegEoi:
      Eoi();
      return;
    case kRegLdr:
      ldr_ = value & 0xff000000;
      return;
    case kRegDfr:
      dfr_ = value | 0x0fffffff;
      return;
    case kRegSvr:
      WriteSvr(value);
      return;
    case kRegEsr:
      // A write latches the errors seen since the last one.
      esr_ = esr_pending_;
      esr_pending_ = 0;
      return;
    case kRegIcrLow:
      icr_low_ = value & ~(1u << 12);
      SendIpi(icr_low_, x2apic() ? icr_high_ : icr_high_ >> 24);
      return;
    case kRegIcrHigh:
      icr_high_ = value & 0xff000000;
      return;
    case kRegInitialCount:
      WriteInitialCount(value);
      return;
    case kRegDivide:
      WriteDivide(value);
      return;
    default:
      break;
  }
  if (offset >= kRegLvtTimer && offset <= kRegLvtError && !(offset & 0xf)) WriteLvt((offset - kRegLvtTimer) >> 4, value);
}

// ---- MSRs ----

bool Lapic::SetApicBase(uint64_t value) {
  constexpr uint64_t kValid = 0x000ffffffffff000ull | kBaseBsp | kBaseX2apic | kBaseEnable;
  if (value & ~kValid) return false;
  const bool enable = value & kBaseEnable, extd = value & kBaseX2apic;
  // Valid transitions: disabled <-> xAPIC -> x2APIC -> disabled.
  if (extd && !enable) return false;
  if (x2apic() && enable && !extd) return false;
  if (!hw_enabled() && extd) return false;
  const bool was_enabled = hw_enabled();
  value = (value & ~kBaseBsp) | (apic_base_ & kBaseBsp);
  apic_base_ = value;
  // Disabling puts the registers in their power-up state (that is what a
  // later re-enable finds).
  if (!enable && was_enabled) ResetRegisters();
  UpdateIrq();
  return true;
}

bool Lapic::ReadMsr(uint32_t msr, uint64_t* value) {
  if (msr == kMsrApicBase) {
    *value = apic_base_;
    return true;
  }
  if (msr == kMsrTscDeadline) {
    *value = timer_mode() == TimerMode::kTscDeadline ? tsc_deadline_ : 0;
    return true;
  }
  if (msr < kMsrX2apicFirst || msr > kMsrX2apicLast || !x2apic()) return false;
  const uint32_t offset = (msr - kMsrX2apicFirst) << 4;
  switch (offset) {
    case kRegIcrLow:
      *value = icr_low_ | static_cast<uint64_t>(icr_high_) << 32;
      return true;
    // Registers x2APIC does not have, or write-only ones.
    case kRegApr: case kRegEoi: case kRegRrd: case kRegDfr: case kRegIcrHigh: case kRegSelfIpi:
      return false;
    default:
      break;
  }
  const bool known = offset == kRegId || offset == kRegVersion || offset == kRegTpr || offset == kRegPpr ||
                     offset == kRegLdr || offset == kRegSvr || offset == kRegEsr ||
                     (offset >= kRegIsr && offset < kRegIrr + 0x80) ||
                     (offset >= kRegLvtTimer && offset <= kRegCurrentCount) || offset == kRegDivide;
  if (!known) return false;
  *value = ReadRegister(offset);
  return true;
}

bool Lapic::WriteMsr(uint32_t msr, uint64_t value) {
  if (msr == kMsrApicBase) return SetApicBase(value);
  if (msr == kMsrTscDeadline) {
    WriteTscDeadline(value);
    return true;
  }
  if (msr < kMsrX2apicFirst || msr > kMsrX2apicLast || !x2apic()) return false;
  const uint32_t offset = (msr - kMsrX2apicFirst) << 4;
  switch (offset) {
    case kRegTpr:
      if (value > 0xff) return false;
      break;
    case kRegEoi:
    case kRegEsr:
      if (value != 0) return false;  // x2APIC: nonzero is #GP
      break;
    case kRegSvr:
    case kRegInitialCount:
    case kRegDivide:
      if (value >> 32) return false;
      break;
    case kRegIcrLow:
      icr_low_ = static_cast<uint32_t>(value) & ~(1u << 12);
      icr_high_ = static_cast<uint32_t>(value >> 32);
      SendIpi(icr_low_, icr_high_);
      return true;
    case kRegSelfIpi:
      if (value > 0xff) return false;
      AcceptInterrupt(static_cast<uint8_t>(value), false);
      return true;
    default:
      if (offset >= kRegLvtTimer && offset <= kRegLvtError && !(value >> 32)) break;
      return false;  // read-only or absent
  }
  WriteRegister(offset, static_cast<uint32_t>(value));
  return true;
}

// ---- The timer ----

uint32_t Lapic::CurrentCount() const {
  if (timer_mode() == TimerMode::kTscDeadline || timer_initial_ == 0) return 0;
  const uint64_t now = clock_.NowNs();
  const uint64_t ticks = now > timer_start_ns_ ? (now - timer_start_ns_) >> timer_shift_ : 0;
  if (timer_mode() == TimerMode::kPeriodic) return timer_initial_ - static_cast<uint32_t>(ticks % timer_initial_);
  return ticks >= timer_initial_ ? 0 : timer_initial_ - static_cast<uint32_t>(ticks);
}

void Lapic::StopTimer() {
  if (timer_armed_) clock_.Cancel(timer_id_);
  timer_armed_ = false;
  oneshot_pending_ = false;
  timer_generation_++;
}

void Lapic::ArmTimerAt(uint64_t deadline_ns) {
  if (timer_armed_) clock_.Cancel(timer_id_);
  const uint64_t generation = ++timer_generation_;
  timer_armed_ = true;
  timer_id_ = clock_.Schedule(deadline_ns, [this, generation] { OnTimer(generation); });
}

void Lapic::WriteInitialCount(uint32_t value) {
  if (timer_mode() == TimerMode::kTscDeadline) return;  // ignored in that mode
  StopTimer();
  timer_initial_ = value;
  timer_start_ns_ = clock_.NowNs();
  if (value == 0) return;  // a zero count stops the timer
  const uint64_t period = static_cast<uint64_t>(value) << timer_shift_;
  if (timer_mode() == TimerMode::kPeriodic) {
    ArmTimerAt(timer_start_ns_ + std::max(period, kMinPeriodNs));
  } else {
    oneshot_pending_ = true;
    ArmTimerAt(timer_start_ns_ + period);
  }
}

void Lapic::WriteDivide(uint32_t value) {
  timer_divide_ = value & 0xb;
  const unsigned code = (value & 3) | ((value >> 1) & 4);  // bits 0, 1, 3
  const unsigned shift = code == 7 ? 0 : code + 1;         // divide by 2 << code, or 1
  if (shift == timer_shift_) return;
  if (timer_initial_ == 0 || timer_mode() == TimerMode::kTscDeadline) {
    timer_shift_ = shift;
    return;
  }
  // Keep the current count; the rest of the countdown runs at the new rate.
  const uint64_t now = clock_.NowNs();
  const uint32_t current = CurrentCount();
  timer_shift_ = shift;
  const uint64_t done = static_cast<uint64_t>(timer_initial_ - current) << shift;
  timer_start_ns_ = now > done ? now - done : 0;
  if (timer_mode() == TimerMode::kPeriodic) {
    ArmTimerAt(now + std::max(static_cast<uint64_t>(current) << shift, kMinPeriodNs));
  } else if (oneshot_pending_) {
    ArmTimerAt(now + (static_cast<uint64_t>(current) << shift));
  }
}

void Lapic::WriteTscDeadline(uint64_t deadline) {
  if (timer_mode() != TimerMode::kTscDeadline) return;  // ignored in other modes
  StopTimer();
  tsc_deadline_ = deadline;
  if (deadline == 0 || !guest_tsc_ || tsc_hz_ == 0) return;  // zero disarms
  const uint64_t tsc = guest_tsc_();
  if (deadline <= tsc) {
    FireTimer();
    return;
  }
  const uint64_t ns = static_cast<uint64_t>(
      (static_cast<unsigned __int128>(deadline - tsc) * kNsPerSec + tsc_hz_ - 1) / tsc_hz_);
  ArmTimerAt(clock_.NowNs() + ns);
}

void Lapic::OnTimer(uint64_t generation) {
  if (generation != timer_generation_) return;  // reprogrammed meanwhile
  timer_armed_ = false;
  switch (timer_mode()) {
    case TimerMode::kTscDeadline:
      // The host clock and the TSC may disagree by a few ppm: never early.
      if (tsc_deadline_ != 0) WriteTscDeadline(tsc_deadline_);
      return;
    case TimerMode::kPeriodic: {
      if (timer_initial_ == 0) return;
      FireTimer();
      // The next period boundary after now; periods the vCPU missed are
      // dropped (they would only coalesce in IRR).
      const uint64_t period = std::max(static_cast<uint64_t>(timer_initial_) << timer_shift_, kMinPeriodNs);
      const uint64_t now = clock_.NowNs();
      ArmTimerAt(timer_start_ns_ + ((now - timer_start_ns_) / period + 1) * period);
      return;
    }
    default:
      if (!oneshot_pending_) return;
      oneshot_pending_ = false;
      FireTimer();
      return;
  }
}

void Lapic::FireTimer() {
  if (timer_mode() == TimerMode::kTscDeadline) tsc_deadline_ = 0;  // the MSR reads 0 once fired
  const uint32_t lvt = lvt_[kLvtTimer];
  if (!(lvt & kLvtMasked)) AcceptInterrupt(lvt & 0xff, false);
}

}  // namespace xlat
