#include "devices/acpi_tables.h"

#include <span>

#include "mmu/guest_ram.h"

namespace xlat {

namespace {

using Bytes = std::vector<uint8_t>;

constexpr char kOemId[] = "XLAT  ";         // 6 characters
constexpr char kOemTableId[] = "XLATPC  ";  // 8
constexpr char kCreatorId[] = "XLAT";       // 4
constexpr uint32_t kOemRevision = 1, kCreatorRevision = 1;
constexpr size_t kHeaderBytes = 36;
constexpr size_t kRsdpBytes = 36;
constexpr uint64_t kBiosAreaBegin = 0xe0000, kBiosAreaEnd = 0x100000;

void Append(Bytes& out, const Bytes& more) { out.insert(out.end(), more.begin(), more.end()); }

// Little-endian table bytes.
class Blob {
 public:
  void U8(uint8_t v) { bytes_.push_back(v); }
  void U16(uint16_t v) {
    U8(static_cast<uint8_t>(v));
    U8(static_cast<uint8_t>(v >> 8));
  }
  void U32(uint32_t v) {
    U16(static_cast<uint16_t>(v));
    U16(static_cast<uint16_t>(v >> 16));
  }
  void U64(uint64_t v) {
    U32(static_cast<uint32_t>(v));
    U32(static_cast<uint32_t>(v >> 32));
  }
  void Chars(const char* s, size_t n) {
    for (size_t i = 0; i < n; i++) U8(static_cast<uint8_t>(s[i]));
  }
  void Zeros(size_t n) { bytes_.insert(bytes_.end(), n, 0); }
  void Raw(const Bytes& b) { Append(bytes_, b); }
  void Put32(size_t at, uint32_t v) {
    for (unsigned i = 0; i < 4; i++) bytes_[at + i] = static_cast<uint8_t>(v >> (8 * i));
  }
  void Put8(size_t at, uint8_t v) { bytes_[at] = v; }
  size_t size() const { return bytes_.size(); }
  Bytes& bytes() { return bytes_; }

 private:
  Bytes bytes_;
};

// The value that makes bytes [0, n) sum to zero (mod 256) when stored among them.
uint8_t Checksum(const uint8_t* p, size_t n) {
  uint8_t sum = 0;
  for (size_t i = 0; i < n; i++) sum = static_cast<uint8_t>(sum + p[i]);
  return static_cast<uint8_t>(-sum);
}

// The common description header (ACPI 6.4, 5.2.6); Finish() fills in the
// length and the checksum.
Blob Header(const char* signature, uint8_t revision) {
  Blob b;
  b.Chars(signature, 4);
  b.U32(0);  // length
  b.U8(revision);
  b.U8(0);  // checksum
  b.Chars(kOemId, 6);
  b.Chars(kOemTableId, 8);
  b.U32(kOemRevision);
  b.Chars(kCreatorId, 4);
  b.U32(kCreatorRevision);
  return b;
}

Bytes Finish(Blob b) {
  b.Put32(4, static_cast<uint32_t>(b.size()));
  b.Put8(9, Checksum(b.bytes().data(), b.size()));
  return std::move(b.bytes());
}

// Generic Address Structure (5.2.3.2).
constexpr uint8_t kSystemIo = 1;
constexpr uint8_t kByteAccess = 1, kWordAccess = 2, kDwordAccess = 3;
void Gas(Blob& b, uint8_t space, uint8_t bit_width, uint8_t access_size, uint64_t address) {
  b.U8(space);
  b.U8(bit_width);
  b.U8(0);  // bit offset
  b.U8(access_size);
  b.U64(address);
}

// ---- AML (ACPI 6.4, chapter 20) ----

namespace aml {

constexpr uint8_t kZeroOp = 0x00, kOneOp = 0x01, kNameOp = 0x08, kBytePrefix = 0x0a, kWordPrefix = 0x0b,
                  kDWordPrefix = 0x0c, kQWordPrefix = 0x0e, kScopeOp = 0x10, kBufferOp = 0x11,
                  kPackageOp = 0x12, kExtOpPrefix = 0x5b, kDeviceOp = 0x82;

// `op`, then PkgLength, then `body`. PkgLength counts itself and the body; it
// takes 1 byte up to 63, else a lead byte (bits 7:6 = how many bytes follow,
// bits 3:0 = the low nibble) and the rest of the length in following bytes.
Bytes WithPkgLength(std::initializer_list<uint8_t> op, const Bytes& body) {
  Bytes out(op);
  size_t n = 1;
  while (n < 4 && body.size() + n >= (n == 1 ? 64u : (1u << (4 + 8 * (n - 1))))) n++;
  const size_t total = body.size() + n;
  if (n == 1) {
    out.push_back(static_cast<uint8_t>(total));
  } else {
    out.push_back(static_cast<uint8_t>(((n - 1) << 6) | (total & 0x0f)));
    for (size_t i = 1; i < n; i++) out.push_back(static_cast<uint8_t>(total >> (4 + 8 * (i - 1))));
  }
  Append(out, body);
  return out;
}

// A NameSeg: exactly four characters (names shorter than four are padded with '_').
Bytes Seg(const char (&name)[5]) { return Bytes(name, name + 4); }

// The smallest encoding of an integer constant, as iasl chooses it.
Bytes Integer(uint64_t v) {
  if (v == 0) return {kZeroOp};
  if (v == 1) return {kOneOp};
  Bytes out;
  unsigned bytes;
  if (v <= 0xff) {
    out.push_back(kBytePrefix);
    bytes = 1;
  } else if (v <= 0xffff) {
    out.push_back(kWordPrefix);
    bytes = 2;
  } else if (v <= 0xffffffff) {
    out.push_back(kDWordPrefix);
    bytes = 4;
  } else {
    out.push_back(kQWordPrefix);
    bytes = 8;
  }
  for (unsigned i = 0; i < bytes; i++) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return out;
}

// Name (seg, value)
Bytes Name(const char (&seg)[5], const Bytes& value) {
  Bytes out{kNameOp};
  Append(out, Seg(seg));
  Append(out, value);
  return out;
}

// Package (n) { elements }
Bytes Package(const std::vector<Bytes>& elements) {
  Bytes body{static_cast<uint8_t>(elements.size())};
  for (const Bytes& e : elements) Append(body, e);
  return WithPkgLength({kPackageOp}, body);
}

// Scope (seg) { terms }
Bytes Scope(const char (&seg)[5], const Bytes& terms) {
  Bytes body = Seg(seg);
  Append(body, terms);
  return WithPkgLength({kScopeOp}, body);
}

// Device (seg) { terms }
Bytes Device(const char (&seg)[5], const Bytes& terms) {
  Bytes body = Seg(seg);
  Append(body, terms);
  return WithPkgLength({kExtOpPrefix, kDeviceOp}, body);
}

// Buffer () { data }
Bytes Buffer(const Bytes& data) {
  Bytes body = Integer(data.size());
  Append(body, data);
  return WithPkgLength({kBufferOp}, body);
}

// EisaId ("PNP0A03"): three letters in 5 bits each, then four hex digits,
// stored big-endian.
uint32_t EisaId(const char (&id)[8]) {
  auto hex = [](char c) -> uint32_t { return c <= '9' ? c - '0' : c - 'A' + 10; };
  const uint32_t vendor = ((id[0] - '@') << 10) | ((id[1] - '@') << 5) | (id[2] - '@');
  const uint32_t product = (hex(id[3]) << 12) | (hex(id[4]) << 8) | (hex(id[5]) << 4) | hex(id[6]);
  return (vendor >> 8) | ((vendor & 0xff) << 8) | ((product >> 8) << 16) | ((product & 0xff) << 24);
}

}  // namespace aml

// ---- Resource descriptors (ACPI 6.4, 6.4) for a _CRS ----

namespace res {

constexpr uint8_t kMemoryRange = 0, kIoRange = 1, kBusNumberRange = 2;
// General flags of an address space descriptor: ResourceProducer, PosDecode,
// MinFixed, MaxFixed.
constexpr uint8_t kProducerFixed = 0x0c;
// Type-specific flags.
constexpr uint8_t kIoEntireRange = 0x03;
constexpr uint8_t kMemReadWrite = 0x01, kMemCacheable = 0x02;

// WordBusNumber / WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, ...,
//   granularity 0, min, max, translation 0, length)
void WordAddressSpace(Bytes& out, uint8_t type, uint8_t type_flags, uint16_t min, uint16_t max) {
  Blob b;
  b.U8(0x88);  // large item: Word Address Space Descriptor
  b.U16(13);
  b.U8(type);
  b.U8(kProducerFixed);
  b.U8(type_flags);
  b.U16(0);  // granularity
  b.U16(min);
  b.U16(max);
  b.U16(0);  // translation offset
  b.U16(static_cast<uint16_t>(max - min + 1));
  Append(out, b.bytes());
}

// DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, ..., ReadWrite,
//   granularity 0, min, max, translation 0, length)
void DWordAddressSpace(Bytes& out, uint8_t type, uint8_t type_flags, uint32_t min, uint32_t max) {
  Blob b;
  b.U8(0x87);  // large item: DWord Address Space Descriptor
  b.U16(23);
  b.U8(type);
  b.U8(kProducerFixed);
  b.U8(type_flags);
  b.U32(0);
  b.U32(min);
  b.U32(max);
  b.U32(0);
  b.U32(max - min + 1);
  Append(out, b.bytes());
}

// IO (Decode16, min, max, alignment, length)
void Io(Bytes& out, uint16_t min, uint16_t max, uint8_t alignment, uint8_t length) {
  Blob b;
  b.U8(0x47);  // small item: I/O Port Descriptor, 7 bytes
  b.U8(0x01);  // 16-bit decode
  b.U16(min);
  b.U16(max);
  b.U8(alignment);
  b.U8(length);
  Append(out, b.bytes());
}

void EndTag(Bytes& out) {
  out.push_back(0x79);
  out.push_back(0x00);  // checksum 0: "treat as correct"
}

}  // namespace res

// ---- The tables ----

Bytes BuildFacs() {
  Blob b;
  b.Chars("FACS", 4);
  b.U32(64);
  b.U32(0);  // hardware signature
  b.U32(0);  // firmware waking vector
  b.U32(0);  // global lock
  b.U32(0);  // flags: no S4BIOS, no 64-bit wake
  b.U64(0);  // X firmware waking vector
  b.U8(2);   // version
  b.Zeros(3);
  b.U32(0);  // OSPM flags
  b.Zeros(24);
  return std::move(b.bytes());
}

Bytes BuildDsdt(const AcpiConfig& config) {
  Blob b = Header("DSDT", 2);  // revision 2: 64-bit integers
  b.Raw(BuildDsdtAml(config));
  return Finish(std::move(b));
}

// FADT revision 6 (ACPI 6.0-6.4 layout, 276 bytes).
Bytes BuildFadt(const AcpiConfig& c, uint32_t facs_pa, uint64_t dsdt_pa) {
  constexpr uint32_t kWbinvd = 1u << 0, kProcC1 = 1u << 2, kSlpButton = 1u << 5, kRtcS4 = 1u << 7,
                     kTmrValExt = 1u << 8, kResetRegSup = 1u << 10, kUsePlatformClock = 1u << 15;
  constexpr uint16_t kLegacyDevices = 1u << 0, k8042 = 1u << 1, kVgaNotPresent = 1u << 2;
  const AcpiPmPorts& p = c.pm_ports;
  Blob b = Header("FACP", 6);
  b.U32(facs_pa);                        // 36 FIRMWARE_CTRL
  b.U32(static_cast<uint32_t>(dsdt_pa));  // 40 DSDT
  b.U8(0);                               // 44 reserved
  b.U8(0);                               // 45 Preferred_PM_Profile: unspecified
  b.U16(c.sci_irq);                      // 46 SCI_INT
  b.U32(0);                              // 48 SMI_CMD: none, always in ACPI mode
  b.U8(0);                               // 52 ACPI_ENABLE
  b.U8(0);                               // 53 ACPI_DISABLE
  b.U8(0);                               // 54 S4BIOS_REQ
  b.U8(0);                               // 55 PSTATE_CNT
  b.U32(p.pm1a_evt);                     // 56 PM1a_EVT_BLK
  b.U32(0);                              // 60 PM1b_EVT_BLK
  b.U32(p.pm1a_cnt);                     // 64 PM1a_CNT_BLK
  b.U32(0);                              // 68 PM1b_CNT_BLK
  b.U32(0);                              // 72 PM2_CNT_BLK
  b.U32(p.pm_tmr);                       // 76 PM_TMR_BLK
  b.U32(0);                              // 80 GPE0_BLK: none
  b.U32(0);                              // 84 GPE1_BLK
  b.U8(4);                               // 88 PM1_EVT_LEN
  b.U8(2);                               // 89 PM1_CNT_LEN
  b.U8(0);                               // 90 PM2_CNT_LEN
  b.U8(4);                               // 91 PM_TMR_LEN
  b.U8(0);                               // 92 GPE0_BLK_LEN
  b.U8(0);                               // 93 GPE1_BLK_LEN
  b.U8(0);                               // 94 GPE1_BASE
  b.U8(0);                               // 95 CST_CNT
  b.U16(0x0fff);                         // 96 P_LVL2_LAT: > 100, no C2
  b.U16(0x0fff);                         // 98 P_LVL3_LAT: > 1000, no C3
  b.U16(0);                              // 100 FLUSH_SIZE
  b.U16(0);                              // 102 FLUSH_STRIDE
  b.U8(0);                               // 104 DUTY_OFFSET
  b.U8(0);                               // 105 DUTY_WIDTH
  b.U8(0);                               // 106 DAY_ALRM
  b.U8(0);                               // 107 MON_ALRM
  b.U8(c.rtc_century);                   // 108 CENTURY
  b.U16(kLegacyDevices | k8042 | (c.vga_absent ? kVgaNotPresent : 0));  // 109 IAPC_BOOT_ARCH
  b.U8(0);                                                              // 111 reserved
  b.U32(kWbinvd | kProcC1 | kSlpButton | kRtcS4 | kTmrValExt | kResetRegSup | kUsePlatformClock);  // 112 Flags
  Gas(b, kSystemIo, 8, kByteAccess, p.reset);  // 116 RESET_REG
  b.U8(c.reset_value);                         // 128 RESET_VALUE
  b.U16(0);                                    // 129 ARM_BOOT_ARCH
  b.U8(0);                                     // 131 FADT minor version: 6.0
  b.U64(0);        // 132 X_FIRMWARE_CTRL: must be 0 when FIRMWARE_CTRL is set
  b.U64(dsdt_pa);  // 140 X_DSDT
  Gas(b, kSystemIo, 32, kWordAccess, p.pm1a_evt);   // 148 X_PM1a_EVT_BLK
  Gas(b, 0, 0, 0, 0);                               // 160 X_PM1b_EVT_BLK
  Gas(b, kSystemIo, 16, kWordAccess, p.pm1a_cnt);   // 172 X_PM1a_CNT_BLK
  Gas(b, 0, 0, 0, 0);                               // 184 X_PM1b_CNT_BLK
  Gas(b, 0, 0, 0, 0);                               // 196 X_PM2_CNT_BLK
  Gas(b, kSystemIo, 32, kDwordAccess, p.pm_tmr);    // 208 X_PM_TMR_BLK
  Gas(b, 0, 0, 0, 0);                               // 220 X_GPE0_BLK
  Gas(b, 0, 0, 0, 0);                               // 232 X_GPE1_BLK
  Gas(b, 0, 0, 0, 0);                               // 244 SLEEP_CONTROL_REG (HW-reduced only)
  Gas(b, 0, 0, 0, 0);                               // 256 SLEEP_STATUS_REG
  b.U64(0);                                         // 268 Hypervisor Vendor Identity
  return Finish(std::move(b));
}

// MADT revision 5 (ACPI 6.3+).
Bytes BuildMadt(const AcpiConfig& c) {
  constexpr uint32_t kPcatCompat = 1;
  constexpr uint32_t kLapicEnabled = 1;
  constexpr uint16_t kActiveHighLevel = 0x000d;  // polarity 01 (high), trigger 11 (level)
  Blob b = Header("APIC", 5);
  b.U32(c.local_apic_pa);
  b.U32(kPcatCompat);
  for (unsigned cpu = 0; cpu < c.num_cpus; cpu++) {  // Processor Local APIC
    b.U8(0);
    b.U8(8);
    b.U8(static_cast<uint8_t>(cpu));  // ACPI processor UID
    b.U8(static_cast<uint8_t>(cpu));  // APIC ID
    b.U32(kLapicEnabled);
  }
  b.U8(1);  // I/O APIC
  b.U8(12);
  b.U8(c.ioapic_id);
  b.U8(0);
  b.U32(c.ioapic_pa);
  b.U32(c.ioapic_gsi_base);
  b.U8(2);  // Interrupt Source Override: the PIT's IRQ 0 is pin 2
  b.U8(10);
  b.U8(0);  // ISA
  b.U8(0);
  b.U32(c.ioapic_gsi_base + 2);
  b.U16(0);  // conforms to the bus (edge, active high)
  b.U8(2);  // Interrupt Source Override: the SCI is level, active high
  b.U8(10);
  b.U8(0);
  b.U8(c.sci_irq);
  b.U32(c.ioapic_gsi_base + c.sci_irq);
  b.U16(kActiveHighLevel);
  b.U8(4);  // Local APIC NMI: LINT1 on every processor
  b.U8(6);
  b.U8(0xff);
  b.U16(0);
  b.U8(1);
  return Finish(std::move(b));
}

Bytes BuildRsdt(const std::vector<uint64_t>& tables) {
  Blob b = Header("RSDT", 1);
  for (uint64_t pa : tables) b.U32(static_cast<uint32_t>(pa));
  return Finish(std::move(b));
}

Bytes BuildXsdt(const std::vector<uint64_t>& tables) {
  Blob b = Header("XSDT", 1);
  for (uint64_t pa : tables) b.U64(pa);
  return Finish(std::move(b));
}

Bytes BuildRsdp(uint64_t rsdt_pa, uint64_t xsdt_pa) {
  Blob b;
  b.Chars("RSD PTR ", 8);
  b.U8(0);  // checksum of bytes 0-19
  b.Chars(kOemId, 6);
  b.U8(2);  // revision: ACPI 2.0+
  b.U32(static_cast<uint32_t>(rsdt_pa));
  b.U32(kRsdpBytes);
  b.U64(xsdt_pa);
  b.U8(0);  // extended checksum of all 36 bytes
  b.Zeros(3);
  b.Put8(8, Checksum(b.bytes().data(), 20));
  b.Put8(32, Checksum(b.bytes().data(), kRsdpBytes));
  return std::move(b.bytes());
}

uint64_t AlignUp(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

}  // namespace

// DefinitionBlock ("", "DSDT", 2, "XLAT  ", "XLATPC  ", 1)
// {
//     Name (_S5, Package (0x04) { 0x05, 0x05, Zero, Zero })
//     Scope (_SB)
//     {
//         Device (PCI0)
//         {
//             Name (_HID, EisaId ("PNP0A03"))
//             Name (_UID, Zero)
//             Name (_CRS, ResourceTemplate ()
//             {
//                 WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
//                     0x0000, 0x0000, 0x00FF, 0x0000, 0x0100)
//                 IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
//                 WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
//                     0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8)
//                 WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
//                     0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300)
//                 DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,
//                     0x00000000, 0x000A0000, 0x000BFFFF, 0x00000000, 0x00020000)
//                 DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
//                     0x00000000, pci_mmio_base, pci_mmio_limit, 0x00000000, <length>)
//             })
//         }
//     }
// }
std::vector<uint8_t> BuildDsdtAml(const AcpiConfig& config) {
  using namespace aml;
  Bytes crs;
  res::WordAddressSpace(crs, res::kBusNumberRange, 0, 0x0000, 0x00ff);
  res::Io(crs, 0x0cf8, 0x0cf8, 0x01, 0x08);
  res::WordAddressSpace(crs, res::kIoRange, res::kIoEntireRange, 0x0000, 0x0cf7);
  res::WordAddressSpace(crs, res::kIoRange, res::kIoEntireRange, 0x0d00, 0xffff);
  res::DWordAddressSpace(crs, res::kMemoryRange, res::kMemReadWrite | res::kMemCacheable, 0x000a0000, 0x000bffff);
  if (config.pci_mmio_base < config.pci_mmio_limit)
    res::DWordAddressSpace(crs, res::kMemoryRange, res::kMemReadWrite, config.pci_mmio_base, config.pci_mmio_limit);
  res::EndTag(crs);

  Bytes pci0 = Name("_HID", Integer(EisaId("PNP0A03")));
  Append(pci0, Name("_UID", Integer(0)));
  Append(pci0, Name("_CRS", Buffer(crs)));

  Bytes terms = Name("_S5_", Package({Integer(kAcpiS5SlpTyp), Integer(kAcpiS5SlpTyp), Integer(0), Integer(0)}));
  Append(terms, Scope("_SB_", Device("PCI0", pci0)));
  return terms;
}

std::optional<AcpiLayout> BuildAcpiTables(GuestRam& ram, uint64_t region_pa, uint64_t region_bytes,
                                          const AcpiConfig& config, std::string* error) {
  const uint64_t rsdp = config.rsdp_pa;
  if (rsdp % 16 != 0 || rsdp < kBiosAreaBegin || rsdp + kRsdpBytes > kBiosAreaEnd) {
    *error = "the ACPI RSDP must be 16-byte aligned in 0xe0000-0xfffff";
    return std::nullopt;
  }
  const bool rsdp_in_region = rsdp + kRsdpBytes > region_pa && rsdp < region_pa + region_bytes;
  if (rsdp_in_region && rsdp != region_pa) {
    *error = "the ACPI RSDP must be at the start of the table region or outside it";
    return std::nullopt;
  }
  if (config.num_cpus < 1 || config.num_cpus > 255) {
    *error = "ACPI tables: 1 to 255 CPUs";
    return std::nullopt;
  }

  AcpiLayout layout;
  layout.rsdp_pa = rsdp;
  layout.tables_pa = region_pa;
  uint64_t cursor = rsdp_in_region ? region_pa + kRsdpBytes : region_pa;
  auto place = [&cursor](size_t bytes, uint64_t align) {
    cursor = AlignUp(cursor, align);
    const uint64_t pa = cursor;
    cursor += bytes;
    return pa;
  };
  struct Placed {
    uint64_t pa;
    Bytes bytes;
  };
  std::vector<Placed> tables;

  Bytes facs = BuildFacs();
  layout.facs_pa = place(facs.size(), 64);
  tables.push_back({layout.facs_pa, std::move(facs)});
  Bytes dsdt = BuildDsdt(config);
  layout.dsdt_pa = place(dsdt.size(), 16);
  tables.push_back({layout.dsdt_pa, std::move(dsdt)});
  Bytes fadt = BuildFadt(config, static_cast<uint32_t>(layout.facs_pa), layout.dsdt_pa);
  layout.fadt_pa = place(fadt.size(), 16);
  tables.push_back({layout.fadt_pa, std::move(fadt)});
  Bytes madt = BuildMadt(config);
  layout.madt_pa = place(madt.size(), 16);
  tables.push_back({layout.madt_pa, std::move(madt)});
  const std::vector<uint64_t> entries = {layout.fadt_pa, layout.madt_pa};
  Bytes rsdt = BuildRsdt(entries);
  layout.rsdt_pa = place(rsdt.size(), 16);
  tables.push_back({layout.rsdt_pa, std::move(rsdt)});
  Bytes xsdt = BuildXsdt(entries);
  layout.xsdt_pa = place(xsdt.size(), 16);
  tables.push_back({layout.xsdt_pa, std::move(xsdt)});
  tables.push_back({rsdp, BuildRsdp(layout.rsdt_pa, layout.xsdt_pa)});

  layout.tables_bytes = cursor - region_pa;
  if (layout.tables_bytes > region_bytes) {
    *error = "the ACPI table region is too small: " + std::to_string(layout.tables_bytes) + " bytes needed";
    return std::nullopt;
  }
  if (cursor > 0x100000000ull) {
    *error = "the ACPI tables must lie below 4 GiB";
    return std::nullopt;
  }
  if (!ram.Contains(GuestPhysAddr(region_pa), layout.tables_bytes) || !ram.Contains(GuestPhysAddr(rsdp), kRsdpBytes)) {
    *error = "the ACPI tables must lie in guest RAM";
    return std::nullopt;
  }
  const Bytes zeros(layout.tables_bytes, 0);  // alignment gaps read as zero
  ram.Write(GuestPhysAddr(region_pa), zeros);
  for (const Placed& t : tables) ram.Write(GuestPhysAddr(t.pa), t.bytes);
  return layout;
}

}  // namespace xlat
