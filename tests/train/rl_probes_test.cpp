// The sampling-free instruments of an RL run (train/rl_probes.h) on a tiny pretrained checkpoint:
// probe log-probabilities equal a plain forward pass over the same tokens; per-source NLL at step
// 0 equals the pretrained model's loss on that source's held-out shard, computed here apart; the
// metrics keys appear in a run (at step 0, every probe_interval steps and at the end) without
// changing any of its other numbers; a run whose data manifest predates held-out shards still
// runs, with style probes and no nll_ keys; the config keys parse and are checked.
#include <gtest/gtest.h>

#include <cmath>

#include "data/mathworld.h"
#include "data/shards.h"
#include "engine/checkpoint.h"
#include "tests/test_util.h"
#include "tests/train/tiny_rl_init.h"
#include "train/loaded_model.h"
#include "train/metrics.h"
#include "train/pretrain.h"
#include "train/rl.h"
#include "train/rl_internal.h"
#include "train/rl_probes.h"
#include "util/util.h"

namespace chamber {
namespace {

using testing::contains;
using testing::error_of;

// Pretrained on two synthetic styles and a text file, so the mixture has probe styles and
// held-out shards of both kinds.
std::string tiny_checkpoint(const std::string& dir) {
  std::string text;
  for (const MathProblem& p : mathworld_generate("train", 40, 9, 1, 2)) text += mathworld_document(p, "omi2") + "\n\n";
  write_file_atomic(dir + "/notes.txt", text);
  return testing::tiny_pretrained(dir, R"(  seed: 3
  tokens: 30000
  val_fraction: 0.1
  tokenizer: {vocab_size: 300}
  sources:
    - {kind: synthetic, style: tinygsm_short, split: train, ops: [1, 2], weight: 1}
    - {kind: synthetic, style: omi1, split: train, ops: [1, 2], count: 20, repeat: 4}
    - {name: notes, kind: text, path: )" + dir + "/notes.txt}",
                                  192);
}

RLConfig rl_config(const std::string& init, int steps) {
  std::string yaml = "init: " + init + R"(
algorithm: grpo
rollout: {prompts_per_step: 2, samples_per_prompt: 2, max_new_tokens: 6, micro_batch: 4, rollout_batch: 4}
eval: {problems: 2, interval: 2, probe_prompts: 3, probe_interval: 2}
train: {device: cpu-ref, threads: 1, steps: )" + std::to_string(steps) + "}\n";
  return parse_rl_config(YAML::Load(yaml), "r.yaml");
}

RLOptions quiet(const std::string& out) { return testing::quiet_rl(out); }

// Log-probability of each of tokens[from..] given those before it: one sequence, one forward,
// the way `chamber score` computes it.
std::vector<double> forward_logprobs(GPT& model, const std::vector<int>& tokens, int from) {
  const int T = (int)tokens.size();
  gpt_forward(model, tokens.data(), 1, T);
  std::vector<int> targets(T, -1);
  for (int t = 0; t + 1 < T; t++) targets[t] = tokens[t + 1];
  gpt_classifier(model, targets.data(), nullptr, false);
  std::vector<float> losses(T);
  gpt_copy_losses(model, losses.data());
  std::vector<double> out;
  for (int t = from; t < T; t++) out.push_back(-(double)losses[t - 1]);
  return out;
}

struct Shared {
  std::string dir, init;
};
const Shared& shared() {
  static Shared s = [] {
    Shared x;
    x.dir = testing::temp_dir("rl_probes");
    x.init = tiny_checkpoint(x.dir);
    return x;
  }();
  return s;
}

TEST(RlProbes, OpeningsComeFromTheRenderer) {
  LoadedModel lm;
  load_model(lm, shared().init, "cpu-ref", 4, 0);
  MathProblem p = mathworld_problem("test", 0, 2);
  for (const char* style : {"tinygsm", "tinygsm_short", "omi1", "omi2", "gsm8k"}) {
    SCOPED_TRACE(style);
    std::vector<int> opening = probe_opening_tokens(lm.tokenizer, p, style, 8);
    ASSERT_FALSE(opening.empty());
    EXPECT_LE(opening.size(), 8u);
    // The prompt and the opening are the start of the pretraining document, token for token.
    std::vector<int> seq = encode_prompt(lm.tokenizer, p.prompt);
    seq.insert(seq.end(), opening.begin(), opening.end());
    std::vector<int> doc = tokenizer_encode(lm.tokenizer, mathworld_document(p, style));
    ASSERT_LE(seq.size(), doc.size());
    EXPECT_TRUE(std::equal(seq.begin(), seq.end(), doc.begin()));
    std::string text = tokenizer_decode(lm.tokenizer, opening);
    EXPECT_EQ(text.find_first_of("0123456789"), std::string::npos) << text;
  }
  EXPECT_EQ(tokenizer_decode(lm.tokenizer, probe_opening_tokens(lm.tokenizer, p, "omi1", 100)).rfind("Let's solve this with Python.\n<llm-code>\n", 0), 0u);
  EXPECT_EQ(tokenizer_decode(lm.tokenizer, probe_opening_tokens(lm.tokenizer, p, "tinygsm", 100)).rfind("def simple_math_problem() -> int:\n", 0), 0u);
  gpt_destroy(lm.model);
}

TEST(RlProbes, StylesComeFromTheMixture) {
  nlohmann::json spec = {{"sources", {{{"kind", "synthetic"}, {"style", "tinygsm_short"}},
                                      {{"kind", "synthetic"}, {"style", "mathtext"}},
                                      {{"kind", "jsonl"}, {"importer", "omi2"}},
                                      {{"kind", "jsonl"}, {"importer", "math"}},
                                      {{"kind", "synthetic"}, {"style", "omi2"}},
                                      {{"kind", "text"}}}}};
  EXPECT_EQ(probe_styles_of_spec(spec), (std::vector<std::string>{"tinygsm_short", "omi2"}));
  EXPECT_TRUE(probe_styles_of_spec(nlohmann::json::object()).empty());
  // The checkpoint's run directory holds the data; an RL checkpoint leads back to it.
  EXPECT_EQ(rl_find_pretraining_data(shared().init), path_join(shared().dir, "pt/data"));
  EXPECT_EQ(rl_find_pretraining_data(shared().dir), "");
}

TEST(RlProbes, LogprobsEqualTheScoringFunctionOnTheSameTokens) {
  LoadedModel lm;
  load_model(lm, shared().init, "cpu-ref", 4, 0, true);
  RLConfig cfg = rl_config(shared().init, 1);
  RLProbeSet probes = rl_probes_prepare(cfg, lm.tokenizer, lm.dir, lm.model.cfg, true);
  ASSERT_EQ(probes.styles, (std::vector<std::string>{"tinygsm_short", "omi1"}));
  ASSERT_EQ(probes.sources, (std::vector<std::string>{"tinygsm_short", "omi1", "notes"}));
  RLSession s;
  s.cfg = cfg;
  s.policy = &lm.model;
  s.score_s = 1.5;
  nlohmann::json line = rl_probes_measure(s, probes);
  EXPECT_EQ(s.score_s, 1.5);   // the step's own timer is left alone
  double share_sum = 0;
  std::vector<double> means;
  for (size_t k = 0; k < probes.styles.size(); k++) {
    const std::string& style = probes.styles[k];
    ASSERT_EQ(probes.openings[k].size(), 3u);
    double mean = 0;
    for (int i = 0; i < 3; i++) {
      const Rollout& r = probes.openings[k][i];
      // The probe scores eot + prompt + opening of problem i of the eval split.
      MathProblem p = mathworld_problem(cfg.eval_split, i, (uint64_t)cfg.eval_seed);
      std::vector<int> want = {lm.tokenizer.eot_id};
      for (int id : encode_prompt(lm.tokenizer, p.prompt)) want.push_back(id);
      for (int id : probe_opening_tokens(lm.tokenizer, p, style, cfg.probe_tokens)) want.push_back(id);
      EXPECT_EQ(r.tokens, want);
      for (double lp : forward_logprobs(lm.model, r.tokens, r.prompt_len)) mean += lp;
    }
    mean /= 3;
    means.push_back(mean);
    EXPECT_NEAR(line["probe_logp_" + style].get<double>(), mean, 1e-4 * std::max(1.0, std::fabs(mean))) << style;
    share_sum += line["probe_share_" + style].get<double>();
  }
  EXPECT_NEAR(share_sum, 1.0, 1e-9);
  EXPECT_NEAR(line["probe_share_tinygsm_short"].get<double>(), 1.0 / (1.0 + std::exp(means[1] - means[0])), 1e-6);
  gpt_destroy(lm.model);
}

TEST(RlProbes, RunLogsThemAtStepZeroEveryIntervalAndTheEndWithoutChangingIt) {
  const std::string dir = shared().dir;
  run_rl(rl_config(shared().init, 3), quiet(dir + "/with"));
  RLConfig off = rl_config(shared().init, 3);
  off.probe_interval = 0;
  run_rl(off, quiet(dir + "/without"));
  auto a = metrics_read(dir + "/with/metrics.jsonl"), b = metrics_read(dir + "/without/metrics.jsonl");
  ASSERT_EQ(a.size(), 4u);   // 3 steps + the final line
  ASSERT_EQ(b.size(), 4u);
  const std::vector<std::string> keys = {"probe_logp_tinygsm_short", "probe_share_omi1", "nll_tinygsm_short",
                                         "nll_omi1", "nll_notes", "probe_s"};
  for (size_t i = 0; i < a.size(); i++) {
    const bool due = i == 0 || i == 2 || i == 3;
    for (const std::string& k : keys) {
      EXPECT_EQ(a[i].contains(k), due) << k << " line " << i;
      EXPECT_FALSE(b[i].contains(k)) << k << " line " << i;
    }
    // Every other number is the same: the instruments only read the model.
    for (const auto& [k, v] : b[i].items())
      if (k.size() < 2 || k.substr(k.size() - 2) != "_s") {
        EXPECT_EQ(a[i][k], v) << k << " line " << i;
      }
  }
  EXPECT_EQ(a[3]["step"], 3);

  // Per-source NLL at step 0 is the pretrained model's mean loss on the held-out shard: here with
  // the pretraining classifier, one window of up to context_length + 1 tokens at a time.
  LoadedModel lm;
  load_model(lm, shared().init, "cpu-ref", 1, 0);
  nlohmann::json manifest = nlohmann::json::parse(read_file(dir + "/pt/data/manifest.json"));
  ASSERT_EQ(manifest["heldout_shards"].size(), 3u);
  for (const auto& h : manifest["heldout_shards"]) {
    std::vector<int> tokens = shard_read(dir + "/pt/data/" + h["shard"].get<std::string>());
    const int T = lm.model.cfg.context_length;
    double loss = 0;
    int64_t count = 0;
    for (size_t start = 0; start + 1 < tokens.size(); start += T) {
      const int n = (int)std::min<size_t>(T, tokens.size() - 1 - start);
      std::vector<int> targets(tokens.begin() + (long)start + 1, tokens.begin() + (long)start + 1 + n);
      gpt_forward(lm.model, tokens.data() + start, 1, n);
      loss += gpt_classifier(lm.model, targets.data(), nullptr, false);
      count += n;
    }
    const std::string key = "nll_" + h["source"].get<std::string>();
    EXPECT_NEAR(a[0][key].get<double>(), loss / (double)count, 1e-5 * loss / (double)count) << key;
  }
  gpt_destroy(lm.model);
}

TEST(RlProbes, OldManifestWithoutHeldoutShardsStillRuns) {
  const std::string dir = testing::temp_dir("rl_probes_old");
  // A copy of the pretraining run whose manifest is as builds before held-out shards wrote it.
  const std::string pt = shared().dir + "/pt", old = dir + "/pt";
  make_dirs(old + "/data");
  for (const std::string& ckpt : checkpoint_list(pt + "/checkpoints")) {
    std::string to = old + "/checkpoints/" + ckpt.substr(ckpt.rfind('/') + 1);
    make_dirs(to);
    for (const char* f : {"model.safetensors", "optimizer.safetensors", "state.json", "config.yaml", "tokenizer.json"})
      write_file_atomic(to + "/" + f, read_file(ckpt + "/" + f));
  }
  nlohmann::json manifest = nlohmann::json::parse(read_file(pt + "/data/manifest.json"));
  manifest.erase("heldout_shards");
  manifest["format"] = 1;
  write_file_atomic(old + "/data/manifest.json", manifest.dump(2));
  run_rl(rl_config(old, 1), quiet(dir + "/rl"));
  auto lines = metrics_read(dir + "/rl/metrics.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[0].contains("probe_share_omi1"));
  for (const auto& [k, v] : lines[0].items()) EXPECT_NE(k.rfind("nll_", 0), 0u) << k;
  // A chained run (RL from this RL run) still finds the pretraining data through state.json.
  EXPECT_EQ(rl_find_pretraining_data(checkpoint_resolve(dir + "/rl")), old + "/data");
}

TEST(RlProbes, ConfigKeysParseAndAreChecked) {
  RLConfig d = parse_rl_config(YAML::Load("init: x\n"), "a.yaml");
  EXPECT_EQ(d.probe_interval, 10);
  EXPECT_EQ(d.probe_prompts, 32);
  EXPECT_EQ(d.probe_tokens, 8);
  RLConfig c = parse_rl_config(YAML::Load("init: x\neval: {probe_interval: 0, probe_prompts: 5, probe_tokens: 3}\n"), "a.yaml");
  EXPECT_EQ(c.probe_interval, 0);
  EXPECT_EQ(c.probe_prompts, 5);
  EXPECT_EQ(c.probe_tokens, 3);
  EXPECT_TRUE(contains(rl_config_yaml(c), "probe_tokens: 3"));
  EXPECT_EQ(rl_config_yaml(parse_rl_config(YAML::Load(rl_config_yaml(c)), "b.yaml")), rl_config_yaml(c));
  EXPECT_TRUE(contains(error_of([] { parse_rl_config(YAML::Load("init: x\neval: {probe_tokens: 0}\n"), "a.yaml"); }),
                       "probe_tokens"));
  EXPECT_TRUE(contains(error_of([] { parse_rl_config(YAML::Load("init: x\neval: {probe_interval: -1}\n"), "a.yaml"); }),
                       "probe_interval"));
  EXPECT_TRUE(contains(error_of([] { parse_rl_config(YAML::Load("init: x\neval: {probe_prompt: 3}\n"), "a.yaml"); }),
                       "probe_prompt"));
}

}  // namespace
}  // namespace chamber
