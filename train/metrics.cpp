#include "train/metrics.h"

#include <sstream>

#include "util/util.h"

namespace chamber {

MetricsLog metrics_open(const std::string& path, int64_t keep_before_step) {
  MetricsLog log;
  log.path = path;
  std::string kept;
  if (keep_before_step >= 0)
    for (const auto& j : metrics_read(path))  // lines past the resume point are dropped
      if (j["step"].get<int64_t>() < keep_before_step) kept += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  write_file_atomic(path, kept);
  log.file = std::fopen(path.c_str(), "a");
  if (!log.file) fail("cannot open ", path, " for writing");
  return log;
}

std::vector<nlohmann::json> metrics_read(const std::string& path) {
  std::vector<nlohmann::json> lines;
  if (!file_exists(path)) return lines;
  std::istringstream in(read_file(path));
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("step") || !j["step"].is_number()) continue;
    lines.push_back(std::move(j));
  }
  return lines;
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
