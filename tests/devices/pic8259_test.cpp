// The 8259A pair driven through its ports as Linux drives it (init_8259A,
// mask_and_ack_8259A, the ELCR writes of the ACPI SCI setup).
#include "devices/pic8259.h"

#include <gtest/gtest.h>

#include "devices/port_bus.h"

namespace xlat {
namespace {

// An IrqLine that records its level and how often it changed.
class RecordingLine : public IrqLine {
 public:
  void Set(bool level) override {
    if (level != level_) changes++;
    level_ = level;
  }
  bool level() const { return level_; }
  int changes = 0;

 private:
  bool level_ = false;
};

class Pic : public ::testing::Test {
 protected:
  void SetUp() override {
    pic_.Register(ports_);
    InitLikeLinux(false);
  }
  void Out(uint16_t port, uint8_t v) { ports_.Write(port, 1, v); }
  uint8_t In(uint16_t port) { return static_cast<uint8_t>(ports_.Read(port, 1)); }

  // arch/x86/kernel/i8259.c init_8259A().
  void InitLikeLinux(bool auto_eoi) {
    Out(0x21, 0xff);
    Out(0xa1, 0xff);
    Out(0x20, 0x11);                 // ICW1: edge, cascade, ICW4
    Out(0x21, 0x30);                 // ICW2: IRQ 0-7 -> 0x30-0x37
    Out(0x21, 0x04);                 // ICW3: slave on IR2
    Out(0x21, auto_eoi ? 0x03 : 0x01);  // ICW4: 8086 mode (+ AEOI)
    Out(0xa0, 0x11);
    Out(0xa1, 0x38);  // IRQ 8-15 -> 0x38-0x3f
    Out(0xa1, 0x02);  // slave ID 2
    Out(0xa1, 0x01);
    Out(0x21, 0xfb);  // everything masked but the cascade
    Out(0xa1, 0xff);
  }
  void Unmask(unsigned irq) {
    if (irq < 8) Out(0x21, In(0x21) & ~(1u << irq));
    else Out(0xa1, In(0xa1) & ~(1u << (irq - 8)));
  }
  // mask_and_ack_8259A's EOIs (specific EOI; for the slave, the slave then the cascade).
  void Eoi(unsigned irq) {
    if (irq >= 8) {
      Out(0xa0, 0x60 + (irq & 7));
      Out(0x20, 0x62);
    } else {
      Out(0x20, 0x60 + irq);
    }
  }

  RecordingLine out_;
  Pic8259 pic_{&out_};
  PortBus ports_;
};

TEST_F(Pic, InitSequenceSetsVectorsAndMasks) {
  EXPECT_EQ(pic_.vector_base(0), 0x30);
  EXPECT_EQ(pic_.vector_base(1), 0x38);
  EXPECT_EQ(In(0x21), 0xfb);
  EXPECT_EQ(In(0xa1), 0xff);
  EXPECT_FALSE(out_.level());
}

TEST_F(Pic, MaskedIrqDoesNotInterruptUntilUnmasked) {
  pic_.input(1).Pulse();
  EXPECT_FALSE(out_.level());
  EXPECT_EQ(In(0x20) & 0x02, 0x02);  // in IRR (OCW3 default reads IRR)
  Unmask(1);
  EXPECT_TRUE(out_.level());
  EXPECT_EQ(pic_.Acknowledge(), 0x31);
  EXPECT_FALSE(out_.level());
  EXPECT_EQ(pic_.isr(0), 0x02);
  Eoi(1);
  EXPECT_EQ(pic_.isr(0), 0);
}

TEST_F(Pic, TimerTickAcknowledgeAndSpecificEoi) {
  Unmask(0);
  pic_.input(0).Pulse();
  ASSERT_TRUE(out_.level());
  EXPECT_EQ(pic_.Acknowledge(), 0x30);
  // Another tick while IRQ 0 is in service waits for the EOI.
  pic_.input(0).Pulse();
  EXPECT_FALSE(out_.level());
  Eoi(0);
  EXPECT_TRUE(out_.level());
  EXPECT_EQ(pic_.Acknowledge(), 0x30);
  Eoi(0);
  EXPECT_FALSE(out_.level());
}

TEST_F(Pic, SlaveIrqCascadesThroughIr2) {
  Unmask(12);
  pic_.input(12).Pulse();
  ASSERT_TRUE(out_.level());
  EXPECT_EQ(pic_.Acknowledge(), 0x3c);
  EXPECT_EQ(pic_.isr(0), 0x04);
  EXPECT_EQ(pic_.isr(1), 0x10);
  EXPECT_FALSE(out_.level());
  Eoi(12);
  EXPECT_EQ(pic_.isr(0), 0);
  EXPECT_EQ(pic_.isr(1), 0);
}

TEST_F(Pic, TwoSlaveRequestsAreBothDelivered) {
  Unmask(8);
  Unmask(14);
  pic_.input(14).Pulse();
  pic_.input(8).Pulse();
  EXPECT_EQ(pic_.Acknowledge(), 0x38);  // IRQ 8 has the higher priority
  Eoi(8);
  ASSERT_TRUE(out_.level());
  EXPECT_EQ(pic_.Acknowledge(), 0x3e);
  Eoi(14);
  EXPECT_FALSE(out_.level());
}

TEST_F(Pic, PriorityAndNesting) {
  Unmask(0);
  Unmask(1);
  Unmask(3);
  pic_.input(3).Pulse();
  pic_.input(1).Pulse();
  EXPECT_EQ(pic_.Acknowledge(), 0x31);
  // IRQ 3 is lower than IRQ 1 in service: it waits.
  EXPECT_FALSE(out_.level());
  // IRQ 0 is higher: it nests.
  pic_.input(0).Pulse();
  EXPECT_TRUE(out_.level());
  EXPECT_EQ(pic_.Acknowledge(), 0x30);
  Out(0x20, 0x20);  // non-specific EOI: the highest in service (IRQ 0)
  EXPECT_EQ(pic_.isr(0), 0x02);
  EXPECT_FALSE(out_.level());
  Out(0x20, 0x20);
  EXPECT_EQ(pic_.Acknowledge(), 0x33);
}

TEST_F(Pic, SpuriousIrq7WhenTheRequestWentAway) {
  EXPECT_EQ(pic_.Acknowledge(), 0x37);
  EXPECT_EQ(pic_.isr(0), 0);  // a spurious IRQ 7 is not in service
  Out(0x20, 0x0b);            // OCW3: read ISR
  EXPECT_EQ(In(0x20), 0);
}

TEST_F(Pic, ReadIrrAndIsrThroughOcw3) {
  Unmask(4);
  pic_.input(4).Pulse();
  Out(0x20, 0x0a);
  EXPECT_EQ(In(0x20), 0x10);
  pic_.Acknowledge();
  Out(0x20, 0x0b);
  EXPECT_EQ(In(0x20), 0x10);
  Out(0x20, 0x0a);
  EXPECT_EQ(In(0x20), 0x00);
}

TEST_F(Pic, EdgeInputHeldHighRequestsOnce) {
  Unmask(3);
  pic_.input(3).Raise();
  EXPECT_EQ(pic_.Acknowledge(), 0x33);
  Eoi(3);
  EXPECT_FALSE(out_.level());  // no new edge
  pic_.input(3).Lower();
  pic_.input(3).Raise();
  EXPECT_TRUE(out_.level());
}

TEST_F(Pic, LevelTriggeredPerElcr) {
  Out(0x4d0, 0xff);
  EXPECT_EQ(In(0x4d0), 0xf8);  // IRQ 0-2 cannot be level
  Out(0x4d0, 0x00);
  Out(0x4d1, 0x02);  // IRQ 9 level (the ACPI SCI)
  EXPECT_EQ(In(0x4d1), 0x02);
  Unmask(9);
  pic_.input(9).Raise();
  EXPECT_EQ(pic_.Acknowledge(), 0x39);
  Eoi(9);
  // Still asserted: requests again.
  EXPECT_TRUE(out_.level());
  EXPECT_EQ(pic_.Acknowledge(), 0x39);
  pic_.input(9).Lower();
  Eoi(9);
  EXPECT_FALSE(out_.level());
}

TEST_F(Pic, LevelRequestDroppedBeforeAcknowledgeIsSpurious) {
  Out(0x4d1, 0x02);
  Unmask(9);
  pic_.input(9).Raise();
  EXPECT_TRUE(out_.level());
  pic_.input(9).Lower();
  EXPECT_FALSE(out_.level());
  EXPECT_EQ(pic_.Acknowledge(), 0x37);
}

TEST_F(Pic, PollMode) {
  Unmask(5);
  Out(0x20, 0x0c);  // OCW3: poll
  EXPECT_EQ(In(0x20), 0x00);
  pic_.input(5).Pulse();
  Out(0x20, 0x0c);
  EXPECT_EQ(In(0x20), 0x85);
  EXPECT_EQ(pic_.isr(0), 0x20);  // a poll acknowledges
  EXPECT_EQ(In(0x20), 0x00);     // and the next read is the IRR again
}

TEST_F(Pic, AutoEoi) {
  InitLikeLinux(true);
  Unmask(1);
  pic_.input(1).Pulse();
  EXPECT_EQ(pic_.Acknowledge(), 0x31);
  EXPECT_EQ(pic_.isr(0), 0);
  pic_.input(1).Pulse();
  EXPECT_TRUE(out_.level());
}

TEST_F(Pic, OutputChangesOnlyWhenItsLevelDoes) {
  Unmask(1);
  Unmask(3);
  const int before = out_.changes;
  pic_.input(1).Pulse();
  pic_.input(3).Pulse();
  Out(0x21, In(0x21));  // rewriting the mask changes nothing
  EXPECT_EQ(out_.changes, before + 1);
}

TEST_F(Pic, ReinitializationClearsStateButKeepsElcr) {
  Out(0x4d1, 0x02);
  Unmask(1);
  pic_.input(1).Pulse();
  pic_.Acknowledge();
  InitLikeLinux(false);
  EXPECT_EQ(pic_.isr(0), 0);
  EXPECT_EQ(In(0x4d1), 0x02);
}

TEST_F(Pic, RotateOnNonSpecificEoi) {
  Unmask(1);
  Unmask(3);
  pic_.input(1).Pulse();
  EXPECT_EQ(pic_.Acknowledge(), 0x31);
  Out(0x20, 0xa0);  // rotate on non-specific EOI: IRQ 1 becomes the lowest
  pic_.input(1).Pulse();
  pic_.input(3).Pulse();
  EXPECT_EQ(pic_.Acknowledge(), 0x33);
}

}  // namespace
}  // namespace xlat
