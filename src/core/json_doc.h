// JsonDoc: a parsed JSON text that remembers where its fields were written,
// so that every error about user input can name the file, line, column and
// field it is about.
//
// parse_json_document() is pure (no file I/O) and safe on hostile input: the
// size is capped, nesting deeper than kMaxJsonDepth is refused by a cheap scan
// before any tree is built, and a syntax error is reported as
//
//   config.json:3:17: unexpected end of input (truncated file?)
//
// Fields are addressed with JSON pointers (RFC 6901): "" is the document,
// "/text_config/hidden_size" a member, "/regimes/3/id" a member of the fourth
// array element. The typed readers below take the object, the pointer of that
// object and the key, and fail with messages such as
//
//   config.json:7:5: field 'text_config.hidden_size': expected a non-negative
//   integer, got string "4096"
//
// Typical use in a loader:
//
//   FM_ASSIGN_OR_RETURN(JsonDoc doc, parse_json_document(text, "config.json"));
//   FM_ASSIGN_OR_RETURN(uint64_t hidden,
//                       doc.get_uint(doc.root, "", "hidden_size"));
//   FM_ASSIGN_OR_RETURN(bool tied,
//                       doc.get_bool(doc.root, "", "tie_word_embeddings", false));
//   FM_ASSIGN_OR_RETURN(const nlohmann::json* text_config,
//                       doc.get_object(doc.root, "", "text_config"));
//   std::string tc = JsonDoc::child("", "text_config");  // "/text_config"
//   FM_ASSIGN_OR_RETURN(uint64_t layers,
//                       doc.get_uint(*text_config, tc, "num_hidden_layers"));
//   if (layers == 0) return doc.error(JsonDoc::child(tc, "num_hidden_layers"), "must be positive");
//
// A member whose value is JSON null counts as absent: it takes the default
// when one is given (Hugging Face configs write `"head_dim": null` to mean
// "not set"). All readers return Status::ParseError for bad input and never
// throw.
//
// Thread safety: a JsonDoc is an immutable value after parsing; const member
// functions may be called from several threads at once.
#ifndef FLOPSMETER_CORE_JSON_DOC_H_
#define FLOPSMETER_CORE_JSON_DOC_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "flopsmeter/status.h"

namespace flopsmeter {

// Default cap on the size of a JSON text given to parse_json_document().
inline constexpr uint64_t kMaxJsonDocumentBytes = uint64_t{64} << 20;  // 64 MiB

// Deepest nesting of arrays and objects accepted; `[[1]]` has depth 2.
inline constexpr size_t kMaxJsonDepth = 256;

// A 1-based line and column. Columns count characters (UTF-8 code points),
// not bytes, so they match what an editor shows for non-ASCII text.
struct TextPosition {
  size_t line = 0;
  size_t column = 0;
};

// Where keys sit in a JSON text, as a tree: node kRoot is the document and
// each recorded member, or element that is itself an object or array, is an
// edge (parent node, token). A tree rather than a map of full pointers keeps
// memory linear in the text size even for deeply nested long keys. Scalars
// inside arrays are not recorded: a large numeric array would cost more in
// the index than in the document.
// Filled by parse_json_document(); exposed only so JsonDoc can hold it.
class JsonKeyIndex {
 public:
  static constexpr uint32_t kRoot = 0;

  // Adds `token` under `parent` at `position`. Returns the new node, or
  // nullopt when `parent` already has that token (a duplicate key) or the
  // index is full.
  std::optional<uint32_t> add(uint32_t parent, std::string token, TextPosition position);
  std::optional<uint32_t> find(uint32_t parent, const std::string& token) const;
  TextPosition position(uint32_t node) const { return positions_[node]; }

 private:
  struct Edge {
    uint32_t parent;
    std::string token;
    bool operator==(const Edge& other) const = default;
  };
  struct EdgeHash {
    size_t operator()(const Edge& edge) const;
  };
  std::unordered_map<Edge, uint32_t, EdgeHash> children_;
  std::vector<TextPosition> positions_{TextPosition{}};  // by node; [kRoot] unused
};

class JsonDoc {
 public:
  nlohmann::json root;  // the parsed document
  std::string origin;   // how messages name the text, usually its file name

  // "ORIGIN:LINE:COL: field 'text_config.hidden_size'" where LINE:COL is the
  // key of that member, or of its nearest ancestor whose position was
  // recorded (members missing from the text, and scalars inside arrays, are
  // located by the enclosing field). "ORIGIN: field 'hidden_size'" when no
  // ancestor has a position (e.g. a top-level member that is missing), and
  // just "ORIGIN" for the root pointer "". Array indices are written as
  // "regimes[3].id".
  std::string where(const std::string& json_pointer) const;

  // Position of the key (or, for an array element that is an object or
  // array, of its opening bracket) at exactly this pointer, if recorded.
  std::optional<TextPosition> position_of(const std::string& json_pointer) const;

  // A ParseError "WHERE: message", with WHERE as from where(json_pointer).
  // For checks the typed readers cannot express (ranges, enumerations).
  Status error(const std::string& json_pointer, std::string_view message) const;

  // Pointer of a member or element: child("/a", "b") == "/a/b",
  // child("/a", 3) == "/a/3". Keys are escaped as RFC 6901 requires
  // ("a/b" becomes "a~1b").
  static std::string child(const std::string& pointer, std::string_view key);
  static std::string child(const std::string& pointer, size_t index);

  // True when `obj` is an object holding `key` with a value other than null.
  static bool has(const nlohmann::json& obj, std::string_view key);

  // Typed member readers. `obj` is the object to read from and `obj_pointer`
  // its JSON pointer in this document (used only for messages). When the
  // member is absent or null, `default_value` is returned if given, otherwise
  // the error says the field is required (so leaving the default out means
  // "required"). An `obj` that is not an object is an error too.
  //
  // get_uint: a non-negative integer. An integral float such as 4096.0 is
  // accepted up to 2^53 (beyond that the float no longer holds the integer
  // the file meant); negative, fractional and non-numeric values fail.
  Result<uint64_t> get_uint(const nlohmann::json& obj, const std::string& obj_pointer,
                            std::string_view key,
                            std::optional<uint64_t> default_value = std::nullopt) const;
  // get_int: a signed 64-bit integer, same float rule as get_uint.
  Result<int64_t> get_int(const nlohmann::json& obj, const std::string& obj_pointer,
                          std::string_view key,
                          std::optional<int64_t> default_value = std::nullopt) const;
  // get_double: any finite number (integers above 2^53 are rounded).
  Result<double> get_double(const nlohmann::json& obj, const std::string& obj_pointer,
                            std::string_view key,
                            std::optional<double> default_value = std::nullopt) const;
  // get_bool: true or false only (not 0/1, not "true").
  Result<bool> get_bool(const nlohmann::json& obj, const std::string& obj_pointer,
                        std::string_view key,
                        std::optional<bool> default_value = std::nullopt) const;
  // get_string: a JSON string.
  Result<std::string> get_string(const nlohmann::json& obj, const std::string& obj_pointer,
                                 std::string_view key,
                                 std::optional<std::string> default_value = std::nullopt) const;
  // get_object / get_array: a required member of that type. The pointer
  // stays valid as long as the document is neither modified nor destroyed.
  Result<const nlohmann::json*> get_object(const nlohmann::json& obj,
                                           const std::string& obj_pointer,
                                           std::string_view key) const;
  Result<const nlohmann::json*> get_array(const nlohmann::json& obj,
                                          const std::string& obj_pointer,
                                          std::string_view key) const;

  // Value readers: the same conversions applied to a value already in hand,
  // e.g. an array element, whose own pointer is `pointer`.
  Result<uint64_t> as_uint(const nlohmann::json& value, const std::string& pointer) const;
  Result<int64_t> as_int(const nlohmann::json& value, const std::string& pointer) const;
  Result<double> as_double(const nlohmann::json& value, const std::string& pointer) const;
  Result<bool> as_bool(const nlohmann::json& value, const std::string& pointer) const;
  Result<std::string> as_string(const nlohmann::json& value, const std::string& pointer) const;

 private:
  friend Result<JsonDoc> parse_json_document(std::string_view text, std::string origin,
                                             uint64_t max_bytes);

  // Dotted display name of a pointer: "/regimes/3/id" -> "regimes[3].id".
  std::string field_name(const std::string& json_pointer) const;
  // The member `key` of `obj`, or nullptr when absent or null. Fails when
  // `obj` is not an object.
  Result<const nlohmann::json*> member(const nlohmann::json& obj, const std::string& obj_pointer,
                                       std::string_view key) const;
  Status missing(const std::string& pointer) const;

  JsonKeyIndex keys_;
};

// Parses `text` (UTF-8 JSON, RFC 8259; no comments, no trailing commas, no
// duplicate keys) into a JsonDoc whose messages name `origin`. Fails with a
// ParseError "ORIGIN:LINE:COL: what is wrong" for malformed text or nesting
// deeper than kMaxJsonDepth, and with InvalidArgument when `text` is longer
// than `max_bytes`.
Result<JsonDoc> parse_json_document(std::string_view text, std::string origin,
                                    uint64_t max_bytes = kMaxJsonDocumentBytes);

// `text` made safe to quote in a message: control characters and bytes that
// are not well-formed UTF-8 become \xNN, so a hostile file can put neither
// terminal escapes nor invalid UTF-8 (which would break JSON output) into
// an error message.
std::string printable_text(std::string_view text);

// Length of the well-formed UTF-8 sequence starting at s[i] (Unicode's
// table 3-7: no overlong forms, surrogates or values past U+10FFFF), or 0
// when the bytes there are not one. REQUIRES: i < s.size().
size_t utf8_sequence_length(std::string_view s, size_t i);

// Line and column of byte `offset` in `text` (offset == text.size() is the
// position just past the end).
TextPosition text_position_at(std::string_view text, size_t offset);

}  // namespace flopsmeter

#endif  // FLOPSMETER_CORE_JSON_DOC_H_
