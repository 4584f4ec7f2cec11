#include "train/metrics.h"

#include <sstream>

#include "engine/util.h"

namespace chamber {

MetricsLog metrics_open(const std::string& path, int64_t keep_before_step) {
  MetricsLog log;
  log.path = path;
  std::string kept;
  if (keep_before_step >= 0 && file_exists(path)) {
    std::istringstream in(read_file(path));
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      // A torn last line (killed mid-write) or a line past the resume point is dropped.
      if (j.is_discarded() || !j.is_object() || !j.contains("step") || !j["step"].is_number()) continue;
      if (j["step"].get<int64_t>() < keep_before_step) kept += line + "\n";
    }
  }
  write_file_atomic(path, kept);
  log.file = std::fopen(path.c_str(), "a");
  if (!log.file) fail("cannot open ", path, " for writing");
  return log;
}

void metrics_write(MetricsLog& log, const nlohmann::json& line) {
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::fwrite(text.data(), 1, text.size(), log.file);
  std::fflush(log.file);
}

void metrics_close(MetricsLog& log) {
  if (log.file) std::fclose(log.file);
  log.file = nullptr;
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e8) return "?";
  long s = (long)(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

}  // namespace chamber
