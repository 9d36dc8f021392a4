#include "server/event_log.h"

#include <algorithm>

namespace ladle::server {

void EventLog::event(std::string_view type, std::string_view data, std::int64_t id) {
  starts_.push_back(text_.size());
  text_ += "id: ";
  text_ += std::to_string(id >= 0 ? id : size() - 1);
  text_ += "\nevent: ";
  text_ += type;
  text_ += "\ndata: ";
  text_ += data;  // one line of JSON
  text_ += "\n\n";
}

std::int64_t EventLog::read_after(std::int64_t after, std::string& out, std::size_t max_bytes) const {
  const std::int64_t first = std::max<std::int64_t>(after + 1, 0);
  if (first >= size()) return after;
  std::int64_t last = first;
  const std::size_t begin = starts_[std::size_t(first)];
  auto end_of = [&](std::int64_t n) { return n + 1 < size() ? starts_[std::size_t(n + 1)] : text_.size(); };
  while (last + 1 < size() && end_of(last + 1) - begin <= max_bytes) ++last;
  out.append(text_, begin, end_of(last) - begin);
  return last;
}

}  // namespace ladle::server
