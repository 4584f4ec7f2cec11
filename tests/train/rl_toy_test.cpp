// RL end to end on the CPU, small enough for CI:
//   - the PPO update's gradient (clipped policy loss + k3 KL + clipped value loss, through the
//     classifier's token weights and the value head) against finite differences of the same loss
//     evaluated by forward passes, with shared and with separate critic;
//   - a toy task for each algorithm: a tiny GPT is pretrained in the test to answer "number:" with
//     a uniformly random digit; RL rewards the completion that states 7 (and then stops). Reward
//     starts near 0.1 and must end above 0.9 within 100 steps.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/backend.h"
#include "tests/test_util.h"
#include "train/rl.h"
#include "train/rl_losses.h"

namespace chamber {
namespace {

// ---- the PPO update's gradient against finite differences ----

ModelConfig fd_model_config() {
  return model_config_of(11, 1, 2, 8, 12);
}

std::vector<Rollout> fd_rollouts() {
  Rng rng(5);
  std::vector<Rollout> rs(3);
  int lens[3] = {4, 7, 2}, plens[3] = {3, 2, 5};
  for (int i = 0; i < 3; i++) {
    for (int j = 0; j < plens[i] + lens[i]; j++) rs[i].tokens.push_back((int)rng.below(11));
    rs[i].prompt_len = plens[i];
    rs[i].advantages.resize(lens[i]);
    rs[i].returns.resize(lens[i]);
    rs[i].values.resize(lens[i]);
    for (int k = 0; k < lens[i]; k++) {
      rs[i].advantages[k] = 2 * rng.uniform() - 1;
      rs[i].returns[k] = 2 * rng.uniform() - 1;
      rs[i].values[k] = 0.3f * (2 * rng.uniform() - 1);   // "old" values, current ones are 0-ish
    }
  }
  return rs;
}

// The loss rl_policy_update differentiates (token-mean aggregation, no entropy bonus).
double fd_loss(RLSession& s, std::vector<Rollout> rs) {
  std::vector<Rollout> cur = rs;
  rl_score(s, *s.policy, cur, ScoreInto::old_logprobs, false, s.critic == nullptr);
  if (s.critic) rl_score(s, *s.critic, cur, ScoreInto::values_only, false, true);
  double total = 0, tokens = 0;
  for (size_t i = 0; i < rs.size(); i++) {
    for (int k = 0; k < rs[i].response_len(); k++) {
      float logp = cur[i].old_logprobs[k];
      total += ppo_policy_loss(logp, rs[i].old_logprobs[k], rs[i].advantages[k], s.cfg.clip).loss;
      total += s.cfg.kl_coef * kl_k3(logp, rs[i].ref_logprobs[k]);
      total += s.cfg.vf_coef * ppo_value_loss(cur[i].values[k], rs[i].values[k], rs[i].returns[k], s.cfg.value_clip).loss;
      tokens += 1;
    }
  }
  return total / tokens;
}

void check_ppo_gradient(bool separate_critic) {
  const Ops& ops = select_backend("cpu-ref");
  ModelConfig mc = fd_model_config();
  GPT policy, reference, critic;
  gpt_create(policy, mc, ops, 4, 12, true);
  gpt_create(reference, mc, ops, 4, 12, false);
  gpt_init_parameters(policy, 1);
  gpt_init_parameters(reference, 2);
  if (separate_critic) {
    gpt_create(critic, mc, ops, 4, 12, true);
    gpt_init_parameters(critic, 3);
  }
  RLSession s;
  s.cfg.algorithm = "ppo";
  s.cfg.lr = 0.0f;            // the step must not move the weights: we read the gradient after it
  s.cfg.critic_lr = 0.0f;
  s.cfg.weight_decay = 0.0f;
  s.cfg.grad_clip = 0.0f;
  s.cfg.kl_coef = 0.3f;
  s.cfg.kl_mode = "loss_k3";
  s.cfg.micro_batch = 2;      // three sequences: gradients accumulate over two micro-batches
  s.cfg.clip = 0.2f;
  s.cfg.value_clip = 0.2f;
  s.cfg.vf_coef = 0.7f;
  s.policy = &policy;
  s.reference = &reference;
  s.critic = separate_critic ? &critic : nullptr;
  std::vector<Rollout> rs = fd_rollouts();
  rl_score(s, reference, rs, ScoreInto::ref_logprobs, false, false);
  rl_score(s, policy, rs, ScoreInto::old_logprobs, false, false);
  Rng rng(9);
  for (Rollout& r : rs)   // move the "old" policy away so some ratios clip and some do not
    for (float& lp : r.old_logprobs) lp += 0.4f * (rng.uniform() - 0.5f);
  nlohmann::json line;
  rl_policy_update(s, rs, 100, true, line);
  std::vector<float> grads((policy.grad_arena.bytes) / sizeof(float));
  ops.to_host(grads.data(), policy.grad_arena.base, policy.grad_arena.bytes);
  std::vector<float> critic_grads;
  if (separate_critic) {
    critic_grads.resize(critic.grad_arena.bytes / sizeof(float));
    ops.to_host(critic_grads.data(), critic.grad_arena.base, critic.grad_arena.bytes);
  }

  // Central differences on the parameters with the largest gradients of each model (float32
  // forward: a large step and a few-percent tolerance).
  auto check_model = [&](GPT& m, const std::vector<float>& g, const char* what) {
    std::vector<size_t> order(g.size());
    for (size_t i = 0; i < g.size(); i++) order[i] = i;
    std::partial_sort(order.begin(), order.begin() + 12, order.end(),
                      [&](size_t a, size_t b) { return std::fabs(g[a]) > std::fabs(g[b]); });
    float* params = (float*)m.param_arena.base;
    for (int j = 0; j < 12; j++) {
      size_t i = order[j];
      float saved = params[i];
      const double h = 2e-3;
      params[i] = saved + (float)h;
      double up = fd_loss(s, rs);
      params[i] = saved - (float)h;
      double down = fd_loss(s, rs);
      params[i] = saved;
      double fd = (up - down) / (2 * h);
      EXPECT_NEAR(g[i], fd, 0.02 * std::fabs(fd) + 5e-4) << what << " parameter " << i;
    }
  };
  check_model(policy, grads, "policy");
  if (separate_critic) check_model(critic, critic_grads, "critic");
  EXPECT_GT(line["clip_fraction"].get<double>(), 0.0);
  if (separate_critic) gpt_destroy(critic);
  gpt_destroy(reference);
  gpt_destroy(policy);
}

TEST(RlUpdate, PpoGradientMatchesFiniteDifferencesSharedValueHead) { check_ppo_gradient(false); }
TEST(RlUpdate, PpoGradientMatchesFiniteDifferencesSeparateCritic) { check_ppo_gradient(true); }

// ---- toy task: say 7 ----

struct Toy {
  Tokenizer tok;
  GPT policy, reference, critic;
  std::vector<int> prompt;   // eot + "number:\n\n"
};

// A tiny model that answers "number:\n\n" with a uniformly random digit and then eot.
void make_toy(Toy& t, bool with_critic) {
  std::vector<std::string> docs;
  for (int d = 0; d < 10; d++) docs.push_back("number:\n\n" + std::to_string(d));
  t.tok = tokenizer_train(docs, 270);
  ModelConfig mc = model_config_of(t.tok.vocab_size(), 2, 2, 32, 16);
  const Ops& ops = select_backend("cpu");
  gpt_create(t.policy, mc, ops, 32, 16, true);
  gpt_init_parameters(t.policy, 7);
  t.prompt = {t.tok.eot_id};
  for (int id : tokenizer_encode(t.tok, "number:\n\n")) t.prompt.push_back(id);
  // pretraining: every row is eot + prompt + random digit + eot, all positions predicted
  Rng rng(3);
  const int B = 32, T = (int)t.prompt.size() + 1;
  std::vector<int> inputs(B * T), targets(B * T);
  std::vector<float> w(B * T, 1.0f / (B * T));
  for (int step = 0; step < 150; step++) {
    for (int b = 0; b < B; b++) {
      std::vector<int> row = t.prompt;
      row.push_back(tokenizer_encode(t.tok, std::to_string(rng.below(10)))[0]);
      row.push_back(t.tok.eot_id);
      for (int j = 0; j < T; j++) {
        inputs[b * T + j] = row[j];
        targets[b * T + j] = row[j + 1];
      }
    }
    gpt_zero_grad(t.policy);
    gpt_forward(t.policy, inputs.data(), B, T);
    gpt_classifier(t.policy, targets.data(), w.data(), true);
    gpt_backward(t.policy);
    gpt_adamw_step(t.policy, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.0f, 1.0f);
  }
  gpt_create(t.reference, mc, ops, 32, 16, false);
  std::vector<float> host = gpt_parameters_to_host(t.policy);
  gpt_parameters_from_host(t.reference, host);
  if (with_critic) {
    gpt_create(t.critic, mc, ops, 32, 16, true);
    gpt_parameters_from_host(t.critic, host);
  }
  t.policy.adam_step = 0;   // RL starts a fresh optimiser
  ops.zero(t.policy.m_arena.base, t.policy.m_arena.bytes);
  ops.zero(t.policy.v_arena.base, t.policy.v_arena.bytes);
}

RLTask say_seven_task(const Toy& t) {
  RLTask task;
  std::vector<int> prompt = t.prompt;
  task.prompts = [prompt](int64_t, int n) { return std::vector<RLPrompt>(n, RLPrompt{prompt, "7"}); };
  task.reward = [](const RLPrompt& p, const Completion& c) {
    RLReward r;
    r.correct = c.text == p.gold && c.finish_reason == "eot";
    r.reward = r.correct ? 1.0f : 0.0f;
    r.label = "digit";
    return r;
  };
  return task;
}

double mean_reward(RLSession& s, float temperature) {
  SamplingParams p = rl_sampling_params(s.cfg, false);
  p.temperature = temperature;
  std::vector<Rollout> rs = rl_generate(s, 0, 16, 4, p);
  double total = 0;
  for (const Rollout& r : rs) total += r.reward.reward;
  return total / rs.size();
}

// Runs `algorithm` on the toy until the step reward is high; returns the final sampled reward.
void run_toy(RLConfig cfg, bool with_critic) {
  Toy t;
  make_toy(t, with_critic);
  cfg.micro_batch = 32;
  cfg.rollout_batch = 64;
  cfg.max_new_tokens = 3;
  cfg.eval_problems = 0;
  rl_config_finalize(cfg);
  RLSession s;
  s.cfg = cfg;
  s.policy = &t.policy;
  s.reference = &t.reference;
  s.critic = with_critic ? &t.critic : nullptr;
  s.tok = &t.tok;
  s.task = say_seven_task(t);
  s.rng.seed_with(11);
  rl_session_begin(s);
  const float temperature = cfg.algorithm == "ei" ? cfg.ei_temperature : cfg.temperature;
  double before = mean_reward(s, temperature);
  EXPECT_LT(before, 0.4) << "the pretrained toy should rarely say 7 unprompted";
  int steps = 0;
  double last = 0;
  for (int step = 0; step < 100; step++) {
    nlohmann::json line = rl_step(s, step);
    steps = step + 1;
    last = line["reward"].get<double>();
    if (last >= 0.97 && step >= 5) break;
  }
  double after = mean_reward(s, temperature);
  std::printf("%s: reward %.3f -> %.3f after %d steps (last step reward %.3f)\n", cfg.algorithm.c_str(),
              before, after, steps, last);
  EXPECT_GT(after, 0.9);
  rl_session_end(s);
  if (with_critic) gpt_destroy(t.critic);
  gpt_destroy(t.reference);
  gpt_destroy(t.policy);
}

// The toy runs' shared settings: 4 prompts x 8 samples, lr 1e-2 after a 5-step warm-up,
// sampling at temperature 1 (expert iteration samples with its own ei_temperature).
RLConfig toy_config(const std::string& algorithm) {
  RLConfig c;
  c.algorithm = algorithm;
  c.prompts_per_step = 4;
  c.samples_per_prompt = 8;
  if (algorithm != "ei") c.temperature = 1.0f;
  c.lr = 1e-2f;
  c.warmup_steps = 5;
  return c;
}

TEST(RlToy, GrpoLearnsToSaySeven) {
  RLConfig c = toy_config("grpo");
  c.kl_coef = 0.001f;
  run_toy(c, false);
}

TEST(RlToy, PpoLearnsToSaySeven) {
  RLConfig c = toy_config("ppo");
  c.critic_lr = 1e-2f;
  c.epochs = 2;
  c.minibatches = 2;
  c.entropy_coef = 0.001f;
  run_toy(c, false);
}

TEST(RlToy, PpoWithSeparateCriticLearnsToSaySeven) {
  RLConfig c = toy_config("ppo");
  c.separate_critic = true;
  c.critic_lr = 1e-2f;
  run_toy(c, true);
}

TEST(RlToy, ExpertIterationLearnsToSaySeven) {
  RLConfig c = toy_config("ei");
  c.ei_temperature = 1.0f;
  c.ei_top_p = 1.0f;
  c.warmup_steps = 2;
  c.ei_epochs = 2;
  c.ei_batch = 8;
  run_toy(c, false);
}

TEST(RlConfig, LogSpacedCheckpointSteps) {
  std::vector<int> got;
  for (int s = 1; s <= 20; s++)
    if (rl_is_checkpoint_step(s, 20, 0)) got.push_back(s);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 4, 8, 16, 20}));
}

TEST(RlConfig, ParsesAndRejectsBadFields) {
  RLConfig c = parse_rl_config(YAML::Load("init: runs/x\nalgorithm: ppo\n"), "a.yaml");
  EXPECT_EQ(c.kl_mode, "reward_k1");
  EXPECT_EQ(c.name, "a");
  RLConfig g = parse_rl_config(YAML::Load("init: runs/x\n"), "b.yaml");
  EXPECT_EQ(g.kl_mode, "loss_k3");
  RLConfig again = parse_rl_config(YAML::Load(rl_config_yaml(c)), "c.yaml");
  EXPECT_EQ(rl_config_yaml(again), rl_config_yaml(c));
  EXPECT_THROW(parse_rl_config(YAML::Load("algorithm: ppo\n"), "d.yaml"), Error);                 // no init
  EXPECT_THROW(parse_rl_config(YAML::Load("init: x\nalgorithm: dpo\n"), "d.yaml"), Error);
  EXPECT_THROW(parse_rl_config(YAML::Load("init: x\npolicy: {clipp: 0.2}\n"), "d.yaml"), Error);  // typo
  EXPECT_THROW(parse_rl_config(YAML::Load("init: x\npolicy: {kl_mode: k2}\n"), "d.yaml"), Error);
  EXPECT_THROW(parse_rl_config(YAML::Load("init: x\nei: {restart: maybe}\n"), "d.yaml"), Error);
  EXPECT_THROW(parse_rl_config(YAML::Load("init: x\nrollout: {samples_per_prompt: 1}\n"), "d.yaml"), Error);
  EXPECT_THROW(parse_rl_config(YAML::Load("init: x\nrollout: {max_new_tokens: 0}\n"), "d.yaml"), Error);
}

}  // namespace
}  // namespace chamber
