// Batched generation with a KV cache: prompt prefill, then incremental decode, one token per
// sequence per step, sequences finishing at different lengths. The sampler uses the model's own
// parameters (no second copy, no weight sync: RL updates are seen by the next rollout at once).
//
// Log-probabilities: for every sampled token the sampler returns log p(token | prefix) under the
// model's untempered distribution (softmax of the logits), the same number the trainer gets from
// a full forward pass over prompt + completion (gpt_forward + gpt_classifier), within float
// rounding. Temperature, top-k and top-p only change which token is drawn.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/model.h"
#include "util/util.h"

namespace chamber {

struct SamplingParams {
  float temperature = 1.0f;        // <= 0 means greedy
  int top_k = 0;                   // 0 = off
  float top_p = 1.0f;              // nucleus; 1 = off
  int max_new_tokens = 256;
  bool stop_at_eot = true;         // <|endoftext|> ends a sequence (not included in tokens)
  std::vector<std::string> stop_strings;  // the completion is cut after the first match
};

struct Completion {
  std::vector<int> tokens;         // generated ids (without prompt; without the final eot)
  std::vector<float> logprobs;     // one per generated token
  std::string text;                // decoded completion, cut at a stop string if one matched
  std::string finish_reason;       // "eot" | "stop" | "length"
  float eot_logprob = 0.0f;        // log p(eot | prompt + tokens) when finish_reason == "eot"
                                   // (for a trainer that also scores the end of the sequence)
};

struct KVCache;                     // opaque: per-layer K and V for up to (max_batch, max_len)

struct Sampler {
  KVCache* cache = nullptr;
  int max_batch = 0, max_len = 0;
  // Prompts share positions 0..min_len-2 of the batch: with batched_prefill those go through the
  // cached forward as blocks of many tokens per row (big matmuls) instead of one token per step.
  bool batched_prefill = true;
};

// Plans the cache (and decode scratch) for up to max_batch sequences of max_len tokens
// (prompt + completion, <= context_length) on the model's backend.
void sampler_create(Sampler& s, const GPT& model, int max_batch, int max_len);
void sampler_destroy(Sampler& s);

// Generates one completion per prompt (prompts.size() <= max_batch). Deterministic given rng
// (each row draws from its own stream, seeded from rng in prompt order). Each prompt needs
// 1 <= length < max_len tokens; prompt + completion never exceeds max_len ("length" when cut).
// token_bytes[id] is each token's text and eot_id the end-of-text token (the tokenizer's, which
// the sampler needs no more of). Tokens are drawn among the tokenizer's ids (min(model vocab,
// token_bytes.size())); the logprob is
// normalised over the model's whole vocabulary, as the trainer's classifier does. A stop string
// may end inside a token: `text` is cut right after the match, `tokens` keep that whole token.
std::vector<Completion> sampler_generate(Sampler& s, GPT& model, const std::vector<std::string>& token_bytes,
                                         int eot_id, const std::vector<std::vector<int>>& prompts,
                                         const SamplingParams& params, Rng& rng);

// One draw from logits[0..n) (host): greedy (temperature <= 0: the first maximum), else from
// softmax(logits / temperature) restricted to the top_k highest logits and then to the nucleus:
// the fewest most-probable tokens whose probability reaches top_p (ties: lower id first).
int sampler_draw(const float* logits, int n, const SamplingParams& params, Rng& rng);
// log softmax(logits[0..n))[id], in double.
double sampler_logprob(const float* logits, int n, int id);

}  // namespace chamber
