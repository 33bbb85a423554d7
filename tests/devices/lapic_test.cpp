// The local APIC through its MMIO registers and MSRs, as Linux programs it:
// software enable, the timer in one-shot, periodic and TSC-deadline modes
// firing through a Clock, priorities, EOI, ExtINT from the PIC, self-IPIs and
// x2APIC.
#include "devices/lapic.h"

#include <gtest/gtest.h>
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "devices/mmio_bus.h"

namespace xlat {
namespace {

void RunFor(Clock& clock, uint64_t ns) {
  const uint64_t end = clock.NowNs() + ns;
  while (clock.NowNs() < end) {
    const uint64_t next = std::min(clock.RunExpired(), end);
    const uint64_t now = clock.NowNs();
    if (next > now) std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<uint64_t>(next - now, 200'000)));
  }
  clock.RunExpired();
}

constexpr uint64_t kBase = 0xfee00000;
enum : uint32_t {
  kId = 0x20, kVersion = 0x30, kTpr = 0x80, kPpr = 0xa0, kEoi = 0xb0, kLdr = 0xd0, kDfr = 0xe0, kSvr = 0xf0,
  kIsr = 0x100, kTmr = 0x180, kIrr = 0x200, kEsr = 0x280, kIcrLow = 0x300, kIcrHigh = 0x310, kLvtTimer = 0x320,
  kLvtLint0 = 0x350, kLvtLint1 = 0x360, kLvtError = 0x370, kInitial = 0x380, kCurrent = 0x390, kDivide = 0x3e0,
};

class LapicTest : public ::testing::Test {
 protected:
  void SetUp() override {
    apic_.Register(mmio_);
    apic_.SetExtIntAcknowledge([this] { return pic_vector_; });
    apic_.SetEoiBroadcast([this](uint8_t v) { eois_.push_back(v); });
  }
  uint32_t Read(uint32_t reg) {
    uint64_t v = 0;
    EXPECT_TRUE(mmio_.Read(kBase + reg, 4, &v));
    return static_cast<uint32_t>(v);
  }
  void Write(uint32_t reg, uint32_t v) { EXPECT_TRUE(mmio_.Write(kBase + reg, 4, v)); }
  // setup_local_APIC's essentials.
  void EnableLikeLinux() {
    Write(kSvr, Read(kSvr) & ~0x100u);  // soft-disable first
    Write(kTpr, Read(kTpr) & ~0xffu);
    Write(kSvr, 0x1ff);                 // enable, spurious vector 0xff
    Write(kLvtLint0, 0x10700);          // ExtINT, masked (I/O APIC mode)
    Write(kLvtLint1, 0x400);            // NMI
    Write(kLvtError, 0xfe);
  }
  bool IrrHas(unsigned v) { return Read(kIrr + (v / 32) * 0x10) & (1u << (v % 32)); }
  bool IsrHas(unsigned v) { return Read(kIsr + (v / 32) * 0x10) & (1u << (v % 32)); }

  Clock clock_;
  int kicks_ = 0;
  int pic_vector_ = 0x30;
  std::vector<uint8_t> eois_;
  Lapic apic_{clock_, [this] { kicks_++; }, [] { return __rdtsc(); }, HostTscHz()};
  MmioBus mmio_;
};

TEST_F(LapicTest, ResetStateIsWhatLinuxExpects) {
  EXPECT_EQ(Read(kVersion), 0x00050014u);
  EXPECT_EQ(Read(kId), 0u);
  EXPECT_EQ(Read(kSvr), 0xffu);
  EXPECT_EQ(Read(kDfr), 0xffffffffu);
  EXPECT_EQ(Read(kLvtTimer), 0x10000u);
  EXPECT_EQ(Read(kLvtLint0), 0x700u);  // virtual wire
  EXPECT_EQ(apic_.apic_base(), 0xfee00900u);
  uint64_t v = 0;
  EXPECT_TRUE(apic_.ReadMsr(0x1b, &v));
  EXPECT_EQ(v, 0xfee00900u);
}

TEST_F(LapicTest, HostTscHzIsPlausible) {
  const uint64_t hz = HostTscHz();
  EXPECT_GT(hz, 100'000'000u);
  EXPECT_LT(hz, 10'000'000'000u);
  // Check it against 20 ms of real time.
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t c0 = __rdtsc();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const uint64_t c1 = __rdtsc();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NEAR((c1 - c0) / s, static_cast<double>(hz), hz * 0.02);
}

TEST_F(LapicTest, OneShotTimerFiresOnceAfterItsCount) {
  EnableLikeLinux();
  Write(kDivide, 0x3);          // divide by 16: 62.5 MHz
  Write(kLvtTimer, 0xec);       // one-shot, vector 0xec
  const uint64_t start = clock_.NowNs();
  Write(kInitial, 125000);      // 2 ms
  const uint32_t current = Read(kCurrent);
  EXPECT_LE(current, 125000u);
  EXPECT_GE(current + 1, 125000u - (clock_.NowNs() - start) / 16);
  RunFor(clock_, 1'500'000);
  // Not before its time (only if this thread overslept may it be pending).
  if (apic_.HasPending()) EXPECT_GE(clock_.NowNs() - start, 2'000'000u);
  RunFor(clock_, 2'000'000);
  EXPECT_GE(clock_.NowNs() - start, 2'000'000u);
  ASSERT_TRUE(apic_.HasPending());
  EXPECT_GT(kicks_, 0);
  EXPECT_EQ(Read(kCurrent), 0u);
  EXPECT_EQ(apic_.Acknowledge(), 0xec);
  EXPECT_TRUE(IsrHas(0xec));
  EXPECT_EQ(Read(kPpr), 0xe0u);
  Write(kEoi, 0);
  EXPECT_FALSE(IsrHas(0xec));
  EXPECT_TRUE(eois_.empty());  // edge: no broadcast
  RunFor(clock_, 3'000'000);
  EXPECT_FALSE(apic_.HasPending());
}

TEST_F(LapicTest, PeriodicTimer) {
  EnableLikeLinux();
  Write(kDivide, 0xb);            // divide by 1: 1 GHz
  Write(kLvtTimer, 0x20000 | 0xef);
  // Time is counted from before the count is written: the periods start
  // there, and a start read after it would make ten periods look shorter.
  const uint64_t start = clock_.NowNs();
  Write(kInitial, 1'000'000);     // 1 ms
  int fired = 0;
  // Ten periods take 10 ms; a starved thread loses some (dropped, never
  // bunched), so allow more time but never more interrupts than periods.
  while (fired < 10 && clock_.NowNs() - start < 400'000'000) {
    RunFor(clock_, 100'000);
    if (apic_.HasPending()) {
      EXPECT_EQ(apic_.Acknowledge(), 0xef);
      Write(kEoi, 0);
      fired++;
    }
  }
  EXPECT_EQ(fired, 10);
  EXPECT_LE(fired, static_cast<int>((clock_.NowNs() - start) / 1'000'000));
  const uint32_t cur = Read(kCurrent);
  EXPECT_GT(cur, 0u);
  EXPECT_LE(cur, 1'000'000u);
  Write(kInitial, 0);  // stops it
  RunFor(clock_, 2'000'000);
  EXPECT_FALSE(apic_.HasPending());
}

TEST_F(LapicTest, MaskedTimerCountsButDoesNotInterrupt) {
  EnableLikeLinux();
  Write(kLvtTimer, 0x10000 | 0xec);
  Write(kInitial, 100000);  // divide by 2 (reset value): 200 us
  RunFor(clock_, 1'000'000);
  EXPECT_EQ(Read(kCurrent), 0u);
  EXPECT_FALSE(apic_.HasPending());
}

TEST_F(LapicTest, TscDeadlineTimer) {
  EnableLikeLinux();
  Write(kLvtTimer, 0x40000 | 0xec);
  const uint64_t hz = HostTscHz();
  const uint64_t deadline = __rdtsc() + hz / 500;  // 2 ms
  ASSERT_TRUE(apic_.WriteMsr(0x6e0, deadline));
  uint64_t v = 0;
  ASSERT_TRUE(apic_.ReadMsr(0x6e0, &v));
  EXPECT_EQ(v, deadline);
  Write(kInitial, 1000);  // ignored in this mode
  EXPECT_EQ(Read(kCurrent), 0u);
  while (!apic_.HasPending()) {
    RunFor(clock_, 50'000);
    if (__rdtsc() > deadline + hz / 100) break;
  }
  const uint64_t when = __rdtsc();
  ASSERT_TRUE(apic_.HasPending());
  EXPECT_GE(when, deadline);               // never early
  EXPECT_LT(when, deadline + hz / 100);    // and about on time
  EXPECT_EQ(apic_.Acknowledge(), 0xec);
  ASSERT_TRUE(apic_.ReadMsr(0x6e0, &v));
  EXPECT_EQ(v, 0u);
  Write(kEoi, 0);
  // A deadline in the past fires at once; zero disarms.
  ASSERT_TRUE(apic_.WriteMsr(0x6e0, 1));
  EXPECT_TRUE(apic_.HasPending());
  EXPECT_EQ(apic_.Acknowledge(), 0xec);
  Write(kEoi, 0);
  ASSERT_TRUE(apic_.WriteMsr(0x6e0, __rdtsc() + hz / 1000));
  ASSERT_TRUE(apic_.WriteMsr(0x6e0, 0));
  RunFor(clock_, 2'000'000);
  EXPECT_FALSE(apic_.HasPending());
}

TEST_F(LapicTest, TscDeadlineWritesAreIgnoredInOtherModes) {
  EnableLikeLinux();
  Write(kLvtTimer, 0xec);
  ASSERT_TRUE(apic_.WriteMsr(0x6e0, 1));
  EXPECT_FALSE(apic_.HasPending());
  uint64_t v = 1;
  ASSERT_TRUE(apic_.ReadMsr(0x6e0, &v));
  EXPECT_EQ(v, 0u);
}

TEST_F(LapicTest, DivideChangeKeepsTheCurrentCount) {
  EnableLikeLinux();
  Write(kLvtTimer, 0x10000 | 0xec);
  Write(kDivide, 0xa);  // divide by 128
  Write(kInitial, 0xffffffff);
  const uint32_t before = Read(kCurrent);
  Write(kDivide, 0xb);  // divide by 1
  const uint32_t after = Read(kCurrent);
  EXPECT_LE(after, before);
  EXPECT_GT(after, before - 100000);
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_LT(Read(kCurrent), after - 900000);  // now 1 tick per ns
}

TEST_F(LapicTest, TaskPriorityHoldsBackLowerClasses) {
  EnableLikeLinux();
  Write(kTpr, 0x60);
  apic_.DeliverVector(0x51, false);
  EXPECT_TRUE(IrrHas(0x51));
  EXPECT_FALSE(apic_.HasPending());
  EXPECT_EQ(apic_.Acknowledge(), -1);
  EXPECT_EQ(apic_.GetCr8(), 6u);
  apic_.SetCr8(5);  // the same class as the vector still holds it back
  EXPECT_EQ(Read(kTpr), 0x50u);
  EXPECT_FALSE(apic_.HasPending());
  apic_.SetCr8(4);
  EXPECT_EQ(Read(kTpr), 0x40u);
  EXPECT_TRUE(apic_.HasPending());
  EXPECT_EQ(apic_.Acknowledge(), 0x51);
  EXPECT_EQ(Read(kPpr), 0x50u);
}

TEST_F(LapicTest, HigherVectorFirstAndNesting) {
  EnableLikeLinux();
  apic_.DeliverVector(0x40, false);
  apic_.DeliverVector(0x80, false);
  EXPECT_EQ(apic_.Acknowledge(), 0x80);
  EXPECT_FALSE(apic_.HasPending());  // 0x40 is below the in-service 0x80
  apic_.DeliverVector(0x8f, false);
  EXPECT_FALSE(apic_.HasPending());  // nor is 0x8f: same class as 0x80
  apic_.DeliverVector(0x90, false);
  EXPECT_EQ(apic_.Acknowledge(), 0x90);  // but 0x90 nests
  Write(kEoi, 0);
  EXPECT_TRUE(IsrHas(0x80));
  EXPECT_FALSE(IsrHas(0x90));
  Write(kEoi, 0);
  EXPECT_EQ(apic_.Acknowledge(), 0x8f);
  Write(kEoi, 0);
  EXPECT_EQ(apic_.Acknowledge(), 0x40);
}

TEST_F(LapicTest, LevelTriggeredEoiIsBroadcast) {
  EnableLikeLinux();
  apic_.DeliverVector(0x61, true);
  EXPECT_TRUE(Read(kTmr + 0x30) & 2);
  EXPECT_EQ(apic_.Acknowledge(), 0x61);
  Write(kEoi, 0);
  ASSERT_EQ(eois_.size(), 1u);
  EXPECT_EQ(eois_[0], 0x61);
}

TEST_F(LapicTest, ExtIntFromThePic) {
  // Reset state: LINT0 ExtINT, unmasked, even before the APIC is enabled.
  apic_.lint0().Raise();
  EXPECT_TRUE(apic_.HasPending());
  EXPECT_EQ(apic_.Acknowledge(), 0x30);
  apic_.lint0().Lower();
  EXPECT_FALSE(apic_.HasPending());
  // Linux in I/O APIC mode masks LINT0.
  EnableLikeLinux();
  apic_.lint0().Raise();
  EXPECT_FALSE(apic_.HasPending());
  // Virtual-wire mode unmasks it.
  Write(kLvtLint0, 0x700);
  EXPECT_TRUE(apic_.HasPending());
  // A disabled APIC passes the PIC through.
  Write(kLvtLint0, 0x10700);
  ASSERT_TRUE(apic_.SetApicBase(0xfee00000));
  EXPECT_TRUE(apic_.HasPending());
  EXPECT_EQ(apic_.Acknowledge(), 0x30);
}

TEST_F(LapicTest, SelfIpi) {
  EnableLikeLinux();
  Write(kIcrHigh, 0);
  Write(kIcrLow, 0x000440f0);  // shorthand self, fixed, vector 0xf0
  EXPECT_EQ(Read(kIcrLow) & 0x1000, 0u);  // delivery status idle
  EXPECT_EQ(apic_.Acknowledge(), 0xf0);
  Write(kEoi, 0);
  // Physical destination 0 is us; 1 is nobody.
  Write(kIcrHigh, 1u << 24);
  Write(kIcrLow, 0x000040f1);
  EXPECT_FALSE(apic_.HasPending());
  Write(kIcrHigh, 0);
  Write(kIcrLow, 0x000040f1);
  EXPECT_EQ(apic_.Acknowledge(), 0xf1);
  Write(kEoi, 0);
  // All-excluding-self reaches nobody; NMI to self is an NMI.
  Write(kIcrLow, 0x000c40f2);
  EXPECT_FALSE(apic_.HasPending());
  Write(kIcrLow, 0x00044400);
  EXPECT_TRUE(apic_.NmiPending());
  apic_.AcknowledgeNmi();
}

TEST_F(LapicTest, LogicalFlatDestination) {
  EnableLikeLinux();
  Write(kDfr, 0xffffffff);
  Write(kLdr, 0x01000000);
  ApicMessage m;
  m.vector = 0x41;
  m.logical = true;
  m.destination = 0x02;
  EXPECT_FALSE(apic_.Deliver(m));
  m.destination = 0x03;
  EXPECT_TRUE(apic_.Deliver(m));
  EXPECT_EQ(apic_.Acknowledge(), 0x41);
}

TEST_F(LapicTest, SoftwareDisableMasksLvtsAndDropsInterrupts) {
  EnableLikeLinux();
  Write(kLvtTimer, 0xec);
  Write(kSvr, 0xff);
  EXPECT_TRUE(Read(kLvtTimer) & 0x10000);
  Write(kLvtTimer, 0xec);  // cannot be unmasked while disabled
  EXPECT_TRUE(Read(kLvtTimer) & 0x10000);
  apic_.DeliverVector(0x50, false);
  EXPECT_FALSE(apic_.HasPending());
}

TEST_F(LapicTest, IllegalVectorSetsEsr) {
  EnableLikeLinux();
  apic_.DeliverVector(0x05, false);
  EXPECT_FALSE(IrrHas(0x05));
  Write(kEsr, 0);
  EXPECT_EQ(Read(kEsr), 0x40u);
  // The error LVT (vector 0xfe) was raised.
  EXPECT_EQ(apic_.Acknowledge(), 0xfe);
  Write(kEsr, 0);
  EXPECT_EQ(Read(kEsr), 0u);
}

TEST_F(LapicTest, X2apicMode) {
  EnableLikeLinux();
  uint64_t v = 0;
  EXPECT_FALSE(apic_.ReadMsr(0x802, &v));  // not in x2APIC mode yet
  ASSERT_TRUE(apic_.WriteMsr(0x1b, 0xfee00000 | (1 << 11) | (1 << 10)));
  ASSERT_TRUE(apic_.ReadMsr(0x802, &v));
  EXPECT_EQ(v, 0u);
  ASSERT_TRUE(apic_.ReadMsr(0x803, &v));
  EXPECT_EQ(v, 0x50014u);
  ASSERT_TRUE(apic_.ReadMsr(0x80d, &v));
  EXPECT_EQ(v, 1u);  // logical ID: cluster 0, bit 0
  EXPECT_FALSE(apic_.WriteMsr(0x802, 5));      // ID is read-only
  EXPECT_FALSE(apic_.ReadMsr(0x80b, &v));      // EOI is write-only
  EXPECT_FALSE(apic_.ReadMsr(0x80e, &v));      // no DFR
  ASSERT_TRUE(apic_.WriteMsr(0x83f, 0x55));    // SELF IPI
  EXPECT_EQ(apic_.Acknowledge(), 0x55);
  EXPECT_FALSE(apic_.WriteMsr(0x80b, 1));      // nonzero EOI is #GP
  ASSERT_TRUE(apic_.WriteMsr(0x80b, 0));
  ASSERT_TRUE(apic_.ReadMsr(0x810 + 2, &v));   // ISR bits 64-95
  EXPECT_EQ(v, 0u);
  ASSERT_TRUE(apic_.WriteMsr(0x830, 0x00000000000040e0ull));  // ICR to ID 0
  EXPECT_EQ(apic_.Acknowledge(), 0xe0);
  ASSERT_TRUE(apic_.WriteMsr(0x80b, 0));
  // The MMIO page is gone.
  uint64_t m = 0;
  mmio_.Read(kBase + kVersion, 4, &m);
  EXPECT_EQ(static_cast<uint32_t>(m), 0xffffffffu);
  // x2APIC -> xAPIC is invalid; x2APIC -> disabled is fine.
  EXPECT_FALSE(apic_.WriteMsr(0x1b, 0xfee00000 | (1 << 11)));
  EXPECT_TRUE(apic_.WriteMsr(0x1b, 0xfee00000));
  EXPECT_FALSE(apic_.WriteMsr(0x1b, 0xfee00000 | (1 << 10)));  // disabled -> x2APIC directly
  EXPECT_TRUE(apic_.WriteMsr(0x1b, 0xfee00000 | (1 << 11)));
  EXPECT_EQ(Read(kSvr), 0xffu);  // registers back to their reset state
}

TEST_F(LapicTest, KickWhenSomethingBecomesDeliverable) {
  EnableLikeLinux();
  Write(kTpr, 0xf0);
  kicks_ = 0;
  apic_.DeliverVector(0x80, false);
  EXPECT_EQ(kicks_, 0);  // held back by TPR
  Write(kTpr, 0);
  EXPECT_GT(kicks_, 0);
}

}  // namespace
}  // namespace xlat
