// The gdb stub's packets: one handler per request, each returning the reply.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "frontend/gdb_protocol.h"
#include "frontend/gdb_registers.h"
#include "frontend/gdb_server.h"
#include "mmu/guest_ram.h"

namespace xlat {

using gdb::Action;

namespace {

using gdb::kPacketSize;
// gdb's File-I/O errno values (its "Protocol-specific Representation of Datatypes").
constexpr int kFioEnoent = 2, kFioEbadf = 9, kFioEacces = 13, kFioEinval = 22;

std::string FileIoError(int fio_errno) { return "F-1," + gdb::HexNumber(static_cast<uint64_t>(fio_errno)); }

void PutBe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
void PutBe64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}

}  // namespace

// One packet: the first entry whose name starts it (or is it, for exact
// ones) answers; anything else gets the empty reply, which tells gdb the
// request is not supported.
Action GdbServer::Handle(const std::string& packet) {
  // args: the packet after the name.
  using V = std::string_view;
  using Fn = Action (*)(GdbServer& s, V packet, V args);
  struct Entry {
    V name;
    bool exact;
    Fn fn;
  };
  static const Entry kTable[] = {
      {"qSupported", false, [](GdbServer& s, V, V) { return s.Answer(s.QuerySupported()); }},
      {"QStartNoAckMode", true,
       [](GdbServer& s, V, V) {
         s.Answer("OK");
         s.client_->no_ack = true;
         return Action::kNone;
       }},
      {"qAttached", false, [](GdbServer& s, V, V) { return s.Answer("1"); }},
      {"qC", true, [](GdbServer& s, V, V) { return s.Answer("QC1"); }},
      {"qfThreadInfo", true, [](GdbServer& s, V, V) { return s.Answer("m1"); }},
      {"qsThreadInfo", true, [](GdbServer& s, V, V) { return s.Answer("l"); }},
      {"qThreadExtraInfo,", false,
       [](GdbServer& s, V, V) {
         return s.Answer(gdb::ToHex(s.vcpu_->ctx().cpl == 3 ? "CPU 0 (user)" : "CPU 0 (kernel)"));
       }},
      {"qSymbol::", true, [](GdbServer& s, V, V) { return s.Answer("OK"); }},
      {"qXfer:", false, [](GdbServer& s, V, V a) { return s.Answer(s.Xfer(a)); }},
      {"vFile:", false, [](GdbServer& s, V, V a) { return s.Answer(s.FileIo(a)); }},
      {"vCont?", true, [](GdbServer& s, V, V) { return s.Answer("vCont;c;C;s;S"); }},
      {"vCont;", false, [](GdbServer& s, V p, V) { return s.ResumeCommand(p); }},
      {"vKill", false,
       [](GdbServer& s, V, V) {
         s.Answer("OK");
         return Action::kKill;
       }},
      {"?", true, [](GdbServer& s, V, V) { return s.Answer(s.last_stop_reply_); }},
      {"g", true,
       [](GdbServer& s, V, V) {
         return s.Answer(gdb::ToHex(gdb::ReadAllRegisters(s.vcpu_->ctx())));
       }},
      {"G", false, [](GdbServer& s, V, V a) { return s.Answer(s.WriteRegisters(a)); }},
      {"p", false, [](GdbServer& s, V, V a) { return s.Answer(s.ReadOneRegister(a)); }},
      {"P", false, [](GdbServer& s, V, V a) { return s.Answer(s.WriteOneRegister(a)); }},
      {"m", false, [](GdbServer& s, V, V a) { return s.Answer(s.ReadMemory(a)); }},
      {"M", false, [](GdbServer& s, V, V a) { return s.Answer(s.WriteMemory(a, false)); }},
      {"X", false, [](GdbServer& s, V, V a) { return s.Answer(s.WriteMemory(a, true)); }},
      {"Z", false, [](GdbServer& s, V, V a) { return s.Answer(s.BreakOrWatch(a, true)); }},
      {"z", false, [](GdbServer& s, V, V a) { return s.Answer(s.BreakOrWatch(a, false)); }},
      {"H", false, [](GdbServer& s, V, V) { return s.Answer("OK"); }},  // one thread
      {"T", false,
       [](GdbServer& s, V, V a) { return s.Answer(a == "1" || a == "01" ? "OK" : "E01"); }},
      {"k", false, [](GdbServer&, V, V) { return Action::kKill; }},  // no reply
      {"D", false,
       [](GdbServer& s, V, V) {
         s.Answer("OK");
         return Action::kDetach;
       }},
      {"c", false, [](GdbServer& s, V p, V) { return s.ResumeCommand(p); }},
      {"C", false, [](GdbServer& s, V p, V) { return s.ResumeCommand(p); }},
      {"s", false, [](GdbServer& s, V p, V) { return s.ResumeCommand(p); }},
      {"S", false, [](GdbServer& s, V p, V) { return s.ResumeCommand(p); }},
  };
  const std::string_view p(packet);
  for (const Entry& e : kTable) {
    if (e.exact ? p == e.name : p.substr(0, e.name.size()) == e.name) return e.fn(*this, p, p.substr(e.name.size()));
  }
  return Answer("");
}

std::string GdbServer::QuerySupported() {
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "PacketSize=%x;qXfer:features:read+;qXfer:exec-file:read+;swbreak+;hwbreak+;vContSupported+;"
                "QStartNoAckMode+",
                kPacketSize);
  return buf;
}

// c [addr], s [addr], C sig[;addr], S sig[;addr], vCont;action[:thread]... (signals are not delivered).
Action GdbServer::ResumeCommand(std::string_view p) {
  bool step = false;
  std::string_view address;
  if (p.substr(0, 6) == "vCont;") {
    for (std::string_view action : gdb::Split(p.substr(6), ';')) {
      const char a = action.empty() ? 0 : action[0];
      if (a == 's' || a == 'S') step = true;
      else if (a != 'c' && a != 'C') {
        Reply("E01");  // t, r: not supported
        return Action::kNone;
      }
    }
  } else {
    step = p[0] == 's' || p[0] == 'S';
    std::string_view rest = p.substr(1);
    if (p[0] == 'C' || p[0] == 'S') {
      const size_t semi = rest.find(';');
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
    }
    address = rest;
  }
  if (!address.empty()) {
    uint64_t rip;
    if (!gdb::ParseHexNumber(address, &rip)) {
      Reply("E01");
      return Action::kNone;
    }
    vcpu_->ctx().rip = rip;
  }
  return step ? Action::kStep : Action::kContinue;
}

std::string GdbServer::ReadMemory(std::string_view args) {
  const auto parts = gdb::Split(args, ',');
  uint64_t address, length;
  if (parts.size() != 2 || !gdb::ParseHexNumber(parts[0], &address) || !gdb::ParseHexNumber(parts[1], &length))
    return "E01";
  length = std::min<uint64_t>(length, kPacketSize / 2 - 8);
  std::vector<uint8_t> data;
  uint8_t piece[4096];
  while (data.size() < length) {
    const uint64_t va = address + data.size();
    const size_t n = static_cast<size_t>(std::min<uint64_t>(length - data.size(), 4096 - (va & 0xfff)));
    // Through the guest's page tables; else, for the kernel image before its
    // own page tables map it, from where the kernel lies in RAM.
    if (!vcpu_->DebugRead(va, piece, n) && !(symbols_ && symbols_->ReadImage(vcpu_->ram(), va, piece, n))) break;
    data.insert(data.end(), piece, piece + n);
  }
  if (data.empty() && length) return "E14";
  return gdb::ToHex(data);
}

std::string GdbServer::WriteMemory(std::string_view args, bool binary) {
  const size_t colon = args.find(':');
  if (colon == std::string_view::npos) return "E01";
  const auto parts = gdb::Split(args.substr(0, colon), ',');
  uint64_t address, length;
  if (parts.size() != 2 || !gdb::ParseHexNumber(parts[0], &address) || !gdb::ParseHexNumber(parts[1], &length))
    return "E01";
  std::vector<uint8_t> data;
  const std::string_view text = args.substr(colon + 1);
  const bool ok = binary ? gdb::UnescapeBinary(text, &data) : gdb::FromHex(text, &data);
  if (!ok || data.size() != length) return "E01";
  // Page by page (Vcpu::DebugWrite copies at most three pages), all checked
  // readable first so that a write to a hole changes nothing.
  uint8_t probe;
  for (uint64_t off = 0; off < length; off = (((address + off) | 0xfff) + 1) - address)
    if (!vcpu_->DebugRead(address + off, &probe, 1)) return "E14";
  for (uint64_t off = 0; off < length;) {
    const size_t piece = static_cast<size_t>(std::min<uint64_t>(length - off, 4096 - ((address + off) & 0xfff)));
    if (!vcpu_->DebugWrite(address + off, data.data() + off, piece)) return "E14";
    off += piece;
  }
  return "OK";
}

// Z/z type,addr,kind: 0 and 1 breakpoints, 2 write, 3 read, 4 access watchpoints.
std::string GdbServer::BreakOrWatch(std::string_view args, bool insert) {
  const auto parts = gdb::Split(args.substr(0, args.find(';')), ',');
  uint64_t type, address, kind;
  if (parts.size() != 3 || !gdb::ParseHexNumber(parts[0], &type) || !gdb::ParseHexNumber(parts[1], &address) ||
      !gdb::ParseHexNumber(parts[2], &kind) || type > 4)
    return "E01";
  if (type <= 1) {
    if (insert)
      user_breakpoints_[address] = static_cast<uint8_t>(type);
    else
      user_breakpoints_.erase(address);
    return "OK";
  }
  if (kind == 0 || kind > (1u << 20)) return "E01";
  const Watch w{address, kind, type == 2 ? WatchKind::kWrite : type == 3 ? WatchKind::kRead : WatchKind::kAccess};
  auto it = std::find(user_watches_.begin(), user_watches_.end(), w);
  if (insert && it == user_watches_.end()) user_watches_.push_back(w);
  if (!insert && it != user_watches_.end()) user_watches_.erase(it);
  return "OK";
}

std::string GdbServer::ReadOneRegister(std::string_view args) {
  uint64_t n;
  std::vector<uint8_t> value;
  if (!gdb::ParseHexNumber(args, &n) || !gdb::ReadRegister(vcpu_->ctx(), static_cast<unsigned>(n), &value))
    return "E01";
  return gdb::ToHex(value);
}

std::string GdbServer::WriteOneRegister(std::string_view args) {
  const size_t eq = args.find('=');
  uint64_t n;
  std::vector<uint8_t> value;
  if (eq == std::string_view::npos || !gdb::ParseHexNumber(args.substr(0, eq), &n) ||
      !gdb::FromHex(args.substr(eq + 1), &value))
    return "E01";
  switch (gdb::WriteRegister(vcpu_->ctx(), static_cast<unsigned>(n), value)) {
    case gdb::WriteResult::kOk: return "OK";
    case gdb::WriteResult::kFlushTranslations: vcpu_->FlushTranslations(); return "OK";
    default: return "E01";
  }
}

std::string GdbServer::WriteRegisters(std::string_view hex) {
  std::vector<uint8_t> file;
  bool flush = false;
  if (!gdb::FromHex(hex, &file) || !gdb::WriteAllRegisters(vcpu_->ctx(), file, &flush)) return "E01";
  if (flush) vcpu_->FlushTranslations();
  return "OK";
}

// The file gdb loads as the program: the kernel symbols' file (or the ELF kernel).
const std::string& GdbServer::ExecFile() {
  if (!elf_path_.empty()) return elf_path_;
  if (symbols_ && !symbols_->ready() && !symbols_->searching()) {
    std::string message;
    if (symbols_->FindInGuestMemory(*vcpu_, &message)) Note(message);
  }
  exec_file_ = symbols_ ? symbols_->symbol_file() : std::string();
  return exec_file_;
}

// qXfer:OBJECT:read:ANNEX:OFFSET,LENGTH
std::string GdbServer::Xfer(std::string_view args) {
  const auto parts = gdb::Split(args, ':');
  if (parts.size() != 4 || parts[1] != "read") return "";
  const auto range = gdb::Split(parts[3], ',');
  uint64_t offset, length;
  if (range.size() != 2 || !gdb::ParseHexNumber(range[0], &offset) || !gdb::ParseHexNumber(range[1], &length))
    return "E01";
  length = std::min<uint64_t>(length, kPacketSize - 16);
  if (parts[0] == "features") {
    if (parts[2] != "target.xml") return "E00";
    return gdb::XferReply(gdb::TargetXml(), offset, length);
  }
  if (parts[0] == "exec-file") {
    const std::string& path = ExecFile();
    if (path.empty()) return "E00";
    return gdb::XferReply(path, offset, length);
  }
  return "";
}

// Host I/O, read-only and only for the file ExecFile() names: gdb fetches it
// this way when it runs elsewhere (or cannot assume it shares our files).
std::string GdbServer::FileIo(std::string_view args) {
  const size_t colon = args.find(':');
  const std::string_view op = args.substr(0, colon);
  const auto a =
      colon == std::string_view::npos ? std::vector<std::string_view>() : gdb::Split(args.substr(colon + 1), ',');
  if (op == "setfs") return "F0";
  if (op == "open") {
    std::vector<uint8_t> name;
    uint64_t flags = 0;
    if (a.size() < 2 || !gdb::FromHex(a[0], &name) || !gdb::ParseHexNumber(a[1], &flags))
      return FileIoError(kFioEinval);
    const std::string path(name.begin(), name.end());
    const std::string& served = ExecFile();
    if (served.empty() || path != served) return FileIoError(kFioEnoent);
    if (flags != 0) return FileIoError(kFioEacces);  // O_RDONLY only
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return FileIoError(kFioEnoent);
    open_files_.insert(fd);
    return "F" + gdb::HexNumber(static_cast<uint64_t>(fd));
  }
  uint64_t fd = 0;
  if (a.empty() || !gdb::ParseHexNumber(a[0], &fd) || !open_files_.count(static_cast<int>(fd)))
    return op == "pread" || op == "close" || op == "fstat" ? FileIoError(kFioEbadf) : "";
  if (op == "close") {
    ::close(static_cast<int>(fd));
    open_files_.erase(static_cast<int>(fd));
    return "F0";
  }
  if (op == "pread") {
    uint64_t count, offset;
    if (a.size() != 3 || !gdb::ParseHexNumber(a[1], &count) || !gdb::ParseHexNumber(a[2], &offset))
      return FileIoError(kFioEinval);
    // Escapes can double the data: stay within the packet size.
    std::vector<uint8_t> buf(std::min<uint64_t>(count, kPacketSize / 2 - 32));
    const ssize_t n = ::pread(static_cast<int>(fd), buf.data(), buf.size(), static_cast<off_t>(offset));
    if (n < 0) return FileIoError(kFioEinval);
    buf.resize(static_cast<size_t>(n));
    return "F" + gdb::HexNumber(static_cast<uint64_t>(n)) + ";" + gdb::EscapeBinary(buf);
  }
  if (op == "fstat") {
    struct stat st;
    if (::fstat(static_cast<int>(fd), &st) != 0) return FileIoError(kFioEbadf);
    // gdb's struct stat: big-endian, 32-bit fields but for size, blksize and blocks.
    uint8_t s[64] = {};
    PutBe32(s + 0, static_cast<uint32_t>(st.st_dev));
    PutBe32(s + 4, static_cast<uint32_t>(st.st_ino));
    PutBe32(s + 8, static_cast<uint32_t>(st.st_mode));
    PutBe32(s + 12, static_cast<uint32_t>(st.st_nlink));
    PutBe64(s + 28, static_cast<uint64_t>(st.st_size));
    PutBe64(s + 36, static_cast<uint64_t>(st.st_blksize));
    PutBe64(s + 44, static_cast<uint64_t>(st.st_blocks));
    PutBe32(s + 52, static_cast<uint32_t>(st.st_atime));
    PutBe32(s + 56, static_cast<uint32_t>(st.st_mtime));
    PutBe32(s + 60, static_cast<uint32_t>(st.st_ctime));
    return "F40;" + gdb::EscapeBinary(s);
  }
  return "";
}

}  // namespace xlat
