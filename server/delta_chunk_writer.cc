#include "server/delta_chunk_writer.h"

#include "model/utf8.h"
#include "server/openai_encoder.h"

namespace ladle::server {
namespace {

// Stands in for the text while the template is rendered. Plain ASCII letters, so JSON leaves it
// as it is; the text fields come first in the dump (keys are sorted: "choices" < "created" < "id"
// < "model" < "object"), so the first occurrence is the one to cut at even if the model name
// happened to contain the marker.
constexpr std::string_view kMarker = "LADLExDELTAxMARKER";

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

DeltaChunkWriter::DeltaChunkWriter(const ResponseContext& ctx)
    : ctx_(ctx), first_(split(ctx, true)), next_(split(ctx, false)) {}

DeltaChunkWriter::Parts DeltaChunkWriter::split(const ResponseContext& ctx, bool first) {
  const std::string json = delta_chunk_json(ctx, kMarker, first);
  const std::size_t at = json.find(kMarker);
  return Parts{json.substr(0, at), json.substr(at + kMarker.size())};
}

void DeltaChunkWriter::append_json(std::string& out, std::string_view text, bool first) const {
  if (!model::is_valid_utf8(text)) {  // never from the engine; keep dump()'s replacement rule
    out += delta_chunk_json(ctx_, text, first);
    return;
  }
  const Parts& p = first ? first_ : next_;
  out += p.before;
  append_json_escaped(out, text);
  out += p.after;
}

}  // namespace ladle::server
