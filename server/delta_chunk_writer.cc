#include "server/delta_chunk_writer.h"

#include <cstdio>

#include "model/utf8.h"
#include "server/sse_format.h"

namespace ladle::server {
namespace {

// Stands in for the text while the template is rendered. Plain ASCII letters, so JSON leaves it
// as it is; the text fields come first in the dump (keys are sorted: "choices" < "created" < "id"
// < "model" < "object"), so the first occurrence is the one to cut at even if the model name
// happened to contain the marker.
constexpr std::string_view kMarker = "LADLExDELTAxMARKER";

// The hex size line of an HTTP/1.1 chunk.
void append_chunk_size(std::string& out, std::size_t size) {
  char buf[20];
  int n = std::snprintf(buf, sizeof buf, "%zx\r\n", size);
  out.append(buf, static_cast<std::size_t>(n));
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
  }
  out.append(text.data() + run, text.size() - run);
}

DeltaChunkWriter::DeltaChunkWriter(const ResponseContext& ctx, bool chunked)
    : ctx_(ctx), chunked_(chunked), first_(split(ctx, true)), next_(split(ctx, false)) {}

DeltaChunkWriter::Parts DeltaChunkWriter::split(const ResponseContext& ctx, bool first) {
  const std::string json = delta_chunk_json(ctx, kMarker, first);
  const std::size_t at = json.find(kMarker);
  Parts p;
  p.before = "data: " + json.substr(0, at);
  p.after = json.substr(at + kMarker.size()) + "\n\n";
  return p;
}

void DeltaChunkWriter::append_chunk(std::string& out, std::string_view text, bool first) {
  if (!model::is_valid_utf8(text)) {  // never from the engine; keep dump()'s replacement rule
    out += body_piece(sse_event(delta_chunk_json(ctx_, text, first)), chunked_);
    return;
  }
  const Parts& p = first ? first_ : next_;
  escaped_.clear();
  append_json_escaped(escaped_, text);
  if (chunked_) append_chunk_size(out, p.before.size() + escaped_.size() + p.after.size());
  out += p.before;
  out += escaped_;
  out += p.after;
  if (chunked_) out += "\r\n";
}

}  // namespace ladle::server
