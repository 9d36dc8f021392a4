// A small, strict multipart/form-data parser (RFC 7578 over RFC 2046) for POST /v1/files: the
// body is already in memory (bounded by --max-file-mb), so parts are views into it, nothing is
// copied. Strict: a missing or malformed delimiter, a part without a form-data
// Content-Disposition naming it, a header block without its blank line, too many parts or
// oversized headers are errors naming the problem, never a partial result. A preamble before the
// first delimiter and an epilogue after the last are ignored, as RFC 2046 says.
//
// (Debian ships no maintained C/C++ multipart parser small enough to fit; tests/fuzz has this
// one's fuzz target.)
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kvcache/expected.h"

namespace ladle::server {

struct MultipartPart {
  std::string name;                     // Content-Disposition's name
  std::optional<std::string> filename;  // Content-Disposition's filename, when a file
  std::string content_type;             // the part's Content-Type ("" when absent)
  std::string_view data;                // a view into the body
};

inline constexpr std::size_t kMaxMultipartParts = 16;
inline constexpr std::size_t kMaxMultipartHeaderBytes = 8 * 1024;  // one part's header block

// The boundary of a `multipart/form-data; boundary=…` Content-Type (quoted or not, 1 to 70
// characters), or kInvalidArgument saying what is wrong.
Expected<std::string> multipart_boundary(std::string_view content_type);

// Every part of `body`, in order; kInvalidArgument naming the first problem.
Expected<std::vector<MultipartPart>> parse_multipart(std::string_view body, std::string_view boundary);

}  // namespace ladle::server
