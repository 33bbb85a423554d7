#include "frontend/symbol_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace xlat {
namespace {

constexpr uint16_t kShnAbs = 0xfff1;
constexpr uint32_t kShtNobits = 8, kShtSymtab = 2, kShtStrtab = 3;
constexpr uint64_t kShfWrite = 1, kShfAlloc = 2, kShfExecinstr = 4;
constexpr uint8_t kSttObject = 1, kSttFunc = 2, kStbLocal = 0, kStbGlobal = 1, kStbWeak = 2;

template <typename T>
void Put(std::vector<uint8_t>& out, size_t at, T v) {
  std::memcpy(out.data() + at, &v, sizeof v);
}

template <typename T>
void Append(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof v);
  Put(out, at, v);
}

uint32_t AddString(std::vector<uint8_t>& table, std::string_view s) {
  const uint32_t at = static_cast<uint32_t>(table.size());
  table.insert(table.end(), s.begin(), s.end());
  table.push_back(0);
  return at;
}

}  // namespace

std::vector<SymbolFileSection> SectionsFromSymbols(const SymbolTable& symbols) {
  std::vector<SymbolFileSection> out;
  for (const KernelSymbol& s : symbols.symbols()) {
    if (s.IsAbsolute()) continue;
    const bool code = s.IsText();
    if (out.empty() || out.back().code != code) {
      if (!out.empty()) out.back().size = s.address - out.back().address;
      out.push_back({std::string(code ? ".text" : ".data") + "." + std::to_string(out.size()), s.address,
                     s.size ? s.size : 1, code, !code});
    } else {
      out.back().size = std::max(out.back().size, s.address + (s.size ? s.size : 1) - out.back().address);
    }
  }
  // Zero-length runs (aliases at one address) would make gdb's section map ambiguous.
  std::erase_if(out, [](const SymbolFileSection& s) { return s.size == 0; });
  return out;
}

std::vector<uint8_t> BuildSymbolFile(const SymbolTable& symbols, std::span<const SymbolFileSection> sections_in,
                                     uint64_t entry) {
  std::vector<SymbolFileSection> sections(sections_in.begin(), sections_in.end());
  std::sort(sections.begin(), sections.end(),
            [](const SymbolFileSection& a, const SymbolFileSection& b) { return a.address < b.address; });
  // The section holding an address (1-based ELF index), or SHN_ABS.
  auto section_of = [&sections](uint64_t a) -> uint16_t {
    auto it = std::upper_bound(sections.begin(), sections.end(), a,
                               [](uint64_t v, const SymbolFileSection& s) { return v < s.address; });
    if (it == sections.begin()) return kShnAbs;
    --it;
    if (a - it->address >= it->size) return kShnAbs;
    return static_cast<uint16_t>(1 + (it - sections.begin()));
  };

  std::vector<uint8_t> strtab{0}, shstrtab{0};
  std::vector<uint8_t> locals, globals;
  auto add_symbol = [&](const KernelSymbol& s) {
    const uint16_t shndx = section_of(s.address);
    const bool in_code = shndx != kShnAbs && sections[shndx - 1].code;
    const uint8_t type = in_code ? kSttFunc : kSttObject;
    const bool weak = s.type == 'W' || s.type == 'w' || s.type == 'V' || s.type == 'v';
    const uint8_t bind = weak ? kStbWeak : s.IsGlobal() ? kStbGlobal : kStbLocal;
    std::vector<uint8_t>& dst = bind == kStbLocal ? locals : globals;
    Append<uint32_t>(dst, AddString(strtab, s.name));
    Append<uint8_t>(dst, static_cast<uint8_t>((bind << 4) | type));
    Append<uint8_t>(dst, 0);  // default visibility
    Append<uint16_t>(dst, shndx);
    Append<uint64_t>(dst, s.address);
    Append<uint64_t>(dst, s.size);
  };
  for (const KernelSymbol& s : symbols.symbols())
    if (!s.IsAbsolute()) add_symbol(s);

  // Layout: header, .symtab, .strtab, .shstrtab, section headers.
  const uint32_t sym_count = 1 + static_cast<uint32_t>((locals.size() + globals.size()) / 24);
  const uint32_t first_global = 1 + static_cast<uint32_t>(locals.size() / 24);
  std::vector<uint32_t> sec_names;
  for (const SymbolFileSection& s : sections) sec_names.push_back(AddString(shstrtab, s.name));
  const uint32_t symtab_name = AddString(shstrtab, ".symtab");
  const uint32_t strtab_name = AddString(shstrtab, ".strtab");
  const uint32_t shstrtab_name = AddString(shstrtab, ".shstrtab");

  std::vector<uint8_t> out(64, 0);
  const uint64_t symtab_off = out.size();
  out.resize(out.size() + 24, 0);  // the null symbol
  out.insert(out.end(), locals.begin(), locals.end());
  out.insert(out.end(), globals.begin(), globals.end());
  const uint64_t strtab_off = out.size();
  out.insert(out.end(), strtab.begin(), strtab.end());
  const uint64_t shstrtab_off = out.size();
  out.insert(out.end(), shstrtab.begin(), shstrtab.end());
  while (out.size() % 8) out.push_back(0);
  const uint64_t shoff = out.size();
  const uint16_t shnum = static_cast<uint16_t>(1 + sections.size() + 3);

  auto shdr = [&out](uint32_t name, uint32_t type, uint64_t flags, uint64_t addr, uint64_t offset, uint64_t size,
                     uint32_t link, uint32_t info, uint64_t align, uint64_t entsize) {
    Append<uint32_t>(out, name);
    Append<uint32_t>(out, type);
    Append<uint64_t>(out, flags);
    Append<uint64_t>(out, addr);
    Append<uint64_t>(out, offset);
    Append<uint64_t>(out, size);
    Append<uint32_t>(out, link);
    Append<uint32_t>(out, info);
    Append<uint64_t>(out, align);
    Append<uint64_t>(out, entsize);
  };
  shdr(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  for (size_t i = 0; i < sections.size(); ++i) {
    const SymbolFileSection& s = sections[i];
    const uint64_t flags = kShfAlloc | (s.code ? kShfExecinstr : 0) | (s.writable ? kShfWrite : 0);
    shdr(sec_names[i], kShtNobits, flags, s.address, shoff, s.size, 0, 0, 1, 0);
  }
  const uint32_t strtab_index = static_cast<uint32_t>(1 + sections.size() + 1);
  shdr(symtab_name, kShtSymtab, 0, 0, symtab_off, uint64_t{sym_count} * 24, strtab_index, first_global, 8, 24);
  shdr(strtab_name, kShtStrtab, 0, 0, strtab_off, strtab.size(), 0, 0, 1, 0);
  shdr(shstrtab_name, kShtStrtab, 0, 0, shstrtab_off, shstrtab.size(), 0, 0, 1, 0);

  // The ELF header.
  static const uint8_t kIdent[16] = {0x7f, 'E', 'L', 'F', 2 /*64-bit*/, 1 /*LE*/, 1 /*version*/};
  std::memcpy(out.data(), kIdent, 16);
  Put<uint16_t>(out, 0x10, 2);   // ET_EXEC
  Put<uint16_t>(out, 0x12, 62);  // EM_X86_64
  Put<uint32_t>(out, 0x14, 1);
  Put<uint64_t>(out, 0x18, entry);
  Put<uint64_t>(out, 0x20, 0);   // no program headers
  Put<uint64_t>(out, 0x28, shoff);
  Put<uint32_t>(out, 0x30, 0);
  Put<uint16_t>(out, 0x34, 64);
  Put<uint16_t>(out, 0x36, 56);
  Put<uint16_t>(out, 0x38, 0);
  Put<uint16_t>(out, 0x3a, 64);
  Put<uint16_t>(out, 0x3c, shnum);
  Put<uint16_t>(out, 0x3e, static_cast<uint16_t>(shnum - 1));
  return out;
}

bool WriteSymbolFile(const std::string& path, const SymbolTable& symbols,
                     std::span<const SymbolFileSection> sections, uint64_t entry, std::string* error) {
  const std::vector<uint8_t> bytes = BuildSymbolFile(symbols, sections, entry);
  // Written aside and renamed: a gdb that reads the file never sees half of it.
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = "cannot write " + tmp + ": " + std::strerror(errno);
    return false;
  }
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = "cannot write " + tmp + ": " + std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return false;
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot write " + path + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace xlat
