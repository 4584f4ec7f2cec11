// run_rl: one `chamber rl` run. Read it top to bottom: the starting checkpoint (`init`) is loaded
// into the policy (trained) and its weights copied into the frozen reference (the KL anchor, no
// training buffers) and, for PPO with separate_critic, the critic; then maybe resume, then each
// step is the algorithm's step (rl_ppo/rl_grpo/rl_ei.cpp), a metrics line, now and then a greedy
// evaluation and the sampling-free probes (rl_probes.h), and checkpoints. Checkpoints go to OUT/checkpoints at steps 1, 2, 4, 8, ... and the
// last (the critic's beside them in OUT/critic); --resume continues from the newest, with the RNG
// and the expert-iteration set restored, and metrics.jsonl trimmed to the steps before it. The run
// directory and resume plumbing are shared with pretraining (train/run_dir.h). Under mpirun every
// rank runs this loop on its share of each step's prompts (train/rl_data_parallel.cpp); the lead
// (rank 0) alone writes the run directory, the metrics, the checkpoints and the console.
#include <cstdio>

#include "engine/config.h"
#include "engine/backend.h"
#include "engine/checkpoint.h"
#include "engine/model_decode.h"
#include "train/loaded_model.h"
#include "train/metrics.h"
#include "train/rl.h"
#include "train/rl_probes.h"
#include "train/run_dir.h"

namespace chamber {

// The step as metrics.jsonl numbers it (0 is the first update), so the two can be read together.
static void print_line(const nlohmann::json& l, int steps) {
  auto num = [&](const char* k) { return l.contains(k) ? l[k].get<double>() : 0.0; };
  std::fprintf(stderr, "step %4d/%d | reward %.3f | len %.1f | kl %.4f | ent %.3f | clip %.3f",
               l["step"].get<int>(), steps, num("reward"), num("response_length"), num("kl"),
               num("entropy"), num("clip_fraction"));
  if (l.contains("reward_true")) std::fprintf(stderr, " | true reward %.3f", num("reward_true"));
  if (l.contains("explained_variance")) std::fprintf(stderr, " | ev %.3f", num("explained_variance"));
  if (l.contains("kept")) std::fprintf(stderr, " | kept %d", l["kept"].get<int>());
  for (const char* s : {"tinygsm", "omi1", "text"}) {
    std::string k = std::string("style_") + s;
    if (l.contains(k)) std::fprintf(stderr, " | %s %.2f", s, l[k].get<double>());
  }
  if (l.contains("eval_pass1")) std::fprintf(stderr, " | eval pass@1 %.3f", num("eval_pass1"));
  std::fprintf(stderr, " | %.1fs\n", num("step_s"));
}

bool rl_is_checkpoint_step(int step_done, int total_steps, int interval) {
  if (step_done == total_steps) return true;
  if (interval > 0 && step_done % interval == 0) return true;
  return step_done > 0 && (step_done & (step_done - 1)) == 0;   // 1, 2, 4, 8, ...
}

std::string run_rl(RLConfig cfg, const RLOptions& opt) {
  const Comm single_process;
  const Comm& comm = opt.comm ? *opt.comm : single_process;
  const bool lead = comm.rank == 0, quiet = opt.quiet || !lead;
  if (cfg.prompts_per_step < comm.world)
    fail(cfg.file, ": rollout.prompts_per_step ", cfg.prompts_per_step, " is smaller than the ", comm.world,
         " ranks; each rank samples at least one prompt's group (raise it, or start fewer ranks)");
  const std::string out_dir = lead ? open_run_dir(opt.out_dir, cfg.name, opt.resume, opt.overwrite)
                                   : run_dir_path(opt.out_dir, cfg.name);
  comm_barrier(comm);   // the lead has checked and prepared the directory
  const std::string ckpt_root = path_join(out_dir, "checkpoints");
  const std::string critic_root = path_join(out_dir, "critic");
  int threads = set_cpu_threads(cfg.threads > 0 ? cfg.threads : comm_default_threads(comm));
  const std::string device = resolve_device_name(cfg.device);
  const size_t compute_bytes = select_backend(device, cfg.dtype).compute_bytes;

  // ---- models: policy from the starting checkpoint; reference and critic copies of it ----
  const bool has_critic = cfg.algorithm == RLAlgorithm::ppo && cfg.separate_critic;
  {
    // All the run allocates on the device, planned before any of it is, so that a run that cannot
    // fit on the GPU says how much it needs rather than failing at one of the allocations.
    ModelConfig shape = checkpoint_model_config(checkpoint_resolve(cfg.init));
    const int T = shape.context_length;
    size_t trained = gpt_arena_sizes(shape, cfg.micro_batch, T, true, {}, compute_bytes).total();
    size_t frozen = gpt_arena_sizes(shape, cfg.micro_batch, T, false, {}, compute_bytes).total();
    size_t total = trained * (has_critic ? 2 : 1) + frozen +   // policy, critic; reference
                   kv_cache_bytes(shape, rl_sampler_rows(cfg), T, compute_bytes) +
                   device_scratch_bytes(device, cfg.micro_batch, T, shape.n_embd, shape.n_head,
                                        compute_bytes);
    check_device_memory(device, total,
                        "rl " + cfg.name + " (the policy, the reference model" +
                            (has_critic ? ", the critic" : "") + " and a KV cache of " +
                            std::to_string(rl_sampler_rows(cfg)) + " rows x " + std::to_string(T) +
                            " positions)",
                        "Lower rollout.rollout_batch (the KV cache rows) or rollout.micro_batch, "
                        "or start from a smaller model.");
  }
  LoadedModel base;
  load_model(base, cfg.init, device, cfg.micro_batch, 0, true, cfg.dtype);
  GPT& policy = base.model;
  if (opt.comm) comm_attach(*opt.comm, *policy.ops, device == "cuda");
  const int ctx = policy.cfg.context_length;
  std::vector<float> start_weights = gpt_parameters_to_host(policy);
  GPT reference;
  gpt_create(reference, policy.cfg, *policy.ops, cfg.micro_batch, ctx, false);
  gpt_parameters_from_host(reference, start_weights);
  GPT critic;
  if (has_critic) {
    gpt_create(critic, policy.cfg, *policy.ops, cfg.micro_batch, ctx, true);
    gpt_parameters_from_host(critic, start_weights);
  }
  start_weights.clear();
  const std::string tokenizer_path = path_join(base.dir, "tokenizer.json");
  const std::string config_yaml = rl_config_yaml(cfg);
  if (lead) write_file_atomic(path_join(out_dir, "config.yaml"), config_yaml);
  // Checkpoints also carry the model shape, so `chamber eval/sample/score` can open them.
  std::string checkpoint_yaml;
  {
    YAML::Node node = YAML::Load(config_yaml);
    node["model"] = model_config_yaml(policy.cfg);
    YAML::Emitter out;
    out << node;
    checkpoint_yaml = std::string(out.c_str()) + "\n";
  }

  RLSession s;
  s.cfg = cfg;
  s.policy = &policy;
  s.reference = &reference;
  s.critic = has_critic ? &critic : nullptr;
  s.tok = &base.tokenizer;
  s.comm = &comm;
  // forced_style forces the opening in the evaluation too, so eval reports the forced style.
  const std::string forced = cfg.control.kind == ControlKind::forced_style ? cfg.control.style : "";
  s.task = math_rl_task(cfg.split, cfg.prompt_seed, cfg.prompt_count, cfg.min_ops, cfg.max_ops, base.tokenizer, forced);
  if (cfg.eval_problems > 0) s.eval_task = math_rl_task(cfg.eval_split, cfg.eval_seed, 0, 0, 0, base.tokenizer, forced);
  s.rng.seed_with((uint64_t)cfg.seed);

  // ---- resume ----
  int start_step = 0;
  if (const std::string dir = resume_checkpoint(ckpt_root, opt.resume); !dir.empty()) {
    nlohmann::json state;
    start_step = load_resume_checkpoint(dir, policy, cfg.steps, state);
    read_state_fields(dir, [&] {
      rng_from_json(state.at("rng"), s.rng);
      if (state.contains("control_p")) s.control_p = state.at("control_p").get<double>();
      if (state.contains("ei_data"))
        for (const auto& item : state.at("ei_data")) {
          Rollout r;
          r.prompt_len = item.at("prompt_len").get<int>();
          r.tokens = item.at("tokens").get<std::vector<int>>();
          if (r.prompt_len < 1 || r.prompt_len >= (int)r.tokens.size() || (int)r.tokens.size() > ctx)
            throw std::runtime_error("ei_data entry");
          for (int id : r.tokens)
            if (id < 0 || id >= policy.cfg.vocab_size) throw std::runtime_error("ei_data token id");
          s.ei_seen.insert(r.tokens);
          s.ei_data.push_back(std::move(r));
        }
    });
    if (cfg.control.kind == ControlKind::random && cfg.control.p < 0 && s.control_p < 0)
      fail(dir, ": the checkpoint has no control_p, the random control's p measured at step 0; give it "
                "as control.p to resume");
    if (has_critic) {
      std::string cdir = path_join(critic_root, checkpoint_name(start_step));
      if (!dir_exists(cdir)) fail("--resume: the critic checkpoint ", cdir, " is missing");
      checkpoint_load_weights(cdir, critic);
      checkpoint_load_optimizer(cdir, critic);
    }
    if (!quiet) std::fprintf(stderr, "resuming from %s (step %d)\n", dir.c_str(), start_step);
  }
  rl_session_begin(s);
  if (!quiet && comm.world > 1) {
    const int fewest = cfg.prompts_per_step / comm.world, most = (cfg.prompts_per_step + comm.world - 1) / comm.world;
    std::fprintf(stderr, "data parallel: %d ranks, %s of each step's %d prompts per rank\n", comm.world,
                 (fewest == most ? std::to_string(most) : std::to_string(fewest) + "-" + std::to_string(most)).c_str(),
                 cfg.prompts_per_step);
  }
  if (!quiet)
    std::fprintf(stderr, "rl %s from %s: %zu parameters on %s%s (%d threads), %d prompts x %d samples per step\n",
                 rl_algorithm_name(cfg.algorithm), base.dir.c_str(), policy.num_parameters, device.c_str(),
                 cfg.dtype == "fp32" ? "" : (", " + cfg.dtype).c_str(), threads, cfg.prompts_per_step,
                 cfg.samples_per_prompt);
  // The probes are forward passes over fixed texts: the lead measures them alone.
  RLProbeSet probes = lead ? rl_probes_prepare(cfg, base.tokenizer, base.dir, policy.cfg, quiet) : RLProbeSet{};
  MetricsLog metrics;
  if (lead) metrics = metrics_open(path_join(out_dir, "metrics.jsonl"), opt.resume ? start_step : -1);

  std::string last_checkpoint;
  auto save = [&](int step_done) {
    nlohmann::json state = {{"step", step_done}, {"rng", rng_to_json(s.rng)},
                            {"algorithm", rl_algorithm_name(cfg.algorithm)}, {"init", base.dir}};
    // random's p, measured at step 0, holds for the whole run (a resumed run cannot measure it)
    if (cfg.control.kind == ControlKind::random) state["control_p"] = s.control_p;
    if (cfg.algorithm == RLAlgorithm::ei && cfg.ei_accumulate) {
      nlohmann::json data = nlohmann::json::array();
      for (const Rollout& r : s.ei_data) data.push_back({{"prompt_len", r.prompt_len}, {"tokens", r.tokens}});
      state["ei_data"] = data;
    }
    last_checkpoint = path_join(ckpt_root, checkpoint_name(step_done));
    if (!lead) return;   // every rank holds the same weights and optimizer state
    CheckpointWrite w{ckpt_root, checkpoint_name(step_done), state, checkpoint_yaml, tokenizer_path, true};
    last_checkpoint = checkpoint_save(w, policy);
    if (has_critic) checkpoint_save({critic_root, checkpoint_name(step_done), state, checkpoint_yaml, "", true}, critic);
  };

  // ---- the loop ----
  auto eval_due = [&](int step) {
    return cfg.eval_problems > 0 && cfg.eval_interval > 0 && step % cfg.eval_interval == 0;
  };
  auto probes_due = [&](int step) { return !probes.empty() && step % cfg.probe_interval == 0; };
  double run_start = now_seconds();
  for (int step = start_step; step < cfg.steps; step++) {
    // Several ranks sample from a stream per rank and step; one process keeps its single stream.
    if (comm.world > 1) s.rng = rl_rank_step_stream(cfg.seed, step, comm.rank);
    nlohmann::json ev = eval_due(step) ? rl_evaluate(s) : nlohmann::json::object();
    if (probes_due(step)) ev.update(rl_probes_measure(s, probes));
    nlohmann::json line = rl_step(s, step);
    line.update(ev);
    line["elapsed_s"] = now_seconds() - run_start;
    if (lead) metrics_write(metrics, line);
    if (!quiet && (step % cfg.log_interval == 0 || step == cfg.steps - 1)) print_line(line, cfg.steps);
    if (rl_is_checkpoint_step(step + 1, cfg.steps, cfg.checkpoint_interval)) save(step + 1);
  }
  if ((cfg.eval_problems > 0 || !probes.empty()) && start_step < cfg.steps) {
    nlohmann::json ev = cfg.eval_problems > 0 ? rl_evaluate(s) : nlohmann::json::object();
    if (!probes.empty()) ev.update(rl_probes_measure(s, probes));
    ev["step"] = cfg.steps;
    if (lead) metrics_write(metrics, ev);
    if (!quiet) std::fprintf(stderr, "final eval: %s\n", ev.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  }
  if (lead) metrics_close(metrics);
  rl_session_end(s);
  comm_barrier(comm);   // the lead's checkpoints are written before any rank returns
  if (last_checkpoint.empty()) last_checkpoint = checkpoint_resolve(ckpt_root);
  if (!quiet) std::fprintf(stderr, "checkpoint: %s\n", last_checkpoint.c_str());
  if (has_critic) gpt_destroy(critic);
  gpt_destroy(reference);
  gpt_destroy(policy);
  return last_checkpoint;
}

}  // namespace chamber
