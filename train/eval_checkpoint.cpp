// Evaluating one checkpoint end to end: load it, run every eval set, write eval.json and
// generations.jsonl. Shared by `chamber eval` (train/cli_eval.cpp) and `chamber run`.
#include <cstdio>

#include "engine/backend.h"
#include "util/util.h"
#include "train/eval.h"
#include "train/loaded_model.h"

namespace chamber {

nlohmann::ordered_json evaluate_checkpoint(const EvalConfig& cfg, const std::string& checkpoint,
                                           const std::string& device, std::string out, bool quiet,
                                           Comm* comm) {
  const bool lead = !comm || comm->rank == 0;
  quiet = quiet || !lead;
  LoadedModel lm;
  load_model(lm, checkpoint, device, 1, 1);  // the sampler plans its own cache and scratch
  if (comm) comm_attach(*comm, *lm.model.ops, resolve_device_name(device) == "cuda");
  if (out.empty()) out = path_join(lm.dir, "eval");
  if (lead) make_dirs(out);
  std::vector<EvalGeneration> generations;
  nlohmann::ordered_json summary;
  summary["checkpoint"] = lm.dir;
  summary["device"] = resolve_device_name(device);
  summary["config"] = {{"sets", cfg.sets}, {"count", cfg.count}, {"greedy", cfg.greedy},
                       {"n_samples", cfg.n_samples}, {"k", cfg.k},
                       {"temperature", cfg.temperature}, {"top_k", cfg.top_k},
                       {"top_p", cfg.top_p}, {"max_new_tokens", cfg.max_new_tokens},
                       {"stop_strings", cfg.stop_strings}, {"batch_size", cfg.batch_size},
                       {"seed", cfg.seed}, {"problem_seed", cfg.problem_seed}};
  nlohmann::ordered_json sets = nlohmann::ordered_json::object();
  for (const std::string& name : cfg.sets) {
    std::vector<EvalProblem> problems = load_eval_set(name, cfg.count, cfg.problem_seed);
    if (!quiet) std::fprintf(stderr, "eval %s: %zu problems\n", name.c_str(), problems.size());
    EvalSetResult r = evaluate_set(lm.model, lm.tokenizer, name, problems, cfg, &generations, comm);
    sets[name] = eval_result_json(r);
    if (!quiet)
      std::fprintf(stderr, "eval %s: done in %.1f s (%.0f tokens/s)\n", name.c_str(), r.seconds,
                   r.seconds > 0 ? r.generated_tokens / r.seconds : 0.0);
  }
  summary["sets"] = sets;
  // Completions may hold invalid UTF-8 (bytes of a cut multi-byte character): written as U+FFFD.
  const auto replace = nlohmann::json::error_handler_t::replace;
  std::string lines;
  for (const auto& g : generations) lines += generation_json(g).dump(-1, ' ', false, replace) + "\n";
  if (lead) {
    write_file_atomic(path_join(out, "generations.jsonl"), lines);
    write_file_atomic(path_join(out, "eval.json"), summary.dump(2, ' ', false, replace) + "\n");
  }
  if (comm) comm_barrier(*comm);   // the files exist before any rank returns
  gpt_destroy(lm.model);
  return summary;
}

}  // namespace chamber
