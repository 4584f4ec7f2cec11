// `chamber import --format hf`: export then import gives back the checkpoint bit for bit (every
// weight, the model shape, tokenizer.json), with tied and untied embeddings; and a GPT2LMHeadModel
// made with random weights by transformers in the test (no download) gives the same next-token
// log-probabilities under `chamber score` as under transformers, for its tokenizer given as
// vocab.json + merges.txt and as tokenizer.json. That last test runs tests/train/check_hf_import.py
// and skips when python3, torch, transformers or tokenizers is missing.
#include <gtest/gtest.h>

#include <cstdlib>

#include "engine/safetensors.h"
#include "tests/test_util.h"
#include "tests/train/hf_fixture.h"

namespace chamber {
namespace {

int run(const std::string& cmd) {
  int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void expect_same_checkpoint(const std::string& a_dir, const std::string& b_dir) {
  SafetensorsFile a = safetensors_load(a_dir + "/model.safetensors");
  SafetensorsFile b = safetensors_load(b_dir + "/model.safetensors");
  ASSERT_EQ(a.entries.size(), b.entries.size());
  for (const auto& [name, ea] : a.entries) {
    ASSERT_TRUE(b.entries.count(name)) << name;
    const SafetensorsEntry& eb = b.entries.at(name);
    EXPECT_EQ(ea.dtype, eb.dtype) << name;
    EXPECT_EQ(ea.shape, eb.shape) << name;
    EXPECT_EQ(a.bytes.substr(a.data_start + ea.begin, ea.end - ea.begin),
              b.bytes.substr(b.data_start + eb.begin, eb.end - eb.begin))
        << name << " differs";
  }
  ModelConfig ca = checkpoint_model_config(a_dir), cb = checkpoint_model_config(b_dir);
  EXPECT_EQ(ca.vocab_size, cb.vocab_size);
  EXPECT_EQ(ca.padded_vocab, cb.padded_vocab);
  EXPECT_EQ(ca.n_layer, cb.n_layer);
  EXPECT_EQ(ca.n_head, cb.n_head);
  EXPECT_EQ(ca.n_embd, cb.n_embd);
  EXPECT_EQ(ca.context_length, cb.context_length);
  EXPECT_EQ(ca.tied_embeddings, cb.tied_embeddings);
  EXPECT_EQ(ca.value_head, cb.value_head);
  EXPECT_EQ(read_file(a_dir + "/tokenizer.json"), read_file(b_dir + "/tokenizer.json"));
}

TEST(Import, ExportThenImportIsBitIdentical) {
  for (bool tied : {true, false}) {
    SCOPED_TRACE(tied ? "tied embeddings" : "separate lm_head");
    std::string dir = testing::temp_dir(tied ? "import-roundtrip-tied" : "import-roundtrip-untied");
    std::string ckpt = testing::make_hf_fixture_checkpoint(dir, tied);
    testing::hf_export(ckpt, dir + "/hf");
    testing::hf_import(dir + "/hf", dir + "/back");
    expect_same_checkpoint(ckpt, dir + "/back");
    // And the imported checkpoint exports to the same files again.
    testing::hf_export(dir + "/back", dir + "/hf2");
    for (const char* f : {"model.safetensors", "config.json", "tokenizer.json"})
      EXPECT_EQ(read_file(dir + "/hf/" + f), read_file(dir + "/hf2/" + f)) << f;
  }
}

TEST(Import, TransformersModelScoresTheSame) {
  if (run("python3 -c 'import torch, transformers, tokenizers' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "torch/transformers not importable (pip install torch transformers to run this)";
  std::string dir = testing::temp_dir("import-transformers");
  int rc = run("python3 tests/train/check_hf_import.py make " + dir + " > " + dir + "/make.log 2>&1");
  if (rc == 77) GTEST_SKIP() << "transformers not importable";
  ASSERT_EQ(rc, 0) << read_file(dir + "/make.log");
  const std::string text = "The apples cost 123 dollars, and 45 more. She sold 48 clips in May!";
  for (const char* source : {"pair", "json"}) {
    SCOPED_TRACE(source);
    std::string hf = dir + "/" + source, ckpt = dir + "/imported_" + source;
    testing::hf_import(hf, ckpt);
    std::string score = testing::run_cli_with(register_model_commands,
                                              {"score", "--checkpoint", ckpt, "--text", text, "--device", "cpu-ref"});
    write_file_atomic(dir + "/score.json", score);
    EXPECT_EQ(run("python3 tests/train/check_hf_import.py check " + hf + " " + ckpt + " " + dir + "/score.json"), 0);
  }
  // The two spellings of one tokenizer import to the same Chamber tokenizer.
  EXPECT_EQ(read_file(dir + "/imported_pair/tokenizer.json"), read_file(dir + "/imported_json/tokenizer.json"));
}

}  // namespace
}  // namespace chamber
