// Data specs and dataset_build: parsing errors name key and line; a jsonl + text mixture builds
// shards whose per-source shares match the weights; a second build with the same spec is skipped;
// each source gets a held-out shard of documents the training split never holds, and a manifest
// from before held-out shards is still reused.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "data/dataset.h"
#include "data/shards.h"
#include "data/tokenizer.h"
#include "util/util.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

std::string error_of(const std::string& yaml) {
  try {
    data_spec_from_yaml(YAML::Load(yaml), "spec.yaml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(DataSpec, UnknownKeyNamesKeyAndLine) {
  std::string e = error_of("tokens: 1000\nsources:\n  - kind: text\n    path: a.txt\n    wieght: 1\n");
  EXPECT_NE(e.find("spec.yaml:5"), std::string::npos) << e;
  EXPECT_NE(e.find("wieght"), std::string::npos) << e;
  e = error_of("tokenz: 5\nsources: [{kind: text, path: a}]\n");
  EXPECT_NE(e.find("spec.yaml:1"), std::string::npos) << e;
  EXPECT_NE(e.find("tokenz"), std::string::npos) << e;
}

TEST(DataSpec, RejectsInconsistentProportions) {
  EXPECT_NE(error_of("sources: [{kind: text, path: a, weight: 1, repeat: 2}]\n").find("both"), std::string::npos);
  EXPECT_NE(error_of("sources: [{kind: text, path: a, weight: 1}]\n").find("tokens"), std::string::npos);
  EXPECT_NE(error_of("sources: [{kind: jsonl, importer: nope, path: a}]\n").find("importer"), std::string::npos);
  EXPECT_NE(error_of("sources: [{kind: synthetic, style: tinygsm}]\n").find("count"), std::string::npos);
  EXPECT_NE(error_of("sources: [{kind: synthetic, style: tinygsm, count: 5, ops: [3, 1]}]\n").find("ops"),
            std::string::npos);
  EXPECT_NE(error_of("sources: []\n").find("sources"), std::string::npos);
  EXPECT_EQ(error_of("sources: [{kind: text, path: a}]\n"), "");
}

TEST(DataSpec, DuplicateNamesAreMadeUnique) {
  DataSpec s = data_spec_from_yaml(
      YAML::Load("sources: [{kind: text, path: a}, {kind: text, path: b}]\n"), "spec.yaml");
  ASSERT_EQ(s.sources.size(), 2u);
  EXPECT_NE(s.sources[0].name, s.sources[1].name);
  EXPECT_EQ(s.sources[0].repeat, 1.0);
}

TEST(DataSource, TextFileSplitsOnBlankLines) {
  DataSource src;
  src.kind = "text";
  src.name = "notes";
  src.path = "tests/data/samples/notes.txt";
  auto docs = data_source_documents(src, 1);
  ASSERT_EQ(docs.size(), 4u);
  EXPECT_EQ(docs[0], "A prime number has exactly two divisors.");
  EXPECT_EQ(docs[2], "def area(w, h):\n    return w * h");
}

TEST(DatasetBuild, WeightedMixtureMatchesSharesAndIsCached) {
  std::string dir = testing::temp_dir("dataset_mix");
  DataSpec spec = data_spec_from_yaml(YAML::Load(R"(
seed: 3
tokens: 200000
val_fraction: 0.05
shard_tokens: 60000
tokenizer: {vocab_size: 300, sample_bytes: 60000}
sources:
  - {name: gsm, kind: jsonl, importer: gsm8k, path: ../shared/data/gsm8k/test.jsonl, weight: 3}
  - {name: notes, kind: text, path: tests/data/samples/notes.txt, weight: 1}
  - {name: omi2, kind: jsonl, importer: omi2, path: tests/data/samples/omi2.jsonl, repeat: 2}
)"), "spec.yaml");
  nlohmann::json m = dataset_build(spec, dir, false);
  ASSERT_EQ(m["sources"].size(), 3u);
  int64_t total = m["tokens"]["total"];
  EXPECT_GE(total, 200000);
  for (const auto& s : m["sources"]) {
    double share = s["share"], want = s["requested_share"];
    EXPECT_NEAR(share, want, 0.02) << s.dump();
  }
  EXPECT_EQ(m["sources"][2]["documents"], 4);  // 2 documents x repeat 2
  // Shards hold exactly the manifest's token counts and decode back to text with the tokenizer.
  Tokenizer tok = tokenizer_load(path_join(dir, "tokenizer.json"));
  int64_t train_tokens = 0;
  for (const auto& name : m["train_shards"]) {
    int vocab = 0;
    auto t = shard_read(path_join(dir, name.get<std::string>()), &vocab);
    EXPECT_EQ(vocab, tok.vocab_size());
    train_tokens += (int64_t)t.size();
  }
  EXPECT_GE(m["train_shards"].size(), 2u);
  EXPECT_EQ(train_tokens, m["tokens"]["train"].get<int64_t>());
  EXPECT_GT(m["tokens"]["val"].get<int64_t>(), 0);
  // Same spec: skipped (the returned manifest is the stored one, build time included).
  nlohmann::json again = dataset_build(spec, dir, false);
  EXPECT_EQ(again["build_seconds"], m["build_seconds"]);
  // Changed spec: rebuilt.
  spec.seed = 4;
  nlohmann::json rebuilt = dataset_build(spec, dir, false);
  EXPECT_NE(rebuilt["spec_hash"], m["spec_hash"]);
}

TEST(DatasetBuild, ReusesAGivenTokenizer) {
  std::string dir1 = testing::temp_dir("dataset_tok1"), dir2 = testing::temp_dir("dataset_tok2");
  DataSpec spec = data_spec_from_yaml(YAML::Load(
      "tokenizer: {vocab_size: 280, sample_bytes: 5000}\n"
      "sources: [{kind: jsonl, importer: omi1, path: tests/data/samples/omi1.jsonl, repeat: 3}]\n"), "a.yaml");
  dataset_build(spec, dir1, false);
  spec.tokenizer_path = path_join(dir1, "tokenizer.json");
  dataset_build(spec, dir2, false);
  EXPECT_EQ(read_file(path_join(dir1, "tokenizer.json")), read_file(path_join(dir2, "tokenizer.json")));
}

// The quickstart-style mixture: four synthetic styles by weight, shares within 2% of the spec.
TEST(DatasetBuild, SyntheticStyleMixtureMatchesShares) {
  std::string dir = testing::temp_dir("dataset_synth");
  DataSpec spec = data_spec_from_yaml(YAML::Load(R"(
seed: 5
tokens: 150000
tokenizer: {vocab_size: 300, sample_bytes: 40000}
sources:
  - {kind: synthetic, style: tinygsm, split: train, ops: [1, 3], weight: 2}
  - {kind: synthetic, style: omi1, split: train, ops: [1, 3], weight: 1}
  - {kind: synthetic, style: omi2, split: train, ops: [1, 3], weight: 1}
  - {kind: synthetic, style: mathtext, split: train, weight: 4}
  - {kind: synthetic, style: gsm8k, split: train, count: 50, repeat: 2}
)"), "mix.yaml");
  nlohmann::json m = dataset_build(spec, dir, false);
  ASSERT_EQ(m["sources"].size(), 5u);
  EXPECT_NEAR(m["sources"][0]["requested_share"].get<double>() * 4, m["sources"][3]["requested_share"].get<double>() * 2, 1e-3);
  for (const auto& s : m["sources"]) EXPECT_NEAR(s["share"].get<double>(), s["requested_share"].get<double>(), 0.02) << s.dump();
  EXPECT_EQ(m["sources"][4]["documents"], 100);
  EXPECT_EQ(m["sources"][4]["distinct_documents"], 50);
  // The synthetic documents come back out of the shards as text in the paper's format.
  Tokenizer tok = tokenizer_load(path_join(dir, "tokenizer.json"));
  std::vector<int> t = shard_read(path_join(dir, m["train_shards"][0].get<std::string>()));
  std::string text = tokenizer_decode(tok, t);
  EXPECT_NE(text.find("def simple_math_problem() -> int:"), std::string::npos);
  EXPECT_NE(text.find("<llm-code>"), std::string::npos);
  EXPECT_NE(text.find("\\boxed{"), std::string::npos);
}

// Splits shard tokens into documents (each ends with eot), as text.
std::vector<std::string> documents_of(const Tokenizer& tok, const std::vector<int>& tokens) {
  std::vector<std::string> docs;
  std::vector<int> cur;
  for (int id : tokens) {
    if (id == tok.eot_id) docs.push_back(tokenizer_decode(tok, cur)), cur.clear();
    else cur.push_back(id);
  }
  return docs;
}

TEST(DatasetBuild, HeldOutShardPerSourceHoldsNoTrainingDocument) {
  std::string dir = testing::temp_dir("dataset_heldout");
  DataSpec spec = data_spec_from_yaml(YAML::Load(R"(
seed: 5
tokens: 130000
val_fraction: 0.05
tokenizer: {vocab_size: 300, sample_bytes: 20000}
sources:
  - {kind: synthetic, style: tinygsm, split: train, ops: [1, 3], weight: 1}
  - {kind: synthetic, style: omi1, split: train, count: 30, repeat: 8}
  - {name: notes, kind: text, path: tests/data/samples/notes.txt, repeat: 3}
  - {name: gsm, kind: jsonl, importer: gsm8k, path: ../shared/data/gsm8k/test.jsonl, weight: 1}
)"), "heldout.yaml");
  nlohmann::json m = dataset_build(spec, dir, false);
  EXPECT_EQ(m["format"], 2);
  Tokenizer tok = tokenizer_load(path_join(dir, "tokenizer.json"));
  std::set<std::string> trained;
  for (const auto& name : m["train_shards"])
    for (std::string& d : documents_of(tok, shard_read(path_join(dir, name.get<std::string>())))) trained.insert(d);
  // The text file's few documents, repeated 3 times, are all in training: it gets no shard. The
  // 30-problem omi1 pool, repeated 8 times, is too: its shard is fresh problems.
  std::map<std::string, nlohmann::json> by_source;
  for (const auto& h : m["heldout_shards"]) by_source[h["source"].get<std::string>()] = h;
  EXPECT_EQ(by_source.count("notes"), 0u);
  for (const char* source : {"tinygsm", "omi1", "gsm"}) {
    SCOPED_TRACE(source);
    ASSERT_EQ(by_source.count(source), 1u);
    const nlohmann::json& h = by_source[source];
    int vocab = 0;
    std::vector<int> tokens = shard_read(path_join(dir, h["shard"].get<std::string>()), &vocab);
    EXPECT_EQ(vocab, tok.vocab_size());
    EXPECT_EQ((int64_t)tokens.size(), h["tokens"].get<int64_t>());
    // A synthetic source tops up to the full size; a file source has what its val share holds.
    if (std::string(source) != "gsm") {
      EXPECT_GE((int64_t)tokens.size(), kHeldoutTokensPerSource);
    }
    EXPECT_GT(tokens.size(), 0u);
    std::vector<std::string> docs = documents_of(tok, tokens);
    EXPECT_EQ((int64_t)docs.size(), h["documents"].get<int64_t>());
    for (const std::string& d : docs) EXPECT_EQ(trained.count(d), 0u) << d;
  }
  EXPECT_NE(tokenizer_decode(tok, shard_read(path_join(dir, by_source["omi1"]["shard"].get<std::string>()))).find("<llm-code>"),
            std::string::npos);

  // A manifest written before held-out shards (format 1, no such key) is still up to date: kept
  // as it is, not rebuilt. One that lists a shard that is gone is rebuilt.
  nlohmann::json old = m;
  old.erase("heldout_shards");
  old["format"] = 1;
  write_file_atomic(path_join(dir, "manifest.json"), old.dump(2));
  nlohmann::json again = dataset_build(spec, dir, false);
  EXPECT_FALSE(again.contains("heldout_shards"));
  EXPECT_EQ(again["build_seconds"], m["build_seconds"]);
  write_file_atomic(path_join(dir, "manifest.json"), m.dump(2));
  remove_all(path_join(dir, by_source["omi1"]["shard"].get<std::string>()));
  nlohmann::json rebuilt = dataset_build(spec, dir, false);
  EXPECT_EQ(rebuilt["heldout_shards"], m["heldout_shards"]);
  EXPECT_TRUE(file_exists(path_join(dir, by_source["omi1"]["shard"].get<std::string>())));
}

TEST(DataSpec, ExampleConfigsParse) {
  for (const char* name : {"tiny_mix", "gsm8k_text", "mix_tg_4x_omi1", "transfer_easy_hard"}) {
    DataSpec s = data_spec_load(std::string("configs/data/") + name + ".yaml");
    EXPECT_FALSE(s.sources.empty()) << name;
  }
}

TEST(DataSource, SyntheticDocumentsAreDeterministic) {
  DataSource src;
  src.kind = "synthetic";
  src.style = "omi2";
  src.split = "easy";
  src.name = "x";
  auto a = data_source_documents(src, 3, 5), b = data_source_documents(src, 3, 5);
  ASSERT_EQ(a.size(), 5u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a[0].find("\n\n"), std::string::npos);  // question, blank line, solution
}

}  // namespace
}  // namespace chamber
