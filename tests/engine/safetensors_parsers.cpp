// safetensors reading of files from elsewhere (read_as_f32): F16 and BF16 widen to the exact
// float values (zeros, subnormals, Inf, NaN included); other dtypes and wrong shapes are errors
// naming the file, the tensor and both shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "engine/safetensors.h"
#include "tests/test_util.h"
#include "util/util.h"

namespace chamber {
namespace {

using testing::contains;
using testing::error_of;

// A safetensors image with one tensor of the given dtype, shape and raw little-endian data.
std::string one_tensor(const std::string& dtype, const std::string& shape, const std::string& data) {
  std::string header = "{\"t\": {\"dtype\": \"" + dtype + "\", \"shape\": " + shape +
                       ", \"data_offsets\": [0, " + std::to_string(data.size()) + "]}}";
  std::string out;
  for (int i = 0; i < 8; i++) out.push_back((char)((header.size() >> (8 * i)) & 0xff));
  return out + header + data;
}

std::string halves(const std::vector<uint16_t>& h) {
  std::string s(2 * h.size(), '\0');
  std::memcpy(s.data(), h.data(), s.size());
  return s;
}

TEST(SafetensorsParsers, HalfPrecisionWidensExactly) {
  // F16: 1, -2, 0.5, 65504 (largest), 2^-14 (smallest normal), 2^-24 (smallest subnormal),
  // 3 * 2^-24, -0, +Inf, NaN.
  const std::vector<uint16_t> f16 = {0x3c00, 0xc000, 0x3800, 0x7bff, 0x0400, 0x0001, 0x0003, 0x8000, 0x7c00, 0x7e00};
  SafetensorsFile f = safetensors_parse(one_tensor("F16", "[2, 5]", halves(f16)), "h.safetensors");
  std::vector<float> out(10);
  f.read_as_f32("t", {2, 5}, out.data());
  const std::vector<float> want = {1.0f, -2.0f, 0.5f, 65504.0f, std::ldexp(1.0f, -14), std::ldexp(1.0f, -24),
                                   3 * std::ldexp(1.0f, -24), -0.0f, INFINITY};
  for (size_t i = 0; i < want.size(); i++) EXPECT_EQ(out[i], want[i]) << i;
  EXPECT_TRUE(std::signbit(out[7]));
  EXPECT_TRUE(std::isnan(out[9]));
  // BF16 is the top half of a float: 1, -3.5, 2^-133 (subnormal).
  SafetensorsFile b = safetensors_parse(one_tensor("BF16", "[3]", halves({0x3f80, 0xc060, 0x0001})), "b.safetensors");
  b.read_as_f32("t", {3}, out.data());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -3.5f);
  EXPECT_EQ(out[2], std::ldexp(1.0f, -133));
  // F32 reads as itself; read_f32 (Chamber's own checkpoints) still wants F32 only.
  float x[2] = {1.25f, -7.0f};
  SafetensorsFile g = safetensors_parse(one_tensor("F32", "[2]", std::string((const char*)x, 8)), "g.safetensors");
  g.read_as_f32("t", {2}, out.data());
  EXPECT_EQ(out[0], 1.25f);
  EXPECT_EQ(out[1], -7.0f);
  EXPECT_TRUE(contains(error_of([&] { f.read_f32("t", {2, 5}, out.data()); }), "'t' is F16, expected F32"));
}

TEST(SafetensorsParsers, WrongShapeNamesBoth) {
  SafetensorsFile f = safetensors_parse(one_tensor("F16", "[2, 5]", halves(std::vector<uint16_t>(10))), "h.safetensors");
  std::vector<float> out(10);
  std::string err = error_of([&] { f.read_as_f32("t", {5, 2}, out.data()); });
  EXPECT_TRUE(contains(err, "h.safetensors: tensor 't' has shape [2, 5], the model expects [5, 2]")) << err;
  err = error_of([&] { f.read_as_f32("u", {2, 5}, out.data()); });
  EXPECT_TRUE(contains(err, "h.safetensors: tensor 'u' is missing")) << err;
  err = error_of([&] { safetensors_parse(one_tensor("I64", "[1]", std::string(8, '\0')), "i.safetensors"); });
  EXPECT_TRUE(contains(err, "i.safetensors: tensor 't' has unsupported dtype I64")) << err;
  err = error_of([&] { safetensors_parse(one_tensor("F16", "[3]", std::string(4, '\0')), "s.safetensors"); });
  EXPECT_TRUE(contains(err, "s.safetensors: tensor 't' holds 4 bytes but its shape [3] needs 6")) << err;
}

}  // namespace
}  // namespace chamber
