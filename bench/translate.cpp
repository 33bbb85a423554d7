// bench/translate — the translator on real code: every byte of the Debian
// kernel's .text, translated block after block, as fast as it goes.
//
//   BUILD/bench/translate VMLINUZ [--runs N]
//
// The bzImage's payload is uncompressed on the host (frontend/kernel_image.h)
// and its .text section is fed to the translator at the kernel's link-time
// addresses, at CPL 0: each block starts where the previous one ended (int3
// padding between functions skipped), so every instruction of the section is
// translated once (a block ends at a
// branch, so both the fall-through and the code after an unconditional jump
// are covered). The code cache is the default 64 MiB, flushed when full as
// in a run. Prints guest instructions and bytes translated per second of
// translating and host bytes emitted per guest byte; best of --runs (3).
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "codecache/code_cache.h"
#include "cpu/thunks.h"
#include "frontend/kernel_image.h"
#include "frontend/stats.h"
#include "translator/translator.h"

namespace {

using xlat::CodePage;
using xlat::TranslateResult;

uint32_t NoHandler(xlat::VcpuContext*) { return 0; }  // translated code never runs here

struct Totals {
  double seconds = 0;
  uint64_t blocks = 0, insns = 0, guest_bytes = 0, host_bytes = 0, flushes = 0, faults = 0, padding = 0;
};

bool TranslateText(const std::vector<uint8_t>& image, uint64_t image_va, uint64_t text_va, uint64_t text_size,
                   Totals* t, std::string* error) {
  std::unique_ptr<xlat::CodeCache> cache = xlat::CodeCache::Create(64ull << 20, 64 * 1024, error);
  if (!cache) return false;
  xlat::Thunks thunks;
  if (!xlat::GenerateThunks(*cache, &NoHandler, &thunks, error)) return false;
  xlat::Stats stats;
  xlat::Translator translator(*cache, thunks, stats);
  translator.set_follow_jumps(false);  // one block per run of consecutive code: the walk below covers the text once
  static const uint8_t kZeros[4096] = {};
  const xlat::CodeFetcher fetch = [&](uint64_t va_page) {
    CodePage cp;
    if (va_page < image_va || va_page - image_va >= image.size()) {
      cp.pf_error = 0x10;  // outside the image: an instruction fetch fault
      return cp;
    }
    const uint64_t off = va_page - image_va;
    cp.host = off + 4096 <= image.size() ? image.data() + off : kZeros;
    cp.pa = off;
    cp.ok = true;
    cp.global = true;
    return cp;
  };
  const auto start = std::chrono::steady_clock::now();
  uint64_t rip = text_va;
  const uint64_t end = text_va + text_size;
  while (rip < end) {
    // int3 between functions is alignment padding, not code anyone runs.
    if (image[rip - image_va] == 0xcc) {
      t->padding++;
      rip++;
      continue;
    }
    TranslateResult r = translator.Translate(rip, xlat::PrivClass::kSupervisor, fetch);
    if (r.kind == TranslateResult::Kind::kCacheFull) {
      cache->Flush();
      t->flushes++;
      continue;
    }
    if (r.kind == TranslateResult::Kind::kFetchFault || r.block->guest_size == 0) {
      t->faults++;
      rip++;
      continue;
    }
    rip = r.block->guest_rip + r.block->guest_size;
  }
  t->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  t->blocks = stats.blocks_translated;
  t->insns = stats.guest_insns_translated;
  t->guest_bytes = stats.guest_bytes_translated;
  t->host_bytes = stats.host_bytes_emitted;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') {
    std::fprintf(stderr, "usage: %s VMLINUZ [--runs N]\n", argv[0]);
    return 2;
  }
  int runs = 3;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "translate: unknown argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (runs < 1) runs = 1;
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "translate: cannot read %s\n", argv[1]);
    return 1;
  }
  const std::vector<uint8_t> bz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string err;
  std::vector<uint8_t> elf;
  xlat::VmlinuxImage vmlinux;
  if (!xlat::DecompressBzImagePayload(bz, &elf, &err) || !vmlinux.Parse(std::move(elf), &err)) {
    std::fprintf(stderr, "translate: %s: %s\n", argv[1], err.c_str());
    return 1;
  }
  const xlat::VmlinuxImage::Section* text = nullptr;
  for (const auto& s : vmlinux.sections())
    if (s.name == ".text") text = &s;
  const xlat::VmlinuxImage::Segment* seg = vmlinux.text_segment();
  if (!text || !seg) {
    std::fprintf(stderr, "translate: %s: no .text section\n", argv[1]);
    return 1;
  }
  // The text segment as loaded, page-aligned, for the fetcher.
  const uint64_t image_va = seg->vaddr & ~uint64_t{0xfff};
  std::vector<uint8_t> image((seg->vaddr + seg->mem_size - image_va + 0xfff) & ~uint64_t{0xfff});
  if (!vmlinux.Read(seg->vaddr, image.data() + (seg->vaddr - image_va), seg->mem_size)) {
    std::fprintf(stderr, "translate: %s: cannot read the text segment\n", argv[1]);
    return 1;
  }
  Totals best;
  for (int r = 0; r < runs; ++r) {
    Totals t;
    if (!TranslateText(image, image_va, text->address, text->size, &t, &err)) {
      std::fprintf(stderr, "translate: %s\n", err.c_str());
      return 1;
    }
    if (r == 0 || t.seconds < best.seconds) best = t;
  }
  std::printf("kernel .text: %" PRIu64 " bytes at %#" PRIx64 "\n", text->size, text->address);
  std::printf("blocks translated            %12" PRIu64 "\n", best.blocks);
  std::printf("guest instructions           %12" PRIu64 "\n", best.insns);
  std::printf("guest bytes                  %12" PRIu64 "\n", best.guest_bytes);
  std::printf("host bytes emitted           %12" PRIu64 "\n", best.host_bytes);
  std::printf("code cache flushes           %12" PRIu64 "\n", best.flushes);
  std::printf("int3 padding bytes skipped   %12" PRIu64 "\n", best.padding);
  std::printf("undecodable starts skipped   %12" PRIu64 "\n", best.faults);
  std::printf("seconds (best of %d)          %12.3f\n", runs, best.seconds);
  std::printf("guest instructions / second  %12.0f\n", best.insns / best.seconds);
  std::printf("guest MB / second            %12.2f\n", best.guest_bytes / best.seconds / 1e6);
  std::printf("host bytes per guest byte    %12.2f\n",
              best.guest_bytes ? static_cast<double>(best.host_bytes) / best.guest_bytes : 0.0);
  return 0;
}
