// SseParser: incremental parser for a text/event-stream body (the WHATWG "server-sent events"
// wire format used by OpenAI-compatible servers: `data: {json}\n\n`, `: comment`, `data: [DONE]`).
//
// Owned by one StreamCall; single-threaded (called on that call's I/O handler only). Bytes may be
// fed in any split, down to one byte at a time: lines are buffered until their terminator (LF,
// CRLF or a lone CR) and an event is emitted at the blank line that ends it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ladle::loadgen {

struct SseEvent {
  std::string event;        // the `event:` field, empty for the default "message"
  std::string data;         // `data:` lines joined with '\n'
  bool is_comment = false;  // a `: ...` line (keep-alive or server note); `data` holds its text
};

class SseParser {
 public:
  // Consumes `bytes` and appends every event completed by them to `out`. Comments are reported
  // as they end (one per line) so callers can count keep-alives; they never carry data.
  void feed(std::string_view bytes, std::vector<SseEvent>& out);

  // True when bytes of an unfinished line or event are buffered: a stream that ends here was
  // truncated mid-event.
  bool has_partial() const { return !line_.empty() || has_fields_; }

 private:
  void on_line(std::vector<SseEvent>& out);

  std::string line_;          // current line without its terminator
  bool after_cr_ = false;     // the previous byte was CR: a following LF belongs to it
  bool has_fields_ = false;   // fields of the current event were seen
  SseEvent pending_;          // the event being assembled
};

}  // namespace ladle::loadgen
