// The report's charts of RL's sampling-free instruments (train/rl_probes.h), for a run's section:
// the style shares the probes imply beside the shares of sampled answers, the probes' raw
// log-probabilities, and the per-source held-out NLL. Runs logged before the instruments existed
// have none of the keys and get no charts.
#include <map>

#include "train/study/report.h"
#include "train/study/report_page.h"
#include "train/study/report_svg.h"

namespace chamber {

std::string probe_style_label(const std::string& style) {
  if (style == "tinygsm" || style == "tinygsm_short") return "tinygsm";
  if (style == "omi2" || style == "omi2_steps" || style == "gsm8k") return "text";
  return style;
}

namespace {

const size_t kMaxProbePoints = 400;   // longer curves are thinned to about this many points

ChartSeries thinned(const std::string& name, const std::vector<std::pair<double, double>>& pts, bool dashed) {
  ChartSeries s;
  s.name = name;
  s.dashed = dashed;
  const size_t stride = pts.size() / kMaxProbePoints + 1;
  for (size_t i = 0; i < pts.size(); i += stride) s.x.push_back(pts[i].first), s.y.push_back(pts[i].second);
  if (!pts.empty() && (pts.size() - 1) % stride != 0) s.x.push_back(pts.back().first), s.y.push_back(pts.back().second);
  return s;
}

// The keys "<prefix><name>" of `cols`, by name.
std::map<std::string, const std::vector<std::pair<double, double>>*> with_prefix(const MetricsColumns& cols,
                                                                                const std::string& prefix) {
  std::map<std::string, const std::vector<std::pair<double, double>>*> out;
  for (const auto& [key, pts] : cols.points)
    if (key.size() > prefix.size() && key.compare(0, prefix.size(), prefix) == 0) out[key.substr(prefix.size())] = &pts;
  return out;
}

}  // namespace

std::string report_probe_charts(const MetricsColumns& rl) {
  const auto shares = with_prefix(rl, "probe_share_"), logps = with_prefix(rl, "probe_logp_"),
             nlls = with_prefix(rl, "nll_");
  std::string h;
  if (!shares.empty()) {
    // Probe shares summed per grader label (omi2 and gsm8k openings both read as text), so they
    // line up with the sampled shares, which the grader labels.
    std::map<std::string, std::map<double, double>> by_label;
    for (const auto& [style, pts] : shares)
      for (const auto& [step, v] : *pts) by_label[probe_style_label(style)][step] += v;
    std::vector<ChartSeries> series;
    for (const auto& [label, at] : by_label)
      series.push_back(thinned("probe " + label, {at.begin(), at.end()}, false));
    for (const auto& [label, pts] : with_prefix(rl, "style_"))
      if (label.rfind("acc_", 0) != 0) series.push_back(thinned("sampled " + label, *pts, true));
    ChartAxes a = report_rl_axes("Style shares: probes, no sampling (solid) and sampled rollouts (dashed)", "share");
    a.y_min = 0.0, a.y_max = 1.0;
    h += svg_line_chart(a, series);
  }
  if (!logps.empty()) {
    std::vector<ChartSeries> series;
    for (const auto& [style, pts] : logps) series.push_back(thinned(style, *pts, false));
    h += svg_line_chart(report_rl_axes("Probes: mean log p(style's opening | prompt)", "log-probability"), series);
  }
  if (!nlls.empty()) {
    std::vector<ChartSeries> series;
    for (const auto& [source, pts] : nlls) series.push_back(thinned(source, *pts, false));
    h += svg_line_chart(report_rl_axes("Held-out NLL per pretraining source (step 0: the pretrained model)",
                                  "nats/token"),
                        series);
  }
  return h;
}

}  // namespace chamber
