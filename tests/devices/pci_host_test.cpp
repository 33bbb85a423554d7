// Configuration mechanism #1 as Linux probes and uses it, and bus 0's two
// bridges.
#include "devices/pci_host.h"

#include <gtest/gtest.h>

#include <vector>

#include "devices/port_bus.h"

namespace xlat {
namespace {

class PciHostTest : public ::testing::Test {
 protected:
  PciHostTest() { pci.Register(bus); }

  static uint32_t Address(unsigned b, unsigned d, unsigned f, unsigned reg) {
    return 0x80000000u | (b << 16) | (d << 11) | (f << 8) | (reg & 0xfc);
  }
  // pci_conf1_read(): the address, then the data window at reg & 3.
  uint32_t Read(unsigned b, unsigned d, unsigned f, unsigned reg, unsigned size) {
    bus.Write(0xcf8, 4, Address(b, d, f, reg));
    return bus.Read(static_cast<uint16_t>(0xcfc + (reg & 3)), size);
  }
  void Write(unsigned b, unsigned d, unsigned f, unsigned reg, unsigned size, uint32_t value) {
    bus.Write(0xcf8, 4, Address(b, d, f, reg));
    bus.Write(static_cast<uint16_t>(0xcfc + (reg & 3)), size, value);
  }

  PortBus bus;
  PciHost pci;
};

TEST_F(PciHostTest, Type1Probe) {
  // pci_check_type1().
  bus.Write(0xcfb, 1, 0x01);
  const uint32_t saved = bus.Read(0xcf8, 4);
  bus.Write(0xcf8, 4, 0x80000000);
  EXPECT_EQ(bus.Read(0xcf8, 4), 0x80000000u);
  bus.Write(0xcf8, 4, saved);
  // pci_sanity_check(): a host bridge class at 00.0 (16-bit read at 0x0a).
  EXPECT_EQ(Read(0, 0, 0, 0x0a, 2), 0x0600u);
  EXPECT_EQ(Read(0, 0, 0, 0x00, 2), 0x8086u);
}

TEST_F(PciHostTest, EnumeratesTwoBridgesOnBusZero) {
  std::vector<uint32_t> found;
  for (unsigned d = 0; d < 32; d++) {
    for (unsigned f = 0; f < 8; f++) {
      const uint32_t id = Read(0, d, f, 0, 4);
      if (f == 0 && (id & 0xffff) == 0xffff) break;
      if ((id & 0xffff) != 0xffff) found.push_back(id);
      if (f == 0 && !(Read(0, d, 0, 0x0e, 1) & 0x80)) break;  // single-function
    }
  }
  EXPECT_EQ(found, (std::vector<uint32_t>{0x12378086u, 0x70008086u}));
  EXPECT_EQ(Read(0, 0, 0, 0x08, 4), 0x06000002u);  // class 06 00 00, revision 2
  EXPECT_EQ(Read(0, 1, 0, 0x08, 4), 0x06010000u);  // ISA bridge
  EXPECT_EQ(Read(0, 1, 0, 0x0e, 1), 0x80u);
  EXPECT_EQ(Read(0, 0, 0, 0x3d, 1), 0u) << "no interrupt pin";
  EXPECT_EQ(Read(1, 0, 0, 0, 4), 0xffffffffu) << "there is no bus 1";
  EXPECT_EQ(Read(0, 2, 0, 0, 2), 0xffffu);
}

TEST_F(PciHostTest, AnySizeAndOffsetThroughTheDataWindow) {
  const uint32_t dword = Read(0, 0, 0, 0x04, 4);
  EXPECT_EQ(dword, 0x02800006u);  // status, command
  for (unsigned i = 0; i < 4; i++) EXPECT_EQ(Read(0, 0, 0, 0x04 + i, 1), (dword >> (8 * i)) & 0xff) << i;
  EXPECT_EQ(Read(0, 0, 0, 0x06, 2), 0x0280u);
  // A word at 0xcfd: bytes 1 and 2 of the dword.
  bus.Write(0xcf8, 4, Address(0, 0, 0, 0x04));
  EXPECT_EQ(bus.Read(0xcfd, 2), (dword >> 8) & 0xffff);
}

TEST_F(PciHostTest, WritableBitsOnly) {
  Write(0, 0, 0, 0x00, 4, 0);  // IDs are read-only
  EXPECT_EQ(Read(0, 0, 0, 0x00, 4), 0x12378086u);
  Write(0, 1, 0, 0x04, 2, 0xffff);
  EXPECT_EQ(Read(0, 1, 0, 0x04, 2), 0x0147u);
  // BAR sizing: no BARs, so all-ones written read back as 0.
  for (unsigned bar = 0x10; bar < 0x28; bar += 4) {
    Write(0, 0, 0, bar, 4, 0xffffffff);
    EXPECT_EQ(Read(0, 0, 0, bar, 4), 0u) << bar;
  }
  Write(0, 1, 0, 0x3c, 1, 0x0b);
  EXPECT_EQ(Read(0, 1, 0, 0x3c, 1), 0x0bu);
  // Chipset registers hold what is written (Linux's PIIX3 passive release quirk).
  EXPECT_EQ(Read(0, 1, 0, 0x60, 4), 0x80808080u);
  Write(0, 1, 0, 0x82, 1, Read(0, 1, 0, 0x82, 1) | 2);
  EXPECT_EQ(Read(0, 1, 0, 0x82, 1), 2u);
  // Writes to an absent device go nowhere.
  Write(0, 5, 0, 0x04, 2, 0xffff);
  EXPECT_EQ(Read(0, 5, 0, 0x04, 2), 0xffffu);
}

TEST_F(PciHostTest, DisabledOrExtendedAddressesReadAllOnes) {
  bus.Write(0xcf8, 4, 0x00000000);  // enable bit clear
  EXPECT_EQ(bus.Read(0xcfc, 4), 0xffffffffu);
  bus.Write(0xcfc, 2, 0);
  EXPECT_EQ(Read(0, 0, 0, 0, 2), 0x8086u);
  bus.Write(0xcf8, 4, 0x81000000);  // register 256 and up
  EXPECT_EQ(bus.Read(0xcfc, 4), 0xffffffffu);
}

TEST_F(PciHostTest, SubDwordAddressAccessesAreNotDecoded) {
  bus.Write(0xcf8, 4, 0x80000008);
  bus.Write(0xcf8, 1, 0x00);
  EXPECT_EQ(bus.Read(0xcf8, 4), 0x80000008u);
  EXPECT_EQ(bus.Read(0xcf8, 1), 0xffu);
  EXPECT_EQ(bus.Read(0xcf9, 1), 0xffu) << "0xcf9 is left for the reset control register";
  bus.Write(0xcf8, 4, 0xffffffff);
  EXPECT_EQ(bus.Read(0xcf8, 4), 0x8ffffffcu);
}

TEST_F(PciHostTest, ResetRestoresDefaults) {
  Write(0, 1, 0, 0x60, 1, 0x0b);
  Write(0, 0, 0, 0x04, 2, 0);
  pci.Reset();
  EXPECT_EQ(pci.address(), 0u);
  EXPECT_EQ(Read(0, 1, 0, 0x60, 1), 0x80u);
  EXPECT_EQ(Read(0, 0, 0, 0x04, 2), 0x0006u);
}

TEST_F(PciHostTest, AttachAnotherFunction) {
  SimplePciFunction::Header h;
  h.vendor = 0x1234;
  h.device = 0x1111;
  h.class_code = 0x030000;
  SimplePciFunction vga(h);
  EXPECT_FALSE(pci.Attach(0, 0, &vga)) << "taken";
  EXPECT_FALSE(pci.Attach(32, 0, &vga));
  ASSERT_TRUE(pci.Attach(2, 0, &vga));
  EXPECT_EQ(Read(0, 2, 0, 0, 4), 0x11111234u);
  EXPECT_EQ(Read(0, 2, 0, 0x0a, 2), 0x0300u);
}

}  // namespace
}  // namespace xlat
