// Port 0x80: Linux's I/O delay port. Writes are swallowed, reads give 0xff.
#include "devices/port80.h"

#include <gtest/gtest.h>

#include <vector>

#include "devices/port_bus.h"

namespace xlat {
namespace {

TEST(Port80Test, WritesAreKeptReadsAreAllOnes) {
  PortBus bus;
  std::vector<uint8_t> codes;
  Port80 port80([&](uint8_t c) { codes.push_back(c); });
  port80.Register(bus);
  bus.Write(0x80, 1, 0x12);
  bus.Write(0x80, 1, 0x34);
  EXPECT_EQ(codes, (std::vector<uint8_t>{0x12, 0x34}));
  EXPECT_EQ(port80.last_code(), 0x34);
  EXPECT_EQ(bus.Read(0x80, 1), 0xffu);
  EXPECT_EQ(bus.Read(0x80, 2), 0xffffu);
  port80.Reset();
  EXPECT_EQ(port80.last_code(), 0);
}

TEST(Port80Test, NoObserverNeeded) {
  PortBus bus;
  Port80 port80;
  port80.Register(bus);
  bus.Write(0x80, 1, 0x55);
  EXPECT_EQ(port80.last_code(), 0x55);
  EXPECT_EQ(bus.Read(0x80, 1), 0xffu);
}

}  // namespace
}  // namespace xlat
