// ACPI tables for a PC without firmware: what a BIOS would leave in memory
// for the operating system to find.
//
//   RSDP  "RSD PTR ", revision 2, 16-byte aligned in 0xe0000-0xfffff (where
//         Linux scans for it), with its checksum (first 20 bytes) and extended
//         checksum (all 36); points at both the RSDT and the XSDT.
//   RSDT / XSDT  list the FADT and the MADT.
//   FADT  revision 6: FACS and DSDT (and X_DSDT), SCI on IRQ 9, no SMI
//         command port (always in ACPI mode), the PM1a event and control
//         blocks and the 32-bit PM timer of acpi_pm.h (legacy and X_ GAS
//         fields agree), RESET_REG = I/O 0xcf9 value 6, flags WBINVD |
//         PROC_C1 | SLP_BUTTON | RTC_S4 | TMR_VAL_EXT | RESET_REG_SUP |
//         USE_PLATFORM_CLOCK (not HW_REDUCED_ACPI: the legacy registers
//         exist), IAPC_BOOT_ARCH = LEGACY_DEVICES | 8042, the RTC century at
//         CMOS index 0x32.
//   FACS  64 bytes, 64-byte aligned.
//   DSDT  \_S5 = Package () {5, 5, 0, 0} (SLP_TYP 5 is soft-off in acpi_pm.h),
//         and the PCI root bridge \_SB.PCI0 (PNP0A03) with its _CRS: bus
//         0-255, the 0xcf8 config ports, I/O 0-0xcf7 and 0xd00-0xffff, the
//         VGA window and a 32-bit MMIO window. With ACPI on, Linux finds PCI
//         buses only through such a device.
//   MADT  local APIC address 0xfee00000, PCAT_COMPAT (the 8259s exist), one
//         enabled local APIC per CPU (IDs 0..n-1), the I/O APIC (ID 0 at
//         0xfec00000, GSI base 0), interrupt source overrides IRQ 0 -> GSI 2
//         (flags 0, as QEMU) and IRQ 9 -> GSI 9 level, active high (the SCI),
//         and LINT1 as NMI on all processors.
//
// The DSDT's AML is assembled here by a small encoder; each part carries its
// ASL, and tests/devices/acpi_test.cpp compares the bytes with what iasl
// makes of the same ASL.
//
// Where the tables go: the RSDP at config.rsdp_pa; the others packed into
// [region_pa, region_pa + region_bytes), below 4 GiB. The RSDP may be the
// first thing in the region (rsdp_pa == region_pa, e.g. a region inside the
// BIOS area 0xe0000-0xfffff) or lie outside it. The e820 map should mark
// [tables_pa, tables_pa + tables_bytes) as ACPI reclaimable (type 3), or
// reserved if it lies in the BIOS area; the RSDP's 36 bytes must not be
// usable RAM either.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "devices/acpi_pm.h"

namespace xlat {

class GuestRam;

struct AcpiConfig {
  uint64_t rsdp_pa = 0xe0000;
  unsigned num_cpus = 1;
  uint32_t local_apic_pa = 0xfee00000;
  uint8_t ioapic_id = 0;
  uint32_t ioapic_pa = 0xfec00000;
  uint32_t ioapic_gsi_base = 0;
  uint8_t sci_irq = kAcpiSciIrq;
  AcpiPmPorts pm_ports;  // must match the AcpiPm device
  uint8_t reset_value = kAcpiResetValue;
  // CMOS index of the RTC's century register (BCD), or 0 for none.
  uint8_t rtc_century = 0x32;
  // IAPC_BOOT_ARCH.VGA_NOT_PRESENT: tells the OS not to probe VGA.
  bool vga_absent = false;
  // The 32-bit PCI MMIO window (_CRS of PCI0): above RAM, below the I/O APIC.
  uint32_t pci_mmio_base = 0xe0000000;
  uint32_t pci_mmio_limit = 0xfebfffff;
};

struct AcpiLayout {
  uint64_t rsdp_pa = 0;
  uint64_t tables_pa = 0;     // what the region holds (with the RSDP if it is inside)
  uint64_t tables_bytes = 0;
  uint64_t rsdt_pa = 0, xsdt_pa = 0, fadt_pa = 0, facs_pa = 0, dsdt_pa = 0, madt_pa = 0;
};

// Writes the tables into guest RAM. Nothing (and *error says why) if the
// addresses are not in RAM, the RSDP is not where an OS looks, or the region
// is too small (about 1 KiB is needed for one CPU).
std::optional<AcpiLayout> BuildAcpiTables(GuestRam& ram, uint64_t region_pa, uint64_t region_bytes,
                                          const AcpiConfig& config, std::string* error);

// The DSDT's AML (the definition block's body, after the 36-byte header).
std::vector<uint8_t> BuildDsdtAml(const AcpiConfig& config);

}  // namespace xlat
