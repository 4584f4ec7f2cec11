// The experiment report from synthetic run directories (no training): metric names are recognised,
// every chart is an SVG, a comparison table appears per swept axis, text from files is escaped,
// runs without reward signal are flagged, report.json holds the numbers, and the page renders in
// headless Chromium to something that is not blank (skipped where chromium is not installed).
// A seed sweep is aggregated: per-problem results recomputed from the generations match eval.json,
// curves carry bands, table cells intervals, findings are counted over seeds; runs written without
// per-problem results still give such a page.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "data/grader.h"
#include "util/util.h"
#include "tests/test_util.h"
#include "train/eval.h"
#include "train/study/report.h"
#include "train/study/report_svg.h"

namespace chamber {
namespace {

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) n++;
  return n;
}

void write_lines(const std::string& path, const std::vector<nlohmann::json>& lines) {
  std::string text;
  for (const auto& l : lines) text += l.dump() + "\n";
  write_file_atomic(path, text);
}

// A run whose tinygsm share rises logistically (faster with the small KL coefficient).
void write_run(const std::string& root, const std::string& id, const std::string& algo, double kl_coef,
               bool dead = false) {
  std::string dir = root + "/" + id;
  make_dirs(dir + "/rl");
  make_dirs(dir + "/eval");
  write_file_atomic(dir + "/run.json",
                    nlohmann::json{{"id", id},
                                   {"axes", {{"rl.algorithm", algo}, {"rl.kl_coef", std::to_string(kl_coef)}}},
                                   {"pretrain_dir", "pretrain/abc123"}}
                        .dump());
  std::vector<nlohmann::json> lines;
  double speed = kl_coef < 0.005 ? 0.3 : 0.1;
  for (int step = 0; step < 60; step++) {
    double code = dead ? 0.33 : 1.0 / (1.0 + std::exp(-speed * (step - 15)));
    double rest = 1.0 - code;
    nlohmann::json l = {{"step", step},
                        {"reward", dead ? 0.0 : 0.2 + 0.6 * code},
                        {"kl", 0.001 * step * (algo == "ppo" ? 1.0 : 1.5)},
                        {"entropy", 1.5 - code},
                        {"style_share", {{"tinygsm", code}, {"omi1", rest * 0.6}, {"text", rest * 0.4}}},
                        {"style_accuracy.tinygsm", 0.8}, {"style_accuracy.omi1", 0.3}, {"style_accuracy.text", 0.05}};
    if (step % 10 == 0) {
      l["pass@1"] = dead ? 0.0 : 0.3 + 0.5 * code;
      l["pass@8"] = dead ? 0.01 : 0.9 - 0.1 * code;
      l["maj@8"] = dead ? 0.0 : 0.6 + 0.2 * code;
    }
    lines.push_back(l);
  }
  write_lines(dir + "/rl/metrics.jsonl", lines);
  write_file_atomic(dir + "/eval/eval.json", nlohmann::json{{"pass@1", dead ? 0.0 : 0.77}, {"pass@8", 0.85}}.dump());
  // Checkpoint evaluations in `chamber eval`'s format: curves over RL steps.
  for (int step : {1, 8, 32}) {
    std::string sub = dir + "/eval/step_" + std::string(8 - std::to_string(step).size(), '0') + std::to_string(step);
    make_dirs(sub);
    double code = dead ? 0.33 : 1.0 / (1.0 + std::exp(-speed * (step - 15)));
    nlohmann::json set = {{"pass@1_greedy", 0.3 + 0.5 * code}, {"pass@8", 0.9 - 0.1 * code}, {"maj@8", 0.6},
                          {"styles_samples", {{"tinygsm", {{"count", 10}, {"share", code}, {"accuracy", 0.8}}},
                                              {"text", {{"count", 10}, {"share", 1 - code}, {"accuracy", 0.1}}}}}};
    write_file_atomic(sub + "/eval.json", nlohmann::json{{"config", {{"k", {1, 8}}}}, {"sets", {{"synthetic:test", set}}}}.dump());
  }
  write_lines(dir + "/eval/generations.jsonl",
              {{{"style", "tinygsm"}, {"correct", true}, {"answer", "12"}, {"gold", "12"}, {"prompt", "Tom has 3 <b>pens</b>"},
                {"response", "def simple_math_problem():\n    return 3 * 4 < 13 and '&'\n</pre><script>alert(1)</script>"}},
               {{"style", "text"}, {"correct", false}, {"answer", "7"}, {"gold", "12"}, {"response", "He has 7. \\boxed{7}"}}});
}

std::string write_synthetic_experiment(const std::string& name) {
  std::string root = testing::temp_dir(name);
  make_dirs(root + "/pretrain/abc123");
  std::vector<nlohmann::json> pre;
  for (int s = 0; s < 500; s++) {
    nlohmann::json l = {{"step", s}, {"loss", 6.0 * std::exp(-s / 120.0) + 1.0}};
    if (s % 50 == 0) l["val_loss"] = 6.0 * std::exp(-s / 120.0) + 1.2;
    pre.push_back(l);
  }
  write_lines(root + "/pretrain/abc123/metrics.jsonl", pre);
  write_file_atomic(root + "/experiment.json",
                    nlohmann::json{{"name", "echo <test>"}, {"axes", {"rl.algorithm", "rl.kl_coef"}}}.dump());
  write_run(root, "algorithm-ppo__kl_coef-0.001", "ppo", 0.001);
  write_run(root, "algorithm-ppo__kl_coef-0.01", "ppo", 0.01);
  write_run(root, "algorithm-grpo__kl_coef-0.001", "grpo", 0.001);
  write_run(root, "algorithm-grpo__kl_coef-0.01", "grpo", 0.01, /*dead=*/true);
  return root;
}

// ---- a seed sweep ----

// One evaluation in `chamber eval`'s format, with the generations.jsonl it would write: `problems`
// problems, a greedy answer and 4 samples each; an answer is TinyGSM code with probability `code`
// (else text), right with probability 0.8 as code and 0.2 as text. eval.json's numbers are
// computed here from the generations, the way train/eval.cpp does.
void write_fake_eval(const std::string& dir, double code, Rng& rng, bool with_generations, int problems = 24) {
  make_dirs(dir);
  const int n = 4;
  std::string lines;
  double greedy_right = 0, pass1 = 0, pass4 = 0, maj4 = 0, right = 0;
  std::map<std::string, double> sample_count, sample_right, greedy_count, greedy_style_right;
  for (int i = 0; i < problems; i++) {
    std::vector<std::string> answers;
    std::vector<bool> ok;
    int c = 0;
    for (int sample = -1; sample < n; sample++) {
      bool is_code = rng.uniform_double() < code;
      bool correct = rng.uniform_double() < (is_code ? 0.8 : 0.2);
      std::string label = is_code ? "tinygsm" : (sample % 2 ? "" : "text");   // "" counts as text
      std::string answer = correct ? "12" : std::to_string(5 + rng.below(3));
      std::string style = label.empty() ? "text" : label;
      if (sample < 0) {
        greedy_right += correct, greedy_count[style]++, greedy_style_right[style] += correct;
      } else {
        answers.push_back(answer), ok.push_back(correct), c += correct, right += correct;
        sample_count[style]++, sample_right[style] += correct;
      }
      lines += nlohmann::json{{"set", "synthetic:test"}, {"id", "synthetic:test#" + std::to_string(i)},
                              {"sample", sample}, {"completion", "..."}, {"label", label}, {"answer", answer},
                              {"gold", "12"}, {"correct", correct}}.dump() + "\n";
    }
    pass1 += pass_at_k(n, c, 1) / problems, pass4 += pass_at_k(n, c, 4) / problems;
    maj4 += majority_correct(answers, ok) / (double)problems;
  }
  auto styles = [](std::map<std::string, double>& count, std::map<std::string, double>& correct, double total) {
    nlohmann::json j;
    for (const char* style : {"tinygsm", "omi1", "text"})
      j[style] = {{"count", count[style]}, {"share", count[style] / total},
                  {"accuracy", count[style] ? correct[style] / count[style] : 0.0}};
    return j;
  };
  nlohmann::json set = {{"problems", problems}, {"pass@1_greedy", greedy_right / problems},
                        {"styles_greedy", styles(greedy_count, greedy_style_right, problems)},
                        {"sample_accuracy", right / (problems * n)}, {"pass@1", pass1}, {"pass@4", pass4},
                        {"maj@4", maj4}, {"styles_samples", styles(sample_count, sample_right, problems * n)}};
  write_file_atomic(dir + "/eval.json", nlohmann::json{{"config", {{"k", {1, 4}}}}, {"sets", {{"synthetic:test", set}}}}.dump());
  if (with_generations) write_file_atomic(dir + "/generations.jsonl", lines);
}

// algorithm x seed, each seed its own pretraining (as `seed: [...]` makes them). The TinyGSM share
// of answers rises from 0.3 towards 0.9, faster under grpo; seeds differ in speed and noise.
std::string write_seed_sweep(const std::string& name, bool with_generations) {
  std::string root = testing::temp_dir(name);
  write_file_atomic(root + "/experiment.json",
                    nlohmann::json{{"name", "seeds"}, {"axes", {"rl.algorithm", "seed"}}}.dump());
  for (int seed : {1, 2, 3}) {
    Rng rng(100 + (uint64_t)seed);
    std::string pre = root + "/pretrain/seed" + std::to_string(seed);
    std::vector<nlohmann::json> loss;
    for (int s = 0; s < 300; s++) loss.push_back({{"step", s}, {"loss", 5.0 * std::exp(-s / (80.0 + 10 * seed)) + 1.0}});
    make_dirs(pre);
    write_lines(pre + "/metrics.jsonl", loss);
    write_fake_eval(pre + "/eval_base", 0.3, rng, with_generations);
    for (const char* algo : {"grpo", "ppo"}) {
      std::string id = std::string("algorithm-") + algo + "__seed-" + std::to_string(seed);
      std::string dir = root + "/" + id;
      make_dirs(dir + "/rl");
      write_file_atomic(dir + "/run.json", nlohmann::json{{"id", id},
                                                          {"axes", {{"rl.algorithm", algo}, {"seed", std::to_string(seed)}}},
                                                          {"pretrain_dir", "pretrain/seed" + std::to_string(seed)}}.dump());
      double speed = (std::string(algo) == "grpo" ? 0.3 : 0.15) * (0.8 + 0.1 * seed);
      auto code_at = [&](double step) { return 0.3 + 0.6 / (1.0 + std::exp(-speed * (step - 10))); };
      std::vector<nlohmann::json> lines;
      for (int step = 0; step < 40; step++) {
        double code = code_at(step) + 0.05 * (rng.uniform_double() - 0.5);
        lines.push_back({{"step", step}, {"reward", 0.2 + 0.5 * code + 0.05 * rng.uniform_double()}, {"kl", 0.001 * step * seed},
                         {"style_tinygsm", code}, {"style_text", 1 - code}, {"pass@1", 0.2 + 0.5 * code}});
      }
      write_lines(dir + "/rl/metrics.jsonl", lines);
      for (int step : {1, 8, 32}) {
        std::string sub = dir + "/eval/step_" + std::string(8 - std::to_string(step).size(), '0') + std::to_string(step);
        write_fake_eval(sub, code_at(step), rng, with_generations);
      }
    }
  }
  return root;
}

TEST(ReportKeys, RecognisesMetricNames) {
  EXPECT_EQ(style_share_of("style_share.tinygsm"), "tinygsm");
  EXPECT_EQ(style_share_of("eval/style_share/omi1"), "omi1");
  EXPECT_EQ(style_share_of("style_share_text"), "text");
  EXPECT_EQ(style_share_of("reward"), "");
  EXPECT_EQ(style_accuracy_of("style_accuracy.omi1"), "omi1");
  std::string group;
  EXPECT_EQ(style_share_of("eval.styles.omi1.share", &group), "omi1");
  EXPECT_EQ(group, "eval.styles.*.share");
  EXPECT_EQ(style_accuracy_of("eval.styles.omi1.accuracy"), "omi1");
  EXPECT_EQ(style_share_of("eval.styles.omi1.accuracy"), "");
  EXPECT_EQ(pass_at_k_of("eval.pass@k.16"), 16);
  EXPECT_EQ(pass_at_k_of("synthetic:test.pass@1_greedy"), 1);
  EXPECT_EQ(pass_at_k_of("eval_pass1"), 1);
  EXPECT_EQ(pass_at_k_of("bypass1"), 0);
  EXPECT_EQ(style_share_of("style_tinygsm"), "tinygsm");       // train/rl_rollout.cpp's names
  EXPECT_EQ(style_share_of("eval_style_omi1"), "omi1");
  EXPECT_EQ(style_share_of("style_acc_text"), "");
  EXPECT_EQ(style_accuracy_of("style_acc_text"), "text");
  EXPECT_EQ(pass_at_k_of("pass@1"), 1);
  EXPECT_EQ(pass_at_k_of("eval.test.pass@64"), 64);
  EXPECT_EQ(pass_at_k_of("pass@x"), 0);
  EXPECT_EQ(maj_at_k_of("maj@8"), 8);
  EXPECT_EQ(maj_at_k_of("majority@16"), 16);
}

TEST(Report, WeakSignalWarningByBasePassAtK) {
  EXPECT_NE(weak_signal_warning(0.01).find("too little reward signal"), std::string::npos);
  EXPECT_NE(weak_signal_warning(0.17).find("weak reward signal: the pretrained model's pass@k is 0.170"),
            std::string::npos);
  EXPECT_EQ(weak_signal_warning(kWeakSignalPassAtK), "");
  EXPECT_EQ(weak_signal_warning(0.52), "");
  EXPECT_EQ(weak_signal_warning(NAN), "");
  // The largest k decides: pass@1 is low for any model that samples, pass@8 says if groups differ.
  EXPECT_DOUBLE_EQ(best_pass_at_k({{"synthetic:easy.pass@1", 0.1}, {"synthetic:easy.pass@8", 0.45},
                                   {"synthetic:easy.maj@8", 0.2}}), 0.45);
  EXPECT_TRUE(std::isnan(best_pass_at_k({{"reward", 0.5}})));
}

TEST(ReportSvg, TicksAndEscaping) {
  EXPECT_EQ(html_escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  std::vector<double> t = linear_ticks(0.0, 1.0, 5);
  ASSERT_GE(t.size(), 3u);
  EXPECT_DOUBLE_EQ(t.front(), 0.0);
  EXPECT_NEAR(t.back(), 1.0, 1e-12);
  std::vector<double> lt = log_ticks(0, 1000);
  EXPECT_EQ(lt, (std::vector<double>{0, 1, 10, 100, 1000}));
  ChartAxes a;
  a.title = "t<1>";
  std::string svg = svg_line_chart(a, {{"s", {0, 1, 2}, {1, NAN, 3}}});
  EXPECT_NE(svg.find("t&lt;1&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_NE(svg_line_chart(a, {}).find("no data"), std::string::npos);
  EXPECT_NE(svg_stacked_area(a, {0, 1}, {{"a", {}, {0.5, 0.2}}, {"b", {}, {0.5, 0.8}}}).find("<polygon"),
            std::string::npos);
}

TEST(Report, PageHasChartsTablesNotesAndEscapedText) {
  std::string root = write_synthetic_experiment("report_page");
  std::string html_path = write_report(root);
  std::string html = read_file(html_path);
  // Per run: from the RL log style shares, pass@1, style accuracy, reward, KL, entropy; from the
  // checkpoint evaluations style shares, pass@k, style accuracy = 9 charts; plus pretraining and
  // the overview.
  EXPECT_EQ(count_of(html, "<svg "), 4u * 9u + 2u);
  EXPECT_EQ(count_of(html, "<svg "), count_of(html, "</svg>"));
  EXPECT_GE(count_of(html, "<polygon"), 4u * 5u);   // three rollout style layers and two eval ones per run
  EXPECT_NE(html.find("synthetic:test.styles_samples.*.share"), std::string::npos);
  EXPECT_NE(html.find("<h3>By rl.kl_coef</h3>"), std::string::npos);
  EXPECT_NE(html.find("<h3>By rl.algorithm</h3>"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);          // the generation's script is text
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("echo &lt;test&gt;"), std::string::npos);
  EXPECT_EQ(count_of(html, "class=\"note\">too little reward signal"), 2u);  // base pass@k and mean reward
  EXPECT_EQ(count_of(html, "http"), count_of(html, "xmlns=\"http://www.w3.org/2000/svg\""));  // nothing fetched

  nlohmann::json summary = nlohmann::json::parse(read_file(root + "/report.json"));
  ASSERT_EQ(summary["runs"].size(), 4u);
  ASSERT_EQ(summary["tables"].size(), 2u);
  const auto& kl_table = summary["tables"][1];
  EXPECT_EQ(kl_table["axis"], "rl.kl_coef");
  ASSERT_EQ(kl_table["rows"].size(), 2u);
  EXPECT_EQ(kl_table["rows"][0]["runs"], 2);
  const auto& run0 = summary["runs"][0];   // sorted by id: algorithm-grpo__kl_coef-0.001
  EXPECT_EQ(run0["id"], "algorithm-grpo__kl_coef-0.001");
  EXPECT_DOUBLE_EQ(run0["final"]["pass@1"].get<double>(), 0.77);   // eval.json wins over the RL log
  EXPECT_GT(run0["final"]["style_share.tinygsm"].get<double>(), 0.99);
  EXPECT_EQ(run0["notes"].size(), 0u);
  EXPECT_EQ(summary["runs"][1]["notes"].size(), 2u);   // the dead grpo run
  EXPECT_NEAR(summary["pretrain"].begin().value()["final_val_loss"].get<double>(),
              6.0 * std::exp(-450 / 120.0) + 1.2, 1e-9);
}

TEST(Report, MissingFilesGiveAPageNotAnError) {
  std::string root = testing::temp_dir("report_empty");
  make_dirs(root + "/r1");
  write_file_atomic(root + "/r1/run.json", "{\"id\": \"r1\"}");
  write_file_atomic(root + "/r1/broken.json", "{");
  std::string html = read_file(write_report(root));
  EXPECT_NE(html.find("No pretraining metrics"), std::string::npos);
  EXPECT_NE(html.find("No RL metrics yet"), std::string::npos);
  EXPECT_THROW(write_report(root + "/nope"), Error);
}

// The per-problem results recomputed from generations.jsonl give back every number of eval.json
// (pooled over problems), including pass@k, maj@k, and shares and accuracy within each style.
TEST(ReportSeeds, PerProblemResultsReproduceEvalJson) {
  std::string dir = testing::temp_dir("report_problems") + "/eval";
  Rng rng(7);
  write_fake_eval(dir, 0.5, rng, true, 40);
  std::map<std::string, double> flat;
  flatten_numbers(nlohmann::json::parse(read_file(dir + "/eval.json"))["sets"], "", flat);
  std::map<std::string, PerProblem> problems = read_eval_problems(dir + "/generations.jsonl", flat);
  for (const char* key : {"synthetic:test.pass@1_greedy", "synthetic:test.pass@1", "synthetic:test.pass@4",
                          "synthetic:test.maj@4", "synthetic:test.sample_accuracy",
                          "synthetic:test.styles_samples.tinygsm.share", "synthetic:test.styles_samples.text.accuracy",
                          "synthetic:test.styles_greedy.text.share", "synthetic:test.styles_greedy.tinygsm.accuracy"}) {
    SCOPED_TRACE(key);
    ASSERT_TRUE(problems.count(key));
    EXPECT_EQ(problems[key].numerator.size(), 40u);
    EXPECT_NEAR(seed_score(SeedResult{NAN, problems[key].numerator, problems[key].denominator}), flat.at(key), 1e-12);
  }
  EXPECT_FALSE(problems.count("synthetic:test.problems"));   // a count, not a per-problem metric
  EXPECT_TRUE(read_eval_problems(dir + "/missing.jsonl", flat).empty());
}

TEST(ReportSeeds, SeedSweepIsAggregatedWithIntervals) {
  std::string root = write_seed_sweep("report_seeds", true);
  std::string html = read_file(write_report(root));
  // The method, findings over seeds, a table of settings with intervals, no table by seed.
  EXPECT_NE(html.find("percentile bootstraps (1000 resamples, fixed generator seed 1)"), std::string::npos);
  EXPECT_NE(html.find("<h2>Findings over seeds</h2>"), std::string::npos);
  EXPECT_EQ(count_of(html, "tinygsm amplified in 3 of 3 seeds"), 2u * 2u);   // per algorithm: findings and its section
  EXPECT_NE(html.find("<h3>By rl.algorithm</h3>"), std::string::npos);
  EXPECT_EQ(html.find("<h3>By seed</h3>"), std::string::npos);
  EXPECT_NE(html.find("Every setting, over its seeds"), std::string::npos);
  EXPECT_GE(count_of(html, "], 3 seeds</td>"), 10u);
  // One section per setting (not per run), every run still linked; bands on the curves.
  EXPECT_EQ(count_of(html, "id=\"group-"), 2u);
  EXPECT_NE(html.find("id=\"run-algorithm-ppo__seed-3\""), std::string::npos);
  EXPECT_GE(count_of(html, "fill-opacity=\"0.18\""), 2u * 8u);
  EXPECT_NE(html.find("seed mean, 95% band"), std::string::npos);
  EXPECT_EQ(html.find("nan"), std::string::npos);

  nlohmann::json summary = nlohmann::json::parse(read_file(root + "/report.json"));
  ASSERT_EQ(summary["groups"].size(), 2u);
  const auto& grpo = summary["groups"][0];
  EXPECT_EQ(grpo["label"], "rl.algorithm = grpo");
  EXPECT_EQ(grpo["runs"].size(), 3u);
  const auto& pass4 = grpo["final"]["synthetic:test.pass@4"];
  EXPECT_EQ(pass4["seeds"], 3);
  EXPECT_LT(pass4["lo"].get<double>(), pass4["mean"].get<double>());
  EXPECT_GT(pass4["hi"].get<double>(), pass4["mean"].get<double>());
  // The mean over seeds of each seed's eval.json number.
  double sum = 0;
  for (const auto& run : summary["runs"])
    if (run["axes"]["rl.algorithm"] == "grpo") sum += run["final"]["synthetic:test.pass@4"].get<double>() / 3;
  EXPECT_NEAR(pass4["mean"].get<double>(), sum, 1e-12);
  // Every number, not only pass@k: the mean over the group's runs of what each run reports.
  for (const auto& [key, iv] : grpo["final"].items()) {
    double total = 0;
    int runs = 0;
    for (const auto& run : summary["runs"])
      if (run["axes"]["rl.algorithm"] == "grpo" && run["final"].contains(key)) total += run["final"][key].get<double>(), runs++;
    EXPECT_NEAR(iv["mean"].get<double>(), total / runs, 1e-12) << key;
  }
  ASSERT_GE(grpo["findings"].size(), 1u);
  EXPECT_EQ(grpo["findings"][0]["style"], "tinygsm");
  EXPECT_EQ(grpo["findings"][0]["amplified_in"], 3);
  EXPECT_EQ(summary["bootstrap"]["resamples"], kBootstrapResamples);
  ASSERT_EQ(summary["tables"].size(), 1u);   // rl.algorithm only
  EXPECT_EQ(summary["tables"][0]["rows"][0]["runs"], 3);
  // Written again, the same numbers: the bootstrap's generator is seeded.
  write_report(root);
  EXPECT_EQ(nlohmann::json::parse(read_file(root + "/report.json")), summary);
}

// Runs written before per-problem results were read (no generations.jsonl) still give a page: the
// seeds alone are resampled.
TEST(ReportSeeds, RunsWithoutPerProblemResultsStillAggregate) {
  std::string root = write_seed_sweep("report_seeds_old", false);
  std::string html = read_file(write_report(root));
  EXPECT_NE(html.find("tinygsm amplified in 3 of 3 seeds"), std::string::npos);
  EXPECT_GE(count_of(html, "], 3 seeds</td>"), 10u);
  EXPECT_GE(count_of(html, "fill-opacity=\"0.18\""), 2u * 8u);
  EXPECT_EQ(count_of(html, "<svg "), count_of(html, "</svg>"));
}

// Renders report.html in headless Chromium and checks the screenshot is a real page: a PNG of
// plausible size with many distinct colours (a blank or error page has one or two).
void expect_renders(const std::string& root, const std::string& html) {
  std::string png = root + "/report.png";
  std::string cmd = "chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir=" + root +
                    "/chromium-profile --screenshot=" + png + " --window-size=1200,2000 file://" + html +
                    " >" + root + "/chromium.log 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << read_file(root + "/chromium.log");
  ASSERT_TRUE(file_exists(png));
  EXPECT_GT(read_file(png).size(), 20000u);
  // Count distinct colours with a standard-library PNG decoder (8-bit RGB/RGBA, any filter).
  std::string script = root + "/colours.py";
  write_file_atomic(script, R"(import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n'
pos, idat, ihdr = 8, b'', None
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b'IHDR': ihdr = struct.unpack('>IIBBBBB', body)
    if kind == b'IDAT': idat += body
    pos += 12 + n
w, h, depth, ctype = ihdr[:4]
assert depth == 8 and ctype in (2, 6), ihdr
bpp = 3 if ctype == 2 else 4
raw, stride, prev, colours = zlib.decompress(idat), w * bpp, bytearray(w * bpp), set()
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    if y % 4 == 0:
        for x in range(0, stride, bpp * 2): colours.add(bytes(line[x:x + 3]))
    prev = line
print(len(colours))
)");
  std::string out = root + "/colours.txt";
  ASSERT_EQ(std::system(("python3 " + script + " " + png + " >" + out + " 2>&1").c_str()), 0) << read_file(out);
  int colours = std::atoi(read_file(out).c_str());
  EXPECT_GT(colours, 20) << "the screenshot looks blank: " << png;
}

TEST(ReportRender, ChromiumScreenshotIsNotBlank) {
  if (std::system("command -v chromium >/dev/null 2>&1") != 0) GTEST_SKIP() << "chromium not installed";
  if (std::system("command -v python3 >/dev/null 2>&1") != 0) GTEST_SKIP() << "python3 not installed";
  std::string root = write_synthetic_experiment("report_render");
  std::string html = write_report(root);
  expect_renders(root, html);
}

// A seed sweep's page, with bands and intervals, renders too.
TEST(ReportRender, SeedSweepWithBandsRenders) {
  if (std::system("command -v chromium >/dev/null 2>&1") != 0) GTEST_SKIP() << "chromium not installed";
  if (std::system("command -v python3 >/dev/null 2>&1") != 0) GTEST_SKIP() << "python3 not installed";
  std::string root = write_seed_sweep("report_render_seeds", true);
  std::string html = write_report(root);
  EXPECT_GT(count_of(read_file(html), "fill-opacity=\"0.18\""), 10u);   // the bands
  expect_renders(root, html);
}

}  // namespace
}  // namespace chamber
