// Scoring rollouts by full forward passes: the per-token log-probs of a model (the current policy
// for PPO's "old" log-probs, the frozen reference for the KL), the entropy and the values.
// Sequences of a batch have different lengths; they are packed into one (B, T) forward with
// padding positions carrying target -1 (no loss, no gradient).
#include <algorithm>
#include <cmath>

#include "train/rl.h"
#include "train/rl_internal.h"

namespace chamber {

PackedBatch pack_rollouts(const std::vector<Rollout>& rollouts, const int* idx, int n) {
  PackedBatch p;
  p.B = n;
  p.T = 1;
  for (int b = 0; b < n; b++) p.T = std::max(p.T, (int)rollouts[idx[b]].tokens.size() - 1);
  p.inputs.assign((size_t)p.B * p.T, 0);
  p.targets.assign((size_t)p.B * p.T, -1);
  for (int b = 0; b < n; b++) {
    const Rollout& r = rollouts[idx[b]];
    for (int j = 0; j + 1 < (int)r.tokens.size(); j++) {
      p.inputs[(size_t)b * p.T + j] = r.tokens[j];
      if (j + 1 >= r.prompt_len) p.targets[(size_t)b * p.T + j] = r.tokens[j + 1];
    }
  }
  return p;
}

void rl_score(RLSession& s, GPT& model, std::vector<Rollout>& rollouts, ScoreInto into,
              bool want_entropy, bool want_values) {
  const double t_start = now_seconds();
  NamedRange range(*model.ops, "rl score");
  const int n = (int)rollouts.size(), mb = std::min(s.cfg.micro_batch, model.max_B);
  std::vector<int> idx(n);
  for (int i = 0; i < n; i++) idx[i] = i;
  std::vector<float> losses, entropy, values;
  for (int start = 0; start < n; start += mb) {
    int count = std::min(mb, n - start);
    PackedBatch p = pack_rollouts(rollouts, idx.data() + start, count);
    gpt_forward(model, p.inputs.data(), p.B, p.T);
    if (into != ScoreInto::values_only) gpt_classifier(model, p.targets.data(), nullptr, false);
    losses.resize(p.inputs.size());
    gpt_copy_losses(model, losses.data());
    if (want_entropy) {
      entropy.resize(p.inputs.size());
      gpt_copy_entropy(model, entropy.data());
    }
    if (want_values) {
      values.resize(p.inputs.size());
      gpt_copy_values(model, values.data());
    }
    for (int b = 0; b < count; b++) {
      Rollout& r = rollouts[start + b];
      const int len = r.response_len();
      std::vector<float> ignored;
      std::vector<float>& lp = into == ScoreInto::old_logprobs   ? r.old_logprobs
                               : into == ScoreInto::ref_logprobs ? r.ref_logprobs
                                                                 : ignored;
      lp.resize(len);
      if (want_entropy) r.entropy.resize(len);
      if (want_values) r.values.resize(len);
      for (int k = 0; k < len; k++) {
        size_t pos = p.position(b, r.prompt_len, k);
        lp[k] = -losses[pos];
        if (want_entropy) r.entropy[k] = entropy[pos];
        if (want_values) r.values[k] = values[pos];
      }
    }
  }
  s.score_s += now_seconds() - t_start;
}

double sampler_logprob_gap(const std::vector<Rollout>& rollouts) {
  double worst = 0;
  for (const Rollout& r : rollouts)
    for (size_t k = 0; k < r.old_logprobs.size() && k < r.sampler_logprobs.size(); k++)
      worst = std::max(worst, (double)std::fabs(r.old_logprobs[k] - r.sampler_logprobs[k]));
  return worst;
}

}  // namespace chamber
