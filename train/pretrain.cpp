// Pretraining: its config (read strictly, written back as the resolved config.yaml) and its loop.
// Read run_pretrain top to bottom: set up (run directory, data, model, maybe resume), then each
// step is forward, classifier, backward over the micro-batches, clip, AdamW, log, and now and then
// evaluate and checkpoint. The run directory and resume plumbing are shared with RL
// (train/run_dir.h).
#include "train/pretrain.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "data/dataset.h"
#include "data/shards.h"
#include "data/tokenizer.h"
#include "engine/backend.h"
#include "engine/checkpoint.h"
#include "engine/comm.h"
#include "engine/model.h"
#include "util/util.h"
#include "kernels/adamw.h"
#include "train/data_parallel.h"
#include "train/metrics.h"
#include "train/profile.h"
#include "train/run_dir.h"

namespace chamber {

// The train section: batch shape, loop length, evaluation, checkpoints, device.
static const std::vector<ConfigField<TrainLoopConfig>> kTrainFields = {
    {"batch_size", &TrainLoopConfig::batch_size, 1, 1 << 20},
    {"seq_len", &TrainLoopConfig::seq_len, 1, 1 << 20},
    {"grad_accum", &TrainLoopConfig::grad_accum, 1, 1 << 20},
    {"steps", &TrainLoopConfig::steps, 1, 1e9},
    {"eval_interval", &TrainLoopConfig::eval_interval, 0, 1e9, false, "0 = never"},
    {"eval_batches", &TrainLoopConfig::eval_batches, 1, 1e6},
    {"checkpoint_interval", &TrainLoopConfig::checkpoint_interval, 0, 1e9, false, "0 = only at the end"},
    {"keep_checkpoints", &TrainLoopConfig::keep_checkpoints, 0, 1e9, false, "0 = keep all"},
    {"log_interval", &TrainLoopConfig::log_interval, 1, 1e9},
    {"seed", &TrainLoopConfig::seed},
    {"device", &TrainLoopConfig::device},
    {"threads", &TrainLoopConfig::threads, 0, 4096, false, "0 = $CHAMBER_THREADS or all cores"},
};

PretrainConfig parse_pretrain_config(YAML::Node root, const std::string& file) {
  PretrainConfig cfg;
  cfg.file = file;
  YamlMap top = yaml_root(root, file);
  top.get("name", cfg.name);
  cfg.model = read_model_config(top.sub("model"));
  cfg.data = top.raw("data");
  cfg.data_file = file;
  // `data: configs/data/tiny_mix.yaml` names a data spec file instead of writing it inline.
  if (cfg.data && cfg.data.IsScalar()) {
    cfg.data_file = cfg.data.Scalar();
    cfg.data = yaml_load_file(cfg.data_file);
  }
  if (!cfg.data || !cfg.data.IsMap())
    top.bad("data", "is required: a data spec inline, or the path of one (see configs/data/)");
  cfg.optim = read_optim_config(top.sub("optim"));
  YamlMap t = top.sub("train");
  t.get("dtype", cfg.train.dtype);  // not in kTrainFields: written back only when not fp32
  if (cfg.train.dtype != "fp32" && cfg.train.dtype != "bf16")
    t.bad("dtype", "must be fp32 or bf16 (bf16: mixed precision on --device cuda), got '" +
                       cfg.train.dtype + "'");
  yaml_read_fields(t, cfg.train, kTrainFields);
  top.finish();
  require_range(t, "seq_len", cfg.train.seq_len, 1, cfg.model.context_length,
                "at most model.context_length");
  bool named = !cfg.name.empty();
  if (!named) cfg.name = run_name_from_file(file);
  // The default run directory is runs/<name>: a name like ../x or /tmp/x would leave it.
  if (!is_plain_name(cfg.name))
    top.bad("name", std::string(named ? "" : "(taken from the file name) ") +
                        "must be a plain directory name (the run goes to runs/<name>), got '" + cfg.name + "'");
  // The data spec is checked now too, so a typo there fails before any work.
  data_spec_from_yaml(cfg.data, cfg.data_file);
  return cfg;
}

PretrainConfig load_pretrain_config(const std::string& path, const std::vector<std::string>& overrides) {
  return parse_pretrain_config(yaml_load_config(path, overrides), path);
}

std::string pretrain_config_yaml(const PretrainConfig& cfg) {
  YAML::Node root;
  root["name"] = cfg.name;
  root["model"] = model_config_yaml(cfg.model);
  root["data"] = cfg.data;
  root["optim"] = optim_config_yaml(cfg.optim);
  YAML::Node tn;
  yaml_write_fields(tn, cfg.train, kTrainFields);
  // Written only when not the default, so that fp32 runs keep the resolved config (and the
  // experiment cache keys made from it) they had before the switch existed.
  if (cfg.train.dtype != "fp32") tn["dtype"] = cfg.train.dtype;
  root["train"] = tn;
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

// Mean loss over eval_batches of validation data, always from the start of the val split so that
// evaluations are comparable and do not disturb training state. With several ranks each takes
// its rows of every batch and the means are averaged.
static double evaluate(GPT& model, DataLoader& val, int batches, const Comm& comm) {
  val.cursor = LoaderCursor{};
  const int N = val.B * val.T, B_rank = val.B / comm.world, N_rank = B_rank * val.T;
  std::vector<int> inputs(N), targets(N);
  double total = 0.0;
  for (int b = 0; b < batches; b++) {
    loader_next(val, inputs.data(), targets.data());
    const int first = comm.rank * N_rank;
    // The logits in chunks, as the training step makes them (the model keeps kPretrainLogitRows).
    total += gpt_eval_loss(model, inputs.data() + first, targets.data() + first, B_rank, val.T) / N_rank;
  }
  total /= batches;
  comm_all_reduce_sum(comm, &total, 1);
  return total / comm.world;
}

static void print_arenas(const GPT& m, const std::string& device) {
  std::fprintf(stderr,
               "model: %zu parameters (%.2fM) on %s\n"
               "arenas: parameters %s | gradients %s | AdamW m+v %s | activations %s (B=%d, T=%d)%s%s\n",
               m.num_parameters, m.num_parameters / 1e6, device.c_str(),
               human_bytes((double)m.param_arena.bytes).c_str(), human_bytes((double)m.grad_arena.bytes).c_str(),
               human_bytes((double)(m.m_arena.bytes + m.v_arena.bytes)).c_str(),
               human_bytes((double)m.act_arena.bytes).c_str(), m.max_B, m.max_T,
               m.compute_arena.bytes ? " | bf16 weights " : "",
               m.compute_arena.bytes ? human_bytes((double)m.compute_arena.bytes).c_str() : "");
}

std::string run_pretrain(PretrainConfig cfg, const PretrainOptions& opt) {
  const TrainLoopConfig& tc = cfg.train;
  // The backend first: a device that cannot run the dtype fails before any work.
  const Ops& base_ops = select_backend(tc.device, tc.dtype);
  // Data parallel: every rank reads the same global batch and trains on its share of the rows;
  // one rank (the lead) writes the run directory, the metrics, the checkpoints and the console.
  const Comm single_process;
  const Comm& comm = opt.comm ? *opt.comm : single_process;
  const bool lead = comm.rank == 0, quiet = opt.quiet || !lead;
  if (tc.batch_size % comm.world != 0)
    fail(cfg.file, ": train.batch_size ", tc.batch_size, " is not divisible by the ", comm.world,
         " ranks; each rank takes an equal share of every batch (change the batch size or -np)");
  const std::string out_dir = lead ? open_run_dir(opt.out_dir, cfg.name, opt.resume, opt.overwrite)
                                   : run_dir_path(opt.out_dir, cfg.name);
  const std::string ckpt_root = path_join(out_dir, "checkpoints");
  int threads = set_cpu_threads(tc.threads > 0 ? tc.threads : comm_default_threads(comm));

  // ---- data: build (or reuse) tokenizer + shards under OUT/data ----
  const std::string data_dir = path_join(out_dir, "data");
  DataSpec spec = data_spec_from_yaml(cfg.data, cfg.data_file);
  nlohmann::json manifest;
  if (lead) manifest = dataset_build(spec, data_dir, !quiet);
  comm_barrier(comm);   // the others find the lead's build complete and reuse it
  if (!lead) manifest = dataset_build(spec, data_dir, false);
  const std::string tokenizer_path = path_join(data_dir, "tokenizer.json");
  Tokenizer tok = tokenizer_load(tokenizer_path);
  if (cfg.model.vocab_size == 0) cfg.model.vocab_size = tok.vocab_size();
  if (cfg.model.vocab_size < tok.vocab_size())
    fail(cfg.file, ": model.vocab_size ", cfg.model.vocab_size, " is smaller than the tokenizer's ",
         tok.vocab_size(), " (set it to 0 to follow the tokenizer)");
  model_config_finalize(cfg.model);
  // B x T is the global batch; this rank trains on B_rank of its rows.
  const int B = tc.batch_size, T = tc.seq_len, N = B * T;
  const int B_rank = B / comm.world, N_rank = B_rank * T;
  // Each split must hold one whole window, T inputs and the next token as the last target.
  const nlohmann::json counts = manifest.value("tokens", nlohmann::json::object());   // {total, train, val}
  for (const char* split : {"train", "val"}) {
    if (!counts.is_object() || !counts.contains(split) || !counts[split].is_number_integer()) continue;
    int64_t tokens = counts[split].get<int64_t>();
    if (tokens < (int64_t)T + 1)
      fail(cfg.file, ": the data's ", split, " split holds ", tokens, " tokens, fewer than train.seq_len + 1 = ", T + 1,
           "; raise data.tokens", std::string(split) == "val" ? " or data.val_fraction" : "", " (or the sources' "
           "count/repeat), or lower train.seq_len");
  }
  DataLoader train = loader_open(path_join(data_dir, "train_*.bin"), B, T);
  DataLoader val = loader_open(path_join(data_dir, "val_*.bin"), B, T);
  // Shards from another build (a different tokenizer) can hold ids the model has no row for.
  loader_check_vocab(train, cfg.model.vocab_size);
  loader_check_vocab(val, cfg.model.vocab_size);
  const std::string config_yaml = pretrain_config_yaml(cfg);
  if (lead) write_file_atomic(path_join(out_dir, "config.yaml"), config_yaml);

  // ---- model ----
  std::string device = resolve_device_name(tc.device);
  // The analytic prediction is for this run's precision, on the GPU it runs on (H100 elsewhere).
  if (opt.profile) {
    bool h200 = device == "cuda" && gpu_description(device).find("H200") != std::string::npos;
    set_profile_device(roofline_device(h200 ? "h200" : "h100", tc.dtype));
  }
  const Ops& ops = opt.profile ? profiled_ops(base_ops) : base_ops;
  if (opt.comm) comm_attach(*opt.comm, base_ops, device == "cuda");
  // ZeRO-1: with several ranks, --shard-optimizer keeps 1/world of AdamW's state on each.
  const OptimizerShard shard = opt.shard_optimizer ? OptimizerShard{comm.rank, comm.world} : OptimizerShard{};
  ArenaSizes planned = gpt_arena_sizes(cfg.model, B_rank, T, true, shard, base_ops.compute_bytes,
                                       kPretrainLogitRows);
  check_device_memory(device, planned.total() + device_scratch_bytes(device, B_rank, T, cfg.model.n_embd,
                                                                      cfg.model.n_head,
                                                                      base_ops.compute_bytes),
                      "pretraining " + cfg.name,
                      "Reduce train.batch_size or seq_len (and raise grad_accum), or use a smaller model.");
  GPT model;
  gpt_create(model, cfg.model, ops, B_rank, T, true, shard, kPretrainLogitRows);
  // Data parallel without ZeRO-1: the gradient all-reduce overlaps the backward pass.
  const bool overlap = opt.overlap_reduce && dp_can_overlap(comm, model);
  if (!quiet) {
    if (comm.world > 1)
      std::fprintf(stderr, "data parallel: %d ranks, %d of each batch's %d rows per rank\n", comm.world, B_rank, B);
    print_arenas(model, device + (device.rfind("cpu", 0) == 0 ? " (" + std::to_string(threads) + " threads)" : ""));
  }
  Rng rng((uint64_t)tc.seed);
  int start_step = 0;
  const std::string resumed_from = resume_checkpoint(ckpt_root, opt.resume);
  if (!resumed_from.empty()) {
    ModelConfig saved = checkpoint_model_config(resumed_from);
    if (saved.n_layer != cfg.model.n_layer || saved.n_embd != cfg.model.n_embd ||
        saved.n_head != cfg.model.n_head || saved.vocab_size != cfg.model.vocab_size ||
        saved.context_length != cfg.model.context_length || saved.tied_embeddings != cfg.model.tied_embeddings)
      fail("--resume: the checkpoint ", resumed_from, " has a different model shape than ", cfg.file);
    nlohmann::json state;
    start_step = load_resume_checkpoint(resumed_from, model, tc.steps, state);
    read_state_fields(resumed_from, [&] {
      train.cursor = cursor_from_json(state.at("train_cursor"));
      rng_from_json(state.at("rng"), rng);
    });
    if (!quiet) std::fprintf(stderr, "resuming from %s (step %d)\n", resumed_from.c_str(), start_step);
  } else {
    gpt_init_parameters(model, rng.next_u64());
  }
  // Every rank starts from the same weights (same seed or checkpoint), sees the same averaged
  // gradients and takes the same AdamW step, so the replicas stay equal without broadcasts.
  MetricsLog metrics;
  if (lead) metrics = metrics_open(path_join(out_dir, "metrics.jsonl"), opt.resume ? start_step : -1);

  auto save = [&](int step_done, const std::vector<float>& adam_m_whole, const std::vector<float>& adam_v_whole) {
    nlohmann::json state = {{"step", step_done},
                            {"train_cursor", cursor_to_json(train.cursor)},
                            {"rng", rng_to_json(rng)},
                            {"tokens_seen", (double)step_done * N * tc.grad_accum}};
    CheckpointWrite w{ckpt_root, checkpoint_name(step_done), state, config_yaml, tokenizer_path, true};
    if (!adam_m_whole.empty()) w.adam_m_whole = &adam_m_whole, w.adam_v_whole = &adam_v_whole;
    std::string dir = checkpoint_save(w, model);
    checkpoint_prune(ckpt_root, tc.keep_checkpoints);
    return dir;
  };

  // ---- the loop ----
  // The device's loss and gradient norm are read only when a log line is due (and before an
  // evaluation or a checkpoint, and at least every kMaxUnreadSteps steps): between reads the host
  // queues step after step (gpt_keep_step) and the device never waits for it. A step's uploads do
  // not wait either, so each kept step's micro-batches keep their own input buffers until the
  // read: read_every steps of grad_accum buffers each, fewer when that would pass 64 MiB.
  const size_t step_input_bytes = 2 * sizeof(int) * (size_t)N * tc.grad_accum;
  const int read_every = (int)std::max<size_t>(
      1, std::min<size_t>({(size_t)tc.log_interval, (size_t)kMaxUnreadSteps,
                           ((size_t)64 << 20) / step_input_bytes}));
  std::vector<std::vector<int>> inputs((size_t)read_every * tc.grad_accum, std::vector<int>(N));
  std::vector<std::vector<int>> targets((size_t)read_every * tc.grad_accum, std::vector<int>(N));
  // Every position is predicted; the 1/(B_rank*T*accum) weight makes the summed loss this rank's
  // mean, and averaging over ranks makes it the global batch's.
  std::vector<float> weights(N_rank, 1.0f / (float)(N_rank * tc.grad_accum));
  const int first_row = comm.rank * N_rank;   // this rank's rows of each global batch
  std::string last_checkpoint = resumed_from;
  double run_start = now_seconds();
  int steps_timed = 0;
  // The steps queued since the last read: their metrics lines (step, val_loss, lr) wait for it.
  std::vector<nlohmann::json> unread;
  double unread_since = now_seconds();
  // Reads the kept steps, stops at the first whose loss or norm is not finite, and writes their
  // metrics lines, each with the tokens/s of the steps read together (the host does not see one
  // step's end alone).
  auto read_steps = [&] {
    if (unread.empty()) return;
    std::vector<StepScalars> kept = gpt_read_kept_steps(model);  // the one wait for the device
    const double dt = now_seconds() - unread_since;
    std::vector<double> losses(kept.size());
    for (size_t i = 0; i < kept.size(); i++) losses[i] = kept[i].loss;
    if (comm.world > 1) {   // every rank reads at the same steps
      comm_all_reduce_sum(comm, losses.data(), (int)losses.size());
      for (double& loss : losses) loss /= comm.world;
    }
    const double tokens_per_s = (double)N * tc.grad_accum * kept.size() / dt;
    for (size_t i = 0; i < kept.size(); i++) {
      nlohmann::json& line = unread[i];
      const int step = line["step"].get<int>();
      const double loss = losses[i], grad_norm = kept[i].grad_norm;
      if (!std::isfinite(loss) || !std::isfinite(grad_norm)) {   // equal on every rank: all stop
        if (lead) metrics_close(metrics);
        fail("step ", step, ": the ", std::isfinite(loss) ? "gradient norm" : "loss",
             " is not finite (NaN or Inf); stopping. The last good checkpoint is ",
             last_checkpoint.empty() ? "(none yet)" : last_checkpoint,
             ". Lower optim.lr, raise optim.warmup_steps or check the data.");
      }
      steps_timed++;
      line["loss"] = loss;
      line["grad_norm"] = grad_norm;
      line["tokens_per_s"] = tokens_per_s;
      if (lead) metrics_write(metrics, line);
      if (!quiet && (step % tc.log_interval == 0 || step == tc.steps - 1)) {
        double elapsed = now_seconds() - run_start;
        double eta = elapsed / steps_timed * (tc.steps - step - 1);
        // The step as metrics.jsonl numbers it: 0 is the first update, so the last is steps - 1.
        std::fprintf(stderr, "step %5d/%d | loss %.4f | lr %.2e | norm %.3f | %.0f tok/s | ETA %s\n",
                     step, tc.steps, loss, line["lr"].get<double>(), grad_norm, tokens_per_s,
                     format_duration(eta).c_str());
      }
    }
    unread.clear();
    unread_since = now_seconds();
  };
  for (int step = start_step; step < tc.steps; step++) {
    nlohmann::json line = {{"step", step}};
    if (tc.eval_interval > 0 && step % tc.eval_interval == 0) {
      read_steps();   // first, so their tokens/s leaves the evaluation out
      double val_loss = evaluate(model, val, tc.eval_batches, comm);
      line["val_loss"] = val_loss;
      if (!quiet) std::fprintf(stderr, "step %d | val_loss %.4f\n", step, val_loss);
      unread_since = now_seconds();
    }
    NamedRange step_range(ops, "train step");
    // The step is queued without waiting for the device (micro-steps as CUDA graphs where the
    // backend has them, the gradient norm and the clipping on the device) and kept for the read.
    gpt_step_begin(model);
    const size_t slot = unread.size() * tc.grad_accum;   // this step's input buffers
    for (int micro = 0; micro < tc.grad_accum; micro++) {
      std::vector<int>& step_inputs = inputs[slot + micro];
      std::vector<int>& step_targets = targets[slot + micro];
      loader_next(train, step_inputs.data(), step_targets.data());
      // The step's last backward reduces each layer's gradients as soon as they are complete.
      if (overlap && micro == tc.grad_accum - 1) dp_overlap_begin(comm, model);
      gpt_train_micro_step(model, step_inputs.data() + first_row, step_targets.data() + first_row,
                           weights.data(), B_rank, T);
    }
    // Data parallel averages the gradients first (and leaves the global norm's square where
    // AdamW reads it); one process just sums the squares on the device.
    if (comm.world > 1) {
      if (overlap) dp_overlap_finish(comm, model);
      else dp_average_gradients(comm, model);
    } else {
      gpt_compute_grad_norm(model);
    }
    float lr = lr_schedule(cfg.optim, step, tc.steps);
    // A non-finite gradient norm skips the update on the device, so the weights stay the last
    // good step's when the read finds it and stops the run.
    gpt_adamw_step(model, {.lr = lr, .beta1 = cfg.optim.beta1, .beta2 = cfg.optim.beta2,
                           .eps = cfg.optim.eps, .weight_decay = cfg.optim.weight_decay,
                           .clip_by_device_norm = true, .max_grad_norm = cfg.optim.grad_clip});
    dp_share_updated_parameters(comm, model);
    gpt_keep_step(model);
    line["lr"] = lr;
    unread.push_back(std::move(line));

    const bool last = step == tc.steps - 1;
    const bool checkpoint = last || (tc.checkpoint_interval > 0 && (step + 1) % tc.checkpoint_interval == 0);
    const bool eval_next = tc.eval_interval > 0 && (step + 1) % tc.eval_interval == 0;
    if (step % tc.log_interval == 0 || checkpoint || eval_next || (int)unread.size() == read_every)
      read_steps();
    if (checkpoint) {
      // Checkpoints hold the whole model and optimizer (a sharded optimizer's slices gathered
      // first), so a run written by N ranks resumes on any number, sharded or not.
      std::vector<float> adam_m_whole, adam_v_whole;
      dp_gather_optimizer_state(comm, model, adam_m_whole, adam_v_whole);
      if (lead) last_checkpoint = save(step + 1, adam_m_whole, adam_v_whole);
      comm_barrier(comm);
      unread_since = now_seconds();
    }
  }
  if (tc.eval_interval > 0 && start_step <= tc.steps) {
    double val_loss = evaluate(model, val, tc.eval_batches, comm);
    if (lead) metrics_write(metrics, {{"step", tc.steps}, {"val_loss", val_loss}});
    if (!quiet) std::fprintf(stderr, "step %d | val_loss %.4f\n", tc.steps, val_loss);
  }
  if (lead) metrics_close(metrics);
  if (opt.profile && lead) print_profile(stderr);
  comm_barrier(comm);
  if (last_checkpoint.empty()) last_checkpoint = checkpoint_resolve(ckpt_root);
  if (!quiet) std::fprintf(stderr, "checkpoint: %s\n", last_checkpoint.c_str());
  gpt_destroy(model);
  return last_checkpoint;
}

}  // namespace chamber
