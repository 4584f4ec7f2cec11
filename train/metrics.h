// metrics.jsonl: one JSON object per line, each with a "step". Lines are flushed as written so a
// killed run keeps them; resuming from step S first drops lines with step >= S, so the file of a
// resumed run reads exactly like the file of an uninterrupted one.
#pragma once
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace chamber {

struct MetricsLog {
  std::string path;
  FILE* file = nullptr;
};

// Opens for appending. keep_before_step < 0: start a new file; else keep lines with step < it.
MetricsLog metrics_open(const std::string& path, int64_t keep_before_step);
void metrics_write(MetricsLog& log, const nlohmann::json& line);
void metrics_close(MetricsLog& log);
// The lines of a metrics file that are JSON objects with a numeric "step", in file order (a torn
// last line of a killed run is skipped). A missing file gives no lines.
std::vector<nlohmann::json> metrics_read(const std::string& path);

// "1h02m", "3m05s", "12s"
std::string format_duration(double seconds);

}  // namespace chamber
