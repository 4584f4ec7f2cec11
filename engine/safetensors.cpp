#include "engine/safetensors.h"

#include <algorithm>
#include <cstring>

#include "util/util.h"

namespace chamber {

static std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); i++) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string safetensors_serialize(const std::vector<TensorToWrite>& tensors,
                                  const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  size_t offset = 0;
  for (const auto& t : tensors) {
    size_t n = 1;
    for (int64_t d : t.shape) n *= (size_t)d;
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + 4 * n}}};
    offset += 4 * n;
  }
  std::string header_text = header.dump();
  while ((8 + header_text.size()) % 8 != 0) header_text.push_back(' ');  // align the data
  std::string out;
  out.reserve(8 + header_text.size() + offset);
  uint64_t len = header_text.size();
  for (int i = 0; i < 8; i++) out.push_back((char)((len >> (8 * i)) & 0xff));
  out += header_text;
  for (const auto& t : tensors) {
    size_t n = 1;
    for (int64_t d : t.shape) n *= (size_t)d;
    out.append((const char*)t.data, 4 * n);  // little-endian host assumed (x86-64, aarch64)
  }
  return out;
}

SafetensorsFile safetensors_parse(std::string bytes, const std::string& path) {
  SafetensorsFile f;
  f.path = path;
  if (bytes.size() < 8) fail(path, ": not a safetensors file (", bytes.size(), " bytes, truncated?)");
  uint64_t len = 0;
  for (int i = 0; i < 8; i++) len |= (uint64_t)(unsigned char)bytes[i] << (8 * i);
  if (len > bytes.size() - 8 || len > (100u << 20))
    fail(path, ": safetensors header length ", len, " does not fit the file of ", bytes.size(),
         " bytes (truncated or corrupted)");
  f.data_start = 8 + len;
  nlohmann::json header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + len, nullptr, false);
  if (header.is_discarded() || !header.is_object()) fail(path, ": safetensors header is not valid JSON (corrupted)");
  const size_t data_size = bytes.size() - f.data_start;
  std::vector<std::pair<size_t, size_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) fail(path, ": __metadata__ must be an object");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) fail(path, ": __metadata__ values must be strings");
        f.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const auto& e = it.value();
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets") ||
        !e["dtype"].is_string() || !e["shape"].is_array() || !e["data_offsets"].is_array() ||
        e["data_offsets"].size() != 2)
      fail(path, ": tensor '", it.key(), "' has a malformed header entry");
    SafetensorsEntry entry;
    entry.dtype = e["dtype"].get<std::string>();
    size_t numel = 1;
    for (const auto& d : e["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (1ull << 40))
        fail(path, ": tensor '", it.key(), "' has an invalid shape");
      entry.shape.push_back(d.get<int64_t>());
      numel *= (size_t)d.get<int64_t>();
      if (numel > (1ull << 40)) fail(path, ": tensor '", it.key(), "' is implausibly large");
    }
    for (const auto& o : e["data_offsets"])
      if (!o.is_number_unsigned()) fail(path, ": tensor '", it.key(), "' has invalid data_offsets");
    entry.begin = e["data_offsets"][0].get<size_t>();
    entry.end = e["data_offsets"][1].get<size_t>();
    size_t elem = entry.dtype == "F32" ? 4 : entry.dtype == "F16" || entry.dtype == "BF16" ? 2 : 0;
    if (elem == 0) fail(path, ": tensor '", it.key(), "' has unsupported dtype ", entry.dtype);
    if (entry.end < entry.begin || entry.end > data_size)
      fail(path, ": tensor '", it.key(), "' data [", entry.begin, ", ", entry.end,
           ") lies outside the data section of ", data_size, " bytes (truncated?)");
    if (entry.end - entry.begin != numel * elem)
      fail(path, ": tensor '", it.key(), "' holds ", entry.end - entry.begin, " bytes but its shape ",
           shape_str(entry.shape), " needs ", numel * elem);
    ranges.push_back({entry.begin, entry.end});
    f.entries[it.key()] = entry;
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); i++)
    if (ranges[i].first < ranges[i - 1].second) fail(path, ": tensors overlap in the data section (corrupted)");
  f.bytes = std::move(bytes);
  return f;
}

SafetensorsFile safetensors_load(const std::string& path) { return safetensors_parse(read_file(path), path); }

// The entry for `name`, checked to exist and to have exactly `shape`.
static const SafetensorsEntry& entry_of(const SafetensorsFile& f, const std::string& name,
                                        const std::vector<int64_t>& shape) {
  auto it = f.entries.find(name);
  if (it == f.entries.end()) fail(f.path, ": tensor '", name, "' is missing");
  if (it->second.shape != shape)
    fail(f.path, ": tensor '", name, "' has shape ", shape_str(it->second.shape), ", the model expects ",
         shape_str(shape));
  return it->second;
}

void SafetensorsFile::read_f32(const std::string& name, const std::vector<int64_t>& shape, float* out) const {
  const SafetensorsEntry& e = entry_of(*this, name, shape);
  if (e.dtype != "F32") fail(path, ": tensor '", name, "' is ", e.dtype, ", expected F32");
  std::memcpy(out, bytes.data() + data_start + e.begin, e.end - e.begin);
}

// IEEE half (1 sign, 5 exponent, 10 mantissa bits) to float, subnormals, Inf and NaN included.
static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);          // Inf or NaN
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);  // rebias 15 -> 127
  } else if (mant == 0) {
    bits = sign;                                       // signed zero
  } else {                                             // subnormal: normalise the mantissa
    int shift = 0;
    while (!(mant & 0x400)) { mant <<= 1; shift++; }
    bits = sign | ((uint32_t)(113 - shift) << 23) | ((mant & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

void SafetensorsFile::read_as_f32(const std::string& name, const std::vector<int64_t>& shape, float* out) const {
  const SafetensorsEntry& e = entry_of(*this, name, shape);
  const char* src = bytes.data() + data_start + e.begin;
  const size_t n = (e.end - e.begin) / (e.dtype == "F32" ? 4 : 2);
  if (e.dtype == "F32") {
    std::memcpy(out, src, e.end - e.begin);
  } else if (e.dtype == "F16" || e.dtype == "BF16") {
    for (size_t i = 0; i < n; i++) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      if (e.dtype == "F16") {
        out[i] = half_to_float(h);
      } else {
        uint32_t bits = (uint32_t)h << 16;  // bfloat16 is the top half of a float
        std::memcpy(out + i, &bits, 4);
      }
    }
  } else {
    fail(path, ": tensor '", name, "' is ", e.dtype, ", expected F32, F16 or BF16");
  }
}

}  // namespace chamber
