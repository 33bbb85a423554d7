// The ELF loader: a valid image loads as it should; every kind of corruption
// gives its own one-line error; no input crashes it.
#include "frontend/elf_loader.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "tests/frontend/elf_builder.h"

namespace xlat {
namespace {

using test::BuildElf;
using test::kCodeAddr;
using test::kDataAddr;
using test::kExitCode;
using test::Patch;
using test::PhdrOffset;
using test::StandardElf;
using test::TestSegment;

constexpr uint64_t kRamBytes = 4ull << 20;

// Parses `file`; expects failure and returns the error, checked to be one line.
std::string ParseError(const std::vector<uint8_t>& file) {
  ElfImage image;
  std::string error;
  EXPECT_FALSE(ParseElf(file, &image, &error));
  EXPECT_FALSE(error.empty());
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  return error;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}
#define EXPECT_CONTAINS(haystack, needle) EXPECT_PRED2(Contains, haystack, needle)

// ---- The valid image ----

TEST(ElfLoader, LoadsSegmentsAndZeroFillsBss) {
  std::vector<uint8_t> file = StandardElf();
  ElfImage image;
  std::string error;
  ASSERT_TRUE(ParseElf(file, &image, &error)) << error;
  EXPECT_EQ(image.entry, kCodeAddr);
  ASSERT_EQ(image.segments.size(), 2u);
  EXPECT_EQ(image.segments[0].paddr, kCodeAddr);
  EXPECT_TRUE(image.segments[0].executable);
  EXPECT_EQ(image.segments[1].paddr, kDataAddr);
  EXPECT_EQ(image.segments[1].mem_size, 0x2000u);
  EXPECT_FALSE(image.segments[1].executable);

  std::vector<uint8_t> ram(kRamBytes, 0xaa);  // not zero: the loader must zero the bss itself
  ASSERT_TRUE(PlaceElf(file, image, ram, kRamBytes, &error)) << error;
  EXPECT_TRUE(std::equal(kExitCode.begin(), kExitCode.end(), ram.begin() + kCodeAddr));
  EXPECT_EQ(ram[kCodeAddr + kExitCode.size()], 0xaa);  // beyond p_memsz: untouched
  for (uint64_t i = 0; i < 8; ++i) EXPECT_EQ(ram[kDataAddr + i], i + 1);
  for (uint64_t i = 8; i < 0x2000; ++i) ASSERT_EQ(ram[kDataAddr + i], 0) << i;
  EXPECT_EQ(ram[kDataAddr + 0x2000], 0xaa);
  EXPECT_EQ(ram[kCodeAddr - 1], 0xaa);
}

TEST(ElfLoader, EntryIsTranslatedFromVirtualToPhysical) {
  // Linked at a high virtual address, loaded at 2 MiB (AT() in a linker script).
  const uint64_t va = 0xffffffff80000000ull, pa = 0x200000;
  std::vector<uint8_t> file = BuildElf(va + 4, {TestSegment{PT_LOAD, PF_R | PF_X, pa, va, kExitCode, 0x100}});
  ElfImage image;
  std::string error;
  ASSERT_TRUE(ParseElf(file, &image, &error)) << error;
  EXPECT_EQ(image.entry, pa + 4);
}

TEST(ElfLoader, EntryInTheZeroFilledPartOfAnExecutableSegmentIsAccepted) {
  std::vector<uint8_t> file = BuildElf(kCodeAddr + 0x80, {TestSegment{PT_LOAD, PF_R | PF_X, kCodeAddr, kCodeAddr,
                                                                      kExitCode, 0x100}});
  ElfImage image;
  std::string error;
  EXPECT_TRUE(ParseElf(file, &image, &error)) << error;
}

TEST(ElfLoader, OtherProgramHeadersAndEmptySegmentsAreIgnored) {
  std::vector<uint8_t> file = BuildElf(kCodeAddr, {
      TestSegment{PT_NOTE, PF_R, 0, 0, {1, 2, 3, 4}, 0},
      TestSegment{PT_LOAD, PF_R, 0x5000, 0x5000, {}, 0},  // p_memsz 0: occupies nothing
      TestSegment{PT_LOAD, PF_R | PF_X, kCodeAddr, kCodeAddr, kExitCode, 0},
      TestSegment{PT_GNU_STACK, PF_R | PF_W, 0, 0, {}, 0},
  });
  ElfImage image;
  std::string error;
  ASSERT_TRUE(ParseElf(file, &image, &error)) << error;
  ASSERT_EQ(image.segments.size(), 1u);
  EXPECT_EQ(image.segments[0].index, 2u);
}

TEST(ElfLoader, SegmentsAreSortedByPhysicalAddress) {
  std::vector<uint8_t> file = BuildElf(kCodeAddr, {
      TestSegment{PT_LOAD, PF_R | PF_W, kDataAddr, kDataAddr, {9}, 0},
      TestSegment{PT_LOAD, PF_R | PF_X, kCodeAddr, kCodeAddr, kExitCode, 0},
  });
  ElfImage image;
  std::string error;
  ASSERT_TRUE(ParseElf(file, &image, &error)) << error;
  EXPECT_EQ(image.segments[0].paddr, kCodeAddr);
  EXPECT_EQ(image.segments[1].paddr, kDataAddr);
}

// ---- Not ELF, or not the right ELF ----

TEST(ElfLoader, EmptyFile) { EXPECT_EQ(ParseError({}), "empty file"); }

TEST(ElfLoader, NotElf) {
  std::string text = "hello, world\n";
  EXPECT_EQ(ParseError(std::vector<uint8_t>(text.begin(), text.end())), "not an ELF file (no \\x7fELF magic)");
  EXPECT_EQ(ParseError({0x7f, 'E', 'L'}), "not an ELF file (no \\x7fELF magic)");
  std::string script = "#!/bin/sh\necho hi\n";
  EXPECT_CONTAINS(ParseError(std::vector<uint8_t>(script.begin(), script.end())), "it is a script");
  EXPECT_CONTAINS(ParseError({'M', 'Z', 0x90, 0}), "PE/COFF");
}

TEST(ElfLoader, LinuxBzImageIsNamed) {
  std::vector<uint8_t> bz(0x400, 0);
  bz[0] = 'M';
  bz[1] = 'Z';
  std::memcpy(bz.data() + 0x202, "HdrS", 4);
  EXPECT_CONTAINS(ParseError(bz), "a Linux bzImage");
}

TEST(ElfLoader, TruncatedHeader) {
  std::vector<uint8_t> file = StandardElf();
  EXPECT_CONTAINS(ParseError(std::vector<uint8_t>(file.begin(), file.begin() + 4)), "truncated ELF header");
  EXPECT_CONTAINS(ParseError(std::vector<uint8_t>(file.begin(), file.begin() + 10)), "truncated ELF header");
  EXPECT_EQ(ParseError(std::vector<uint8_t>(file.begin(), file.begin() + 40)),
            "truncated ELF header (40 bytes, need 64 bytes)");
  EXPECT_CONTAINS(ParseError(std::vector<uint8_t>(file.begin(), file.begin() + 63)), "truncated ELF header");
}

TEST(ElfLoader, NotElf64) {
  std::vector<uint8_t> file = StandardElf();
  file[EI_CLASS] = ELFCLASS32;
  EXPECT_EQ(ParseError(file), "a 32-bit ELF file (ELFCLASS32); xlat needs an ELF64 x86-64 executable");
  file[EI_CLASS] = 7;
  EXPECT_EQ(ParseError(file), "invalid ELF class 7 (not ELF64)");
  file[EI_CLASS] = ELFCLASSNONE;
  EXPECT_EQ(ParseError(file), "invalid ELF class 0 (not ELF64)");
}

TEST(ElfLoader, NotLittleEndian) {
  std::vector<uint8_t> file = StandardElf();
  file[EI_DATA] = ELFDATA2MSB;
  EXPECT_EQ(ParseError(file), "a big-endian ELF file; x86-64 executables are little-endian");
  file[EI_DATA] = 0;
  EXPECT_EQ(ParseError(file), "invalid ELF data encoding 0 (not little-endian)");
}

TEST(ElfLoader, BadVersion) {
  std::vector<uint8_t> file = StandardElf();
  file[EI_VERSION] = 0;
  EXPECT_EQ(ParseError(file), "unsupported ELF version 0");
}

TEST(ElfLoader, NotX86_64) {
  std::vector<uint8_t> file = StandardElf();
  Patch<uint16_t>(file, offsetof(Elf64_Ehdr, e_machine), EM_AARCH64);
  EXPECT_EQ(ParseError(file), "not an x86-64 executable (e_machine 183: AArch64)");
  Patch<uint16_t>(file, offsetof(Elf64_Ehdr, e_machine), EM_386);
  EXPECT_EQ(ParseError(file), "not an x86-64 executable (e_machine 3: i386)");
  Patch<uint16_t>(file, offsetof(Elf64_Ehdr, e_machine), 0x1234);
  EXPECT_EQ(ParseError(file), "not an x86-64 executable (e_machine 4660)");
}

TEST(ElfLoader, NotAnExecutable) {
  std::vector<uint8_t> file = StandardElf();
  Patch<uint16_t>(file, offsetof(Elf64_Ehdr, e_type), ET_DYN);
  EXPECT_CONTAINS(ParseError(file), "position-independent executable or shared object (ET_DYN)");
  Patch<uint16_t>(file, offsetof(Elf64_Ehdr, e_type), ET_REL);
  EXPECT_EQ(ParseError(file), "an object file (ET_REL), not a linked executable");
  Patch<uint16_t>(file, offsetof(Elf64_Ehdr, e_type), ET_CORE);
  EXPECT_EQ(ParseError(file), "a core dump (ET_CORE), not an executable");
  Patch<uint16_t>(file, offsetof(Elf64_Ehdr, e_type), ET_NONE);
  EXPECT_EQ(ParseError(file), "ELF type 0 is not an executable (ET_EXEC)");
}

// ---- Program headers ----

TEST(ElfLoader, NoProgramHeaders) {
  std::vector<uint8_t> file = StandardElf();
  Patch<uint16_t>(file, offsetof(Elf64_Ehdr, e_phnum), 0);
  EXPECT_EQ(ParseError(file), "no program headers, so nothing to load");
}

TEST(ElfLoader, ExtendedProgramHeaderNumbering) {
  std::vector<uint8_t> file = StandardElf();
  Patch<uint16_t>(file, offsetof(Elf64_Ehdr, e_phnum), PN_XNUM);
  EXPECT_EQ(ParseError(file), "too many program headers (extended numbering is not supported)");
}

TEST(ElfLoader, WrongProgramHeaderSize) {
  std::vector<uint8_t> file = StandardElf();
  Patch<uint16_t>(file, offsetof(Elf64_Ehdr, e_phentsize), 32);
  EXPECT_EQ(ParseError(file), "program header entry size 32 (expected 56)");
}

TEST(ElfLoader, ProgramHeadersOutOfFile) {
  std::vector<uint8_t> file = StandardElf();
  const std::string what = "lie outside the file";
  Patch<uint64_t>(file, offsetof(Elf64_Ehdr, e_phoff), file.size());
  EXPECT_CONTAINS(ParseError(file), what);
  Patch<uint64_t>(file, offsetof(Elf64_Ehdr, e_phoff), file.size() - 10);
  EXPECT_CONTAINS(ParseError(file), what);
  Patch<uint64_t>(file, offsetof(Elf64_Ehdr, e_phoff), UINT64_MAX - 8);  // offset + size overflows
  EXPECT_CONTAINS(ParseError(file), what);
  Patch<uint64_t>(file, offsetof(Elf64_Ehdr, e_phoff), sizeof(Elf64_Ehdr));
  Patch<uint16_t>(file, offsetof(Elf64_Ehdr, e_phnum), 1000);
  EXPECT_EQ(ParseError(file), "program headers at offset 0x40 (1000 of them) lie outside the file (" +
                                  std::to_string(file.size()) + " bytes)");
}

TEST(ElfLoader, DynamicallyLinked) {
  std::vector<uint8_t> file = StandardElf();
  Patch<uint32_t>(file, PhdrOffset(1) + offsetof(Elf64_Phdr, p_type), PT_INTERP);
  EXPECT_CONTAINS(ParseError(file), "dynamically linked");
}

// ---- Segments ----

TEST(ElfLoader, SegmentFileRangeOutOfFile) {
  std::vector<uint8_t> file = StandardElf();
  const size_t off = PhdrOffset(1) + offsetof(Elf64_Phdr, p_offset);
  Patch<uint64_t>(file, off, file.size());  // starts at the end, 8 bytes long
  EXPECT_EQ(ParseError(file), "segment 1: file range at offset " + [&] {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%zx", file.size());
    return std::string(buf);
  }() + ", 0x8 bytes, lies outside the file (" + std::to_string(file.size()) + " bytes)");
  Patch<uint64_t>(file, off, file.size() - 4);  // straddles the end
  EXPECT_CONTAINS(ParseError(file), "segment 1: file range");
  Patch<uint64_t>(file, off, UINT64_MAX - 2);  // offset + filesz overflows
  EXPECT_CONTAINS(ParseError(file), "segment 1: file range");
  Patch<uint64_t>(file, off, 0);
  Patch<uint64_t>(file, PhdrOffset(1) + offsetof(Elf64_Phdr, p_filesz), file.size() + 1);
  Patch<uint64_t>(file, PhdrOffset(1) + offsetof(Elf64_Phdr, p_memsz), file.size() + 1);
  EXPECT_CONTAINS(ParseError(file), "segment 1: file range");
}

TEST(ElfLoader, FileSizeLargerThanMemorySize) {
  std::vector<uint8_t> file = StandardElf();
  Patch<uint64_t>(file, PhdrOffset(0) + offsetof(Elf64_Phdr, p_memsz), 2);
  EXPECT_EQ(ParseError(file), "segment 0: p_filesz (0x5) is larger than p_memsz (0x2)");
}

TEST(ElfLoader, PhysicalRangeOverflows) {
  std::vector<uint8_t> file = StandardElf();
  Patch<uint64_t>(file, PhdrOffset(1) + offsetof(Elf64_Phdr, p_paddr), UINT64_MAX - 0x100);
  EXPECT_EQ(ParseError(file), "segment 1: p_paddr 0xfffffffffffffeff + p_memsz 0x2000 overflows");
}

TEST(ElfLoader, VirtualRangeOverflows) {
  std::vector<uint8_t> file = StandardElf();
  Patch<uint64_t>(file, PhdrOffset(1) + offsetof(Elf64_Phdr, p_vaddr), UINT64_MAX);
  EXPECT_EQ(ParseError(file), "segment 1: p_vaddr 0xffffffffffffffff + p_memsz 0x2000 overflows");
}

TEST(ElfLoader, NoLoadableSegments) {
  std::vector<uint8_t> file = StandardElf();
  Patch<uint32_t>(file, PhdrOffset(0) + offsetof(Elf64_Phdr, p_type), PT_NOTE);
  Patch<uint32_t>(file, PhdrOffset(1) + offsetof(Elf64_Phdr, p_type), PT_NULL);
  EXPECT_EQ(ParseError(file), "no loadable segments (PT_LOAD with a non-zero size)");
  // PT_LOAD segments of size 0 load nothing either.
  file = BuildElf(kCodeAddr, {TestSegment{PT_LOAD, PF_R | PF_X, kCodeAddr, kCodeAddr, {}, 0}});
  EXPECT_EQ(ParseError(file), "no loadable segments (PT_LOAD with a non-zero size)");
}

TEST(ElfLoader, OverlappingSegments) {
  std::vector<uint8_t> file = BuildElf(kCodeAddr, {
      TestSegment{PT_LOAD, PF_R | PF_X, kCodeAddr, kCodeAddr, kExitCode, 0x1000},
      TestSegment{PT_LOAD, PF_R | PF_W, kCodeAddr + 0xfff, kCodeAddr + 0xfff, {1}, 0},
  });
  EXPECT_EQ(ParseError(file), "segments 0 and 1 overlap in physical memory at 0x100fff");
}

TEST(ElfLoader, AdjacentSegmentsDoNotOverlap) {
  std::vector<uint8_t> file = BuildElf(kCodeAddr, {
      TestSegment{PT_LOAD, PF_R | PF_X, kCodeAddr, kCodeAddr, kExitCode, 0x1000},
      TestSegment{PT_LOAD, PF_R | PF_W, kCodeAddr + 0x1000, kCodeAddr + 0x1000, {1}, 0},
  });
  ElfImage image;
  std::string error;
  EXPECT_TRUE(ParseElf(file, &image, &error)) << error;
}

// A Linux vmlinux carries notes owned by "Linux" (and "Xen", its PVH entry):
// the error says it is one, and where the bootable kernel is. Other notes
// (a program's own, GNU's) change nothing.
std::vector<uint8_t> WithNote(const char* owner, uint32_t type) {
  std::vector<uint8_t> note;
  const uint32_t namesz = static_cast<uint32_t>(std::strlen(owner) + 1), descsz = 4;
  auto put32 = [&note](uint32_t v) { for (int i = 0; i < 4; ++i) note.push_back(static_cast<uint8_t>(v >> (8 * i))); };
  put32(namesz);
  put32(descsz);
  put32(type);
  for (uint32_t i = 0; i < (namesz + 3) / 4 * 4; ++i) note.push_back(i < namesz ? static_cast<uint8_t>(owner[i]) : 0);
  put32(0x1000000);
  return BuildElf(kCodeAddr, {TestSegment{PT_LOAD, PF_R | PF_X, kCodeAddr, kCodeAddr, kExitCode, 0},
                              TestSegment{PT_NOTE, PF_R, 0, 0, note, 0}});
}

TEST(ElfLoader, LinuxVmlinuxIsNamed) {
  EXPECT_CONTAINS(ParseError(WithNote("Linux", 0x100)), "an uncompressed Linux kernel (vmlinux");
  EXPECT_CONTAINS(ParseError(WithNote("Linux", 0x100)), "bzImage");
  EXPECT_CONTAINS(ParseError(WithNote("Xen", 18)), "an uncompressed Linux kernel (vmlinux");
  ElfImage image;
  std::string why;
  EXPECT_TRUE(ParseElf(WithNote("GNU", 3), &image, &why)) << why;
  EXPECT_TRUE(ParseElf(WithNote("Linuxish", 1), &image, &why)) << why;
}

// ---- Entry point ----

TEST(ElfLoader, EntryOutsideEverySegment) {
  std::vector<uint8_t> file = StandardElf();
  Patch<uint64_t>(file, offsetof(Elf64_Ehdr, e_entry), 0x500000);
  EXPECT_EQ(ParseError(file), "entry point 0x500000 is not inside any loadable segment");
  Patch<uint64_t>(file, offsetof(Elf64_Ehdr, e_entry), kCodeAddr + kExitCode.size());  // one past the end
  EXPECT_CONTAINS(ParseError(file), "is not inside any loadable segment");
  Patch<uint64_t>(file, offsetof(Elf64_Ehdr, e_entry), kCodeAddr - 1);
  EXPECT_CONTAINS(ParseError(file), "is not inside any loadable segment");
}

TEST(ElfLoader, EntryInANonExecutableSegment) {
  std::vector<uint8_t> file = StandardElf();
  Patch<uint64_t>(file, offsetof(Elf64_Ehdr, e_entry), kDataAddr);
  EXPECT_EQ(ParseError(file), "entry point 0x101000 lies in segment 1, which is not executable (no PF_X)");
}

TEST(ElfLoader, EntryInASegmentThatLoadsNothing) {
  std::vector<uint8_t> file = BuildElf(0x5000, {
      TestSegment{PT_LOAD, PF_R | PF_X, 0x5000, 0x5000, {}, 0},
      TestSegment{PT_LOAD, PF_R | PF_X, kCodeAddr, kCodeAddr, kExitCode, 0},
  });
  EXPECT_CONTAINS(ParseError(file), "is not inside any loadable segment");
}

// ---- Placement in RAM ----

std::string PlaceError(const std::vector<uint8_t>& file, uint64_t ram_bytes, uint64_t limit,
                       std::vector<uint8_t>* ram_out = nullptr) {
  ElfImage image;
  std::string error;
  EXPECT_TRUE(ParseElf(file, &image, &error)) << error;
  std::vector<uint8_t> ram(ram_bytes, 0x55);
  EXPECT_FALSE(PlaceElf(file, image, ram, limit, &error));
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  if (ram_out) *ram_out = std::move(ram);
  return error;
}

TEST(ElfLoader, SegmentOutsideRam) {
  std::vector<uint8_t> file = StandardElf();
  EXPECT_EQ(PlaceError(file, 1 << 20, 1 << 20),
            "segment 0 [0x100000, 0x100005) lies outside guest RAM (1 MiB); give more with -m");
  // The bss tail counts: the data segment's file bytes fit, its p_memsz does not.
  EXPECT_EQ(PlaceError(file, kDataAddr + 0x1000, kDataAddr + 0x1000),
            "segment 1 [0x101000, 0x103000) lies outside guest RAM (1032 KiB); give more with -m");
}

TEST(ElfLoader, SegmentOverlappingTheReservedTop) {
  std::vector<uint8_t> file = StandardElf();
  EXPECT_EQ(PlaceError(file, kRamBytes, kDataAddr + 0x1000),
            "segment 1 [0x101000, 0x103000) overlaps [0x102000, 0x400000), the top of RAM that holds the page "
            "tables; give more RAM with -m");
}

TEST(ElfLoader, SegmentEndingExactlyAtTheLimitFits) {
  std::vector<uint8_t> file = StandardElf();
  ElfImage image;
  std::string error;
  ASSERT_TRUE(ParseElf(file, &image, &error));
  std::vector<uint8_t> ram(kRamBytes);
  EXPECT_TRUE(PlaceElf(file, image, ram, kDataAddr + 0x2000, &error)) << error;
}

TEST(ElfLoader, NothingIsCopiedWhenASegmentDoesNotFit) {
  std::vector<uint8_t> ram;
  PlaceError(StandardElf(), kRamBytes, kDataAddr + 0x1000, &ram);
  for (uint8_t b : ram) ASSERT_EQ(b, 0x55);
}

TEST(ElfLoader, PlaceRejectsAMalformedHandMadeImage) {
  std::vector<uint8_t> file = StandardElf();
  ElfImage image;
  image.entry = kCodeAddr;
  image.segments.push_back(ElfSegment{0, kCodeAddr, kCodeAddr, file.size() - 2, 16, 16, true});
  std::vector<uint8_t> ram(kRamBytes);
  std::string error;
  EXPECT_FALSE(PlaceElf(file, image, ram, kRamBytes, &error));
  EXPECT_EQ(error, "segment 0 is malformed");
}

// ---- Hostile input: never a crash ----

// Every prefix of a valid file fails (its last segment's bytes reach the end)
// without reading past what it was given.
TEST(ElfLoader, EveryTruncationFailsCleanly) {
  const std::vector<uint8_t> full = StandardElf();
  for (size_t n = 0; n < full.size(); ++n) {
    // A heap copy of exactly n bytes, so that a sanitizer sees any over-read.
    std::vector<uint8_t> prefix(full.begin(), full.begin() + n);
    prefix.shrink_to_fit();
    ElfImage image;
    std::string error;
    EXPECT_FALSE(ParseElf(prefix, &image, &error)) << n;
    EXPECT_FALSE(error.empty()) << n;
  }
}

// Random corruption of the headers: whatever ParseElf accepts, PlaceElf places
// inside the RAM it is given, and ParseElf rejects the rest with a message.
TEST(ElfLoader, RandomCorruptionNeverCrashes) {
  const std::vector<uint8_t> valid = StandardElf();
  const size_t header_bytes = PhdrOffset(2);
  std::mt19937_64 rng(12345);
  std::vector<uint8_t> ram(kRamBytes);
  int accepted = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<uint8_t> file = valid;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      size_t pos = rng() % header_bytes;
      switch (rng() % 3) {
        case 0: file[pos] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        case 1: file[pos] = static_cast<uint8_t>(rng()); break;
        default: file[pos] = (rng() % 2) ? 0xff : 0x00; break;
      }
    }
    if (rng() % 8 == 0) file.resize(rng() % file.size());
    ElfImage image;
    std::string error;
    if (!ParseElf(file, &image, &error)) {
      ASSERT_FALSE(error.empty());
      ASSERT_EQ(error.find('\n'), std::string::npos);
      continue;
    }
    ++accepted;
    if (!PlaceElf(file, image, ram, kRamBytes - 0x10000, &error)) {
      ASSERT_FALSE(error.empty());
    }
  }
  EXPECT_GT(accepted, 0);  // some corruptions are harmless (e.g. p_align); they must load
}

// ---- Reading the file ----

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/xlat-elf-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string File(const std::string& name, const std::vector<uint8_t>& bytes) const {
    std::string p = path_ + "/" + name;
    FILE* f = std::fopen(p.c_str(), "wb");
    if (!bytes.empty()) std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ElfLoader, ReadFileBounded) {
  TempDir dir;
  std::vector<uint8_t> out;
  std::string error;

  std::string elf = dir.File("ok.elf", StandardElf());
  ASSERT_TRUE(ReadFileBounded(elf, 1 << 20, &out, &error)) << error;
  EXPECT_EQ(out, StandardElf());

  std::string empty = dir.File("empty", {});
  ASSERT_TRUE(ReadFileBounded(empty, 1 << 20, &out, &error)) << error;
  EXPECT_TRUE(out.empty());

  std::string hundred = dir.File("hundred", std::vector<uint8_t>(100, 7));
  EXPECT_TRUE(ReadFileBounded(hundred, 100, &out, &error)) << error;  // exactly the limit
  EXPECT_EQ(out.size(), 100u);
  EXPECT_FALSE(ReadFileBounded(hundred, 99, &out, &error));
  EXPECT_CONTAINS(error, "file too large");

  EXPECT_FALSE(ReadFileBounded(dir.path() + "/missing", 100, &out, &error));
  EXPECT_EQ(error, "cannot open: No such file or directory");

  EXPECT_FALSE(ReadFileBounded(dir.path(), 100, &out, &error));
  EXPECT_EQ(error, "is a directory");

  if (geteuid() != 0) {  // root reads anything
    std::string secret = dir.File("secret", {1, 2, 3});
    chmod(secret.c_str(), 0);
    EXPECT_FALSE(ReadFileBounded(secret, 100, &out, &error));
    EXPECT_EQ(error, "cannot open: Permission denied");
  }
}

TEST(ElfLoader, ReadFileBoundedFromAPipe) {
  // Not a regular file: the size is not known in advance and the bound still holds.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::vector<uint8_t> bytes(1000, 3);
  ASSERT_EQ(write(fds[1], bytes.data(), bytes.size()), 1000);
  close(fds[1]);
  std::vector<uint8_t> out;
  std::string error;
  std::string path = "/proc/self/fd/" + std::to_string(fds[0]);
  EXPECT_FALSE(ReadFileBounded(path, 999, &out, &error));
  EXPECT_CONTAINS(error, "file too large");
  close(fds[0]);
}

}  // namespace
}  // namespace xlat
