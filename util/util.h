// Small shared utilities: the one error type, check helpers that name what failed, whole-file I/O,
// atomic writes, the deterministic RNG and a wall clock. Everything else in Chamber builds on these.
#pragma once
#include <cstdint>
#include <functional>
#include <type_traits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace chamber {

// Every user-facing failure (bad config, corrupt file, out of memory budget) is a chamber::Error
// whose message names the file/field and, where there is one, the fix. `main` prints it and exits 1.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Builds a message from pieces: fail("config ", path, ": field 'lr' must be > 0").
template <typename... Args>
[[noreturn]] void fail(const Args&... parts);

template <typename T>
std::string to_str(const T& v) {
  if constexpr (std::is_convertible_v<T, std::string_view>) return std::string(std::string_view(v));
  else return std::to_string(v);
}
template <typename... Args>
[[noreturn]] void fail(const Args&... parts) {
  std::string msg;
  (msg.append(to_str(parts)), ...);
  throw Error(msg);
}

// ---- files ----
// The whole file; Error naming the path if it is unreadable, a directory or a device (/dev/zero
// would never end). A pipe is read up to kMaxStreamBytes.
inline constexpr size_t kMaxStreamBytes = size_t(1) << 30;
std::string read_file(const std::string& path);
// Calls fn(line, line_no) for every line of `text` that is not blank (only spaces, tabs or \r),
// numbered from 1 as an editor shows them, for messages about line-oriented files (jsonl).
void for_each_nonblank_line(std::string_view text,
                            const std::function<void(std::string_view line, int line_no)>& fn);
bool file_exists(const std::string& path);
bool dir_exists(const std::string& path);
void make_dirs(const std::string& path);                 // mkdir -p
void remove_all(const std::string& path);                // rm -rf (no error if missing)
// Writes a temporary beside path, fsyncs, renames over path: a reader sees the old file or the
// new, never half, and concurrent writers of one path each leave one whole version.
void write_file_atomic(const std::string& path, std::string_view contents);
void fsync_dir(const std::string& dir);                  // makes a rename in `dir` durable
std::string path_join(const std::string& a, const std::string& b);
// One directory inside its parent: not empty, no '/', not starting with '.' (so neither "." nor
// ".." nor hidden). Run names must be, so that runs/<name> stays inside runs/.
bool is_plain_name(const std::string& name);
std::string dirname_of(const std::string& path);

// ---- deterministic random numbers ----
// xoshiro256** seeded through splitmix64. The whole state is four words so it goes into a
// checkpoint's JSON and a resumed run draws the same numbers as an uninterrupted one.
struct Rng {
  uint64_t s[4];
  explicit Rng(uint64_t seed = 0) { seed_with(seed); }
  void seed_with(uint64_t seed);
  uint64_t next_u64();
  uint32_t next_u32() { return (uint32_t)(next_u64() >> 32); }
  float uniform();               // [0, 1)
  double uniform_double();       // [0, 1)
  float normal();                // standard normal (Box-Muller, one value per call)
  uint64_t below(uint64_t n);    // uniform in [0, n), unbiased
};

// ---- time ----
double now_seconds();            // monotonic

// Formats bytes as "12.3 MiB".
std::string human_bytes(double bytes);
// A number for messages as printf's %g writes it: 256, 0.95, 1e-06 (not 256.000000).
std::string format_number(double x);

}  // namespace chamber
