// Booting a Linux bzImage (-kernel vmlinuz -initrd FILE -append LINE) through
// the x86 boot protocol's 64-bit entry (Documentation/arch/x86/boot.rst,
// protocol 2.12 to 2.15), the way direct-boot VMMs do: no BIOS, no real-mode
// setup code; the loader does what the setup code would and enters startup_64
// in long mode.
//
// A bzImage is a boot sector and (setup_sects) sectors of real-mode setup code,
// whose "setup header" at 0x1f1 tells a loader what the kernel needs, followed
// by the protected-mode kernel (a self-decompressing image). The loader
//   1. validates the setup header                              -- ParseBzImage();
//   2. puts the protected-mode kernel at pref_address (16 MiB) or, when
//      relocatable, at the lowest kernel_alignment-aligned free address at or
//      above 16 MiB with room for init_size bytes (the kernel decompresses there);
//   3. puts the initrd at the top of free RAM below initrd_addr_max, page aligned;
//   4. builds the "zero page" (struct boot_params): the setup header copied to
//      0x1f1 as the protocol says, then the loader's fields (type_of_loader,
//      loadflags, heap_end_ptr, cmd_line_ptr, ramdisk_image/size and their ext_
//      high halves, acpi_rsdp_addr) and the e820 memory map;
//   5. builds the 64-bit entry state: a GDT with __BOOT_CS = 0x10 (64-bit code)
//      and __BOOT_DS = 0x18 (flat data), identity-mapping page tables of guest
//      physical 0-4 GiB with 2 MiB pages, rip = load address + 0x200, rsi = the
//      zero page.                                               -- LoadLinux().
//
// Guest physical layout below 1 MiB (all of it e820 RAM below 0x9fc00; Linux
// keeps the first megabyte for itself, and copies boot_params and the command
// line before it reuses any of it):
//   0x00000  real-mode IVT and BIOS data area: the EBDA segment (0x9fc0, at
//            0x40e) and base memory size (639 KiB, at 0x413) are written as a
//            PC BIOS would, so that Linux finds the EBDA where the e820 says
//   0x00500  GDT (4 descriptors)
//   0x01000  boot stack (rsp = 0x7000; startup_64 switches to its own at once)
//   0x07000  boot_params (the zero page, 4 KiB)
//   0x09000  page tables: PML4, PDPT, 4 page directories (to 0xf000)
//   0x20000  command line (NUL-terminated), at most kCmdlineRoom bytes
//   0x80000  end of the loader's boot data (up to 0x9fc00: free; the kernel's
//            decompressor borrows a page or two below 0x9f000 for a trampoline)
//
// The e820 map (boot_params.e820_table), as SeaBIOS under QEMU reports it:
//   [0, 0x9fc00)            RAM
//   [0x9fc00, 0xa0000)      reserved (EBDA)
//   [0xa0000, 0xf0000)      absent (VGA window and option ROMs)
//   [0xf0000, 0x100000)     reserved (BIOS area: where an RSDP can live)
//   [0x100000, RAM size)    RAM
// with every region in LinuxBootConfig::reserved painted over it with its type
// (later regions win; regions outside RAM are added as they are, e.g. MMIO).
//
// Every check runs before guest RAM is written: on failure RAM is untouched and
// *error holds one line naming the problem. The file is never trusted: every
// read is bounded, every sum overflow-checked.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace xlat {

class GuestRam;

// e820 region types (ACPI spec "Address Range Types").
enum class E820Type : uint32_t { kRam = 1, kReserved = 2, kAcpi = 3, kNvs = 4, kUnusable = 5 };

struct E820Entry {
  uint64_t base = 0;
  uint64_t size = 0;
  E820Type type = E820Type::kReserved;
  bool operator==(const E820Entry&) const = default;
};

// What a valid setup header says (values as the loader uses them).
struct BzImage {
  uint16_t version = 0;            // boot protocol, 0x020f = 2.15
  uint64_t setup_bytes = 0;        // (setup_sects + 1) * 512, setup_sects 0 read as 4: where the kernel starts
  uint64_t header_end = 0;         // end of the setup header in the file: 0x202 + byte at 0x201
  uint64_t kernel_file_bytes = 0;  // bytes after the setup code: what is loaded (may exceed syssize: signatures)
  uint64_t syssize_bytes = 0;      // syssize * 16: the protected-mode kernel proper
  uint8_t loadflags = 0;
  uint16_t xloadflags = 0;
  bool relocatable = false;
  uint32_t kernel_alignment = 0;   // power of two
  uint64_t pref_address = 0;
  uint64_t init_size = 0;          // bytes the kernel needs from its load address (>= syssize_bytes)
  uint32_t cmdline_size = 0;       // longest command line, without its NUL
  uint32_t initrd_addr_max = 0;    // highest address the initrd may occupy
  std::string kernel_version;      // "6.1.0-... (debian-kernel@...) #1 SMP ...", or empty
};

// Setup header flags.
inline constexpr uint8_t kLoadedHigh = 1 << 0, kCanUseHeap = 1 << 7;
inline constexpr uint16_t kXlfKernel64 = 1 << 0, kXlfCanBeLoadedAbove4G = 1 << 1;

// Fixed guest physical addresses of the loader's boot data (see the layout above).
inline constexpr uint64_t kBootGdtAddr = 0x500, kBootStackTop = 0x7000, kBootParamsAddr = 0x7000,
                          kBootPageTablesAddr = 0x9000, kBootCmdlineAddr = 0x20000, kBootDataEnd = 0x80000;
inline constexpr uint64_t kCmdlineRoom = kBootDataEnd - kBootCmdlineAddr;  // bytes, NUL included
// Where a relocatable kernel goes at the lowest (LOAD_PHYSICAL_ADDR).
inline constexpr uint64_t kMinKernelAddr = 16ull << 20;
inline constexpr unsigned kE820MaxEntries = 128;  // E820_MAX_ENTRIES_ZEROPAGE

// True when the file carries the boot protocol's signatures (0xAA55 at 0x1fe,
// "HdrS" at 0x202): main hands it to LoadLinux, not to the ELF loader.
bool LooksLikeBzImage(std::span<const uint8_t> file);

// Validates the setup header of a file held in memory (the file alone, before
// RAM exists). False with one line in *error (not naming the file).
bool ParseBzImage(std::span<const uint8_t> file, BzImage* image, std::string* error);

// False with one line in *error when the kernel cannot take this command line.
bool CheckCommandLine(const BzImage& image, std::string_view cmdline, std::string* error);

struct LinuxBootConfig {
  std::string_view cmdline;        // -append; may be empty
  std::span<const uint8_t> initrd; // -initrd contents; empty: no initrd
  // Guest physical regions that are not free RAM: firmware and ACPI tables,
  // board structures at the top of RAM, MMIO windows. They appear in the e820
  // with their type (not kRam), and nothing is loaded into them. The legacy PC
  // regions (EBDA, VGA/ROM hole, BIOS area) are always there.
  std::vector<E820Entry> reserved;
  // The kernel and the initrd go wholly below this (e.g. the start of the
  // top-of-RAM region the board keeps), and below 4 GiB (the identity map).
  // RAM above it is still RAM to Linux unless it is also in `reserved`.
  uint64_t load_limit = UINT64_MAX;
  // Guest physical address of the ACPI RSDP, passed in boot_params.acpi_rsdp_addr
  // (protocol 2.14+) so that Linux need not scan for it. 0: not passed.
  uint64_t acpi_rsdp = 0;
};

// The 64-bit entry state, for the vCPU:
//   vcpu.ResetToLongMode(info.entry_rip, info.cr3);   // CPL 0, IF = 0, paging, CS 0x10, DS/ES/SS 0x18
//   vcpu.ctx().gdtr_base = info.gdt_base; vcpu.ctx().gdtr_limit = info.gdt_limit;
//   vcpu.ctx().gpr[kRsi] = info.boot_params; vcpu.ctx().gpr[kRsp] = info.stack_top;
struct LinuxBootInfo {
  uint64_t entry_rip = 0;      // kernel_base + 0x200: startup_64
  uint64_t cr3 = 0;            // PML4 of the identity map of 0-4 GiB
  uint64_t boot_params = 0;    // for rsi
  uint64_t stack_top = 0;      // for rsp (not required by the protocol)
  uint64_t gdt_base = 0;
  uint16_t gdt_limit = 0;
  uint64_t kernel_base = 0;    // load address
  uint64_t kernel_end = 0;     // kernel_base + max(init_size, loaded bytes): the kernel's own memory
  uint64_t initrd_base = 0;    // 0 with initrd_size 0 when there is none
  uint64_t initrd_size = 0;
  uint64_t cmdline_addr = 0;
  std::vector<E820Entry> e820; // what boot_params.e820_table holds, sorted
};

// Builds the e820 map for `ram_bytes` of RAM and the caller's regions (see the
// layout above). False with *error for an empty, wrapping or RAM-typed region
// or more than kE820MaxEntries entries.
bool BuildE820(uint64_t ram_bytes, std::span<const E820Entry> reserved, std::vector<E820Entry>* map,
               std::string* error);

// The whole job: validates the file, places the kernel, initrd and command
// line, writes boot_params, the GDT and the page tables into `ram`.
bool LoadLinux(GuestRam& ram, std::span<const uint8_t> file, const LinuxBootConfig& config, LinuxBootInfo* info,
               std::string* error);

}  // namespace xlat
