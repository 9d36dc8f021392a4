// DeltaChunkWriter: the per-event hot path of a streamed response. It appends one text delta as a
// complete HTTP chunk holding one SSE event whose data is exactly delta_chunk_json(ctx, text,
// first), without building a JSON document per event.
//
// NOTE(server): every chunk of a stream repeats the same id, model, created and object; only the
// delta text changes. The writer renders the chunk once per stream around a marker (with the
// same nlohmann dump as delta_chunk_json, so key order and formatting cannot drift), keeps the
// text before and after it, and per event only JSON-escapes the new text. On a tiny model this
// was two thirds of the I/O thread's instructions per event (≈26k of ≈40k).
//
// Owned by one SseStream; not thread-safe (used on its strand only).
#pragma once

#include <string>
#include <string_view>

#include "server/openai_api.h"

namespace ladle::server {

// Appends `text` as the body of a JSON string (without the quotes), escaped exactly as
// nlohmann::json::dump() does with ensure_ascii = false: `"` `\` and control characters are
// escaped, everything else (UTF-8 included) is copied. Invalid UTF-8 is not handled here: the
// caller checks validity first.
void append_json_escaped(std::string& out, std::string_view text);

class DeltaChunkWriter {
 public:
  // `chunked`: frame each event as an HTTP/1.1 chunk (false: the bytes of the event alone, for an
  // HTTP/1.0 client).
  explicit DeltaChunkWriter(const ResponseContext& ctx, bool chunked = true);

  // Appends body_piece(sse_event(delta_chunk_json(ctx, text, first)), chunked) to `out`.
  void append_chunk(std::string& out, std::string_view text, bool first);

 private:
  struct Parts {
    std::string before;  // "data: " and the chunk's JSON up to the text (inside its quotes)
    std::string after;   // the JSON after the text, then the event's blank line
  };
  static Parts split(const ResponseContext& ctx, bool first);

  ResponseContext ctx_;  // for the rare invalid-UTF-8 fallback
  bool chunked_;
  Parts first_;          // the first chat delta also carries role "assistant"
  Parts next_;
  std::string escaped_;  // scratch, reused across events
};

}  // namespace ladle::server
