#include "core/strict_fields.h"

#include <algorithm>

namespace flopsmeter {

std::string printable(std::string_view text) {
  constexpr size_t kMaxBytes = 60;
  if (text.size() <= kMaxBytes) return printable_text(text);
  return printable_text(text.substr(0, kMaxBytes)) + "...";
}

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

const StrictFields::Json* StrictFields::Member(const Json& object, std::string_view key) {
  if (!JsonDoc::has(object, key)) return nullptr;
  return &*object.find(key);
}

std::string StrictFields::TypeName(const Json& node) {
  if (node.is_number()) return "a number";
  if (node.is_string()) return "a string";
  if (node.is_boolean()) return "a boolean";
  if (node.is_array()) return "an array";
  if (node.is_object()) return "an object";
  return "null";
}

Status StrictFields::RequireObject(const Json& node, const std::string& pointer) const {
  if (!node.is_object()) return Error(pointer, "expected an object, got " + TypeName(node));
  return Status::Ok();
}

Status StrictFields::CheckKeys(const Json& object, const std::string& pointer,
                               const std::vector<std::string>& allowed) const {
  for (const auto& item : object.items()) {
    const std::string& key = item.key();
    if (!key.empty() && key[0] == '_') continue;
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return Error(Child(pointer, key), "unknown field; allowed: " + join(allowed, ", "));
    }
  }
  return Status::Ok();
}

Result<std::string> StrictFields::RequiredString(const Json& object, const std::string& pointer,
                                                 std::string_view key) const {
  const Json* node = Member(object, key);
  if (node == nullptr) return Error(Child(pointer, key), "missing (a non-empty string is required)");
  if (!node->is_string()) return Error(Child(pointer, key), "expected a string, got " + TypeName(*node));
  std::string value = node->get<std::string>();
  if (value.empty()) return Error(Child(pointer, key), "must not be empty");
  return value;
}

Result<std::string> StrictFields::RequiredId(const Json& object, const std::string& pointer) const {
  FM_ASSIGN_OR_RETURN(std::string id, RequiredString(object, pointer, "id"));
  auto id_char = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'; };
  bool valid = id_char(id[0]) && id[0] != '_' && id[0] != '-' && id[0] != '.' && std::all_of(id.begin(), id.end(), id_char);
  if (!valid) {
    return Error(Child(pointer, "id"),
                 "'" + printable(id) + "' is not a valid id (lower-case letters, digits, '_', '-', '.')");
  }
  return id;
}

Result<std::optional<std::string>> StrictFields::OptionalString(const Json& object, const std::string& pointer,
                                                                std::string_view key) const {
  const Json* node = Member(object, key);
  if (node == nullptr) return std::optional<std::string>();
  if (!node->is_string()) return Error(Child(pointer, key), "expected a string or null, got " + TypeName(*node));
  return std::optional<std::string>(node->get<std::string>());
}

}  // namespace flopsmeter
