// JsonDoc: parsing with positions, and typed field readers.
//
// Parsing takes two passes over the text:
//   1. A small scanner of our own walks the bytes once. It refuses nesting
//      deeper than kMaxJsonDepth before any tree exists (nlohmann builds and
//      frees trees with loops, but code that later walks the tree recursively
//      would not survive a million '['), records where each key sits, and
//      finds duplicate keys, which nlohmann would silently merge.
//   2. nlohmann's SAX parser builds the tree through DomBuilder, which, unlike
//      json::parse, hands us the byte offset of every error (json::parse
//      throws out_of_range for "1e400" with no offset at all).
// The scanner trusts nothing: on malformed text it may record nonsense, but
// only after the point where nlohmann reports the syntax error, and a syntax
// error always wins over what the scanner found.
#include "core/json_doc.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <new>
#include <utility>

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

constexpr uint32_t kNoNode = std::numeric_limits<uint32_t>::max();
// Longest excerpt of a user's string value quoted in a message.
constexpr size_t kMaxQuotedChars = 40;

bool is_utf8_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Length of the UTF-8 byte order mark at the start of `text`, 0 or 3.
// nlohmann skips it; columns should not count it either.
size_t bom_length(std::string_view text) {
  return text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
}

}  // namespace

size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t length = 0;
  uint32_t min_code = 0;
  uint32_t code = 0;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    length = 2, min_code = 0x80, code = c & 0x1Fu;
  } else if (c >= 0xE0 && c <= 0xEF) {
    length = 3, min_code = 0x800, code = c & 0x0Fu;
  } else if (c >= 0xF0 && c <= 0xF4) {
    length = 4, min_code = 0x10000, code = c & 0x07u;
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(s[i + k]);
    if (!is_utf8_continuation(next)) return 0;
    code = (code << 6) | (next & 0x3Fu);
  }
  if (code < min_code || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return length;
}

std::string printable_text(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t length = utf8_sequence_length(s, i);
    if (length == 0 || c < 0x20 || c == 0x7F) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
      ++i;
      continue;
    }
    out.append(s.substr(i, length));
    i += length;
  }
  return out;
}

namespace {

// At most kMaxQuotedChars characters of `s`, cut on a character boundary.
std::string excerpt(std::string_view s) {
  size_t chars = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (is_utf8_continuation(static_cast<unsigned char>(s[i]))) continue;
    if (chars == kMaxQuotedChars) return printable_text(s.substr(0, i)) + "...";
    ++chars;
  }
  return printable_text(s);
}

// "got ..." text for a value of the wrong kind.
std::string describe(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return value.get<bool>() ? "true" : "false";
    case Json::value_t::string:
      return "string \"" + excerpt(value.get_ref<const std::string&>()) + "\"";
    case Json::value_t::object: return "an object";
    case Json::value_t::array: return "an array";
    case Json::value_t::binary: return "binary data";
    case Json::value_t::discarded: return "a discarded value";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return value.dump();
  }
  return "an unknown value";
}

std::string format_position(const std::string& origin, TextPosition position) {
  return origin + ":" + std::to_string(position.line) + ":" + std::to_string(position.column);
}

// Splits a JSON pointer into unescaped tokens. A string not starting with
// '/' is taken as a single token so that a caller's slip still names a field.
std::vector<std::string> pointer_tokens(const std::string& pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  size_t start = pointer[0] == '/' ? 1 : 0;
  while (true) {
    const size_t slash = pointer.find('/', start);
    const std::string_view raw =
        std::string_view(pointer).substr(start, slash == std::string::npos ? std::string::npos
                                                                            : slash - start);
    std::string token;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        token += raw[i + 1] == '0' ? '~' : '/';
        ++i;
      } else {
        token += raw[i];
      }
    }
    tokens.push_back(std::move(token));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return tokens;
}

// Array index named by a pointer token ("0", "17"; not "01" or "-1").
std::optional<size_t> array_index(const std::string& token) {
  if (token.empty() || token.size() > 18 || (token.size() > 1 && token[0] == '0')) {
    return std::nullopt;
  }
  size_t index = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return std::nullopt;
    index = index * 10 + static_cast<size_t>(c - '0');
  }
  return index;
}

void append_utf8(uint32_t code, std::string* out) {
  if (code < 0x80) {
    *out += static_cast<char>(code);
  } else if (code < 0x800) {
    *out += static_cast<char>(0xC0 | (code >> 6));
    *out += static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    *out += static_cast<char>(0xE0 | (code >> 12));
    *out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (code >> 18));
    *out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

// Reads 4 hex digits at raw[i], or nullopt.
std::optional<uint32_t> hex4(std::string_view raw, size_t i) {
  if (i + 4 > raw.size()) return std::nullopt;
  uint32_t code = 0;
  for (size_t k = i; k < i + 4; ++k) {
    const char c = raw[k];
    uint32_t digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<uint32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    code = code * 16 + digit;
  }
  return code;
}

// Decodes the body of a JSON string (between the quotes) the way nlohmann
// does for valid input, so a key recorded by the scanner equals the key in
// the tree. Malformed escapes are copied through: nlohmann rejects that text.
std::string decode_string_body(std::string_view raw) {
  if (raw.find('\\') == std::string_view::npos) return std::string(raw);
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\' || i + 1 == raw.size()) {
      out += raw[i];
      continue;
    }
    const char escaped = raw[++i];
    switch (escaped) {
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        std::optional<uint32_t> code = hex4(raw, i + 1);
        if (!code) {
          out += "\\u";
          break;
        }
        i += 4;
        if (*code >= 0xD800 && *code <= 0xDBFF && i + 2 < raw.size() && raw[i + 1] == '\\' &&
            raw[i + 2] == 'u') {
          std::optional<uint32_t> low = hex4(raw, i + 3);
          if (low && *low >= 0xDC00 && *low <= 0xDFFF) {
            *code = 0x10000 + ((*code - 0xD800) << 10) + (*low - 0xDC00);
            i += 6;
          }
        }
        append_utf8(*code, &out);
        break;
      }
      default: out += escaped; break;  // '"', '\\', '/'
    }
  }
  return out;
}

// What the scanner found before nlohmann sees the text.
struct ScanResult {
  std::optional<size_t> too_deep_offset;  // the bracket opening level kMaxJsonDepth + 1
  std::optional<size_t> nul_offset;       // first NUL byte (nlohmann stops there)
  struct Duplicate {
    std::string key;
    TextPosition position;
    TextPosition first_position;
  };
  std::optional<Duplicate> duplicate;  // first duplicate key
};

// One pass over the text: depth, key positions, duplicate keys, NUL bytes.
// Exact on every prefix of valid JSON; best effort past a syntax error.
class StructureScanner {
 public:
  StructureScanner(std::string_view text, JsonKeyIndex* keys) : text_(text), keys_(keys) {}

  ScanResult Run() {
    ScanResult result;
    size_t i = bom_length(text_);
    while (i < text_.size()) {
      const char c = text_[i];
      if (c == '\0') {
        result.nul_offset = i;
        return result;
      }
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        Advance(c);
        ++i;
        continue;
      }
      const TextPosition here{line_, chars_in_line_ + 1};
      const uint32_t element_node = StartArrayElement(c, here);
      switch (c) {
        case '"': {
          const size_t body_begin = i + 1;
          size_t end = body_begin;
          bool closed = false;
          Advance(c);
          while (end < text_.size()) {
            const char s = text_[end];
            if (s == '\0') break;
            if (s == '"') {
              closed = true;
              break;
            }
            Advance(s);
            if (s == '\\' && end + 1 < text_.size() && text_[end + 1] != '\0') {
              Advance(text_[end + 1]);
              ++end;
            }
            ++end;
          }
          if (!closed) {
            // Unterminated string: nlohmann reports it; a NUL is ours to report.
            if (end < text_.size()) result.nul_offset = end;
            return result;
          }
          if (!stack_.empty() && stack_.back().is_object && stack_.back().expecting_key) {
            RecordKey(text_.substr(body_begin, end - body_begin), here, &result);
          }
          Advance('"');
          i = end + 1;
          continue;
        }
        case '{':
        case '[': {
          uint32_t node = kNoNode;
          if (stack_.empty()) {
            node = JsonKeyIndex::kRoot;
          } else if (stack_.back().is_object) {
            node = std::exchange(stack_.back().value_node, kNoNode);
          } else {
            node = element_node;
          }
          stack_.push_back(Frame{.is_object = c == '{', .node = node});
          if (stack_.size() > kMaxJsonDepth) {
            result.too_deep_offset = i;
            return result;
          }
          break;
        }
        case '}':
        case ']':
          if (!stack_.empty()) stack_.pop_back();
          break;
        case ',':
          if (!stack_.empty()) {
            Frame& top = stack_.back();
            if (top.is_object) {
              top.expecting_key = true;
              top.value_node = kNoNode;
            } else {
              ++top.next_index;
              top.element_pending = true;
            }
          }
          break;
        default:
          break;  // ':', digits, letters of true/false/null
      }
      Advance(c);
      ++i;
    }
    return result;
  }

 private:
  struct Frame {
    bool is_object = false;
    uint32_t node = kNoNode;          // this container's index node
    bool expecting_key = true;        // objects: the next string is a key
    uint32_t value_node = kNoNode;    // objects: node of the member being read
    size_t next_index = 0;            // arrays: index of the next element
    bool element_pending = true;      // arrays: next token starts an element
  };

  void Advance(char c) {
    if (c == '\n') {
      ++line_;
      chars_in_line_ = 0;
    } else if (!is_utf8_continuation(static_cast<unsigned char>(c))) {
      ++chars_in_line_;
    }
  }

  // When `c` starts an element of the innermost array, records it if it is
  // a container and returns its node (kNoNode otherwise).
  uint32_t StartArrayElement(char c, TextPosition here) {
    if (stack_.empty() || stack_.back().is_object || !stack_.back().element_pending ||
        c == ']') {
      return kNoNode;
    }
    Frame& top = stack_.back();
    top.element_pending = false;
    if ((c != '{' && c != '[') || top.node == kNoNode) return kNoNode;
    return keys_->add(top.node, std::to_string(top.next_index), here).value_or(kNoNode);
  }

  void RecordKey(std::string_view raw, TextPosition here, ScanResult* result) {
    Frame& top = stack_.back();
    top.expecting_key = false;
    top.value_node = kNoNode;
    if (top.node == kNoNode) return;
    std::string key = decode_string_body(raw);
    if (std::optional<uint32_t> node = keys_->add(top.node, key, here)) {
      top.value_node = *node;
      return;
    }
    if (result->duplicate) return;
    if (std::optional<uint32_t> first = keys_->find(top.node, key)) {
      result->duplicate = ScanResult::Duplicate{std::move(key), here, keys_->position(*first)};
    }
  }

  std::string_view text_;
  JsonKeyIndex* keys_;
  std::vector<Frame> stack_;
  size_t line_ = 1;
  size_t chars_in_line_ = 0;
};

// Builds the tree from nlohmann's SAX events and keeps the first error with
// its byte offset.
class DomBuilder final : public Json::json_sax_t {
 public:
  bool null() override { return Put(Json(nullptr)); }
  bool boolean(bool value) override { return Put(Json(value)); }
  bool number_integer(number_integer_t value) override { return Put(Json(value)); }
  bool number_unsigned(number_unsigned_t value) override { return Put(Json(value)); }
  bool number_float(number_float_t value, const string_t& /*text*/) override {
    return Put(Json(value));
  }
  bool string(string_t& value) override { return Put(Json(std::move(value))); }
  bool binary(binary_t& value) override { return Put(Json::binary(std::move(value))); }
  bool start_object(std::size_t /*size*/) override { return Open(Json::object()); }
  bool key(string_t& value) override {
    key_ = std::move(value);
    return true;
  }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t /*size*/) override { return Open(Json::array()); }
  bool end_array() override { return Close(); }
  bool parse_error(std::size_t position, const std::string& last_token,
                   const Json::exception& error) override {
    error_ = Error{position, last_token, error.id, error.what()};
    return false;
  }

  struct Error {
    size_t position;  // bytes read when the error was seen
    std::string last_token;
    int id;
    std::string what;
  };
  const std::optional<Error>& error() const { return error_; }
  Json TakeRoot() { return std::move(root_); }

 private:
  Json* Insert(Json value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    Json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    Json& slot = parent[key_];
    slot = std::move(value);
    return &slot;
  }
  bool Put(Json value) {
    Insert(std::move(value));
    return true;
  }
  bool Open(Json container) {
    stack_.push_back(Insert(std::move(container)));
    return true;
  }
  bool Close() {
    if (!stack_.empty()) stack_.pop_back();
    return true;
  }

  Json root_;
  std::vector<Json*> stack_;
  std::string key_;
  std::optional<Error> error_;
};

// nlohmann's message without its "[json.exception...] parse error at line
// 1, column 2: syntax error while parsing value - " preamble: we give the
// position ourselves, in characters rather than bytes.
std::string describe_syntax_error(const DomBuilder::Error& error) {
  std::string_view message = error.what;
  if (!message.empty() && message[0] == '[') {
    const size_t end = message.find("] ");
    if (end != std::string_view::npos) message.remove_prefix(end + 2);
  }
  if (message.substr(0, 11) == "parse error") {
    const size_t colon = message.find(": ");
    if (colon != std::string_view::npos) message.remove_prefix(colon + 2);
  }
  constexpr std::string_view kSyntax = "syntax error while parsing ";
  if (message.substr(0, kSyntax.size()) == kSyntax) {
    const size_t dash = message.find(" - ");
    if (dash != std::string_view::npos) message.remove_prefix(dash + 3);
  }
  std::string text = printable_text(message);
  constexpr std::string_view kEnd = "unexpected end of input";
  if (text.compare(0, kEnd.size(), kEnd) == 0) {
    text.insert(kEnd.size(), " (truncated file?)");
  }
  return text;
}

bool is_blank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

Status syntax_error(const std::string& origin, std::string_view text, size_t offset,
                    const std::string& what) {
  return Status::ParseError(format_position(origin, text_position_at(text, offset)) + ": " + what);
}

// get_uint / get_int accept a float only when it holds an integer exactly
// as written: integral and within 2^53.
constexpr double kMaxExactFloatInteger = 9007199254740992.0;  // 2^53

constexpr const char* kInexactFloatMessage =
    ", a float beyond 2^53 that cannot be read exactly; write it as an integer";

constexpr std::string_view kMissingMessage = "required field is missing";

}  // namespace

// ---------------------------------------------------------------------------
// JsonKeyIndex

size_t JsonKeyIndex::EdgeHash::operator()(const Edge& edge) const {
  // Mixes the parent in with a multiplicative constant: the same few keys
  // ("dtype", "shape") appear under thousands of consecutive parents.
  return std::hash<std::string>()(edge.token) ^ (edge.parent * size_t{0x9E3779B97F4A7C15});
}

std::optional<uint32_t> JsonKeyIndex::add(uint32_t parent, std::string token,
                                          TextPosition position) {
  if (positions_.size() >= kNoNode) return std::nullopt;
  const auto id = static_cast<uint32_t>(positions_.size());
  auto [it, inserted] = children_.try_emplace(Edge{parent, std::move(token)}, id);
  if (!inserted) return std::nullopt;
  positions_.push_back(position);
  return id;
}

std::optional<uint32_t> JsonKeyIndex::find(uint32_t parent, const std::string& token) const {
  auto it = children_.find(Edge{parent, token});
  if (it == children_.end()) return std::nullopt;
  return it->second;
}

// ---------------------------------------------------------------------------
// Parsing

TextPosition text_position_at(std::string_view text, size_t offset) {
  TextPosition position{1, 1};
  const size_t end = std::min(offset, text.size());
  for (size_t i = std::min(bom_length(text), end); i < end; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++position.line;
      position.column = 1;
    } else if (!is_utf8_continuation(c)) {
      ++position.column;
    }
  }
  return position;
}

Result<JsonDoc> parse_json_document(std::string_view text, std::string origin,
                                    uint64_t max_bytes) {
  if (text.size() > max_bytes) {
    return Status::InvalidArgument(origin + ": JSON text is " + std::to_string(text.size()) +
                                   " bytes, above the limit of " + std::to_string(max_bytes) +
                                   " bytes");
  }
  try {
    JsonDoc doc;
    doc.origin = origin;  // a copy: the catch blocks below still need `origin`
    const ScanResult scan = StructureScanner(text, &doc.keys_).Run();
    if (scan.too_deep_offset) {
      return syntax_error(doc.origin, text, *scan.too_deep_offset,
                          "nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    const std::string nul_message = "unexpected NUL byte (binary data in a JSON file?)";
    const std::string_view parsed = text.substr(0, scan.nul_offset.value_or(text.size()));
    DomBuilder builder;
    Json::sax_parse(parsed.begin(), parsed.end(), &builder);
    if (const std::optional<DomBuilder::Error>& error = builder.error()) {
      size_t offset = error->position > 0 ? error->position - 1 : 0;
      if (error->id == 406 && error->position >= error->last_token.size()) {
        offset = error->position - error->last_token.size();  // point at the number's start
      }
      offset = std::min(offset, parsed.size());
      if (scan.nul_offset && offset >= *scan.nul_offset) {
        return syntax_error(doc.origin, text, *scan.nul_offset, nul_message);
      }
      if (is_blank(parsed.substr(bom_length(parsed)))) {
        return syntax_error(doc.origin, text, offset, "empty document, expected a JSON value");
      }
      return syntax_error(doc.origin, text, offset, describe_syntax_error(*error));
    }
    if (scan.nul_offset) return syntax_error(doc.origin, text, *scan.nul_offset, nul_message);
    if (scan.duplicate) {
      return Status::ParseError(format_position(doc.origin, scan.duplicate->position) +
                                ": duplicate key '" + printable_text(scan.duplicate->key) +
                                "' (first at line " +
                                std::to_string(scan.duplicate->first_position.line) + ", column " +
                                std::to_string(scan.duplicate->first_position.column) + ")");
    }
    doc.root = builder.TakeRoot();
    return doc;
  } catch (const std::bad_alloc&) {
    return Status::Unsupported(origin + ": out of memory while parsing JSON");
  } catch (const std::exception& e) {
    return Status::Internal(origin + ": unexpected error while parsing JSON: " + e.what());
  }
}

// ---------------------------------------------------------------------------
// Positions and messages

std::optional<TextPosition> JsonDoc::position_of(const std::string& json_pointer) const {
  uint32_t node = JsonKeyIndex::kRoot;
  if (json_pointer.empty()) return std::nullopt;
  for (const std::string& token : pointer_tokens(json_pointer)) {
    std::optional<uint32_t> next = keys_.find(node, token);
    if (!next) return std::nullopt;
    node = *next;
  }
  return keys_.position(node);
}

std::string JsonDoc::field_name(const std::string& json_pointer) const {
  std::string name;
  const Json* value = &root;
  for (const std::string& token : pointer_tokens(json_pointer)) {
    std::optional<size_t> index = array_index(token);
    if (value != nullptr && value->is_array() && index) {
      name += "[" + token + "]";
      value = *index < value->size() ? &(*value)[*index] : nullptr;
      continue;
    }
    if (!name.empty()) name += '.';
    name += printable_text(token);
    if (value != nullptr && value->is_object()) {
      auto it = value->find(token);
      value = it == value->end() ? nullptr : &*it;
    } else {
      value = nullptr;
    }
  }
  return name;
}

std::string JsonDoc::where(const std::string& json_pointer) const {
  if (json_pointer.empty()) return origin;
  // The deepest recorded ancestor-or-self gives the position.
  std::optional<TextPosition> position;
  uint32_t node = JsonKeyIndex::kRoot;
  for (const std::string& token : pointer_tokens(json_pointer)) {
    std::optional<uint32_t> next = keys_.find(node, token);
    if (!next) break;
    node = *next;
    position = keys_.position(node);
  }
  const std::string field = "field '" + field_name(json_pointer) + "'";
  if (!position) return origin + ": " + field;
  return format_position(origin, *position) + ": " + field;
}

Status JsonDoc::error(const std::string& json_pointer, std::string_view message) const {
  return Status::ParseError(where(json_pointer) + ": " + std::string(message));
}

Status JsonDoc::missing(const std::string& pointer) const {
  return error(pointer, kMissingMessage);
}

std::string JsonDoc::child(const std::string& pointer, std::string_view key) {
  std::string out = pointer + "/";
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string JsonDoc::child(const std::string& pointer, size_t index) {
  return pointer + "/" + std::to_string(index);
}

// ---------------------------------------------------------------------------
// Typed readers

bool JsonDoc::has(const nlohmann::json& obj, std::string_view key) {
  if (!obj.is_object()) return false;
  auto it = obj.find(key);
  return it != obj.end() && !it->is_null();
}

Result<const nlohmann::json*> JsonDoc::member(const nlohmann::json& obj,
                                              const std::string& obj_pointer,
                                              std::string_view key) const {
  if (!obj.is_object()) {
    return error(obj_pointer, "expected an object, got " + describe(obj));
  }
  auto it = obj.find(key);
  if (it == obj.end()) return static_cast<const Json*>(nullptr);
  return &*it;
}

Result<uint64_t> JsonDoc::as_uint(const nlohmann::json& value, const std::string& pointer) const {
  const std::string expected = "expected a non-negative integer, got ";
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer()) {
    const int64_t v = value.get<int64_t>();
    if (v >= 0) return static_cast<uint64_t>(v);
    return error(pointer, expected + describe(value));
  }
  if (value.is_number_float()) {
    const double v = value.get<double>();
    if (!std::isfinite(v) || v < 0 || std::floor(v) != v) {
      return error(pointer, expected + describe(value));
    }
    if (v > kMaxExactFloatInteger) {
      return error(pointer, expected + describe(value) + kInexactFloatMessage);
    }
    return static_cast<uint64_t>(v);
  }
  return error(pointer, expected + describe(value));
}

Result<int64_t> JsonDoc::as_int(const nlohmann::json& value, const std::string& pointer) const {
  const std::string expected = "expected an integer, got ";
  if (value.is_number_unsigned()) {
    const uint64_t v = value.get<uint64_t>();
    if (v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return static_cast<int64_t>(v);
    }
    return error(pointer, expected + describe(value) + ", out of the 64-bit signed range");
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number_float()) {
    const double v = value.get<double>();
    if (!std::isfinite(v) || std::floor(v) != v) {
      return error(pointer, expected + describe(value));
    }
    if (std::fabs(v) > kMaxExactFloatInteger) {
      return error(pointer, expected + describe(value) + kInexactFloatMessage);
    }
    return static_cast<int64_t>(v);
  }
  return error(pointer, expected + describe(value));
}

Result<double> JsonDoc::as_double(const nlohmann::json& value, const std::string& pointer) const {
  if (value.is_number_unsigned()) return static_cast<double>(value.get<uint64_t>());
  if (value.is_number_integer()) return static_cast<double>(value.get<int64_t>());
  if (value.is_number_float()) {
    const double v = value.get<double>();
    if (std::isfinite(v)) return v;
    return error(pointer, "expected a finite number, got " + describe(value));
  }
  return error(pointer, "expected a number, got " + describe(value));
}

Result<bool> JsonDoc::as_bool(const nlohmann::json& value, const std::string& pointer) const {
  if (value.is_boolean()) return value.get<bool>();
  return error(pointer, "expected true or false, got " + describe(value));
}

Result<std::string> JsonDoc::as_string(const nlohmann::json& value,
                                       const std::string& pointer) const {
  if (value.is_string()) return value.get<std::string>();
  return error(pointer, "expected a string, got " + describe(value));
}

namespace {

template <typename T>
using Converter = Result<T> (JsonDoc::*)(const Json&, const std::string&) const;

// The shared tail of the get_* readers: a default for an absent or null
// member, otherwise the conversion of the matching as_* reader.
template <typename T>
Result<T> convert_member(const JsonDoc& doc, const Json* value, const std::string& pointer,
                         std::optional<T> default_value, Converter<T> convert) {
  if (value == nullptr || value->is_null()) {
    if (default_value) return *std::move(default_value);
    if (value == nullptr) return doc.error(pointer, kMissingMessage);
  }
  return (doc.*convert)(*value, pointer);
}

}  // namespace

Result<uint64_t> JsonDoc::get_uint(const nlohmann::json& obj, const std::string& obj_pointer,
                                   std::string_view key,
                                   std::optional<uint64_t> default_value) const {
  FM_ASSIGN_OR_RETURN(const Json* value, member(obj, obj_pointer, key));
  return convert_member(*this, value, child(obj_pointer, key), default_value, &JsonDoc::as_uint);
}

Result<int64_t> JsonDoc::get_int(const nlohmann::json& obj, const std::string& obj_pointer,
                                 std::string_view key, std::optional<int64_t> default_value) const {
  FM_ASSIGN_OR_RETURN(const Json* value, member(obj, obj_pointer, key));
  return convert_member(*this, value, child(obj_pointer, key), default_value, &JsonDoc::as_int);
}

Result<double> JsonDoc::get_double(const nlohmann::json& obj, const std::string& obj_pointer,
                                   std::string_view key,
                                   std::optional<double> default_value) const {
  FM_ASSIGN_OR_RETURN(const Json* value, member(obj, obj_pointer, key));
  return convert_member(*this, value, child(obj_pointer, key), default_value,
                        &JsonDoc::as_double);
}

Result<bool> JsonDoc::get_bool(const nlohmann::json& obj, const std::string& obj_pointer,
                               std::string_view key, std::optional<bool> default_value) const {
  FM_ASSIGN_OR_RETURN(const Json* value, member(obj, obj_pointer, key));
  return convert_member(*this, value, child(obj_pointer, key), default_value, &JsonDoc::as_bool);
}

Result<std::string> JsonDoc::get_string(const nlohmann::json& obj,
                                        const std::string& obj_pointer, std::string_view key,
                                        std::optional<std::string> default_value) const {
  FM_ASSIGN_OR_RETURN(const Json* value, member(obj, obj_pointer, key));
  return convert_member(*this, value, child(obj_pointer, key), std::move(default_value),
                        &JsonDoc::as_string);
}

Result<const nlohmann::json*> JsonDoc::get_object(const nlohmann::json& obj,
                                                  const std::string& obj_pointer,
                                                  std::string_view key) const {
  FM_ASSIGN_OR_RETURN(const Json* value, member(obj, obj_pointer, key));
  const std::string pointer = child(obj_pointer, key);
  if (value == nullptr) return missing(pointer);
  if (!value->is_object()) return error(pointer, "expected an object, got " + describe(*value));
  return value;
}

Result<const nlohmann::json*> JsonDoc::get_array(const nlohmann::json& obj,
                                                 const std::string& obj_pointer,
                                                 std::string_view key) const {
  FM_ASSIGN_OR_RETURN(const Json* value, member(obj, obj_pointer, key));
  const std::string pointer = child(obj_pointer, key);
  if (value == nullptr) return missing(pointer);
  if (!value->is_array()) return error(pointer, "expected an array, got " + describe(*value));
  return value;
}

}  // namespace flopsmeter
