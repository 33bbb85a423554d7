#include "tests/difftest/report.h"

#include <Zydis/Zydis.h>

#include <cinttypes>
#include <cstdio>

namespace difftest {

size_t FormatInstruction(const uint8_t* bytes, size_t avail, uint64_t va, std::string* text) {
  ZydisDisassembledInstruction insn;
  if (!ZYAN_SUCCESS(ZydisDisassembleIntel(ZYDIS_MACHINE_MODE_LONG_64, va, bytes, avail, &insn))) {
    char b[32];
    std::snprintf(b, sizeof b, "(bad) %02x", bytes[0]);
    *text = b;
    return 0;
  }
  *text = insn.text;
  return insn.info.length;
}

std::string DisassembleSequence(const Sequence& s, uint64_t mark_rip, uint64_t other_rip) {
  std::string out;
  char line[256];
  const auto& forms = AllForms();
  for (size_t k = 0; k < s.items.size(); k++) {
    const ItemInfo& it = s.items[k];
    std::snprintf(line, sizeof line, "  ; item %zu: %s\n", k, forms[it.form].name.c_str());
    out += line;
    size_t off = it.begin;
    while (off < it.end) {
      std::string text;
      size_t n = FormatInstruction(s.code.data() + off, it.end - off, s.entry + off, &text);
      const bool bad = n == 0;
      if (bad) n = 1;
      std::string hex;
      for (size_t i = 0; i < n && i < 12; i++) {
        char b[4];
        std::snprintf(b, sizeof b, "%02x", s.code[off + i]);
        hex += b;
      }
      const uint64_t va = s.entry + off;
      std::snprintf(line, sizeof line, "%s %012" PRIx64 "  %-24s %s\n",
                    va == mark_rip ? ">>" : (va == other_rip ? "!!" : "  "),
                    s.entry + off, hex.c_str(), text.c_str());
      out += line;
      off += n;
    }
  }
  std::snprintf(line, sizeof line, "%s %012" PRIx64 "  %-24s %s\n",
                (mark_rip == s.end || mark_rip == s.end + 1) ? ">>" : "  ", s.end, "f4", "hlt (end of sequence)");
  out += line;
  return out;
}

void PrintCoverage(const GenStats& st, uint64_t sequences) {
  const auto& forms = AllForms();
  uint64_t per_cat[static_cast<int>(Cat::kCount)] = {};
  int forms_cat[static_cast<int>(Cat::kCount)] = {};
  int used = 0;
  for (size_t i = 0; i < forms.size(); i++) {
    per_cat[static_cast<int>(forms[i].cat)] += st.per_form[i];
    if (st.per_form[i]) used++, forms_cat[static_cast<int>(forms[i].cat)]++;
  }
  std::printf("coverage: %zu forms in the table, %d exercised, %" PRIu64 " sequences, %" PRIu64
              " items (%" PRIu64 " page-crossing accesses, %" PRIu64 " with 0x67, %" PRIu64 " RIP-relative)\n",
              forms.size(), used, sequences, st.items, st.page_crossing, st.a32, st.rip_relative);
  std::printf("  by category:");
  for (int c = 0; c < static_cast<int>(Cat::kCount); c++)
    std::printf(" %s %d/%" PRIu64, CatName(static_cast<Cat>(c)), forms_cat[c], per_cat[c]);
  std::printf("  (forms/items)\n");
}

}  // namespace difftest
