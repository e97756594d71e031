// Strict readers for flopsmeter's own data files (rules.json, gpus.json):
// besides JsonDoc's typed getters, non-empty strings, rejection of unknown
// keys (keys starting with '_' are comments) and type names in messages.
// Fields are addressed by RFC 6901 JSON pointers; every message names the
// file, line, column and field. Each data file's loader derives from this and
// adds the readers only it needs.
#ifndef FLOPSMETER_CORE_STRICT_FIELDS_H_
#define FLOPSMETER_CORE_STRICT_FIELDS_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_doc.h"

namespace flopsmeter {

// `text` safe to quote in a message: control bytes and invalid UTF-8 become
// \xNN (a hostile file must not put terminal escapes into our output), and
// text past 60 bytes is cut with "...".
std::string printable(std::string_view text);

// "a, b, c"
std::string join(const std::vector<std::string>& items, const char* separator);

// Puts `entry` in `entries`: replaces the one with the same id in place, or
// appends it. How a user's data file overrides the built-in entries.
template <typename Entry>
void replace_or_append_by_id(std::vector<Entry>& entries, const Entry& entry) {
  for (Entry& e : entries) {
    if (e.id == entry.id) {
      e = entry;
      return;
    }
  }
  entries.push_back(entry);
}

class StrictFields {
 public:
  using Json = nlohmann::json;

  explicit StrictFields(const JsonDoc& doc) : doc_(doc) {}

  Status Error(const std::string& pointer, const std::string& message) const { return doc_.error(pointer, message); }
  static std::string Child(const std::string& pointer, std::string_view key) { return JsonDoc::child(pointer, key); }
  static std::string Index(const std::string& pointer, size_t i) { return JsonDoc::child(pointer, i); }

  // A present, non-null member, or nullptr.
  static const Json* Member(const Json& object, std::string_view key);
  // "a number", "a string", ... for messages.
  static std::string TypeName(const Json& node);

  Status RequireObject(const Json& node, const std::string& pointer) const;
  // Fails on a key of `object` not in `allowed`; keys starting with '_' are
  // comments and always allowed.
  Status CheckKeys(const Json& object, const std::string& pointer, const std::vector<std::string>& allowed) const;
  Result<std::string> RequiredString(const Json& object, const std::string& pointer, std::string_view key) const;
  // The entry's "id": lower-case letters, digits, '_', '-' and '.', starting
  // with a letter or digit, so ids are stable keys for overrides.
  Result<std::string> RequiredId(const Json& object, const std::string& pointer) const;
  Result<std::optional<std::string>> OptionalString(const Json& object, const std::string& pointer,
                                                    std::string_view key) const;

 protected:
  const JsonDoc& doc_;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_CORE_STRICT_FIELDS_H_
