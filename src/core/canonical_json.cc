#include "core/canonical_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "core/json_doc.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

// Every integer up to 2^53 in magnitude is exactly a double; past it, a
// reader that holds numbers as doubles (ECMAScript, and so RFC 8785) would
// change the figure.
constexpr uint64_t kMaxExactInteger = uint64_t{1} << 53;

// The byte offset of the first byte in `s` that does not start a
// well-formed UTF-8 sequence, if any.
std::optional<size_t> first_invalid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    // ASCII, eight bytes at a time (a record is mostly ASCII).
    uint64_t word = 0;
    if (i + sizeof word <= s.size()) {
      std::memcpy(&word, s.data() + i, sizeof word);
      if ((word & 0x8080808080808080u) == 0) {
        i += sizeof word;
        continue;
      }
    }
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const size_t length = utf8_sequence_length(s, i);
    if (length == 0) return i;
    i += length;
  }
  return std::nullopt;
}

// The code point of the well-formed sequence at s[i].
char32_t code_point_at(std::string_view s, size_t i) {
  const size_t length = utf8_sequence_length(s, i);
  static constexpr unsigned char kLeadMask[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  char32_t cp = static_cast<unsigned char>(s[i]) & kLeadMask[length];
  for (size_t k = 1; k < length; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
  return cp;
}

// A key that orders code points as their UTF-16 code units do: U+E000 to
// U+FFFF after the supplementary characters, whose surrogates (D800..DFFF)
// come first.
uint32_t utf16_rank(char32_t cp) { return cp >= 0xE000 && cp <= 0xFFFF ? cp + 0x200000 : cp; }

// Whether `a` sorts before `b` by their UTF-16 code units (RFC 8785 3.2.3).
// Both are well-formed UTF-8, whose byte order is code point order; the two
// orders part only where a supplementary character meets one of U+E000 to
// U+FFFF, so only the first differing code points need decoding.
bool utf16_less(std::string_view a, std::string_view b) {
  const auto [in_a, in_b] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  if (in_b == b.end()) return false;  // b is a prefix of a, or equal
  if (in_a == a.end()) return true;   // a is a proper prefix of b
  size_t i = static_cast<size_t>(in_a - a.begin());
  while (i > 0 && (static_cast<unsigned char>(a[i]) & 0xC0) == 0x80) --i;  // back to the shared lead byte
  return utf16_rank(code_point_at(a, i)) < utf16_rank(code_point_at(b, i));
}

// A JSON string literal as RFC 8785 3.2.2.2 (ECMAScript's JSON.stringify)
// writes it: the two-character escapes where JSON has them, \u00xx in
// lowercase for the other controls, every other character as itself.
// REQUIRES: `s` is well-formed UTF-8.
void append_string_literal(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t plain = 0;  // where the bytes written as themselves, not yet appended, start
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\b': *out += "\\b"; break;
      case '\t': *out += "\\t"; break;
      case '\n': *out += "\\n"; break;
      case '\f': *out += "\\f"; break;
      case '\r': *out += "\\r"; break;
      default:
        *out += "\\u00";  // another control character
        out->push_back(kHex[byte >> 4]);
        out->push_back(kHex[byte & 0xF]);
    }
  }
  out->append(s.data() + plain, s.size() - plain);
  out->push_back('"');
}

// ECMAScript's Number::toString(x) (ECMA-262, 6.1.6.1.20), which RFC 8785
// 3.2.2.3 prescribes: with s the shortest digits that read back as x, k
// their count and x = s * 10^(n - k), plain digits while n <= 21, a leading
// "0." down to n > -6, and otherwise d.ddde+X. REQUIRES: x is finite.
void append_ecmascript_number(double x, std::string* out) {
  if (x == 0) {  // both zeros
    out->push_back('0');
    return;
  }
  if (x < 0) {
    out->push_back('-');
    x = -x;
  }
  // Shortest round-trip digits, as d[.ddd]e±XX (C++17 to_chars, which picks
  // the digits nearest x among the shortest, as ECMAScript does).
  char buffer[32];
  const char* const end = std::to_chars(buffer, buffer + sizeof buffer, x, std::chars_format::scientific).ptr;
  const std::string_view text(buffer, static_cast<size_t>(end - buffer));
  const size_t e = text.find('e');
  char digit_buffer[24];  // at most 17 significant digits
  digit_buffer[0] = text[0];
  if (e > 1) text.copy(digit_buffer + 1, e - 2, 2);
  const std::string_view digits(digit_buffer, e > 1 ? e - 1 : 1);
  const char* exponent_text = text.data() + e + 1;
  if (*exponent_text == '+') ++exponent_text;  // from_chars reads no plus sign
  int exponent = 0;
  std::from_chars(exponent_text, end, exponent);
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;
  if (k <= n && n <= 21) {
    out->append(digits);
    out->append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out->append(digits.substr(0, static_cast<size_t>(n)));
    out->push_back('.');
    out->append(digits.substr(static_cast<size_t>(n)));
  } else if (-6 < n && n <= 0) {
    out->append("0.");
    out->append(static_cast<size_t>(-n), '0');
    out->append(digits);
  } else {
    out->push_back(digits[0]);
    if (k > 1) {
      out->push_back('.');
      out->append(digits.substr(1));
    }
    out->push_back('e');
    out->push_back(n - 1 < 0 ? '-' : '+');
    char exponent_buffer[8];
    out->append(exponent_buffer, std::to_chars(exponent_buffer, exponent_buffer + 8, std::abs(n - 1)).ptr);
  }
}

// What an integer in the tree stands for.
enum class Integers {
  // A figure a program put there: one past 2^53 is refused, as a reader
  // holding numbers as doubles would change it.
  kExact,
  // A number read from JSON text, which RFC 8785 reads as a double: the
  // canonical text of 1e19 is 10000000000000000000, which a JSON parser
  // hands over as an integer.
  kReadAsDouble,
};

// Writes a value's canonical text, remembering the way down so that an error
// names the JSON pointer of the value at fault.
class CanonicalWriter {
 public:
  explicit CanonicalWriter(Integers integers) : integers_(integers) {}
  Status Write(const Json& value, size_t depth);
  std::string Take() { return std::move(out_); }

 private:
  Status WriteObject(const Json::object_t& object, size_t depth);
  Status WriteArray(const Json::array_t& array, size_t depth);
  Status WriteString(const std::string& s);
  Status WriteInteger(bool negative, uint64_t magnitude);
  Status Error(const std::string& what) const;

  // The members and elements entered: a key, or an index when key is null.
  struct Step {
    const std::string* key;
    size_t index;
  };
  const Integers integers_;
  std::vector<Step> path_;
  std::string out_;
};

Status CanonicalWriter::Error(const std::string& what) const {
  std::string pointer;
  for (const Step& step : path_) {
    pointer = step.key != nullptr ? JsonDoc::child(pointer, *step.key) : JsonDoc::child(pointer, step.index);
  }
  return Status::InvalidArgument("canonical JSON at \"" + printable_text(pointer) + "\": " + what);
}

Status CanonicalWriter::Write(const Json& value, size_t depth) {
  switch (value.type()) {
    case Json::value_t::null: out_ += "null"; return Status::Ok();
    case Json::value_t::boolean: out_ += value.get<bool>() ? "true" : "false"; return Status::Ok();
    case Json::value_t::string: return WriteString(value.get_ref<const std::string&>());
    case Json::value_t::number_integer: {
      const int64_t v = value.get<int64_t>();
      const uint64_t magnitude = v < 0 ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
      return WriteInteger(v < 0, magnitude);
    }
    case Json::value_t::number_unsigned: return WriteInteger(false, value.get<uint64_t>());
    case Json::value_t::number_float: {
      const double v = value.get<double>();
      if (!std::isfinite(v)) return Error(std::string(std::isnan(v) ? "NaN" : "an infinity") + " has no JSON text");
      append_ecmascript_number(v, &out_);
      return Status::Ok();
    }
    case Json::value_t::object:
    case Json::value_t::array:
      if (depth >= kMaxJsonDepth) {
        return Error("nesting deeper than " + std::to_string(kMaxJsonDepth) + " arrays and objects");
      }
      return value.is_object() ? WriteObject(value.get_ref<const Json::object_t&>(), depth + 1)
                               : WriteArray(value.get_ref<const Json::array_t&>(), depth + 1);
    case Json::value_t::binary: return Error("binary data has no JSON text");
    case Json::value_t::discarded: return Error("a discarded value has no JSON text");
  }
  return Error("a value of unknown type");
}

Status CanonicalWriter::WriteObject(const Json::object_t& object, size_t depth) {
  std::vector<const Json::object_t::value_type*> members;
  members.reserve(object.size());
  for (const auto& member : object) {
    if (const std::optional<size_t> bad = first_invalid_utf8(member.first)) {
      path_.push_back(Step{&member.first, 0});
      return Error("the member name is not UTF-8 (byte " + std::to_string(*bad + 1) + ")");
    }
    members.push_back(&member);
  }
  std::sort(members.begin(), members.end(), [](const auto* a, const auto* b) { return utf16_less(a->first, b->first); });
  out_.push_back('{');
  for (const auto* member : members) {
    if (member != members.front()) out_.push_back(',');
    append_string_literal(member->first, &out_);
    out_.push_back(':');
    path_.push_back(Step{&member->first, 0});
    FM_RETURN_IF_ERROR(Write(member->second, depth));
    path_.pop_back();
  }
  out_.push_back('}');
  return Status::Ok();
}

Status CanonicalWriter::WriteArray(const Json::array_t& array, size_t depth) {
  out_.push_back('[');
  for (size_t i = 0; i < array.size(); ++i) {
    if (i > 0) out_.push_back(',');
    path_.push_back(Step{nullptr, i});
    FM_RETURN_IF_ERROR(Write(array[i], depth));
    path_.pop_back();
  }
  out_.push_back(']');
  return Status::Ok();
}

Status CanonicalWriter::WriteString(const std::string& s) {
  if (const std::optional<size_t> bad = first_invalid_utf8(s)) {
    return Error("the string is not UTF-8 (byte " + std::to_string(*bad + 1) + ")");
  }
  append_string_literal(s, &out_);
  return Status::Ok();
}

Status CanonicalWriter::WriteInteger(bool negative, uint64_t magnitude) {
  if (integers_ == Integers::kReadAsDouble) {
    const auto value = static_cast<double>(magnitude);  // rounds as reading the digits would
    append_ecmascript_number(negative ? -value : value, &out_);
    return Status::Ok();
  }
  if (magnitude > kMaxExactInteger) {
    return Error("the integer " + std::string(negative ? "-" : "") + std::to_string(magnitude) +
                 " is beyond 2^53 in magnitude, where doubles no longer hold every integer; give it as a decimal "
                 "string");
  }
  // Below 2^53 (< 10^21) ECMAScript writes an integer's plain digits.
  if (negative) out_.push_back('-');
  char buffer[24];
  out_.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, magnitude).ptr);
  return Status::Ok();
}

// Whether `text` is canonical JSON, checked in one pass without building a
// tree: the ledger's verify checks every entry, and parsing and rewriting
// costs several times more. True only where parsing and rewriting would give
// `text` back; false for anything else, text that is not JSON included.
class CanonicalTextCheck {
 public:
  explicit CanonicalTextCheck(std::string_view text) : text_(text) {}
  bool Run() { return Value(0) && at_ == text_.size(); }

 private:
  bool Value(size_t depth);
  bool Object(size_t depth);
  bool Array(size_t depth);
  bool String(std::string* decoded);
  bool Escape(std::string* decoded);
  bool Number();
  bool Literal(std::string_view word);
  bool Next(char c) {
    if (at_ >= text_.size() || text_[at_] != c) return false;
    ++at_;
    return true;
  }
  size_t Digits() {
    const size_t begin = at_;
    while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') ++at_;
    return at_ - begin;
  }

  std::string_view text_;
  size_t at_ = 0;
  std::string number_;  // scratch for a number's canonical text
};

bool CanonicalTextCheck::Value(size_t depth) {
  if (at_ >= text_.size()) return false;
  switch (text_[at_]) {
    case '{': return depth < kMaxJsonDepth && Object(depth + 1);
    case '[': return depth < kMaxJsonDepth && Array(depth + 1);
    case '"': return String(nullptr);
    case 't': return Literal("true");
    case 'f': return Literal("false");
    case 'n': return Literal("null");
    default: return Number();
  }
}

bool CanonicalTextCheck::Object(size_t depth) {
  ++at_;
  if (Next('}')) return true;
  std::string previous;
  std::string name;
  for (bool first = true;; first = false) {
    name.clear();
    // Names strictly rising in UTF-16 order: sorted, and none twice.
    if (!String(&name) || (!first && !utf16_less(previous, name))) return false;
    if (!Next(':') || !Value(depth)) return false;
    if (!Next(',')) return Next('}');
    std::swap(previous, name);
  }
}

bool CanonicalTextCheck::Array(size_t depth) {
  ++at_;
  if (Next(']')) return true;
  do {
    if (!Value(depth)) return false;
  } while (Next(','));
  return Next(']');
}

bool CanonicalTextCheck::String(std::string* decoded) {
  if (!Next('"')) return false;
  while (at_ < text_.size()) {
    const auto byte = static_cast<unsigned char>(text_[at_]);
    if (byte == '"') {
      ++at_;
      return true;
    }
    if (byte == '\\') {
      if (!Escape(decoded)) return false;
      continue;
    }
    const size_t length = byte < 0x20 ? 0 : utf8_sequence_length(text_, at_);
    if (length == 0) return false;
    if (decoded != nullptr) decoded->append(text_.substr(at_, length));
    at_ += length;
  }
  return false;
}

// Only the escapes append_string_literal writes.
bool CanonicalTextCheck::Escape(std::string* decoded) {
  if (at_ + 1 >= text_.size()) return false;
  char value = 0;
  switch (text_[at_ + 1]) {
    case '"': value = '"'; break;
    case '\\': value = '\\'; break;
    case 'b': value = '\b'; break;
    case 't': value = '\t'; break;
    case 'n': value = '\n'; break;
    case 'f': value = '\f'; break;
    case 'r': value = '\r'; break;
    case 'u': {
      // \u00xx, lowercase, for a control without a short escape.
      static constexpr std::string_view kHex = "0123456789abcdef";
      const std::string_view digits = text_.substr(at_ + 2, 4);
      if (digits.size() != 4 || digits[0] != '0' || digits[1] != '0' || (digits[2] != '0' && digits[2] != '1')) {
        return false;
      }
      const size_t low = kHex.find(digits[3]);
      if (low == std::string_view::npos) return false;
      value = static_cast<char>((digits[2] - '0') * 16 + static_cast<int>(low));
      if (value == '\b' || value == '\t' || value == '\n' || value == '\f' || value == '\r') return false;
      at_ += 4;
      break;
    }
    default: return false;
  }
  at_ += 2;
  if (decoded != nullptr) decoded->push_back(value);
  return true;
}

bool CanonicalTextCheck::Number() {
  // The JSON grammar first: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  const size_t begin = at_;
  Next('-');
  if (at_ >= text_.size() || text_[at_] < '0' || text_[at_] > '9') return false;
  const bool leading_zero = text_[at_] == '0';
  const size_t integer_digits = Digits();
  if (leading_zero && integer_digits > 1) return false;
  bool plain_integer = true;
  if (Next('.')) {
    plain_integer = false;
    if (Digits() == 0) return false;
  }
  if (Next('e') || Next('E')) {
    plain_integer = false;
    if (!Next('+')) Next('-');
    if (Digits() == 0) return false;
  }
  const std::string_view token = text_.substr(begin, at_ - begin);
  // Up to 15 digits an integer is exact and written as itself; "-0" is "0".
  if (plain_integer && integer_digits <= 15) return token != "-0";
  double value = 0;
  const std::from_chars_result read = std::from_chars(token.data(), token.data() + token.size(), value);
  if (read.ec != std::errc() || read.ptr != token.data() + token.size() || !std::isfinite(value)) return false;
  number_.clear();
  append_ecmascript_number(value, &number_);
  return number_ == token;
}

bool CanonicalTextCheck::Literal(std::string_view word) {
  if (text_.substr(at_, word.size()) != word) return false;
  at_ += word.size();
  return true;
}

}  // namespace

Result<std::string> canonical_json(const nlohmann::json& value) {
  CanonicalWriter writer(Integers::kExact);
  FM_RETURN_IF_ERROR(writer.Write(value, 0));
  return writer.Take();
}

Result<bool> is_canonical_json(std::string_view text) {
  if (text.size() <= kMaxJsonDocumentBytes && CanonicalTextCheck(text).Run()) return true;
  // Not canonical, or not JSON at all: parsing tells which, and why.
  FM_ASSIGN_OR_RETURN(JsonDoc doc, parse_json_document(text, "JSON text"));
  CanonicalWriter writer(Integers::kReadAsDouble);
  FM_RETURN_IF_ERROR(writer.Write(doc.root, 0));
  return writer.Take() == text;
}

}  // namespace flopsmeter
