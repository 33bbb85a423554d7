#include "frontend/kallsyms.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>

namespace xlat {

// ---- SymbolTable ----

void SymbolTable::Add(uint64_t address, char type, std::string name) {
  syms_.push_back({address, 0, type, std::move(name)});
}

void SymbolTable::Finish() {
  std::stable_sort(syms_.begin(), syms_.end(),
                   [](const KernelSymbol& a, const KernelSymbol& b) { return a.address < b.address; });
  // A symbol extends to the next one at a higher address (absolute symbols
  // are numbers, not places: they have no extent and bound none). Aliases
  // share their extent.
  uint64_t next_greater = 0, current = 0;
  bool have_current = false;
  for (size_t i = syms_.size(); i-- > 0;) {
    KernelSymbol& s = syms_[i];
    if (s.IsAbsolute()) {
      s.size = 0;
      continue;
    }
    if (have_current && s.address < current) next_greater = current;
    s.size = next_greater > s.address ? next_greater - s.address : 0;
    current = s.address;
    have_current = true;
  }
  by_name_.resize(syms_.size());
  for (uint32_t i = 0; i < syms_.size(); ++i) by_name_[i] = i;
  std::sort(by_name_.begin(), by_name_.end(), [this](uint32_t a, uint32_t b) {
    const int c = syms_[a].name.compare(syms_[b].name);
    return c != 0 ? c < 0 : a < b;
  });
}

const KernelSymbol* SymbolTable::FindByName(std::string_view name) const {
  auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                             [this](uint32_t i, std::string_view n) { return syms_[i].name < n; });
  if (it == by_name_.end() || syms_[*it].name != name) return nullptr;
  return &syms_[*it];
}

const KernelSymbol* SymbolTable::FindByAddress(uint64_t address, uint64_t* offset) const {
  // The last symbol at or below the address...
  auto it = std::upper_bound(syms_.begin(), syms_.end(), address,
                             [](uint64_t a, const KernelSymbol& s) { return a < s.address; });
  // ...that is a place (not an absolute number); the first of its aliases.
  while (it != syms_.begin()) {
    --it;
    if (it->IsAbsolute()) continue;
    while (it != syms_.begin() && std::prev(it)->address == it->address && !std::prev(it)->IsAbsolute()) --it;
    if (address - it->address >= it->size && !(it->size == 0 && address == it->address)) return nullptr;
    if (offset) *offset = address - it->address;
    return &*it;
  }
  return nullptr;
}

std::string SymbolTable::Describe(uint64_t address) const {
  uint64_t off = 0;
  const KernelSymbol* s = FindByAddress(address, &off);
  if (!s) return {};
  if (off == 0) return s->name;
  char buf[32];
  std::snprintf(buf, sizeof buf, "+%#llx", static_cast<unsigned long long>(off));
  return s->name + buf;
}

SymbolTable SymbolTable::Relocated(uint64_t delta) const {
  SymbolTable t = *this;
  for (KernelSymbol& s : t.syms_)
    if (!s.IsAbsolute()) s.address += delta;
  // Absolute symbols may now sort differently relative to the others.
  t.Finish();
  return t;
}

// ---- kallsyms ----

namespace {

constexpr char kDigitTokens[] = "0\0" "1\0" "2\0" "3\0" "4\0" "5\0" "6\0" "7\0" "8\0" "9";  // + final NUL
constexpr size_t kDigitTokensLen = sizeof kDigitTokens;  // 20 bytes, the last NUL included
constexpr uint64_t kKernelHalf = 0xffff800000000000ull;

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

uint64_t AlignUp(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

// Reads [va, va + n) whole, or nothing.
std::optional<std::vector<uint8_t>> ReadAll(const MemoryReader& read, uint64_t va, size_t n) {
  std::vector<uint8_t> buf(n);
  if (n && !read(va, buf.data(), n)) return std::nullopt;
  return buf;
}

// Reads as much of [va, va + n) as is readable, page by page; unreadable
// pages are zeros.
std::vector<uint8_t> ReadBest(const MemoryReader& read, uint64_t va, size_t n) {
  std::vector<uint8_t> buf(n, 0);
  if (n == 0 || read(va, buf.data(), n)) return buf;
  uint64_t pos = va;
  while (pos < va + n) {
    const uint64_t page_end = std::min<uint64_t>((pos | 0xfff) + 1, va + n);
    if (!read(pos, buf.data() + (pos - va), page_end - pos)) std::memset(buf.data() + (pos - va), 0, page_end - pos);
    pos = page_end;
  }
  return buf;
}

// The token table whose digit tokens start at `digits`, and its index.
bool FindTokenTables(const MemoryReader& read, uint64_t digits, uint64_t* table, uint64_t* index) {
  // The whole table is a few KiB; the index follows it.
  constexpr uint64_t kWindow = 16384;
  const uint64_t lo = digits >= kWindow ? digits - kWindow : 0;
  std::vector<uint8_t> w = ReadBest(read, lo, 2 * kWindow);
  auto at = [&](uint64_t va) -> const uint8_t* { return w.data() + (va - lo); };
  const uint64_t hi = lo + w.size();
  for (uint64_t q = AlignUp(digits + kDigitTokensLen, 8); q + 512 <= hi; q += 8) {
    uint16_t idx[256];
    std::memcpy(idx, at(q), sizeof idx);
    if (idx[0] != 0) continue;
    bool ok = true;
    for (unsigned i = 1; i < 256 && ok; ++i) ok = idx[i] > idx[i - 1];
    for (unsigned d = '1'; d <= '9' && ok; ++d) ok = idx[d] == idx[d - 1] + 2;
    if (!ok || idx['0'] > digits - lo) continue;
    const uint64_t t = digits - idx['0'];
    if (t % 8 != 0) continue;
    // Every token must end where the next begins, the last before the index.
    for (unsigned i = 0; i < 256 && ok; ++i) {
      const uint64_t start = t + idx[i];
      const uint64_t end = i < 255 ? t + idx[i + 1] - 1 : 0;
      if (i < 255) {
        ok = end > start && end < hi && *at(end) == 0 && std::memchr(at(start), 0, end - start) == nullptr;
      } else {
        if (start >= q) {
          ok = false;
          break;
        }
        const void* nul = std::memchr(at(start), 0, q - start);
        ok = nul != nullptr && nul != at(start) &&
             AlignUp(static_cast<uint64_t>(static_cast<const uint8_t*>(nul) - at(start)) + start + 1, 8) == q;
      }
    }
    if (!ok) continue;
    *table = t;
    *index = q;
    return true;
  }
  return false;
}

// Length of names entry at p (1 or 2 length bytes + tokens); 0 past the end.
size_t NameEntryLength(const uint8_t* p, const uint8_t* end, size_t* header) {
  if (p >= end) return 0;
  size_t len = p[0];
  *header = 1;
  if (len & 0x80) {
    if (p + 1 >= end) return 0;
    len = (len & 0x7f) | (static_cast<size_t>(p[1]) << 7);
    *header = 2;
  }
  return len;
}

// Given the markers [markers, markers_end), finds kallsyms_num_syms before
// the names and checks the names against the markers.
bool FindNames(const MemoryReader& read, uint64_t markers, const std::vector<uint32_t>& marks, KallsymsTables* t) {
  const uint64_t last = marks.back();
  // The last 256 (or fewer) entries: at most 256 * (2 + 511) bytes.
  const uint64_t span = last + 256 * 513 + 16;
  const uint64_t lo = markers > span ? markers - span : 0;
  std::vector<uint8_t> buf = ReadBest(read, lo, markers - lo);
  const uint8_t* end = buf.data() + buf.size();
  for (uint64_t p = (markers - 8) & ~7ull; p >= lo + 8 && markers - p <= span; p -= 8) {
    const uint8_t* np = buf.data() + (p - lo);
    const uint32_t n = Load<uint32_t>(np);
    if (n == 0 || (n + 255) / 256 != marks.size() || Load<uint32_t>(np + 4) != 0) continue;
    // Names start at p + 8 and must reach the markers (within alignment).
    if (markers - (p + 8) <= last) continue;
    const uint8_t* names = np + 8;
    size_t off = 0;
    bool ok = true;
    for (uint32_t i = 0; i < n && ok; ++i) {
      if ((i & 0xff) == 0 && marks[i >> 8] != off) ok = false;
      size_t header = 0;
      const size_t len = NameEntryLength(names + off, end, &header);
      if (len == 0) ok = false;
      off += header + len;
      if (names + off > end) ok = false;
    }
    if (!ok) continue;
    const uint64_t names_end = p + 8 + off;
    if (names_end > markers || markers - names_end >= 8) continue;
    t->num_syms_at = p;
    t->num_syms = n;
    t->names = p + 8;
    return true;
  }
  return false;
}

// The offsets and relative base, in one of the two layouts; checked by the
// addresses they give being sorted.
bool FindOffsets(const MemoryReader& read, KallsymsTables* t) {
  const uint64_t n = t->num_syms;
  const uint64_t table_bytes = AlignUp(n * 4, 8);
  struct Layout {
    uint64_t offsets, base_at;
  };
  std::vector<Layout> layouts;
  if (t->num_syms_at >= 8 + table_bytes)
    layouts.push_back({t->num_syms_at - 8 - table_bytes, t->num_syms_at - 8});  // up to 6.3
  const uint64_t after = AlignUp(t->token_index + 512, 8);
  layouts.push_back({after, AlignUp(after + n * 4, 8)});  // 6.4 on
  for (const Layout& l : layouts) {
    uint64_t base = 0;
    if (!read(l.base_at, &base, 8) || base < kKernelHalf || (base & 0xfff) != 0) continue;
    auto raw = ReadAll(read, l.offsets, n * 4);
    if (!raw) continue;
    const int32_t* offs = reinterpret_cast<const int32_t*>(raw->data());
    // With absolute per-CPU symbols nearly every offset is negative.
    size_t negative = 0;
    for (uint64_t i = 0; i < n; ++i) negative += offs[i] < 0;
    const bool abs_percpu = negative > n / 2;
    bool sorted = true;
    uint64_t prev = 0;
    for (uint64_t i = 0; i < n && sorted; ++i) {
      uint64_t a;
      if (!abs_percpu)
        a = base + static_cast<uint32_t>(offs[i]);
      else if (offs[i] >= 0)
        a = static_cast<uint64_t>(offs[i]);
      else
        a = base - 1 - static_cast<uint64_t>(static_cast<int64_t>(offs[i]));
      sorted = a >= prev;
      prev = a;
    }
    if (!sorted) continue;
    t->offsets = l.offsets;
    t->relative_base_at = l.base_at;
    t->relative_base = base;
    t->absolute_percpu = abs_percpu;
    return true;
  }
  return false;
}

// The markers that end at `end` (the last one just below it): a strictly
// increasing run of u32 from 0 whose start is 8-aligned. Empty if none.
std::vector<uint32_t> MarkersEndingAt(const std::vector<uint8_t>& buf, uint64_t lo, uint64_t end, uint64_t* start) {
  std::vector<uint32_t> marks;
  uint64_t p = end;
  while (p >= lo + 4) {
    p -= 4;
    const uint32_t v = Load<uint32_t>(buf.data() + (p - lo));
    if (!marks.empty() && v >= marks.back()) return {};
    marks.push_back(v);
    if (v == 0) {
      if (p % 8 != 0) return {};
      std::reverse(marks.begin(), marks.end());
      *start = p;
      return marks;
    }
  }
  return {};
}

// Everything else, given the token table at `table`.
bool CompleteTables(const MemoryReader& read, KallsymsTables* t) {
  // Up to 6.1 and from 6.4 on, the markers end at the token table (or 4
  // bytes before it: alignment). 6.2 and 6.3 (and 6.1 stable kernels that
  // took the backport, such as Debian's 6.1.1xx) put kallsyms_seqs_of_names
  // in between: 3 bytes per symbol, so the markers end about 3 * num_syms
  // before the token table, with ceil(num_syms / 256) of them.
  constexpr uint64_t kMaxSyms = 1u << 21;
  const uint64_t window = 3 * kMaxSyms + 64 * 1024;
  const uint64_t lo = t->token_table > window ? t->token_table - window : 0;
  std::vector<uint8_t> buf = ReadBest(read, lo, t->token_table - lo);
  auto try_markers = [&](uint64_t end, int64_t seq_bytes) {
    uint64_t start = 0;
    std::vector<uint32_t> marks = MarkersEndingAt(buf, lo, end, &start);
    if (marks.empty()) return false;
    if (seq_bytes >= 0) {
      // ceil(n / 256) markers for the n that fills the gap with 3n bytes.
      const uint64_t n_max = static_cast<uint64_t>(seq_bytes) / 3;
      const uint64_t n_min = seq_bytes >= 8 ? (static_cast<uint64_t>(seq_bytes) - 7 + 2) / 3 : 0;
      if ((n_max + 255) / 256 != marks.size() && (n_min + 255) / 256 != marks.size()) return false;
    }
    if (!FindNames(read, start, marks, t)) return false;
    if (seq_bytes >= 0 && AlignUp(AlignUp(end, 8) + 3ull * t->num_syms, 8) != t->token_table) return false;
    t->markers = start;
    return FindOffsets(read, t);
  };
  for (uint64_t end : {t->token_table, t->token_table - 4})
    if (try_markers(end, -1)) return true;
  for (uint64_t end = t->token_table - 8; end >= lo + 8; end -= 4) {
    if (Load<uint32_t>(buf.data() + (end - 4 - lo)) == 0) continue;  // the last marker is not 0 (beyond 256 symbols)
    if (try_markers(end, static_cast<int64_t>(t->token_table - AlignUp(end, 8)))) return true;
  }
  return false;
}

}  // namespace

bool FindKallsyms(const MemoryReader& read, uint64_t begin, uint64_t end, KallsymsTables* tables,
                  std::string* error) {
  constexpr uint64_t kChunk = 1 << 20;
  for (uint64_t pos = begin; pos < end;) {
    const uint64_t n = std::min(kChunk + kDigitTokensLen, end - pos);
    std::vector<uint8_t> buf = ReadBest(read, pos, n);
    const uint8_t* p = buf.data();
    const uint8_t* const stop = buf.data() + buf.size();
    while (p < stop) {
      const void* hit = memmem(p, static_cast<size_t>(stop - p), kDigitTokens, kDigitTokensLen);
      if (!hit) break;
      const uint64_t digits = pos + static_cast<uint64_t>(static_cast<const uint8_t*>(hit) - buf.data());
      KallsymsTables t;
      if (FindTokenTables(read, digits, &t.token_table, &t.token_index) && CompleteTables(read, &t)) {
        *tables = t;
        return true;
      }
      p = static_cast<const uint8_t*>(hit) + 1;
    }
    if (n < kChunk) break;
    pos += kChunk;
  }
  *error = "no kallsyms tables found (a kernel without CONFIG_KALLSYMS, or not a Linux kernel)";
  return false;
}

bool DecodeKallsyms(const MemoryReader& read, const KallsymsTables& t, SymbolTable* out, std::string* error) {
  auto tokens_raw = ReadAll(read, t.token_table, t.token_index - t.token_table);
  auto index_raw = ReadAll(read, t.token_index, 512);
  auto names_raw = ReadAll(read, t.names, t.markers - t.names);
  auto offsets_raw = ReadAll(read, t.offsets, uint64_t{t.num_syms} * 4);
  if (!tokens_raw || !index_raw || !names_raw || !offsets_raw) {
    *error = "the kallsyms tables are no longer readable";
    return false;
  }
  std::string tokens[256];
  for (unsigned i = 0; i < 256; ++i) {
    const uint16_t off = Load<uint16_t>(index_raw->data() + 2 * i);
    if (off >= tokens_raw->size()) {
      *error = "kallsyms: token index out of range";
      return false;
    }
    const char* text = reinterpret_cast<const char*>(tokens_raw->data() + off);
    tokens[i].assign(text, strnlen(text, tokens_raw->size() - off));
  }
  const uint8_t* names = names_raw->data();
  const uint8_t* names_end = names + names_raw->size();
  const int32_t* offs = reinterpret_cast<const int32_t*>(offsets_raw->data());
  SymbolTable table;
  size_t off = 0;
  std::string name;
  for (uint32_t i = 0; i < t.num_syms; ++i) {
    size_t header = 0;
    const size_t len = NameEntryLength(names + off, names_end, &header);
    if (len == 0 || names + off + header + len > names_end) {
      *error = "kallsyms: names table ends early";
      return false;
    }
    name.clear();
    for (size_t k = 0; k < len; ++k) name += tokens[names[off + header + k]];
    off += header + len;
    if (name.size() < 2) continue;
    uint64_t address;
    if (!t.absolute_percpu)
      address = t.relative_base + static_cast<uint32_t>(offs[i]);
    else if (offs[i] >= 0)
      address = static_cast<uint64_t>(offs[i]);
    else
      address = t.relative_base - 1 - static_cast<uint64_t>(static_cast<int64_t>(offs[i]));
    char type = name[0];
    // Per-CPU variables are offsets into each CPU's area: numbers, not places.
    if (t.absolute_percpu && offs[i] >= 0 && type != 'A' && type != 'a') type = (type >= 'a') ? 'a' : 'A';
    table.Add(address, type, name.substr(1));
  }
  table.Finish();
  *out = std::move(table);
  return true;
}

// ---- System.map and ELF ----

bool ParseSystemMap(std::string_view text, SymbolTable* out, std::string* error) {
  SymbolTable table;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.find("The real System.map is in the linux-image-") != std::string_view::npos) {
      *error = "this is Debian's placeholder System.map: " + std::string(line.substr(line.find("The real"))) +
               " (or leave out --symbols: xlat reads the kernel's own kallsyms tables)";
      return false;
    }
    // "address type name [\t[module]]"
    const size_t sp1 = line.find(' ');
    const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp1 == std::string_view::npos || sp2 != sp1 + 2 || sp1 == 0 || sp1 > 16) {
      *error = "line " + std::to_string(line_no) + " is not \"address type name\"";
      return false;
    }
    uint64_t address = 0;
    for (char c : line.substr(0, sp1)) {
      const int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (d < 0) {
        *error = "line " + std::to_string(line_no) + ": bad address";
        return false;
      }
      address = (address << 4) | static_cast<uint64_t>(d);
    }
    std::string_view name = line.substr(sp2 + 1);
    name = name.substr(0, name.find_first_of(" \t"));
    if (name.empty()) continue;
    table.Add(address, line[sp1 + 1], std::string(name));
  }
  if (table.empty()) {
    *error = "no symbols in it";
    return false;
  }
  table.Finish();
  *out = std::move(table);
  return true;
}

bool ParseElfSymbols(std::span<const uint8_t> f, SymbolTable* out, std::string* error) {
  auto fits = [&f](uint64_t off, uint64_t len) { return off <= f.size() && len <= f.size() - off; };
  if (f.size() < 64 || std::memcmp(f.data(), "\x7f" "ELF", 4) != 0 || f[4] != 2 || f[5] != 1) {
    *error = "not a little-endian ELF64 file";
    return false;
  }
  const uint64_t shoff = Load<uint64_t>(&f[0x28]);
  const uint16_t shentsize = Load<uint16_t>(&f[0x3a]), shnum = Load<uint16_t>(&f[0x3c]);
  if (shentsize < 64 || !fits(shoff, uint64_t{shentsize} * shnum)) {
    *error = "bad section header table";
    return false;
  }
  struct Shdr {
    uint32_t type;
    uint64_t flags, offset, size, entsize;
    uint32_t link;
  };
  auto shdr = [&](unsigned i) {
    const uint8_t* p = &f[shoff + uint64_t{i} * shentsize];
    return Shdr{Load<uint32_t>(p + 4), Load<uint64_t>(p + 8), Load<uint64_t>(p + 24), Load<uint64_t>(p + 32),
                Load<uint64_t>(p + 56), Load<uint32_t>(p + 40)};
  };
  SymbolTable table;
  for (unsigned i = 0; i < shnum; ++i) {
    const Shdr s = shdr(i);
    if (s.type != 2 /*SHT_SYMTAB*/) continue;
    if (s.link >= shnum || !fits(s.offset, s.size)) break;
    const Shdr strtab = shdr(s.link);
    if (!fits(strtab.offset, strtab.size)) break;
    for (uint64_t off = 24; off + 24 <= s.size; off += 24) {  // entry 0 is null
      const uint8_t* e = &f[s.offset + off];
      const uint32_t name_off = Load<uint32_t>(e);
      const uint8_t info = e[4];
      const uint16_t shndx = Load<uint16_t>(e + 6);
      const uint64_t value = Load<uint64_t>(e + 8);
      const unsigned type = info & 15, bind = info >> 4;
      if (type == 3 /*SECTION*/ || type == 4 /*FILE*/ || name_off >= strtab.size || shndx == 0 /*UNDEF*/) continue;
      const char* name = reinterpret_cast<const char*>(&f[strtab.offset + name_off]);
      const size_t max_len = strtab.size - name_off;
      const size_t len = strnlen(name, max_len);
      if (len == 0 || len == max_len) continue;
      char letter = 'd';
      if (shndx == 0xfff1 /*ABS*/) {
        letter = 'a';
      } else if (shndx < shnum) {
        const Shdr sec = shdr(shndx);
        if (sec.flags & 4 /*EXECINSTR*/)
          letter = 't';
        else if (sec.type == 8 /*NOBITS*/)
          letter = 'b';
        else if (!(sec.flags & 1 /*WRITE*/))
          letter = 'r';
      }
      if (bind == 1 /*GLOBAL*/) letter = static_cast<char>(letter - 'a' + 'A');
      if (bind == 2 /*WEAK*/) letter = type == 1 /*OBJECT*/ ? 'V' : 'W';
      table.Add(value, letter, std::string(name, len));
    }
    break;
  }
  if (table.empty()) {
    *error = "the ELF file has no symbol table (a stripped vmlinux?)";
    return false;
  }
  table.Finish();
  *out = std::move(table);
  return true;
}

bool ParseSymbolFile(std::span<const uint8_t> file, SymbolTable* out, std::string* error) {
  if (file.size() >= 4 && std::memcmp(file.data(), "\x7f" "ELF", 4) == 0) return ParseElfSymbols(file, out, error);
  return ParseSystemMap(std::string_view(reinterpret_cast<const char*>(file.data()), file.size()), out, error);
}

}  // namespace xlat
