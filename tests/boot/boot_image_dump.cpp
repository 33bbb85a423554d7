// Runs LoadLinux() on a kernel, initrd and command line into a guest RAM of a
// given size, and writes what it put in RAM as raw files for QEMU's
// -device loader, plus the entry state as shell assignments. Used by
// loader_qemu_test.sh to boot the real kernel from the loader's output.
//   boot_image_dump VMLINUZ INITRD RAM_MIB CMDLINE OUTDIR
#include <cstdio>
#include <cstdlib>
#include <string>

#include "frontend/elf_loader.h"
#include "frontend/linux_boot.h"
#include "mmu/guest_ram.h"

namespace {

bool WriteRange(const xlat::GuestRam& ram, uint64_t base, uint64_t size, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(ram.base() + base, 1, size, f) == size;
  return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: boot_image_dump VMLINUZ INITRD RAM_MIB CMDLINE OUTDIR\n");
    return 2;
  }
  const uint64_t ram_bytes = std::strtoull(argv[3], nullptr, 0) << 20;
  const std::string out = argv[5];
  std::string error;
  std::vector<uint8_t> kernel, initrd;
  if (!xlat::ReadFileBounded(argv[1], ram_bytes, &kernel, &error) ||
      !xlat::ReadFileBounded(argv[2], ram_bytes, &initrd, &error)) {
    std::fprintf(stderr, "boot_image_dump: %s\n", error.c_str());
    return 1;
  }
  auto ram = xlat::GuestRam::Create(ram_bytes, &error);
  if (!ram) {
    std::fprintf(stderr, "boot_image_dump: %s\n", error.c_str());
    return 1;
  }
  xlat::LinuxBootConfig config;
  config.cmdline = argv[4];
  config.initrd = initrd;
  xlat::BzImage image;
  xlat::LinuxBootInfo info;
  if (!xlat::ParseBzImage(kernel, &image, &error) || !xlat::LoadLinux(*ram, kernel, config, &info, &error)) {
    std::fprintf(stderr, "boot_image_dump: %s\n", error.c_str());
    return 1;
  }
  if (!WriteRange(*ram, 0, xlat::kBootDataEnd, out + "/low.bin") ||
      !WriteRange(*ram, info.kernel_base, image.kernel_file_bytes, out + "/kernel.bin") ||
      !WriteRange(*ram, info.initrd_base, info.initrd_size, out + "/initrd.bin")) {
    std::fprintf(stderr, "boot_image_dump: cannot write to %s\n", out.c_str());
    return 1;
  }
  std::printf("ENTRY=0x%llx CR3=0x%llx BOOT_PARAMS=0x%llx GDT_BASE=0x%llx GDT_LIMIT=%u STACK_TOP=0x%llx "
              "KERNEL_BASE=0x%llx INITRD_BASE=0x%llx\n",
              (unsigned long long)info.entry_rip, (unsigned long long)info.cr3, (unsigned long long)info.boot_params,
              (unsigned long long)info.gdt_base, info.gdt_limit, (unsigned long long)info.stack_top,
              (unsigned long long)info.kernel_base, (unsigned long long)info.initrd_base);
  return 0;
}
