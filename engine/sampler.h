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

#include "data/tokenizer.h"
#include "engine/model.h"
#include "engine/util.h"

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
};

struct KVCache;                     // opaque: per-layer K and V for up to (max_batch, max_len)

struct Sampler {
  KVCache* cache = nullptr;
  int max_batch = 0, max_len = 0;
};

// Plans the cache (and decode scratch) for up to max_batch sequences of max_len tokens
// (prompt + completion, <= context_length) on the model's backend.
void sampler_create(Sampler& s, const GPT& model, int max_batch, int max_len);
void sampler_destroy(Sampler& s);

// Generates one completion per prompt (prompts.size() <= max_batch). Deterministic given rng.
std::vector<Completion> sampler_generate(Sampler& s, GPT& model, const Tokenizer& tok,
                                         const std::vector<std::vector<int>>& prompts,
                                         const SamplingParams& params, Rng& rng);

}  // namespace chamber
