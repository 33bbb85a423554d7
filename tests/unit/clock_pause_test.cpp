// Pausing guest time (Clock::Pause/Resume), what the gdb stub does while gdb
// holds the guest: guest time and the timers counting it stand still and
// then go on without a jump, while the RTC's time of day keeps the host's.
#include "devices/clock.h"

#include <gtest/gtest.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "devices/interrupts.h"
#include "devices/pit8254.h"
#include "devices/port_bus.h"
#include "devices/rtc_cmos.h"

namespace xlat {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kMs = 1'000'000;

void Sleep(std::chrono::milliseconds ms) { std::this_thread::sleep_for(ms); }

int64_t HostRealtimeNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

TEST(ClockPause, GuestTimeStandsStillAndGoesOnWithoutAJump) {
  Clock clock;
  Sleep(20ms);
  clock.Pause();
  EXPECT_TRUE(clock.paused());
  const uint64_t frozen = clock.NowNs();
  const uint64_t host_at_pause = clock.HostNs();
  Sleep(300ms);
  EXPECT_EQ(clock.NowNs(), frozen);                       // guest time stood still...
  EXPECT_GE(clock.HostNs() - host_at_pause, 300 * kMs);  // ...host time did not
  clock.Pause();                                          // a second Pause changes nothing
  EXPECT_EQ(clock.NowNs(), frozen);
  clock.Resume();
  EXPECT_FALSE(clock.paused());
  const uint64_t resumed = clock.NowNs();
  EXPECT_GE(resumed, frozen);
  EXPECT_LT(resumed - frozen, 50 * kMs);  // no jump of the 300 ms paused
  Sleep(100ms);
  const uint64_t later = clock.NowNs();
  EXPECT_GE(later - resumed, 100 * kMs);  // and it runs again at the host's rate
  EXPECT_LT(later - resumed, 250 * kMs);
  clock.Resume();  // a second Resume changes nothing
  EXPECT_GE(clock.NowNs(), later);
  EXPECT_LT(clock.NowNs() - later, 50 * kMs);
}

TEST(ClockPause, TimersWaitOutThePause) {
  Clock clock;
  std::atomic<int> kicks{0};
  clock.SetKick([&kicks] { kicks++; });
  bool fired = false;
  clock.Schedule(clock.NowNs() + 100 * kMs, [&fired] { fired = true; });
  clock.Pause();
  Sleep(300ms);  // the deadline has passed in host time
  EXPECT_EQ(kicks.load(), 0) << "the clock kicked the vCPU while paused";
  EXPECT_NE(clock.RunExpired(), Clock::kNever);
  EXPECT_FALSE(fired);
  clock.Resume();
  EXPECT_FALSE(fired);
  Sleep(30ms);
  clock.RunExpired();
  EXPECT_FALSE(fired) << "the timer fired before its (guest) time";
  for (int i = 0; i < 200 && !fired; i++) {  // within two seconds, once 100 ms of guest time have passed
    Sleep(10ms);
    if (kicks.load()) clock.RunExpired();
  }
  EXPECT_TRUE(fired);
  EXPECT_GT(kicks.load(), 0);
}

class Counter : public IrqLine {
 public:
  void Set(bool level) override {
    if (level && !level_) rising++;
    level_ = level;
  }
  bool level() const { return level_; }
  int rising = 0;

 private:
  bool level_ = false;
};

// Linux's periodic clockevent on the PIT (mode 2, HZ=250): no ticks while
// paused, and no burst of the missed ones after.
TEST(ClockPause, PitTicksNeitherWhilePausedNorInABurstAfter) {
  Clock clock;
  Counter irq0;
  Pit8254 pit(clock, &irq0);
  PortBus ports;
  pit.Register(ports);
  ports.Write(0x43, 1, 0x34);  // channel 0, lo/hi, mode 2
  const uint16_t reload = static_cast<uint16_t>(Pit8254::kHz / 250);
  ports.Write(0x40, 1, reload & 0xff);
  ports.Write(0x40, 1, reload >> 8);
  clock.Pause();
  const uint16_t count = pit.count(0);
  Sleep(500ms);  // 125 ticks of host time
  clock.RunExpired();
  EXPECT_EQ(irq0.rising, 0);
  EXPECT_EQ(pit.count(0), count);  // the counter stood still too
  clock.Resume();
  clock.RunExpired();
  EXPECT_LE(irq0.rising, 1) << "the ticks missed while paused came in a burst";
  const auto until = std::chrono::steady_clock::now() + 100ms;
  while (std::chrono::steady_clock::now() < until) {
    clock.RunExpired();
    Sleep(1ms);
  }
  clock.RunExpired();
  EXPECT_GE(irq0.rising, 15);  // ~25 in 100 ms: it ticks again
  EXPECT_LE(irq0.rising, 40);
}

// The RTC's time of day tracks the host's across a pause (QEMU's default
// -rtc clock=host); its periodic flag counts guest time.
TEST(ClockPause, RtcKeepsTheHostsTimeOfDay) {
  Clock clock;
  Counter irq8;
  RtcCmos rtc(clock, &irq8);
  PortBus ports;
  rtc.Register(ports);
  auto write = [&ports](uint8_t index, uint8_t value) {
    ports.Write(0x70, 1, index);
    ports.Write(0x71, 1, value);
  };
  auto read = [&ports](uint8_t index) {
    ports.Write(0x70, 1, index);
    return static_cast<uint8_t>(ports.Read(0x71, 1));
  };
  write(0x0a, 0x2f);  // periodic at 2 Hz
  read(0x0c);
  clock.Pause();
  Sleep(1200ms);
  const int64_t skew = rtc.GuestNs() - HostRealtimeNs();
  EXPECT_LT(skew < 0 ? -skew : skew, 200 * static_cast<int64_t>(kMs)) << "the RTC fell behind the host while paused";
  EXPECT_EQ(read(0x0c) & 0x40, 0) << "periodic boundaries passed while guest time stood still";
  clock.Resume();
  Sleep(700ms);
  EXPECT_EQ(read(0x0c) & 0x40, 0x40);
}

}  // namespace
}  // namespace xlat
