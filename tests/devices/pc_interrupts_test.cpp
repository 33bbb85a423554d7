// The PC's interrupt wiring end to end: the PIT's IRQ 0 reaching the CPU
// through I/O APIC pin 2 (Linux's check_timer first try) and through the
// 8259 as ExtINT (PIC mode / virtual wire), a level PCI pin, and the ISA
// lines reaching both controllers.
#include "devices/pc_interrupts.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "devices/mmio_bus.h"
#include "devices/pit8254.h"
#include "devices/port_bus.h"

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

class PcInterrupts : public ::testing::Test {
 protected:
  void SetUp() override {
    pc_.Register(ports_, mmio_);
    pit_.Register(ports_);
  }
  void Out(uint16_t port, uint8_t v) { ports_.Write(port, 1, v); }
  uint8_t In(uint16_t port) { return static_cast<uint8_t>(ports_.Read(port, 1)); }
  void ApicWrite(uint32_t reg, uint32_t v) { mmio_.Write(0xfee00000 + reg, 4, v); }
  void IoApicRoute(unsigned pin, uint64_t entry) {
    mmio_.Write(0xfec00000, 4, 0x11 + 2 * pin);
    mmio_.Write(0xfec00010, 4, static_cast<uint32_t>(entry >> 32));
    mmio_.Write(0xfec00000, 4, 0x10 + 2 * pin);
    mmio_.Write(0xfec00010, 4, static_cast<uint32_t>(entry));
  }
  void InitPic() {
    Out(0x20, 0x11); Out(0x21, 0x30); Out(0x21, 0x04); Out(0x21, 0x01);
    Out(0xa0, 0x11); Out(0xa1, 0x38); Out(0xa1, 0x02); Out(0xa1, 0x01);
  }
  void StartPitHz250() {
    Out(0x43, 0x34);
    Out(0x40, 4773 & 0xff);
    Out(0x40, 4773 >> 8);
  }
  // Takes interrupts like a vCPU with IF = 1 until `want` had `vector` (or
  // 400 ms passed); returns how many did. elapsed_ns_ is how long it took.
  int TakeInterrupts(int want, int vector, bool pic_eoi) {
    int n = 0;
    const uint64_t start = clock_.NowNs();
    while (n < want && clock_.NowNs() - start < 400'000'000) {
      RunFor(clock_, 200'000);
      while (pc_.cpu_source().HasPending()) {
        const int v = pc_.cpu_source().Acknowledge();
        EXPECT_EQ(v, vector);
        if (v == vector) n++;
        if (pic_eoi) Out(0x20, 0x20);
        else ApicWrite(0xb0, 0);
      }
    }
    elapsed_ns_ = clock_.NowNs() - start;
    return n;
  }

  Clock clock_;
  int kicks_ = 0;
  uint64_t elapsed_ns_ = 0;
  PcInterruptControllers pc_{clock_, [this] { kicks_++; }, nullptr, 0};
  Pit8254 pit_{clock_, &pc_.isa_irq(0)};
  PortBus ports_;
  MmioBus mmio_;
};

TEST_F(PcInterrupts, TimerThroughIoApicPin2) {
  InitPic();
  Out(0x21, 0xff);  // the 8259 fully masked, as in I/O APIC mode
  Out(0xa1, 0xff);
  ApicWrite(0xf0, 0x1ff);
  ApicWrite(0x350, 0x10700);  // LINT0 masked
  IoApicRoute(2, 0x30);       // ISA IRQ 0 -> pin 2 -> vector 0x30, edge
  StartPitHz250();
  const int n = TakeInterrupts(5, 0x30, false);
  EXPECT_EQ(n, 5);
  EXPECT_LE(n, static_cast<int>(elapsed_ns_ / 4'000'000) + 1);
  EXPECT_GT(kicks_, 0);
}

TEST_F(PcInterrupts, TimerThroughThePicAsExtInt) {
  InitPic();
  Out(0x21, 0xfa);  // IRQ 0 and the cascade unmasked
  // The local APIC as reset leaves it: LINT0 is the virtual wire.
  StartPitHz250();
  const int n = TakeInterrupts(5, 0x30, true);
  EXPECT_EQ(n, 5);
  EXPECT_LE(n, static_cast<int>(elapsed_ns_ / 4'000'000) + 1);
}

TEST_F(PcInterrupts, IsaLinesReachBothControllers) {
  InitPic();
  Out(0x21, 0xf7);  // IRQ 3 unmasked at the PIC
  pc_.isa_irq(3).Pulse();
  EXPECT_EQ(pc_.pic.irr(0) & 0x08, 0x08);
  ApicWrite(0xf0, 0x1ff);
  ApicWrite(0x350, 0x10700);
  IoApicRoute(3, 0x33);
  pc_.isa_irq(3).Pulse();
  EXPECT_TRUE(pc_.cpu_source().HasPending());
  EXPECT_EQ(pc_.cpu_source().Acknowledge(), 0x33);
  // Slave IRQs: 12 on pin 12.
  IoApicRoute(12, 0x3c);
  pc_.isa_irq(12).Pulse();
  ApicWrite(0xb0, 0);
  EXPECT_EQ(pc_.cpu_source().Acknowledge(), 0x3c);
}

TEST_F(PcInterrupts, LevelPciPinThroughGsi) {
  ApicWrite(0xf0, 0x1ff);
  IoApicRoute(19, 0x50 | (1ull << 15));
  pc_.gsi(19).Raise();
  EXPECT_EQ(pc_.cpu_source().Acknowledge(), 0x50);
  ApicWrite(0xb0, 0);  // EOI broadcast: still asserted, so again
  EXPECT_EQ(pc_.cpu_source().Acknowledge(), 0x50);
  pc_.gsi(19).Lower();
  ApicWrite(0xb0, 0);
  EXPECT_FALSE(pc_.cpu_source().HasPending());
}

TEST_F(PcInterrupts, MsrsAreTheLocalApics) {
  uint64_t v = 0;
  ASSERT_TRUE(pc_.msrs().ReadMsr(0x1b, &v));
  EXPECT_EQ(v, 0xfee00900u);
  EXPECT_FALSE(pc_.msrs().ReadMsr(0x10, &v));
}

}  // namespace
}  // namespace xlat
