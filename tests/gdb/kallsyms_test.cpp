// Guest kernel symbols (frontend/kallsyms.h, frontend/symbol_file.h): the
// kallsyms tables of synthetic kernels in each layout Linux has used, found
// in a memory image among decoys; System.map and ELF symbol tables.
#include "frontend/kallsyms.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "frontend/symbol_file.h"

namespace xlat {
namespace {

constexpr uint64_t kText = 0xffffffff81000000ull;
constexpr uint64_t kImageBase = 0xffffffff82000000ull;  // where the synthetic .rodata starts

struct Sym {
  uint64_t address;
  char type;
  std::string name;
};

// Symbols like a kernel's: a few per-CPU (absolute) ones, then text and data.
std::vector<Sym> MakeSymbols(unsigned count) {
  std::vector<Sym> syms = {{0x0, 'D', "fixed_percpu_data"}, {0x1fb80, 'D', "current_task"}};
  syms.push_back({kText, 'T', "_text"});
  syms.push_back({kText, 'T', "startup_64"});
  for (unsigned i = 0; i < count; ++i) {
    const bool text = i % 3 != 0;
    syms.push_back({kText + 0x40 + 0x30ull * i, text ? (i % 2 ? 'T' : 't') : (i % 2 ? 'D' : 'd'),
                    (text ? "func_" : "var_") + std::to_string(i) + (i % 7 == 0 ? "_start_kernel" : "")});
  }
  syms.push_back({kText + 0x2079e46, 'T', "start_kernel"});
  return syms;
}

void Align(std::vector<uint8_t>& m, size_t a, uint8_t fill = 0) {
  while (m.size() % a) m.push_back(fill);
}
template <typename T>
void Put(std::vector<uint8_t>& m, T v) {
  const size_t at = m.size();
  m.resize(at + sizeof v);
  std::memcpy(&m[at], &v, sizeof v);
}

enum class Layout { kUpTo61, kWithSeqs, kFrom64 };
const char* LayoutName(Layout l) {
  switch (l) {
    case Layout::kUpTo61: return "UpTo61";
    case Layout::kWithSeqs: return "WithSeqsOfNames";
    case Layout::kFrom64: return "From64";
  }
  return "Unknown";
}
void PrintTo(Layout l, std::ostream* os) { *os << LayoutName(l); }

// Writes the tables as scripts/kallsyms.c does (absolute per-CPU, base relative).
void AppendKallsyms(std::vector<uint8_t>& m, const std::vector<Sym>& syms, Layout layout) {
  // Tokens: every character used stands for itself; a few multi-character
  // tokens fill byte values no symbol uses.
  std::vector<std::string> tokens(256);
  std::vector<bool> used(256, false);
  for (const Sym& s : syms) {
    used[static_cast<uint8_t>(s.type)] = true;
    for (char c : s.name) used[static_cast<uint8_t>(c)] = true;
  }
  std::vector<std::string> multi = {"_start_kernel", "func_", "var_", "start", "_k", "er"};
  size_t next_multi = 0;
  for (unsigned i = 0; i < 256; ++i) {
    if (used[i]) tokens[i] = std::string(1, static_cast<char>(i));
    else if (next_multi < multi.size()) tokens[i] = multi[next_multi++];
    else tokens[i] = "~" + std::to_string(i);  // never matched below
  }
  auto encode = [&tokens](const std::string& text) {
    std::vector<uint8_t> out;
    for (size_t pos = 0; pos < text.size();) {
      unsigned best = static_cast<uint8_t>(text[pos]);
      size_t best_len = 1;
      for (unsigned i = 0; i < 256; ++i)
        if (tokens[i].size() > best_len && text.compare(pos, tokens[i].size(), tokens[i]) == 0)
          best = i, best_len = tokens[i].size();
      out.push_back(static_cast<uint8_t>(best));
      pos += best_len;
    }
    return out;
  };
  const uint32_t n = static_cast<uint32_t>(syms.size());
  std::vector<uint8_t> names;
  std::vector<uint32_t> markers;
  for (uint32_t i = 0; i < n; ++i) {
    if (i % 256 == 0) markers.push_back(static_cast<uint32_t>(names.size()));
    const std::vector<uint8_t> e = encode(std::string(1, syms[i].type) + syms[i].name);
    names.push_back(static_cast<uint8_t>(e.size()));
    names.insert(names.end(), e.begin(), e.end());
  }
  auto offsets = [&] {
    Align(m, 8);
    for (const Sym& s : syms) {
      const bool absolute = s.address < kText;
      Put<int32_t>(m, absolute ? static_cast<int32_t>(s.address) : static_cast<int32_t>(kText - s.address - 1));
    }
    Align(m, 8);
    Put<uint64_t>(m, kText);  // kallsyms_relative_base
  };
  if (layout != Layout::kFrom64) offsets();
  Align(m, 8);
  Put<uint32_t>(m, n);
  Align(m, 8);
  m.insert(m.end(), names.begin(), names.end());
  Align(m, 8);
  for (uint32_t v : markers) Put<uint32_t>(m, v);
  if (layout == Layout::kWithSeqs) {
    Align(m, 8);
    for (uint32_t i = 0; i < n; ++i) {  // kallsyms_seqs_of_names: any order will do here
      m.push_back(static_cast<uint8_t>(i >> 16));
      m.push_back(static_cast<uint8_t>(i >> 8));
      m.push_back(static_cast<uint8_t>(i));
    }
  }
  Align(m, 8);
  std::vector<uint16_t> index;
  const size_t table = m.size();
  for (const std::string& t : tokens) {
    index.push_back(static_cast<uint16_t>(m.size() - table));
    m.insert(m.end(), t.begin(), t.end());
    m.push_back(0);
  }
  Align(m, 8);
  for (uint16_t v : index) Put<uint16_t>(m, v);
  if (layout == Layout::kFrom64) offsets();
}

// A memory image: decoys first (the digit tokens' pattern in other data), then the tables.
std::vector<uint8_t> MakeImage(const std::vector<Sym>& syms, Layout layout) {
  std::vector<uint8_t> m(5000, 0x90);
  const char decoy[] = "0\0" "1\0" "2\0" "3\0" "4\0" "5\0" "6\0" "7\0" "8\0" "9\0";
  for (int copy = 0; copy < 2; ++copy) {
    for (char c : decoy) m.push_back(static_cast<uint8_t>(c));
    for (int i = 0; i < 100; ++i) m.push_back(static_cast<uint8_t>(i * 37));
  }
  m.resize(m.size() + 3000, 0);
  AppendKallsyms(m, syms, layout);
  m.resize(m.size() + 4096, 0xcc);
  return m;
}

MemoryReader ReaderOf(const std::vector<uint8_t>& m, uint64_t base) {
  return [&m, base](uint64_t va, void* out, size_t n) {
    if (va < base || va - base > m.size() || n > m.size() - (va - base)) return false;
    std::memcpy(out, m.data() + (va - base), n);
    return true;
  };
}

class KallsymsLayouts : public ::testing::TestWithParam<Layout> {};

TEST_P(KallsymsLayouts, FindsAndDecodesEverySymbol) {
  const std::vector<Sym> syms = MakeSymbols(700);  // three markers
  const std::vector<uint8_t> image = MakeImage(syms, GetParam());
  const MemoryReader read = ReaderOf(image, kImageBase);
  KallsymsTables t;
  std::string error;
  // A range that starts in unreadable memory, as guest memory does.
  ASSERT_TRUE(FindKallsyms(read, kImageBase - (1 << 20), kImageBase + image.size(), &t, &error)) << error;
  EXPECT_EQ(t.num_syms, syms.size());
  EXPECT_EQ(t.relative_base, kText);
  EXPECT_TRUE(t.absolute_percpu);
  SymbolTable table;
  ASSERT_TRUE(DecodeKallsyms(read, t, &table, &error)) << error;
  ASSERT_EQ(table.size(), syms.size());
  for (const Sym& s : syms) {
    const KernelSymbol* k = table.FindByName(s.name);
    ASSERT_NE(k, nullptr) << s.name;
    EXPECT_EQ(k->address, s.address) << s.name;
    // Per-CPU symbols are absolute numbers.
    EXPECT_EQ(k->type, s.address < kText ? 'A' : s.type) << s.name;
  }
}

INSTANTIATE_TEST_SUITE_P(AllLayouts, KallsymsLayouts,
                         ::testing::Values(Layout::kUpTo61, Layout::kWithSeqs, Layout::kFrom64),
                         [](const ::testing::TestParamInfo<Layout>& info) { return LayoutName(info.param); });

TEST(Kallsyms, NotFoundIsAnError) {
  std::vector<uint8_t> m(100000, 0x41);
  KallsymsTables t;
  std::string error;
  EXPECT_FALSE(FindKallsyms(ReaderOf(m, kImageBase), kImageBase, kImageBase + m.size(), &t, &error));
  EXPECT_NE(error.find("no kallsyms"), std::string::npos);
}

// Random memory full of the digit tokens' pattern: every candidate is
// checked and refused, without reading outside what the reader gives.
TEST(Kallsyms, RandomMemoryWithDecoys) {
  std::vector<uint8_t> m(1 << 21);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (uint8_t& b : m) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    b = static_cast<uint8_t>(x);
  }
  const char decoy[] = "0\0" "1\0" "2\0" "3\0" "4\0" "5\0" "6\0" "7\0" "8\0" "9\0";
  for (size_t at = 17; at + sizeof decoy < m.size(); at += 40961) std::memcpy(&m[at], decoy, sizeof decoy);
  // Next to the edges of the readable range too.
  std::memcpy(&m[0], decoy, sizeof decoy);
  std::memcpy(&m[m.size() - sizeof decoy], decoy, sizeof decoy);
  KallsymsTables t;
  std::string error;
  EXPECT_FALSE(FindKallsyms(ReaderOf(m, kImageBase), kImageBase - 4096, kImageBase + m.size() + 4096, &t, &error));
}

TEST(SymbolTable, LookupByAddressAndName) {
  SymbolTable t;
  t.Add(0x1000, 'T', "b_func");
  t.Add(0x1000, 'T', "b_alias");
  t.Add(0x1100, 't', "c_local");
  t.Add(0x800, 'T', "a_first");
  t.Add(0x20, 'A', "percpu_var");
  t.Add(0x1200, 'D', "d_data");
  t.Finish();
  EXPECT_EQ(t.symbols().front().name, "percpu_var");  // sorted by address
  EXPECT_EQ(t.Describe(0x1000), "b_func");
  EXPECT_EQ(t.Describe(0x1010), "b_func+0x10");
  EXPECT_EQ(t.Describe(0x10ff), "b_func+0xff");
  EXPECT_EQ(t.Describe(0x1105), "c_local+0x5");
  EXPECT_EQ(t.Describe(0x1200), "d_data");       // the last symbol: itself only
  EXPECT_EQ(t.Describe(0x1201), "");
  EXPECT_EQ(t.Describe(0x20), "");               // absolute symbols name no place
  EXPECT_EQ(t.Describe(0x10), "");
  ASSERT_NE(t.FindByName("b_alias"), nullptr);
  EXPECT_EQ(t.FindByName("b_alias")->size, 0x100u);
  EXPECT_EQ(t.FindByName("missing"), nullptr);
  const SymbolTable moved = t.Relocated(0x10000);
  EXPECT_EQ(moved.FindByName("b_func")->address, 0x11000u);
  EXPECT_EQ(moved.FindByName("percpu_var")->address, 0x20u);
  EXPECT_EQ(moved.Describe(0x11104), "c_local+0x4");
}

TEST(SystemMap, Parses) {
  SymbolTable t;
  std::string error;
  ASSERT_TRUE(ParseSystemMap("0000000000000000 D __per_cpu_start\n"
                             "ffffffff81000000 T _text\r\n"
                             "ffffffff83079e46 T start_kernel\n"
                             "\n"
                             "ffffffff82a079c0 D jiffies\t[mod]\n",
                             &t, &error))
      << error;
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(t.FindByName("start_kernel")->address, 0xffffffff83079e46ull);
  EXPECT_EQ(t.FindByName("jiffies")->type, 'D');
  EXPECT_FALSE(ParseSystemMap("ffffffff81000000 _text\n", &t, &error));
  EXPECT_FALSE(ParseSystemMap("", &t, &error));
}

TEST(SystemMap, DebiansPlaceholderIsRecognized) {
  SymbolTable t;
  std::string error;
  EXPECT_FALSE(ParseSystemMap(
      "ffffffffffffffff B The real System.map is in the linux-image-6.1.0-56-amd64-dbg package\n", &t, &error));
  EXPECT_NE(error.find("placeholder"), std::string::npos) << error;
  EXPECT_NE(error.find("-dbg package"), std::string::npos) << error;
}

TEST(SymbolFile, RoundTripsThroughTheElfParser) {
  SymbolTable t;
  t.Add(kText, 'T', "_text");
  t.Add(kText + 0x100, 't', "local_func");
  t.Add(kText + 0x200, 'T', "start_kernel");
  t.Add(kText + 0x1000, 'D', "jiffies");
  t.Add(kText + 0x1008, 'b', "local_bss");
  t.Add(0x1fb80, 'A', "current_task");
  t.Finish();
  const std::vector<SymbolFileSection> sections = SectionsFromSymbols(t);
  ASSERT_EQ(sections.size(), 2u);
  EXPECT_TRUE(sections[0].code);
  EXPECT_EQ(sections[0].address, kText);
  EXPECT_EQ(sections[0].size, 0x1000u);
  EXPECT_FALSE(sections[1].code);
  const std::vector<uint8_t> elf = BuildSymbolFile(t, sections, 0x1000000);
  SymbolTable back;
  std::string error;
  ASSERT_TRUE(ParseElfSymbols(elf, &back, &error)) << error;
  EXPECT_EQ(back.size(), 5u);  // the absolute one is left out
  EXPECT_EQ(back.FindByName("start_kernel")->address, kText + 0x200);
  EXPECT_EQ(back.FindByName("start_kernel")->type, 'T');  // global, in an executable section
  EXPECT_EQ(back.FindByName("local_func")->type, 't');
  EXPECT_EQ(back.FindByName("jiffies")->type, 'B');       // global, in a NOBITS data section
  EXPECT_EQ(back.FindByName("current_task"), nullptr);
  // Locals come first in .symtab, as ELF requires (sh_info = first global).
  EXPECT_EQ(elf[0x10], 2);   // ET_EXEC
  EXPECT_EQ(elf[0x12], 62);  // EM_X86_64
}

}  // namespace
}  // namespace xlat
