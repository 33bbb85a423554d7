// FindMemGroups (translator/mem_groups.h): which accesses of a block share
// one TLB check, and where each lies from the group's lowest byte. The
// blocks are machine code (bytes from `as`, with their listing), decoded and
// classified as the translator does.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "cpu/vcpu_context.h"
#include "translator/classify.h"
#include "translator/decoder.h"
#include "translator/mem_groups.h"

namespace xlat {
namespace {

struct Grouped {
  std::vector<GroupMembership> member;
  std::vector<MemGroup> groups;
};

Grouped Group(const std::vector<uint8_t>& code) {
  Decoder decoder;
  std::vector<DecodedInsn> insns;
  std::vector<InsnKind> kinds;
  size_t at = 0;
  while (at < code.size()) {
    DecodedInsn d;
    EXPECT_EQ(decoder.Decode(code.data() + at, code.size() - at, 0x1000 + at, &d), Decoder::Status::kOk);
    if (d.length() == 0) break;
    kinds.push_back(Classify(d));
    at += d.length();
    insns.push_back(d);
  }
  Grouped g;
  FindMemGroups(insns, kinds, /*max_live=*/2, &g.member, &g.groups);
  return g;
}

TEST(MemGroups, IndexMovedByAConstantStaysInTheGroup) {
  // mov [rbp + r9*8], rsi ; mov [r8], r10 ; add r9, 1 ; mov r10, [rbp + r9*8] ; cmp r10, rdi
  const Grouped g = Group({0x4a, 0x89, 0x74, 0xcd, 0x00, 0x4d, 0x89, 0x10, 0x49, 0x83, 0xc1, 0x01, 0x4e, 0x8b,
                           0x54, 0xcd, 0x00, 0x49, 0x39, 0xfa});
  ASSERT_EQ(g.groups.size(), 1u);
  EXPECT_EQ(g.groups[0].span, 16u);  // the element and the next
  EXPECT_EQ(g.groups[0].base.base, kRbp);
  EXPECT_EQ(g.groups[0].base.index, kR9);
  EXPECT_EQ(g.groups[0].base.disp, 0);  // checked with r9 as at the store
  EXPECT_EQ(g.member[0].group, 0);
  EXPECT_EQ(g.member[0].offset, 0);
  EXPECT_EQ(g.member[1].group, -1);  // [r8] alone
  EXPECT_EQ(g.member[3].group, 0);
  EXPECT_EQ(g.member[3].offset, 8);
}

TEST(MemGroups, BaseMovedByLeaAndIncStaysInTheGroup) {
  // mov rax, [rbx + 8] ; lea rbx, [rbx - 16] ; mov rcx, [rbx + 8] ; inc rbx ; mov dl, [rbx]
  const Grouped g = Group({0x48, 0x8b, 0x43, 0x08, 0x48, 0x8d, 0x5b, 0xf0, 0x48, 0x8b, 0x4b, 0x08, 0x48, 0xff,
                           0xc3, 0x8a, 0x13});
  ASSERT_EQ(g.groups.size(), 1u);
  // Relative to rbx at the first member: +8..+16, -8..0, -15..-14.
  EXPECT_EQ(g.groups[0].base.disp, -15);
  EXPECT_EQ(g.groups[0].span, 31u);
  EXPECT_EQ(g.member[0].offset, 23);
  EXPECT_EQ(g.member[2].offset, 7);
  EXPECT_EQ(g.member[4].offset, 0);
}

TEST(MemGroups, OtherWritesEndTheGroup) {
  // mov rax, [rbx + 8] ; add ebx, 1 (32-bit: the upper half cleared) ; mov rcx, [rbx + 8]
  // add rbx, rax ; mov rcx, [rbx]
  const Grouped g = Group({0x48, 0x8b, 0x43, 0x08, 0x83, 0xc3, 0x01, 0x48, 0x8b, 0x4b, 0x08, 0x48, 0x01, 0xc3,
                           0x48, 0x8b, 0x0b});
  EXPECT_TRUE(g.groups.empty());
  for (const GroupMembership& m : g.member) EXPECT_EQ(m.group, -1);
}

}  // namespace
}  // namespace xlat
