#include "bench/loadgen/sse_parser.h"

namespace ladle::loadgen {

// NOTE(loadgen): scans for line ends and appends whole runs, not byte by byte (a push_back per
// byte was a tenth of the client's instructions per event).
void SseParser::feed(std::string_view bytes, std::vector<SseEvent>& out) {
  std::size_t i = 0;
  if (after_cr_ && !bytes.empty()) {
    after_cr_ = false;
    if (bytes[0] == '\n') i = 1;  // the LF of a CRLF pair split across reads
  }
  while (i < bytes.size()) {
    std::size_t end = i;
    while (end < bytes.size() && bytes[end] != '\n' && bytes[end] != '\r') ++end;
    if (end == bytes.size()) {
      line_.append(bytes.data() + i, bytes.size() - i);
      return;
    }
    line_.append(bytes.data() + i, end - i);
    on_line(out);
    line_.clear();
    i = end + 1;
    if (bytes[end] == '\r') {
      if (i == bytes.size()) after_cr_ = true;
      else if (bytes[i] == '\n') ++i;
    }
  }
}

void SseParser::on_line(std::vector<SseEvent>& out) {
  if (line_.empty()) {  // blank line: dispatch the event, if it has data
    if (has_fields_ && !pending_.data.empty()) {
      pending_.data.pop_back();  // each data line appended a trailing '\n'
      out.push_back(std::move(pending_));
    }
    pending_ = SseEvent{};
    has_fields_ = false;
    return;
  }
  if (line_[0] == ':') {
    std::string_view text(line_);
    text.remove_prefix(1);
    if (!text.empty() && text[0] == ' ') text.remove_prefix(1);
    out.push_back(SseEvent{"", std::string(text), true});
    return;
  }
  std::string_view line(line_);
  std::string_view field = line, value;
  if (auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  has_fields_ = true;
  if (field == "data") {
    pending_.data.append(value);
    pending_.data.push_back('\n');
  } else if (field == "event") {
    pending_.event = std::string(value);
  }
  // `id:` and `retry:` do not matter to a benchmark client; unknown fields are ignored (spec).
}

}  // namespace ladle::loadgen
