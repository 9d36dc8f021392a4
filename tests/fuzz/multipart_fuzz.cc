// Fuzz target: multipart_boundary and parse_multipart (server/multipart.h). The input's first line
// is the Content-Type, the rest the body.
//
// Checks: no crash or sanitizer report; a refusal is kInvalidArgument with a message; an accepted
// body has at most kMaxMultipartParts parts, each a view inside the body that never holds the
// delimiter (CRLF "--" boundary), and parts come in body order without overlapping.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/multipart.h"

using namespace ladle;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t eol = input.find('\n');
  if (eol == input.npos) return 0;
  const std::string_view content_type = input.substr(0, eol);
  const std::string_view body = input.substr(eol + 1);
  auto boundary = server::multipart_boundary(content_type);
  if (!boundary) {
    if (boundary.error().code != ErrorCode::kInvalidArgument || boundary.error().message.empty()) std::abort();
    return 0;
  }
  if (boundary->empty() || boundary->size() > 70) std::abort();
  auto parts = server::parse_multipart(body, *boundary);
  if (!parts) {
    if (parts.error().code != ErrorCode::kInvalidArgument || parts.error().message.empty()) std::abort();
    return 0;
  }
  if (parts->size() > server::kMaxMultipartParts) std::abort();
  const std::string delimiter = "\r\n--" + *boundary;
  const char* previous_end = body.data();
  for (const auto& p : *parts) {
    if (p.data.data() < previous_end || p.data.data() + p.data.size() > body.data() + body.size()) std::abort();
    if (p.data.find(delimiter) != std::string_view::npos) std::abort();
    previous_end = p.data.data() + p.data.size();
  }
  return 0;
}
