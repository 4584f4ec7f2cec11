// `chamber export --format hf`: the export loads in Hugging Face transformers' GPT2LMHeadModel and
// gives the same next-token log-probabilities as `chamber score` (within 1e-3). Runs the real
// binary and tests/train/check_hf_export.py; skips when python3 or transformers is missing.
#include <gtest/gtest.h>

#include <cstdlib>

#include "util/util.h"
#include "tests/test_util.h"
#include "train/pretrain.h"

namespace chamber {
namespace {

int run(const std::string& cmd) {
  int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(Export, HuggingFaceGpt2MatchesScore) {
  if (run("python3 -c 'import transformers, torch, tokenizers' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "transformers/torch not importable (pip install torch transformers to run this)";
  if (!file_exists("build/chamber")) GTEST_SKIP() << "build/chamber not built";
  std::string dir = testing::temp_dir("export");
  std::string text;
  Rng rng(2);
  for (int i = 0; i < 150; i++) text += std::string(i % 3 ? "apples " : "cost ") + std::to_string(rng.below(500)) + ". ";
  write_file_atomic(dir + "/corpus.txt", text + "\n\n" + text);
  std::string yaml =
      "model: {n_layer: 2, n_head: 2, n_embd: 32, context_length: 64}\n"
      "data: {seed: 1, val_fraction: 0.1, tokenizer: {vocab_size: 300}, sources: [{kind: text, path: " + dir + "/corpus.txt}]}\n"
      "optim: {lr: 3.0e-3, min_lr: 3.0e-4, warmup_steps: 2}\n"
      "train: {batch_size: 4, seq_len: 64, steps: 8, eval_interval: 0, device: cpu-ref}\n";
  write_file_atomic(dir + "/cfg.yaml", yaml);
  ASSERT_EQ(run("build/chamber pretrain " + dir + "/cfg.yaml --out " + dir + "/run --quiet"), 0);
  ASSERT_EQ(run("build/chamber export --checkpoint " + dir + "/run --format hf --out " + dir + "/hf 2>/dev/null"), 0);
  const std::string sample = "The apples cost 123 dollars, and 45 more. Total: 168!";
  ASSERT_EQ(run("build/chamber score --checkpoint " + dir + "/run --text '" + sample + "' > " + dir + "/score.json"), 0);
  int rc = run("python3 tests/train/check_hf_export.py " + dir + "/hf " + dir + "/score.json '" + sample + "'");
  if (rc == 77) GTEST_SKIP() << "transformers not importable";
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace chamber
