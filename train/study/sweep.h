// Sweep grids for `chamber run`: an experiment's `sweep:` map lists, per dotted key, the values to
// try; the runs are every combination (the first axis varies slowest, like nested loops written in
// the file's order). Each combination becomes `--set`-style assignments applied to the experiment
// YAML through yaml_apply_override, so a swept key is checked by the same strict schema as a key
// written in the file.
//
//   sweep:
//     rl.algorithm: [ppo, grpo]
//     rl.kl_coef: [0.001, 0.01]      ->  4 runs: algorithm-ppo__kl_coef-0.001, ...
//
// Run ids: per axis "<name>-<value>" joined by "__", where name is the key's last segment (the
// whole dotted key if two axes share a last segment) and the value keeps only [A-Za-z0-9.+-]
// (anything else becomes '_'). Ids depend only on the axes and values, so re-running the same
// experiment finds the same directories. No sweep: one run with id "main".
#pragma once
#include <map>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace chamber {

struct SweepAxis {
  std::string key;                 // dotted key, e.g. "rl.kl_coef"
  std::vector<std::string> values; // each as YAML text ("0.001", "ppo", "[1, 2]")
  std::vector<YAML::Node> written; // the values as the file wrote them (their lines, for messages)
};

struct SweepPoint {
  std::string id;
  std::vector<std::string> assignments;        // "rl.kl_coef=0.001", in axis order
  std::vector<YAML::Node> written;             // each assignment's value as written, when known
  std::map<std::string, std::string> axes;     // key -> value text
};

// Limits that keep a sweep's cost in proportion to what it asks for: every run is resolved (its
// configs parsed and hashed) before any work starts.
inline constexpr size_t kMaxSweepAxes = 64;
inline constexpr size_t kMaxSweepRuns = 10'000;   // over all grids

// Reads a `sweep:` node (null -> no axes); nested maps read as dotted keys, so
// {rl: {kl_coef: [..]}} equals {rl.kl_coef: [..]} (what `--set sweep.rl.kl_coef=[..]` writes). Each value must be a non-empty list without repeats;
// errors name the file, line and key.
std::vector<SweepAxis> sweep_axes_from_yaml(const YAML::Node& node, const std::string& file);

// Every combination, first axis slowest. Error if two points would share an id, or if there are
// more than kMaxSweepRuns.
std::vector<SweepPoint> sweep_expand(const std::vector<SweepAxis>& axes);

// A sweep may also be a list of grids whose runs are the union: a study where some axes do not
// apply to every value of another (expert iteration has no KL coefficient) lists one grid each,
//   sweep:
//     - {rl.algorithm: [ppo, grpo], rl.policy.kl_coef: [0, 0.001, 0.01]}
//     - {rl.algorithm: [ei]}
// A map reads as one grid. Ids come from each grid's own axes and must be unique across grids.
std::vector<std::vector<SweepAxis>> sweep_grids_from_yaml(const YAML::Node& node, const std::string& file);
std::vector<SweepPoint> sweep_expand_grids(const std::vector<std::vector<SweepAxis>>& grids);

// A YAML node as one-line text ("0.001", "ppo", "[1, 2]") for assignments and ids.
std::string yaml_flow_text(const YAML::Node& node);

}  // namespace chamber
