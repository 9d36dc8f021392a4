#include "bench/loadgen/stats.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

namespace ladle::loadgen {

double percentile(std::span<const double> values, double p) {
  if (values.empty()) return 0.0;
  std::vector<double> v(values.begin(), values.end());
  std::sort(v.begin(), v.end());
  double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(v.size() - 1);
  auto lo = static_cast<std::size_t>(std::floor(rank));
  std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

Distribution distribution_of(std::span<const double> values) {
  Distribution d;
  d.count = values.size();
  if (values.empty()) return d;
  d.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  double sq = 0;
  for (double x : values) sq += (x - d.mean) * (x - d.mean);
  d.stddev = std::sqrt(sq / static_cast<double>(values.size()));
  auto [mn, mx] = std::minmax_element(values.begin(), values.end());
  d.min = *mn;
  d.max = *mx;
  d.p50 = percentile(values, 50);
  d.p90 = percentile(values, 90);
  d.p95 = percentile(values, 95);
  d.p99 = percentile(values, 99);
  return d;
}

Expected<Slo> parse_slo(std::string_view text) {
  Slo slo;
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::kInvalidArgument, "--goodput \"" + std::string(text) + "\": " + why);
  };
  while (!text.empty()) {
    std::string_view item = text.substr(0, text.find(','));
    text.remove_prefix(std::min(text.size(), item.size() + 1));
    auto colon = item.find(':');
    if (colon == std::string_view::npos) return bad("expected name:milliseconds");
    std::string_view name = item.substr(0, colon), num = item.substr(colon + 1);
    double ms = 0;
    auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), ms);
    if (ec != std::errc() || p != num.data() + num.size() || ms <= 0) return bad("bad milliseconds");
    if (name == "ttft") slo.ttft_ms = ms;
    else if (name == "tpot") slo.tpot_ms = ms;
    else if (name == "e2el") slo.e2el_ms = ms;
    else return bad("unknown metric " + std::string(name) + " (ttft, tpot, e2el)");
  }
  return slo;
}

bool meets_slo(const RequestSample& s, const Slo& slo) {
  if (!s.ok) return false;
  if (slo.ttft_ms && s.ttft_ms > *slo.ttft_ms) return false;
  if (slo.tpot_ms && s.tpot_ms() > *slo.tpot_ms) return false;
  if (slo.e2el_ms && s.e2e_ms > *slo.e2el_ms) return false;
  return true;
}

RunSummary summarize(std::span<const RequestSample> samples, double duration_s, const Slo& slo) {
  RunSummary r;
  r.duration_s = duration_s;
  std::vector<double> ttft, tpot, itl, e2el;
  for (const auto& s : samples) {
    if (s.dropped) {
      ++r.dropped;
      continue;
    }
    if (!s.ok) {
      ++r.failed;
      continue;
    }
    ++r.completed;
    r.total_input_tokens += s.prompt_tokens > 0 ? s.prompt_tokens : s.input_words;
    r.total_output_tokens += s.output_tokens;
    ttft.push_back(s.ttft_ms);
    if (s.output_tokens > 1) tpot.push_back(s.tpot_ms());
    itl.insert(itl.end(), s.itl_ms.begin(), s.itl_ms.end());
    e2el.push_back(s.e2e_ms);
    if (s.merged_tokens()) ++r.merged_token_requests;
    if (meets_slo(s, slo)) ++r.good;
  }
  if (duration_s > 0) {
    r.request_throughput = r.completed / duration_s;
    r.output_throughput = static_cast<double>(r.total_output_tokens) / duration_s;
    r.total_token_throughput = static_cast<double>(r.total_input_tokens + r.total_output_tokens) / duration_s;
    r.goodput = r.good / duration_s;
  }
  r.ttft = distribution_of(ttft);
  r.tpot = distribution_of(tpot);
  r.itl = distribution_of(itl);
  r.e2el = distribution_of(e2el);
  return r;
}

}  // namespace ladle::loadgen
