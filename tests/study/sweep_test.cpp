// Sweeps and `chamber run` orchestration without training: grid expansion and stable run ids,
// strict experiment schema errors, and the cached-stage protocol driven by fake stage functions
// (pretraining shared between runs that differ only in RL settings, nothing redone on a second
// run, an interrupted RL stage resumed, a changed config refused, evaluation of every RL
// checkpoint, the report written).
#include <gtest/gtest.h>

#include "util/util.h"
#include "tests/test_util.h"
#include "train/study/experiment.h"
#include "train/study/sweep.h"

namespace chamber {
namespace {

std::vector<SweepPoint> expand(const std::string& yaml) {
  return sweep_expand(sweep_axes_from_yaml(YAML::Load(yaml), "t.yaml"));
}

std::vector<SweepPoint> expand_grids(const std::string& yaml) {
  return sweep_expand_grids(sweep_grids_from_yaml(YAML::Load(yaml), "t.yaml"));
}

// The error message `expand_fn(yaml)` throws, or "no error".
template <typename ExpandFn>
std::string expand_error(ExpandFn expand_fn, const std::string& yaml) {
  try {
    expand_fn(yaml);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Sweep, GridOfTwoAlgorithmsByTwoKlValues) {
  auto points = expand("{rl.algorithm: [ppo, grpo], rl.policy.kl_coef: [0.001, 0.01]}");
  ASSERT_EQ(points.size(), 4u);
  EXPECT_EQ(points[0].id, "algorithm-ppo__kl_coef-0.001");   // first axis slowest
  EXPECT_EQ(points[1].id, "algorithm-ppo__kl_coef-0.01");
  EXPECT_EQ(points[2].id, "algorithm-grpo__kl_coef-0.001");
  EXPECT_EQ(points[3].id, "algorithm-grpo__kl_coef-0.01");
  EXPECT_EQ(points[3].assignments, (std::vector<std::string>{"rl.algorithm=grpo", "rl.policy.kl_coef=0.01"}));
  EXPECT_EQ(points[3].axes.at("rl.policy.kl_coef"), "0.01");
  // Same input, same ids (directories are found again on the next run).
  auto again = expand("{rl.algorithm: [ppo, grpo], rl.policy.kl_coef: [0.001, 0.01]}");
  for (size_t i = 0; i < 4; i++) EXPECT_EQ(again[i].id, points[i].id);
}

TEST(Sweep, IdsDisambiguateAndSanitise) {
  auto points = expand("{pretrain.train.seed: [1], rl.train.seed: [2, 3], eval.sets: [[synthetic:test]]}");
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].id, "pretrain.train.seed-1__rl.train.seed-2__sets-_synthetic_test_");
  EXPECT_EQ(points[0].assignments[2], "eval.sets=[synthetic:test]");
  EXPECT_EQ(expand("{}").size(), 1u);
  EXPECT_EQ(expand("{}")[0].id, "main");
}

TEST(Sweep, BadSweepsAreErrorsWithLine) {
  auto msg = [](const std::string& yaml) { return expand_error(expand, yaml); };
  EXPECT_NE(msg("rl.kl: 0.1").find("t.yaml:1: 'sweep.rl.kl' must be a non-empty list"), std::string::npos);
  EXPECT_NE(msg("rl.kl: []").find("non-empty list"), std::string::npos);
  EXPECT_NE(msg("rl.kl: [1, 1]").find("twice"), std::string::npos);
  EXPECT_NE(msg("{rl: [{}], rl.kl: [1]}").find("overlaps"), std::string::npos);
  EXPECT_EQ(expand("{rl: {kl: [1, 2]}, seed: [3]}")[1].id, "kl-2__seed-3");   // nested = dotted
  EXPECT_NE(msg("{a: [x/y, x_y]}").find("share the directory"), std::string::npos);
  EXPECT_NE(msg("[1, 2]").find("must be a map"), std::string::npos);
}

TEST(Sweep, ListOfGridsIsTheUnionOfTheirRuns) {
  ASSERT_EQ(sweep_grids_from_yaml(YAML::Load("[{seed: [1]}, {seed: [2]}]"), "t.yaml").size(), 2u);
  auto points = expand_grids("[{rl.algorithm: [ppo, grpo], rl.policy.kl_coef: [0, 0.01]}, {rl.algorithm: [ei]}]");
  ASSERT_EQ(points.size(), 5u);
  EXPECT_EQ(points[0].id, "algorithm-ppo__kl_coef-0");
  EXPECT_EQ(points[4].id, "algorithm-ei");                 // ids from the grid's own axes
  EXPECT_EQ(points[4].assignments, (std::vector<std::string>{"rl.algorithm=ei"}));
  // A map is one grid; no sweep is one run.
  EXPECT_EQ(sweep_grids_from_yaml(YAML::Load("{seed: [1, 2]}"), "t.yaml").size(), 1u);
  EXPECT_EQ(sweep_expand_grids({}).size(), 1u);
  auto msg = [](const std::string& yaml) { return expand_error(expand_grids, yaml); };
  EXPECT_NE(msg("[{seed: [1]}, {seed: [1]}]").find("appears in two grids"), std::string::npos);
  EXPECT_NE(msg("[[1, 2]]").find("t.yaml:1: each entry of a 'sweep' list must be a grid"), std::string::npos);
  EXPECT_NE(msg("[]").find("empty list"), std::string::npos);
}

// ---- experiments ----

const char* kExperiment = R"(name: exp
out: OUT
device: cpu-ref
pretrain:
  model: {n_layer: 1, n_head: 2, n_embd: 16, context_length: 32}
  data:
    seed: 1
    tokenizer: {vocab_size: 300}
    sources: [{kind: synthetic, style: tinygsm, split: train, count: 50}]
  train: {steps: 5, seq_len: 32, batch_size: 2}
rl:
  algorithm: grpo
  train: {steps: 4}
eval:
  sets: [synthetic:test]
  count: 4
  n_samples: 2
  k: [1, 2]
sweep:
  rl.algorithm: [ppo, grpo]
  rl.policy.kl_coef: [0.001, 0.01]
)";

std::string experiment_text(const std::string& out) {
  std::string text = kExperiment;
  text.replace(text.find("OUT"), 3, out);
  return text;
}

ExperimentConfig parse(const std::string& text, const std::vector<std::string>& sets = {}) {
  YAML::Node root = YAML::Load(text);
  for (const auto& s : sets) yaml_apply_override(root, s);
  return parse_experiment(root, "exp.yaml");
}

std::string error_of(const std::string& text, const std::vector<std::string>& sets = {}) {
  try {
    parse(text, sets);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Experiment, ResolvesEveryRunUpFront) {
  ExperimentConfig exp = parse(experiment_text("runs"));
  ASSERT_EQ(exp.runs.size(), 4u);
  EXPECT_EQ(exp.dir(), "runs/exp");
  EXPECT_EQ(exp.runs[0].rl.algorithm, RLAlgorithm::ppo);
  EXPECT_FLOAT_EQ(exp.runs[1].rl.kl_coef, 0.01f);
  EXPECT_EQ(exp.runs[2].rl.algorithm, RLAlgorithm::grpo);
  EXPECT_EQ(exp.runs[0].rl.device, "cpu-ref");
  EXPECT_EQ(exp.runs[0].pretrain.train.device, "cpu-ref");
  EXPECT_EQ(exp.runs[0].eval.n_samples, 2);
  // RL settings do not change the pretraining: one shared pretraining hash, four RL hashes.
  for (const auto& r : exp.runs) EXPECT_EQ(r.pretrain_hash, exp.runs[0].pretrain_hash);
  EXPECT_NE(exp.runs[0].rl_hash, exp.runs[1].rl_hash);
  // A model-scale axis splits the pretraining.
  ExperimentConfig scaled = parse(experiment_text("runs"), {"sweep.pretrain.model.n_embd=[16, 32]"});
  ASSERT_EQ(scaled.runs.size(), 8u);
  EXPECT_NE(scaled.runs[0].pretrain_hash, scaled.runs[1].pretrain_hash);   // the new axis is last: fastest
  EXPECT_EQ(scaled.runs[0].pretrain_hash, scaled.runs[2].pretrain_hash);
  EXPECT_EQ(scaled.runs[1].pretrain.model.n_embd, 32);
  // The device is not part of the cache key.
  EXPECT_EQ(parse(experiment_text("runs"), {"device=cpu"}).runs[0].pretrain_hash, exp.runs[0].pretrain_hash);
  // Nor are the instruments that only read the model (rl_probes.h): RL stages run before them stay
  // done. Other evaluation settings are.
  EXPECT_EQ(parse(experiment_text("runs"), {"rl.eval.probe_interval=3", "rl.eval.probe_prompts=4", "rl.eval.probe_tokens=2"})
                .runs[0].rl_hash,
            exp.runs[0].rl_hash);
  EXPECT_NE(parse(experiment_text("runs"), {"rl.eval.interval=3"}).runs[0].rl_hash, exp.runs[0].rl_hash);
  // A list of grids: expert iteration once, PPO at two KL coefficients; axes listed once each.
  ExperimentConfig unioned =
      parse(experiment_text("runs"), {"sweep=[{rl.algorithm: [ppo], rl.policy.kl_coef: [0, 0.01]}, {rl.algorithm: [ei]}]"});
  ASSERT_EQ(unioned.runs.size(), 3u);
  EXPECT_EQ(unioned.runs[2].id, "algorithm-ei");
  EXPECT_EQ(unioned.runs[2].rl.algorithm, RLAlgorithm::ei);
  EXPECT_EQ(unioned.axes.size(), 2u);
  // seed reaches RL and eval.
  ExperimentConfig seeded = parse(experiment_text("runs"), {"seed=7"});
  EXPECT_EQ(seeded.runs[0].rl.seed, 7);
  EXPECT_EQ(seeded.runs[0].eval.seed, 7);
}

TEST(Experiment, SchemaErrorsNameTheKey) {
  std::string text = experiment_text("runs");
  EXPECT_NE(error_of(text + "colour: blue\n").find("exp.yaml:22: 'colour' is not a known setting"), std::string::npos)
      << error_of(text + "colour: blue\n");
  EXPECT_NE(error_of(text, {"pretrain.train.stepz=3"}).find("'train.stepz' is not a known setting"), std::string::npos);
  EXPECT_NE(error_of(text, {"rl.policy.kl_cof=3"}).find("kl_cof"), std::string::npos);
  EXPECT_NE(error_of(text, {"eval.samples=3"}).find("'eval.samples' is not a known setting"), std::string::npos);
  EXPECT_NE(error_of(text, {"eval.checkpoints=some"}).find("all, final or none"), std::string::npos);
  EXPECT_NE(error_of(text, {"sweep.model.n_embd=[1, 2]"}).find("must start with pretrain."), std::string::npos);
  EXPECT_NE(error_of(text, {"pretrain.config=no/such.yaml"}).find("no file no/such.yaml"), std::string::npos);
  EXPECT_NE(error_of(text, {"name=a/b"}).find("plain directory name"), std::string::npos);
}

TEST(Experiment, PretrainFromAFileWithOverrides) {
  std::string dir = testing::temp_dir("exp_base");
  std::string base = dir + "/base.yaml";
  YAML::Node root = YAML::Load(experiment_text("runs"));
  YAML::Emitter em;
  em << root["pretrain"];
  write_file_atomic(base, em.c_str());
  ExperimentConfig exp = parse(experiment_text("runs"), {"pretrain={config: " + base + ", train: {steps: 9}}"});
  EXPECT_EQ(exp.runs[0].pretrain.train.steps, 9);        // the override
  EXPECT_EQ(exp.runs[0].pretrain.model.n_embd, 16);      // from the file
}

// Fake stages: record calls, write the files the real ones would (checkpoints, metrics, eval.json).
struct FakeStages {
  int pretrain_calls = 0, rl_calls = 0, eval_calls = 0, rl_resumes = 0;
  std::string fail_rl_of;   // an out dir whose RL "crashes" once after its first checkpoint

  ExperimentStages stages() {
    ExperimentStages s;
    s.pretrain = [this](const PretrainConfig&, const std::string& out, bool) {
      pretrain_calls++;
      make_dirs(out + "/checkpoints/step_00000005");
      write_file_atomic(out + "/checkpoints/step_00000005/model.safetensors", "x");
      write_file_atomic(out + "/metrics.jsonl", "{\"step\": 0, \"loss\": 5.0, \"val_loss\": 5.1}\n");
      return out + "/checkpoints/step_00000005";
    };
    s.rl = [this](const RLConfig& cfg, const std::string& out, bool resume) -> std::string {
      rl_calls++;
      rl_resumes += resume;
      EXPECT_NE(cfg.init.find("/pretrain/"), std::string::npos);
      for (int step : {1, 2, 4}) {
        std::string ck = out + "/checkpoints/" + checkpoint_name_for_test(step);
        make_dirs(ck);
        write_file_atomic(ck + "/model.safetensors", "x");
        if (out == fail_rl_of && !resume) throw Error("killed");
      }
      write_file_atomic(out + "/metrics.jsonl", "{\"step\": 0, \"reward\": 0.5, \"style_tinygsm\": 1.0}\n");
      return out + "/checkpoints/" + checkpoint_name_for_test(4);
    };
    s.eval = [this](const EvalConfig&, const std::string&, const std::string& out) {
      eval_calls++;
      write_file_atomic(out + "/eval.json", "{\"sets\": {\"synthetic:test\": {\"pass@2\": 0.5}}}");
    };
    return s;
  }
  static std::string checkpoint_name_for_test(int step) {
    std::string n = std::to_string(step);
    return "step_" + std::string(8 - n.size(), '0') + n;
  }
};

TEST(Experiment, StagesAreCachedSharedAndResumed) {
  std::string out = testing::temp_dir("exp_run");
  ExperimentConfig exp = parse(experiment_text(out));
  ExperimentOptions quiet;
  quiet.quiet = true;
  FakeStages fake;
  fake.fail_rl_of = out + "/exp/algorithm-grpo__kl_coef-0.001/rl";
  EXPECT_THROW(run_experiment(exp, fake.stages(), quiet), Error);
  EXPECT_EQ(fake.pretrain_calls, 1);
  EXPECT_EQ(fake.rl_calls, 3);   // two finished, the third "killed"
  EXPECT_EQ(fake.eval_calls, 1 + 2 * 3);   // base + 3 checkpoints of each finished run
  EXPECT_EQ(stage_state(fake.fail_rl_of, exp.runs[2].rl_hash), "started");

  std::string html = run_experiment(exp, fake.stages(), quiet);
  EXPECT_EQ(fake.pretrain_calls, 1);       // shared and cached
  EXPECT_EQ(fake.rl_calls, 5);             // the killed one resumed, the last one new
  EXPECT_EQ(fake.rl_resumes, 1);
  EXPECT_EQ(fake.eval_calls, 1 + 4 * 3);
  EXPECT_TRUE(file_exists(out + "/exp/algorithm-ppo__kl_coef-0.01/eval/step_00000004/eval.json"));
  EXPECT_TRUE(file_exists(out + "/exp/pretrain/" + exp.runs[0].pretrain_hash + "/eval_base/eval.json"));
  EXPECT_TRUE(file_exists(out + "/exp/algorithm-ppo__kl_coef-0.01/pretrain/done.json"));   // the link
  std::string page = read_file(html);
  EXPECT_NE(page.find("algorithm-grpo__kl_coef-0.01"), std::string::npos);
  EXPECT_NE(page.find("<h3>By rl.policy.kl_coef</h3>"), std::string::npos);

  // Nothing left to do.
  FakeStages again;
  run_experiment(exp, again.stages(), quiet);
  EXPECT_EQ(again.pretrain_calls + again.rl_calls + again.eval_calls, 0);

  // A changed RL setting for the same run ids is refused (the directories hold the old work) ...
  ExperimentConfig changed = parse(experiment_text(out), {"rl.policy.clip=0.3"});
  FakeStages third;
  try {
    run_experiment(changed, third.stages(), quiet);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("different configuration"), std::string::npos) << e.what();
  }
  EXPECT_EQ(third.rl_calls, 0);
  // ... while changed evaluation settings are simply redone.
  ExperimentConfig new_eval = parse(experiment_text(out), {"eval.count=5"});
  FakeStages fourth;
  run_experiment(new_eval, fourth.stages(), quiet);
  EXPECT_EQ(fourth.rl_calls, 0);
  EXPECT_EQ(fourth.eval_calls, 1 + 4 * 3);
}

TEST(Experiment, StageProtocol) {
  std::string dir = testing::temp_dir("exp_stage") + "/s";
  EXPECT_EQ(stage_state(dir, "h1"), "missing");
  int calls = 0;
  auto work = [&](bool resume) {
    calls++;
    EXPECT_FALSE(resume);
    return std::string("result-1");
  };
  EXPECT_EQ(run_stage(dir, "x", "h1", false, work), "result-1");
  EXPECT_EQ(run_stage(dir, "x", "h1", false, work), "result-1");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(stage_state(dir, "h2"), "changed");
  EXPECT_THROW(run_stage(dir, "x", "h2", false, work), Error);
  EXPECT_EQ(run_stage(dir, "x", "h2", true, work), "result-1");
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(hash_hex(""), "cbf29ce484222325");   // FNV-1a 64 offset basis
}

}  // namespace
}  // namespace chamber
