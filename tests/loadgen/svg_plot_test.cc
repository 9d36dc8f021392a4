#include "bench/loadgen/svg_plot.h"

#include <gtest/gtest.h>

#include <vector>

namespace ladle::loadgen {
namespace {

// Checks that every element is closed in order (a small XML well-formedness check: tags
// balance, attributes are quoted, no raw '<' or '&' in text). Returns "" or the problem.
std::string check_well_formed(const std::string& doc) {
  std::vector<std::string> stack;
  std::size_t pos = doc.find("<svg");
  if (pos == std::string::npos) return "no <svg>";
  while (pos < doc.size()) {
    std::size_t lt = doc.find('<', pos);
    std::string text = doc.substr(pos, lt == std::string::npos ? std::string::npos : lt - pos);
    for (std::size_t a = text.find('&'); a != std::string::npos; a = text.find('&', a + 1))
      if (text.compare(a, 4, "&lt;") && text.compare(a, 4, "&gt;") && text.compare(a, 5, "&amp;") &&
          text.compare(a, 6, "&quot;"))
        return "raw & in text";
    if (lt == std::string::npos) break;
    std::size_t gt = doc.find('>', lt);
    if (gt == std::string::npos) return "unterminated tag";
    std::string tag = doc.substr(lt + 1, gt - lt - 1);
    if (tag.find('<') != std::string::npos) return "'<' inside a tag";
    if (std::count(tag.begin(), tag.end(), '"') % 2) return "unbalanced quotes in <" + tag + ">";
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1)) return "mismatched </" + tag.substr(1) + ">";
      stack.pop_back();
    } else if (tag.back() != '/') {
      stack.push_back(tag.substr(0, tag.find_first_of(" \n")));
    }
    pos = gt + 1;
  }
  return stack.empty() ? "" : "unclosed <" + stack.back() + ">";
}

TEST(SvgPlotTest, WellFormedWithCurvesLegendAndAxes) {
  std::vector<CdfSeries> ttft = {{"c=1", {10, 12, 11, 30}}, {"c=8 <&>", {50, 60, 70, 400}}};
  std::vector<CdfSeries> itl = {{"c=1", {1.5, 2, 2.5, 0}}, {"c=8 <&>", {14, 15, 22}}};
  std::string svg = render_cdf_svg("bench \"x\" & y", ttft, itl);
  EXPECT_EQ(check_well_formed(svg), "");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  auto count = [&](std::string_view needle) {
    std::size_t n = 0;
    for (auto p = svg.find(needle); p != std::string::npos; p = svg.find(needle, p + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("<polyline"), 4u);            // one curve per series per panel
  EXPECT_EQ(count("TTFT (ms, log scale)"), 1u);  // axis labels
  EXPECT_EQ(count("ITL (ms, log scale)"), 1u);
  EXPECT_EQ(count("c=8 &lt;&amp;&gt;"), 1u);     // legend, escaped
  EXPECT_GE(count(">100<"), 1u);                // a decade tick label on the TTFT axis
  EXPECT_NE(svg.find("fraction of samples"), std::string::npos);
}

TEST(SvgPlotTest, EmptySeriesStillWellFormed) {
  std::string svg = render_cdf_svg("empty", {{"c=1", {}}}, {{"c=1", {}}});
  EXPECT_EQ(check_well_formed(svg), "");
  EXPECT_EQ(svg.find("<polyline"), std::string::npos);
}

TEST(SvgPlotTest, WellFormedCheckerCatchesErrors) {
  EXPECT_NE(check_well_formed("<svg><g></svg>"), "");
  EXPECT_NE(check_well_formed("<svg>a & b</svg>"), "");
  EXPECT_EQ(check_well_formed("<svg><g/><text>a &amp; b</text></svg>"), "");
}

}  // namespace
}  // namespace ladle::loadgen
