// Small SVG charts for the experiment report (train/study/report.h): a line chart and a stacked
// area chart, each returned as one self-contained <svg> element (no scripts, no external fonts or
// styles) so that report.html is a single file a browser renders offline.
//
// Geometry: a chart is width x height pixels; the plot area is inset by fixed margins (axis labels
// left and below, the legend to the right). A value maps to pixels linearly, or for a log axis
// through log10(x + log_offset): RL steps start at 0, so the step axis uses offset 1 and its ticks
// are labelled with the step itself (0, 1, 10, 100, ...). Points whose x or y is not finite are
// skipped and break a line, so a metric logged only every few steps draws as separate segments
// only where it is really missing.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace chamber {

struct ChartAxes {
  std::string title;
  std::string x_label, y_label;
  bool x_log = false;           // log10(x + x_log_offset)
  double x_log_offset = 1.0;
  double y_min = 0.0 / 0.0;     // NaN: from the data
  double y_max = 0.0 / 0.0;
  int width = 570, height = 300;
};

struct ChartSeries {
  std::string name;
  std::vector<double> x, y;     // same length
  bool dashed = false;
  std::vector<double> lo{}, hi{};   // optional band around y (same length as x, or empty): drawn
                                //   shaded in the line's colour where both are finite
};

// Escapes & < > " ' for HTML text and attribute values.
std::string html_escape(std::string_view text);

// The i-th colour of the report's palette (cycles).
const char* chart_color(int i);

// Lines, one per series (each over its band, when it has one), with axes, ticks, grid and a legend. An empty or all-NaN input gives a
// chart frame saying "no data".
std::string svg_line_chart(const ChartAxes& axes, const std::vector<ChartSeries>& series);

// Stacked areas over a shared x: layer i is drawn between the sum of layers < i and the sum of
// layers <= i (shares of styles: each column sums to 1 when the shares are complete).
std::string svg_stacked_area(const ChartAxes& axes, const std::vector<double>& x,
                             const std::vector<ChartSeries>& layers);

// "Nice" tick values covering [lo, hi] (about `count` of them, steps of 1, 2 or 5 x 10^k), and the
// decade ticks for a log axis over [lo, hi] of raw values (offset applied by the caller).
std::vector<double> linear_ticks(double lo, double hi, int count);
std::vector<double> log_ticks(double lo, double hi);
// Short tick label: "0.25", "1e-3", "1200", "10k".
std::string tick_label(double v);

}  // namespace chamber
