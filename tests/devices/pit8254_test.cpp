// The 8254 PIT through its ports, as Linux uses it: channel 0 in mode 2 at
// HZ=250 (the periodic clockevent) and mode 4 (one-shot), channel 2 in mode 0
// gated through port 0x61 for the TSC calibration, checked against real time.
#include "devices/pit8254.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "devices/port_bus.h"

namespace xlat {
namespace {

class PulseCounter : public IrqLine {
 public:
  explicit PulseCounter(Clock& clock) : clock_(clock) {}
  void Set(bool level) override {
    if (level && !level_) rising_ns.push_back(clock_.NowNs());
    level_ = level;
  }
  std::vector<uint64_t> rising_ns;

 private:
  Clock& clock_;
  bool level_ = false;
};

// Runs the clock's timers as the vCPU would, until `ns` from now.
void RunFor(Clock& clock, uint64_t ns) {
  const uint64_t end = clock.NowNs() + ns;
  while (clock.NowNs() < end) {
    const uint64_t next = std::min(clock.RunExpired(), end);
    const uint64_t now = clock.NowNs();
    if (next > now) std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<uint64_t>(next - now, 200'000)));
  }
  clock.RunExpired();
}

uint64_t NsOfTicks(uint64_t ticks) { return ticks * 1'000'000'000ull / Pit8254::kHz; }

class Pit : public ::testing::Test {
 protected:
  void SetUp() override { pit_.Register(ports_); }
  void Out(uint16_t port, uint8_t v) { ports_.Write(port, 1, v); }
  uint8_t In(uint16_t port) { return static_cast<uint8_t>(ports_.Read(port, 1)); }
  uint16_t Latch(unsigned ch) {
    Out(0x43, static_cast<uint8_t>(ch << 6));  // counter latch
    const uint8_t lo = In(0x40 + ch);
    return lo | (In(0x40 + ch) << 8);
  }

  Clock clock_;
  PulseCounter irq0_{clock_};
  Pit8254 pit_{clock_, &irq0_};
  PortBus ports_;
};

TEST_F(Pit, PeriodicMode2AtHz250) {
  constexpr uint16_t kLatch = (Pit8254::kHz + 125) / 250;  // Linux's PIT_LATCH
  Out(0x43, 0x34);  // channel 0, LSB then MSB, mode 2
  const uint64_t start = clock_.NowNs();
  Out(0x40, kLatch & 0xff);
  Out(0x40, kLatch >> 8);
  irq0_.rising_ns.clear();  // the reset state (mode 3, 18.2 Hz) is not ours to count
  // Ten ticks take 40 ms; a starved thread loses ticks (they are dropped,
  // never bunched), so allow more time, but never more ticks than periods.
  while (irq0_.rising_ns.size() < 10 && clock_.NowNs() - start < 400'000'000) RunFor(clock_, 1'000'000);
  const uint64_t end = clock_.NowNs();
  ASSERT_GE(irq0_.rising_ns.size(), 10u);
  ASSERT_LE(irq0_.rising_ns.size(), (end - start) / NsOfTicks(kLatch));
  for (size_t i = 0; i < irq0_.rising_ns.size(); i++) {
    // Never early; the k-th edge is at k * latch ticks.
    const uint64_t due = start + NsOfTicks(uint64_t{kLatch} * (i + 1));
    EXPECT_GE(irq0_.rising_ns[i] + 1000, due) << "edge " << i;
  }
}

TEST_F(Pit, OneShotMode4FiresOnce) {
  Out(0x43, 0x38);  // channel 0, LSB then MSB, mode 4 (Linux's oneshot)
  const uint16_t delta = 2386;  // 2 ms
  Out(0x40, delta & 0xff);
  irq0_.rising_ns.clear();
  const uint64_t start = clock_.NowNs();
  Out(0x40, delta >> 8);
  RunFor(clock_, 10'000'000);
  ASSERT_EQ(irq0_.rising_ns.size(), 1u);
  EXPECT_GE(irq0_.rising_ns[0], start + NsOfTicks(delta));
}

TEST_F(Pit, ShutdownStopsTheTicks) {
  Out(0x43, 0x34);
  Out(0x40, 0xa9);
  Out(0x40, 0x04);  // ~1 ms
  RunFor(clock_, 3'000'000);
  EXPECT_GE(irq0_.rising_ns.size(), 1u);
  Out(0x43, 0x30);  // Linux's pit_shutdown: mode 0, no count
  irq0_.rising_ns.clear();
  RunFor(clock_, 5'000'000);
  EXPECT_EQ(irq0_.rising_ns.size(), 0u);
}

TEST_F(Pit, CountIsExactAgainstTheClock) {
  // Channel 2, mode 0, as pit_calibrate_tsc programs it.
  Out(0x61, (In(0x61) & ~0x02) | 0x01);
  Out(0x43, 0xb0);
  Out(0x42, 0xff);
  const uint64_t t0 = clock_.NowNs();
  Out(0x42, 0xff);
  const uint64_t t1 = clock_.NowNs();
  for (int i = 0; i < 20; i++) {
    std::this_thread::sleep_for(std::chrono::microseconds(500));
    const uint64_t before = clock_.NowNs();
    const uint16_t count = Latch(2);
    const uint64_t after = clock_.NowNs();
    // The count must lie between what [before, after] allow, +-1 tick.
    const uint64_t most = 0xffff - (before - t1) * Pit8254::kHz / 1'000'000'000;
    const uint64_t least = 0xffff - (after - t0) * Pit8254::kHz / 1'000'000'000;
    EXPECT_LE(count, most + 1);
    EXPECT_GE(count + 1, least);
  }
}

TEST_F(Pit, Channel2OutputRisesExactlyAtTerminalCount) {
  // arch/x86/kernel/tsc.c pit_calibrate_tsc(CAL_LATCH, CAL_MS, CAL_PIT_LOOPS):
  // poll port 0x61 bit 5 until channel 2's OUT goes high. Every read is
  // bracketed by clock reads: OUT must be low if read wholly before the
  // terminal count and high if read wholly after it.
  constexpr uint16_t kCalLatch = Pit8254::kHz / 100;  // 10 ms
  Out(0x61, (In(0x61) & ~0x02) | 0x01);
  Out(0x43, 0xb0);
  Out(0x42, kCalLatch & 0xff);
  const uint64_t t0 = clock_.NowNs();
  Out(0x42, kCalLatch >> 8);
  const uint64_t t1 = clock_.NowNs();
  int loops = 0;
  for (;;) {
    const uint64_t before = clock_.NowNs();
    const bool out = In(0x61) & 0x20;
    const uint64_t after = clock_.NowNs();
    if (after < t0 + NsOfTicks(kCalLatch)) ASSERT_FALSE(out) << "early by " << t0 + NsOfTicks(kCalLatch) - after;
    if (before > t1 + NsOfTicks(kCalLatch) + 1000) ASSERT_TRUE(out) << "late by " << before - t1 - NsOfTicks(kCalLatch);
    if (out) break;
    loops++;
  }
  EXPECT_GT(loops, 1000);  // CAL_PIT_LOOPS
  // OUT stays high after terminal count in mode 0.
  EXPECT_TRUE(In(0x61) & 0x20);
}

TEST_F(Pit, GateLowPausesMode0) {
  Out(0x61, 0x00);  // gate low
  Out(0x43, 0xb0);
  Out(0x42, 0x00);
  Out(0x42, 0xf0);  // 0xf000
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(Latch(2), 0xf000);
  EXPECT_FALSE(In(0x61) & 0x20);
  const uint64_t t0 = clock_.NowNs();
  Out(0x61, 0x01);
  const uint64_t t1 = clock_.NowNs();
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const uint64_t t2 = clock_.NowNs();
  const uint16_t count = Latch(2);
  const uint64_t t3 = clock_.NowNs();
  // It counted for the time the gate was high, and only that.
  EXPECT_LE(count, 0xf000 - (t2 - t1) * Pit8254::kHz / 1'000'000'000 + 1);
  EXPECT_GE(count + 1, 0xf000 - (t3 - t0) * Pit8254::kHz / 1'000'000'000 - 1);
  // Gate low again: the count holds.
  Out(0x61, 0x00);
  const uint16_t held = Latch(2);
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(Latch(2), held);
}

TEST_F(Pit, QuickCalibrationSeesTheMsbStepDown) {
  // quick_pit_calibrate: mode 0 from 0xffff, reading LSB then MSB.
  Out(0x61, (In(0x61) & ~0x02) | 0x01);
  Out(0x43, 0xb0);
  Out(0x42, 0xff);
  const uint64_t t0 = clock_.NowNs();
  Out(0x42, 0xff);
  const uint64_t t1 = clock_.NowNs();
  uint8_t msb = 0xff;
  uint64_t last_before = t1;
  while (clock_.NowNs() < t1 + 3'000'000) {
    last_before = clock_.NowNs();
    In(0x42);
    const uint8_t m = In(0x42);
    ASSERT_LE(m, msb);  // counts down
    msb = m;
  }
  const uint64_t t2 = clock_.NowNs();
  // The MSB fell by the ticks that passed, to within one step.
  const uint64_t fell = 0xff - msb;
  EXPECT_GE(fell + 1, (last_before - t1) * Pit8254::kHz / 1'000'000'000 / 256);
  EXPECT_LE(fell, (t2 - t0) * Pit8254::kHz / 1'000'000'000 / 256 + 1);
}

TEST_F(Pit, LatchHoldsTheCount) {
  Out(0x43, 0x34);
  Out(0x40, 0xff);
  const uint64_t t0 = clock_.NowNs();
  Out(0x40, 0xff);
  Out(0x43, 0x00);  // latch channel 0
  const uint64_t t1 = clock_.NowNs();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const uint8_t lo = In(0x40), hi = In(0x40);
  const uint16_t latched = lo | (hi << 8);
  // Taken at the latch command, not 2 ms later at the read.
  EXPECT_GE(latched + 1, 0xffff - (t1 - t0) * Pit8254::kHz / 1'000'000'000);
  EXPECT_LT(Latch(0), latched - 2000);
}

TEST_F(Pit, ReadBackStatusAndCount) {
  Out(0x43, 0x34);  // channel 0: LSB/MSB, mode 2
  Out(0x43, 0xe2);  // read-back: status only, channel 0
  EXPECT_EQ(In(0x40), 0x40 | 0x80 | 0x34);  // null count, OUT high, access 3 mode 2
  Out(0x40, 0x00);
  const uint64_t t0 = clock_.NowNs();
  Out(0x40, 0x80);
  Out(0x43, 0xc2);  // count and status
  const uint64_t t1 = clock_.NowNs();
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const uint8_t status = In(0x40);
  EXPECT_EQ(status & 0x7f, 0x34);
  const uint16_t count = In(0x40) | (In(0x40) << 8);
  EXPECT_LE(count, 0x8000);
  EXPECT_GE(count + 1, 0x8000 - (t1 - t0) * Pit8254::kHz / 1'000'000'000);
}

TEST_F(Pit, LsbOnlyAndMsbOnlyAccess) {
  Out(0x43, 0x90);  // channel 2, LSB only, mode 0
  Out(0x61, 0x01);
  Out(0x42, 0xf0);
  const uint8_t v = In(0x42);
  EXPECT_LE(v, 0xf0);
  Out(0x43, 0xa0);  // channel 2, MSB only, mode 0
  Out(0x42, 0x40);  // 0x4000
  EXPECT_LE(In(0x42), 0x40);
  EXPECT_GE(In(0x42), 0x3f);
}

TEST_F(Pit, SquareWaveOnChannel2) {
  Out(0x43, 0xb6);  // channel 2, LSB/MSB, mode 3 (the speaker's)
  Out(0x42, 0x00);
  Out(0x42, 0x08);  // 2048 ticks: ~1.72 ms period, high for the first half
  const uint64_t t0 = clock_.NowNs();
  Out(0x61, 0x03);  // the gate's rising edge starts it
  const uint64_t t1 = clock_.NowNs();
  int highs = 0, lows = 0;
  while ((highs == 0 || lows == 0) && clock_.NowNs() - t1 < 400'000'000) {
    const uint64_t before = clock_.NowNs();
    const bool out = In(0x61) & 0x20;
    const uint64_t after = clock_.NowNs();
    out ? highs++ : lows++;
    // Where in the period the read fell (bounds from both brackets).
    const uint64_t earliest = (before - t1) * Pit8254::kHz / 1'000'000'000;
    const uint64_t latest = (after - t0) * Pit8254::kHz / 1'000'000'000 + 1;
    if (earliest / 2048 == latest / 2048) {
      if (latest % 2048 < 1024) EXPECT_TRUE(out) << earliest << ".." << latest;
      if (earliest % 2048 >= 1024) EXPECT_FALSE(out) << earliest << ".." << latest;
    }
  }
  EXPECT_GT(highs, 0);
  EXPECT_GT(lows, 0);
  EXPECT_EQ(In(0x61) & 0x0f, 0x03);
}

}  // namespace
}  // namespace xlat
