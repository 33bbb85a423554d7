#include "devices/pit8254.h"

#include "devices/port_bus.h"

namespace xlat {

namespace {

constexpr uint64_t kNsPerSec = 1'000'000'000;
// Port 0x61 bits.
constexpr uint8_t kGate2 = 0x01, kRefreshToggle = 0x10, kOut2 = 0x20;
// The DRAM refresh request the toggle follows: every 15.085 us.
constexpr uint64_t kRefreshPeriodNs = 15085;

// Whole PIT ticks in `ns` (the tick boundaries are the instants TickToNs gives).
uint64_t NsToTicks(uint64_t ns) {
  return static_cast<uint64_t>(static_cast<unsigned __int128>(ns) * Pit8254::kHz / kNsPerSec);
}
// The first nanosecond at which `ticks` ticks have elapsed.
uint64_t TickToNs(uint64_t ticks) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(ticks) * kNsPerSec + Pit8254::kHz - 1) / Pit8254::kHz);
}

}  // namespace

Pit8254::Pit8254(Clock& clock, IrqLine* irq0) : clock_(clock), irq0_(irq0) { Reset(); }

Pit8254::~Pit8254() {
  if (timer_armed_) clock_.Cancel(timer_id_);
}

void Pit8254::Reset() {
  const uint64_t now = clock_.NowNs();
  for (unsigned i = 0; i < 3; i++) {
    Channel& ch = channels_[i];
    ch = Channel{};
    ch.gate = i != 2;  // channels 0 and 1 are gated high on a PC
    ch.mode = 3;
    ch.loaded = true;
    ch.null_count = false;
    ch.counting = ch.gate;
    ch.start_ns = now;
  }
  port61_ = 0;
  UpdateIrqTimer();
}

void Pit8254::Register(PortBus& ports) {
  ports.Register(
      "pit", 0x40, 4, [this](uint16_t port, unsigned) -> uint32_t { return ReadPort(port); },
      [this](uint16_t port, unsigned, uint32_t value) { WritePort(port, static_cast<uint8_t>(value)); });
  ports.Register(
      "port61", 0x61, 1, [this](uint16_t port, unsigned) -> uint32_t { return ReadPort(port); },
      [this](uint16_t port, unsigned, uint32_t value) { WritePort(port, static_cast<uint8_t>(value)); });
}

uint64_t Pit8254::Elapsed(const Channel& ch, uint64_t now) const {
  if (!ch.counting) return ch.held_ticks;
  return now > ch.start_ns ? NsToTicks(now - ch.start_ns) : 0;
}

bool Pit8254::Out(const Channel& ch, uint64_t now) const {
  // After a control word and before a count, OUT is low in mode 0, high otherwise.
  if (!ch.loaded) return ch.mode != 0;
  const uint64_t d = Elapsed(ch, now), n = ch.reload;
  switch (ch.mode) {
    case 0:  // interrupt on terminal count: low until the count reaches 0
      return d >= n;
    case 1:  // one-shot: low from the trigger until terminal count
      return !ch.triggered || d >= n;
    case 2:  // rate generator: low for the one tick when the count is 1
      if (!ch.gate || n < 2) return true;
      return d % n != n - 1;
    case 3:  // square wave: high for the first (larger) half of the period
      if (!ch.gate) return true;
      return d % n < (n + 1) / 2;
    case 4:  // software-triggered strobe: low for one tick at terminal count
      return d != n;
    default:  // 5: hardware-triggered strobe
      return !ch.triggered || d != n;
  }
}

uint16_t Pit8254::Count(const Channel& ch, uint64_t now) const {
  const uint64_t d = Elapsed(ch, now), n = ch.reload;
  if (!ch.loaded || ((ch.mode == 1 || ch.mode == 5) && !ch.triggered)) return static_cast<uint16_t>(n);
  switch (ch.mode) {
    case 2:  // n, n-1, ..., 1, reload
      return static_cast<uint16_t>(n - d % n);
    case 3: {  // counts down by two, twice per period
      const uint64_t p = d % n, half = (n + 1) / 2;
      return static_cast<uint16_t>(p < half ? n - 2 * p : n - 2 * (p - half));
    }
    default:  // 0, 1, 4, 5: count down and wrap past zero
      return static_cast<uint16_t>(n - d);
  }
}

uint64_t Pit8254::NextRisingEdge(const Channel& ch, uint64_t now) const {
  if (!ch.loaded || !ch.counting) return 0;
  const uint64_t d = Elapsed(ch, now), n = ch.reload;
  switch (ch.mode) {
    case 0:
    case 1:
      return d < n ? n : 0;
    case 2:
    case 3:  // the reload at the end of each period (a count of 1 keeps OUT high)
      return n < 2 ? 0 : (d / n + 1) * n;
    default:  // 4, 5: OUT rises again one tick after the strobe
      return d < n + 1 ? n + 1 : 0;
  }
}

void Pit8254::UpdateIrqTimer() {
  const Channel& ch = channels_[0];
  const uint64_t edge = NextRisingEdge(ch, clock_.NowNs());
  const uint64_t deadline = edge ? ch.start_ns + TickToNs(edge) : Clock::kNever;
  if (timer_armed_ && deadline == timer_deadline_) return;
  if (timer_armed_) clock_.Cancel(timer_id_);
  timer_armed_ = deadline != Clock::kNever;
  timer_deadline_ = deadline;
  if (!timer_armed_) return;
  const uint64_t generation = ++timer_generation_;
  timer_id_ = clock_.Schedule(deadline, [this, generation] { OnIrqTimer(generation); });
}

void Pit8254::OnIrqTimer(uint64_t generation) {
  if (generation != timer_generation_) return;  // reprogrammed meanwhile
  timer_armed_ = false;
  if (irq0_) irq0_->Pulse();
  UpdateIrqTimer();  // the next period, skipping any we were too late for
}

void Pit8254::LoadCount(Channel& ch, uint32_t count) {
  ch.reload = count ? count : 0x10000;
  ch.loaded = true;
  ch.null_count = false;
  ch.held_ticks = 0;
  ch.start_ns = clock_.NowNs();
  if (ch.mode == 1 || ch.mode == 5) {
    // Waits for a gate rising edge.
    ch.triggered = false;
    ch.counting = false;
  } else {
    // Modes 0 and 4 count while the gate is high; modes 2 and 3 start when
    // the gate is high. (A new count in modes 2 and 3 should wait for the end
    // of the current period; restarting at once is what QEMU does and what
    // Linux, which writes the control word first, cannot tell apart.)
    ch.counting = ch.gate;
  }
}

void Pit8254::SetGate(Channel& ch, bool gate) {
  if (ch.gate == gate) return;
  const uint64_t now = clock_.NowNs();
  const uint64_t elapsed = Elapsed(ch, now);
  ch.gate = gate;
  if (!ch.loaded) return;
  switch (ch.mode) {
    case 0:
    case 4:  // the gate pauses and resumes counting
      if (gate) {
        const uint64_t back = TickToNs(ch.held_ticks);
        ch.start_ns = now > back ? now - back : 0;
        ch.counting = true;
      } else {
        ch.held_ticks = elapsed;
        ch.counting = false;
      }
      break;
    case 1:
    case 5:  // a rising edge (re)triggers
      if (gate) {
        ch.triggered = true;
        ch.counting = true;
        ch.start_ns = now;
      }
      break;
    default:  // 2, 3: low stops with OUT high; a rising edge reloads
      ch.held_ticks = 0;
      ch.counting = gate;
      ch.start_ns = now;
      break;
  }
}

void Pit8254::LatchCount(Channel& ch) {
  // A second latch before the first is read is ignored.
  if (ch.count_latched) return;
  ch.latched_count = Count(ch, clock_.NowNs());
  ch.count_latched = true;
}

void Pit8254::LatchStatus(Channel& ch) {
  if (ch.status_latched) return;
  ch.latched_status = (Out(ch, clock_.NowNs()) ? 0x80 : 0) | (ch.null_count ? 0x40 : 0) | (ch.access << 4) |
                      (ch.mode << 1) | (ch.bcd ? 1 : 0);
  ch.status_latched = true;
}

void Pit8254::WriteControl(uint8_t value) {
  const unsigned select = value >> 6;
  if (select == 3) {
    // Read-back: bit 5 clear latches counts, bit 4 clear latches status, of
    // the channels in bits 1-3.
    for (unsigned i = 0; i < 3; i++) {
      if (!(value & (2u << i))) continue;
      if (!(value & 0x20)) LatchCount(channels_[i]);
      if (!(value & 0x10)) LatchStatus(channels_[i]);
    }
    return;
  }
  Channel& ch = channels_[select];
  const uint8_t access = (value >> 4) & 3;
  if (access == 0) {
    LatchCount(ch);
    return;
  }
  // A control word resets the channel: no count until one is written, OUT to
  // its initial level for the mode.
  ch.access = access;
  ch.mode = (value >> 1) & 7;
  if (ch.mode > 5) ch.mode -= 4;  // 6 and 7 are aliases of 2 and 3
  ch.bcd = value & 1;
  ch.loaded = false;
  ch.triggered = false;
  ch.counting = false;
  ch.held_ticks = 0;
  ch.null_count = true;
  ch.write_msb_next = false;
  ch.read_msb_next = false;
  ch.count_latched = false;
  ch.status_latched = false;
  if (select == 0) UpdateIrqTimer();
}

void Pit8254::WriteCounter(unsigned index, uint8_t value) {
  Channel& ch = channels_[index];
  uint32_t count;
  switch (ch.access) {
    case 1:
      count = value;
      break;
    case 2:
      count = static_cast<uint32_t>(value) << 8;
      break;
    default:
      if (!ch.write_msb_next) {
        ch.write_lsb = value;
        ch.write_msb_next = true;
        // In mode 0 the first byte stops the count (OUT stays low).
        if (ch.mode == 0) {
          ch.loaded = false;
          ch.counting = false;
          if (index == 0) UpdateIrqTimer();
        }
        return;
      }
      ch.write_msb_next = false;
      count = ch.write_lsb | (static_cast<uint32_t>(value) << 8);
      break;
  }
  LoadCount(ch, count);
  if (index == 0) UpdateIrqTimer();
}

uint8_t Pit8254::ReadCounter(unsigned index) {
  Channel& ch = channels_[index];
  if (ch.status_latched) {
    ch.status_latched = false;
    return ch.latched_status;
  }
  const uint16_t value = ch.count_latched ? ch.latched_count : Count(ch, clock_.NowNs());
  switch (ch.access) {
    case 1:
      ch.count_latched = false;
      return value & 0xff;
    case 2:
      ch.count_latched = false;
      return value >> 8;
    default:
      if (!ch.read_msb_next) {
        ch.read_msb_next = true;
        return value & 0xff;
      }
      ch.read_msb_next = false;
      ch.count_latched = false;
      return value >> 8;
  }
}

uint32_t Pit8254::ReadPort(uint16_t port) {
  if (port == 0x61) {
    const uint64_t now = clock_.NowNs();
    const bool refresh = (now / kRefreshPeriodNs) & 1;
    return port61_ | (refresh ? kRefreshToggle : 0) | (Out(channels_[2], now) ? kOut2 : 0);
  }
  const unsigned index = port - 0x40;
  if (index == 3) return 0xff;  // the control register is write-only
  return ReadCounter(index);
}

void Pit8254::WritePort(uint16_t port, uint8_t value) {
  if (port == 0x61) {
    port61_ = value & 0x0f;
    SetGate(channels_[2], value & kGate2);
    return;
  }
  const unsigned index = port - 0x40;
  if (index == 3) WriteControl(value);
  else WriteCounter(index, value);
}

bool Pit8254::output(unsigned channel) const { return Out(channels_[channel], clock_.NowNs()); }

uint16_t Pit8254::count(unsigned channel) const { return Count(channels_[channel], clock_.NowNs()); }

}  // namespace xlat
