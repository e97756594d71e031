#include "adapters/yaml_document.h"

#include <yaml.h>

#include <map>

#include "adapters/files.h"
#include "core/json_doc.h"

namespace flopsmeter {
namespace {

constexpr size_t kMaxDepth = 64;
constexpr uint64_t kMaxNodes = 100000;
// Scalar text in the tree, aliased copies included.
constexpr uint64_t kMaxTreeBytes = uint64_t{16} << 20;

// The tags a plain data file may carry (PyYAML's safe_load refuses the rest).
bool standard_tag(std::string_view tag) {
  constexpr std::string_view kPrefix = "tag:yaml.org,2002:";
  if (tag.substr(0, kPrefix.size()) != kPrefix) return false;
  const std::string_view name = tag.substr(kPrefix.size());
  for (std::string_view ok : {"str", "int", "float", "bool", "null", "seq", "map"}) {
    if (name == ok) return true;
  }
  return false;
}

// A parsed event, released when it goes out of scope.
struct Event {
  yaml_event_t e{};
  bool held = false;
  ~Event() {
    if (held) yaml_event_delete(&e);
  }
  uint64_t line() const { return e.start_mark.line + 1; }
};

// Builds the tree from libyaml's events, counting what it builds.
class TreeBuilder {
 public:
  TreeBuilder(std::string_view text, std::string origin) : origin_(std::move(origin)) {
    yaml_parser_initialize(&parser_);
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  }
  ~TreeBuilder() { yaml_parser_delete(&parser_); }
  TreeBuilder(const TreeBuilder&) = delete;
  TreeBuilder& operator=(const TreeBuilder&) = delete;

  Result<YamlNode> document() {
    Event ev;
    FM_RETURN_IF_ERROR(expect(ev, YAML_STREAM_START_EVENT));
    FM_RETURN_IF_ERROR(next(ev));
    if (ev.e.type == YAML_STREAM_END_EVENT) return YamlNode{YamlKind::kScalar, "", true, 1, {}, {}};
    if (ev.e.type != YAML_DOCUMENT_START_EVENT) return error(ev.line(), "expected a document");
    FM_RETURN_IF_ERROR(next(ev));
    FM_ASSIGN_OR_RETURN(YamlNode root, node(ev, 0));
    FM_RETURN_IF_ERROR(expect(ev, YAML_DOCUMENT_END_EVENT));
    FM_RETURN_IF_ERROR(next(ev));
    if (ev.e.type != YAML_STREAM_END_EVENT) {
      return error(ev.line(), "a second document ('---'): one document per file");
    }
    return root;
  }

 private:
  Status error(uint64_t line, const std::string& what) const {
    return Status::ParseError(origin_ + ":" + std::to_string(line) + ": " + what);
  }

  Status next(Event& ev) {
    if (ev.held) yaml_event_delete(&ev.e);
    ev.held = false;
    if (!yaml_parser_parse(&parser_, &ev.e)) {
      std::string what = parser_.problem != nullptr ? parser_.problem : "malformed YAML";
      if (parser_.context != nullptr) what = std::string(parser_.context) + ": " + what;
      return error(parser_.problem_mark.line + 1, "not valid YAML: " + what);
    }
    ev.held = true;
    return Status::Ok();
  }

  Status expect(Event& ev, yaml_event_type_t type) {
    FM_RETURN_IF_ERROR(next(ev));
    if (ev.e.type != type) return error(ev.line(), "unexpected YAML structure");
    return Status::Ok();
  }

  Status count(uint64_t nodes, uint64_t bytes, uint64_t line) {
    nodes_ += nodes;
    bytes_ += bytes;
    if (nodes_ > kMaxNodes || bytes_ > kMaxTreeBytes) {
      return error(line, "more than " + std::to_string(kMaxNodes) + " values or " +
                             std::to_string(kMaxTreeBytes >> 20) + " MiB of text (aliases included)");
    }
    return Status::Ok();
  }

  Status check_tag(const yaml_char_t* tag, uint64_t line) const {
    if (tag == nullptr) return Status::Ok();
    const std::string text(reinterpret_cast<const char*>(tag));
    if (standard_tag(text)) return Status::Ok();
    return error(line, "tag '" + printable_text(text) + "': only YAML's standard types are read");
  }

  // The node that starts with `ev`; `ev` ends on the node's last event.
  Result<YamlNode> node(Event& ev, size_t depth) {
    const uint64_t line = ev.line();
    if (depth > kMaxDepth) return error(line, "nested more than " + std::to_string(kMaxDepth) + " deep");
    YamlNode n;
    n.line = line;
    const yaml_char_t* anchor = nullptr;
    const uint64_t nodes_before = nodes_, bytes_before = bytes_;
    switch (ev.e.type) {
      case YAML_ALIAS_EVENT: {
        auto it = anchors_.find(reinterpret_cast<const char*>(ev.e.data.alias.anchor));
        if (it == anchors_.end()) return error(line, "alias to an unknown anchor");
        FM_RETURN_IF_ERROR(count(it->second.nodes, it->second.bytes, line));
        return it->second.node;
      }
      case YAML_SCALAR_EVENT: {
        FM_RETURN_IF_ERROR(check_tag(ev.e.data.scalar.tag, line));
        anchor = ev.e.data.scalar.anchor;
        n.text.assign(reinterpret_cast<const char*>(ev.e.data.scalar.value), ev.e.data.scalar.length);
        const bool explicit_string =
            ev.e.data.scalar.tag != nullptr && std::string_view(reinterpret_cast<const char*>(ev.e.data.scalar.tag)) ==
                                                   "tag:yaml.org,2002:str";
        n.plain = ev.e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !explicit_string;
        FM_RETURN_IF_ERROR(count(1, n.text.size(), line));
        break;
      }
      case YAML_SEQUENCE_START_EVENT: {
        FM_RETURN_IF_ERROR(check_tag(ev.e.data.sequence_start.tag, line));
        anchor = ev.e.data.sequence_start.anchor;
        n.kind = YamlKind::kSequence;
        std::string anchor_name = anchor != nullptr ? reinterpret_cast<const char*>(anchor) : "";
        FM_RETURN_IF_ERROR(count(1, 0, line));
        while (true) {
          FM_RETURN_IF_ERROR(next(ev));
          if (ev.e.type == YAML_SEQUENCE_END_EVENT) break;
          FM_ASSIGN_OR_RETURN(YamlNode item, node(ev, depth + 1));
          n.items.push_back(std::move(item));
        }
        remember(anchor_name, n, nodes_before, bytes_before);
        return n;
      }
      case YAML_MAPPING_START_EVENT: {
        FM_RETURN_IF_ERROR(check_tag(ev.e.data.mapping_start.tag, line));
        std::string anchor_name =
            ev.e.data.mapping_start.anchor != nullptr ? reinterpret_cast<const char*>(ev.e.data.mapping_start.anchor) : "";
        n.kind = YamlKind::kMapping;
        FM_RETURN_IF_ERROR(count(1, 0, line));
        while (true) {
          FM_RETURN_IF_ERROR(next(ev));
          if (ev.e.type == YAML_MAPPING_END_EVENT) break;
          FM_ASSIGN_OR_RETURN(YamlNode key, node(ev, depth + 1));
          if (key.kind != YamlKind::kScalar) return error(key.line, "a key that is not a plain name");
          for (const auto& [seen, value] : n.fields) {
            if (seen == key.text) {
              return error(key.line, "'" + printable_text(key.text) + "' is given twice (first on line " +
                                         std::to_string(value.line) + ")");
            }
          }
          FM_RETURN_IF_ERROR(next(ev));
          FM_ASSIGN_OR_RETURN(YamlNode value, node(ev, depth + 1));
          n.fields.emplace_back(std::move(key.text), std::move(value));
        }
        remember(anchor_name, n, nodes_before, bytes_before);
        return n;
      }
      default:
        return error(line, "unexpected YAML structure");
    }
    if (anchor != nullptr) remember(reinterpret_cast<const char*>(anchor), n, nodes_before, bytes_before);
    return n;
  }

  void remember(const std::string& anchor, const YamlNode& n, uint64_t nodes_before, uint64_t bytes_before) {
    if (anchor.empty()) return;
    anchors_[anchor] = Anchored{n, nodes_ - nodes_before, bytes_ - bytes_before};
  }

  struct Anchored {
    YamlNode node;
    uint64_t nodes = 0;
    uint64_t bytes = 0;
  };

  yaml_parser_t parser_{};
  std::string origin_;
  std::map<std::string, Anchored> anchors_;
  uint64_t nodes_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace

const YamlNode* YamlNode::find(std::string_view key) const {
  for (const auto& [name, value] : fields) {
    if (name == key) return &value;
  }
  return nullptr;
}

bool YamlNode::is_null() const {
  return kind == YamlKind::kScalar && plain && (text.empty() || text == "~" || text == "null" || text == "Null" ||
                                                 text == "NULL");
}

Result<YamlNode> parse_yaml(std::string_view text, const std::string& origin) {
  if (text.size() > kMaxYamlBytes) {
    return Status::InvalidArgument(origin + ": longer than " + std::to_string(kMaxYamlBytes >> 20) +
                                   " MiB: not a configuration file");
  }
  TreeBuilder builder(text, origin);
  return builder.document();
}

Result<YamlNode> read_yaml_file(const std::string& path) {
  FM_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxYamlBytes));
  return parse_yaml(text, path);
}

}  // namespace flopsmeter
