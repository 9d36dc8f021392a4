// SVG plot of latency CDFs: two panels (TTFT and ITL), one curve per benchmark level, written
// by hand (no plotting library): log-scaled millisecond x axis with 1-2-5 ticks, 0–1 y axis,
// grid, axis labels, legend.
//
// Pure function, any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ladle::loadgen {

struct CdfSeries {
  std::string label;           // legend text, e.g. "c=8"
  std::vector<double> values;  // milliseconds, any order
};

// A standalone SVG document. Empty series are listed in the legend but draw no curve.
std::string render_cdf_svg(std::string_view title, const std::vector<CdfSeries>& ttft,
                           const std::vector<CdfSeries>& itl);

}  // namespace ladle::loadgen
