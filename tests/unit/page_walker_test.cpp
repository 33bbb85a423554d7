// The page walker against hand-built page tables: permissions, large pages,
// accessed/dirty bits, and #PF error codes.
#include <gtest/gtest.h>

#include "mmu/guest_ram.h"
#include "mmu/page_table_builder.h"
#include "mmu/page_walker.h"

namespace xlat {
namespace {

constexpr uint64_t kCr0Pg = 1ull << 31, kCr0Wp = 1ull << 16, kEferNxe = 1ull << 11;

class PageWalker : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    ram_ = GuestRam::Create(16 << 20, &err);
    ASSERT_TRUE(ram_) << err;
    pt_ = std::make_unique<PageTableBuilder>(*ram_, 8 << 20, 1 << 20);
    st_.cr0 = kCr0Pg | kCr0Wp;
    st_.efer = kEferNxe;
    st_.cr3 = pt_->cr3();
  }
  uint64_t Leaf(uint64_t va) {
    uint64_t pa = pt_->LeafEntryPa(va), v = 0;
    ram_->Read(GuestPhysAddr(pa), std::span(reinterpret_cast<uint8_t*>(&v), 8));
    return v;
  }
  std::unique_ptr<GuestRam> ram_;
  std::unique_ptr<PageTableBuilder> pt_;
  PagingState st_;
};

TEST_F(PageWalker, TranslatesAndSetsAccessedAndDirty) {
  std::string err;
  ASSERT_TRUE(pt_->Map(0x400000, 0x200000, 0x1000, kPteWrite | kPteUser, 4096, &err)) << err;
  WalkResult r = WalkPageTables(*ram_, st_, 0x400123, AccessKind::kRead, true);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.pa, 0x200123u);
  EXPECT_TRUE(Leaf(0x400000) & kPteAccessed);
  EXPECT_FALSE(Leaf(0x400000) & kPteDirty);
  r = WalkPageTables(*ram_, st_, 0x400123, AccessKind::kWrite, true);
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(Leaf(0x400000) & kPteDirty);
}

TEST_F(PageWalker, ErrorCodes) {
  std::string err;
  ASSERT_TRUE(pt_->Map(0x400000, 0x200000, 0x1000, 0, 4096, &err)) << err;          // supervisor, read-only
  ASSERT_TRUE(pt_->Map(0x401000, 0x201000, 0x1000, kPteUser | kPteNx, 4096, &err)) << err;
  // Not present: P=0, with W/U/I from the access.
  EXPECT_EQ(WalkPageTables(*ram_, st_, 0x900000, AccessKind::kWrite, true).error_code, 0x6u);
  // User access to a supervisor page: P=1 U=1.
  EXPECT_EQ(WalkPageTables(*ram_, st_, 0x400000, AccessKind::kRead, true).error_code, 0x5u);
  // Supervisor write to a read-only page with CR0.WP: P=1 W=1.
  EXPECT_EQ(WalkPageTables(*ram_, st_, 0x400000, AccessKind::kWrite, false).error_code, 0x3u);
  // ... allowed without CR0.WP.
  PagingState no_wp = st_;
  no_wp.cr0 &= ~kCr0Wp;
  EXPECT_TRUE(WalkPageTables(*ram_, no_wp, 0x400000, AccessKind::kWrite, false).ok);
  // Fetch from an NX page: P=1 U=1 I=1.
  EXPECT_EQ(WalkPageTables(*ram_, st_, 0x401000, AccessKind::kExecute, true).error_code, 0x15u);
}

TEST_F(PageWalker, LargePagesAndReservedBits) {
  std::string err;
  ASSERT_TRUE(pt_->Map(0x40000000, 0x200000, 2 << 20, kPteWrite, 2 << 20, &err)) << err;
  WalkResult r = WalkPageTables(*ram_, st_, 0x40012345, AccessKind::kRead, false);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.pa, 0x212345u);
  EXPECT_EQ(r.page_size, 2u << 20);
  // A reserved bit in the 2 MiB entry (bit 13) gives P=1 RSVD=1.
  uint64_t pa = pt_->LeafEntryPa(0x40000000), v;
  ram_->Read(GuestPhysAddr(pa), std::span(reinterpret_cast<uint8_t*>(&v), 8));
  v |= 1ull << 13;
  ram_->Write(GuestPhysAddr(pa), std::span(reinterpret_cast<const uint8_t*>(&v), 8));
  EXPECT_EQ(WalkPageTables(*ram_, st_, 0x40000000, AccessKind::kRead, false).error_code, 0x9u);
}

}  // namespace
}  // namespace xlat
