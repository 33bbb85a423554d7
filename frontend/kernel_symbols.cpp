#include "frontend/kernel_symbols.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <map>

#include "cpu/vcpu.h"
#include "frontend/elf_loader.h"
#include "frontend/linux_boot.h"
#include "mmu/guest_ram.h"

namespace xlat {
namespace {

constexpr uint64_t kKernelHalf = 0xffff800000000000ull;
// x86-64 kernels are linked and randomized inside [-2 GiB, -1 GiB).
constexpr uint64_t kKernelMapStart = 0xffffffff80000000ull, kKernelMapEnd = 0xffffffffc0000000ull;
constexpr uint64_t kMaxSymbolsFileBytes = 256ull << 20;
// startup_64's first two instructions (lea rsp/rdi with RIP-relative
// operands) are the same wherever the kernel lands; the third's immediate is
// relocated by KASLR.
constexpr size_t kEntryBytes = 14;
constexpr size_t kMaxEntryBreakpoints = 8192;
// Something that is not the kernel ran at a candidate address this often: stop looking.
constexpr uint64_t kMaxFalseEntries = 100000;

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#" PRIx64, v);
  return buf;
}

}  // namespace

GuestKernelSymbols::~GuestKernelSymbols() {
  if (!symbol_file_.empty()) ::unlink(symbol_file_.c_str());
  if (!dir_.empty()) ::rmdir(dir_.c_str());
}

std::unique_ptr<GuestKernelSymbols> GuestKernelSymbols::Prepare(std::span<const uint8_t> kernel_file,
                                                                const std::string& symbols_path,
                                                                std::string* error) {
  std::unique_ptr<GuestKernelSymbols> k(new GuestKernelSymbols);
  if (!symbols_path.empty()) {
    std::vector<uint8_t> bytes;
    std::string err;
    if (!ReadFileBounded(symbols_path, kMaxSymbolsFileBytes, &bytes, &err) ||
        !ParseSymbolFile(bytes, &k->link_, &err)) {
      *error = "--symbols " + symbols_path + ": " + err;
      return nullptr;
    }
  }

  if (!LooksLikeBzImage(kernel_file)) {
    if (k->link_.empty()) k->note_ = "the kernel is not a bzImage";
    return k;
  }
  if (kernel_file.size() >= 0x234) {
    uint32_t align;
    std::memcpy(&align, &kernel_file[0x230], 4);
    if (align >= 4096 && (align & (align - 1)) == 0) k->alignment_ = align;
  }
  std::vector<uint8_t> elf;
  std::string err;
  auto image = std::make_unique<VmlinuxImage>();
  if (!DecompressBzImagePayload(kernel_file, &elf, &err) || !image->Parse(std::move(elf), &err)) {
    if (k->link_.empty()) k->note_ = err;
    return k;
  }
  const VmlinuxImage::Segment& text = *image->text_segment();
  k->link_text_ = text.vaddr;
  k->link_entry_va_ = text.vaddr + (image->entry() - text.paddr);
  uint64_t lo = UINT64_MAX, hi = 0;
  for (const VmlinuxImage::Segment& s : image->segments()) {
    if (s.vaddr < kKernelHalf) continue;  // the per-CPU template (linked at 0)
    lo = std::min(lo, s.vaddr);
    hi = std::max(hi, s.vaddr + s.mem_size);
  }
  k->image_end_va_ = hi;
  k->entry_bytes_.resize(kEntryBytes);
  image->Read(k->link_entry_va_, k->entry_bytes_.data(), kEntryBytes);

  const MemoryReader read = [&image](uint64_t va, void* out, size_t n) { return image->Read(va, out, n); };
  KallsymsTables tables;
  if (FindKallsyms(read, lo, hi, &tables, &err)) {
    k->have_link_kallsyms_ = true;
    k->link_relative_base_at_ = tables.relative_base_at;
    k->link_relative_base_ = tables.relative_base;
    if (k->link_.empty() && !DecodeKallsyms(read, tables, &k->link_, &err)) k->note_ = err;
  } else if (k->link_.empty()) {
    k->note_ = err;
  }
  // Without kallsyms, the offset comes from pointers the relocation moves:
  // quads in .data that hold addresses inside the kernel.
  for (const VmlinuxImage::Section& s : image->sections()) {
    if (s.name != ".data" || s.type == 8 /*NOBITS*/) continue;
    for (uint64_t va = s.address; va + 8 <= s.address + s.size && k->relocated_quads_.size() < 64; va += 8) {
      uint64_t v = 0;
      if (image->Read(va, &v, 8) && v >= k->link_text_ && v < hi) k->relocated_quads_.push_back({va, v});
    }
  }
  for (const VmlinuxImage::Section& s : image->sections())
    if ((s.flags & 2 /*SHF_ALLOC*/) && s.address >= kKernelHalf && s.size)
      k->link_sections_.push_back({s.name, s.address, s.size, (s.flags & 4) != 0, (s.flags & 1) != 0});
  image->ReleaseBytes();
  k->image_ = std::move(image);
  return k;
}

void GuestKernelSymbols::OnKernelLoaded(uint64_t ram_bytes) {
  ready_ = false;
  delta_ = 0;
  runtime_ = SymbolTable();
  entry_breakpoints_.clear();
  false_entries_ = 0;
  if (!image_ || (!have_link_kallsyms_ && relocated_quads_.empty())) return;
  const VmlinuxImage::Segment& text = *image_->text_segment();
  const uint64_t image_bytes = image_end_va_ - link_text_;
  const uint64_t entry_offset = link_entry_va_ - link_text_;
  for (uint64_t pa = text.paddr; pa + image_bytes <= ram_bytes && entry_breakpoints_.size() < kMaxEntryBreakpoints;
       pa += alignment_)
    entry_breakpoints_.insert(pa + entry_offset);
}

bool GuestKernelSymbols::OnEntryBreakpoint(Vcpu& vcpu, std::string* message) {
  const uint64_t rip = vcpu.ctx().rip;
  if (!entry_breakpoints_.count(rip)) return false;
  // The decompressor jumps there through its identity map: rip is physical.
  const GuestRam& ram = vcpu.ram();
  const uint64_t base_pa = rip - (link_entry_va_ - link_text_);
  auto read_pa = [&ram](uint64_t pa, void* out, size_t n) {
    return ram.Read(GuestPhysAddr(pa), std::span<uint8_t>(static_cast<uint8_t*>(out), n));
  };
  auto false_alarm = [this] {
    if (++false_entries_ >= kMaxFalseEntries) StopSearching();
    return false;
  };
  uint8_t code[kEntryBytes];
  if (!read_pa(rip, code, sizeof code) || std::memcmp(code, entry_bytes_.data(), kEntryBytes) != 0)
    return false_alarm();
  uint64_t delta = 0;
  bool found = false;
  if (have_link_kallsyms_) {
    uint64_t base = 0;
    found = read_pa(base_pa + (link_relative_base_at_ - link_text_), &base, 8);
    delta = base - link_relative_base_;
  } else {
    // The most common move of the kernel's own pointers.
    std::map<uint64_t, unsigned> votes;
    for (const auto& [va, value] : relocated_quads_) {
      uint64_t now = 0;
      if (read_pa(base_pa + (va - link_text_), &now, 8)) votes[now - value]++;
    }
    unsigned best = 0;
    for (const auto& [d, n] : votes)
      if (n > best) best = n, delta = d;
    found = best * 2 > relocated_quads_.size();
  }
  const uint64_t text = link_text_ + delta;
  if (!found || delta % alignment_ != 0 || text < kKernelMapStart || text >= kKernelMapEnd) return false_alarm();
  entry_breakpoints_.clear();
  entry_pa_ = base_pa;
  return BecomeReady(delta, text, message);
}

bool GuestKernelSymbols::BecomeReady(uint64_t delta, uint64_t text, std::string* message) {
  delta_ = delta;
  ready_ = true;
  runtime_ = link_.Relocated(delta);
  *message = "the kernel runs at _text = " + Hex(text) + " (KASLR offset " + Hex(delta) + ")";
  if (runtime_.empty()) return true;
  if (dir_.empty()) {
    // Made now, not at start-up: a run killed before this leaves nothing behind.
    char dir[] = "/tmp/xlat-gdb-XXXXXX";
    if (!::mkdtemp(dir)) {
      *message += "; cannot make a directory for the symbol file: " + std::string(std::strerror(errno));
      return true;
    }
    dir_ = dir;
  }
  std::vector<SymbolFileSection> sections = link_sections_;
  if (sections.empty())
    sections = SectionsFromSymbols(runtime_);
  else
    for (SymbolFileSection& s : sections) s.address += delta;
  const std::string path = dir_ + "/vmlinux";
  std::string err;
  if (!WriteSymbolFile(path, runtime_, sections, entry_pa_, &err)) {
    *message += "; " + err;
    return true;
  }
  symbol_file_ = path;
  *message += "; guest kernel symbols in " + path + " (symbol-file " + path + ")";
  return true;
}

bool GuestKernelSymbols::FindInGuestMemory(Vcpu& vcpu, std::string* message) {
  if (ready_) return true;
  // Somewhere in the kernel's text: the system call entry, else the first interrupt gate.
  const VcpuContext& c = vcpu.ctx();
  uint64_t inside = c.lstar;
  if (inside < kKernelMapStart) {
    uint8_t gate[16];
    if (c.idtr_base && vcpu.DebugRead(c.idtr_base, gate, sizeof gate)) {
      uint64_t lo16 = gate[0] | (gate[1] << 8), mid = gate[6] | (gate[7] << 8), hi32;
      std::memcpy(&hi32, gate + 8, 4);
      hi32 &= 0xffffffffu;
      inside = lo16 | (mid << 16) | (hi32 << 32);
    }
  }
  if (inside < kKernelMapStart || inside >= kKernelMapEnd) {
    *message = "the kernel is not running at its virtual addresses yet";
    return false;
  }
  const uint64_t begin = std::max<uint64_t>(kKernelMapStart, (inside & ~((2ull << 20) - 1)) - (64ull << 20));
  const uint64_t end = std::min<uint64_t>(kKernelMapEnd, inside + (192ull << 20));
  // Page by page: Vcpu::DebugRead copies at most three pages of a longer range.
  const MemoryReader read = [&vcpu](uint64_t va, void* out, size_t n) {
    uint8_t* o = static_cast<uint8_t*>(out);
    for (size_t done = 0; done < n;) {
      const size_t piece = std::min<size_t>(n - done, 4096 - ((va + done) & 0xfff));
      if (!vcpu.DebugRead(va + done, o + done, piece)) return false;
      done += piece;
    }
    return true;
  };
  KallsymsTables tables;
  SymbolTable found;
  std::string err;
  if (!FindKallsyms(read, begin, end, &tables, &err) || !DecodeKallsyms(read, tables, &found, &err)) {
    *message = "no symbols in guest memory: " + err;
    return false;
  }
  // Names from --symbols (or the image) win; the tables say where _text is.
  if (link_.empty()) {
    // The tables hold run-time addresses already; where the kernel was linked is not known.
    link_ = std::move(found);
    link_sections_.clear();
    return BecomeReady(0, tables.relative_base, message);
  }
  uint64_t link_text = link_text_;
  if (const KernelSymbol* t = link_.FindByName("_text")) link_text = t->address;
  return BecomeReady(tables.relative_base - link_text, tables.relative_base, message);
}

bool GuestKernelSymbols::ReadImage(const GuestRam& ram, uint64_t va, void* out, size_t n) const {
  if (!ready_ || !image_ || !entry_pa_) return false;
  const uint64_t start = link_text_ + delta_, bytes = image_end_va_ - link_text_;
  if (va < start || va - start > bytes || n > bytes - (va - start)) return false;
  return ram.Read(GuestPhysAddr(entry_pa_ + (va - start)), std::span<uint8_t>(static_cast<uint8_t*>(out), n));
}

}  // namespace xlat
