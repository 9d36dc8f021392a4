// TextStream: incremental UTF-8-safe decode with stop-string holdback (see text_stream.h).
#include "scheduler/text_stream.h"

#include <algorithm>
#include <string_view>

#include "model/utf8.h"

namespace ladle::scheduler {

TextStream::TextStream(const model::AnyTokenizer& tok, TokenId prev, std::vector<std::string> stop_strings)
    : tok_(&tok), prev_(prev) {
  for (std::string& s : stop_strings) {
    if (s.empty()) continue;
    stop_strings_.push_back(model::sanitize_utf8(s));
  }
}

TextStream::Step TextStream::push(TokenId id) {
  Step step;
  if (stopped_ || finished_) {
    step.stopped = stopped_;
    return step;
  }
  const std::string_view piece = tok_->decode_piece(prev_, id);
  prev_ = id;
  // Only the unfinished tail of a character waits for more bytes; the rest is final text.
  pending_bytes_.append(piece);
  const std::size_t tail = model::incomplete_utf8_tail(pending_bytes_);
  const std::size_t checked = held_.size();  // held_ contains no complete stop string
  model::append_sanitized_utf8(held_, std::string_view(pending_bytes_).substr(0, pending_bytes_.size() - tail));
  pending_bytes_.erase(0, pending_bytes_.size() - tail);
  if (stop_strings_.empty()) {
    step.text = release(held_.size());
    return step;
  }
  // A new match must end in the newly appended text, so start the search just before it.
  std::size_t first = std::string::npos;
  for (const std::string& s : stop_strings_) {
    const std::size_t from = checked >= s.size() ? checked - s.size() + 1 : 0;
    const std::size_t at = held_.find(s, from);
    if (at < first) {
      first = at;
      matched_ = s;
    }
  }
  if (first != std::string::npos) {
    step.text = release(first);
    step.stopped = stopped_ = true;
    held_.clear();
    pending_bytes_.clear();
    return step;
  }
  step.text = release(held_.size() - holdback_length());
  return step;
}

std::string TextStream::finish() {
  if (stopped_ || finished_) return {};
  finished_ = true;
  model::append_sanitized_utf8(held_, pending_bytes_);  // an unfinished character -> U+FFFD
  pending_bytes_.clear();
  // NOTE(tok): a stop string cannot complete here: the U+FFFD only appears at the very end and a
  // match would have needed it; we still check so the contract holds for stop strings with U+FFFD.
  std::size_t first = std::string::npos;
  for (const std::string& s : stop_strings_) {
    const std::size_t at = held_.find(s);
    if (at < first) {
      first = at;
      matched_ = s;
    }
  }
  if (first != std::string::npos) {
    stopped_ = true;
    std::string out = release(first);
    held_.clear();
    return out;
  }
  return release(held_.size());
}

std::size_t TextStream::holdback_length() const {
  const std::string_view held = held_;
  std::size_t best = 0;
  for (const std::string& s : stop_strings_) {
    // Longest k < |s| with held ending in s[0, k). Stop strings are short, so this is cheap.
    for (std::size_t k = std::min(s.size() - 1, held.size()); k > best; --k) {
      if (held.substr(held.size() - k) == std::string_view(s).substr(0, k)) {
        best = k;
        break;
      }
    }
  }
  return best;
}

std::string TextStream::release(std::size_t n) {
  std::string out = held_.substr(0, n);
  released_.append(out);
  held_.erase(0, n);
  return out;
}

}  // namespace ladle::scheduler
