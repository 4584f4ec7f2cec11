// Parsing YAML text with limits. Every YAML file Chamber reads (configs, data specs, experiments)
// and every `--set` value goes through yaml_parse, so careless or hostile input is an error naming
// the file and line instead of a setting silently ignored or memory used without bound:
//   - one document: a second one after `---` would otherwise be dropped unread;
//   - no key twice in one map: yaml-cpp keeps both and a lookup sees only the first;
//   - at most kMaxYamlNodes nodes with every alias (*name) expanded. Aliases share nodes, so a
//     ~1 KB file whose anchors refer to each other nine levels deep is 387 million nodes to any
//     code that walks it (a sweep flattening nested maps, a section merge, an emitter); it is
//     refused here, before anything walks it.
#pragma once
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>

namespace chamber {

// Shipped configs hold at most a few hundred nodes; this leaves a large margin.
inline constexpr int64_t kMaxYamlNodes = 100'000;

// Parses `text`; `name` (a path, or "--set 'k=v'") labels the messages. Empty text is a null node.
YAML::Node yaml_parse(const std::string& text, const std::string& name);

// A deep copy of `node` made of fresh nodes that carry no position in any file. `--set` values
// are copied this way, so a message about one says it comes from --set instead of pointing at a
// line of the config file it was applied to.
YAML::Node yaml_without_position(const YAML::Node& node);

// Where a node came from, to start a message: "FILE:LINE" for a node read from FILE,
// "FILE (from --set)" for one that has no position (a --set value), "FILE" for an absent node.
std::string yaml_where(const std::string& file, const YAML::Node& node);

}  // namespace chamber
