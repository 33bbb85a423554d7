// The Debian kernel of the guest image (build/guest/vmlinuz): its compressed
// kernel uncompresses on the host and its kallsyms tables decode, with the
// symbols where the kernel's own /proc/kallsyms puts them (link-time).
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>


#include "cpu/vcpu.h"
#include "devices/pc_board.h"
#include "frontend/elf_loader.h"
#include "frontend/linux_boot.h"
#include "frontend/kallsyms.h"
#include "frontend/kernel_image.h"
#include "frontend/kernel_symbols.h"

namespace xlat {
namespace {

std::vector<uint8_t> ReadKernel() {
  std::vector<uint8_t> file;
  std::string error;
  EXPECT_TRUE(ReadFileBounded(XLAT_GUEST_DIR "/vmlinuz", 256 << 20, &file, &error)) << error;
  return file;
}

TEST(DebianKernel, KallsymsDecodeFromTheUncompressedImage) {
  const std::vector<uint8_t> file = ReadKernel();
  ASSERT_FALSE(file.empty());
  std::vector<uint8_t> elf;
  std::string error;
  ASSERT_TRUE(DecompressBzImagePayload(file, &elf, &error)) << error;
  VmlinuxImage image;
  ASSERT_TRUE(image.Parse(std::move(elf), &error)) << error;
  ASSERT_NE(image.text_segment(), nullptr);
  EXPECT_EQ(image.text_segment()->vaddr, 0xffffffff81000000ull);
  EXPECT_EQ(image.entry(), 0x1000000u);

  const MemoryReader read = [&image](uint64_t va, void* out, size_t n) { return image.Read(va, out, n); };
  KallsymsTables t;
  ASSERT_TRUE(FindKallsyms(read, 0xffffffff81000000ull, 0xffffffff84000000ull, &t, &error)) << error;
  EXPECT_EQ(t.relative_base, 0xffffffff81000000ull);
  EXPECT_GT(t.num_syms, 50000u);
  SymbolTable symbols;
  ASSERT_TRUE(DecodeKallsyms(read, t, &symbols, &error)) << error;
  for (const char* name : {"_text", "startup_64", "start_kernel", "jiffies_64", "do_idle", "_etext", "_end"}) {
    const KernelSymbol* s = symbols.FindByName(name);
    ASSERT_NE(s, nullptr) << name;
    EXPECT_GE(s->address, 0xffffffff81000000ull) << name;
  }
  EXPECT_EQ(symbols.FindByName("_text")->address, 0xffffffff81000000ull);
  EXPECT_TRUE(symbols.FindByName("start_kernel")->IsText());
  // CONFIG_KALLSYMS_ALL: data symbols too; per-CPU variables are absolute.
  EXPECT_EQ(symbols.FindByName("jiffies_64")->type, 'D');
  EXPECT_TRUE(symbols.FindByName("current_task")->IsAbsolute());
  uint64_t off = 0;
  const KernelSymbol* s = symbols.FindByAddress(symbols.FindByName("start_kernel")->address + 5, &off);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->name, "start_kernel");
  EXPECT_EQ(off, 5u);
}

TEST(DebianKernel, PreparedForTheSearchOfItsEntry) {
  const std::vector<uint8_t> file = ReadKernel();
  std::string error;
  std::unique_ptr<GuestKernelSymbols> k = GuestKernelSymbols::Prepare(file, "", &error);
  ASSERT_NE(k, nullptr) << error;
  EXPECT_EQ(k->note(), "");
  k->OnKernelLoaded(512ull << 20);
  // Every 2 MiB-aligned place from 16 MiB with room for the kernel.
  EXPECT_TRUE(k->searching());
  EXPECT_TRUE(k->entry_breakpoints().count(0x1000000));
  EXPECT_FALSE(k->entry_breakpoints().count(0x1100000));
  EXPECT_GT(k->entry_breakpoints().size(), 100u);
  EXPECT_FALSE(k->ready());
}

// The kernel booting on the PC: the search for its entry finds the KASLR
// offset before it runs, and the kallsyms tables in its memory later say the
// same. The kernel's image is readable by run-time address before its own
// page tables map it.
TEST(DebianKernel, EntrySearchAndRunningKernelAgree) {
  std::vector<uint8_t> kernel = ReadKernel();
  std::vector<uint8_t> initrd;
  std::string error;
  ASSERT_TRUE(ReadFileBounded(XLAT_GUEST_DIR "/initrd-test.gz", 256 << 20, &initrd, &error)) << error;
  std::unique_ptr<GuestKernelSymbols> early = GuestKernelSymbols::Prepare(kernel, "", &error);
  ASSERT_TRUE(early) << error;
  // The late one takes its names from a System.map (--symbols), with a name
  // kallsyms does not have.
  char map_path[] = "/tmp/xlat-gdb-test-XXXXXX";
  const int fd = mkstemp(map_path);
  ASSERT_GE(fd, 0);
  const std::string map = "ffffffff81000000 T _text\n"
                          "ffffffff81000100 t only_in_the_map\n"
                          "ffffffff83079e46 T start_kernel\n"
                          "ffffffff82a079c0 D jiffies_64\n";
  ASSERT_EQ(write(fd, map.data(), map.size()), static_cast<ssize_t>(map.size()));
  close(fd);
  std::unique_ptr<GuestKernelSymbols> late = GuestKernelSymbols::Prepare(kernel, map_path, &error);
  unlink(map_path);
  ASSERT_TRUE(late) << error;

  PcConfig config;
  config.ram_bytes = 512ull << 20;
  config.serial_out = [](uint8_t) {};
  std::unique_ptr<PcBoard> board = PcBoard::Create(config, &error);
  ASSERT_NE(board, nullptr) << error;
  const std::string cmdline = "console=ttyS0 quiet -- sleep 30";
  auto loader = [&](PcBoard& pc, std::string* err) {
    LinuxBootConfig boot;
    boot.cmdline = cmdline;
    boot.initrd = initrd;
    boot.acpi_rsdp = pc.rsdp_pa();
    for (const ReservedRegion& r : pc.reserved())
      boot.reserved.push_back({r.base, r.size, r.acpi ? E820Type::kAcpi : E820Type::kReserved});
    LinuxBootInfo info;
    if (!LoadLinux(pc.ram(), kernel, boot, &info, err)) return false;
    Vcpu& vcpu = pc.vcpu();
    vcpu.ResetToLongMode(info.entry_rip, info.cr3);
    vcpu.ctx().gdtr_base = info.gdt_base;
    vcpu.ctx().gdtr_limit = info.gdt_limit;
    vcpu.ctx().gpr[kRsi] = info.boot_params;
    vcpu.ctx().gpr[kRsp] = info.stack_top;
    return true;
  };
  ASSERT_TRUE(board->SetBootLoader(loader, &error)) << error;
  Vcpu& vcpu = board->vcpu();
  early->OnKernelLoaded(board->ram().size());
  for (uint64_t va : early->entry_breakpoints()) vcpu.SetBreakpoint(va, true);

  // To the kernel's entry.
  std::string message;
  for (int stops = 0; !early->ready(); ++stops) {
    ASSERT_LT(stops, 100);
    RunOutcome out = board->Run();
    ASSERT_EQ(out.kind, RunOutcome::Kind::kDebugStop) << out.message;
    ASSERT_EQ(out.debug_reason, RunOutcome::DebugReason::kBreakpoint);
    early->OnEntryBreakpoint(vcpu, &message);
  }
  for (uint64_t va = 0x1000000; va < board->ram().size(); va += 0x200000) vcpu.SetBreakpoint(va, false);
  EXPECT_FALSE(early->searching());
  EXPECT_NE(message.find("KASLR offset"), std::string::npos) << message;
  EXPECT_EQ(early->kaslr_offset() % 0x200000, 0u);
  const KernelSymbol* start_kernel = early->symbols().FindByName("start_kernel");
  ASSERT_NE(start_kernel, nullptr);
  // Not mapped yet by any page table the CPU uses: read from where the kernel lies.
  uint8_t code[8];
  EXPECT_FALSE(vcpu.DebugRead(start_kernel->address, code, sizeof code));
  EXPECT_TRUE(early->ReadImage(board->ram(), start_kernel->address, code, sizeof code));
  EXPECT_EQ(code[0], 0xe8);  // call __fentry__ (not patched yet)
  ASSERT_FALSE(early->symbol_file().empty());

  // Let it boot until rest_init, at the end of start_kernel: its memory is
  // set up by then, however slowly the host runs it (a wall-clock wait was
  // too short under a loaded machine or a sanitizer).
  const KernelSymbol* rest_init = early->symbols().FindByName("rest_init");
  ASSERT_NE(rest_init, nullptr);
  vcpu.SetBreakpoint(rest_init->address, true);
  RunOutcome out = board->Run();
  ASSERT_EQ(out.kind, RunOutcome::Kind::kDebugStop) << out.message;
  ASSERT_EQ(out.debug_reason, RunOutcome::DebugReason::kBreakpoint);
  EXPECT_EQ(vcpu.ctx().rip, rest_init->address);
  vcpu.SetBreakpoint(rest_init->address, false);
  ASSERT_TRUE(late->FindInGuestMemory(vcpu, &message)) << message;
  EXPECT_EQ(late->kaslr_offset(), early->kaslr_offset());
  EXPECT_EQ(late->symbols().FindByName("start_kernel")->address, start_kernel->address);
  ASSERT_NE(late->symbols().FindByName("only_in_the_map"), nullptr);
  EXPECT_EQ(late->symbols().FindByName("only_in_the_map")->address,
            early->symbols().FindByName("_text")->address + 0x100);
  EXPECT_EQ(late->symbols().size(), 4u);
  // The running kernel maps its text now.
  EXPECT_TRUE(vcpu.DebugRead(start_kernel->address, code, sizeof code));
  // Where it stopped is a named place.
  EXPECT_NE(early->symbols().Describe(vcpu.ctx().rip), "");
}

}  // namespace
}  // namespace xlat
