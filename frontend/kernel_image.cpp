#include "frontend/kernel_image.h"

#include <lzma.h>

#include <algorithm>
#include <cstring>

namespace xlat {
namespace {

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The vmlinux of a distribution kernel is 40-100 MiB; nothing sane is above this.
constexpr uint64_t kMaxKernelBytes = 512ull << 20;

const char* PayloadFormat(std::span<const uint8_t> p) {
  auto starts = [&p](const char* magic, size_t n) { return p.size() >= n && std::memcmp(p.data(), magic, n) == 0; };
  if (starts("\xfd" "7zXZ\0", 6)) return "xz";
  if (starts("\x1f\x8b", 2)) return "gzip";
  if (starts("\x28\xb5\x2f\xfd", 4)) return "zstd";
  if (starts("BZh", 3)) return "bzip2";
  if (starts("\x02\x21\x4c\x18", 4)) return "lz4";
  if (starts("\x89LZO", 4)) return "lzo";
  if (starts("\x5d\x00\x00", 3)) return "lzma";
  if (starts("\x7f" "ELF", 4)) return "none";
  return "unknown";
}

}  // namespace

bool DecompressBzImagePayload(std::span<const uint8_t> file, std::vector<uint8_t>* out, std::string* error) {
  if (file.size() < 0x250 || Load<uint32_t>(&file[0x202]) != 0x53726448 /*HdrS*/) {
    *error = "not a bzImage";
    return false;
  }
  const uint16_t version = Load<uint16_t>(&file[0x206]);
  if (version < 0x0208) {
    *error = "boot protocol too old to say where the compressed kernel is";
    return false;
  }
  const uint64_t setup_sects = file[0x1f1] ? file[0x1f1] : 4;
  const uint64_t pm_start = (setup_sects + 1) * 512;
  const uint64_t offset = pm_start + Load<uint32_t>(&file[0x248]);
  const uint64_t length = Load<uint32_t>(&file[0x24c]);
  if (offset > file.size() || length > file.size() - offset || length == 0) {
    *error = "the compressed kernel lies outside the file";
    return false;
  }
  const std::span<const uint8_t> payload = file.subspan(offset, length);
  const std::string format = PayloadFormat(payload);
  if (format == "none") {
    out->assign(payload.begin(), payload.end());
    return true;
  }
  if (format != "xz") {
    *error = "the kernel is " + format + "-compressed; only XZ (Debian's) is read on the host";
    return false;
  }
  lzma_stream strm = LZMA_STREAM_INIT;
  if (lzma_stream_decoder(&strm, kMaxKernelBytes, 0) != LZMA_OK) {
    *error = "cannot start the XZ decoder";
    return false;
  }
  out->clear();
  out->resize(64ull << 20);
  strm.next_in = payload.data();
  strm.avail_in = payload.size();
  size_t done = 0;
  lzma_ret ret = LZMA_OK;
  while (ret == LZMA_OK) {
    if (done == out->size()) {
      if (out->size() >= kMaxKernelBytes) break;
      out->resize(out->size() * 2);
    }
    strm.next_out = out->data() + done;
    strm.avail_out = out->size() - done;
    // The payload may be followed by the 4-byte uncompressed size: LZMA_FINISH
    // at the end of the input, and stop at the end of the stream.
    ret = lzma_code(&strm, LZMA_FINISH);
    done = out->size() - strm.avail_out;
  }
  lzma_end(&strm);
  if (ret != LZMA_STREAM_END) {
    *error = "the XZ payload does not decompress (lzma error " + std::to_string(static_cast<int>(ret)) + ")";
    out->clear();
    return false;
  }
  out->resize(done);
  out->shrink_to_fit();
  return true;
}

bool VmlinuxImage::Parse(std::vector<uint8_t> elf, std::string* error) {
  const std::span<const uint8_t> f(elf);
  auto fits = [&f](uint64_t off, uint64_t len) { return off <= f.size() && len <= f.size() - off; };
  if (f.size() < 64 || std::memcmp(f.data(), "\x7f" "ELF", 4) != 0 || f[4] != 2 || f[5] != 1 ||
      Load<uint16_t>(&f[0x12]) != 62 /*EM_X86_64*/) {
    *error = "the uncompressed kernel is not an x86-64 ELF file";
    return false;
  }
  entry_ = Load<uint64_t>(&f[0x18]);
  const uint64_t phoff = Load<uint64_t>(&f[0x20]), shoff = Load<uint64_t>(&f[0x28]);
  const uint16_t phentsize = Load<uint16_t>(&f[0x36]), phnum = Load<uint16_t>(&f[0x38]);
  const uint16_t shentsize = Load<uint16_t>(&f[0x3a]), shnum = Load<uint16_t>(&f[0x3c]);
  const uint16_t shstrndx = Load<uint16_t>(&f[0x3e]);
  if (phentsize < 56 || !fits(phoff, uint64_t{phentsize} * phnum)) {
    *error = "the uncompressed kernel has a bad program header table";
    return false;
  }
  segments_.clear();
  for (unsigned i = 0; i < phnum; ++i) {
    const uint8_t* p = &f[phoff + uint64_t{i} * phentsize];
    if (Load<uint32_t>(p) != 1 /*PT_LOAD*/) continue;
    Segment s{Load<uint64_t>(p + 16), Load<uint64_t>(p + 24), Load<uint64_t>(p + 8), Load<uint64_t>(p + 32),
              Load<uint64_t>(p + 40)};
    if (!fits(s.offset, s.file_size) || s.mem_size < s.file_size) {
      *error = "the uncompressed kernel has a segment outside the file";
      return false;
    }
    segments_.push_back(s);
  }
  sections_.clear();
  if (shentsize >= 64 && shnum && fits(shoff, uint64_t{shentsize} * shnum) && shstrndx < shnum) {
    const uint8_t* strsh = &f[shoff + uint64_t{shstrndx} * shentsize];
    const uint64_t stroff = Load<uint64_t>(strsh + 24), strsize = Load<uint64_t>(strsh + 32);
    if (fits(stroff, strsize)) {
      for (unsigned i = 1; i < shnum; ++i) {
        const uint8_t* p = &f[shoff + uint64_t{i} * shentsize];
        const uint32_t name = Load<uint32_t>(p);
        Section s;
        if (name < strsize) {
          const char* text = reinterpret_cast<const char*>(&f[stroff + name]);
          s.name.assign(text, strnlen(text, strsize - name));
        }
        s.type = Load<uint32_t>(p + 4);
        s.flags = Load<uint64_t>(p + 8);
        s.address = Load<uint64_t>(p + 16);
        s.size = Load<uint64_t>(p + 32);
        sections_.push_back(std::move(s));
      }
    }
  }
  elf_ = std::move(elf);
  if (!text_segment()) {
    *error = "the uncompressed kernel's entry point is in no segment";
    return false;
  }
  return true;
}

const VmlinuxImage::Segment* VmlinuxImage::text_segment() const {
  for (const Segment& s : segments_)
    if (entry_ >= s.paddr && entry_ - s.paddr < s.mem_size) return &s;
  return nullptr;
}

bool VmlinuxImage::Read(uint64_t va, void* out, size_t n) const {
  uint8_t* o = static_cast<uint8_t*>(out);
  while (n) {
    const Segment* seg = nullptr;
    for (const Segment& s : segments_)
      if (va >= s.vaddr && va - s.vaddr < s.mem_size) seg = &s;
    if (!seg) return false;
    const uint64_t off = va - seg->vaddr;
    const size_t part = static_cast<size_t>(std::min<uint64_t>(n, seg->mem_size - off));
    for (size_t i = 0; i < part;) {
      if (off + i < seg->file_size && seg->offset + off + i < elf_.size()) {
        const size_t k = static_cast<size_t>(std::min<uint64_t>(part - i, seg->file_size - (off + i)));
        std::memcpy(o + i, elf_.data() + seg->offset + off + i, k);
        i += k;
      } else {
        std::memset(o + i, 0, part - i);
        i = part;
      }
    }
    o += part;
    va += part;
    n -= part;
  }
  return true;
}

void VmlinuxImage::ReleaseBytes() {
  std::vector<uint8_t>().swap(elf_);
}

}  // namespace xlat
