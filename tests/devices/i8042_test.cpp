// The keyboard controller as Linux's i8042 and atkbd drivers probe it, the
// reset line and A20 (including port 0x92).
#include "devices/i8042.h"

#include <gtest/gtest.h>

#include <vector>

#include "devices/port_bus.h"

namespace xlat {
namespace {

struct RecordingIrq : IrqLine {
  bool level = false;
  int rising_edges = 0;
  void Set(bool l) override {
    if (l && !level) rising_edges++;
    level = l;
  }
};

constexpr uint16_t kData = 0x60, kCmd = 0x64;
constexpr uint8_t kObf = 0x01, kAuxData = 0x20, kTimeout = 0x40;

class I8042Test : public ::testing::Test {
 protected:
  I8042Test() : kbc(&irq1, &irq12, [this] { resets++; }) { kbc.Register(bus); }

  uint8_t Status() { return static_cast<uint8_t>(bus.Read(kCmd, 1)); }
  uint8_t Data() { return static_cast<uint8_t>(bus.Read(kData, 1)); }
  // i8042_command(): a command, its parameter, then `replies` bytes read
  // with status.OBF polled first, as the driver does.
  std::vector<uint8_t> Command(uint8_t command, int param = -1, int replies = 0) {
    bus.Write(kCmd, 1, command);
    if (param >= 0) bus.Write(kData, 1, static_cast<uint32_t>(param));
    std::vector<uint8_t> got;
    for (int i = 0; i < replies; i++) {
      if (!(Status() & kObf)) {
        ADD_FAILURE() << "no reply " << i << " to command " << std::hex << int(command);
        break;
      }
      got.push_back(Data());
    }
    return got;
  }
  // Bytes the keyboard sends after `byte` is written to it.
  std::vector<uint8_t> ToKeyboard(uint8_t byte) {
    bus.Write(kData, 1, byte);
    std::vector<uint8_t> got;
    while (Status() & kObf) got.push_back(Data());
    return got;
  }
  // i8042_flush(): how many bytes were waiting.
  int Flush() {
    int n = 0;
    while ((Status() & kObf) && n < 16) {
      Data();
      n++;
    }
    return n;
  }

  PortBus bus;
  RecordingIrq irq1, irq12;
  int resets = 0;
  I8042 kbc;
};

TEST_F(I8042Test, ControllerProbe) {
  EXPECT_EQ(Flush(), 0) << "a controller is there and its buffer starts empty";
  EXPECT_EQ(Status() & 0x02, 0) << "the input buffer is never full";
  EXPECT_EQ(Command(0xaa, -1, 1), std::vector<uint8_t>{0x55});
  const uint8_t ctr = Command(0x20, -1, 1).at(0);
  EXPECT_EQ(ctr, 0x65);
  EXPECT_EQ(Command(0x20, -1, 1).at(0), ctr) << "reads twice the same";
  // Disable both ports and their interrupts, as i8042_controller_init does.
  Command(0x60, 0x74);  // XLATE | AUXDIS | KBDDIS | SYS
  EXPECT_EQ(Command(0x20, -1, 1).at(0), 0x74);
  EXPECT_EQ(kbc.command_byte(), 0x74);
  EXPECT_EQ(Status() & 0x08, 0x08) << "last write was a command";
  EXPECT_EQ(Command(0xab, -1, 1), std::vector<uint8_t>{0x00});
  EXPECT_EQ(Command(0xa9, -1, 1), std::vector<uint8_t>{0x00});
  EXPECT_FALSE(irq1.level);
}

TEST_F(I8042Test, AuxLoopbackAndToggle) {
  Command(0x60, 0x74);
  // i8042_check_aux(): the loop comes back marked as aux data.
  bus.Write(kCmd, 1, 0xd3);
  bus.Write(kData, 1, 0x5a);
  EXPECT_EQ(Status() & (kObf | kAuxData), kObf | kAuxData);
  EXPECT_EQ(Data(), 0x5a);
  EXPECT_EQ(Status() & kObf, 0);
  // The MUX probe: three loops, the last echoed (so: not a multiplexer).
  for (uint8_t b : {0xf0, 0x56, 0xa4}) EXPECT_EQ(Command(0xd3, b, 1).at(0), b);
  // i8042_toggle_aux(): the command byte follows 0xa7 / 0xa8.
  Command(0xa7);
  EXPECT_TRUE(Command(0x20, -1, 1).at(0) & 0x20);
  Command(0xa8);
  EXPECT_FALSE(Command(0x20, -1, 1).at(0) & 0x20);
}

TEST_F(I8042Test, AuxIrqTest) {
  // i8042_enable_aux_port(), then the loop of 0xa5 must raise IRQ 12 only.
  Command(0x60, 0x47);  // XLATE | SYS | AUXINT | KBDINT, both ports enabled
  bus.Write(kCmd, 1, 0xd3);
  bus.Write(kData, 1, 0xa5);
  EXPECT_TRUE(irq12.level);
  EXPECT_FALSE(irq1.level);
  EXPECT_EQ(Status() & (kObf | kAuxData), kObf | kAuxData);
  EXPECT_EQ(Data(), 0xa5);
  EXPECT_FALSE(irq12.level);
}

TEST_F(I8042Test, AbsentMouseTimesOutAtOnce) {
  Command(0x60, 0x47);
  bus.Write(kCmd, 1, 0xd4);
  bus.Write(kData, 1, 0xf2);  // psmouse's Get ID
  EXPECT_EQ(Status() & (kObf | kAuxData | kTimeout), kObf | kAuxData | kTimeout);
  EXPECT_TRUE(irq12.level);
  EXPECT_EQ(Data(), 0xfe);
  EXPECT_EQ(Status() & (kObf | kTimeout), 0);
}

TEST_F(I8042Test, KeyboardAnswersAtkbdProbe) {
  Command(0x60, 0x45);  // XLATE | SYS | KBDINT, keyboard port enabled
  const int edges = irq1.rising_edges;
  EXPECT_EQ(ToKeyboard(0xf2), (std::vector<uint8_t>{0xfa, 0xab, 0x41}));
  EXPECT_EQ(irq1.rising_edges - edges, 3) << "one interrupt edge per byte";
  EXPECT_FALSE(irq1.level);
  EXPECT_EQ(ToKeyboard(0xed), std::vector<uint8_t>{0xfa});  // set LEDs...
  EXPECT_EQ(ToKeyboard(0x00), std::vector<uint8_t>{0xfa});  // ...off
  EXPECT_EQ(ToKeyboard(0xf3), std::vector<uint8_t>{0xfa});
  EXPECT_EQ(ToKeyboard(0x20), std::vector<uint8_t>{0xfa});
  EXPECT_EQ(ToKeyboard(0xf4), std::vector<uint8_t>{0xfa});
  EXPECT_EQ(ToKeyboard(0xee), std::vector<uint8_t>{0xee});
  EXPECT_EQ(ToKeyboard(0xff), (std::vector<uint8_t>{0xfa, 0xaa}));
  EXPECT_EQ(ToKeyboard(0xf0), std::vector<uint8_t>{0xfa});
  EXPECT_EQ(ToKeyboard(0x00), (std::vector<uint8_t>{0xfa, 0x41})) << "set 2, as translated";
  EXPECT_EQ(ToKeyboard(0x42), std::vector<uint8_t>{0xfe}) << "not a command";
  // Untranslated, Get ID says 0x83.
  Command(0x60, 0x05);
  EXPECT_EQ(ToKeyboard(0xf2), (std::vector<uint8_t>{0xfa, 0xab, 0x83}));
}

TEST_F(I8042Test, KeyboardBytesWaitWhileItsPortIsDisabled) {
  Command(0x60, 0x45);
  // A byte written to the keyboard enables its port (as on QEMU's
  // controller); the reply's first byte is in the buffer at once, the rest
  // waits in the keyboard once its port is disabled again.
  bus.Write(kData, 1, 0xf2);
  Command(0xad);
  EXPECT_TRUE(kbc.command_byte() & 0x10);
  std::vector<uint8_t> got;
  while (Status() & kObf) got.push_back(Data());
  EXPECT_EQ(got, std::vector<uint8_t>{0xfa});
  Command(0xae);
  got.clear();
  while (Status() & kObf) got.push_back(Data());
  EXPECT_EQ(got, (std::vector<uint8_t>{0xab, 0x41}));
}

TEST_F(I8042Test, InterruptFollowsCommandByte) {
  Command(0x60, 0x44);  // keyboard interrupt off
  bus.Write(kCmd, 1, 0xd2);
  bus.Write(kData, 1, 0x1c);  // a byte as if from the keyboard
  EXPECT_EQ(Status() & (kObf | kAuxData), kObf);
  EXPECT_FALSE(irq1.level);
  Command(0x60, 0x45);  // enabling the interrupt raises it for the waiting byte
  EXPECT_TRUE(irq1.level);
  EXPECT_EQ(Data(), 0x1c);
  EXPECT_FALSE(irq1.level);
}

TEST_F(I8042Test, ResetLine) {
  Command(0xff);  // pulse nothing
  EXPECT_EQ(resets, 0);
  Command(0xfe);  // pulse bit 0: reset
  EXPECT_EQ(resets, 1);
  // Output port: A20 off keeps the reset line high; bit 0 low resets.
  Command(0xd1, 0xdd);
  EXPECT_EQ(resets, 1);
  EXPECT_FALSE(kbc.a20_enabled());
  EXPECT_EQ(Command(0xd0, -1, 1).at(0) & 0x03, 0x01);
  Command(0xdf);
  EXPECT_TRUE(kbc.a20_enabled());
  Command(0xd1, 0xdc);
  EXPECT_EQ(resets, 2);
}

TEST_F(I8042Test, Port92FastA20AndReset) {
  bus.Write(0x92, 1, 0x00);
  Command(0xdd);
  EXPECT_FALSE(kbc.a20_enabled());
  bus.Write(0x92, 1, 0x02);
  EXPECT_TRUE(kbc.a20_enabled());
  EXPECT_EQ(bus.Read(0x92, 1), 0x02u);
  EXPECT_EQ(resets, 0);
  bus.Write(0x92, 1, 0x03);
  EXPECT_EQ(resets, 1);
  bus.Write(0x92, 1, 0x03);
  EXPECT_EQ(resets, 1) << "only the rising edge of bit 0 resets";
  kbc.Reset();
  EXPECT_EQ(bus.Read(0x92, 1), 0x02u) << "reset clears bit 0, keeps A20";
  bus.Write(0x92, 1, 0x03);
  EXPECT_EQ(resets, 2);
}

}  // namespace
}  // namespace xlat
