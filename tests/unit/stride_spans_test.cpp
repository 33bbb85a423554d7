// FindStrideSpans (translator/checked_span.h): which loops' accesses move
// with a counter, by how much, and which do not. The loops are machine code
// (bytes from `as`, written out below with their listing), decoded and
// classified as the translator does.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "cpu/vcpu_context.h"
#include "translator/checked_span.h"
#include "translator/classify.h"
#include "translator/decoder.h"

namespace xlat {
namespace {

struct Loop {
  std::vector<DecodedInsn> insns;
  std::vector<InsnKind> kinds;
  std::vector<int32_t> apart;
};

Loop Decode(const std::vector<uint8_t>& code) {
  Decoder decoder;
  Loop loop;
  size_t at = 0;
  while (at < code.size()) {
    DecodedInsn d;
    EXPECT_EQ(decoder.Decode(code.data() + at, code.size() - at, 0x1000 + at, &d), Decoder::Status::kOk);
    loop.kinds.push_back(Classify(d));
    at += d.length();
    loop.insns.push_back(d);
  }
  loop.apart.assign(loop.insns.size(), -1);
  return loop;
}

struct Found {
  bool any = false;
  StrideSpans spans;
  std::vector<int8_t> group;
};

Found Find(const std::vector<uint8_t>& code, unsigned max_groups = 2) {
  Loop loop = Decode(code);
  Found f;
  f.any = FindStrideSpans(loop.insns, loop.kinds, loop.apart, max_groups, &f.spans, &f.group);
  return f;
}

TEST(StrideSpans, IndexCounterTwoWindows) {
  // 1: vmovapd (%rcx,%rax),%ymm0 ; vfmadd213pd (%rdx,%rax),%ymm1,%ymm0
  //    vmovapd %ymm0,(%rdx,%rax) ; add $0x20,%rax ; cmp $0x4000,%rax ; jne 1b
  const Found f = Find({0xc5, 0xfd, 0x28, 0x04, 0x01, 0xc4, 0xe2, 0xf5, 0xa8, 0x04, 0x02, 0xc5, 0xfd, 0x29,
                        0x04, 0x02, 0x48, 0x83, 0xc0, 0x20, 0x48, 0x3d, 0x00, 0x40, 0x00, 0x00, 0x75, 0xe4});
  ASSERT_TRUE(f.any);
  EXPECT_EQ(f.spans.counter, kRax);
  EXPECT_EQ(f.spans.step, 32);
  ASSERT_EQ(f.spans.count, 2u);
  for (unsigned g = 0; g < 2; ++g) {
    EXPECT_EQ(f.spans.groups[g].span, 32u);
    EXPECT_EQ(f.spans.groups[g].shift, 5);  // 32 bytes a step
    EXPECT_EQ(f.spans.groups[g].at.index, kRax);
  }
  // The load stream alone in one window, the read-modify-write pair in the other.
  EXPECT_NE(f.group[0], f.group[1]);
  EXPECT_EQ(f.group[1], f.group[2]);
  EXPECT_EQ(f.group[3], -1);
}

TEST(StrideSpans, OneWindowWhenOneIsAllowed) {
  const Found f = Find({0xc5, 0xfd, 0x28, 0x04, 0x01, 0xc4, 0xe2, 0xf5, 0xa8, 0x04, 0x02, 0xc5, 0xfd, 0x29,
                        0x04, 0x02, 0x48, 0x83, 0xc0, 0x20, 0x48, 0x3d, 0x00, 0x40, 0x00, 0x00, 0x75, 0xe4},
                       /*max_groups=*/1);
  ASSERT_TRUE(f.any);
  EXPECT_EQ(f.spans.count, 1u);
  EXPECT_EQ(f.spans.groups[0].at.base, kRdx);  // the pair through rdx: more members
}

TEST(StrideSpans, DerivedRegisterAheadOfTheCounter) {
  // 1: movzbl (%r9,%rax),%edx ; lea 0x1(%rax),%r8 ; movb %dl,(%r9,%r8)
  //    mov %r8,%rax ; cmp %r10,%r8 ; jb 1b
  const Found f = Find({0x41, 0x0f, 0xb6, 0x14, 0x01, 0x4c, 0x8d, 0x40, 0x01, 0x43, 0x88, 0x14, 0x01,
                        0x4c, 0x89, 0xc0, 0x4d, 0x39, 0xd0, 0x72, 0xeb});
  ASSERT_TRUE(f.any);
  EXPECT_EQ(f.spans.counter, kRax);
  EXPECT_EQ(f.spans.step, 1);
  ASSERT_EQ(f.spans.count, 1u);
  // [r9 + rax] and [r9 + (rax + 1)]: a window of two bytes from r9 + rax.
  EXPECT_EQ(f.spans.groups[0].at.base, kR9);
  EXPECT_EQ(f.spans.groups[0].at.disp, 0);
  EXPECT_EQ(f.spans.groups[0].span, 2u);
  EXPECT_EQ(f.group[0], 0);
  EXPECT_EQ(f.group[2], 0);
}

TEST(StrideSpans, BaseCounterGoingDown) {
  // 1: mov -0x8(%rsi),%rax ; mov %rax,(%rsi) ; sub $0x8,%rsi ; dec %rcx ; jne 1b
  const Found f = Find({0x48, 0x8b, 0x46, 0xf8, 0x48, 0x89, 0x06, 0x48, 0x83, 0xee, 0x08, 0x48, 0xff, 0xc9,
                        0x75, 0xf0});
  ASSERT_TRUE(f.any);
  EXPECT_EQ(f.spans.counter, kRsi);
  EXPECT_EQ(f.spans.step, -8);
  ASSERT_EQ(f.spans.count, 1u);
  EXPECT_EQ(f.spans.groups[0].at.base, -1);
  EXPECT_EQ(f.spans.groups[0].at.index, kRsi);
  EXPECT_EQ(f.spans.groups[0].at.disp, -8);
  EXPECT_EQ(f.spans.groups[0].span, 16u);
}

TEST(StrideSpans, NotACounter) {
  // Written twice, once conditionally:
  // 1: add (%rsi,%rax,8),%rdx ; add $0x1,%rax ; cmove %rbx,%rax ; dec %rcx ; jne 1b
  EXPECT_FALSE(Find({0x48, 0x03, 0x14, 0xc6, 0x48, 0x83, 0xc0, 0x01, 0x48, 0x0f, 0x44, 0xc3, 0x48, 0xff, 0xc9,
                     0x75, 0xef})
                   .any);
  // Stepped in 32 bits (the upper half is zeroed, not carried):
  // 1: add (%rsi,%rax,8),%rdx ; add $0x1,%eax ; cmp %ecx,%eax ; jne 1b
  EXPECT_FALSE(Find({0x48, 0x03, 0x14, 0xc6, 0x83, 0xc0, 0x01, 0x39, 0xc8, 0x75, 0xf5}).any);
  // A step of 3 elements: not a power of two in bytes.
  // 1: add (%rsi,%rax,8),%rdx ; add $0x3,%rax ; cmp %rcx,%rax ; jb 1b
  EXPECT_FALSE(Find({0x48, 0x03, 0x14, 0xc6, 0x48, 0x83, 0xc0, 0x03, 0x48, 0x39, 0xc8, 0x72, 0xf3}).any);
}

TEST(StrideSpans, ExitOnLoadedDataIsNoWindow) {
  // A partition scan: the exit compares what it loaded, not the counter
  // (typically two or three iterations: the check before the loop would
  // cost more than it saves).
  // 1: add $0x1,%r9 ; mov 0x0(%rbp,%r9,8),%r10 ; cmp %rdi,%r10 ; jb 1b
  EXPECT_FALSE(Find({0x49, 0x83, 0xc1, 0x01, 0x4e, 0x8b, 0x54, 0xcd, 0x00, 0x49, 0x39, 0xfa, 0x72, 0xf2}).any);
}

TEST(StrideSpans, BaseThatChangesIsNoWindow) {
  // The base moves too: 1: add (%rsi,%rax,8),%rdx ; add $0x8,%rsi ; add $0x1,%rax ; dec %rcx ; jne 1b
  // rsi is itself a counter: the access is [rsi + rax*8] with both moving, which neither window covers.
  EXPECT_FALSE(Find({0x48, 0x03, 0x14, 0xc6, 0x48, 0x83, 0xc6, 0x08, 0x48, 0x83, 0xc0, 0x01, 0x48, 0xff, 0xc9,
                     0x75, 0xef})
                   .any);
}

}  // namespace
}  // namespace xlat
