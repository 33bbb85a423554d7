// The I/O APIC through its MMIO window, as Linux's io_apic.c drives it:
// redirection entries written high dword first, edge ISA pins, level PCI
// pins whose remote IRR the local APIC's EOI broadcast clears.
#include "devices/ioapic.h"

#include <gtest/gtest.h>

#include <vector>

#include "devices/lapic.h"
#include "devices/mmio_bus.h"

namespace xlat {
namespace {

constexpr uint64_t kBase = 0xfec00000;

class IoApicTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ioapic_.Register(mmio_);
    apic_.Register(mmio_);
    apic_.SetEoiBroadcast([this](uint8_t v) { ioapic_.Eoi(v); });
    // Software-enable the local APIC.
    mmio_.Write(0xfee000f0, 4, 0x1ff);
  }
  uint32_t Reg(uint8_t index) {
    mmio_.Write(kBase, 4, index);
    uint64_t v = 0;
    mmio_.Read(kBase + 0x10, 4, &v);
    return static_cast<uint32_t>(v);
  }
  void SetReg(uint8_t index, uint32_t value) {
    mmio_.Write(kBase, 4, index);
    mmio_.Write(kBase + 0x10, 4, value);
  }
  // ioapic_write_entry(): high then low.
  void Route(unsigned pin, uint64_t entry) {
    SetReg(0x11 + 2 * pin, static_cast<uint32_t>(entry >> 32));
    SetReg(0x10 + 2 * pin, static_cast<uint32_t>(entry));
  }
  void ApicEoi() { mmio_.Write(0xfee000b0, 4, 0); }

  Clock clock_;
  std::vector<ApicMessage> sent_;
  Lapic apic_{clock_, nullptr, nullptr, 0};
  IoApic ioapic_{[this](const ApicMessage& m) {
    sent_.push_back(m);
    return apic_.Deliver(m);
  }};
  MmioBus mmio_;
};

constexpr uint64_t kLevel = 1ull << 15, kMasked = 1ull << 16, kRemoteIrr = 1ull << 14, kLogical = 1ull << 11;
constexpr uint64_t kActiveLow = 1ull << 13;

TEST_F(IoApicTest, IdentificationRegisters) {
  EXPECT_EQ(Reg(0x01), 0x00170020u);  // version 0x20, 24 entries
  EXPECT_EQ(Reg(0x00), 0u);
  SetReg(0x00, 0x02000000);
  EXPECT_EQ(Reg(0x00), 0x02000000u);
  for (unsigned pin = 0; pin < 24; pin++) EXPECT_EQ(Reg(0x10 + 2 * pin), 0x10000u) << pin;  // masked
}

TEST_F(IoApicTest, EdgePinDeliversOncePerRisingEdge) {
  Route(4, 0x34);  // vector 0x34, fixed, physical dest 0, edge, unmasked
  ioapic_.input(4).Raise();
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].vector, 0x34);
  EXPECT_FALSE(sent_[0].level);
  EXPECT_EQ(apic_.Acknowledge(), 0x34);
  ApicEoi();
  ioapic_.input(4).Raise();  // still high: no new edge
  EXPECT_EQ(sent_.size(), 1u);
  ioapic_.input(4).Lower();
  ioapic_.input(4).Pulse();
  EXPECT_EQ(sent_.size(), 2u);
}

TEST_F(IoApicTest, EdgeOnAMaskedPinIsLost) {
  Route(4, 0x34 | kMasked);
  ioapic_.input(4).Pulse();
  Route(4, 0x34);
  EXPECT_TRUE(sent_.empty());
  EXPECT_FALSE(apic_.HasPending());
}

TEST_F(IoApicTest, LevelPinWaitsForEoiAndResendsWhileAsserted) {
  Route(16, 0x41 | kLevel | kActiveLow);
  ioapic_.input(16).Raise();
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_TRUE(sent_[0].level);
  EXPECT_TRUE(Reg(0x10 + 32) & kRemoteIrr);
  EXPECT_EQ(apic_.Acknowledge(), 0x41);
  // Nothing more while remote IRR is set.
  ioapic_.input(16).Lower();
  ioapic_.input(16).Raise();
  EXPECT_EQ(sent_.size(), 1u);
  // The EOI clears remote IRR; the line is still asserted, so it comes again.
  ApicEoi();
  EXPECT_EQ(sent_.size(), 2u);
  EXPECT_EQ(apic_.Acknowledge(), 0x41);
  // The device deasserts before the EOI: nothing more.
  ioapic_.input(16).Lower();
  ApicEoi();
  EXPECT_EQ(sent_.size(), 2u);
  EXPECT_FALSE(Reg(0x10 + 32) & kRemoteIrr);
  EXPECT_FALSE(apic_.HasPending());
}

TEST_F(IoApicTest, EoiRegisterAndEdgeSwitchClearRemoteIrr) {
  Route(17, 0x42 | kLevel);
  ioapic_.input(17).Raise();
  ioapic_.input(17).Lower();
  EXPECT_TRUE(Reg(0x10 + 34) & kRemoteIrr);
  mmio_.Write(kBase + 0x40, 4, 0x42);  // the version 0x20 EOI register
  EXPECT_FALSE(Reg(0x10 + 34) & kRemoteIrr);
  ioapic_.input(17).Raise();
  EXPECT_TRUE(Reg(0x10 + 34) & kRemoteIrr);
  ioapic_.input(17).Lower();
  SetReg(0x10 + 34, 0x42);  // edge: no remote IRR
  EXPECT_FALSE(Reg(0x10 + 34) & kRemoteIrr);
}

TEST_F(IoApicTest, UnmaskingAnAssertedLevelPinDelivers) {
  Route(18, 0x43 | kLevel | kMasked);
  ioapic_.input(18).Raise();
  EXPECT_TRUE(sent_.empty());
  Route(18, 0x43 | kLevel);
  EXPECT_EQ(sent_.size(), 1u);
}

TEST_F(IoApicTest, DestinationsAndModes) {
  Route(5, 0x35 | (0xffull << 56));  // physical broadcast
  ioapic_.input(5).Pulse();
  EXPECT_EQ(apic_.Acknowledge(), 0x35);
  ApicEoi();
  Route(6, 0x36 | (1ull << 56));  // physical ID 1: nobody
  ioapic_.input(6).Pulse();
  EXPECT_FALSE(apic_.HasPending());
  // Logical flat, as Linux's flat APIC driver: LDR bit 0.
  mmio_.Write(0xfee000d0, 4, 0x01000000);
  Route(7, 0x37 | kLogical | (1ull << 8) /*lowest priority*/ | (1ull << 56));
  ioapic_.input(7).Pulse();
  EXPECT_EQ(apic_.Acknowledge(), 0x37);
  ApicEoi();
  // A level message nobody accepted does not leave remote IRR set.
  Route(19, 0x44 | kLevel | (3ull << 56));
  ioapic_.input(19).Raise();
  EXPECT_FALSE(Reg(0x10 + 38) & kRemoteIrr);
}

TEST_F(IoApicTest, ReadOnlyBitsAreKept) {
  Route(20, 0x45 | kLevel);
  ioapic_.input(20).Raise();
  SetReg(0x10 + 40, 0x45 | kLevel);  // rewriting the entry keeps remote IRR
  EXPECT_TRUE(Reg(0x10 + 40) & kRemoteIrr);
  SetReg(0x10 + 40, 0x45 | kLevel | (1u << 12));  // delivery status is read-only
  EXPECT_FALSE(Reg(0x10 + 40) & (1u << 12));
}

}  // namespace
}  // namespace xlat
