// Links between blocks of one pool go past the target's spills (block.h):
// CodeCache::Link points an exit's pool site at the target's pool entry
// only when both keep the same pool registers, and puts it back (the nop,
// or the jcc to the reloads) when unlinked, relinked elsewhere, or when the
// target is invalidated. The bytes are checked as the CPU would decode them.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

#include "codecache/code_cache.h"

namespace xlat {
namespace {

constexpr uint16_t kPoolA = (1u << kR10) | (1u << kR11);
constexpr uint16_t kPoolB = (1u << kRdi) | (1u << kR11);

int32_t Rel32(const uint8_t* field) {
  int32_t rel;
  std::memcpy(&rel, field, 4);
  return rel;
}

// Where a `jmp rel32` (E9) or `jcc rel32` (0F 8x) at `insn` goes.
const uint8_t* BranchTarget(const uint8_t* insn) {
  if (insn[0] == 0xe9) return insn + 5 + Rel32(insn + 1);
  EXPECT_EQ(insn[0], 0x0f);
  EXPECT_EQ(insn[1] & 0xf0, 0x80);
  return insn + 6 + Rel32(insn + 2);
}

class PoolLink : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    cache_ = CodeCache::Create(1 << 20, 4096, &err);
    ASSERT_TRUE(cache_) << err;
    // The source: a nop pool site, a jcc pool site whose unlinked target is
    // the reloads, then each exit's own branch to its stub.
    uint8_t* p = cache_->cursor();
    std::memset(p, 0xcc, 64);
    std::memcpy(p, kPoolNop, 5);                          // +0  nop site (exit 0)
    const uint8_t jcc_to_reloads[6] = {0x0f, 0x85, 0x0a, 0, 0, 0};
    std::memcpy(p + 5, jcc_to_reloads, 6);                // +5  jne +10 -> +21 (exit 1)
    const uint8_t jmp_to_stub[5] = {0xe9, 0x0f, 0, 0, 0};  // -> +41 and +46
    std::memcpy(p + 21, jmp_to_stub, 5);                  // +21 exit 0's branch
    std::memcpy(p + 26, jmp_to_stub, 5);                  // +26 exit 1's branch
    auto src = std::make_unique<Block>();
    src->guest_rip = 0x1000;
    src->key = 1;
    src->host_code = src->entry = p;
    src->host_size = 64;
    src->pool = kPoolA;
    src->pool_entry = p + 32;
    src->ranges.push_back({0x1000, 16});
    for (unsigned i = 0; i < 2; ++i) {
      BlockExit e;
      e.guest_target = 0x2000;
      e.patch_site = p + 22 + 5 * i;
      e.stub = p + 41 + 5 * i;
      e.pool_site = i == 0 ? p : p + 5;
      e.pool_site_jcc = i == 1;
      e.pool_reloads = i == 1 ? p + 21 : nullptr;
      src->exits.push_back(e);
    }
    src_ = cache_->Commit(std::move(src));
    same_ = AddTarget(2, 0x2000, kPoolA);
    other_ = AddTarget(3, 0x3000, kPoolB);
  }

  Block* AddTarget(uint64_t key, uint64_t rip, uint16_t pool) {
    uint8_t* p = cache_->cursor();
    std::memset(p, 0x90, 32);
    auto b = std::make_unique<Block>();
    b->guest_rip = rip;
    b->key = key;
    b->host_code = b->entry = p;
    b->host_size = 32;
    b->pool = pool;
    b->pool_entry = p + 16;
    b->ranges.push_back({rip, 16});
    return cache_->Commit(std::move(b));
  }

  void ExpectUnlinkedSites() {
    const uint8_t* p = src_->host_code;
    EXPECT_EQ(std::memcmp(p, kPoolNop, 5), 0);
    EXPECT_EQ(BranchTarget(p + 5), p + 21);
  }

  std::unique_ptr<CodeCache> cache_;
  Block* src_ = nullptr;
  Block* same_ = nullptr;
  Block* other_ = nullptr;
};

TEST_F(PoolLink, SamePoolGoesToThePoolEntry) {
  for (BlockExit& e : src_->exits) {
    EXPECT_TRUE(e.SkipsSpillsTo(*same_));
    cache_->Link(e, same_);
    EXPECT_EQ(BranchTarget(e.pool_site), same_->pool_entry);
    EXPECT_EQ(BranchTarget(e.patch_site - 1), same_->entry);  // (the exits' own branches are jmps)
  }
}

TEST_F(PoolLink, OtherPoolKeepsTheReloadsAndTheSpills) {
  for (BlockExit& e : src_->exits) {
    EXPECT_FALSE(e.SkipsSpillsTo(*other_));
    cache_->Link(e, other_);
    EXPECT_EQ(BranchTarget(e.patch_site - 1), other_->entry);
  }
  ExpectUnlinkedSites();
}

TEST_F(PoolLink, UnlinkRelinkAndInvalidateRestoreTheSites) {
  for (BlockExit& e : src_->exits) cache_->Link(e, same_);
  for (BlockExit& e : src_->exits) cache_->Link(e, nullptr);
  ExpectUnlinkedSites();
  for (BlockExit& e : src_->exits) EXPECT_EQ(BranchTarget(e.patch_site - 1), e.stub);

  for (BlockExit& e : src_->exits) cache_->Link(e, same_);
  for (BlockExit& e : src_->exits) cache_->Link(e, other_);  // relinked elsewhere
  ExpectUnlinkedSites();

  for (BlockExit& e : src_->exits) cache_->Link(e, same_);
  cache_->Invalidate(same_);
  ExpectUnlinkedSites();
  for (BlockExit& e : src_->exits) {
    EXPECT_EQ(e.linked_to, nullptr);
    EXPECT_EQ(BranchTarget(e.patch_site - 1), e.stub);
  }
}

TEST_F(PoolLink, ABlockWithoutAPoolIsNeverSkippedInto) {
  Block* none = AddTarget(4, 0x4000, 0);
  none->pool_entry = nullptr;
  BlockExit& e = src_->exits[0];
  src_->pool = 0;  // (no exit of a pool-less block has a site; an empty pool must still not match)
  EXPECT_FALSE(e.SkipsSpillsTo(*none));
  cache_->Link(e, none);
  ExpectUnlinkedSites();
}

}  // namespace
}  // namespace xlat
