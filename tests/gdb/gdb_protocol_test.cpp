// The gdb remote protocol's framing (frontend/gdb_protocol.h).
#include "frontend/gdb_protocol.h"

#include <gtest/gtest.h>

namespace xlat::gdb {
namespace {

std::vector<Event> Drain(PacketParser& p) {
  std::vector<Event> out;
  while (std::optional<Event> e = p.Next()) out.push_back(*e);
  return out;
}

TEST(GdbProtocol, FramesWithTheChecksum) {
  EXPECT_EQ(FramePacket("OK"), "$OK#9a");
  EXPECT_EQ(FramePacket(""), "$#00");
  EXPECT_EQ(FramePacket("qSupported"), "$qSupported#37");
}

TEST(GdbProtocol, ParsesPacketsAcksAndInterrupts) {
  PacketParser p;
  p.Feed("+$g#67-\x03junk$m1000,4#8e");
  const std::vector<Event> e = Drain(p);
  ASSERT_EQ(e.size(), 5u);
  EXPECT_EQ(e[0].kind, Event::Kind::kAck);
  EXPECT_EQ(e[1].kind, Event::Kind::kPacket);
  EXPECT_EQ(e[1].payload, "g");
  EXPECT_EQ(e[2].kind, Event::Kind::kNack);
  EXPECT_EQ(e[3].kind, Event::Kind::kInterrupt);
  EXPECT_EQ(e[4].kind, Event::Kind::kPacket);
  EXPECT_EQ(e[4].payload, "m1000,4");
}

TEST(GdbProtocol, PacketsMaySpanReads) {
  PacketParser p;
  const std::string framed = FramePacket("vCont;s:1;c");
  for (char c : framed) {
    EXPECT_TRUE(Drain(p).empty());
    p.Feed(std::string_view(&c, 1));
  }
  const std::vector<Event> e = Drain(p);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].payload, "vCont;s:1;c");
  EXPECT_FALSE(p.InPacket());
}

TEST(GdbProtocol, ABadChecksumIsReported) {
  PacketParser p;
  p.Feed("$g#00$g#6z");
  const std::vector<Event> e = Drain(p);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].kind, Event::Kind::kBadPacket);
  EXPECT_EQ(e[1].kind, Event::Kind::kBadPacket);
}

TEST(GdbProtocol, A03InsideAPacketIsData) {
  PacketParser p;
  std::string payload = "X10,1:";
  payload += '\x03';
  p.Feed(FramePacket(payload));
  const std::vector<Event> e = Drain(p);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].kind, Event::Kind::kPacket);
  EXPECT_EQ(e[0].payload, payload);
}

TEST(GdbProtocol, BinaryEscapes) {
  const std::vector<uint8_t> data = {'#', '$', '}', '*', 0, 0xff, 'a'};
  const std::string escaped = EscapeBinary(data);
  EXPECT_EQ(escaped, std::string("}\x03}\x04}]}\x0a", 8) + std::string("\0\xff" "a", 3));
  std::vector<uint8_t> back;
  ASSERT_TRUE(UnescapeBinary(escaped, &back));
  EXPECT_EQ(back, data);
  EXPECT_FALSE(UnescapeBinary("ab}", &back));
}

TEST(GdbProtocol, Hex) {
  const std::vector<uint8_t> bytes = {0x00, 0x1f, 0xa0, 0xff};
  EXPECT_EQ(ToHex(bytes), "001fa0ff");
  std::vector<uint8_t> back;
  ASSERT_TRUE(FromHex("001FA0ff", &back));
  EXPECT_EQ(back, bytes);
  EXPECT_FALSE(FromHex("abc", &back));
  EXPECT_FALSE(FromHex("zz", &back));

  uint64_t v = 0;
  ASSERT_TRUE(ParseHexNumber("ffffffff81000000", &v));
  EXPECT_EQ(v, 0xffffffff81000000ull);
  ASSERT_TRUE(ParseHexNumber("0000000000000000001", &v));  // leading zeros do not overflow
  EXPECT_EQ(v, 1u);
  EXPECT_FALSE(ParseHexNumber("", &v));
  EXPECT_FALSE(ParseHexNumber("1ffffffffffffffff", &v));
  EXPECT_FALSE(ParseHexNumber("12g", &v));
  EXPECT_EQ(HexNumber(0), "0");
  EXPECT_EQ(HexNumber(0xffff888000001000ull), "ffff888000001000");
}

TEST(GdbProtocol, Split) {
  const auto parts = Split("Z0,ffffffff81000000,1", ',');
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[1], "ffffffff81000000");
  EXPECT_EQ(Split("", ',').size(), 1u);
}

TEST(GdbProtocol, XferReplyChunks) {
  const std::string doc = "<target>#</target>";
  EXPECT_EQ(XferReply(doc, 0, 1000), "l<target>}\x03</target>");
  const std::string first = XferReply(doc, 0, 5);
  EXPECT_EQ(first, "m<targ");
  EXPECT_EQ(XferReply(doc, 5, 1000), "let>}\x03</target>");
  EXPECT_EQ(XferReply(doc, doc.size(), 10), "l");
  // Reassembling the chunks gives the document back.
  std::string whole;
  for (uint64_t off = 0;;) {
    const std::string r = XferReply(doc, off, 3);
    std::vector<uint8_t> data;
    ASSERT_TRUE(UnescapeBinary(r.substr(1), &data));
    whole.append(data.begin(), data.end());
    off += data.size();
    if (r[0] == 'l') break;
  }
  EXPECT_EQ(whole, doc);
}

}  // namespace
}  // namespace xlat::gdb
