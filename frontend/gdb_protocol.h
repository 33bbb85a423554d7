// The GDB remote serial protocol's framing, apart from any socket or CPU, so
// that it is tested on its own (tests/gdb/).
//
// On the wire (gdb's "Remote Protocol" appendix, "Overview"):
//   $<payload>#<two hex digits: sum of the payload bytes mod 256>
// answered by '+' (received well) or '-' (send again) until both sides agree
// to QStartNoAckMode. A lone 0x03 byte outside a packet is an interrupt
// (Ctrl-C in gdb). In binary payloads (X, qXfer and vFile replies) the bytes
// '#', '$', '}' and '*' are sent as '}' followed by the byte XOR 0x20;
// replies may also be run-length encoded ("x*" + (n + 29)), which gdb never
// sends and this stub never uses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace xlat::gdb {

// What the byte stream from gdb held.
struct Event {
  enum class Kind {
    kPacket,     // a well-formed packet: payload (checksum verified, escapes kept)
    kBadPacket,  // a packet whose checksum did not match: answer '-'
    kInterrupt,  // 0x03 outside a packet
    kAck,        // '+'
    kNack,       // '-': send the last packet again
  };
  Kind kind = Kind::kPacket;
  std::string payload;
};

// Incremental parser: feed it whatever recv() returned, take events out.
// Noise between packets (other than + - 0x03) is ignored, as gdbserver does.
class PacketParser {
 public:
  void Feed(std::string_view bytes);
  // The next complete event, if any.
  std::optional<Event> Next();
  // True while part of a packet has been received.
  bool InPacket() const { return state_ != State::kIdle; }

 private:
  enum class State { kIdle, kPayload, kChecksum1, kChecksum2 };
  void Step(char c);
  State state_ = State::kIdle;
  std::string payload_;
  uint8_t sum_ = 0;
  int checksum_hi_ = 0;
  std::vector<Event> ready_;
  size_t next_ = 0;
};

// "$payload#cs" (payload sent as it is: escape binary data first).
std::string FramePacket(std::string_view payload);

// Binary data made safe for a payload ('#', '$', '}', '*' escaped).
std::string EscapeBinary(std::span<const uint8_t> data);
// The reverse (for X and vFile:pwrite); false for a dangling '}'.
bool UnescapeBinary(std::string_view text, std::vector<uint8_t>* out);

// Lower-case hex of bytes, in memory order.
std::string ToHex(std::span<const uint8_t> data);
std::string ToHex(std::string_view text);
// Hex pairs to bytes; false for an odd length or a non-hex digit.
bool FromHex(std::string_view hex, std::vector<uint8_t>* out);
// A big-endian hex number as gdb writes addresses and lengths ("ffffffff81000000");
// false for empty text, a non-hex digit or more than 64 bits.
bool ParseHexNumber(std::string_view text, uint64_t* value);
// Hex without leading zeros, as in stop replies ("watch:ffff8880...").
std::string HexNumber(uint64_t value);

// Splits "a,b,c" on a separator.
std::vector<std::string_view> Split(std::string_view text, char separator);

// qXfer: the part of `document` at offset/length, as "m<data>" (more follows)
// or "l<data>" (the rest), escaped.
std::string XferReply(std::string_view document, uint64_t offset, uint64_t length);

}  // namespace xlat::gdb
