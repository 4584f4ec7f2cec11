// Batched generation with a KV cache; the API and its guarantees are in sampler.h.
//
// The batch steps in lockstep: at step s every active row feeds the token at position s and the
// cached forward (engine/model_decode.cpp) returns the logits for position s+1. A row whose
// prompt is longer than s is still reading its prompt (no logits needed); the others sample.
// Rows are kept ordered by prompt length, so the sampling rows are always a prefix of the batch
// and the LM head (the largest matmul) runs on that prefix only. A finished row simply leaves the
// list of active rows: its cache slot stays where it is (rows name their slot), so dropping it
// costs nothing and later steps cost only the rows still running.
// Before the lockstep, positions 0..min_len-2 (shared by every prompt) are prefilled in blocks.
// Draws run on the backend (the sample_tokens op: greedy, temperature, top-k and top-p), so a GPU
// returns only ids and log-probabilities each step; only a backend without the op copies the
// logits to the host and draws there (sampler_draw). On a backend with graph ops each decode step
// (forward and draw) is one CUDA graph launch (decode_and_draw).
#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/model_decode.h"
#include "kernels/sample.h"

namespace chamber {

void sampler_create(Sampler& s, const GPT& model, int max_batch, int max_len) {
  s.cache = new KVCache();
  try {
    kv_cache_create(*s.cache, model, max_batch, max_len);
  } catch (...) {
    delete s.cache;
    s.cache = nullptr;
    throw;
  }
  s.max_batch = max_batch;
  s.max_len = max_len;
}

void sampler_destroy(Sampler& s) {
  if (s.cache) kv_cache_destroy(*s.cache);
  delete s.cache;
  s.cache = nullptr;
}

double sampler_logprob(const float* logits, int n, int id) { return logprob_row_ref(logits, n, id); }

// The rule itself is sample_row_ref's (kernels/sample.h), the one statement that every backend's
// sample_tokens op reproduces; a row takes one uniform from its generator unless greedy.
int sampler_draw(const float* logits, int n, const SamplingParams& p, Rng& rng) {
  const double uniform = p.temperature > 0.0f ? rng.uniform_double() : 0.0;
  return sample_row_ref(logits, n, p.temperature, p.top_k, p.top_p, uniform);
}

namespace {

struct Row {
  const std::vector<int>* prompt = nullptr;
  int slot = 0;
  Rng rng;
  Completion out;
  bool done = false;
};

// Appends a sampled token's text and checks the stop strings near the end. True if one matched.
bool append_and_check_stop(Row& row, const std::vector<std::string>& token_bytes, int id,
                           const SamplingParams& p, size_t longest_stop) {
  size_t before = row.out.text.size();
  if (id < (int)token_bytes.size()) row.out.text += token_bytes[id];
  size_t from = before >= longest_stop ? before - longest_stop + 1 : 0;
  size_t best = std::string::npos, best_end = 0;
  for (const std::string& stop : p.stop_strings) {
    if (stop.empty()) continue;
    size_t at = row.out.text.find(stop, from);
    if (at != std::string::npos && at < best) { best = at; best_end = at + stop.size(); }
  }
  if (best == std::string::npos) return false;
  row.out.text.resize(best_end);
  return true;
}

// One decode step's device work: the cached forward of n rows and the draw of the first `ready`
// (all n when graphs are on, see the caller).
// Where the backend has graph ops it is a CUDA graph per shape and sampling rule (KVCache::graphs,
// gpt_run_captured): a decode step of a small model is a few hundred short kernels, so one graph
// launch instead of as many launches is most of its time. The inputs it reads (tokens, slots,
// positions, the position rows, uniforms) were uploaded to fixed buffers first.
constexpr size_t kMaxDecodeGraphs = 1024;  // shapes beyond this many run op by op

bool decode_graphs(const GPT& model) {
  return supports(*model.ops, OpId::capture_begin) && model.use_graphs;
}

void decode_and_draw(GPT& model, KVCache& cache, int n, int ready, int draw_vocab,
                     const SamplingParams& p) {
  const Ops& ops = *model.ops;
  const int V = model.cfg.vocab_size, Vp = model.cfg.padded_vocab;
  auto work = [&] {
    gpt_decode_ops(model, cache, n, 1, ready);
    ops.sample_tokens(cache.sampled_ids, cache.sampled_logprobs, cache.logits, cache.uniforms,
                      ready, draw_vocab, V, Vp, p.temperature, p.top_k, p.top_p);
  };
  if (!decode_graphs(model)) return work();
  auto it = std::find_if(cache.graphs.begin(), cache.graphs.end(), [&](const KVCache::DecodeGraph& g) {
    return g.N == n && g.logit_rows == ready && g.n_draw == draw_vocab && g.top_k == p.top_k &&
           g.temperature == p.temperature && g.top_p == p.top_p;
  });
  if (it == cache.graphs.end()) {
    if (cache.graphs.size() >= kMaxDecodeGraphs) return work();
    it = cache.graphs.insert(it, {n, ready, draw_vocab, p.top_k, p.temperature, p.top_p, {}});
  }
  gpt_run_captured(model, it->work, work);
}

}  // namespace

std::vector<Completion> sampler_generate(Sampler& s, GPT& model, const std::vector<std::string>& token_bytes,
                                         int eot_id, const std::vector<std::vector<int>>& prompts,
                                         const SamplingParams& params, Rng& rng) {
  if (!s.cache) fail("sampler_generate: call sampler_create first");
  KVCache& cache = *s.cache;
  const int B = (int)prompts.size();
  if (B > s.max_batch) fail("sampler: ", B, " prompts exceed the sampler's max_batch ", s.max_batch);
  const int V = model.cfg.vocab_size, Vp = model.cfg.padded_vocab;
  const int draw_vocab = std::min(V, token_bytes.empty() ? V : (int)token_bytes.size());
  std::vector<Row> rows(B);
  int min_len = s.max_len;
  for (int i = 0; i < B; i++) {
    int len = (int)prompts[i].size();
    if (len < 1 || len >= s.max_len)
      fail("sampler: prompt ", i, " has ", len, " tokens; it needs 1..", s.max_len - 1,
           " (max_len ", s.max_len, " leaves room for the completion)");
    rows[i].prompt = &prompts[i];
    rows[i].slot = i;
    rows[i].rng.seed_with(rng.next_u64());
    rows[i].out.finish_reason = "length";
    min_len = std::min(min_len, len);
  }
  std::vector<Completion> result(B);
  if (B == 0 || params.max_new_tokens <= 0) {
    for (int i = 0; i < B; i++) result[i].finish_reason = "length";
    return result;
  }
  size_t longest_stop = 1;
  for (const auto& stop : params.stop_strings) longest_stop = std::max(longest_stop, stop.size());

  // Active rows, ordered by prompt length (stable), so the rows that sample are a prefix.
  std::vector<int> active(B);
  std::iota(active.begin(), active.end(), 0);
  std::stable_sort(active.begin(), active.end(),
                   [&](int a, int b) { return prompts[a].size() < prompts[b].size(); });

  int step = 0;  // position fed in the next lockstep call
  if (s.batched_prefill && min_len >= 2) {
    const int Tn = min_len - 1;
    const int chunk = std::max(1, std::min(B, cache.scratch_rows / Tn));
    std::vector<int> tokens, slots;
    for (int r0 = 0; r0 < B; r0 += chunk) {
      int n = std::min(chunk, B - r0);
      tokens.assign((size_t)n * Tn, 0);
      slots.assign(n, 0);
      for (int r = 0; r < n; r++) {
        slots[r] = rows[r0 + r].slot;
        std::copy(prompts[r0 + r].begin(), prompts[r0 + r].begin() + Tn, tokens.begin() + (size_t)r * Tn);
      }
      gpt_decode_forward(model, cache, tokens.data(), slots.data(), n, Tn, 0, 0);
    }
    step = Tn;
  }

  std::vector<int> feed(B);  // token each row feeds at the current step
  for (int i = 0; i < B; i++) feed[i] = prompts[i][step];
  std::vector<int> tokens, slots, drawn;
  std::vector<float> drawn_lp, logits;
  std::vector<double> uniforms;
  while (!active.empty()) {
    const int n = (int)active.size();
    int ready = 0;  // rows whose prompt ends at this step or earlier: they sample
    while (ready < n && (int)prompts[active[ready]].size() - 1 <= step) ready++;
    tokens.resize(n);
    slots.resize(n);
    for (int r = 0; r < n; r++) {
      tokens[r] = feed[active[r]];
      slots[r] = rows[active[r]].slot;
    }
    drawn.resize(ready);
    drawn_lp.resize(ready);
    if (ready > 0 && supports(*model.ops, OpId::sample_tokens)) {
      // Draw where the logits are: only the tokens and uniforms go in and the ids and log-probs
      // come out. Each row takes one uniform from its own generator, as sampler_draw would.
      // With graphs every active row gets logits and a draw, so a step's shape is its row count
      // alone and the prompt-reading steps (each with another count of sampling rows) share one
      // graph; the rows still reading their prompt take no uniform from their generator and their
      // draws are ignored. Op by op, only the sampling rows are computed.
      const int drawn_rows = decode_graphs(model) ? n : ready;
      uniforms.assign(drawn_rows, 0.0);
      for (int r = 0; r < ready; r++)
        uniforms[r] = params.temperature > 0.0f ? rows[active[r]].rng.uniform_double() : 0.0;
      gpt_decode_inputs(model, cache, tokens.data(), slots.data(), n, 1, step, drawn_rows);
      model.ops->from_host_async(cache.uniforms, uniforms.data(),
                                 (size_t)drawn_rows * sizeof(double));
      decode_and_draw(model, cache, n, drawn_rows, draw_vocab, params);
      model.ops->to_host(drawn.data(), cache.sampled_ids, (size_t)ready * sizeof(int));
      model.ops->to_host(drawn_lp.data(), cache.sampled_logprobs, (size_t)ready * sizeof(float));
    } else {
      gpt_decode_forward(model, cache, tokens.data(), slots.data(), n, 1, step, ready);
    }
    if (ready > 0 && !supports(*model.ops, OpId::sample_tokens)) {
      // A backend without the op: draw on the host.
      logits.resize((size_t)ready * Vp);
      compute_to_host(*model.ops, logits.data(), cache.logits, logits.size());
#pragma omp parallel for schedule(static) if (ready >= 8)
      for (int r = 0; r < ready; r++) {
        const float* row_logits = logits.data() + (size_t)r * Vp;
        drawn[r] = sampler_draw(row_logits, draw_vocab, params, rows[active[r]].rng);
        drawn_lp[r] = (float)sampler_logprob(row_logits, V, drawn[r]);
      }
    }
    for (int r = 0; r < n; r++) {
      Row& row = rows[active[r]];
      if (r >= ready) {  // still reading the prompt
        feed[active[r]] = (*row.prompt)[step + 1];
        continue;
      }
      int id = drawn[r];
      if (params.stop_at_eot && id == eot_id) {
        row.out.finish_reason = "eot";
        row.out.eot_logprob = (float)drawn_lp[r];
        row.done = true;
        continue;
      }
      row.out.tokens.push_back(id);
      row.out.logprobs.push_back((float)drawn_lp[r]);
      feed[active[r]] = id;
      if (append_and_check_stop(row, token_bytes, id, params, longest_stop)) {
        row.out.finish_reason = "stop";
        row.done = true;
      } else if ((int)row.out.tokens.size() >= params.max_new_tokens || step + 2 >= s.max_len) {
        row.done = true;  // "length": the budget or the cache (prompt + completion = max_len) is full
      }
    }
    active.erase(std::remove_if(active.begin(), active.end(), [&](int i) { return rows[i].done; }),
                 active.end());
    step++;
  }
  for (int i = 0; i < B; i++) result[i] = std::move(rows[i].out);
  return result;
}

}  // namespace chamber
