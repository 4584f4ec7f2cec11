// `chamber tokenizer train|encode|decode` through CLI11 as main would run them: train on a text
// file plus a jsonl file, load the result, encode/decode on stdout; bad input is a chamber::Error.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "data/tokenizer.h"
#include "util/util.h"
#include "tests/data/sample_text.h"
#include "tests/test_util.h"
#include "tests/train/cli_harness.h"
#include "train/cli.h"

namespace chamber {
namespace {

std::string run_cli(std::vector<std::string> args) {
  return testing::run_cli_with(register_tokenizer_commands, std::move(args));
}

TEST(CliTokenizer, TrainEncodeDecode) {
  std::string dir = testing::temp_dir("cli_tokenizer");
  std::string txt = path_join(dir, "a.txt"), jsonl = path_join(dir, "b.jsonl"), out = path_join(dir, "tok.json");
  write_file_atomic(txt, testing::sample_text(1, 20000));
  write_file_atomic(jsonl, "{\"body\": \"Tom has 12 apples.\", \"n\": 1}\n\n{\"body\": \"Anna has 3.\"}\n");
  std::string log = run_cli({"tokenizer", "train", "--input", txt, jsonl, "--field", "body", "--vocab-size", "350",
                             "--out", out});
  EXPECT_NE(log.find("3 documents"), std::string::npos) << log;
  Tokenizer tok = tokenizer_load(out);
  EXPECT_EQ(tok.vocab_size(), 350);

  std::string ids_text = run_cli({"tokenizer", "encode", "--tokenizer", out, "--text", "Tom has 12 apples."});
  nlohmann::json ids = nlohmann::json::parse(ids_text);
  EXPECT_EQ(ids.get<std::vector<int>>(), tokenizer_encode(tok, "Tom has 12 apples."));
  EXPECT_EQ(run_cli({"tokenizer", "decode", "--tokenizer", out, "--ids", ids.dump()}), "Tom has 12 apples.\n");
}

TEST(CliTokenizer, BadInputIsAnError) {
  std::string dir = testing::temp_dir("cli_tokenizer_bad");
  std::string jsonl = path_join(dir, "b.jsonl"), out = path_join(dir, "tok.json");
  write_file_atomic(jsonl, "{\"text\": \"ok\"}\n{\"text\": 5}\n");
  try {
    run_cli({"tokenizer", "train", "--input", jsonl, "--vocab-size", "300", "--out", out});
    FAIL() << "accepted a non-string field";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("b.jsonl:2"), std::string::npos) << e.what();
  }
  write_file_atomic(jsonl, "{\"text\": \"ok\"}\nnot json\n");
  EXPECT_THROW(run_cli({"tokenizer", "train", "--input", jsonl, "--vocab-size", "300", "--out", out}), Error);
  EXPECT_THROW(run_cli({"tokenizer", "train", "--input", path_join(dir, "none.txt"), "--vocab-size", "300",
                        "--out", out}), Error);
  EXPECT_THROW(run_cli({"tokenizer", "train", "--input", jsonl, "--vocab-size", "100", "--out", out}),
               CLI::ParseError);
  EXPECT_THROW(run_cli({"tokenizer", "encode", "--tokenizer", jsonl, "--text", "x"}), Error);
  write_file_atomic(jsonl, "{\"text\": \"ok ok\"}\n");
  run_cli({"tokenizer", "train", "--input", jsonl, "--vocab-size", "300", "--out", out});
  EXPECT_THROW(run_cli({"tokenizer", "decode", "--tokenizer", out, "--ids", "[1, 9999]"}), Error);
  EXPECT_THROW(run_cli({"tokenizer", "decode", "--tokenizer", out, "--ids", "{}"}), Error);
}

}  // namespace
}  // namespace chamber
