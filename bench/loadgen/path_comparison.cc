#include "bench/loadgen/path_comparison.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "bench/loadgen/report.h"

namespace ladle::loadgen {
namespace {

struct PathSamples {
  std::vector<double> ttft;               // one per successful request
  std::vector<double> outside;            // client − server TTFT, of those that reported the latter
  std::vector<std::vector<double>> itl;   // its gaps, per request
};

// percentile() (numpy's linear interpolation) in O(n), reordering `v`: the bootstrap takes
// thousands of these over every ITL gap of a run.
double percentile_in_place(std::vector<double>& v, double p) {
  if (v.empty()) return 0.0;
  double rank = p / 100.0 * static_cast<double>(v.size() - 1);
  auto lo = static_cast<std::size_t>(std::floor(rank));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(lo), v.end());
  double at_lo = v[lo];
  if (lo + 1 >= v.size()) return at_lo;
  double at_hi = *std::min_element(v.begin() + static_cast<std::ptrdiff_t>(lo) + 1, v.end());
  return at_lo + (at_hi - at_lo) * (rank - static_cast<double>(lo));
}

double ttft_p50(const PathSamples& p, std::span<const std::size_t> pick, std::vector<double>& scratch) {
  scratch.clear();
  for (std::size_t i : pick) scratch.push_back(p.ttft[i]);
  return percentile_in_place(scratch, 50);
}

double itl_p99(const PathSamples& p, std::span<const std::size_t> pick, std::vector<double>& scratch) {
  scratch.clear();
  for (std::size_t i : pick) scratch.insert(scratch.end(), p.itl[i].begin(), p.itl[i].end());
  return percentile_in_place(scratch, 99);
}

double change_pct(double base, double other) { return base > 0 ? 100.0 * (other / base - 1.0) : 0.0; }

}  // namespace

PathComparison compare_paths(std::span<const RequestSample> samples, double duration_s, int resamples,
                             std::uint64_t seed) {
  PathComparison c;
  c.resamples = resamples;
  PathSamples paths[2];
  std::vector<RequestSample> split[2];
  for (const RequestSample& s : samples) {
    if (s.path != 0 && s.path != 1) continue;
    split[s.path].push_back(s);
    if (!s.ok) continue;
    paths[s.path].ttft.push_back(s.ttft_ms);
    if (s.server_ttft_ms >= 0) paths[s.path].outside.push_back(s.ttft_ms - s.server_ttft_ms);
    paths[s.path].itl.push_back(s.itl_ms);
  }
  for (int p = 0; p < 2; ++p) {
    c.paths[p] = summarize(split[p], duration_s, Slo{});
    c.outside_count[p] = static_cast<int>(paths[p].outside.size());
    c.outside_p50_ms[p] = percentile(paths[p].outside, 50);
  }
  if (paths[0].ttft.empty() || paths[1].ttft.empty()) return c;

  std::vector<double> scratch;
  std::vector<std::size_t> all[2];
  for (int p = 0; p < 2; ++p)
    for (std::size_t i = 0; i < paths[p].ttft.size(); ++i) all[p].push_back(i);
  auto ttft_diff = [&](const std::vector<std::size_t>* pick) {
    return ttft_p50(paths[1], pick[1], scratch) - ttft_p50(paths[0], pick[0], scratch);
  };
  auto itl_change = [&](const std::vector<std::size_t>* pick) {
    double base = itl_p99(paths[0], pick[0], scratch);
    return change_pct(base, itl_p99(paths[1], pick[1], scratch));
  };
  c.ttft_p50_diff_ms.value = ttft_diff(all);
  c.itl_p99_change_pct.value = itl_change(all);
  const bool outside = !paths[0].outside.empty() && !paths[1].outside.empty();
  if (outside) c.outside_p50_diff_ms.value = c.outside_p50_ms[1] - c.outside_p50_ms[0];

  std::mt19937_64 rng(seed);
  std::vector<double> diffs, changes, outside_diffs;
  std::vector<std::size_t> pick[2];
  std::vector<double> drawn[2];
  for (int b = 0; b < resamples; ++b) {
    for (int p = 0; p < 2; ++p) {
      std::uniform_int_distribution<std::size_t> any(0, all[p].size() - 1);
      pick[p].resize(all[p].size());
      for (auto& i : pick[p]) i = any(rng);
    }
    diffs.push_back(ttft_diff(pick));
    changes.push_back(itl_change(pick));
    if (!outside) continue;
    for (int p = 0; p < 2; ++p) {
      std::uniform_int_distribution<std::size_t> any(0, paths[p].outside.size() - 1);
      drawn[p].clear();
      for (std::size_t k = 0; k < paths[p].outside.size(); ++k) drawn[p].push_back(paths[p].outside[any(rng)]);
    }
    outside_diffs.push_back(percentile_in_place(drawn[1], 50) - percentile_in_place(drawn[0], 50));
  }
  c.ttft_p50_diff_ms.lo = percentile(diffs, 2.5);
  c.ttft_p50_diff_ms.hi = percentile(diffs, 97.5);
  c.itl_p99_change_pct.lo = percentile(changes, 2.5);
  c.itl_p99_change_pct.hi = percentile(changes, 97.5);
  if (outside) {
    c.outside_p50_diff_ms.lo = percentile(outside_diffs, 2.5);
    c.outside_p50_diff_ms.hi = percentile(outside_diffs, 97.5);
  }
  return c;
}

std::string format_comparison(const PathComparison& c, const std::string& name0, const std::string& name1) {
  std::string out = "------ Two paths, alternating in the same run ------\n";
  char buf[256];
  const std::string* names[2] = {&name0, &name1};
  for (int p = 0; p < 2; ++p) {
    const RunSummary& s = c.paths[p];
    std::snprintf(buf, sizeof buf, "path %d %s: %d ok, %d failed; TTFT p50 %.2f p99 %.2f ms; ITL p50 %.2f p99 %.2f ms\n",
                  p, names[p]->c_str(), s.completed, s.failed, s.ttft.p50, s.ttft.p99, s.itl.p50, s.itl.p99);
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "TTFT p50, path 1 - path 0: %+.2f ms (95%% CI %+.2f .. %+.2f, %d resamples)\n",
                c.ttft_p50_diff_ms.value, c.ttft_p50_diff_ms.lo, c.ttft_p50_diff_ms.hi, c.resamples);
  out += buf;
  std::snprintf(buf, sizeof buf, "ITL p99, path 1 vs path 0:  %+.1f %% (95%% CI %+.1f .. %+.1f)\n",
                c.itl_p99_change_pct.value, c.itl_p99_change_pct.lo, c.itl_p99_change_pct.hi);
  out += buf;
  if (c.outside_count[0] > 0 && c.outside_count[1] > 0) {
    std::snprintf(buf, sizeof buf,
                  "TTFT outside the server (client - server-ttft-ms) p50: %.3f / %.3f ms (%d / %d requests)\n"
                  "  path 1 - path 0: %+.3f ms (95%% CI %+.3f .. %+.3f)\n",
                  c.outside_p50_ms[0], c.outside_p50_ms[1], c.outside_count[0], c.outside_count[1],
                  c.outside_p50_diff_ms.value, c.outside_p50_diff_ms.lo, c.outside_p50_diff_ms.hi);
    out += buf;
  }
  out += std::string(50, '=') + "\n";
  return out;
}

nlohmann::json comparison_to_json(const PathComparison& c) {
  auto est = [](const Estimate& e) { return nlohmann::json{{"value", e.value}, {"lo", e.lo}, {"hi", e.hi}}; };
  return {{"paths", {summary_to_json(c.paths[0]), summary_to_json(c.paths[1])}},
          {"ttft_p50_diff_ms", est(c.ttft_p50_diff_ms)},
          {"itl_p99_change_pct", est(c.itl_p99_change_pct)},
          {"outside_count", {c.outside_count[0], c.outside_count[1]}},
          {"outside_p50_ms", {c.outside_p50_ms[0], c.outside_p50_ms[1]}},
          {"outside_p50_diff_ms", est(c.outside_p50_diff_ms)},
          {"resamples", c.resamples}};
}

}  // namespace ladle::loadgen
