#include "bench/loadgen/sse_parser.h"

#include <gtest/gtest.h>

#include <random>

namespace ladle::loadgen {
namespace {

constexpr std::string_view kStream =
    ": keep-alive\n\n"
    "data: {\"a\":1}\n\n"
    "event: error\r\ndata: line one\r\ndata: line two\r\n\r\n"
    "data:no-space\r\r"
    "id: 7\nretry: 10\ndata: [DONE]\n\n";

std::vector<SseEvent> feed_in_pieces(const std::vector<std::size_t>& cuts) {
  SseParser p;
  std::vector<SseEvent> out;
  std::size_t pos = 0;
  for (std::size_t cut : cuts) {
    p.feed(kStream.substr(pos, cut - pos), out);
    pos = cut;
  }
  p.feed(kStream.substr(pos), out);
  EXPECT_FALSE(p.has_partial());
  return out;
}

void expect_events(const std::vector<SseEvent>& ev) {
  ASSERT_EQ(ev.size(), 5u);
  EXPECT_TRUE(ev[0].is_comment);
  EXPECT_EQ(ev[0].data, "keep-alive");
  EXPECT_EQ(ev[1].data, "{\"a\":1}");
  EXPECT_FALSE(ev[1].is_comment);
  EXPECT_EQ(ev[2].event, "error");
  EXPECT_EQ(ev[2].data, "line one\nline two");
  EXPECT_EQ(ev[3].data, "no-space");  // lone CRs terminate lines too
  EXPECT_EQ(ev[4].data, "[DONE]");
}

TEST(SseParserTest, WholeBuffer) { expect_events(feed_in_pieces({})); }

TEST(SseParserTest, ByteByByte) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < kStream.size(); ++i) cuts.push_back(i);
  expect_events(feed_in_pieces(cuts));
}

TEST(SseParserTest, RandomSplitsIncludingBetweenCrAndLf) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < kStream.size(); ++i)
      if (rng() % 5 == 0) cuts.push_back(i);
    expect_events(feed_in_pieces(cuts));
  }
}

TEST(SseParserTest, ReportsTruncatedEvent) {
  SseParser p;
  std::vector<SseEvent> out;
  p.feed("data: {\"a\":1}\n", out);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(p.has_partial());
  p.feed("\n", out);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_FALSE(p.has_partial());
  p.feed("data: {\"b", out);
  EXPECT_TRUE(p.has_partial());
}

TEST(SseParserTest, EventWithoutDataIsNotDispatched) {
  SseParser p;
  std::vector<SseEvent> out;
  p.feed("event: ping\n\nid: 3\n\n", out);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace ladle::loadgen
