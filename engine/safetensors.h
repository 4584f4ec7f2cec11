// safetensors files: an 8-byte little-endian header length, a JSON header mapping each tensor name
// to {dtype, shape, data_offsets}, then the raw data. Chamber writes F32 only. The reader treats the
// file as untrusted: header length, JSON, dtypes, shapes, offsets (in range, sized to the shape, not
// overlapping) are all checked, and any problem is a chamber::Error naming the file.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace chamber {

struct TensorToWrite {
  std::string name;
  std::vector<int64_t> shape;
  const float* data;   // host, numel(shape) floats
};

// Serialises to bytes (write them with write_file_atomic). metadata: string -> string.
std::string safetensors_serialize(const std::vector<TensorToWrite>& tensors,
                                  const std::map<std::string, std::string>& metadata = {});

struct SafetensorsEntry {
  std::string dtype;
  std::vector<int64_t> shape;
  size_t begin = 0, end = 0;   // byte range within the data section
};

struct SafetensorsFile {
  std::string path;
  std::string bytes;                          // whole file
  size_t data_start = 0;                      // 8 + header length
  std::map<std::string, SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;
  // Copies tensor `name` into out, checking it exists, is F32 and has exactly `shape`.
  void read_f32(const std::string& name, const std::vector<int64_t>& shape, float* out) const;
  // The same for a file from elsewhere: F16 and BF16 are accepted too and widened to F32 (exactly:
  // every half value is a float value).
  void read_as_f32(const std::string& name, const std::vector<int64_t>& shape, float* out) const;
};

SafetensorsFile safetensors_parse(std::string bytes, const std::string& path);
SafetensorsFile safetensors_load(const std::string& path);

}  // namespace chamber
