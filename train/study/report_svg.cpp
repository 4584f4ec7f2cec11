// SVG line and stacked-area charts: see report_svg.h. Everything is written as plain SVG elements
// with inline attributes (no CSS classes) so the charts look the same wherever the file is opened.
#include "train/study/report_svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace chamber {

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

const char* chart_color(int i) {
  // Ten well-separated hues, readable on white and distinguishable in print.
  static const char* palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return palette[((i % 10) + 10) % 10];
}

std::string tick_label(double v) {
  char buf[32];
  double a = std::fabs(v);
  if (v == 0) return "0";
  if (a >= 1e6) std::snprintf(buf, sizeof buf, "%gM", v / 1e6);
  else if (a >= 1e4) std::snprintf(buf, sizeof buf, "%gk", v / 1e3);
  else if (a < 1e-3) std::snprintf(buf, sizeof buf, "%.0e", v);
  else std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::vector<double> linear_ticks(double lo, double hi, int count) {
  std::vector<double> ticks;
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {lo};
  double raw = (hi - lo) / std::max(count, 1);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) { step = m * mag; break; }
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step)
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> ticks;
  if (lo <= 0) ticks.push_back(0.0);
  // A step axis starts at 0 (drawn at log10(0 + 1)); its decades start at 1.
  int first = lo <= 0 ? 0 : (int)std::floor(std::log10(lo));
  int last = (int)std::floor(std::log10(std::max(hi, 1e-12)));
  bool few_decades = hi / std::max(lo, 1.0) < 300;
  for (int e = first; e <= last; e++) {
    for (double m : {1.0, 2.0, 5.0}) {
      double t = m * (e >= 0 ? std::pow(10.0, e) : 1.0 / std::pow(10.0, -e));  // exact for e >= 0
      if (m != 1.0 && !few_decades) continue;
      if (t >= lo * 0.9999999 && t <= hi * 1.0000001 && t > 0) ticks.push_back(t);
    }
  }
  return ticks;
}

namespace {

// Plot area inside the chart and the value -> pixel maps.
struct Frame {
  ChartAxes axes;
  double x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;   // data range (x raw, before the log)
  double left = 58, right = 0, top = 30, bottom = 0;

  double xt(double x) const { return axes.x_log ? std::log10(std::max(x + axes.x_log_offset, 1e-12)) : x; }
  double px(double x) const {
    double a = xt(x_lo), b = xt(x_hi);
    return left + (b > a ? (xt(x) - a) / (b - a) : 0.5) * (right - left);
  }
  double py(double y) const {
    return bottom - (y_hi > y_lo ? (y - y_lo) / (y_hi - y_lo) : 0.5) * (bottom - top);
  }
};

std::string fmt(const char* format, double a, double b = 0, double c = 0, double d = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, format, a, b, c, d);
  return buf;
}

Frame make_frame(const ChartAxes& axes, double x_lo, double x_hi, double y_lo, double y_hi) {
  Frame f;
  f.axes = axes;
  f.right = axes.width - 160;     // room for the legend
  f.bottom = axes.height - 42;    // room for tick labels and the x label
  if (!std::isfinite(x_lo)) x_lo = 0, x_hi = 1;
  if (!std::isfinite(y_lo)) y_lo = 0, y_hi = 1;
  if (y_hi > y_lo) {  // widen a data range to the enclosing ticks so the frame ends on labels
    std::vector<double> t = linear_ticks(y_lo, y_hi, 5);
    double step = t.size() >= 2 ? t[1] - t[0] : 0;
    if (step > 0) y_lo = std::floor(y_lo / step + 1e-9) * step, y_hi = std::ceil(y_hi / step - 1e-9) * step;
  }
  if (std::isfinite(axes.y_min)) y_lo = axes.y_min;
  if (std::isfinite(axes.y_max)) y_hi = axes.y_max;
  if (y_hi <= y_lo) {  // a flat series: give it some room
    double pad = std::fabs(y_lo) > 0 ? std::fabs(y_lo) * 0.1 : 1.0;
    y_lo -= pad, y_hi += pad;
  }
  if (x_hi <= x_lo) x_hi = x_lo + 1;
  f.x_lo = x_lo, f.x_hi = x_hi, f.y_lo = y_lo, f.y_hi = y_hi;
  return f;
}

std::string open_svg(const Frame& f) {
  const ChartAxes& a = f.axes;
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(a.width) +
                  "\" height=\"" + std::to_string(a.height) + "\" viewBox=\"0 0 " + std::to_string(a.width) +
                  " " + std::to_string(a.height) + "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  s += "<text x=\"" + std::to_string(a.width / 2) + "\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" "
       "font-weight=\"bold\">" + html_escape(a.title) + "</text>\n";
  return s;
}

// Grid, ticks, tick labels and axis labels.
std::string draw_axes(const Frame& f) {
  std::string s;
  std::vector<double> xt = f.axes.x_log ? log_ticks(f.x_lo, f.x_hi) : linear_ticks(f.x_lo, f.x_hi, 6);
  for (double x : xt) {
    double p = f.px(x);
    s += fmt("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e6e6\"/>\n", p, f.top, p, f.bottom);
    s += fmt("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", p, f.bottom + 14) + html_escape(tick_label(x)) +
         "</text>\n";
  }
  for (double y : linear_ticks(f.y_lo, f.y_hi, 5)) {
    double p = f.py(y);
    s += fmt("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e6e6\"/>\n", f.left, p, f.right, p);
    s += fmt("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", f.left - 5, p + 4) + html_escape(tick_label(y)) +
         "</text>\n";
  }
  s += fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n", f.left,
           f.top, f.right - f.left, f.bottom - f.top);
  std::string xl = f.axes.x_label + (f.axes.x_log ? " (log scale)" : "");
  s += fmt("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (f.left + f.right) / 2, f.bottom + 32) +
       html_escape(xl) + "</text>\n";
  double cy = (f.top + f.bottom) / 2;
  s += fmt("<text x=\"14\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 14 %.1f)\">", cy, cy) +
       html_escape(f.axes.y_label) + "</text>\n";
  return s;
}

std::string draw_legend(const Frame& f, const std::vector<ChartSeries>& series, bool boxes) {
  std::string s;
  double x = f.right + 12, y = f.top + 6;
  for (size_t i = 0; i < series.size() && y < f.axes.height - 10; i++, y += 16) {
    const char* color = chart_color((int)i);
    if (boxes)
      s += fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"10\"", x, y - 4) + " fill=\"" + color + "\"/>\n";
    else
      s += fmt("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"", x, y + 1, x + 14, y + 1) + " stroke=\"" +
           color + "\" stroke-width=\"2\"" + (series[i].dashed ? " stroke-dasharray=\"4 3\"" : "") + "/>\n";
    std::string name = series[i].name.size() > 22 ? series[i].name.substr(0, 21) + "\u2026" : series[i].name;
    s += fmt("<text x=\"%.1f\" y=\"%.1f\">", x + 18, y + 5) + html_escape(name) + "</text>\n";
  }
  return s;
}

std::string no_data(const Frame& f) {
  return fmt("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n",
             (f.left + f.right) / 2, (f.top + f.bottom) / 2);
}

bool usable(const ChartAxes& a, double x, double y) {
  return std::isfinite(x) && std::isfinite(y) && (!a.x_log || x + a.x_log_offset > 0);
}

// A series' band as shaded polygons, one per stretch of points where the band is known: the
// upper edge forward, then the lower edge back. Drawn under every line so no line is hidden.
std::string draw_band(const Frame& f, const ChartSeries& s, const char* color) {
  std::string svg, pts;
  std::vector<size_t> stretch;
  auto flush = [&] {
    if (stretch.size() >= 2) {
      pts.clear();
      for (size_t i : stretch) pts += fmt("%.1f,%.1f ", f.px(s.x[i]), f.py(s.hi[i]));
      for (auto it = stretch.rbegin(); it != stretch.rend(); ++it) pts += fmt("%.1f,%.1f ", f.px(s.x[*it]), f.py(s.lo[*it]));
      svg += "<polygon points=\"" + pts + "\" fill=\"" + color + "\" fill-opacity=\"0.18\" stroke=\"none\"/>\n";
    } else if (stretch.size() == 1) {   // a lone point: an error bar
      size_t i = stretch[0];
      svg += fmt("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"", f.px(s.x[i]), f.py(s.hi[i]), f.px(s.x[i]),
                 f.py(s.lo[i])) + " stroke=\"" + color + "\" stroke-opacity=\"0.5\" stroke-width=\"4\"/>\n";
    }
    stretch.clear();
  };
  for (size_t i = 0; i < s.x.size() && i < s.lo.size() && i < s.hi.size(); i++) {
    if (usable(f.axes, s.x[i], s.y[i]) && std::isfinite(s.lo[i]) && std::isfinite(s.hi[i])) stretch.push_back(i);
    else flush();
  }
  flush();
  return svg;
}

}  // namespace

std::string svg_line_chart(const ChartAxes& axes, const std::vector<ChartSeries>& series) {
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); i++) {
      if (!usable(axes, s.x[i], s.y[i])) continue;
      x_lo = std::min(x_lo, s.x[i]), x_hi = std::max(x_hi, s.x[i]);
      y_lo = std::min(y_lo, s.y[i]), y_hi = std::max(y_hi, s.y[i]);
      if (i < s.lo.size() && i < s.hi.size() && std::isfinite(s.lo[i]) && std::isfinite(s.hi[i]))
        y_lo = std::min(y_lo, s.lo[i]), y_hi = std::max(y_hi, s.hi[i]);
    }
  Frame f = make_frame(axes, x_lo, x_hi, y_lo, y_hi);
  std::string svg = open_svg(f) + draw_axes(f);
  if (!std::isfinite(x_lo)) svg += no_data(f);
  for (size_t k = 0; k < series.size(); k++) svg += draw_band(f, series[k], chart_color((int)k));
  for (size_t k = 0; k < series.size(); k++) {
    const ChartSeries& s = series[k];
    std::string path;
    int points = 0;
    bool pen_down = false;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); i++) {
      if (!usable(axes, s.x[i], s.y[i])) {
        pen_down = false;
        continue;
      }
      path += fmt(pen_down ? "L%.1f %.1f " : "M%.1f %.1f ", f.px(s.x[i]), f.py(s.y[i]));
      pen_down = true;
      points++;
    }
    if (points == 0) continue;
    std::string color = chart_color((int)k);
    svg += "<path d=\"" + path + "\" fill=\"none\" stroke=\"" + color + "\" stroke-width=\"1.8\"" +
           (s.dashed ? " stroke-dasharray=\"5 3\"" : "") + "/>\n";
    if (points <= 3)  // a line of one or two points is hard to see: mark them
      for (size_t i = 0; i < s.x.size() && i < s.y.size(); i++)
        if (usable(axes, s.x[i], s.y[i]))
          svg += fmt("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\"", f.px(s.x[i]), f.py(s.y[i])) + " fill=\"" + color +
                 "\"/>\n";
  }
  svg += draw_legend(f, series, false);
  return svg + "</svg>\n";
}

std::string svg_stacked_area(const ChartAxes& axes, const std::vector<double>& x,
                             const std::vector<ChartSeries>& layers) {
  std::vector<size_t> cols;  // columns with a usable x
  for (size_t i = 0; i < x.size(); i++)
    if (usable(axes, x[i], 0.0)) cols.push_back(i);
  std::vector<double> below(x.size(), 0.0);
  double x_lo = INFINITY, x_hi = -INFINITY, y_hi = 0.0;
  for (size_t i : cols) {
    x_lo = std::min(x_lo, x[i]), x_hi = std::max(x_hi, x[i]);
    double total = 0;
    for (const auto& l : layers)
      if (i < l.y.size() && std::isfinite(l.y[i])) total += l.y[i];
    y_hi = std::max(y_hi, total);
  }
  Frame f = make_frame(axes, x_lo, x_hi, 0.0, y_hi > 0 ? y_hi : 1.0);
  std::string svg = open_svg(f) + draw_axes(f);
  if (cols.empty()) svg += no_data(f);
  for (size_t k = 0; k < layers.size() && !cols.empty(); k++) {
    const ChartSeries& l = layers[k];
    std::vector<double> above = below;
    for (size_t i : cols)
      if (i < l.y.size() && std::isfinite(l.y[i])) above[i] += l.y[i];
    // The polygon runs along the layer's top edge forward, then back along its bottom edge.
    std::string pts;
    for (size_t i : cols) pts += fmt("%.1f,%.1f ", f.px(x[i]), f.py(above[i]));
    for (auto it = cols.rbegin(); it != cols.rend(); ++it) pts += fmt("%.1f,%.1f ", f.px(x[*it]), f.py(below[*it]));
    if (cols.size() == 1) {  // one column: draw it as a bar so it is visible
      double p = f.px(x[cols[0]]);
      svg += fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"%.1f\"", p - 4, f.py(above[cols[0]]),
                 f.py(below[cols[0]]) - f.py(above[cols[0]])) + " fill=\"" + chart_color((int)k) + "\"/>\n";
    } else {
      svg += "<polygon points=\"" + pts + "\" fill=\"" + chart_color((int)k) +
             "\" fill-opacity=\"0.85\" stroke=\"#ffffff\" stroke-width=\"0.5\"/>\n";
    }
    below = above;
  }
  svg += draw_legend(f, layers, true);
  return svg + "</svg>\n";
}

}  // namespace chamber
