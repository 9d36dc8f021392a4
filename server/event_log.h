// EventLog: the replayable record of one background response's events — the transport a detached
// generation writes to. Each event is kept as its SSE text ("id: N\nevent: T\ndata: D\n\n");
// event N is the one with sequence number N (the Responses encoder numbers them 0, 1, 2, ...), so
// a reader resumes after any N by index. Readers copy out of it; nothing is kept per reader.
//
// Bounded: a log holds one response's events, which its max_output_tokens bounds; the store
// (background_store.h) bounds the total over all logs.
//
// Threads: not synchronised; its owner (BackgroundResponse) guards it with its mutex.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "server/stream_encoder.h"

namespace ladle::server {

class EventLog final : public EventOut {
 public:
  void event(std::string_view type, std::string_view data, std::int64_t id = -1) override;
  void comment(std::string_view) override {}  // keep-alives are the reader's business

  // Appends the SSE text of events after..size()-1 (whole events, at least one if any, up to
  // about `max_bytes`) to `out`; returns the sequence number of the last one copied (`after` if
  // none).
  std::int64_t read_after(std::int64_t after, std::string& out, std::size_t max_bytes) const;
  std::int64_t size() const { return std::int64_t(starts_.size()); }
  std::size_t bytes() const { return text_.size() + starts_.size() * sizeof(std::size_t); }

 private:
  std::string text_;                 // every event's SSE text, back to back
  std::vector<std::size_t> starts_;  // where event N begins in text_
};

}  // namespace ladle::server
