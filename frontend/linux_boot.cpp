#include "frontend/linux_boot.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "mmu/guest_ram.h"
#include "mmu/page_table_builder.h"

namespace xlat {
namespace {

// Setup header fields: offsets in the file and in boot_params alike.
constexpr uint64_t kSetupSects = 0x1f1, kSyssize = 0x1f4, kBootFlag = 0x1fe, kJump = 0x200, kHeaderMagic = 0x202,
                   kVersion = 0x206, kKernelVersion = 0x20e, kTypeOfLoader = 0x210, kLoadflags = 0x211,
                   kRamdiskImage = 0x218, kRamdiskSize = 0x21c, kHeapEndPtr = 0x224, kExtLoaderVer = 0x226,
                   kExtLoaderType = 0x227, kCmdLinePtr = 0x228, kInitrdAddrMax = 0x22c, kKernelAlignment = 0x230,
                   kRelocatable = 0x234, kXloadflags = 0x236, kCmdlineSize = 0x238, kHardwareSubarch = 0x23c,
                   kHardwareSubarchData = 0x240, kSetupData = 0x250, kPrefAddress = 0x258, kInitSize = 0x260;
// The end of the fields a protocol 2.12 header has (handover_offset included).
constexpr uint64_t kHeaderEnd212 = 0x268;
// boot_params fields outside the setup header.
constexpr uint64_t kBpAcpiRsdpAddr = 0x070, kBpExtRamdiskImage = 0x0c0, kBpExtRamdiskSize = 0x0c4,
                   kBpExtCmdLinePtr = 0x0c8, kBpE820Entries = 0x1e8, kBpE820Table = 0x2d0, kBootParamsBytes = 4096;
constexpr unsigned kE820EntryBytes = 20;  // u64 addr, u64 size, u32 type, packed
// type_of_loader: 0xff, "undefined" (xlat has no loader ID of its own).
constexpr uint8_t kLoaderId = 0xff;
// heap_end_ptr: the end of the setup heap minus 0x200, from the real-mode code's
// start. The 64-bit entry runs no setup code; this is the customary value.
constexpr uint16_t kHeapEnd = 0xfe00 - 0x200;
// The legacy PC layout that every e820 map has, and what the BIOS data area says of it.
constexpr uint64_t kEbdaBase = 0x9fc00, kVgaBase = 0xa0000, kBiosBase = 0xf0000, kOneMiB = 1ull << 20;
constexpr uint64_t kBdaEbdaSegment = 0x40e, kBdaBaseMemKiB = 0x413;
// The identity map: guest physical 0-4 GiB with 2 MiB pages.
constexpr uint64_t kIdentityMapBytes = 4ull << 30, kLargePage = 2ull << 20;
// GDT: null, unused, __BOOT_CS (64-bit code, execute/read), __BOOT_DS (flat 4 GiB data, read/write).
constexpr uint64_t kGdt[] = {0, 0, 0x00af9b000000ffffull, 0x00cf93000000ffffull};

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

std::string Range(uint64_t start, uint64_t end) { return "[" + Hex(start) + ", " + Hex(end) + ")"; }

// "128 MiB", "1028 KiB", "12345 bytes": the largest unit that divides exactly.
std::string Bytes(uint64_t n) {
  if (n != 0 && n % (1ull << 20) == 0) return std::to_string(n >> 20) + " MiB";
  if (n != 0 && n % 1024 == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + (n == 1 ? " byte" : " bytes");
}

std::string Protocol(uint16_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%02u", v >> 8, v & 0xff);
  return buf;
}

// Little-endian reads and writes; the caller has checked the bounds.
uint64_t Le(const uint8_t* p, unsigned bytes) {
  uint64_t v = 0;
  for (unsigned i = 0; i < bytes; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}
void PutLe(uint8_t* p, uint64_t v, unsigned bytes) {
  for (unsigned i = 0; i < bytes; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint64_t AlignDown(uint64_t v, uint64_t a) { return v & ~(a - 1); }
// False when v rounded up to a overflows.
bool AlignUp(uint64_t v, uint64_t a, uint64_t* out) {
  if (v > UINT64_MAX - (a - 1)) return false;
  *out = (v + a - 1) & ~(a - 1);
  return true;
}
bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// Is [base, base + len) inside one RAM entry of the map?
bool IsFreeRam(std::span<const E820Entry> map, uint64_t base, uint64_t len) {
  if (len > UINT64_MAX - base) return false;
  for (const E820Entry& e : map)
    if (e.type == E820Type::kRam && e.base <= base && base + len <= e.base + e.size) return true;
  return false;
}

struct Placement {
  uint64_t kernel_base = 0, kernel_end = 0, initrd_base = 0;
};

// Where the kernel goes: pref_address, or (relocatable) the lowest aligned free
// address from 16 MiB that has room for `bytes` below `top`.
bool PlaceKernel(const BzImage& img, std::span<const E820Entry> map, uint64_t top, uint64_t bytes, Placement* p,
                 std::string* error) {
  auto fits = [&](uint64_t base) {
    return base >= kOneMiB && bytes <= top && base <= top - bytes && IsFreeRam(map, base, bytes);
  };
  const uint64_t align = img.relocatable ? img.kernel_alignment : 1;
  uint64_t base = img.pref_address;
  bool found = base % align == 0 && fits(base);
  for (size_t i = 0; img.relocatable && !found && i < map.size(); ++i) {
    if (map[i].type != E820Type::kRam) continue;
    found = AlignUp(std::max(map[i].base, kMinKernelAddr), align, &base) && fits(base);
  }
  if (!found) {
    if (!img.relocatable) {
      *error = "the kernel does not fit in RAM: it is not relocatable and needs " +
               Range(img.pref_address, img.pref_address + bytes) + " (pref_address, init_size) to be free RAM below " +
               Hex(top);
    } else {
      *error = "the kernel does not fit in RAM: it needs " + Bytes(bytes) + " (init_size) of free RAM from " +
               Hex(kMinKernelAddr) + " or above, aligned to " + Bytes(align) + ", below " + Hex(top) +
               " (guest RAM and the regions the board keeps)";
    }
    return false;
  }
  p->kernel_base = base;
  p->kernel_end = base + bytes;
  return true;
}

// Where the initrd goes: the highest page-aligned free address, below both
// initrd_addr_max and `top`, outside the kernel's memory.
bool PlaceInitrd(const BzImage& img, std::span<const E820Entry> map, uint64_t top, uint64_t size, Placement* p,
                 std::string* error) {
  const uint64_t limit = std::min<uint64_t>(top, uint64_t{img.initrd_addr_max} + 1);
  uint64_t largest = 0;
  for (size_t i = map.size(); i-- > 0;) {
    if (map[i].type != E820Type::kRam) continue;
    const uint64_t start = std::max(map[i].base, kOneMiB), end = std::min(map[i].base + map[i].size, limit);
    // The free pieces of [start, end) beside the kernel, highest first.
    const uint64_t pieces[2][2] = {{std::max(start, p->kernel_end), end}, {start, std::min(end, p->kernel_base)}};
    for (const auto& piece : pieces) {
      if (piece[0] >= piece[1]) continue;
      largest = std::max(largest, piece[1] - piece[0]);
      if (size > piece[1] - piece[0]) continue;
      const uint64_t base = AlignDown(piece[1] - size, 4096);
      if (base < piece[0]) continue;
      p->initrd_base = base;
      return true;
    }
  }
  *error = "the initrd (" + Bytes(size) + ") does not fit in RAM: the largest free block below " + Hex(limit) +
           " (initrd_addr_max, end of guest RAM or of what the board leaves) beside the kernel is " + Bytes(largest);
  return false;
}

}  // namespace

bool LooksLikeBzImage(std::span<const uint8_t> file) {
  // The signature alone decides: a broken boot flag is then reported by
  // ParseBzImage as what it is, not as "not an ELF file".
  return file.size() >= kHeaderMagic + 4 && std::memcmp(file.data() + kHeaderMagic, "HdrS", 4) == 0;
}

bool ParseBzImage(std::span<const uint8_t> file, BzImage* image, std::string* error) {
  auto fail = [&](std::string message) {
    *error = std::move(message);
    return false;
  };
  const uint8_t* f = file.data();
  const uint64_t n = file.size();
  if (n >= 4 && std::memcmp(f, "\x7f" "ELF", 4) == 0) return fail("not a Linux bzImage: it is an ELF file");
  if (n < kHeaderMagic + 4)
    return fail("not a Linux bzImage: " + Bytes(n) + " is shorter than a boot sector and setup header");
  if (std::memcmp(f + kHeaderMagic, "HdrS", 4) != 0)
    return fail("not a Linux bzImage: no \"HdrS\" setup header signature at 0x202");
  if (Le(f + kBootFlag, 2) != 0xaa55)
    return fail("not a Linux bzImage: the boot flag at 0x1fe is " + Hex(Le(f + kBootFlag, 2)) + ", not 0xaa55");
  if (n < kVersion + 2) return fail("truncated: the file ends inside the setup header, at " + Hex(n));
  BzImage img;
  img.version = static_cast<uint16_t>(Le(f + kVersion, 2));
  if (img.version < 0x020c)
    return fail("boot protocol " + Protocol(img.version) +
                " is too old: the 64-bit entry needs 2.12 or later (Linux 3.8 and later)");
  img.header_end = kJump + 2 + f[kJump + 1];
  if (img.header_end < kHeaderEnd212)
    return fail("corrupt setup header: it ends at " + Hex(img.header_end) +
                " (the byte at 0x201), before the end of the protocol 2.12 fields at " + Hex(kHeaderEnd212));
  const uint64_t sects = f[kSetupSects] == 0 ? 4 : f[kSetupSects];
  img.setup_bytes = (sects + 1) * 512;
  if (n < img.setup_bytes)
    return fail("truncated: the setup code is " + std::to_string(sects) +
                " sectors (setup_sects) but the file ends at " + Hex(n) + ", before " + Hex(img.setup_bytes));
  img.loadflags = f[kLoadflags];
  if (!(img.loadflags & kLoadedHigh))
    return fail("a zImage (loadflags lacks LOADED_HIGH): only a bzImage, loaded at 1 MiB or above, can be booted");
  img.xloadflags = static_cast<uint16_t>(Le(f + kXloadflags, 2));
  if (!(img.xloadflags & kXlfKernel64))
    return fail("no 64-bit entry point (xloadflags lacks XLF_KERNEL_64): an x86-64 kernel is needed");
  img.syssize_bytes = Le(f + kSyssize, 4) * 16;
  img.kernel_file_bytes = n - img.setup_bytes;
  if (img.syssize_bytes == 0) return fail("corrupt setup header: syssize is 0 (no protected-mode kernel)");
  if (img.syssize_bytes > img.kernel_file_bytes)
    return fail("truncated: the kernel after the setup code is " + Bytes(img.syssize_bytes) +
                " (syssize) but the file holds " + Bytes(img.kernel_file_bytes));
  img.relocatable = f[kRelocatable] != 0;
  img.kernel_alignment = static_cast<uint32_t>(Le(f + kKernelAlignment, 4));
  if (img.relocatable && (!IsPowerOfTwo(img.kernel_alignment) || img.kernel_alignment < 4096))
    return fail("corrupt setup header: kernel_alignment " + Hex(img.kernel_alignment) +
                " is not a power of two of at least 4 KiB");
  img.pref_address = Le(f + kPrefAddress, 8);
  if (img.pref_address % 4096 != 0 || img.pref_address < kOneMiB || img.pref_address >= (1ull << 52))
    return fail("corrupt setup header: pref_address " + Hex(img.pref_address) +
                " is not a page-aligned physical address at or above 1 MiB");
  img.init_size = Le(f + kInitSize, 4);
  if (img.init_size < img.syssize_bytes)
    return fail("corrupt setup header: init_size (" + Bytes(img.init_size) + ") is smaller than the kernel (" +
                Bytes(img.syssize_bytes) + ", syssize)");
  img.cmdline_size = static_cast<uint32_t>(Le(f + kCmdlineSize, 4));
  img.initrd_addr_max = static_cast<uint32_t>(Le(f + kInitrdAddrMax, 4));
  // kernel_version: a NUL-terminated string in the setup code, 0x200 + the offset.
  if (uint64_t at = Le(f + kKernelVersion, 2); at != 0 && kJump + at < img.setup_bytes) {
    for (uint64_t i = kJump + at; i < img.setup_bytes && f[i] != 0 && img.kernel_version.size() < 256; ++i)
      img.kernel_version += (f[i] >= 0x20 && f[i] < 0x7f) ? static_cast<char>(f[i]) : '?';
  }
  *image = std::move(img);
  return true;
}

bool CheckCommandLine(const BzImage& image, std::string_view cmdline, std::string* error) {
  if (cmdline.find('\0') != std::string_view::npos) {
    *error = "the command line holds a NUL byte";
    return false;
  }
  if (cmdline.size() > image.cmdline_size) {
    *error = "the command line is " + std::to_string(cmdline.size()) + " bytes long; this kernel takes at most " +
             std::to_string(image.cmdline_size) + " bytes (cmdline_size)";
    return false;
  }
  if (cmdline.size() >= kCmdlineRoom) {
    *error = "the command line is " + std::to_string(cmdline.size()) + " bytes long; the loader has room for " +
             std::to_string(kCmdlineRoom - 1) + " bytes";
    return false;
  }
  return true;
}

bool BuildE820(uint64_t ram_bytes, std::span<const E820Entry> reserved, std::vector<E820Entry>* map,
               std::string* error) {
  // Painted in order, later layers over earlier ones; type 0 is "absent".
  struct Layer {
    uint64_t start, end;
    uint32_t type;
  };
  std::vector<Layer> layers = {
      {0, ram_bytes, 1}, {kEbdaBase, kVgaBase, 2}, {kVgaBase, kBiosBase, 0}, {kBiosBase, kOneMiB, 2}};
  for (const E820Entry& r : reserved) {
    if (r.size == 0 || r.size > UINT64_MAX - r.base) {
      *error = "reserved region at " + Hex(r.base) + " of " + Bytes(r.size) + " is empty or wraps around";
      return false;
    }
    const auto type = static_cast<uint32_t>(r.type);
    if (type == static_cast<uint32_t>(E820Type::kRam) || type == 0) {
      *error = "reserved region " + Range(r.base, r.base + r.size) + " has e820 type " + std::to_string(type) +
               ", which is not a reserved type";
      return false;
    }
    layers.push_back({r.base, r.base + r.size, type});
  }
  std::vector<uint64_t> points;
  for (const Layer& l : layers) {
    if (l.start >= l.end) continue;
    points.push_back(l.start);
    points.push_back(l.end);
  }
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  std::vector<E820Entry> out;
  for (size_t i = 0; i + 1 < points.size(); ++i) {
    const uint64_t a = points[i], b = points[i + 1];
    uint32_t type = 0;
    for (const Layer& l : layers)
      if (l.start <= a && b <= l.end) type = l.type;
    if (type == 0) continue;
    if (!out.empty() && static_cast<uint32_t>(out.back().type) == type && out.back().base + out.back().size == a) {
      out.back().size += b - a;
    } else {
      out.push_back({a, b - a, static_cast<E820Type>(type)});
    }
  }
  if (out.size() > kE820MaxEntries) {
    *error = "the memory map has " + std::to_string(out.size()) + " regions; boot_params holds at most " +
             std::to_string(kE820MaxEntries);
    return false;
  }
  *map = std::move(out);
  return true;
}

bool LoadLinux(GuestRam& ram, std::span<const uint8_t> file, const LinuxBootConfig& config, LinuxBootInfo* info,
               std::string* error) {
  // Everything is decided before RAM is written.
  BzImage img;
  if (!ParseBzImage(file, &img, error) || !CheckCommandLine(img, config.cmdline, error)) return false;
  const uint64_t ram_bytes = ram.size();
  if (ram_bytes < kOneMiB) {
    *error = "guest RAM (" + Bytes(ram_bytes) + ") is too small for Linux";
    return false;
  }
  std::vector<E820Entry> map;
  if (!BuildE820(ram_bytes, config.reserved, &map, error)) return false;
  if (!IsFreeRam(map, 0, kBootDataEnd)) {
    *error = "a reserved region overlaps the loader's boot data at " + Range(0, kBootDataEnd);
    return false;
  }
  // Everything the kernel is handed must be in the identity map.
  const uint64_t top = std::min({config.load_limit, ram_bytes, kIdentityMapBytes});
  Placement place;
  uint64_t kernel_bytes = 0;
  if (!AlignUp(std::max(img.init_size, img.kernel_file_bytes), 4096, &kernel_bytes) ||
      !PlaceKernel(img, map, top, kernel_bytes, &place, error)) {
    return false;
  }
  const uint64_t initrd_size = config.initrd.size();
  if (initrd_size != 0 && !PlaceInitrd(img, map, top, initrd_size, &place, error)) return false;

  // The low boot data: BIOS data area words, GDT, stack, zero page, command line.
  uint8_t* const low = ram.HostPtr(GuestPhysAddr(0), kBootDataEnd);
  PutLe(low + kBdaEbdaSegment, kEbdaBase >> 4, 2);
  PutLe(low + kBdaBaseMemKiB, kEbdaBase >> 10, 2);
  for (size_t i = 0; i < std::size(kGdt); ++i) PutLe(low + kBootGdtAddr + 8 * i, kGdt[i], 8);
  std::memset(low + 0x1000, 0, kBootStackTop - 0x1000);
  if (!config.cmdline.empty())  // (an empty one may have no data() to copy from)
    std::memcpy(low + kBootCmdlineAddr, config.cmdline.data(), config.cmdline.size());
  low[kBootCmdlineAddr + config.cmdline.size()] = 0;

  uint8_t* const bp = low + kBootParamsAddr;
  std::memset(bp, 0, kBootParamsBytes);
  std::memcpy(bp + kSetupSects, file.data() + kSetupSects, img.header_end - kSetupSects);
  bp[kTypeOfLoader] = kLoaderId;
  bp[kLoadflags] = static_cast<uint8_t>(img.loadflags | kCanUseHeap);
  PutLe(bp + kHeapEndPtr, kHeapEnd, 2);
  bp[kExtLoaderVer] = bp[kExtLoaderType] = 0;
  PutLe(bp + kCmdLinePtr, kBootCmdlineAddr & 0xffffffff, 4);
  PutLe(bp + kBpExtCmdLinePtr, kBootCmdlineAddr >> 32, 4);
  PutLe(bp + kRamdiskImage, place.initrd_base & 0xffffffff, 4);
  PutLe(bp + kBpExtRamdiskImage, place.initrd_base >> 32, 4);
  PutLe(bp + kRamdiskSize, initrd_size & 0xffffffff, 4);
  PutLe(bp + kBpExtRamdiskSize, initrd_size >> 32, 4);
  // A plain PC, no setup_data list, whatever the file says.
  PutLe(bp + kHardwareSubarch, 0, 4);
  PutLe(bp + kHardwareSubarchData, 0, 8);
  PutLe(bp + kSetupData, 0, 8);
  if (config.acpi_rsdp != 0 && img.version >= 0x020e) PutLe(bp + kBpAcpiRsdpAddr, config.acpi_rsdp, 8);
  bp[kBpE820Entries] = static_cast<uint8_t>(map.size());
  for (size_t i = 0; i < map.size(); ++i) {
    uint8_t* e = bp + kBpE820Table + kE820EntryBytes * i;
    PutLe(e, map[i].base, 8);
    PutLe(e + 8, map[i].size, 8);
    PutLe(e + 16, static_cast<uint32_t>(map[i].type), 4);
  }

  // The kernel and the initrd.
  std::memcpy(ram.HostPtr(GuestPhysAddr(place.kernel_base), img.kernel_file_bytes), file.data() + img.setup_bytes,
              img.kernel_file_bytes);
  if (initrd_size != 0)
    std::memcpy(ram.HostPtr(GuestPhysAddr(place.initrd_base), initrd_size), config.initrd.data(), initrd_size);

  // Identity map of 0-4 GiB, 2 MiB pages, writable and executable; A and D
  // preset so that nothing writes to the tables before the kernel replaces them.
  PageTableBuilder tables(ram, kBootPageTablesAddr, PageTableBuilder::IdentityTableBytes(kIdentityMapBytes));
  if (!tables.Map(0, 0, kIdentityMapBytes, kPteWrite | kPteAccessed | kPteDirty, kLargePage, error)) return false;

  LinuxBootInfo out;
  out.entry_rip = place.kernel_base + 0x200;
  out.cr3 = tables.cr3();
  out.boot_params = kBootParamsAddr;
  out.stack_top = kBootStackTop;
  out.gdt_base = kBootGdtAddr;
  out.gdt_limit = static_cast<uint16_t>(sizeof kGdt - 1);
  out.kernel_base = place.kernel_base;
  out.kernel_end = place.kernel_end;
  out.initrd_base = place.initrd_base;
  out.initrd_size = initrd_size;
  out.cmdline_addr = kBootCmdlineAddr;
  out.e820 = std::move(map);
  *info = std::move(out);
  return true;
}

}  // namespace xlat
