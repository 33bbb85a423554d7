#include "cpu/lazy_flags.h"

#include "cpu/vcpu_context.h"

namespace xlat {
namespace {

// lahf's AH and seto's AL, as the eager save stores them: no pushfq, which
// would write below the stack pointer into the compiler's red zone.
template <typename T>
uint64_t Run(LazyFlagsDesc::Op op, T a, T b) {
  uint16_t ax = 0;
  switch (op) {
    case LazyFlagsDesc::kAdd: __asm__("add %[b], %[a]\n\tlahf\n\tseto %%al" : [a] "+r"(a), "=&a"(ax) : [b] "r"(b) : "cc"); break;
    case LazyFlagsDesc::kSub: __asm__("sub %[b], %[a]\n\tlahf\n\tseto %%al" : [a] "+r"(a), "=&a"(ax) : [b] "r"(b) : "cc"); break;
    case LazyFlagsDesc::kCmp: __asm__("cmp %[b], %[a]\n\tlahf\n\tseto %%al" : [a] "+r"(a), "=&a"(ax) : [b] "r"(b) : "cc"); break;
  }
  return ArithFlagsFromLahf(ax);
}

template <typename T>
uint64_t Redo(const LazyFlagsDesc& d, uint64_t dst, uint64_t src) {
  const T b = static_cast<T>(src);
  T a = static_cast<T>(dst);
  // add and sub replaced their first operand with the result: undo them.
  if (d.op == LazyFlagsDesc::kAdd) a = static_cast<T>(a - b);
  if (d.op == LazyFlagsDesc::kSub) a = static_cast<T>(a + b);
  return Run<T>(d.op, a, b);
}

}  // namespace

uint64_t LazyArithFlags(const LazyFlagsDesc& d, const uint64_t* gpr) {
  const uint64_t dst = gpr[d.dst];
  const uint64_t src = d.src_is_imm ? static_cast<uint64_t>(static_cast<int64_t>(d.imm)) : gpr[d.src];
  switch (d.width_log2) {
    case 0: return Redo<uint8_t>(d, dst, src);
    case 1: return Redo<uint16_t>(d, dst, src);
    case 2: return Redo<uint32_t>(d, dst, src);
    default: return Redo<uint64_t>(d, dst, src);
  }
}

uint64_t SavedArithFlags(VcpuContext& ctx) {
  const uint64_t slot = ctx.flags_lahf;
  if (!(slot & kLazyFlagsMarker)) return ArithFlagsFromLahf(slot);
  const uint64_t flags =
      LazyArithFlags(LazyFlagsDesc::Unpack(ctx.lazy_flags_desc[(slot >> 16) % kLazyFlagsIds]), ctx.gpr);
  // Eager from now on, in the layout lahf and seto give.
  ctx.flags_lahf = LahfSlotOf(flags);
  return flags;
}

}  // namespace xlat
