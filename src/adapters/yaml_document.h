// A YAML document read into a tree whose every node knows its line, for
// configuration files people write by hand (training recipes), where an
// error must point at the line to fix.
//
//   FM_ASSIGN_OR_RETURN(YamlNode root, parse_yaml(text, "recipe.yaml"));
//   if (const YamlNode* r = root.find("lora_r")) use(r->text, r->line);
//
// Scalars keep their text as written (unquoted) and whether they were
// quoted, so the reader decides the type per key as the consuming program
// would: PyYAML takes `1e-4` as a string and `1.0e-4` as a float, and a
// quoted "true" is never a boolean.
//
// Hostile input is bounded: at most 1 MiB of text, nesting 64 deep and
// 100,000 nodes, counting every node an alias copies (no "billion laughs").
// One document per file; a key given twice in a mapping, and any tag other
// than YAML's standard ones, are errors naming the line.
#ifndef FLOPSMETER_ADAPTERS_YAML_DOCUMENT_H_
#define FLOPSMETER_ADAPTERS_YAML_DOCUMENT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "flopsmeter/status.h"

namespace flopsmeter {

enum class YamlKind { kScalar, kSequence, kMapping };

struct YamlNode {
  YamlKind kind = YamlKind::kScalar;
  std::string text;    // a scalar's value, unquoted
  bool plain = false;  // a scalar written without quotes (null, booleans and numbers are plain)
  uint64_t line = 0;   // 1-based
  std::vector<YamlNode> items;                           // kSequence
  std::vector<std::pair<std::string, YamlNode>> fields;  // kMapping, in file order

  // A mapping's member, or null.
  const YamlNode* find(std::string_view key) const;
  // A plain scalar that YAML 1.1 (PyYAML's safe_load) reads as null: empty, ~, null.
  bool is_null() const;
};

inline constexpr uint64_t kMaxYamlBytes = uint64_t{1} << 20;

// `origin` names the text in errors ("recipe.yaml:12: ...").
Result<YamlNode> parse_yaml(std::string_view text, const std::string& origin);

// The file at `path` (a regular file, at most kMaxYamlBytes).
Result<YamlNode> read_yaml_file(const std::string& path);

}  // namespace flopsmeter

#endif  // FLOPSMETER_ADAPTERS_YAML_DOCUMENT_H_
