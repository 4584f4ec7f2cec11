// The sampling-free instruments of an RL run (contract in train/rl_probes.h): style probes and
// per-source held-out NLL, both scored by rl_score's forward passes.
#include "train/rl_probes.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "data/shards.h"
#include "train/rl_internal.h"
#include "util/util.h"

namespace chamber {

std::string rl_find_pretraining_data(const std::string& dir) {
  namespace fs = std::filesystem;
  std::string ckpt = dir;
  // A chain of RL runs, each started from the one before, ends at a pretraining run; a few hops
  // bound a chain that loops.
  for (int hop = 0; hop < 16 && !ckpt.empty(); hop++) {
    // <run>/checkpoints/step_N: the run directory is two levels up.
    fs::path run = fs::path(ckpt).lexically_normal();
    if (!run.has_filename()) run = run.parent_path();
    run = run.parent_path().parent_path();
    std::string data = path_join(run.string().empty() ? "." : run.string(), "data");
    if (file_exists(path_join(data, "manifest.json"))) return data;
    std::string state_path = path_join(ckpt, "state.json");
    if (!file_exists(state_path)) break;
    nlohmann::json state = nlohmann::json::parse(read_file(state_path), nullptr, false);
    if (!state.is_object() || !state.contains("init") || !state["init"].is_string()) break;
    std::string next = state["init"].get<std::string>();
    if (next == ckpt || !dir_exists(next)) break;
    ckpt = next;
  }
  return "";
}

std::vector<std::string> probe_styles_of_spec(const nlohmann::json& spec) {
  std::vector<std::string> styles;
  if (!spec.is_object() || !spec.contains("sources") || !spec["sources"].is_array()) return styles;
  for (const auto& src : spec["sources"]) {
    if (!src.is_object()) continue;
    std::string style;
    if (src.value("kind", "") == "synthetic") style = src.value("style", "");
    else if (src.value("kind", "") == "jsonl") style = src.value("importer", "");
    // Real datasets imported with a style's importer answer in that style too.
    if (style == "mathtext" || !math_style_known(style)) continue;
    if (std::find(styles.begin(), styles.end(), style) == styles.end()) styles.push_back(style);
  }
  return styles;
}

std::vector<int> probe_opening_tokens(const Tokenizer& tok, const MathProblem& p, const std::string& style, int n) {
  // The document's tokens after the prompt's: the renderer's text as the model saw it in
  // pretraining. (The pre-tokenizer splits at the blank line, so this is the solution encoded
  // alone; the fallback covers a tokenizer where it is not.)
  std::vector<int> prompt = encode_prompt(tok, p.prompt);
  std::vector<int> doc = tokenizer_encode(tok, mathworld_document(p, style));
  std::vector<int> solution;
  if (doc.size() > prompt.size() && std::equal(prompt.begin(), prompt.end(), doc.begin()))
    solution.assign(doc.begin() + (long)prompt.size(), doc.end());
  else
    solution = tokenizer_encode(tok, mathworld_solution(p, style));
  // Up to the first digit: numbers are where a solution starts stating the problem's arithmetic,
  // which costs log-probability for reasons other than the style (digits are tokens of their own).
  size_t end = 0;
  while (end < solution.size() && (int)end < n) {
    const std::string& bytes = tok.token_bytes[solution[end]];
    if (std::any_of(bytes.begin(), bytes.end(), [](char c) { return c >= '0' && c <= '9'; })) break;
    end++;
  }
  solution.resize(std::max<size_t>(end, std::min<size_t>(1, solution.size())));   // at least one token
  return solution;
}

// Windows of up to T+1 tokens, each starting on the last token of the one before, so that every
// token after the first is predicted exactly once (with up to T tokens of context).
static std::vector<Rollout> heldout_windows(const std::vector<int>& tokens, int T) {
  std::vector<Rollout> out;
  for (size_t start = 0; start + 1 < tokens.size(); start += (size_t)T) {
    Rollout r;
    r.tokens.assign(tokens.begin() + (long)start, tokens.begin() + (long)std::min(tokens.size(), start + T + 1));
    r.prompt_len = 1;
    out.push_back(std::move(r));
  }
  return out;
}

RLProbeSet rl_probes_prepare(const RLConfig& cfg, const Tokenizer& tok, const std::string& init_dir,
                             const ModelConfig& model, bool quiet) {
  RLProbeSet set;
  if (cfg.probe_interval <= 0) return set;
  const std::string data_dir = rl_find_pretraining_data(init_dir);
  nlohmann::json manifest;
  if (!data_dir.empty()) manifest = nlohmann::json::parse(read_file(path_join(data_dir, "manifest.json")), nullptr, false);
  if (!manifest.is_object()) manifest = nlohmann::json::object();

  // ---- style probes ----
  set.styles = probe_styles_of_spec(manifest.value("spec", nlohmann::json::object()));
  if (set.styles.empty()) set.styles = {"tinygsm", "omi1", "omi2", "gsm8k"};   // no mixture known: every answer style
  if (cfg.probe_prompts > 0) {
    set.openings.resize(set.styles.size());
    for (int i = 0; i < cfg.probe_prompts; i++) {
      MathProblem p = mathworld_problem(cfg.eval_split, i, (uint64_t)cfg.eval_seed);
      std::vector<int> prompt = {tok.eot_id};
      for (int id : encode_prompt(tok, p.prompt)) prompt.push_back(id);
      std::vector<std::vector<int>> openings;
      bool fits = true;
      for (const std::string& style : set.styles) {
        openings.push_back(probe_opening_tokens(tok, p, style, cfg.probe_tokens));
        fits &= !openings.back().empty() && prompt.size() + openings.back().size() <= (size_t)model.context_length;
      }
      if (!fits) continue;   // every style is probed on the same prompts
      for (size_t k = 0; k < set.styles.size(); k++) {
        Rollout r;
        r.tokens = prompt;
        r.tokens.insert(r.tokens.end(), openings[k].begin(), openings[k].end());
        r.prompt_len = (int)prompt.size();
        set.openings[k].push_back(std::move(r));
      }
    }
    if (set.openings[0].empty()) set.styles.clear(), set.openings.clear();
  } else {
    set.styles.clear();
  }

  // ---- per-source held-out shards ----
  const nlohmann::json shards = manifest.value("heldout_shards", nlohmann::json::array());
  for (const auto& h : shards) {
    if (!h.is_object() || !h.contains("source") || !h.contains("shard") || !h["source"].is_string() ||
        !h["shard"].is_string())
      continue;
    int shard_vocab = 0;
    std::vector<int> tokens = shard_read(path_join(data_dir, h["shard"].get<std::string>()), &shard_vocab);
    if (shard_vocab > model.vocab_size)
      fail(data_dir, ": held-out shard ", h["shard"].get<std::string>(), " was written for ", shard_vocab,
           " tokens but the model has ", model.vocab_size);
    std::vector<Rollout> windows = heldout_windows(tokens, model.context_length);
    if (windows.empty()) continue;
    set.sources.push_back(h["source"].get<std::string>());
    set.windows.push_back(std::move(windows));
  }
  if (set.sources.empty() && !quiet) {
    const std::string why = data_dir.empty() ? "no pretraining data directory found"
                            : manifest.contains("heldout_shards")
                                ? "its sources have none: " + data_dir + "/manifest.json"
                                : "the data was built before they existed: " + data_dir + "/manifest.json";
    std::fprintf(stderr, "note: no per-source held-out shards for %s (%s); nll_<source> is not logged\n",
                 init_dir.c_str(), why.c_str());
  }
  return set;
}

nlohmann::json rl_probes_measure(RLSession& s, RLProbeSet& probes) {
  nlohmann::json line = nlohmann::json::object();
  if (probes.empty()) return line;
  const double t_start = now_seconds(), score_s = s.score_s;
  // Mean over prompts of log p(opening | prompt), and the softmax of those means over styles.
  std::vector<double> logp(probes.styles.size(), 0.0);
  for (size_t k = 0; k < probes.styles.size(); k++) {
    rl_score(s, *s.policy, probes.openings[k], ScoreInto::old_logprobs, false, false);
    for (const Rollout& r : probes.openings[k])
      for (float lp : r.old_logprobs) logp[k] += lp;
    logp[k] /= (double)probes.openings[k].size();
  }
  if (!logp.empty()) {
    const double top = *std::max_element(logp.begin(), logp.end());
    double z = 0;
    for (double l : logp) z += std::exp(l - top);
    for (size_t k = 0; k < logp.size(); k++) {
      line["probe_logp_" + probes.styles[k]] = logp[k];
      line["probe_share_" + probes.styles[k]] = std::exp(logp[k] - top) / z;
    }
  }
  // Mean next-token loss over every held-out token of a source.
  for (size_t k = 0; k < probes.sources.size(); k++) {
    rl_score(s, *s.policy, probes.windows[k], ScoreInto::old_logprobs, false, false);
    double loss = 0, count = 0;
    for (const Rollout& r : probes.windows[k])
      for (float lp : r.old_logprobs) loss -= lp, count++;
    line["nll_" + probes.sources[k]] = loss / std::max(1.0, count);
  }
  s.score_s = score_s;   // the step's own scoring time, not the instruments'
  line["probe_s"] = now_seconds() - t_start;
  return line;
}

}  // namespace chamber
