// The CMOS RTC through ports 0x70/0x71, read as Linux's mc146818_get_time
// reads it (wait for UIP clear, read, check UIP again), set as
// mc146818_set_time sets it, and its interrupts on IRQ 8.
#include "devices/rtc_cmos.h"

#include <gtest/gtest.h>
#include <time.h>

#include <chrono>
#include <thread>

#include "devices/port_bus.h"

namespace xlat {
namespace {

class Line : public IrqLine {
 public:
  void Set(bool level) override { level_ = level; }
  bool level() const { return level_; }

 private:
  bool level_ = false;
};

int Bcd(uint8_t v) { return (v >> 4) * 10 + (v & 0xf); }
uint8_t ToBcd(int v) { return static_cast<uint8_t>(((v / 10) << 4) | (v % 10)); }

class Rtc : public ::testing::Test {
 protected:
  void SetUp() override { rtc_.Register(ports_); }
  uint8_t Read(uint8_t index) {
    ports_.Write(0x70, 1, index);
    return static_cast<uint8_t>(ports_.Read(0x71, 1));
  }
  void Write(uint8_t index, uint8_t value) {
    ports_.Write(0x70, 1, index);
    ports_.Write(0x71, 1, value);
  }
  struct Time {
    int sec, min, hour, wday, mday, mon, year;
  };
  // mc146818_get_time: wait for UIP clear, read everything, retry if UIP rose.
  Time ReadTime() {
    for (;;) {
      while (Read(0x0a) & 0x80) {
      }
      Time t;
      const bool bin = Read(0x0b) & 0x04;
      auto dec = [bin](uint8_t v) { return bin ? int(v) : Bcd(v); };
      t.sec = dec(Read(0x00));
      t.min = dec(Read(0x02));
      t.hour = dec(Read(0x04));
      t.wday = dec(Read(0x06));
      t.mday = dec(Read(0x07));
      t.mon = dec(Read(0x08));
      t.year = dec(Read(0x32)) * 100 + dec(Read(0x09));
      if (!(Read(0x0a) & 0x80) && dec(Read(0x00)) == t.sec) return t;
    }
  }
  static int64_t ToEpoch(const Time& t) {
    tm tm = {};
    tm.tm_sec = t.sec;
    tm.tm_min = t.min;
    tm.tm_hour = t.hour;
    tm.tm_mday = t.mday;
    tm.tm_mon = t.mon - 1;
    tm.tm_year = t.year - 1900;
    return timegm(&tm);
  }
  // mc146818_set_time with a BCD 24-hour clock.
  void SetTime(int year, int mon, int mday, int hour, int min, int sec) {
    const uint8_t control = Read(0x0b);
    Write(0x0b, control | 0x80);
    const uint8_t freq = Read(0x0a);
    Write(0x0a, freq | 0x70);  // RTC_DIV_RESET2
    Write(0x09, ToBcd(year % 100));
    Write(0x08, ToBcd(mon));
    Write(0x07, ToBcd(mday));
    Write(0x04, ToBcd(hour));
    Write(0x02, ToBcd(min));
    Write(0x00, ToBcd(sec));
    Write(0x32, ToBcd(year / 100));
    Write(0x0b, control);
    Write(0x0a, freq);
  }

  Clock clock_;
  Line irq8_;
  RtcCmos rtc_{clock_, &irq8_};
  PortBus ports_;
};

TEST_F(Rtc, TimeIsTheHostsWithinASecond) {
  EXPECT_EQ(Read(0x0b), 0x02);  // BCD, 24-hour
  EXPECT_EQ(Read(0x0d), 0x80);  // valid RAM and time
  const Time t = ReadTime();
  const int64_t host = time(nullptr);
  EXPECT_LE(std::llabs(ToEpoch(t) - host), 1);
  const time_t now = static_cast<time_t>(ToEpoch(t));
  tm tm;
  gmtime_r(&now, &tm);
  EXPECT_EQ(t.wday, tm.tm_wday + 1);
}

TEST_F(Rtc, BinaryAnd12HourFormats) {
  const Time bcd = ReadTime();
  Write(0x0b, 0x06);  // binary, 24-hour
  const Time bin = ReadTime();
  EXPECT_LE(std::llabs(ToEpoch(bin) - ToEpoch(bcd)), 1);
  Write(0x0b, 0x04);  // binary, 12-hour
  const uint8_t h = Read(0x04);
  const int h24 = ((h & 0x7f) % 12) + ((h & 0x80) ? 12 : 0);
  const uint8_t h24reg = [&] {
    Write(0x0b, 0x06);
    return Read(0x04);
  }();
  EXPECT_TRUE(h24 == h24reg || (h24 + 1) % 24 == h24reg);
  EXPECT_GE(h & 0x7f, 1);
  EXPECT_LE(h & 0x7f, 12);
}

TEST_F(Rtc, GuestSetsTheTimeAndItKeepsRunning) {
  SetTime(2024, 2, 29, 23, 59, 58);
  const Time t = ReadTime();
  EXPECT_EQ(t.year, 2024);
  EXPECT_EQ(t.mon, 2);
  EXPECT_EQ(t.mday, 29);
  EXPECT_EQ(t.hour, 23);
  EXPECT_EQ(t.min, 59);
  EXPECT_EQ(t.sec, 58);  // the divider restarts half a second before the next update
}

TEST_F(Rtc, UipPrecedesTheSecondBoundary) {
  // Released from divider reset, the first update is half a second away.
  SetTime(1999, 12, 31, 23, 59, 59);
  Write(0x0b, 0x02 | 0x10 | 0x20);  // update-ended and alarm interrupts
  Write(0x01, 0xff);                // alarm: any second,
  Write(0x03, 0xff);                // any minute,
  Write(0x05, 0xff);                // any hour
  Read(0x0c);
  EXPECT_FALSE(irq8_.level());
  // Wherever UIP is read, it must agree with the time around the read; poll
  // across the boundary (0.5 s away) and check every sample.
  constexpr int64_t kSec = 1'000'000'000, kUipNs = 244'141;
  auto in_uip = [&](int64_t t) { return t % kSec >= kSec - kUipNs; };
  int uip_samples = 0;
  const int64_t end = rtc_.GuestNs() + kSec / 2 + 50'000'000;
  while (rtc_.GuestNs() < end) {
    const int64_t t0 = rtc_.GuestNs();
    const bool uip = Read(0x0a) & 0x80;
    const uint8_t sec = Read(0x00);
    const int64_t t1 = rtc_.GuestNs();
    if (t0 / kSec == t1 / kSec && in_uip(t0) && in_uip(t1)) {
      EXPECT_TRUE(uip);
      uip_samples++;
      // During UIP the registers still hold the old second.
      EXPECT_EQ(sec, 0x59);
    } else if (t0 / kSec == t1 / kSec && !in_uip(t0) && !in_uip(t1)) {
      EXPECT_FALSE(uip);
    }
  }
  // (Only a host that preempted us for the whole 244 us window misses it.)
  if (uip_samples == 0) GTEST_LOG_(WARNING) << "no sample inside the UIP window";
  // After the boundary the registers rolled over together.
  EXPECT_EQ(Read(0x00), 0x00);
  EXPECT_EQ(Read(0x02), 0x00);
  EXPECT_EQ(Read(0x04), 0x00);
  EXPECT_EQ(Read(0x09), 0x00);
  EXPECT_EQ(Read(0x32), 0x20);
  EXPECT_EQ(Read(0x08), 0x01);
  EXPECT_EQ(Read(0x07), 0x01);
  EXPECT_EQ(Read(0x06), 0x07);  // 2000-01-01 was a Saturday
  // The update-ended and alarm interrupts.
  for (int i = 0; i < 100 && !irq8_.level(); i++) {
    clock_.RunExpired();
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  EXPECT_TRUE(irq8_.level());
  // (PF, bit 6, is set at the periodic rate whether or not it interrupts.)
  EXPECT_EQ(Read(0x0c) & 0xb0, 0x80 | 0x20 | 0x10);
  EXPECT_FALSE(irq8_.level());
  EXPECT_EQ(Read(0x0c) & 0xb0, 0x00);
}

TEST_F(Rtc, PeriodicInterrupt) {
  Write(0x0a, 0x26);  // 1024 Hz
  Read(0x0c);
  Write(0x0b, 0x02 | 0x40);
  for (int i = 0; i < 50 && !irq8_.level(); i++) {
    clock_.RunExpired();
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  ASSERT_TRUE(irq8_.level());
  EXPECT_EQ(Read(0x0c) & 0xc0, 0xc0);
  EXPECT_FALSE(irq8_.level());
  Write(0x0b, 0x02);
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  clock_.RunExpired();
  EXPECT_FALSE(irq8_.level());
  // The flag is still set for a poller, without IRQF.
  EXPECT_EQ(Read(0x0c) & 0xc0, 0x40);
}

TEST_F(Rtc, CmosRamAndNmiMask) {
  Write(0x0f, 0x00);  // shutdown status
  Write(0x40, 0xa5);
  EXPECT_EQ(Read(0x40), 0xa5);
  EXPECT_EQ(Read(0x0f), 0x00);
  ports_.Write(0x70, 1, 0x80 | 0x40);
  EXPECT_TRUE(rtc_.nmi_masked());
  EXPECT_EQ(ports_.Read(0x71, 1), 0xa5u);
  ports_.Write(0x70, 1, 0x40);
  EXPECT_FALSE(rtc_.nmi_masked());
  rtc_.SetMemorySize(512ull << 20, 1ull << 30);
  EXPECT_EQ(Read(0x15) | (Read(0x16) << 8), 640);
  EXPECT_EQ(Read(0x17) | (Read(0x18) << 8), 0xffff);  // clamped
  EXPECT_EQ(Read(0x34) | (Read(0x35) << 8), (512 - 16) * 16);
  EXPECT_EQ(Read(0x5b) | (Read(0x5c) << 8) | (Read(0x5d) << 16), 1 << 14);
  Write(0x0d, 0);
  EXPECT_EQ(Read(0x0d), 0x80);  // read-only
}

}  // namespace
}  // namespace xlat
