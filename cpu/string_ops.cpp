#include "cpu/string_ops.h"

#include <algorithm>
#include <cstring>

#include "cpu/guest_regs.h"
#include "cpu/vcpu_runtime.h"
#include "mmu/guest_ram.h"

namespace xlat {

namespace {

enum class Op { kMovs, kStos, kLods, kCmps, kScas };

bool Classify(ZydisMnemonic m, Op* op) {
  switch (m) {
    case ZYDIS_MNEMONIC_MOVSB: case ZYDIS_MNEMONIC_MOVSW: case ZYDIS_MNEMONIC_MOVSD: case ZYDIS_MNEMONIC_MOVSQ:
      *op = Op::kMovs; return true;
    case ZYDIS_MNEMONIC_STOSB: case ZYDIS_MNEMONIC_STOSW: case ZYDIS_MNEMONIC_STOSD: case ZYDIS_MNEMONIC_STOSQ:
      *op = Op::kStos; return true;
    case ZYDIS_MNEMONIC_LODSB: case ZYDIS_MNEMONIC_LODSW: case ZYDIS_MNEMONIC_LODSD: case ZYDIS_MNEMONIC_LODSQ:
      *op = Op::kLods; return true;
    case ZYDIS_MNEMONIC_CMPSB: case ZYDIS_MNEMONIC_CMPSW: case ZYDIS_MNEMONIC_CMPSD: case ZYDIS_MNEMONIC_CMPSQ:
      *op = Op::kCmps; return true;
    case ZYDIS_MNEMONIC_SCASB: case ZYDIS_MNEMONIC_SCASW: case ZYDIS_MNEMONIC_SCASD: case ZYDIS_MNEMONIC_SCASQ:
      *op = Op::kScas; return true;
    default:
      return false;
  }
}

// The arithmetic flags of `cmp a, b` at the given width, computed by the host.
uint64_t CmpFlags(uint64_t a, uint64_t b, unsigned size) {
  uint64_t fl;
  switch (size) {
    case 1: asm("cmpb %b2, %b1; pushfq; popq %0" : "=r"(fl) : "r"(a), "r"(b) : "cc"); break;
    case 2: asm("cmpw %w2, %w1; pushfq; popq %0" : "=r"(fl) : "r"(a), "r"(b) : "cc"); break;
    case 4: asm("cmpl %k2, %k1; pushfq; popq %0" : "=r"(fl) : "r"(a), "r"(b) : "cc"); break;
    default: asm("cmpq %2, %1; pushfq; popq %0" : "=r"(fl) : "r"(a), "r"(b) : "cc"); break;
  }
  return fl & kArithFlags;
}

// What the inline TLB says of `len` bytes at `va` (within one page), as
// translated code would ask it: their host address, or null when the access
// cannot go straight to memory (a miss, a page holding translated code or
// page tables for a write, not RAM). A hit needs no walk and, for a write,
// no check for translated code: write entries exist only for pages without.
uint8_t* TlbHost(const VcpuContext& c, PrivClass priv, uint64_t va, uint64_t len, bool write) {
  const unsigned p = static_cast<unsigned>(priv);
  const uint64_t i = (va >> 12) & (kTlbEntries - 1);
  const uint64_t tag = write ? c.tlb_write_tag[p][i] : c.tlb_read_tag[p][i];
  if (va + tag > 4096 - len) return nullptr;
  return reinterpret_cast<uint8_t*>((write ? c.tlb_write_host[p][i] : c.tlb_host_page[p][i]) + (va & 0xfff));
}

// How many elements of `size` bytes a rep string op can go through from
// linear address `va` (register value `reg`), up or down, with all of them
// in va's page and, with 32-bit addressing, none wrapping the register: 0
// when the first element itself crosses a page or wraps.
uint64_t RunLength(uint64_t va, uint64_t reg, unsigned size, bool down, bool a32) {
  const uint64_t offset = va & 0xfff;
  if (offset + size > 4096) return 0;
  uint64_t n = down ? offset / size + 1 : (4096 - offset) / size;
  if (a32) {
    constexpr uint64_t k4G = 0x100000000ull;
    if (reg + size > k4G) return 0;
    n = std::min<uint64_t>(n, down ? reg / size + 1 : (k4G - reg) / size);
  }
  return n;
}

}  // namespace

bool ExecuteStringInsn(VcpuRuntime& rt, const DecodedInsn& d, GuestFault* fault, bool* finished, uint64_t budget) {
  *finished = true;
  VcpuContext& c = rt.ctx();
  Op op;
  if (!Classify(d.mnemonic(), &op)) {
    *fault = GuestFault{kVecUD, 0, false, 0};
    return false;
  }
  const unsigned size = d.insn.operand_width / 8;
  const bool a32 = d.insn.address_width == 32;
  const uint64_t amask = a32 ? 0xffffffffull : ~0ull;
  const bool rep = d.HasPrefix(ZYDIS_ATTRIB_HAS_REP) || d.HasPrefix(ZYDIS_ATTRIB_HAS_REPE) ||
                   d.HasPrefix(ZYDIS_ATTRIB_HAS_REPNE) || d.HasPrefix(ZYDIS_ATTRIB_HAS_REPZ) ||
                   d.HasPrefix(ZYDIS_ATTRIB_HAS_REPNZ);
  const bool repne = d.HasPrefix(ZYDIS_ATTRIB_HAS_REPNE) || d.HasPrefix(ZYDIS_ATTRIB_HAS_REPNZ);
  const bool down = c.rflags & kFlagDF;
  const int64_t step = down ? -static_cast<int64_t>(size) : static_cast<int64_t>(size);
  // Source segment: DS unless overridden (FS/GS add their base); destination is always ES.
  uint64_t src_base = 0;
  if (d.HasPrefix(ZYDIS_ATTRIB_HAS_SEGMENT_FS)) src_base = c.fs_base;
  if (d.HasPrefix(ZYDIS_ATTRIB_HAS_SEGMENT_GS)) src_base = c.gs_base;

  uint64_t& rcx = c.gpr[kRcx];
  uint64_t& rsi = c.gpr[kRsi];
  uint64_t& rdi = c.gpr[kRdi];
  auto count = [&] { return rcx & amask; };
  auto advance = [&](uint64_t& reg, int64_t by) { reg = a32 ? ((reg + by) & 0xffffffffull) : reg + by; };
  auto dec_count = [&](uint64_t n) { rcx = a32 ? ((rcx - n) & 0xffffffffull) : rcx - n; };
  if (rep && count() == 0) return true;
  const bool compare = op == Op::kCmps || op == Op::kScas;

  GuestRam& ram = rt.vcpu().ram();
  for (;;) {
    // Fast path: movs/stos over RAM, a page-bounded run at a time, in either
    // direction (the kernel's memmove copies overlapping buffers backwards
    // with std; rep movsq).
    if (rep && (op == Op::kMovs || op == Op::kStos) && count() > 1 && budget > 1) {
      const uint64_t dst_va = rdi & amask;
      const uint64_t src_va = (rsi & amask) + src_base;
      uint64_t n = std::min(count(), RunLength(dst_va, dst_va, size, down, a32));
      if (op == Op::kMovs) n = std::min(n, RunLength(src_va, rsi & amask, size, down, a32));
      if (n > 1) {
        const uint64_t bytes = n * size;
        // The run's lowest element: the first one going up, the last going down.
        const uint64_t below = down ? bytes - size : 0;
        // The inline TLB first (most calls: kernel memcpy and memset are
        // rep movsb/stosb), else walks. A walk translates the first
        // element's address: a fault reports it, as the first iteration's would.
        uint8_t* dst = TlbHost(c, rt.priv(), dst_va - below, bytes, /*write=*/true);
        const uint8_t* src =
            op == Op::kMovs ? TlbHost(c, rt.priv(), src_va - below, bytes, /*write=*/false) : nullptr;
        uint64_t dst_pa = ~0ull;  // known only after a walk: then translated code there is invalidated
        if (!dst || (op == Op::kMovs && !src)) {
          uint64_t src_pa = 0;
          if (op == Op::kMovs && !rt.TranslateAndFill(src_va, AccessKind::kRead, &src_pa, fault)) return false;
          if (!rt.TranslateAndFill(dst_va, AccessKind::kWrite, &dst_pa, fault)) return false;
          dst_pa -= below;
          dst = ram.HostPtr(GuestPhysAddr(dst_pa), bytes);
          src = op == Op::kMovs ? ram.HostPtr(GuestPhysAddr(src_pa - below), bytes) : nullptr;
        }
        if (dst && (op == Op::kStos || src)) {
          if (op == Op::kMovs) {
            // memmove copies as if through a buffer. Element by element
            // differs only where a store lands on a source element not yet
            // read: ahead of the source going up, behind it going down.
            const bool in_order = down ? (dst < src && dst + bytes > src) : (dst > src && dst < src + bytes);
            if (in_order) {
              for (uint64_t i = 0; i < n; ++i) {
                const uint64_t at = (down ? n - 1 - i : i) * size;
                uint64_t v;
                std::memcpy(&v, src + at, size);
                std::memcpy(dst + at, &v, size);
              }
            } else {
              std::memmove(dst, src, bytes);
            }
          } else if (size == 1) {
            std::memset(dst, static_cast<int>(c.gpr[kRax] & 0xff), n);
          } else {
            const uint64_t v = c.gpr[kRax];
            for (uint64_t i = 0; i < n; ++i) std::memcpy(dst + i * size, &v, size);
          }
          if (dst_pa != ~0ull) rt.InvalidateCode(dst_pa, bytes);
          const int64_t moved = down ? -static_cast<int64_t>(bytes) : static_cast<int64_t>(bytes);
          advance(rdi, moved);
          if (op == Op::kMovs) advance(rsi, moved);
          dec_count(n);
          if (count() == 0) return true;
          if (--budget == 0) {
            *finished = false;
            return true;
          }
          continue;
        }
      }
    }
    // One iteration.
    uint64_t a = 0, b = 0;
    switch (op) {
      case Op::kMovs:
        if (!rt.ReadVirt((rsi & amask) + src_base, &a, size, fault)) return false;
        if (!rt.WriteVirt(rdi & amask, &a, size, fault)) return false;
        advance(rsi, step);
        advance(rdi, step);
        break;
      case Op::kStos: {
        a = c.gpr[kRax];
        if (!rt.WriteVirt(rdi & amask, &a, size, fault)) return false;
        advance(rdi, step);
        break;
      }
      case Op::kLods:
        if (!rt.ReadVirt((rsi & amask) + src_base, &a, size, fault)) return false;
        if (size == 4)
          c.gpr[kRax] = a & 0xffffffffu;
        else if (size == 8)
          c.gpr[kRax] = a;
        else
          c.gpr[kRax] = (c.gpr[kRax] & ~((1ull << (8 * size)) - 1)) | a;
        advance(rsi, step);
        break;
      case Op::kCmps:
        if (!rt.ReadVirt((rsi & amask) + src_base, &a, size, fault)) return false;
        if (!rt.ReadVirt(rdi & amask, &b, size, fault)) return false;
        c.rflags = (c.rflags & ~kArithFlags) | CmpFlags(a, b, size);
        advance(rsi, step);
        advance(rdi, step);
        break;
      case Op::kScas:
        if (!rt.ReadVirt(rdi & amask, &b, size, fault)) return false;
        c.rflags = (c.rflags & ~kArithFlags) | CmpFlags(c.gpr[kRax], b, size);
        advance(rdi, step);
        break;
    }
    if (!rep) return true;
    dec_count(1);
    if (count() == 0) return true;
    if (compare) {
      const bool zf = c.rflags & kFlagZF;
      if (repne ? zf : !zf) return true;
    }
    if (--budget == 0) {
      *finished = false;
      return true;
    }
  }
}

}  // namespace xlat
