#include "frontend/elf_loader.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "mmu/guest_ram.h"

namespace xlat {
namespace {

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

// Overflow-safe: is [offset, offset+len) inside a buffer of `size` bytes?
bool InBounds(uint64_t offset, uint64_t len, uint64_t size) { return offset <= size && len <= size - offset; }

std::string_view MachineName(uint16_t m) {
  switch (m) {
    case EM_386: return "i386";
    case EM_ARM: return "ARM";
    case EM_AARCH64: return "AArch64";
    case EM_RISCV: return "RISC-V";
    case EM_MIPS: return "MIPS";
    case EM_PPC: return "PowerPC";
    case EM_PPC64: return "PowerPC64";
    case EM_S390: return "S/390";
    case EM_SPARCV9: return "SPARC V9";
    case EM_IA_64: return "IA-64";
    default: return "";
  }
}

std::string DescribeNonElf(std::span<const uint8_t> f) {
  // Linux boot protocol: "HdrS" at 0x202 (a bzImage, possibly with an EFI "MZ" stub).
  if (f.size() >= 0x206 && std::memcmp(f.data() + 0x202, "HdrS", 4) == 0)
    return "a Linux bzImage, not an ELF executable";
  if (f.size() >= 2 && f[0] == '#' && f[1] == '!') return "not an ELF file (it is a script)";
  if (f.size() >= 2 && f[0] == 'M' && f[1] == 'Z') return "not an ELF file (it is a PE/COFF executable)";
  return "not an ELF file (no \\x7fELF magic)";
}

std::string TypeProblem(uint16_t type) {
  switch (type) {
    case ET_DYN:
      return "a position-independent executable or shared object (ET_DYN); link a static, non-PIE "
             "executable (ET_EXEC: -static -no-pie)";
    case ET_REL: return "an object file (ET_REL), not a linked executable";
    case ET_CORE: return "a core dump (ET_CORE), not an executable";
    default: return "ELF type " + std::to_string(type) + " is not an executable (ET_EXEC)";
  }
}

}  // namespace

bool ReadFileBounded(const std::string& path, uint64_t max_bytes, std::vector<uint8_t>* out, std::string* error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = std::string("cannot open: ") + std::strerror(errno);
    return false;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    *error = std::string("cannot stat: ") + std::strerror(errno);
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    *error = "is a directory";
    return false;
  }
  auto too_large = [&] {
    *error = "file too large: more than " + Bytes(max_bytes) + " (guest RAM plus room for headers)";
    return false;
  };
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > max_bytes) return too_large();
  // The size from fstat is a hint only (the file may change, or be a pipe): read to EOF, bounded.
  // One byte more than expected, so that EOF is seen without growing again.
  const uint64_t cap = max_bytes == UINT64_MAX ? max_bytes : max_bytes + 1;
  std::vector<uint8_t> data;
  data.resize(S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) + 1 : 0);
  size_t used = 0;
  for (;;) {
    if (used == data.size()) {
      if (used > max_bytes) return too_large();
      data.resize(std::min<uint64_t>(cap, std::max<uint64_t>(used * 2, 64 * 1024)));
    }
    ssize_t n = ::read(fd, data.data() + used, data.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = std::string("cannot read: ") + std::strerror(errno);
      return false;
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used > max_bytes) return too_large();
  data.resize(used);
  *out = std::move(data);
  return true;
}

// Whether the notes of segment `ph` include one owned by "Linux" or "Xen", as
// a vmlinux's do (build salt, PVH entry). Notes that run off the segment or
// the file end the scan.
bool HasLinuxNote(std::span<const uint8_t> file, const Elf64_Phdr& ph) {
  if (!InBounds(ph.p_offset, ph.p_filesz, file.size())) return false;
  const uint8_t* p = file.data() + ph.p_offset;
  uint64_t left = ph.p_filesz;
  auto align4 = [](uint64_t n) { return (n + 3) & ~uint64_t{3}; };
  while (left >= sizeof(Elf64_Nhdr)) {
    Elf64_Nhdr nh;
    std::memcpy(&nh, p, sizeof nh);
    const uint64_t name_bytes = align4(nh.n_namesz), desc_bytes = align4(nh.n_descsz);
    if (name_bytes + desc_bytes > left - sizeof nh) return false;
    const char* name = reinterpret_cast<const char*>(p + sizeof nh);
    if ((nh.n_namesz == 6 && std::memcmp(name, "Linux", 6) == 0) || (nh.n_namesz == 4 && std::memcmp(name, "Xen", 4) == 0))
      return true;
    p += sizeof nh + name_bytes + desc_bytes;
    left -= sizeof nh + name_bytes + desc_bytes;
  }
  return false;
}

bool ParseElf(std::span<const uint8_t> file, ElfImage* image, std::string* error) {
  const uint64_t size = file.size();
  if (size == 0) {
    *error = "empty file";
    return false;
  }
  if (size < SELFMAG || std::memcmp(file.data(), ELFMAG, SELFMAG) != 0) {
    *error = DescribeNonElf(file);
    return false;
  }
  if (size < EI_NIDENT) {
    *error = "truncated ELF header (" + Bytes(size) + ")";
    return false;
  }
  switch (file[EI_CLASS]) {
    case ELFCLASS64: break;
    case ELFCLASS32: *error = "a 32-bit ELF file (ELFCLASS32); xlat needs an ELF64 x86-64 executable"; return false;
    default: *error = "invalid ELF class " + std::to_string(file[EI_CLASS]) + " (not ELF64)"; return false;
  }
  switch (file[EI_DATA]) {
    case ELFDATA2LSB: break;
    case ELFDATA2MSB: *error = "a big-endian ELF file; x86-64 executables are little-endian"; return false;
    default: *error = "invalid ELF data encoding " + std::to_string(file[EI_DATA]) + " (not little-endian)"; return false;
  }
  if (file[EI_VERSION] != EV_CURRENT) {
    *error = "unsupported ELF version " + std::to_string(file[EI_VERSION]);
    return false;
  }
  Elf64_Ehdr eh;
  if (size < sizeof eh) {
    *error = "truncated ELF header (" + Bytes(size) + ", need " + std::to_string(sizeof eh) + " bytes)";
    return false;
  }
  std::memcpy(&eh, file.data(), sizeof eh);  // the host is little-endian x86-64 too
  if (eh.e_machine != EM_X86_64) {
    std::string_view name = MachineName(eh.e_machine);
    *error = "not an x86-64 executable (e_machine " + std::to_string(eh.e_machine) +
             (name.empty() ? std::string() : ": " + std::string(name)) + ")";
    return false;
  }
  if (eh.e_type != ET_EXEC) {
    *error = TypeProblem(eh.e_type);
    return false;
  }
  if (eh.e_phnum == 0) {
    *error = "no program headers, so nothing to load";
    return false;
  }
  if (eh.e_phnum == PN_XNUM) {
    *error = "too many program headers (extended numbering is not supported)";
    return false;
  }
  if (eh.e_phentsize != sizeof(Elf64_Phdr)) {
    *error = "program header entry size " + std::to_string(eh.e_phentsize) + " (expected " +
             std::to_string(sizeof(Elf64_Phdr)) + ")";
    return false;
  }
  const uint64_t ph_bytes = uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr);
  if (!InBounds(eh.e_phoff, ph_bytes, size)) {
    *error = "program headers at offset " + Hex(eh.e_phoff) + " (" + std::to_string(eh.e_phnum) +
             " of them) lie outside the file (" + Bytes(size) + ")";
    return false;
  }

  ElfImage img;
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    std::memcpy(&ph, file.data() + eh.e_phoff + uint64_t{i} * sizeof ph, sizeof ph);
    if (ph.p_type == PT_INTERP) {
      *error = "dynamically linked (it has an interpreter, PT_INTERP); xlat runs freestanding static executables";
      return false;
    }
    if (ph.p_type == PT_NOTE && HasLinuxNote(file, ph)) {
      *error = "an uncompressed Linux kernel (vmlinux: its notes are Linux's); xlat boots Linux from a bzImage "
               "(arch/x86/boot/bzImage, /boot/vmlinuz-*)";
      return false;
    }
    if (ph.p_type != PT_LOAD) continue;
    const std::string seg = "segment " + std::to_string(i) + ": ";
    if (ph.p_filesz > ph.p_memsz) {
      *error = seg + "p_filesz (" + Hex(ph.p_filesz) + ") is larger than p_memsz (" + Hex(ph.p_memsz) + ")";
      return false;
    }
    if (ph.p_filesz > 0 && !InBounds(ph.p_offset, ph.p_filesz, size)) {
      *error = seg + "file range at offset " + Hex(ph.p_offset) + ", " + Hex(ph.p_filesz) +
               " bytes, lies outside the file (" + Bytes(size) + ")";
      return false;
    }
    if (ph.p_memsz > UINT64_MAX - ph.p_paddr) {
      *error = seg + "p_paddr " + Hex(ph.p_paddr) + " + p_memsz " + Hex(ph.p_memsz) + " overflows";
      return false;
    }
    if (ph.p_memsz > UINT64_MAX - ph.p_vaddr) {
      *error = seg + "p_vaddr " + Hex(ph.p_vaddr) + " + p_memsz " + Hex(ph.p_memsz) + " overflows";
      return false;
    }
    if (ph.p_memsz == 0) continue;  // occupies nothing
    img.segments.push_back(ElfSegment{i, ph.p_paddr, ph.p_vaddr, ph.p_offset, ph.p_filesz, ph.p_memsz,
                                      (ph.p_flags & PF_X) != 0});
  }
  if (img.segments.empty()) {
    *error = "no loadable segments (PT_LOAD with a non-zero size)";
    return false;
  }
  std::sort(img.segments.begin(), img.segments.end(),
            [](const ElfSegment& a, const ElfSegment& b) { return a.paddr < b.paddr; });
  for (size_t k = 1; k < img.segments.size(); ++k) {
    const ElfSegment& a = img.segments[k - 1];
    const ElfSegment& b = img.segments[k];
    if (b.paddr < a.paddr + a.mem_size) {
      *error = "segments " + std::to_string(a.index) + " and " + std::to_string(b.index) +
               " overlap in physical memory at " + Hex(b.paddr);
      return false;
    }
  }

  const ElfSegment* entry_seg = nullptr;
  const ElfSegment* any_seg = nullptr;
  for (const ElfSegment& s : img.segments) {
    if (eh.e_entry >= s.vaddr && eh.e_entry - s.vaddr < s.mem_size) {
      if (!any_seg) any_seg = &s;
      if (s.executable) {
        entry_seg = &s;
        break;
      }
    }
  }
  if (!entry_seg) {
    *error = any_seg ? "entry point " + Hex(eh.e_entry) + " lies in segment " + std::to_string(any_seg->index) +
                           ", which is not executable (no PF_X)"
                     : "entry point " + Hex(eh.e_entry) + " is not inside any loadable segment";
    return false;
  }
  img.entry = eh.e_entry - entry_seg->vaddr + entry_seg->paddr;
  *image = std::move(img);
  return true;
}

bool PlaceElf(std::span<const uint8_t> file, const ElfImage& image, std::span<uint8_t> ram, uint64_t limit,
              std::string* error) {
  limit = std::min<uint64_t>(limit, ram.size());
  for (const ElfSegment& s : image.segments) {
    const std::string seg = "segment " + std::to_string(s.index) + " ";
    // ParseElf guarantees these; a hand-made image might not.
    if (s.file_size > s.mem_size || (s.file_size > 0 && !InBounds(s.file_offset, s.file_size, file.size())) ||
        s.mem_size > UINT64_MAX - s.paddr) {
      *error = seg + "is malformed";
      return false;
    }
    const uint64_t end = s.paddr + s.mem_size;
    if (end > ram.size()) {
      *error = seg + Range(s.paddr, end) + " lies outside guest RAM (" + Bytes(ram.size()) +
               "); give more with -m";
      return false;
    }
    if (end > limit) {
      *error = seg + Range(s.paddr, end) + " overlaps " + Range(limit, ram.size()) +
               ", the top of RAM that holds the page tables; give more RAM with -m";
      return false;
    }
  }
  for (const ElfSegment& s : image.segments) {
    if (s.file_size > 0) std::memcpy(ram.data() + s.paddr, file.data() + s.file_offset, s.file_size);
    std::memset(ram.data() + s.paddr + s.file_size, 0, s.mem_size - s.file_size);
  }
  return true;
}

bool PlaceElf(std::span<const uint8_t> file, const ElfImage& image, GuestRam& ram, uint64_t limit,
              std::string* error) {
  return PlaceElf(file, image, std::span<uint8_t>(ram.base(), ram.size()), limit, error);
}

}  // namespace xlat
