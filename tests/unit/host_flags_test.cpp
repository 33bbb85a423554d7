// HostDefined*Flags (translator/liveness.h) let the translator take flags
// the manuals leave undefined as written. Here each claim is checked
// against the host on random operands with other means than the probe's
// popfq/pushfq: the flags before are made by an add (every combination of
// AF and OF, with the others varied too) and read after with lahf and seto.
// A flag the probe says this host defines must come out the same after
// every add.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>

#include "cpu/vcpu_context.h"
#include "translator/liveness.h"

namespace xlat {
namespace {

// The flags (lahf's SF ZF AF PF CF, and OF) after: addb p, q; op a, b.
// family 0: and/or/xor/test by `op`; 1: shl/shr/sar by cl = b; 2: imul.
uint64_t FlagsAfter(unsigned family, unsigned op, uint64_t a, uint64_t b, uint8_t p, uint8_t q) {
  uint64_t ah = 0, of = 0;
  const unsigned form = family * 4 + op;
#define XLAT_FLAGS_AFTER(insn)                                                                         \
  __asm__ volatile("addb %[q], %[p]\n\t" insn "\n\tlahf\n\tseto %b[of]"                                \
                   : [a] "+r"(a), [p] "+r"(p), "+a"(ah), [of] "+r"(of)                                 \
                   : [b] "c"(b), [q] "r"(q)                                                            \
                   : "cc")
  switch (form) {
    case 0: XLAT_FLAGS_AFTER("andq %[b], %[a]"); break;
    case 1: XLAT_FLAGS_AFTER("orl %k[b], %k[a]"); break;
    case 2: XLAT_FLAGS_AFTER("xorw %w[b], %w[a]"); break;
    case 3: XLAT_FLAGS_AFTER("testb %b[b], %b[a]"); break;
    case 4: XLAT_FLAGS_AFTER("shlq %%cl, %[a]"); break;
    case 5: XLAT_FLAGS_AFTER("shrl %%cl, %k[a]"); break;
    case 6: XLAT_FLAGS_AFTER("sarw %%cl, %w[a]"); break;
    case 7: XLAT_FLAGS_AFTER("shlb %%cl, %b[a]"); break;
    case 8: XLAT_FLAGS_AFTER("imulq %[b], %[a]"); break;
    case 9: XLAT_FLAGS_AFTER("imull %k[b], %k[a]"); break;
    default: XLAT_FLAGS_AFTER("imulw %w[b], %w[a]"); break;
  }
#undef XLAT_FLAGS_AFTER
  // lahf's byte in bits 15:8 of rax: SF ZF - AF - PF - CF, as in RFLAGS.
  return ((ah >> 8) & (kFlagSF | kFlagZF | kFlagAF | kFlagPF | kFlagCF)) | ((of & 1) ? kFlagOF : 0);
}

TEST(HostFlags, UndefinedFlagsTheProbeCallsDefinedAreSo) {
  // addb q to p: AF and OF clear, AF alone, both, OF alone; CF, ZF, SF, PF vary.
  static constexpr uint8_t kAdds[][2] = {{0, 0}, {0x0f, 1}, {0x7f, 1}, {0x70, 0x10}, {0xff, 1}, {0x80, 0x80}, {3, 4}};
  const uint32_t defined[3] = {HostDefinedLogicFlags(), HostDefinedShiftFlags(), HostDefinedImulFlags()};
  const unsigned ops[3] = {4, 4, 3};
  std::mt19937_64 rng(7);
  unsigned checked = 0;
  for (unsigned family = 0; family < 3; ++family) {
    if (!defined[family]) continue;
    for (int i = 0; i < 5000; ++i) {
      const unsigned op = static_cast<unsigned>(rng() % ops[family]);
      const uint64_t a = rng() >> (rng() % 64);
      uint64_t b = rng() >> (rng() % 64);
      if (family == 1) b = 1 + rng() % 31;  // a count that does not mask to zero at any width
      const uint64_t first = FlagsAfter(family, op, a, b, kAdds[0][0], kAdds[0][1]);
      for (const auto& add : kAdds) {
        const uint64_t now = FlagsAfter(family, op, a, b, add[0], add[1]);
        ASSERT_EQ(first & defined[family], now & defined[family])
            << "family " << family << " op " << op << " a " << a << " b " << b << " after addb " << int(add[1])
            << " to " << int(add[0]);
      }
      ++checked;
    }
  }
  // (A family the probe finds defining nothing has no claim to check: the
  // translator then keeps its undefined flags as undefined. On this
  // project's AMD machine imul is such a family; logic operations define AF,
  // shifts AF and OF.)
  RecordProperty("checked", static_cast<int>(checked));
}

}  // namespace
}  // namespace xlat
