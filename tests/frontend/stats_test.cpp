// The statistics report: names, the human table, and a JSON document that
// parses, has the stable keys and holds only numbers.
#include "frontend/stats.h"

#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <set>
#include <string>

namespace xlat {
namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}
#define EXPECT_CONTAINS(haystack, needle) EXPECT_PRED2(Contains, haystack, needle)

constexpr unsigned kReasons = static_cast<unsigned>(ExitReason::kCount);

Stats Sample() {
  Stats s;
  s.blocks_translated = 10;
  s.guest_insns_translated = 200;
  s.guest_bytes_translated = 1000;
  s.host_bytes_emitted = 3000;
  s.translate_ns = 2'000'000;  // 2 ms: 100k insns/s
  s.insns_copied = 150;
  s.insns_mem_rewritten = 30;
  s.insns_control = 20;
  s.cache_bytes_used = 1 << 20;
  s.cache_bytes_capacity = 4 << 20;
  s.direct_branch_sites = 8;
  s.links_made = 6;
  s.exits[static_cast<unsigned>(ExitReason::kBranch)] = 7;
  s.exits[static_cast<unsigned>(ExitReason::kEmulate)] = 5;
  s.exceptions[14] = 3;  // #PF
  s.exceptions[15] = 1;  // reserved vector
  s.tlb_misses = 11;
  s.mem_groups = 12;
  s.mem_group_declines = 2;
  s.run_ns = 1'500'000'000;
  return s;
}

// ---- A small JSON reader: enough to check the document's shape ----

struct JsonReader {
  explicit JsonReader(const std::string& text) : s(text) {}
  const std::string& s;
  size_t i = 0;
  std::map<std::string, std::string> leaves;  // "a.b" -> number text

  void Ws() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool Eat(char c) {
    Ws();
    if (i < s.size() && s[i] == c) return ++i, true;
    return false;
  }
  bool String(std::string* out) {
    if (!Eat('"')) return false;
    size_t start = i;
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\' || static_cast<unsigned char>(s[i]) < 0x20) return false;  // we never need escapes
      ++i;
    }
    if (i == s.size()) return false;
    *out = s.substr(start, i - start);
    ++i;
    return true;
  }
  bool Number(std::string* out) {
    Ws();
    size_t start = i;
    if (i < s.size() && s[i] == '-') ++i;
    if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    if (s[i] == '0' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]))) return false;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' || s[i] == 'e' ||
                            s[i] == 'E' || s[i] == '+' || s[i] == '-'))
      ++i;
    *out = s.substr(start, i - start);
    return true;
  }
  bool Object(const std::string& prefix) {
    if (!Eat('{')) return false;
    if (Eat('}')) return true;
    do {
      std::string key;
      if (!String(&key) || !Eat(':')) return false;
      std::string path = prefix.empty() ? key : prefix + "." + key;
      if (leaves.count(path)) return false;  // duplicate key
      Ws();
      if (i < s.size() && s[i] == '{') {
        if (!Object(path)) return false;
        leaves[path] = "{}";
      } else if (i < s.size() && s[i] == '"') {
        std::string v;
        if (!String(&v)) return false;
        leaves[path] = "\"" + v + "\"";
      } else {
        std::string v;
        if (!Number(&v)) return false;
        leaves[path] = v;
      }
    } while (Eat(','));
    return Eat('}');
  }
  bool Document() {
    if (!Object("")) return false;
    Ws();
    return i == s.size();
  }
};

std::map<std::string, std::string> ParseJson(const std::string& text) {
  JsonReader r(text);
  EXPECT_TRUE(r.Document()) << "invalid JSON near offset " << r.i << ":\n" << text;
  return r.leaves;
}

// ---- Names ----

TEST(Stats, ExitReasonNamesAreUniqueAndKnown) {
  std::set<std::string> seen;
  for (unsigned r = 0; r < kReasons; ++r) {
    std::string name = ExitReasonName(static_cast<ExitReason>(r));
    EXPECT_NE(name, "unknown") << r;
    EXPECT_TRUE(seen.insert(name).second) << name;
    for (char c : name) EXPECT_TRUE(std::islower(static_cast<unsigned char>(c)) || c == '_') << name;
  }
  EXPECT_STREQ(ExitReasonName(ExitReason::kBranch), "branch");
  EXPECT_STREQ(ExitReasonName(ExitReason::kLookupMiss), "lookup_miss");
  EXPECT_STREQ(ExitReasonName(ExitReason::kCount), "unknown");
}

TEST(Stats, ExceptionNames) {
  EXPECT_STREQ(ExceptionName(0), "DE");
  EXPECT_STREQ(ExceptionName(1), "DB");
  EXPECT_STREQ(ExceptionName(6), "UD");
  EXPECT_STREQ(ExceptionName(8), "DF");
  EXPECT_STREQ(ExceptionName(13), "GP");
  EXPECT_STREQ(ExceptionName(14), "PF");
  EXPECT_STREQ(ExceptionName(16), "MF");
  EXPECT_STREQ(ExceptionName(19), "XM");
  EXPECT_EQ(ExceptionName(9), nullptr);
  EXPECT_EQ(ExceptionName(15), nullptr);
  EXPECT_EQ(ExceptionName(31), nullptr);
  EXPECT_EQ(ExceptionName(32), nullptr);
}

// ---- Human report ----

TEST(Stats, ReportHasEveryGroupAndTheDerivedFigures) {
  std::string r = FormatStats(Sample());
  for (const char* group : {"Translator", "Code cache", "Branches", "Exits", "Memory slow paths", "Exceptions",
                            "Run time"})
    EXPECT_CONTAINS(r, std::string("\n  ") + group + "\n");
  EXPECT_CONTAINS(r, "3.00");          // host bytes per guest byte
  EXPECT_CONTAINS(r, "100.00 k/s");    // 200 insns in 2 ms
  EXPECT_CONTAINS(r, "(75.0%)");       // 6 of 8 direct branches chained
  EXPECT_CONTAINS(r, "(25.0%)");       // code cache used
  EXPECT_CONTAINS(r, "(75.0%)");       // copied instructions
  EXPECT_CONTAINS(r, "1.500 s");       // run time
  EXPECT_CONTAINS(r, "2.000 ms");      // translate time
  EXPECT_CONTAINS(r, "#PF (14)");
  EXPECT_CONTAINS(r, "vector 15");
  EXPECT_FALSE(Contains(r, "#GP"));    // zero vectors are not listed
  for (unsigned e = 1; e < kReasons; ++e) EXPECT_CONTAINS(r, ExitReasonName(static_cast<ExitReason>(e)));
  EXPECT_EQ(r.back(), '\n');
}

TEST(Stats, ReportColumnsAreAligned) {
  std::string r = FormatStats(Sample());
  // Every row puts the end of its value at the same column.
  size_t value_end = std::string::npos;
  size_t pos = 0;
  while (pos < r.size()) {
    size_t nl = r.find('\n', pos);
    std::string line = r.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.starts_with("    ")) continue;
    size_t end = 4 + 34 + 1 + 16;
    ASSERT_GE(line.size(), end) << line;
    EXPECT_NE(line[end - 1], ' ') << line;
    if (value_end == std::string::npos) value_end = end;
  }
}

TEST(Stats, EmptyStatsHaveNoNanOrInfinity) {
  Stats zero;
  std::string r = FormatStats(zero);
  EXPECT_FALSE(Contains(r, "nan"));
  EXPECT_FALSE(Contains(r, "inf"));
  EXPECT_CONTAINS(r, "none");  // no exceptions
  std::string j = FormatStatsJson(zero);
  EXPECT_FALSE(Contains(j, "nan"));
  EXPECT_FALSE(Contains(j, "inf"));
  ParseJson(j);
}

// ---- JSON ----

TEST(Stats, JsonIsOneObjectWithStableKeys) {
  std::string j = FormatStatsJson(Sample());
  EXPECT_EQ(j.front(), '{');
  EXPECT_EQ(j.back(), '\n');
  std::map<std::string, std::string> v = ParseJson(j);
  EXPECT_EQ(v["schema"], "\"xlat-stats/1\"");
  EXPECT_EQ(v["translator.blocks_translated"], "10");
  EXPECT_EQ(v["translator.guest_insns_translated"], "200");
  EXPECT_EQ(v["translator.guest_bytes_translated"], "1000");
  EXPECT_EQ(v["translator.host_bytes_emitted"], "3000");
  EXPECT_EQ(v["translator.translate_ns"], "2000000");
  EXPECT_EQ(v["translator.insns_copied"], "150");
  EXPECT_EQ(v["translator.insns_mem_rewritten"], "30");
  EXPECT_EQ(v["translator.insns_implicit_mem"], "0");
  EXPECT_EQ(v["translator.insns_control"], "20");
  EXPECT_EQ(v["translator.insns_callout"], "0");
  EXPECT_EQ(v["translator.insns_undefined"], "0");
  EXPECT_EQ(v["code_cache.cache_flushes"], "0");
  EXPECT_EQ(v["code_cache.cache_bytes_used"], "1048576");
  EXPECT_EQ(v["code_cache.cache_bytes_capacity"], "4194304");
  EXPECT_EQ(v["branches.direct_branch_sites"], "8");
  EXPECT_EQ(v["branches.links_made"], "6");
  EXPECT_EQ(v["branches.jump_cache_fills"], "0");
  EXPECT_EQ(v["exits.branch"], "7");
  EXPECT_EQ(v["exits.emulate"], "5");
  EXPECT_EQ(v["exits.none"], "0");
  EXPECT_EQ(v["memory.tlb_misses"], "11");
  EXPECT_EQ(v["memory.mem_groups"], "12");
  EXPECT_EQ(v["memory.mem_group_declines"], "2");
  for (const char* k : {"memory.tlb_fills", "memory.tlb_flushes", "memory.page_crossings", "memory.bounced_accesses",
                        "memory.string_ops", "memory.inline_string_ops", "memory.code_invalidations",
                        "memory.host_signals"})
    EXPECT_EQ(v[k], "0") << k;
  EXPECT_EQ(v["exceptions.PF"], "3");
  EXPECT_EQ(v["exceptions.vector_15"], "1");
  EXPECT_EQ(v["exceptions.DE"], "0");
  EXPECT_EQ(v["run_ns"], "1500000000");
  EXPECT_EQ(v["derived.host_bytes_per_guest_byte"], "3");
  EXPECT_EQ(v["derived.guest_insns_per_translate_second"], "100000");
  EXPECT_EQ(v["derived.direct_branches_chained_pct"], "75");
  EXPECT_EQ(v["derived.code_cache_used_pct"], "25");
  EXPECT_EQ(v["derived.exits_total"], "12");
  EXPECT_EQ(v["derived.exceptions_total"], "4");
  EXPECT_TRUE(v.count("derived.translate_time_pct"));
  // Every exit reason and every vector has its key, zero or not.
  for (unsigned r = 0; r < kReasons; ++r)
    EXPECT_TRUE(v.count(std::string("exits.") + ExitReasonName(static_cast<ExitReason>(r))));
  int vectors = 0;
  for (const auto& [key, value] : v) vectors += key.starts_with("exceptions.");
  EXPECT_EQ(vectors, 32);
}

TEST(Stats, JsonCountersAreIntegersEvenWhenLarge) {
  Stats s;
  s.host_bytes_emitted = UINT64_MAX;
  std::map<std::string, std::string> v = ParseJson(FormatStatsJson(s));
  EXPECT_EQ(v["translator.host_bytes_emitted"], "18446744073709551615");
}

}  // namespace
}  // namespace xlat
