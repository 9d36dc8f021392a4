#include "bench/loadgen/metrics_text.h"

#include <cmath>
#include <cstdlib>
#include <limits>

namespace ladle::loadgen {
namespace {

bool is_name_char(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
         (!first && c >= '0' && c <= '9');
}

std::optional<double> parse_value(std::string_view s) {
  if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (s == "+Inf" || s == "Inf") return std::numeric_limits<double>::infinity();
  if (s == "-Inf") return -std::numeric_limits<double>::infinity();
  std::string copy(s);
  char* end = nullptr;
  double v = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size()) return std::nullopt;
  return v;
}

// Parses `{a="x",b="y"}` starting at line[pos] == '{'; leaves pos after the '}'.
bool parse_labels(std::string_view line, std::size_t& pos, std::map<std::string, std::string>& out) {
  ++pos;
  while (true) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == ',')) ++pos;
    if (pos >= line.size()) return false;
    if (line[pos] == '}') return ++pos, true;
    std::size_t start = pos;
    while (pos < line.size() && is_name_char(line[pos], pos == start)) ++pos;
    std::string key(line.substr(start, pos - start));
    if (key.empty() || pos + 1 >= line.size() || line[pos] != '=' || line[pos + 1] != '"') return false;
    pos += 2;
    std::string value;
    while (pos < line.size() && line[pos] != '"') {
      char c = line[pos++];
      if (c == '\\' && pos < line.size()) {
        char e = line[pos++];
        c = e == 'n' ? '\n' : e;  // \\ and \" map to themselves
      }
      value.push_back(c);
    }
    if (pos >= line.size()) return false;
    ++pos;  // closing quote
    out.emplace(std::move(key), std::move(value));
  }
}

}  // namespace

Expected<std::vector<MetricSample>> parse_metrics_text(std::string_view text) {
  std::vector<MetricSample> samples;
  int line_number = 0;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_number;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    auto bad = [&] {
      return make_error(ErrorCode::kInvalidArgument,
                        "metrics line " + std::to_string(line_number) + " is malformed: " + std::string(line));
    };
    MetricSample sample;
    std::size_t pos = 0;
    while (pos < line.size() && is_name_char(line[pos], pos == 0)) ++pos;
    sample.name = std::string(line.substr(0, pos));
    if (sample.name.empty()) return bad();
    if (pos < line.size() && line[pos] == '{' && !parse_labels(line, pos, sample.labels)) return bad();
    while (pos < line.size() && line[pos] == ' ') ++pos;
    std::string_view rest = line.substr(pos);
    std::string_view value_text = rest.substr(0, rest.find(' '));  // a timestamp may follow
    auto value = parse_value(value_text);
    if (!value) return bad();
    sample.value = *value;
    samples.push_back(std::move(sample));
  }
  return samples;
}

std::optional<double> metric_value(const std::vector<MetricSample>& samples, std::string_view name,
                                   const std::map<std::string, std::string>& labels) {
  std::optional<double> total;
  for (const auto& s : samples) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) match = false;
    }
    if (match) total = total.value_or(0.0) + s.value;
  }
  return total;
}

}  // namespace ladle::loadgen
