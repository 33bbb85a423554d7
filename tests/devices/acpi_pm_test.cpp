// The ACPI PM registers: PM1 status/enable and the SCI, S5 soft-off through
// PM1_CNT, the PM timer, and the reset register at 0xcf9.
#include "devices/acpi_pm.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "devices/clock.h"
#include "devices/port_bus.h"

namespace xlat {
namespace {

struct RecordingIrq : IrqLine {
  bool level = false;
  void Set(bool l) override { level = l; }
};

class AcpiPmTest : public ::testing::Test {
 protected:
  AcpiPmTest()
      : pm([this] { return now_ns; }, &sci, [this] { poweroffs++; }, [this] { resets++; }) {
    pm.Register(bus);
  }
  uint64_t NsForTicks(uint64_t ticks) { return (ticks * 1'000'000'000ull + kAcpiPmTimerHz - 1) / kAcpiPmTimerHz; }

  uint64_t now_ns = 1'000'000;  // the timer counts from construction
  RecordingIrq sci;
  int poweroffs = 0, resets = 0;
  AcpiPm pm;
  PortBus bus;
};

TEST_F(AcpiPmTest, TimerCountsAt3579545Hz) {
  EXPECT_EQ(bus.Read(0xb008, 4), 0u);
  now_ns += 1'000'000'000;
  EXPECT_EQ(bus.Read(0xb008, 4), 3579545u);
  now_ns += 1'000;  // 3.58 ticks
  EXPECT_EQ(bus.Read(0xb008, 4), 3579548u);
  // 32 bits wide: wraps after 2^32 ticks (about 20 minutes).
  now_ns = 1'000'000 + NsForTicks((1ull << 32) + 7);
  EXPECT_EQ(bus.Read(0xb008, 4), 7u);
  EXPECT_EQ(bus.Read(0xb00a, 2), 0u) << "upper half";
}

TEST_F(AcpiPmTest, TimerStatusFollowsBit31) {
  EXPECT_EQ(pm.pm1_status() & AcpiPm::kTmrSts, 0);
  now_ns += NsForTicks(1ull << 31) - 1000;
  EXPECT_EQ(bus.Read(0xb000, 2) & 1, 0u);
  now_ns += 2000;
  EXPECT_EQ(bus.Read(0xb000, 2) & 1, 1u);
  bus.Write(0xb000, 2, AcpiPm::kTmrSts);
  EXPECT_EQ(bus.Read(0xb000, 2) & 1, 0u);
  EXPECT_FALSE(sci.level) << "the timer does not raise the SCI";
}

TEST_F(AcpiPmTest, TimerTracksRealTime) {
  Clock clock;
  AcpiPm real([&clock] { return clock.NowNs(); }, nullptr, nullptr, nullptr);
  // Host time taken on both sides of each read bounds the elapsed time.
  using Steady = std::chrono::steady_clock;
  const auto before0 = Steady::now();
  const uint32_t t0 = real.timer();
  const auto after0 = Steady::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto before1 = Steady::now();
  const uint32_t t1 = real.timer();
  const auto after1 = Steady::now();
  const double shortest = std::chrono::duration<double>(before1 - after0).count();
  const double longest = std::chrono::duration<double>(after1 - before0).count();
  EXPECT_GE(t1 - t0, shortest * kAcpiPmTimerHz * 0.999 - 2);
  EXPECT_LE(t1 - t0, longest * kAcpiPmTimerHz * 1.001 + 2);
  // Linux's acpi_pm monotonicity check: successive reads never go backwards.
  uint32_t last = real.timer();
  for (int i = 0; i < 1000; i++) {
    const uint32_t v = real.timer();
    ASSERT_GE(v, last);
    last = v;
  }
}

TEST_F(AcpiPmTest, PowerButtonRaisesSciWhenEnabled) {
  pm.PressPowerButton();
  EXPECT_EQ(bus.Read(0xb000, 2), AcpiPm::kPwrbtnSts);
  EXPECT_FALSE(sci.level) << "not enabled";
  bus.Write(0xb002, 2, 0x0100);  // PWRBTN_EN
  EXPECT_TRUE(sci.level);
  EXPECT_EQ(bus.Read(0xb000, 4), 0x01000100u) << "status and enable in one dword";
  bus.Write(0xb000, 2, 0x0020);  // clearing another bit changes nothing
  EXPECT_TRUE(sci.level);
  bus.Write(0xb001, 1, 0x01);  // byte write to the status high byte: PWRBTN_STS
  EXPECT_FALSE(sci.level);
  EXPECT_EQ(bus.Read(0xb000, 2), 0u);
  EXPECT_EQ(bus.Read(0xb002, 2), 0x0100u) << "the enable stays";
}

TEST_F(AcpiPmTest, SciEnIsAlwaysOnAndSlpEnReadsZero) {
  EXPECT_EQ(bus.Read(0xb004, 2), 1u);
  bus.Write(0xb004, 2, 0x0000);
  EXPECT_EQ(bus.Read(0xb004, 2), 1u);
  bus.Write(0xb004, 2, 0x0402);  // SLP_TYP 1, BM_RLD
  EXPECT_EQ(bus.Read(0xb004, 2), 0x0403u);
}

TEST_F(AcpiPmTest, SleepTypeFiveWithSlpEnPowersOff) {
  // acpi_hw_legacy_sleep(): SLP_TYP first, then SLP_TYP | SLP_EN.
  const uint16_t typ = kAcpiS5SlpTyp << 10;
  bus.Write(0xb004, 2, typ | 1);
  EXPECT_EQ(poweroffs, 0);
  bus.Write(0xb004, 2, typ | AcpiPm::kSlpEn | 1);
  EXPECT_EQ(poweroffs, 1);
  EXPECT_EQ(bus.Read(0xb004, 2) & AcpiPm::kSlpEn, 0u);
  // A byte write to the high byte does it too.
  bus.Write(0xb005, 1, (typ | AcpiPm::kSlpEn) >> 8);
  EXPECT_EQ(poweroffs, 2);
  // Other sleep states are not offered: nothing happens.
  bus.Write(0xb004, 2, (1 << 10) | AcpiPm::kSlpEn);
  bus.Write(0xb004, 2, (3 << 10) | AcpiPm::kSlpEn);
  EXPECT_EQ(poweroffs, 2);
  EXPECT_EQ(resets, 0);
}

TEST_F(AcpiPmTest, ResetRegister) {
  bus.Write(0xcf9, 1, 0x02);  // select hard reset: nothing yet
  EXPECT_EQ(resets, 0);
  EXPECT_EQ(bus.Read(0xcf9, 1), 0x02u);
  bus.Write(0xcf9, 1, kAcpiResetValue);
  EXPECT_EQ(resets, 1);
  bus.Write(0xcf9, 1, 0x0e);
  EXPECT_EQ(resets, 2);
  EXPECT_EQ(bus.Read(0xcf9, 1), 0x0au);
  EXPECT_EQ(poweroffs, 0);
}

TEST_F(AcpiPmTest, ResetClearsRegistersButNotTheTimer) {
  pm.PressPowerButton();
  bus.Write(0xb002, 2, 0x0100);
  bus.Write(0xb004, 2, 0x0002);
  now_ns += 1'000'000'000;
  pm.Reset();
  EXPECT_FALSE(sci.level);
  EXPECT_EQ(bus.Read(0xb000, 4), 0u);
  EXPECT_EQ(bus.Read(0xb004, 2), 1u);
  EXPECT_EQ(bus.Read(0xb008, 4), 3579545u);
}

TEST_F(AcpiPmTest, OtherPorts) {
  AcpiPmPorts ports;
  ports.pm1a_evt = 0x600;
  ports.pm1a_cnt = 0x604;
  ports.pm_tmr = 0x608;
  PortBus other;
  AcpiPm ich9([this] { return now_ns; }, nullptr, [this] { poweroffs++; }, nullptr, ports);
  ich9.Register(other);
  other.Write(0x604, 2, (kAcpiS5SlpTyp << 10) | AcpiPm::kSlpEn);
  EXPECT_EQ(poweroffs, 1);
  EXPECT_EQ(other.Read(0x604, 2), 0x1401u);
}

}  // namespace
}  // namespace xlat
