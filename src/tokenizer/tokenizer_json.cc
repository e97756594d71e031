#include "tokenizer/tokenizer_json.h"

#include "core/strict_fields.h"  // printable

namespace flopsmeter {

Result<Pattern> parse_pattern(const JsonDoc& doc, const nlohmann::json& spec,
                              const std::string& pointer) {
  FM_ASSIGN_OR_RETURN(const nlohmann::json* pattern, doc.get_object(spec, pointer, "pattern"));
  const std::string pattern_pointer = JsonDoc::child(pointer, "pattern");
  if (JsonDoc::has(*pattern, "String")) {
    FM_ASSIGN_OR_RETURN(std::string literal, doc.get_string(*pattern, pattern_pointer, "String"));
    return Pattern::Literal(literal);
  }
  if (JsonDoc::has(*pattern, "Regex")) {
    FM_ASSIGN_OR_RETURN(std::string regex, doc.get_string(*pattern, pattern_pointer, "Regex"));
    Result<Pattern> compiled = Pattern::Regex(regex);
    if (!compiled.ok()) {
      return doc.error(JsonDoc::child(pattern_pointer, "Regex"), compiled.status().message());
    }
    return compiled;
  }
  return doc.error(pattern_pointer, "expected {\"String\": ...} or {\"Regex\": ...}");
}

std::string stage_name(std::string_view step, const std::string& pointer, std::string_view type) {
  std::string indices;
  size_t start = 0;
  while (start < pointer.size()) {
    const size_t slash = pointer.find('/', start + 1);
    const std::string_view token =
        std::string_view(pointer).substr(start + 1, slash == std::string::npos ? std::string::npos : slash - start - 1);
    if (!token.empty() && token.find_first_not_of("0123456789") == std::string_view::npos) {
      indices += (indices.empty() ? "" : ".") + std::string(token);
    }
    if (slash == std::string::npos) break;
    start = slash;
  }
  return std::string(step) + (indices.empty() ? "" : " " + indices) + " (" + printable(type) + ")";
}

Status unsupported_type(const JsonDoc& doc, const std::string& pointer, std::string_view what,
                        std::string_view type, std::string_view supported) {
  Status located = doc.error(JsonDoc::child(pointer, "type"),
                             "unsupported " + std::string(what) + " \"" + printable(type) +
                                 "\" (flopsmeter supports: " + std::string(supported) + ")");
  return Status::Unsupported(located.message());
}

}  // namespace flopsmeter
