// The PCI host bridge of the PC, with configuration mechanism #1: a 32-bit
// address register at 0xcf8 (enable bit 31, bus 23:16, device 15:11,
// function 10:8, register 7:2) and a data window at 0xcfc-0xcff that any
// access size and offset can use. Only bus 0 exists:
//   00.0  Intel 82441FX (i440FX) host bridge   8086:1237, class 06 00 00
//   01.0  Intel 82371SB (PIIX3) ISA bridge     8086:7000, class 06 01 00
// the same IDs as QEMU's "pc" machine, so Linux applies the same quirks and
// lspci reads the same. Every other device, function and bus reads all-ones
// (no device), and writes to them are dropped.
//
// Only the 32-bit address register is decoded at 0xcf8 (sub-dword accesses
// there read all-ones and are ignored, as on QEMU): 0xcf9 is the PIIX reset
// control register, which belongs to the ACPI PM device (acpi_pm.h), and
// Linux's type-1 probe writes a byte to 0xcfb, which nothing decodes.
//
// The two bridges have no BARs and no interrupt pin. Their header is fixed
// except for the command register, cache line size, latency timer and
// interrupt line; the chipset registers (0x40-0xff: PAM, SMRAM, PIRQ
// routing...) hold what is written and do nothing.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

namespace xlat {

class PortBus;

// One function's 256-byte configuration space.
class PciFunction {
 public:
  virtual ~PciFunction() = default;
  // `offset + size <= 256`, size 1, 2 or 4 (not necessarily aligned).
  virtual uint32_t ConfigRead(unsigned offset, unsigned size) = 0;
  virtual void ConfigWrite(unsigned offset, unsigned size, uint32_t value) = 0;
  virtual void Reset() {}
};

// Configuration space as plain bytes with a mask of the bits the guest may
// change: enough for functions that decode nothing through their header.
class SimplePciFunction : public PciFunction {
 public:
  struct Header {
    uint16_t vendor = 0, device = 0;
    uint16_t command = 0, status = 0;
    uint8_t revision = 0;
    uint32_t class_code = 0;  // base class, subclass, programming interface
    uint8_t header_type = 0;  // bit 7: multi-function
  };
  explicit SimplePciFunction(const Header& header);

  // Sets the power-on value of bytes [offset, offset + size).
  void SetDefault(unsigned offset, unsigned size, uint32_t value);
  void SetWritable(unsigned offset, unsigned size, uint32_t mask);

  uint32_t ConfigRead(unsigned offset, unsigned size) override;
  void ConfigWrite(unsigned offset, unsigned size, uint32_t value) override;
  void Reset() override { config_ = defaults_; }

 private:
  std::array<uint8_t, 256> config_{}, defaults_{}, writable_{};
};

class PciHost {
 public:
  static constexpr uint16_t kAddressPort = 0xcf8, kDataPort = 0xcfc;
  static constexpr unsigned kHostBridgeDevice = 0, kIsaBridgeDevice = 1;

  PciHost();  // with the host bridge and the ISA bridge attached
  PciHost(const PciHost&) = delete;
  PciHost& operator=(const PciHost&) = delete;

  // 0xcf8 (one port, dword access) and 0xcfc-0xcff.
  void Register(PortBus& ports);
  // The address register is cleared; every function is reset.
  void Reset();

  // Puts a function on bus 0 (the caller keeps ownership). False if the slot
  // is taken or out of range.
  bool Attach(unsigned device, unsigned function, PciFunction* fn);

  uint32_t ReadPort(uint16_t port, unsigned size);
  void WritePort(uint16_t port, unsigned size, uint32_t value);

  // Configuration space by address (what the data window reaches).
  uint32_t ConfigRead(unsigned bus, unsigned device, unsigned function, unsigned offset, unsigned size);
  void ConfigWrite(unsigned bus, unsigned device, unsigned function, unsigned offset, unsigned size,
                   uint32_t value);

  uint32_t address() const { return address_; }

 private:
  PciFunction* Find(unsigned bus, unsigned device, unsigned function) const;

  uint32_t address_ = 0;
  std::array<PciFunction*, 32 * 8> bus0_{};  // indexed by device * 8 + function
  std::unique_ptr<SimplePciFunction> host_bridge_, isa_bridge_;
};

}  // namespace xlat
