#include "bench/loadgen/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace ladle::loadgen {
namespace {

constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                   "#9467bd", "#8c564b", "#e377c2", "#17becf"};
// NOTE(loadgen): log axes cannot show 0; gaps below kFloorMs (several events parsed from one
// socket read) are drawn at the floor, i.e. on the left edge of the ITL panel.
constexpr double kPanelW = 440, kPanelH = 300, kLeft = 60, kTop = 50, kGap = 90, kFloorMs = 0.01;
constexpr std::size_t kMaxPoints = 400;

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string tick_label(double ms) {
  char buf[32];
  if (ms >= 1) std::snprintf(buf, sizeof buf, "%g", ms);
  else std::snprintf(buf, sizeof buf, "%.2g", ms);
  return buf;
}

// One panel at horizontal offset x0: frame, ticks, grid and a CDF curve per series.
void draw_panel(std::ostringstream& os, double x0, std::string_view name, const std::vector<CdfSeries>& series) {
  double lo = 1e300, hi = 0;
  for (const auto& s : series)
    for (double v : s.values) {
      lo = std::min(lo, std::max(v, kFloorMs));
      hi = std::max(hi, std::max(v, kFloorMs));
    }
  if (hi <= 0) lo = 1, hi = 10;
  double llo = std::floor(std::log10(lo)), lhi = std::ceil(std::log10(hi));
  if (lhi <= llo) lhi = llo + 1;
  auto px = [&](double ms) { return x0 + (std::log10(std::max(ms, kFloorMs)) - llo) / (lhi - llo) * kPanelW; };
  auto py = [&](double f) { return kTop + (1 - f) * kPanelH; };

  os << "<g font-family=\"sans-serif\" font-size=\"11\">\n";
  os << "<text x=\"" << num(x0 + kPanelW / 2) << "\" y=\"" << num(kTop - 12)
     << "\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">" << escape(name) << " CDF</text>\n";
  for (double d = llo; d <= lhi; d += 1)
    for (double m : {1.0, 2.0, 5.0}) {
      double ms = m * std::pow(10.0, d);
      if (std::log10(ms) > lhi + 1e-9) break;
      double x = px(ms);
      os << "<line x1=\"" << num(x) << "\" y1=\"" << num(kTop) << "\" x2=\"" << num(x) << "\" y2=\""
         << num(kTop + kPanelH) << "\" stroke=\"" << (m == 1.0 ? "#ccc" : "#eee") << "\"/>\n";
      os << "<text x=\"" << num(x) << "\" y=\"" << num(kTop + kPanelH + 15) << "\" text-anchor=\"middle\">"
         << tick_label(ms) << "</text>\n";
    }
  for (int i = 0; i <= 10; i += 2) {
    double f = i / 10.0;
    os << "<line x1=\"" << num(x0) << "\" y1=\"" << num(py(f)) << "\" x2=\"" << num(x0 + kPanelW) << "\" y2=\""
       << num(py(f)) << "\" stroke=\"#eee\"/>\n";
    os << "<text x=\"" << num(x0 - 6) << "\" y=\"" << num(py(f) + 4) << "\" text-anchor=\"end\">" << num(f)
       << "</text>\n";
  }
  os << "<rect x=\"" << num(x0) << "\" y=\"" << num(kTop) << "\" width=\"" << num(kPanelW) << "\" height=\""
     << num(kPanelH) << "\" fill=\"none\" stroke=\"#333\"/>\n";
  os << "<text x=\"" << num(x0 + kPanelW / 2) << "\" y=\"" << num(kTop + kPanelH + 34)
     << "\" text-anchor=\"middle\">" << escape(name) << " (ms, log scale)</text>\n";
  os << "<text transform=\"translate(" << num(x0 - 40) << "," << num(kTop + kPanelH / 2)
     << ") rotate(-90)\" text-anchor=\"middle\">fraction of samples ≤ x</text>\n";

  for (std::size_t i = 0; i < series.size(); ++i) {
    std::vector<double> v = series[i].values;
    if (v.empty()) continue;
    std::sort(v.begin(), v.end());
    std::size_t step = std::max<std::size_t>(1, v.size() / kMaxPoints);
    os << "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" << kColors[i % 8] << "\" points=\"";
    os << num(px(v.front())) << "," << num(py(0)) << " ";
    for (std::size_t k = 0; k < v.size(); k += step) {
      std::size_t j = std::min(v.size() - 1, k + step - 1);  // top of this step
      os << num(px(v[j])) << "," << num(py(static_cast<double>(k) / v.size())) << " "
         << num(px(v[j])) << "," << num(py(static_cast<double>(j + 1) / v.size())) << " ";
    }
    os << "\"/>\n";
  }
  os << "</g>\n";
}

}  // namespace

std::string render_cdf_svg(std::string_view title, const std::vector<CdfSeries>& ttft,
                           const std::vector<CdfSeries>& itl) {
  std::size_t n = std::max(ttft.size(), itl.size());
  double width = kLeft + 2 * kPanelW + kGap + 30;
  double legend_y = kTop + kPanelH + 60;
  double height = legend_y + 20 + 18 * static_cast<double>((n + 3) / 4);
  std::ostringstream os;
  os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
     << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(width) << "\" height=\"" << num(height)
     << "\" viewBox=\"0 0 " << num(width) << " " << num(height) << "\">\n"
     << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
     << "<text x=\"" << num(width / 2) << "\" y=\"20\" text-anchor=\"middle\" font-family=\"sans-serif\" "
        "font-size=\"15\">" << escape(title) << "</text>\n";
  draw_panel(os, kLeft, "TTFT", ttft);
  draw_panel(os, kLeft + kPanelW + kGap, "ITL", itl);
  const std::vector<CdfSeries>& names = ttft.size() >= itl.size() ? ttft : itl;
  os << "<g font-family=\"sans-serif\" font-size=\"12\">\n";
  for (std::size_t i = 0; i < names.size(); ++i) {
    double x = kLeft + static_cast<double>(i % 4) * 200, y = legend_y + 18 * static_cast<double>(i / 4);
    os << "<line x1=\"" << num(x) << "\" y1=\"" << num(y) << "\" x2=\"" << num(x + 24) << "\" y2=\"" << num(y)
       << "\" stroke=\"" << kColors[i % 8] << "\" stroke-width=\"3\"/>\n";
    os << "<text x=\"" << num(x + 30) << "\" y=\"" << num(y + 4) << "\">" << escape(names[i].label) << "</text>\n";
  }
  os << "</g>\n</svg>\n";
  return os.str();
}

}  // namespace ladle::loadgen
