// Helpers shared by the RL files (not part of the RL API in train/rl.h).
#pragma once
#include <string>
#include <vector>

#include "train/eval.h"   // encode_prompt
#include "train/rl.h"

namespace chamber {

// Rollouts packed for one forward: row b holds tokens[0..len-2] of its sequence, padded with
// token 0; targets are the next tokens at response positions and -1 elsewhere. Response token k
// of a sequence (tokens[prompt_len + k]) is predicted at position prompt_len - 1 + k.
struct PackedBatch {
  int B = 0, T = 0;
  std::vector<int> inputs, targets;
  size_t position(int b, int prompt_len, int k) const { return (size_t)b * T + prompt_len - 1 + k; }
};
PackedBatch pack_rollouts(const std::vector<Rollout>& rollouts, const int* idx, int n);   // rl_score.cpp

// Largest |trainer log-prob - sampler log-prob| over the scored tokens (a consistency check
// between the KV-cache sampler and the full forward; should be float rounding).
double sampler_logprob_gap(const std::vector<Rollout>& rollouts);   // rl_score.cpp


// Overwrites the policy with the reference's weights and clears AdamW state (EI restarts).
void rl_reset_policy_to_reference(RLSession& s);   // rl_update.cpp

}  // namespace chamber
