// Running an experiment (see experiment.h): the cached-stage protocol and the order of stages for
// each run: pretrain (shared) -> base eval (shared) -> RL -> evaluation of RL checkpoints ->
// report. Reading it top to bottom gives the whole pipeline; the work itself is in the stage
// functions (ExperimentStages).
#include <cstdio>
#include <set>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "engine/checkpoint.h"
#include "util/util.h"
#include "train/study/experiment.h"
#include "train/study/report.h"

namespace chamber {

static nlohmann::json read_json_or_null(const std::string& path) {
  if (!file_exists(path)) return nullptr;
  auto j = nlohmann::json::parse(read_file(path), nullptr, false);
  return j.is_object() ? j : nlohmann::json();
}

static std::string recorded_hash(const nlohmann::json& j) {
  return j.is_object() && j.contains("config_hash") && j["config_hash"].is_string() ? j["config_hash"].get<std::string>()
                                                                                    : "";
}

std::string stage_state(const std::string& dir, const std::string& hash) {
  nlohmann::json done = read_json_or_null(path_join(dir, "done.json"));
  if (!done.is_null()) return recorded_hash(done) == hash ? "done" : "changed";
  nlohmann::json started = read_json_or_null(path_join(dir, "stage.json"));
  if (!started.is_null()) return recorded_hash(started) == hash ? "started" : "changed";
  return "missing";
}

std::string run_stage(const std::string& dir, const std::string& stage, const std::string& hash,
                      bool redo_if_changed, const std::function<std::string(bool resume)>& work) {
  std::string state = stage_state(dir, hash);
  if (state == "done") return read_json_or_null(path_join(dir, "done.json")).value("result", "");
  if (state == "changed") {
    if (!redo_if_changed)
      fail(stage, " stage in ", dir, " was made with a different configuration (its stage.json/done.json "
           "hash is not ", hash, "). Delete that directory to redo it, or give the experiment a new name.");
    remove_all(dir);
    state = "missing";
  }
  make_dirs(dir);
  if (state == "missing")
    write_file_atomic(path_join(dir, "stage.json"), nlohmann::json{{"stage", stage}, {"config_hash", hash}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  std::string result = work(state == "started");
  write_file_atomic(path_join(dir, "done.json"),
                    nlohmann::json{{"stage", stage}, {"config_hash", hash}, {"result", result}}.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  return result;
}

// <run>/pretrain -> ../pretrain/<hash>, so each run directory shows what it was trained from.
static void link_pretrain(const std::string& run_dir, const std::string& hash) {
  std::string link = path_join(run_dir, "pretrain");
  std::string target = "../pretrain/" + hash;
  char buf[4096];
  ssize_t n = readlink(link.c_str(), buf, sizeof buf - 1);
  if (n >= 0 && std::string(buf, (size_t)n) == target) return;
  ::unlink(link.c_str());
  if (symlink(target.c_str(), link.c_str()) != 0) { /* a convenience only: run.json records it too */ }
}

static void say(const ExperimentOptions& opt, const std::string& text) {
  if (!opt.quiet) std::fprintf(stderr, "[run] %s\n", text.c_str());
}

// The checkpoints whose evaluation a run wants: every saved RL checkpoint, or only the final one.
static std::vector<std::string> checkpoints_to_evaluate(const ExperimentRun& run, const std::string& rl_dir,
                                                        const std::string& final_checkpoint) {
  if (run.eval_checkpoints == "none") return {};
  if (run.eval_checkpoints == "final") return {final_checkpoint};
  std::vector<std::string> all = checkpoint_list(path_join(rl_dir, "checkpoints"));
  return all.empty() ? std::vector<std::string>{final_checkpoint} : all;
}

static std::string base_name(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p.substr(p.find_last_of('/') + 1);
}

static void print_plan(const ExperimentConfig& cfg) {
  const std::string root = cfg.dir();
  std::printf("%s: %zu run(s) in %s\n", cfg.name.c_str(), cfg.runs.size(), root.c_str());
  for (const ExperimentRun& run : cfg.runs) {
    std::string pre_dir = path_join(root, "pretrain/" + run.pretrain_hash);
    std::printf("  %-40s pretrain/%s: %s", run.id.c_str(), run.pretrain_hash.c_str(),
                stage_state(pre_dir, run.pretrain_hash).c_str());
    if (run.has_rl)
      std::printf(" | rl (%s): %s", rl_algorithm_name(run.rl.algorithm),
                  stage_state(path_join(root, run.id + "/rl"), run.rl_hash).c_str());
    std::printf("\n");
  }
}

std::string run_experiment(const ExperimentConfig& cfg, const ExperimentStages& stages,
                           const ExperimentOptions& opt) {
  const std::string root = cfg.dir();
  if (opt.list) {
    print_plan(cfg);
    return path_join(root, "report.html");
  }
  make_dirs(root);
  if (opt.only_report) return write_report(root, cfg.generations_per_style);

  nlohmann::json ids = nlohmann::json::array();
  std::vector<std::string> axis_keys;
  for (const auto& r : cfg.runs) ids.push_back(r.id);
  for (const auto& a : cfg.axes) axis_keys.push_back(a.key);
  write_file_atomic(path_join(root, "experiment.yaml"), cfg.resolved_yaml);
  write_file_atomic(path_join(root, "experiment.json"),
                    nlohmann::json{{"name", cfg.name}, {"file", cfg.file}, {"axes", axis_keys}, {"runs", ids}}.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");

  for (size_t i = 0; i < cfg.runs.size(); i++) {
    const ExperimentRun& run = cfg.runs[i];
    say(opt, "run " + std::to_string(i + 1) + "/" + std::to_string(cfg.runs.size()) + ": " + run.id);
    const std::string run_dir = path_join(root, run.id);
    const std::string pre_rel = "pretrain/" + run.pretrain_hash;
    const std::string pre_dir = path_join(root, pre_rel);
    make_dirs(run_dir);
    write_file_atomic(path_join(run_dir, "run.json"),
                      nlohmann::json{{"id", run.id}, {"axes", run.axes}, {"pretrain_dir", pre_rel},
                                     {"pretrain_hash", run.pretrain_hash}, {"rl_hash", run.rl_hash},
                                     {"eval_hash", run.eval_hash}}.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");

    // 1. Pretraining, shared by every run with the same resolved pretraining config.
    say(opt, "pretrain " + pre_rel + " (" + stage_state(pre_dir, run.pretrain_hash) + ")");
    std::string base_ckpt = run_stage(pre_dir, "pretrain", run.pretrain_hash, false, [&](bool resume) {
      return stages.pretrain(run.pretrain, pre_dir, resume);
    });
    link_pretrain(run_dir, run.pretrain_hash);

    // 2. The pretrained model's evaluation (is there any reward signal to amplify?), shared too.
    if (run.has_eval && run.eval_base) {
      std::string dir = path_join(pre_dir, "eval_base");
      run_stage(dir, "eval", hash_hex(run.eval_hash + base_ckpt), true, [&](bool) {
        say(opt, "evaluate the pretrained model -> " + dir);
        stages.eval(run.eval, base_ckpt, dir);
        return dir;
      });
      std::string warning = weak_signal_warning(best_pass_at_k_of_file(path_join(dir, "eval.json")));
      if (!warning.empty()) std::fprintf(stderr, "chamber: warning: %s: %s\n", run.id.c_str(), warning.c_str());
    }

    // 3. RL from the pretrained checkpoint.
    if (run.has_rl) {
      RLConfig rl = run.rl;
      rl.init = base_ckpt;
      std::string rl_dir = path_join(run_dir, "rl");
      say(opt, "rl " + std::string(rl_algorithm_name(rl.algorithm)) + " -> " + rl_dir + " (" + stage_state(rl_dir, run.rl_hash) + ")");
      std::string final_ckpt = run_stage(rl_dir, "rl", run.rl_hash, false, [&](bool resume) {
        return stages.rl(rl, rl_dir, resume);
      });

      // 4. Evaluation of the RL checkpoints (log-spaced steps), each its own cached stage.
      if (run.has_eval)
        for (const std::string& ckpt : checkpoints_to_evaluate(run, rl_dir, final_ckpt)) {
          std::string dir = path_join(run_dir, "eval/" + base_name(ckpt));
          run_stage(dir, "eval", hash_hex(run.eval_hash + run.rl_hash + base_name(ckpt)), true, [&](bool) {
            say(opt, "evaluate " + ckpt + " -> " + dir);
            stages.eval(run.eval, ckpt, dir);
            return dir;
          });
        }
    }
    write_report(root, cfg.generations_per_style);
  }
  std::string html = write_report(root, cfg.generations_per_style);
  say(opt, "report: " + html);
  return html;
}

}  // namespace chamber
