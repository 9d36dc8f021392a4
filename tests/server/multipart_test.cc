// multipart.h: the boundary of a Content-Type, parts as views, and strict refusals.
#include "server/multipart.h"

#include <gtest/gtest.h>

namespace ladle::server {
namespace {

TEST(MultipartBoundary, QuotedOrNotAndRefusals) {
  EXPECT_EQ(*multipart_boundary("multipart/form-data; boundary=abc123"), "abc123");
  EXPECT_EQ(*multipart_boundary("Multipart/Form-Data;boundary=\"a b;c\""), "a b;c");
  EXPECT_EQ(*multipart_boundary("multipart/form-data; charset=utf-8; boundary=x"), "x");
  EXPECT_FALSE(multipart_boundary("application/json").ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data").ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=").ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'b')).ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=\"open").ok());
}

TEST(Multipart, FieldsAndFileAsViews) {
  const std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in \\\"1\\\".jsonl\"\r\n"
      "Content-Type: application/jsonl\r\n\r\n{\"a\":1}\r\n--X\r\n{\"b\":2}\n\r\n--XyZ--\r\nepilogue";
  auto parts = parse_multipart(body, "XyZ");
  ASSERT_TRUE(parts.ok()) << parts.error().message;
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "purpose");
  EXPECT_EQ((*parts)[0].data, "batch");
  EXPECT_FALSE((*parts)[0].filename);
  EXPECT_EQ((*parts)[1].name, "file");
  EXPECT_EQ(*(*parts)[1].filename, "in \"1\".jsonl");
  EXPECT_EQ((*parts)[1].content_type, "application/jsonl");
  EXPECT_EQ((*parts)[1].data, "{\"a\":1}\r\n--X\r\n{\"b\":2}\n");  // a near-delimiter stays data
  EXPECT_GE((*parts)[1].data.data(), body.data());                  // a view, not a copy
  EXPECT_LT((*parts)[1].data.data(), body.data() + body.size());
}

TEST(Multipart, PreambleIsSkippedAndEmptyPartsWork) {
  auto parts = parse_multipart("preamble\r\n--b\r\nContent-Disposition: form-data; name=x\r\n\r\n\r\n--b--", "b");
  ASSERT_TRUE(parts.ok()) << parts.error().message;
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].name, "x");
  EXPECT_EQ((*parts)[0].data, "");
}

TEST(Multipart, StrictRefusals) {
  const std::string head = "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n";
  struct Case {
    std::string body, why;
  };
  const Case cases[] = {
      {"", "delimiter"},
      {"hello", "delimiter"},
      {head + "data", "closing"},                                        // truncated
      {head + "data\r\n--b", "CRLF"},                                     // no final "--"
      {"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--", "no Content-Disposition"},
      {"--b\r\nContent-Disposition: attachment; name=f\r\n\r\nx\r\n--b--", "not form-data"},
      {"--b\r\nContent-Disposition: form-data; filename=a\r\n\r\nx\r\n--b--", "no name"},
      {"--b\r\nContent-Disposition: form-data; name=\"f\r\n\r\nx\r\n--b--", "malformed parameter"},
      {"--b\r\nbroken header\r\n\r\nx\r\n--b--", "no name"},
      {"--b\r\nContent-Disposition: form-data; name=f\r\nx\r\n--b--", "blank line"},
      {"--b\r\nX-Pad: " + std::string(9000, 'p') + "\r\n\r\nx\r\n--b--", "exceed"},
  };
  for (const auto& c : cases) {
    auto parts = parse_multipart(c.body, "b");
    ASSERT_FALSE(parts.ok()) << c.body.substr(0, 60);
    EXPECT_NE(parts.error().message.find(c.why), std::string::npos) << parts.error().message;
  }
  std::string many;
  for (std::size_t i = 0; i <= kMaxMultipartParts; ++i) many += "--b\r\nContent-Disposition: form-data; name=p\r\n\r\nv\r\n";
  many += "--b--";
  auto parts = parse_multipart(many, "b");
  ASSERT_FALSE(parts.ok());
  EXPECT_NE(parts.error().message.find("more than"), std::string::npos);
}

}  // namespace
}  // namespace ladle::server
