// libFuzzer entry point for the interpreter (built by tests/data/run_fuzz.sh with
// -fsanitize=fuzzer,address,undefined; excluded from the library). The input is split at "\x01"
// bytes into notebook cells; the first cell is also run as a TinyGSM function, and the whole input
// goes through the grader. Any crash, sanitizer report or hang (libFuzzer's -timeout) is a bug:
// the limits must bound every run.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/grader.h"
#include "data/interpreter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view src(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> cells;
  size_t pos = 0;
  while (pos <= src.size()) {
    size_t cut = src.find('\x01', pos);
    if (cut == std::string_view::npos) cut = src.size();
    cells.push_back(src.substr(pos, cut - pos));
    pos = cut + 1;
  }
  chamber::InterpreterLimits lim;
  lim.max_steps = 20'000;  // keeps each input fast so the fuzzer explores more of them
  chamber::py_run_cells(cells, lim);
  chamber::py_run_function(cells[0], "", lim);
  chamber::grade_completion(src, "42");
  return 0;
}
