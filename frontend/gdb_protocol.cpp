#include "frontend/gdb_protocol.h"

namespace xlat::gdb {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

void PacketParser::Feed(std::string_view bytes) {
  for (char c : bytes) Step(c);
}

void PacketParser::Step(char c) {
  switch (state_) {
    case State::kIdle:
      if (c == '$') {
        payload_.clear();
        sum_ = 0;
        state_ = State::kPayload;
      } else if (c == '\x03') {
        ready_.push_back({Event::Kind::kInterrupt, {}});
      } else if (c == '+') {
        ready_.push_back({Event::Kind::kAck, {}});
      } else if (c == '-') {
        ready_.push_back({Event::Kind::kNack, {}});
      }
      return;
    case State::kPayload:
      if (c == '#') {
        state_ = State::kChecksum1;
      } else {
        payload_ += c;
        sum_ = static_cast<uint8_t>(sum_ + static_cast<uint8_t>(c));
      }
      return;
    case State::kChecksum1:
      checksum_hi_ = HexDigit(c);
      state_ = State::kChecksum2;
      return;
    case State::kChecksum2: {
      const int lo = HexDigit(c);
      const bool ok = checksum_hi_ >= 0 && lo >= 0 && ((checksum_hi_ << 4) | lo) == sum_;
      ready_.push_back({ok ? Event::Kind::kPacket : Event::Kind::kBadPacket, std::move(payload_)});
      payload_.clear();
      state_ = State::kIdle;
      return;
    }
  }
}

std::optional<Event> PacketParser::Next() {
  if (next_ >= ready_.size()) {
    ready_.clear();
    next_ = 0;
    return std::nullopt;
  }
  return std::move(ready_[next_++]);
}

std::string FramePacket(std::string_view payload) {
  uint8_t sum = 0;
  for (char c : payload) sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(c));
  std::string out;
  out.reserve(payload.size() + 4);
  out += '$';
  out += payload;
  out += '#';
  out += kHex[sum >> 4];
  out += kHex[sum & 15];
  return out;
}

std::string EscapeBinary(std::span<const uint8_t> data) {
  std::string out;
  out.reserve(data.size() + data.size() / 16);
  for (uint8_t b : data) {
    if (b == '#' || b == '$' || b == '}' || b == '*') {
      out += '}';
      out += static_cast<char>(b ^ 0x20);
    } else {
      out += static_cast<char>(b);
    }
  }
  return out;
}

bool UnescapeBinary(std::string_view text, std::vector<uint8_t>* out) {
  out->clear();
  out->reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '}') {
      if (++i >= text.size()) return false;
      out->push_back(static_cast<uint8_t>(text[i] ^ 0x20));
    } else {
      out->push_back(static_cast<uint8_t>(text[i]));
    }
  }
  return true;
}

std::string ToHex(std::span<const uint8_t> data) {
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string ToHex(std::string_view text) {
  return ToHex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

bool FromHex(std::string_view hex, std::vector<uint8_t>* out) {
  out->clear();
  if (hex.size() % 2) return false;
  out->reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = HexDigit(hex[i]), lo = HexDigit(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<uint8_t>((hi << 4) | lo));
  }
  return true;
}

bool ParseHexNumber(std::string_view text, uint64_t* value) {
  if (text.empty()) return false;
  // Leading zeros do not count against the 16-digit limit.
  while (text.size() > 1 && text[0] == '0') text.remove_prefix(1);
  if (text.size() > 16) return false;
  uint64_t v = 0;
  for (char c : text) {
    const int d = HexDigit(c);
    if (d < 0) return false;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *value = v;
  return true;
}

std::string HexNumber(uint64_t value) {
  if (value == 0) return "0";
  std::string out;
  while (value) {
    out.insert(out.begin(), kHex[value & 15]);
    value >>= 4;
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    const size_t end = text.find(separator, start);
    if (end == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

std::string XferReply(std::string_view document, uint64_t offset, uint64_t length) {
  if (offset >= document.size()) return "l";
  // `length` bounds the data as sent, escapes included (one byte over at most):
  // gdb sized it to its packet buffer.
  std::string data;
  size_t i = offset;
  for (; i < document.size() && data.size() < length; ++i) {
    const uint8_t b = static_cast<uint8_t>(document[i]);
    if (b == '#' || b == '$' || b == '}' || b == '*') {
      data += '}';
      data += static_cast<char>(b ^ 0x20);
    } else {
      data += static_cast<char>(b);
    }
  }
  return (i >= document.size() ? "l" : "m") + data;
}

}  // namespace xlat::gdb
