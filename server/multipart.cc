#include "server/multipart.h"

#include <algorithm>
#include <cctype>

namespace ladle::server {
namespace {

Error bad(std::string message) { return make_error(ErrorCode::kInvalidArgument, "multipart body: " + std::move(message)); }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// One `key=value` parameter of a header (`; name="x"`): the value unquoted (backslash escapes
// resolved). `s` is advanced past it. nullopt when malformed.
struct Param {
  std::string key, value;
};
std::optional<Param> next_param(std::string_view& s) {
  s = trim(s);
  if (s.empty() || s.front() != ';') return std::nullopt;
  s.remove_prefix(1);
  s = trim(s);
  const std::size_t eq = s.find('=');
  if (eq == s.npos || eq == 0) return std::nullopt;
  Param p{std::string(trim(s.substr(0, eq))), {}};
  s.remove_prefix(eq + 1);
  s = trim(s);
  if (!s.empty() && s.front() == '"') {
    std::size_t i = 1;
    for (; i < s.size() && s[i] != '"'; ++i) {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      p.value += s[i];
    }
    if (i >= s.size()) return std::nullopt;  // no closing quote
    s.remove_prefix(i + 1);
  } else {
    const std::size_t end = std::min(s.find(';'), s.size());
    p.value = std::string(trim(s.substr(0, end)));
    s.remove_prefix(end);
  }
  for (char& c : p.key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return p;
}

// The header block of one part (between the delimiter line and the blank line) into `part`.
Status parse_headers(std::string_view block, MultipartPart& part) {
  bool disposition = false;
  while (!block.empty()) {
    const std::size_t eol = block.find("\r\n");
    const std::string_view line = block.substr(0, eol);
    block.remove_prefix(eol == block.npos ? block.size() : eol + 2);
    const std::size_t colon = line.find(':');
    if (colon == line.npos || colon == 0) return bad("a part header line has no name: '" + std::string(line.substr(0, 80)) + "'");
    const std::string_view name = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "content-type")) {
      part.content_type = std::string(value);
    } else if (iequals(name, "content-disposition")) {
      const std::size_t semi = std::min(value.find(';'), value.size());
      if (!iequals(trim(value.substr(0, semi)), "form-data")) return bad("a part's Content-Disposition is not form-data");
      value.remove_prefix(semi);
      bool named = false;
      while (!trim(value).empty()) {
        auto p = next_param(value);
        if (!p) return bad("a part's Content-Disposition has a malformed parameter");
        if (p->key == "name") part.name = std::move(p->value), named = true;
        else if (p->key == "filename") part.filename = std::move(p->value);
      }
      if (!named) return bad("a part's Content-Disposition has no name");
      disposition = true;
    }
  }
  if (!disposition) return bad("a part has no Content-Disposition: form-data header");
  return Ok{};
}

}  // namespace

Expected<std::string> multipart_boundary(std::string_view content_type) {
  const std::size_t semi = std::min(content_type.find(';'), content_type.size());
  if (!iequals(trim(content_type.substr(0, semi)), "multipart/form-data"))
    return make_error(ErrorCode::kInvalidArgument,
                      "the Content-Type must be multipart/form-data (got '" + std::string(content_type.substr(0, 100)) + "')");
  std::string_view rest = content_type.substr(semi);
  while (!trim(rest).empty()) {
    auto p = next_param(rest);
    if (!p) return make_error(ErrorCode::kInvalidArgument, "the Content-Type has a malformed parameter");
    if (p->key != "boundary") continue;
    if (p->value.empty() || p->value.size() > 70)
      return make_error(ErrorCode::kInvalidArgument, "the multipart boundary must have 1 to 70 characters");
    return p->value;
  }
  return make_error(ErrorCode::kInvalidArgument, "the multipart/form-data Content-Type has no boundary");
}

Expected<std::vector<MultipartPart>> parse_multipart(std::string_view body, std::string_view boundary) {
  if (boundary.empty()) return bad("empty boundary");
  const std::string dash = "--" + std::string(boundary);
  const std::string delimiter = "\r\n" + dash;
  // The first delimiter: at the start, or after a preamble.
  std::size_t pos;
  if (body.substr(0, dash.size()) == dash) {
    pos = dash.size();
  } else {
    pos = body.find(delimiter);
    if (pos == body.npos) return bad("no '" + dash + "' delimiter");
    pos += delimiter.size();
  }
  std::vector<MultipartPart> parts;
  for (;;) {
    // After a delimiter: "--" ends the body; otherwise optional whitespace, then CRLF.
    if (body.substr(pos, 2) == "--") return parts;
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) != "\r\n") return bad("a delimiter is not followed by CRLF");
    pos += 2;
    if (parts.size() == kMaxMultipartParts) return bad("more than " + std::to_string(kMaxMultipartParts) + " parts");
    const std::size_t headers_end = body.find("\r\n\r\n", pos);
    // A part with no header lines has its blank line right away ("\r\n" at pos).
    std::string_view block;
    std::size_t data_start;
    if (body.substr(pos, 2) == "\r\n") {
      data_start = pos + 2;
    } else {
      if (headers_end == body.npos) return bad("a part's headers do not end with a blank line");
      block = body.substr(pos, headers_end - pos);
      data_start = headers_end + 4;
    }
    if (block.size() > kMaxMultipartHeaderBytes)
      return bad("a part's headers exceed " + std::to_string(kMaxMultipartHeaderBytes) + " bytes");
    MultipartPart part;
    if (Status s = parse_headers(block, part); !s.ok()) return s.error();
    const std::size_t end = body.find(delimiter, data_start);
    if (end == body.npos) return bad("the body ends before the closing '" + dash + "--'");
    part.data = body.substr(data_start, end - data_start);
    parts.push_back(std::move(part));
    pos = end + delimiter.size();
  }
}

}  // namespace ladle::server
