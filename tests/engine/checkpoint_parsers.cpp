// Checkpoints: round trip, and corrupted or truncated files give errors, never crashes.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/checkpoint.h"
#include "engine/config.h"
#include "engine/safetensors.h"
#include "util/util.h"
#include "tests/test_util.h"

namespace chamber {
namespace {

using testing::contains;
using testing::error_of;

ModelConfig small_config() {
  return model_config_of(20, 1, 2, 8, 6);
}

std::string config_yaml(const ModelConfig& c) {
  YAML::Node root;
  root["model"] = model_config_yaml(c);
  YAML::Emitter e;
  e << root;
  return e.c_str();
}

std::string save_one(const std::string& root, GPT& m, int step) {
  CheckpointWrite w{root, checkpoint_name(step), {{"step", step}}, config_yaml(m.cfg), "", true};
  return checkpoint_save(w, m);
}

TEST(CheckpointParsers, RoundTripIsExact) {
  std::string root = testing::temp_dir("ckpt-roundtrip");
  ModelConfig c = small_config();
  GPT a, b;
  gpt_create(a, c, reference_ops(), 1, 6, true);
  gpt_create(b, c, reference_ops(), 1, 6, true);
  gpt_init_parameters(a, 5);
  // Make the optimizer state non-trivial.
  std::vector<float> m(a.m_arena.bytes / 4, 0.0f);  // arena padding between tensors stays 0
  for (const auto& slot : a.param_table)
    for (size_t i = 0; i < slot.numel(); i++) m[slot.offset / 4 + i] = 0.001f * (float)i + 0.5f;
  reference_ops().from_host(a.m_arena.base, m.data(), a.m_arena.bytes);
  a.adam_step = 17;
  std::string dir = save_one(root, a, 3);
  EXPECT_EQ(checkpoint_resolve(root), dir);
  checkpoint_load_weights(dir, b);
  checkpoint_load_optimizer(dir, b);
  EXPECT_EQ(gpt_parameters_to_host(a), gpt_parameters_to_host(b));
  std::vector<float> mb(m.size());
  reference_ops().to_host(mb.data(), b.m_arena.base, b.m_arena.bytes);
  EXPECT_EQ(m, mb);
  EXPECT_EQ(b.adam_step, 17);
  ModelConfig back = checkpoint_model_config(dir);
  EXPECT_EQ(back.n_embd, c.n_embd);
  EXPECT_EQ(back.padded_vocab, c.padded_vocab);
  gpt_destroy(a);
  gpt_destroy(b);
}

TEST(CheckpointParsers, NewestAndPrune) {
  std::string root = testing::temp_dir("ckpt-prune");
  GPT a;
  gpt_create(a, small_config(), reference_ops(), 1, 6, true);
  for (int s : {10, 20, 30, 40}) save_one(root, a, s);
  make_dirs(root + "/.step_00000050.tmp");  // a crash mid-write leaves only a hidden temporary
  EXPECT_EQ(checkpoint_resolve(root), root + "/step_00000040");
  checkpoint_prune(root, 2);
  auto left = checkpoint_list(root);
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0], root + "/step_00000030");
  save_one(root, a, 40);  // re-saving an existing step replaces it
  EXPECT_EQ(checkpoint_list(root).size(), 2u);
  EXPECT_THROW(checkpoint_resolve(root + "/nothing"), Error);
  gpt_destroy(a);
}

// Loads a model.safetensors image in memory the way checkpoint_load_weights reads the file.
void load_from_bytes(const std::string& bytes, const GPT& m) {
  SafetensorsFile f = safetensors_parse(bytes, "model.safetensors");
  std::vector<float> host(m.param_arena.bytes / 4);
  for (const auto& slot : m.param_table) f.read_f32(slot.name, slot.shape, host.data() + slot.offset / 4);
}

TEST(CheckpointParsers, TruncatedWeightsAreErrors) {
  std::string root = testing::temp_dir("ckpt-trunc");
  GPT a;
  gpt_create(a, small_config(), reference_ops(), 1, 6, true);
  gpt_init_parameters(a, 1);
  std::string dir = save_one(root, a, 1);
  std::string path = dir + "/model.safetensors";
  std::string good = read_file(path);
  EXPECT_NO_THROW(load_from_bytes(good, a));
  for (size_t len = 0; len < good.size(); len++)  // every prefix is an error
    EXPECT_THROW(load_from_bytes(good.substr(0, len), a), Error) << "length " << len;
  for (size_t len : {(size_t)0, (size_t)7, (size_t)100, good.size() / 2, good.size() - 1}) {
    write_file_atomic(path, good.substr(0, len));  // and through the file path
    EXPECT_THROW(checkpoint_load_weights(dir, a), Error) << "length " << len;
  }
  gpt_destroy(a);
}

TEST(CheckpointParsers, CorruptedBytesAreErrorsOrValidFloats) {
  std::string root = testing::temp_dir("ckpt-flip");
  GPT a;
  gpt_create(a, small_config(), reference_ops(), 1, 6, true);
  gpt_init_parameters(a, 1);
  std::string good = read_file(save_one(root, a, 1) + "/model.safetensors");
  uint64_t header_len = 0;
  for (int i = 0; i < 8; i++) header_len |= (uint64_t)(unsigned char)good[i] << (8 * i);
  Rng rng(9);
  int rejected = 0;
  for (int trial = 0; trial < 2000; trial++) {
    std::string bad = good;
    // Flip bytes in the length prefix and the JSON header, where corruption changes structure.
    for (int k = 0; k < 2; k++) bad[rng.below(8 + header_len)] ^= (char)(1 + rng.below(255));
    try {
      load_from_bytes(bad, a);  // a flip that keeps the header valid (say, in a name) may load
    } catch (const Error&) {
      rejected++;
    }
  }
  EXPECT_GT(rejected, 1000);
  gpt_destroy(a);
}

TEST(CheckpointParsers, WrongShapeOrMissingTensor) {
  std::string root = testing::temp_dir("ckpt-shape");
  GPT a, wide;
  ModelConfig c = small_config();
  gpt_create(a, c, reference_ops(), 1, 6, true);
  ModelConfig c2 = c;
  c2.n_embd = 12;
  model_config_finalize(c2);
  gpt_create(wide, c2, reference_ops(), 1, 6, true);
  std::string dir = save_one(root, a, 1);
  EXPECT_THROW(checkpoint_load_weights(dir, wide), Error);
  float x = 1.0f;
  write_file_atomic(dir + "/model.safetensors", safetensors_serialize({{"wte", {1}, &x}}));
  EXPECT_THROW(checkpoint_load_weights(dir, a), Error);
  gpt_destroy(a);
  gpt_destroy(wide);
}

TEST(CheckpointParsers, BadStateAndConfig) {
  std::string root = testing::temp_dir("ckpt-state");
  GPT a;
  gpt_create(a, small_config(), reference_ops(), 1, 6, true);
  std::string dir = save_one(root, a, 1);
  write_file_atomic(dir + "/state.json", "{\"step\": ");
  EXPECT_THROW(checkpoint_state(dir), Error);
  write_file_atomic(dir + "/config.yaml", "model: {n_layer: [\n");
  EXPECT_THROW(checkpoint_model_config(dir), Error);
  write_file_atomic(dir + "/config.yaml", "something: else\n");
  EXPECT_THROW(checkpoint_model_config(dir), Error);
  write_file_atomic(dir + "/optimizer.safetensors", "garbage");
  EXPECT_THROW(checkpoint_load_optimizer(dir, a), Error);
  gpt_destroy(a);
}

// A checkpoint whose weights or AdamW state hold NaN, Inf or a negative second moment, or whose
// AdamW step is out of range, is refused with the file and the tensor named: loading it would give
// empty samples, null log-probabilities, or a resume that fails at once.
TEST(CheckpointParsers, NonFiniteValuesAreErrors) {
  std::string root = testing::temp_dir("ckpt-nan");
  GPT a;
  gpt_create(a, small_config(), reference_ops(), 1, 6, true);
  gpt_init_parameters(a, 2);
  const TensorSlot& slot = a.param_table[a.param_table.size() / 2];
  std::vector<float> good = gpt_parameters_to_host(a);
  for (float bad : {NAN, INFINITY, -INFINITY}) {
    std::vector<float> host = good;
    host[slot.offset / 4 + slot.numel() - 1] = bad;
    gpt_parameters_from_host(a, host);
    std::string dir = save_one(root, a, 1);
    std::string msg = error_of([&] { checkpoint_load_weights(dir, a); });
    EXPECT_NE(msg.find(dir + "/model.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'" + slot.name + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("non-finite"), std::string::npos) << msg;
  }
  gpt_parameters_from_host(a, good);

  // AdamW state: m must be finite, v finite and >= 0, the step a whole number in range.
  std::vector<float> zeros(a.m_arena.bytes / 4, 0.0f);
  auto save_optimizer = [&](const std::string& dir, std::vector<float> m, std::vector<float> v, const std::string& step) {
    std::vector<TensorToWrite> tensors;
    for (const auto& s : a.param_table) {
      tensors.push_back({"m." + s.name, s.shape, m.data() + s.offset / 4});
      tensors.push_back({"v." + s.name, s.shape, v.data() + s.offset / 4});
    }
    write_file_atomic(dir + "/optimizer.safetensors", safetensors_serialize(tensors, {{"adam_step", step}}));
  };
  std::string dir = save_one(root, a, 1);
  save_optimizer(dir, zeros, zeros, "12");
  EXPECT_EQ(error_of([&] { checkpoint_load_optimizer(dir, a); }), "");
  EXPECT_EQ(a.adam_step, 12);
  std::vector<float> bad = zeros;
  bad[slot.offset / 4] = NAN;
  save_optimizer(dir, bad, zeros, "12");
  std::string msg = error_of([&] { checkpoint_load_optimizer(dir, a); });
  EXPECT_NE(msg.find("optimizer.safetensors: tensor 'm." + slot.name + "'"), std::string::npos) << msg;
  bad[slot.offset / 4] = -1.0f;
  save_optimizer(dir, zeros, bad, "12");
  msg = error_of([&] { checkpoint_load_optimizer(dir, a); });
  EXPECT_NE(msg.find("tensor 'v." + slot.name + "' holds a negative value"), std::string::npos) << msg;
  for (const char* step : {"-1", "", "12x", " 12", "1e3", "99999999999", "18446744073709551616"}) {
    save_optimizer(dir, zeros, zeros, step);
    msg = error_of([&] { checkpoint_load_optimizer(dir, a); });
    EXPECT_NE(msg.find("optimizer.safetensors: metadata adam_step"), std::string::npos) << step << ": " << msg;
  }
  gpt_destroy(a);
}

TEST(CheckpointParsers, SafetensorsHeaderChecks) {
  float data[4] = {1, 2, 3, 4};
  std::string good = safetensors_serialize({{"a", {2, 2}, data}}, {{"k", "v"}});
  SafetensorsFile f = safetensors_parse(good, "x");
  EXPECT_EQ(f.metadata.at("k"), "v");
  EXPECT_EQ((f.data_start) % 8, 0u);
  auto with_header = [](const std::string& h, size_t data_bytes) {
    std::string s(8, '\0');
    uint64_t n = h.size();
    for (int i = 0; i < 8; i++) s[i] = (char)((n >> (8 * i)) & 0xff);
    return s + h + std::string(data_bytes, '\0');
  };
  EXPECT_NO_THROW(safetensors_parse(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8), "x"));
  EXPECT_THROW(safetensors_parse(with_header(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "x"), Error);
  EXPECT_THROW(safetensors_parse(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", 8), "x"), Error);
  EXPECT_THROW(safetensors_parse(with_header(R"({"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8), "x"), Error);
  EXPECT_THROW(safetensors_parse(with_header(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "x"), Error);
  EXPECT_THROW(safetensors_parse(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8), "x"), Error);
  EXPECT_THROW(safetensors_parse(with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})", 8), "x"), Error);
  EXPECT_THROW(safetensors_parse(with_header(R"([1,2])", 0), "x"), Error);
  EXPECT_THROW(safetensors_parse(with_header(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8), "x"), Error);
  EXPECT_THROW(safetensors_parse(std::string("\xff\xff\xff\xff\xff\xff\xff\xff", 8), "x"), Error);
}

}  // namespace
}  // namespace chamber
