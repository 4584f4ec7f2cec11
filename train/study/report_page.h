// Pieces of the report page shared by its two files: report.cpp (the page, and a section per run)
// and report_seeds_page.cpp (the sections for seed groups). Internal to train/study/.
#pragma once
#include <string>
#include <vector>

#include "train/study/report.h"

namespace chamber {

// ---- report.cpp ----
std::string report_num(double v);   // "0.750", "1200"; "&ndash;" for NaN
// A chart over RL steps (log axis).
ChartAxes report_rl_axes(const std::string& title, const std::string& y_label);
std::string report_table_header(const std::vector<std::string>& first, const std::vector<std::string>& cols);
// A few sampled generations per style of one run.
std::string report_generations_block(const ReportRun& run, int per_style);

// ---- report_seeds_page.cpp ----
// A table cell: the mean, and its interval when there is one (then `count` after it, "3 seeds").
std::string report_interval_cell(const Interval& iv, const std::string& count);
// One row per seed group: every final number as mean and interval over the group's seeds.
std::string report_group_table(const ReportData& data);
// Pretraining curves of runs that differ only by seed: the mean with its band.
std::vector<ChartSeries> report_pretrain_band_series(const ReportData& data);
// A group's section: findings, notes, banded charts, the first seed's generations.
std::string report_group_section(const ReportData& data, const SeedGroup& g, int per_style);
// Findings counted over seeds, one line per group ("" when there are none).
std::string report_findings_section(const ReportData& data);

}  // namespace chamber
