#include "server/sse_format.h"

#include <gtest/gtest.h>

namespace ladle::server {
namespace {

TEST(SseFormatTest, EventIsDataLineAndBlankLine) {
  EXPECT_EQ(sse_event(R"({"a":1})"), "data: {\"a\":1}\n\n");
  EXPECT_EQ(sse_event(""), "data: \n\n");
}

TEST(SseFormatTest, MultiLineDataBecomesSeveralDataLines) {
  EXPECT_EQ(sse_event("one\ntwo\r\nthree"), "data: one\ndata: two\ndata: three\n\n");
}

TEST(SseFormatTest, DoneAndComment) {
  EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
  EXPECT_EQ(sse_comment("ping"), ": ping\n\n");
}

TEST(SseFormatTest, ChunkFramingUsesHexSize) {
  EXPECT_EQ(http_chunk("hello"), "5\r\nhello\r\n");
  EXPECT_EQ(http_chunk(std::string(26, 'x')), "1a\r\n" + std::string(26, 'x') + "\r\n");
  EXPECT_EQ(http_chunk(""), "");  // an empty chunk would end the body
  EXPECT_EQ(http_last_chunk(), "0\r\n\r\n");
}

TEST(SseFormatTest, ResponseHeadCarriesStreamingHeaders) {
  std::string head = sse_response_head(true);
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  for (const char* h : {"Content-Type: text/event-stream\r\n", "Cache-Control: no-cache\r\n",
                        "X-Accel-Buffering: no\r\n", "Transfer-Encoding: chunked\r\n", "Connection: keep-alive\r\n"})
    EXPECT_NE(head.find(h), std::string::npos) << h;
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
  EXPECT_NE(sse_response_head(false).find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(sse_response_head(false, /*chunked=*/false).find("Transfer-Encoding"), std::string::npos);
}

TEST(SseFormatTest, BodyPiecesAreChunksOnlyWhenChunked) {
  const std::string a = sse_event(R"({"x":1})");
  EXPECT_EQ(body_piece(a, true), http_chunk(a));
  EXPECT_EQ(body_piece(a, false), a);
  EXPECT_EQ(body_end(true), http_last_chunk());
  EXPECT_EQ(body_end(false), "");
}

}  // namespace
}  // namespace ladle::server
