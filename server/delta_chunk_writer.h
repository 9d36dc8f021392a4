// DeltaChunkWriter: the per-event hot path of a streamed OpenAI response. It appends the JSON of
// one text delta chunk, exactly delta_chunk_json(ctx, text, first), without building a JSON
// document per event. (The transport frames it.)
//
// NOTE(server): every chunk of a stream repeats the same id, model, created and object; only the
// delta text changes. The writer renders the chunk once per stream around a marker (with the
// same nlohmann dump as delta_chunk_json, so key order and formatting cannot drift), keeps the
// text before and after it, and per event only JSON-escapes the new text. On a tiny model this
// was two thirds of the I/O thread's instructions per event (≈26k of ≈40k).
//
// Owned by one OpenAiEncoder; not thread-safe (used on its strand only).
#pragma once

#include <string>
#include <string_view>

namespace ladle::server {
struct ResponseContext;
}

namespace ladle::server {

// Appends `text` as the body of a JSON string (without the quotes), escaped exactly as
// nlohmann::json::dump() does with ensure_ascii = false: `"` `\` and control characters are
// escaped, everything else (UTF-8 included) is copied. Invalid UTF-8 is not handled here: the
// caller checks validity first.
void append_json_escaped(std::string& out, std::string_view text);

class DeltaChunkWriter {
 public:
  explicit DeltaChunkWriter(const ResponseContext& ctx);

  // Appends delta_chunk_json(ctx, text, first) to `out`.
  void append_json(std::string& out, std::string_view text, bool first) const;

 private:
  struct Parts {
    std::string before;  // the chunk's JSON up to the text (inside its quotes)
    std::string after;   // the JSON after the text
  };
  static Parts split(const ResponseContext& ctx, bool first);

  const ResponseContext& ctx_;  // the encoder's; for the rare invalid-UTF-8 fallback
  Parts first_;                 // the first chat delta also carries role "assistant"
  Parts next_;
};

}  // namespace ladle::server
