#include "devices/rtc_cmos.h"

#include <time.h>

#include <algorithm>

#include "devices/port_bus.h"

namespace xlat {

namespace {

constexpr int64_t kNsPerSec = 1'000'000'000;

enum : uint8_t {
  kSeconds = 0x00,
  kSecondsAlarm = 0x01,
  kMinutes = 0x02,
  kMinutesAlarm = 0x03,
  kHours = 0x04,
  kHoursAlarm = 0x05,
  kDayOfWeek = 0x06,
  kDayOfMonth = 0x07,
  kMonth = 0x08,
  kYear = 0x09,
  kRegA = 0x0a,
  kRegB = 0x0b,
  kRegC = 0x0c,
  kRegD = 0x0d,
  kCentury = 0x32,  // where PC firmware (and QEMU's FADT) keeps the century
};

// Register A.
constexpr uint8_t kUip = 0x80, kDividerMask = 0x70, kDividerNormal = 0x20, kRateMask = 0x0f;
// Register B.
constexpr uint8_t kSet = 0x80, kPie = 0x40, kAie = 0x20, kUie = 0x10, kDm = 0x04, k24h = 0x02;
// Register C.
constexpr uint8_t kIrqf = 0x80, kPf = 0x40, kAf = 0x20, kUf = 0x10;
// Register D: the battery is fine.
constexpr uint8_t kVrt = 0x80;

// UIP is set this long before the update at each second boundary (8 cycles
// of the 32.768 kHz time base).
constexpr int64_t kUipHoldNs = 244'141;

bool IsTimeRegister(uint8_t index) {
  return index == kSeconds || index == kMinutes || index == kHours || (index >= kDayOfWeek && index <= kYear) ||
         index == kCentury;
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

int64_t HostRealtimeNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

}  // namespace

RtcCmos::RtcCmos(Clock& clock, IrqLine* irq8) : clock_(clock), irq8_(irq8) {
  ram_[0x14] = 0x06;  // equipment: FPU, PS/2 mouse; no floppy (0x10 = 0)
  Reset();
}

RtcCmos::~RtcCmos() {
  if (timer_armed_) clock_.Cancel(timer_id_);
}

void RtcCmos::Reset() {
  ram_[kRegA] = kDividerNormal | 0x06;  // 32.768 kHz, periodic rate 1024 Hz
  ram_[kRegB] = k24h;                   // BCD, 24-hour, no interrupts
  ram_[kRegC] = 0;
  ram_[kRegD] = kVrt;
  SetGuestNs(HostRealtimeNs());
  UpdateIrq();
  ArmTimer();
}

void RtcCmos::Register(PortBus& ports) {
  ports.Register(
      "rtc-cmos", 0x70, 2, [this](uint16_t port, unsigned) -> uint32_t { return ReadPort(port); },
      [this](uint16_t port, unsigned, uint32_t value) { WritePort(port, static_cast<uint8_t>(value)); });
}

void RtcCmos::SetMemorySize(uint64_t below_4g_bytes, uint64_t above_4g_bytes) {
  auto put16 = [this](uint8_t index, uint64_t value) {
    value = std::min<uint64_t>(value, 0xffff);
    ram_[index] = value & 0xff;
    ram_[index + 1] = value >> 8;
  };
  put16(0x15, 640);  // base memory, KiB
  const uint64_t extended_kib = below_4g_bytes > (1 << 20) ? (below_4g_bytes - (1 << 20)) >> 10 : 0;
  put16(0x17, extended_kib);
  put16(0x30, extended_kib);
  put16(0x34, below_4g_bytes > (16 << 20) ? (below_4g_bytes - (16 << 20)) >> 16 : 0);
  const uint64_t high = above_4g_bytes >> 16;
  ram_[0x5b] = high & 0xff;
  ram_[0x5c] = (high >> 8) & 0xff;
  ram_[0x5d] = (high >> 16) & 0xff;
}

// ---- Time ----

int64_t RtcCmos::GuestNs() const { return static_cast<int64_t>(clock_.HostNs()) + guest_minus_host_ns_; }

void RtcCmos::SetGuestNs(int64_t guest_ns) {
  guest_minus_host_ns_ = guest_ns - static_cast<int64_t>(clock_.HostNs());
  SeeFlags();
}

void RtcCmos::SeeFlags() {
  flags_seen_ns_ = GuestNs();
  flags_seen_clock_ns_ = clock_.NowNs();
}

bool RtcCmos::frozen() const {
  // Divider values 6 and 7 hold the divider chain in reset.
  return (ram_[kRegB] & kSet) || (ram_[kRegA] & 0x60) == 0x60;
}
bool RtcCmos::binary() const { return ram_[kRegB] & kDm; }
bool RtcCmos::hours24() const { return ram_[kRegB] & k24h; }

uint8_t RtcCmos::Encode(int value) const {
  return binary() ? static_cast<uint8_t>(value) : static_cast<uint8_t>(((value / 10) << 4) | (value % 10));
}

int RtcCmos::Decode(uint8_t reg) const { return binary() ? reg : (reg >> 4) * 10 + (reg & 0xf); }

void RtcCmos::RenderTime(int64_t seconds, uint8_t* regs) const {
  const time_t t = static_cast<time_t>(seconds);
  tm tm;
  gmtime_r(&t, &tm);
  const int year = tm.tm_year + 1900;
  regs[kSeconds] = Encode(tm.tm_sec);
  regs[kMinutes] = Encode(tm.tm_min);
  if (hours24()) {
    regs[kHours] = Encode(tm.tm_hour);
  } else {
    // 12-hour: 12, 1, ..., 11 with bit 7 for PM.
    const int h12 = tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12;
    regs[kHours] = Encode(h12) | (tm.tm_hour >= 12 ? 0x80 : 0);
  }
  regs[kDayOfWeek] = Encode(tm.tm_wday + 1);  // Sunday = 1
  regs[kDayOfMonth] = Encode(tm.tm_mday);
  regs[kMonth] = Encode(tm.tm_mon + 1);
  regs[kYear] = Encode(year % 100);
  regs[kCentury] = Encode(year / 100);
}

int64_t RtcCmos::ParseTime() const {
  tm tm = {};
  tm.tm_sec = Decode(ram_[kSeconds]);
  tm.tm_min = Decode(ram_[kMinutes]);
  if (hours24()) {
    tm.tm_hour = Decode(ram_[kHours]);
  } else {
    tm.tm_hour = Decode(ram_[kHours] & 0x7f) % 12 + ((ram_[kHours] & 0x80) ? 12 : 0);
  }
  tm.tm_mday = Decode(ram_[kDayOfMonth]);
  tm.tm_mon = Decode(ram_[kMonth]) - 1;
  tm.tm_year = Decode(ram_[kCentury]) * 100 + Decode(ram_[kYear]) - 1900;
  return static_cast<int64_t>(timegm(&tm));
}

bool RtcCmos::UpdateInProgress() const {
  if (frozen()) return false;
  return GuestNs() % kNsPerSec >= kNsPerSec - kUipHoldNs;
}

// The periodic interrupt's period, num/den nanoseconds; 0 if off.
uint64_t RtcCmos::PeriodicNs(uint64_t* num, uint64_t* den) const {
  unsigned rate = ram_[kRegA] & kRateMask;
  if (rate == 0 || (ram_[kRegA] & kDividerMask) != kDividerNormal) return 0;
  if (rate < 3) rate += 7;  // rates 1 and 2 are 256 and 128 Hz with a 32.768 kHz base
  *num = (1ull << (rate - 1)) * kNsPerSec;
  *den = 32768;
  return *num / *den;
}

// ---- Flags and the interrupt ----

void RtcCmos::RefreshFlags() {
  const int64_t now = GuestNs();
  if (!frozen() && FloorDiv(now, kNsPerSec) > FloorDiv(flags_seen_ns_, kNsPerSec)) ram_[kRegC] |= kUf;
  uint64_t num, den;
  if (PeriodicNs(&num, &den)) {
    // Periodic boundaries are counted in clock time, which the guest's time
    // writes do not move and which stands still while the clock is paused.
    const uint64_t clock_now = clock_.NowNs();
    const uint64_t clock_seen = flags_seen_clock_ns_;
    auto index = [&](uint64_t t) { return static_cast<uint64_t>(static_cast<unsigned __int128>(t) * den / num); };
    if (clock_now >= clock_seen && index(clock_now) > index(clock_seen)) ram_[kRegC] |= kPf;
  }
}

bool RtcCmos::AlarmMatches(int64_t seconds) const {
  // Compare in the register format; an alarm byte of 0xc0-0xff is "don't care".
  std::array<uint8_t, 128> now{};
  RenderTime(seconds, now.data());
  const uint8_t pairs[3][2] = {{kSecondsAlarm, kSeconds}, {kMinutesAlarm, kMinutes}, {kHoursAlarm, kHours}};
  for (const auto& p : pairs)
    if ((ram_[p[0]] & 0xc0) != 0xc0 && ram_[p[0]] != now[p[1]]) return false;
  return true;
}

void RtcCmos::UpdateIrq() {
  RefreshFlags();
  const uint8_t enabled = ram_[kRegB] & (kPie | kAie | kUie);
  const bool level = (ram_[kRegC] & enabled & (kPf | kAf | kUf)) != 0;
  if (level) ram_[kRegC] |= kIrqf;
  if (level == irq_level_) return;
  irq_level_ = level;
  if (irq8_) irq8_->Set(level);
}

void RtcCmos::ArmTimer() {
  if (timer_armed_) clock_.Cancel(timer_id_);
  timer_armed_ = false;
  ++timer_generation_;
  const uint8_t b = ram_[kRegB];
  const uint64_t clock_now = clock_.NowNs();
  uint64_t deadline = Clock::kNever;
  if ((b & (kUie | kAie)) && !frozen()) {
    // The next second boundary of guest time.
    const int64_t now = GuestNs();
    const int64_t next = (FloorDiv(now, kNsPerSec) + 1) * kNsPerSec;
    deadline = clock_now + static_cast<uint64_t>(next - now);
  }
  uint64_t num, den;
  if ((b & kPie) && PeriodicNs(&num, &den)) {
    const uint64_t k = static_cast<uint64_t>(static_cast<unsigned __int128>(clock_now) * den / num) + 1;
    const uint64_t next = static_cast<uint64_t>((static_cast<unsigned __int128>(k) * num + den - 1) / den);
    deadline = std::min(deadline, next);
  }
  if (deadline == Clock::kNever) return;
  const uint64_t generation = timer_generation_;
  timer_armed_ = true;
  timer_id_ = clock_.Schedule(deadline, [this, generation] { OnTimer(generation); });
}

void RtcCmos::OnTimer(uint64_t generation) {
  if (generation != timer_generation_) return;
  timer_armed_ = false;
  if ((ram_[kRegB] & kAie) && !frozen() && AlarmMatches(FloorDiv(GuestNs(), kNsPerSec))) ram_[kRegC] |= kAf;
  UpdateIrq();
  ArmTimer();
}

// ---- Registers ----

uint8_t RtcCmos::ReadRegister(uint8_t index) {
  if (IsTimeRegister(index)) {
    if (!frozen()) RenderTime(FloorDiv(GuestNs(), kNsPerSec), ram_.data());
    return ram_[index];
  }
  switch (index) {
    case kRegA:
      return (ram_[kRegA] & ~kUip) | (UpdateInProgress() ? kUip : 0);
    case kRegC: {
      // Reading C returns the flags and clears them, which drops IRQ 8.
      UpdateIrq();
      const uint8_t value = ram_[kRegC];
      ram_[kRegC] = 0;
      SeeFlags();
      UpdateIrq();
      return value;
    }
    case kRegD:
      return kVrt;
    default:
      return ram_[index];
  }
}

void RtcCmos::WriteRegister(uint8_t index, uint8_t value) {
  if (IsTimeRegister(index)) {
    if (frozen()) {
      ram_[index] = value;
      return;
    }
    // The clock keeps running from the new value, in the same sub-second phase.
    const int64_t now = GuestNs();
    RenderTime(FloorDiv(now, kNsPerSec), ram_.data());
    ram_[index] = value;
    SetGuestNs(ParseTime() * kNsPerSec + (now - FloorDiv(now, kNsPerSec) * kNsPerSec));
    ArmTimer();
    return;
  }
  switch (index) {
    case kRegA:
    case kRegB: {
      const bool was_frozen = frozen();
      const bool was_divider_reset = (ram_[kRegA] & 0x60) == 0x60;
      if (index == kRegA) {
        ram_[kRegA] = value & ~kUip;
      } else {
        ram_[kRegB] = (value & kSet) ? (value & ~kUie) : value;  // SET clears UIE
      }
      if (!was_frozen && frozen()) {
        // The registers hold still for the guest to write.
        RenderTime(FloorDiv(GuestNs(), kNsPerSec), ram_.data());
      } else if (was_frozen && !frozen()) {
        // Runs from what was written; after a divider reset the first update
        // comes half a second later.
        const int64_t phase = was_divider_reset ? kNsPerSec / 2 : 0;
        SetGuestNs(ParseTime() * kNsPerSec + phase);
      }
      UpdateIrq();
      ArmTimer();
      return;
    }
    case kRegC:
    case kRegD:
      return;  // read-only
    default:
      ram_[index] = value;
      return;
  }
}

uint32_t RtcCmos::ReadPort(uint16_t port) {
  if (port == 0x70) return 0xff;  // the index register is write-only
  return ReadRegister(index_);
}

void RtcCmos::WritePort(uint16_t port, uint8_t value) {
  if (port == 0x70) {
    index_ = value & 0x7f;
    nmi_masked_ = value & 0x80;
    return;
  }
  WriteRegister(index_, value);
}

}  // namespace xlat
