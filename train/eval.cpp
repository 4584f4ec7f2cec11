// Evaluation: sets, generation, grading and the metrics; the definitions are in eval.h.
#include "train/eval.h"

#include <algorithm>

#include "data/grader.h"
#include "data/mathworld.h"
#include "engine/comm.h"
#include "engine/sampler.h"
#include "util/util.h"

namespace chamber {

EvalConfig read_eval_config(YamlMap m) {
  EvalConfig c;
  m.get("sets", c.sets);
  m.get("count", c.count);
  m.get("greedy", c.greedy);
  m.get("n_samples", c.n_samples);
  if (m.has("k")) {
    std::vector<double> ks;
    m.get("k", ks);
    c.k.clear();
    for (double v : ks) {
      if (v != (double)(int)v || v < 1) m.bad("k", "must list positive integers");
      c.k.push_back((int)v);
    }
  }
  m.get("temperature", c.temperature);
  m.get("top_k", c.top_k);
  m.get("top_p", c.top_p);
  m.get("max_new_tokens", c.max_new_tokens);
  m.get("stop_strings", c.stop_strings);
  m.get("batch_size", c.batch_size);
  m.get("seed", c.seed);
  m.get("problem_seed", c.problem_seed);
  m.finish();
  if (c.sets.empty()) m.bad("sets", "must name at least one set (e.g. synthetic:test)");
  require_range(m, "count", c.count, 0, kMaxEvalProblems, "0 = every problem of a file set");
  require_range(m, "n_samples", c.n_samples, 0, kMaxEvalSamples);
  require_range(m, "temperature", c.temperature, 0, 100);
  if (!c.greedy && c.n_samples == 0) m.bad("n_samples", "must be > 0 when greedy is false (nothing to evaluate)");
  for (int k : c.k)
    if (c.n_samples > 0 && k > c.n_samples)
      m.bad("k", "values must be <= n_samples (" + std::to_string(c.n_samples) + "), got " + std::to_string(k));
  require_positive(m, "max_new_tokens", c.max_new_tokens);
  require_positive(m, "batch_size", c.batch_size);
  if (c.top_k < 0) m.bad("top_k", "must be >= 0 (0 = off)");
  require_range(m, "top_p", c.top_p, 1e-6, 1.0);
  if (c.n_samples > 0 && c.temperature <= 0.0f)
    m.bad("temperature", "must be > 0 for samples (greedy pass@1 is the `greedy` switch)");
  return c;
}

std::vector<EvalProblem> load_eval_set(const std::string& spec, int count, int64_t seed) {
  std::vector<EvalProblem> out;
  if (spec.rfind("synthetic:", 0) == 0) {
    std::string split = spec.substr(10);
    if (!math_split_known(split))
      fail("eval set '", spec, "': unknown math world split '", split, "' (", kMathSplitNames, ")");
    if (count <= 0) fail("eval set '", spec, "': a synthetic set needs count > 0");
    if (count > kMaxEvalProblems) fail("eval set '", spec, "': count ", count, " is more than ", kMaxEvalProblems, " problems");
    for (const MathProblem& p : mathworld_generate(split, count, (uint64_t)seed))
      out.push_back({spec + "#" + std::to_string(out.size()), p.prompt, mathworld_answer_text(p)});
    return out;
  }
  std::vector<GoldItem> gold = load_gold_dataset(spec);  // gsm8k:PATH, math:PATH, ...
  if (count <= 0 && gold.size() > (size_t)kMaxEvalProblems)
    fail("eval set '", spec, "': ", gold.size(), " problems, more than ", kMaxEvalProblems, "; set a count");
  for (size_t i = 0; i < gold.size() && (count <= 0 || (int)i < count); i++)
    out.push_back({spec + "#" + std::to_string(i), gold[i].question + "\n\n", gold[i].answer});
  return out;
}

// The prompt ends with a blank line. Encoded alone, the trailing "\n\n" is one pre-token piece
// (one merged token), but in every pretraining document the blank line is followed by the solution
// and splits into "\n" "\n" (whitespace before a non-space stays apart). Encode the prompt as it
// appears inside a document: with a letter after it, then drop that letter's token.
std::vector<int> encode_prompt(const Tokenizer& tok, const std::string& prompt) {
  std::vector<int> ids = tokenizer_encode(tok, prompt + "X");
  if (ids.empty() || tokenizer_decode(tok, &ids.back(), 1) != "X") return tokenizer_encode(tok, prompt);
  ids.pop_back();
  return ids;
}

std::vector<int> eval_prompt_tokens(const Tokenizer& tok, const std::string& prompt) {
  std::vector<int> ids = {tok.eot_id};   // pretraining documents follow an eot: a new document
  for (int id : encode_prompt(tok, prompt)) ids.push_back(id);
  return ids;
}

nlohmann::ordered_json generation_json(const EvalGeneration& g) {
  return {{"set", g.set},
          {"id", g.id},
          {"sample", g.sample},
          {"prompt", g.prompt},
          {"completion", g.completion},
          {"label", g.label},
          {"answer", g.answer},
          {"gold", g.gold},
          {"correct", g.correct},
          {"logprob_sum", g.logprob_sum},
          {"num_tokens", g.num_tokens},
          {"finish_reason", g.finish_reason}};
}

nlohmann::json style_json(const std::map<std::string, StyleStats>& styles) {
  int64_t total = 0;
  for (const auto& [label, s] : styles) total += s.count;
  nlohmann::json out = nlohmann::json::object();
  for (const char* label : {"tinygsm", "omi1", "text"}) {
    auto it = styles.find(label);
    StyleStats s = it == styles.end() ? StyleStats{} : it->second;
    out[label] = {{"count", s.count},
                  {"share", total ? (double)s.count / (double)total : 0.0},
                  {"accuracy", s.count ? (double)s.correct / (double)s.count : 0.0}};
  }
  return out;
}

nlohmann::json eval_result_json(const EvalSetResult& r) {
  nlohmann::json j;
  j["problems"] = r.problems;
  j["too_long"] = r.too_long;
  if (!r.greedy_styles.empty()) {
    j["pass@1_greedy"] = r.pass1_greedy;
    j["styles_greedy"] = style_json(r.greedy_styles);
  }
  if (!r.sample_styles.empty()) {
    j["sample_accuracy"] = r.sample_accuracy;
    for (const auto& [k, v] : r.pass_at) j["pass@" + std::to_string(k)] = v;
    for (const auto& [k, v] : r.maj_at) j["maj@" + std::to_string(k)] = v;
    j["styles_samples"] = style_json(r.sample_styles);
  }
  j["mean_completion_tokens"] = r.mean_completion_tokens;
  j["generated_tokens"] = r.generated_tokens;
  j["seconds"] = r.seconds;
  j["tokens_per_second"] = r.seconds > 0 ? (double)r.generated_tokens / r.seconds : 0.0;
  return j;
}

bool majority_correct(const std::vector<std::string>& answers, const std::vector<bool>& correct) {
  // Votes in order of first appearance, so a tie goes to the answer seen first.
  std::vector<std::pair<std::string, int>> votes;
  std::vector<bool> vote_correct;
  for (size_t i = 0; i < answers.size(); i++) {
    if (answers[i].empty()) continue;
    auto it = std::find_if(votes.begin(), votes.end(), [&](const auto& v) { return v.first == answers[i]; });
    if (it == votes.end()) {
      votes.push_back({answers[i], 1});
      vote_correct.push_back(correct[i]);
    } else {
      it->second++;
    }
  }
  int best = -1;
  for (size_t i = 0; i < votes.size(); i++)
    if (best < 0 || votes[i].second > votes[best].second) best = (int)i;
  return best >= 0 && vote_correct[best];
}

namespace {

// One generation request: problem index and sample number (-1 greedy).
struct Request {
  int problem, sample;
};

// A generation's fields as they travel between ranks (MessagePack keeps a completion's bytes
// as they are, valid UTF-8 or not).
std::string pack_generations(const std::vector<EvalGeneration>& gens, size_t first, size_t count) {
  nlohmann::json list = nlohmann::json::array();
  for (size_t i = first; i < first + count; i++) {
    const EvalGeneration& g = gens[i];
    list.push_back({g.completion, g.label, g.answer, g.correct, g.logprob_sum, g.num_tokens, g.finish_reason});
  }
  std::vector<uint8_t> bytes = nlohmann::json::to_msgpack(list);
  return std::string(bytes.begin(), bytes.end());
}

void unpack_generations(const std::string& bytes, std::vector<EvalGeneration>& gens, size_t first) {
  const nlohmann::json list = nlohmann::json::from_msgpack(bytes);
  for (size_t i = 0; i < list.size(); i++) {
    EvalGeneration& g = gens[first + i];
    const nlohmann::json& f = list[i];
    g.completion = f[0].get<std::string>();
    g.label = f[1].get<std::string>();
    g.answer = f[2].get<std::string>();
    g.correct = f[3].get<bool>();
    g.logprob_sum = f[4].get<double>();
    g.num_tokens = f[5].get<int>();
    g.finish_reason = f[6].get<std::string>();
  }
}

// Runs the requests through the sampler in batches and grades each completion. Data parallel:
// each rank generates and grades a contiguous share of the requests that fit, with the row seeds
// one process would give them (the stream advanced past the rows before its share), and every
// rank then holds every generation: the result is one process's, whatever the rank count.
std::vector<EvalGeneration> generate_and_grade(GPT& model, const Tokenizer& tok,
                                               const std::string& set_name,
                                               const std::vector<EvalProblem>& problems,
                                               const std::vector<std::vector<int>>& prompt_ids,
                                               const std::vector<Request>& requests,
                                               const SamplingParams& params, int batch_size,
                                               int max_len, Rng& rng, int64_t* tokens_out,
                                               const Comm& comm) {
  std::vector<EvalGeneration> gens(requests.size());
  std::vector<size_t> runnable;
  for (size_t r = 0; r < requests.size(); r++) {
    const EvalProblem& p = problems[requests[r].problem];
    EvalGeneration& g = gens[r];
    g.set = set_name;
    g.id = p.id;
    g.sample = requests[r].sample;
    g.prompt = p.prompt;
    g.gold = p.gold;
    if ((int)prompt_ids[requests[r].problem].size() >= max_len) g.finish_reason = "too_long";
    else runnable.push_back(r);
  }
  // The sampler seeds each row from one draw of `rng`, in order.
  const RankShare share = comm_share(comm, (int64_t)runnable.size());
  Rng rank_rng = rng;
  if (comm.world > 1) {
    for (int64_t i = 0; i < share.first; i++) rank_rng.next_u64();
    for (size_t i = 0; i < runnable.size(); i++) rng.next_u64();   // as one process's would be
  }
  Rng& row_seeds = comm.world > 1 ? rank_rng : rng;
  const size_t first = (size_t)share.first, end = first + (size_t)share.count;
  Sampler sampler;
  sampler_create(sampler, model, std::max(1, std::min(batch_size, share.count)), max_len);
  try {
    for (size_t b0 = first; b0 < end; b0 += batch_size) {
      size_t b1 = std::min(end, b0 + batch_size);
      std::vector<std::vector<int>> batch;
      for (size_t i = b0; i < b1; i++) batch.push_back(prompt_ids[requests[runnable[i]].problem]);
      std::vector<Completion> out = sampler_generate(sampler, model, tok.token_bytes, tok.eot_id, batch, params, row_seeds);
      for (size_t i = b0; i < b1; i++) {
        EvalGeneration& g = gens[runnable[i]];
        Completion& c = out[i - b0];
        g.completion = c.text;
        g.finish_reason = c.finish_reason;
        g.num_tokens = (int)c.tokens.size();
        for (float lp : c.logprobs) g.logprob_sum += lp;
      }
    }
  } catch (...) {
    sampler_destroy(sampler);
    throw;
  }
  sampler_destroy(sampler);
  // Grading runs model-written code in the bounded interpreter: independent per generation. This
  // rank grades what it generated, and (cheap: empty completions) the requests that did not fit.
  std::vector<size_t> to_grade(runnable.begin() + first, runnable.begin() + end);
  for (size_t r = 0; r < gens.size(); r++)
    if (gens[r].finish_reason == "too_long") to_grade.push_back(r);
#pragma omp parallel for schedule(dynamic)
  for (size_t i = 0; i < to_grade.size(); i++) {
    EvalGeneration& g = gens[to_grade[i]];
    GradeResult gr = grade_completion(g.completion, g.gold);
    g.label = gr.label;
    g.answer = gr.answer;
    g.correct = g.finish_reason != "too_long" && gr.correct;
  }
  if (comm.world > 1) {
    // Generations travel in runnable order: pack this rank's, unpack every rank's.
    std::vector<EvalGeneration> runnable_gens;
    for (size_t r : runnable) runnable_gens.push_back(gens[r]);
    std::vector<std::string> shares = comm_all_gather_bytes(comm, pack_generations(runnable_gens, first, end - first));
    for (int rank = 0; rank < comm.world; rank++)
      unpack_generations(shares[rank], runnable_gens, (size_t)rank_share((int64_t)runnable.size(), rank, comm.world).first);
    for (size_t i = 0; i < runnable.size(); i++) gens[runnable[i]] = runnable_gens[i];
  }
  for (size_t r : runnable) *tokens_out += gens[r].num_tokens;
  return gens;
}

}  // namespace

EvalSetResult evaluate_set(GPT& model, const Tokenizer& tok, const std::string& set_name,
                           const std::vector<EvalProblem>& problems, const EvalConfig& cfg,
                           std::vector<EvalGeneration>* generations, const Comm* comm) {
  static const Comm single_process;
  const Comm& ranks = comm ? *comm : single_process;
  EvalSetResult res;
  res.set = set_name;
  res.problems = (int)problems.size();
  if (problems.empty()) return res;
  const int64_t generations_asked = (int64_t)problems.size() * ((cfg.greedy ? 1 : 0) + (int64_t)cfg.n_samples);
  if (generations_asked > kMaxEvalGenerations)
    fail("eval set '", set_name, "': ", problems.size(), " problems x ", (cfg.greedy ? 1 : 0) + cfg.n_samples,
         " generations each is ", generations_asked, ", more than ", kMaxEvalGenerations,
         " (every generation is kept in memory and written out); lower count or n_samples");
  double t0 = now_seconds();
  std::vector<std::vector<int>> prompt_ids;
  int longest = 1;
  for (const EvalProblem& p : problems) {
    prompt_ids.push_back(eval_prompt_tokens(tok, p.prompt));
    longest = std::max(longest, (int)prompt_ids.back().size());
  }
  const int context = model.cfg.context_length;
  const int max_len = std::max(2, std::min(context, longest + cfg.max_new_tokens));
  for (const auto& ids : prompt_ids) res.too_long += (int)ids.size() >= max_len;

  SamplingParams params;
  params.max_new_tokens = cfg.max_new_tokens;
  params.stop_strings = cfg.stop_strings;
  Rng rng((uint64_t)cfg.seed);
  std::vector<EvalGeneration> all;
  if (cfg.greedy) {
    std::vector<Request> req;
    for (int i = 0; i < res.problems; i++) req.push_back({i, -1});
    params.temperature = 0.0f;
    auto gens = generate_and_grade(model, tok, set_name, problems, prompt_ids, req, params,
                                   cfg.batch_size, max_len, rng, &res.generated_tokens, ranks);
    int correct = 0;
    for (const auto& g : gens) {
      correct += g.correct;
      StyleStats& s = res.greedy_styles[g.label.empty() ? "text" : g.label];
      s.count++;
      s.correct += g.correct;
    }
    res.pass1_greedy = (double)correct / res.problems;
    all.insert(all.end(), gens.begin(), gens.end());
  }
  if (cfg.n_samples > 0) {
    std::vector<Request> req;
    for (int i = 0; i < res.problems; i++)
      for (int s = 0; s < cfg.n_samples; s++) req.push_back({i, s});
    params.temperature = cfg.temperature;
    params.top_k = cfg.top_k;
    params.top_p = cfg.top_p;
    auto gens = generate_and_grade(model, tok, set_name, problems, prompt_ids, req, params,
                                   cfg.batch_size, max_len, rng, &res.generated_tokens, ranks);
    int64_t correct = 0;
    for (int k : cfg.k) res.pass_at[k] = res.maj_at[k] = 0.0;
    for (int i = 0; i < res.problems; i++) {
      std::vector<std::string> answers;
      std::vector<bool> ok;
      int c = 0;
      for (int s = 0; s < cfg.n_samples; s++) {
        const EvalGeneration& g = gens[(size_t)i * cfg.n_samples + s];
        answers.push_back(g.answer);
        ok.push_back(g.correct);
        c += g.correct;
        StyleStats& st = res.sample_styles[g.label.empty() ? "text" : g.label];
        st.count++;
        st.correct += g.correct;
      }
      correct += c;
      for (int k : cfg.k) {
        res.pass_at[k] += pass_at_k(cfg.n_samples, c, k);
        std::vector<std::string> first_answers(answers.begin(), answers.begin() + k);
        std::vector<bool> first_ok(ok.begin(), ok.begin() + k);
        res.maj_at[k] += majority_correct(first_answers, first_ok);
      }
    }
    for (int k : cfg.k) {
      res.pass_at[k] /= res.problems;
      res.maj_at[k] /= res.problems;
    }
    res.sample_accuracy = (double)correct / ((double)res.problems * cfg.n_samples);
    all.insert(all.end(), gens.begin(), gens.end());
  }
  int64_t tokens = 0;
  for (const auto& g : all) tokens += g.num_tokens;
  res.mean_completion_tokens = all.empty() ? 0.0 : (double)tokens / (double)all.size();
  res.seconds = now_seconds() - t0;
  if (generations) generations->insert(generations->end(), all.begin(), all.end());
  return res;
}

}  // namespace chamber
