// YAML parsing with limits: see util/yaml.h.
#include "util/yaml.h"

#include <map>
#include <vector>

#include "util/util.h"

namespace chamber {

static std::string line_of(const YAML::Node& node) {
  int line = node.Mark().line;
  return line >= 0 ? std::to_string(line + 1) : "?";
}

// Walks the tree with every alias expanded (an explicit stack: nesting depth is the input's
// choice), counting nodes and checking each map's keys for repeats.
static void check_tree(const YAML::Node& root, const std::string& name) {
  int64_t nodes = 0;
  std::vector<YAML::Node> stack{root};
  while (!stack.empty()) {
    YAML::Node node = stack.back();
    stack.pop_back();
    if (++nodes > kMaxYamlNodes)
      fail(name, ": more than ", kMaxYamlNodes, " YAML nodes once aliases (*name) are expanded; anchors "
           "that refer to each other multiply (an alias bomb). Write the values out instead");
    if (node.IsSequence()) {
      for (const auto& item : node) stack.push_back(item);
    } else if (node.IsMap()) {
      std::map<std::string, YAML::Node> first;   // key text -> its first key node
      for (const auto& kv : node) {
        if (kv.first.IsScalar()) {
          auto [it, fresh] = first.emplace(kv.first.Scalar(), kv.first);
          if (!fresh)
            fail(name, ":", line_of(kv.first), ": the key '", kv.first.Scalar(), "' appears twice in one map "
                 "(first on line ", line_of(it->second), "); YAML would keep only the first. Remove one");
        }
        stack.push_back(kv.first);
        stack.push_back(kv.second);
      }
    }
  }
}

YAML::Node yaml_parse(const std::string& text, const std::string& name) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::ParserException& e) {
    fail(name, ":", e.mark.line + 1, ":", e.mark.column + 1, ": YAML syntax error: ", e.msg);
  } catch (const YAML::Exception& e) {
    fail(name, ": cannot read as YAML: ", e.what());
  }
  if (docs.empty()) return YAML::Node();
  if (docs.size() > 1)
    fail(name, ":", line_of(docs[1]), ": a second YAML document (after '---'); a file holds one "
         "document, and the second would be ignored. Remove the '---' or merge the documents");
  check_tree(docs[0], name);
  return docs[0];
}

YAML::Node yaml_without_position(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: {
      YAML::Node copy(node.Scalar());
      if (!node.Tag().empty() && node.Tag() != "?") copy.SetTag(node.Tag());   // keeps !!str and quoting
      return copy;
    }
    case YAML::NodeType::Sequence: {
      YAML::Node copy(YAML::NodeType::Sequence);
      copy.SetStyle(node.Style());
      for (const auto& item : node) copy.push_back(yaml_without_position(item));
      return copy;
    }
    case YAML::NodeType::Map: {
      YAML::Node copy(YAML::NodeType::Map);
      copy.SetStyle(node.Style());
      for (const auto& kv : node) copy[yaml_without_position(kv.first)] = yaml_without_position(kv.second);
      return copy;
    }
    case YAML::NodeType::Null:
      return YAML::Node(YAML::NodeType::Null);
    default:
      return YAML::Node();
  }
}

std::string yaml_where(const std::string& file, const YAML::Node& node) {
  if (!node.IsDefined()) return file;
  if (node.Mark().line < 0) return file + " (from --set)";
  return file + ":" + std::to_string(node.Mark().line + 1);
}

}  // namespace chamber
