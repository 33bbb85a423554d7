#include "devices/pci_host.h"

#include "devices/port_bus.h"

namespace xlat {

namespace {

uint32_t AllOnes(unsigned size) { return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1; }

// Standard header offsets.
constexpr unsigned kVendor = 0x00, kDevice = 0x02, kCommand = 0x04, kStatus = 0x06, kRevision = 0x08,
                   kClass = 0x09, kCacheLine = 0x0c, kLatency = 0x0d, kHeaderType = 0x0e, kIntLine = 0x3c;

// Command register bits the guest may set: I/O, memory, bus master, parity
// error response, SERR#.
constexpr uint32_t kCommandWritable = 0x0147;

std::unique_ptr<SimplePciFunction> MakeBridge(const SimplePciFunction::Header& h) {
  auto fn = std::make_unique<SimplePciFunction>(h);
  fn->SetWritable(kCommand, 2, kCommandWritable);
  fn->SetWritable(kCacheLine, 1, 0xff);
  fn->SetWritable(kLatency, 1, 0xff);
  fn->SetWritable(kIntLine, 1, 0xff);
  for (unsigned off = 0x40; off < 0x100; off += 4) fn->SetWritable(off, 4, 0xffffffff);
  return fn;
}

}  // namespace

// ---- SimplePciFunction ----

SimplePciFunction::SimplePciFunction(const Header& h) {
  SetDefault(kVendor, 2, h.vendor);
  SetDefault(kDevice, 2, h.device);
  SetDefault(kCommand, 2, h.command);
  SetDefault(kStatus, 2, h.status);
  SetDefault(kRevision, 1, h.revision);
  SetDefault(kClass, 3, h.class_code);
  SetDefault(kHeaderType, 1, h.header_type);
  Reset();
}

void SimplePciFunction::SetDefault(unsigned offset, unsigned size, uint32_t value) {
  for (unsigned i = 0; i < size && offset + i < 256; i++) {
    defaults_[offset + i] = static_cast<uint8_t>(value >> (8 * i));
    config_[offset + i] = defaults_[offset + i];
  }
}

void SimplePciFunction::SetWritable(unsigned offset, unsigned size, uint32_t mask) {
  for (unsigned i = 0; i < size && offset + i < 256; i++) writable_[offset + i] = static_cast<uint8_t>(mask >> (8 * i));
}

uint32_t SimplePciFunction::ConfigRead(unsigned offset, unsigned size) {
  uint32_t value = 0;
  for (unsigned i = 0; i < size; i++) value |= static_cast<uint32_t>(config_[offset + i]) << (8 * i);
  return value;
}

void SimplePciFunction::ConfigWrite(unsigned offset, unsigned size, uint32_t value) {
  for (unsigned i = 0; i < size; i++) {
    const uint8_t mask = writable_[offset + i];
    const uint8_t byte = static_cast<uint8_t>(value >> (8 * i));
    config_[offset + i] = static_cast<uint8_t>((config_[offset + i] & ~mask) | (byte & mask));
  }
}

// ---- PciHost ----

PciHost::PciHost() {
  SimplePciFunction::Header host;
  host.vendor = 0x8086;
  host.device = 0x1237;  // 82441FX PMC
  host.command = 0x0006;  // memory space and bus master, as the datasheet's default
  host.status = 0x0280;   // fast back-to-back capable, medium DEVSEL timing
  host.revision = 0x02;
  host.class_code = 0x060000;  // host bridge
  host_bridge_ = MakeBridge(host);
  host_bridge_->SetDefault(0x72, 1, 0x02);  // SMRAM: the compatible SMRAM range is at 0xa0000

  SimplePciFunction::Header isa;
  isa.vendor = 0x8086;
  isa.device = 0x7000;    // 82371SB PIIX3 function 0
  isa.command = 0x0007;   // I/O, memory, bus master
  isa.status = 0x0200;    // medium DEVSEL timing
  isa.class_code = 0x060100;  // ISA bridge
  isa.header_type = 0x80;     // multi-function (IDE and USB would be 01.1, 01.2)
  isa_bridge_ = MakeBridge(isa);
  isa_bridge_->SetDefault(0x4c, 1, 0x4d);  // ISA I/O recovery timer
  isa_bridge_->SetDefault(0x4e, 1, 0x03);  // X-bus chip select
  isa_bridge_->SetDefault(0x60, 4, 0x80808080);  // PIRQA-D routing: disabled
  isa_bridge_->SetDefault(0x69, 1, 0x02);  // top of memory
  isa_bridge_->SetDefault(0x70, 1, 0x80);  // motherboard IRQ routing: disabled
  isa_bridge_->SetDefault(0x76, 2, 0x0c0c);  // motherboard DMA: disabled
  isa_bridge_->SetDefault(0x78, 1, 0x02);  // programmable chip select
  isa_bridge_->SetDefault(0xa0, 1, 0x08);  // SMI control
  isa_bridge_->SetDefault(0xa8, 1, 0x0f);  // fast off timer

  Attach(kHostBridgeDevice, 0, host_bridge_.get());
  Attach(kIsaBridgeDevice, 0, isa_bridge_.get());
}

void PciHost::Register(PortBus& ports) {
  ports.Register(
      "pci-config-address", kAddressPort, 1, [this](uint16_t port, unsigned size) { return ReadPort(port, size); },
      [this](uint16_t port, unsigned size, uint32_t value) { WritePort(port, size, value); });
  ports.Register(
      "pci-config-data", kDataPort, 4, [this](uint16_t port, unsigned size) { return ReadPort(port, size); },
      [this](uint16_t port, unsigned size, uint32_t value) { WritePort(port, size, value); });
}

void PciHost::Reset() {
  address_ = 0;
  for (PciFunction* fn : bus0_)
    if (fn) fn->Reset();
}

bool PciHost::Attach(unsigned device, unsigned function, PciFunction* fn) {
  if (device >= 32 || function >= 8 || bus0_[device * 8 + function]) return false;
  bus0_[device * 8 + function] = fn;
  return true;
}

PciFunction* PciHost::Find(unsigned bus, unsigned device, unsigned function) const {
  if (bus != 0 || device >= 32 || function >= 8) return nullptr;
  return bus0_[device * 8 + function];
}

uint32_t PciHost::ReadPort(uint16_t port, unsigned size) {
  if (port == kAddressPort) return size == 4 ? address_ : AllOnes(size);
  if (port < kDataPort || port > kDataPort + 3) return AllOnes(size);
  if (!(address_ & 0x80000000u)) return AllOnes(size);
  // Bits 27:24 would select registers above 255 (an AMD extension): none here.
  if (address_ & 0x0f000000u) return AllOnes(size);
  const unsigned offset = (address_ & 0xfc) + (port - kDataPort);
  return ConfigRead((address_ >> 16) & 0xff, (address_ >> 11) & 0x1f, (address_ >> 8) & 7, offset, size);
}

void PciHost::WritePort(uint16_t port, unsigned size, uint32_t value) {
  if (port == kAddressPort) {
    if (size == 4) address_ = value & 0x8ffffffcu;  // bits 30:28 and 1:0 are reserved, read 0
    return;
  }
  if (port < kDataPort || port > kDataPort + 3) return;
  if (!(address_ & 0x80000000u) || (address_ & 0x0f000000u)) return;
  const unsigned offset = (address_ & 0xfc) + (port - kDataPort);
  ConfigWrite((address_ >> 16) & 0xff, (address_ >> 11) & 0x1f, (address_ >> 8) & 7, offset, size, value);
}

uint32_t PciHost::ConfigRead(unsigned bus, unsigned device, unsigned function, unsigned offset, unsigned size) {
  PciFunction* fn = Find(bus, device, function);
  if (!fn || offset >= 256) return AllOnes(size);
  if (offset + size <= 256) return fn->ConfigRead(offset, size);
  uint32_t value = AllOnes(size);  // a window that runs past the end: what exists, then ones
  for (unsigned i = 0; offset + i < 256; i++) {
    value &= ~(0xffu << (8 * i));
    value |= fn->ConfigRead(offset + i, 1) << (8 * i);
  }
  return value;
}

void PciHost::ConfigWrite(unsigned bus, unsigned device, unsigned function, unsigned offset, unsigned size,
                          uint32_t value) {
  PciFunction* fn = Find(bus, device, function);
  if (!fn || offset >= 256) return;
  if (offset + size <= 256) {
    fn->ConfigWrite(offset, size, value);
    return;
  }
  for (unsigned i = 0; offset + i < 256; i++) fn->ConfigWrite(offset + i, 1, (value >> (8 * i)) & 0xff);
}

}  // namespace xlat
