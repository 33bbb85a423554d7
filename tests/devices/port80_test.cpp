// Port 0x80: Linux's I/O delay port. Writes are swallowed, reads give 0xff.
#include "devices/port80.h"

#include <gtest/gtest.h>

#include <vector>

#include "devices/port_bus.h"

namespace xlat {
namespace {

TEST(Port80Test, WritesAreSwallowedReadsAreAllOnes) {
  PortBus bus;
  std::vector<uint8_t> codes;
  RegisterPort80(bus, [&](uint8_t c) { codes.push_back(c); });
  bus.Write(0x80, 1, 0x12);
  bus.Write(0x80, 1, 0x00);
  EXPECT_EQ(codes, (std::vector<uint8_t>{0x12, 0x00}));
  EXPECT_EQ(bus.Read(0x80, 1), 0xffu);
  EXPECT_EQ(bus.Read(0x80, 2), 0xffffu);
}

TEST(Port80Test, NoObserverNeeded) {
  PortBus bus;
  RegisterPort80(bus);
  bus.Write(0x80, 1, 0x55);
  EXPECT_EQ(bus.Read(0x80, 1), 0xffu);
}

}  // namespace
}  // namespace xlat
