// The report's charts of RL's sampling-free instruments: probe shares summed per grader label beside
// the sampled shares, probe log-probabilities, per-source NLL; none for runs logged without them,
// and a run page that has them renders them.
#include <gtest/gtest.h>

#include "tests/test_util.h"
#include "train/study/report.h"
#include "util/util.h"

namespace chamber {
namespace {

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) n++;
  return n;
}

TEST(ReportProbes, LabelsFollowTheGrader) {
  EXPECT_EQ(probe_style_label("tinygsm_short"), "tinygsm");
  EXPECT_EQ(probe_style_label("tinygsm"), "tinygsm");
  EXPECT_EQ(probe_style_label("omi1"), "omi1");
  EXPECT_EQ(probe_style_label("omi2"), "text");
  EXPECT_EQ(probe_style_label("omi2_steps"), "text");
  EXPECT_EQ(probe_style_label("gsm8k"), "text");
}

TEST(ReportProbes, ChartsOnlyWhenLogged) {
  MetricsColumns old;
  old.points["style_tinygsm"] = {{0, 0.2}, {1, 0.3}};
  old.points["reward"] = {{0, 0.1}, {1, 0.2}};
  EXPECT_EQ(report_probe_charts(old), "");

  MetricsColumns cols = old;
  cols.points["probe_share_tinygsm_short"] = {{0, 0.5}, {1, 0.7}};
  cols.points["probe_share_omi2"] = {{0, 0.2}, {1, 0.1}};
  cols.points["probe_share_gsm8k"] = {{0, 0.3}, {1, 0.2}};
  cols.points["probe_logp_omi2"] = {{0, -3.0}, {1, -4.0}};
  cols.points["nll_mathtext"] = {{0, 2.5}, {1, 2.6}};
  std::string h = report_probe_charts(cols);
  EXPECT_EQ(count_of(h, "<svg "), 3u);
  EXPECT_NE(h.find("probe tinygsm"), std::string::npos);
  EXPECT_NE(h.find("probe text"), std::string::npos);      // omi2 + gsm8k, one line
  EXPECT_EQ(h.find("probe omi2"), std::string::npos);
  EXPECT_NE(h.find("sampled tinygsm"), std::string::npos);
  EXPECT_NE(h.find("mathtext"), std::string::npos);
}

TEST(ReportProbes, RunPageShowsThem) {
  std::string dir = testing::temp_dir("report_probes");
  make_dirs(dir + "/r1/rl");
  write_file_atomic(dir + "/r1/run.json", nlohmann::json{{"id", "r1"}, {"axes", nlohmann::json::object()}}.dump());
  std::string text;
  for (int s = 0; s < 3; s++)
    text += nlohmann::json{{"step", s}, {"reward", 0.1 * s}, {"style_tinygsm", 0.5}, {"probe_share_omi1", 0.4},
                           {"probe_share_tinygsm", 0.6}, {"nll_omi1", 2.0 - 0.1 * s}}.dump() + "\n";
  write_file_atomic(dir + "/r1/rl/metrics.jsonl", text);
  std::string html = report_html(report_load(dir));
  EXPECT_NE(html.find("Held-out NLL per pretraining source"), std::string::npos);
  EXPECT_NE(html.find("probes, no sampling"), std::string::npos);
  EXPECT_EQ(count_of(html, "<svg "), count_of(html, "</svg>"));
}

}  // namespace
}  // namespace chamber
