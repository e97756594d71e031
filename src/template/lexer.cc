#include "template/lexer.h"

#include <array>
#include <charconv>
#include <utility>

#include "template/py_text.h"
#include "tokenizer/unicode.h"

namespace flopsmeter::jinja {

std::string NormalizeSource(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || IsDigit(c); }

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr std::array<std::pair<std::string_view, Operator>, 26> kOperators = {{
    // Two-character operators first: the longest match wins.
    {"//", Operator::kFloorDivide},
    {"**", Operator::kPower},
    {"==", Operator::kEqual},
    {"!=", Operator::kNotEqual},
    {">=", Operator::kGreaterEqual},
    {"<=", Operator::kLessEqual},
    {"+", Operator::kAdd},
    {"-", Operator::kSubtract},
    {"/", Operator::kDivide},
    {"*", Operator::kMultiply},
    {"%", Operator::kModulo},
    {"~", Operator::kTilde},
    {"[", Operator::kLeftBracket},
    {"]", Operator::kRightBracket},
    {"(", Operator::kLeftParen},
    {")", Operator::kRightParen},
    {"{", Operator::kLeftBrace},
    {"}", Operator::kRightBrace},
    {">", Operator::kGreater},
    {"<", Operator::kLess},
    {"=", Operator::kAssign},
    {".", Operator::kDot},
    {":", Operator::kColon},
    {"|", Operator::kPipe},
    {",", Operator::kComma},
    {";", Operator::kSemicolon},
}};

class Lexer {
 public:
  explicit Lexer(const Program& program) : program_(program), src_(program.source) {}

  Result<std::vector<Token>> Run() {
    while (pos_ < src_.size()) {
      FM_RETURN_IF_ERROR(LexUntilTag());
    }
    Token end;
    end.kind = TokenKind::kEnd;
    end.text = src_.substr(src_.size());
    tokens_.push_back(std::move(end));
    return std::move(tokens_);
  }

 private:
  Status Error(size_t at, std::string message) const {
    return Status::ParseError(program_.Where(src_.substr(at, 0)) + ": " + message);
  }

  bool At(size_t i, std::string_view s) const { return src_.compare(i, s.size(), s) == 0; }

  // Length of the white space (Python's \s) starting at `i`.
  size_t SpaceAt(size_t i) const {
    size_t pos = i;
    while (pos < src_.size()) {
      size_t next = pos;
      if (!IsPySpace(unicode::next_code_point(src_, &next))) break;
      pos = next;
    }
    return pos - i;
  }

  void PushData(size_t begin, size_t end) {
    if (end <= begin) return;
    Token token;
    token.kind = TokenKind::kData;
    token.text = src_.substr(begin, end - begin);
    tokens_.push_back(std::move(token));
  }

  void PushMarker(TokenKind kind, size_t begin, size_t end) {
    Token token;
    token.kind = kind;
    token.text = src_.substr(begin, end - begin);
    tokens_.push_back(std::move(token));
  }

  // The end of the data [begin, end) before a tag with whitespace control
  // `sign`: '-' strips all white space; otherwise lstrip_blocks removes the
  // blanks that open the tag's line (never for {{ }}).
  size_t StripDataEnd(size_t begin, size_t end, char sign, bool is_variable) const {
    const std::string_view data = src_.substr(begin, end - begin);
    if (sign == '-') return begin + PyStrip(data, std::nullopt, false, true).size();
    if (sign == '+' || is_variable) return end;
    const size_t newline = data.rfind('\n');
    const size_t line_start = newline == std::string_view::npos ? 0 : newline + 1;
    if (line_start == 0 && !line_starting_) return end;
    if (line_start == data.size() || SpaceAt(begin + line_start) != data.size() - line_start) return end;
    return begin + line_start;
  }

  // Scans data up to the next tag and lexes that tag.
  Status LexUntilTag() {
    size_t tag = pos_;
    while (true) {
      tag = src_.find('{', tag);
      if (tag == std::string_view::npos || tag + 1 >= src_.size()) {
        PushData(pos_, src_.size());
        pos_ = src_.size();
        return Status::Ok();
      }
      const char kind = src_[tag + 1];
      if (kind == '{' || kind == '%' || kind == '#') break;
      ++tag;
    }
    const char kind = src_[tag + 1];
    const char sign = tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+') ? src_[tag + 2] : 0;
    const size_t opener_end = tag + 2 + (sign != 0 ? 1 : 0);
    PushData(pos_, StripDataEnd(pos_, tag, sign, kind == '{'));
    line_starting_ = false;
    if (kind == '#') return LexComment(tag, opener_end);
    if (kind == '%') {
      const size_t raw_end = MatchRawBegin(opener_end);
      if (raw_end != std::string_view::npos) return LexRaw(tag, raw_end);
      PushMarker(TokenKind::kBlockBegin, tag, opener_end);
    } else {
      PushMarker(TokenKind::kVariableBegin, tag, opener_end);
    }
    pos_ = opener_end;
    return LexTag(kind == '%');
  }

  Status LexComment(size_t tag, size_t content) {
    const size_t close = src_.find("#}", content);
    if (close == std::string_view::npos) return Error(tag, "missing end of comment tag");
    const char sign = close > content && (src_[close - 1] == '-' || src_[close - 1] == '+') ? src_[close - 1] : 0;
    pos_ = close + 2;
    EndTag(sign);
    return Status::Ok();
  }

  // After a closing %} or #}: '-' eats all white space, '+' nothing, and
  // trim_blocks one newline.
  void EndTag(char sign) {
    if (sign == '-') {
      pos_ += SpaceAt(pos_);
    } else if (sign != '+' && pos_ < src_.size() && src_[pos_] == '\n') {
      ++pos_;
    }
    line_starting_ = pos_ > 0 && src_[pos_ - 1] == '\n';
  }

  // `{% raw %}` starting after the opener (and its sign): the end of the
  // opening tag, or npos if this is no raw tag. No trim_blocks here: jinja2
  // does not trim after {% raw %}.
  size_t MatchRawBegin(size_t i) const {
    i += SpaceAt(i);
    if (!At(i, "raw")) return std::string_view::npos;
    i += 3;
    i += SpaceAt(i);
    if (At(i, "-%}")) return i + 3 + SpaceAt(i + 3);
    if (At(i, "%}")) return i + 2;
    return std::string_view::npos;
  }

  Status LexRaw(size_t tag, size_t content) {
    line_starting_ = src_[content - 1] == '\n';
    for (size_t open = src_.find("{%", content); open != std::string_view::npos; open = src_.find("{%", open + 1)) {
      const char sign = open + 2 < src_.size() && (src_[open + 2] == '-' || src_[open + 2] == '+') ? src_[open + 2] : 0;
      size_t i = open + 2 + (sign != 0 ? 1 : 0);
      i += SpaceAt(i);
      if (!At(i, "endraw")) continue;
      i += 6;
      i += SpaceAt(i);
      char end_sign = 0;
      if (At(i, "+%}") || At(i, "-%}")) {
        end_sign = src_[i];
        i += 3;
      } else if (At(i, "%}")) {
        i += 2;
      } else {
        continue;
      }
      PushData(content, StripDataEnd(content, open, sign, false));
      pos_ = i;
      EndTag(end_sign);
      return Status::Ok();
    }
    return Error(tag, "missing end of raw directive");
  }

  // Tokens inside {% %} or {{ }} up to the closing delimiter.
  Status LexTag(bool is_block) {
    std::vector<char> open_brackets;
    while (pos_ < src_.size()) {
      if (open_brackets.empty() && LexTagEnd(is_block)) return Status::Ok();
      const size_t space = SpaceAt(pos_);
      if (space > 0) {
        pos_ += space;
        continue;
      }
      const char c = src_[pos_];
      if (IsDigit(c)) {
        FM_RETURN_IF_ERROR(LexNumber());
      } else if (IsNameStart(c)) {
        size_t end = pos_;
        while (end < src_.size() && IsNameChar(src_[end])) ++end;
        PushMarker(TokenKind::kName, pos_, end);
        pos_ = end;
      } else if (c == '\'' || c == '"') {
        FM_RETURN_IF_ERROR(LexString());
      } else {
        FM_RETURN_IF_ERROR(LexOperator(&open_brackets));
      }
    }
    return Status::Ok();  // the parser reports the missing end of the tag
  }

  bool LexTagEnd(bool is_block) {
    if (is_block) {
      if (At(pos_, "+%}") || At(pos_, "-%}")) {
        const char sign = src_[pos_];
        PushMarker(TokenKind::kBlockEnd, pos_, pos_ + 3);
        pos_ += 3;
        EndTag(sign);
        return true;
      }
      if (At(pos_, "%}")) {
        PushMarker(TokenKind::kBlockEnd, pos_, pos_ + 2);
        pos_ += 2;
        EndTag(0);
        return true;
      }
      return false;
    }
    if (At(pos_, "-}}")) {
      PushMarker(TokenKind::kVariableEnd, pos_, pos_ + 3);
      pos_ += 3;
      pos_ += SpaceAt(pos_);
      line_starting_ = src_[pos_ - 1] == '\n';
      return true;
    }
    if (At(pos_, "}}")) {
      PushMarker(TokenKind::kVariableEnd, pos_, pos_ + 2);
      pos_ += 2;
      line_starting_ = false;
      return true;
    }
    return false;
  }

  // Digits with single underscores between them: (\d+_)*\d+.
  size_t DigitsAt(size_t i) const {
    size_t end = i;
    while (end < src_.size() && IsDigit(src_[end])) {
      ++end;
      if (end + 1 < src_.size() && src_[end] == '_' && IsDigit(src_[end + 1])) ++end;
    }
    return end - i;
  }

  Status LexNumber() {
    const size_t start = pos_;
    // Float: digits, then a fraction and/or an exponent; not right after a
    // dot (so `a.0.1` is two subscripts).
    size_t end = start + DigitsAt(start);
    const bool after_dot = start > 0 && src_[start - 1] == '.';
    bool is_float = false;
    if (!after_dot) {
      size_t i = end;
      if (i + 1 < src_.size() && src_[i] == '.' && IsDigit(src_[i + 1])) {
        i += 1 + DigitsAt(i + 1);
        is_float = true;
      }
      if (i < src_.size() && (src_[i] == 'e' || src_[i] == 'E')) {
        size_t j = i + 1;
        if (j < src_.size() && (src_[j] == '+' || src_[j] == '-')) ++j;
        if (j < src_.size() && IsDigit(src_[j])) {
          i = j + DigitsAt(j);
          is_float = true;
        }
      }
      if (is_float) end = i;
    }
    std::string digits;
    Token token;
    if (is_float) {
      for (size_t i = start; i < end; ++i) {
        if (src_[i] != '_') digits.push_back(src_[i]);
      }
      token.kind = TokenKind::kFloat;
      std::from_chars(digits.data(), digits.data() + digits.size(), token.float_value);
    } else {
      int base = 10;
      size_t digits_start = start;
      if (src_[start] == '0' && start + 2 < src_.size()) {
        const char b = static_cast<char>(src_[start + 1] | 0x20);
        const int radix = b == 'b' ? 2 : b == 'o' ? 8 : b == 'x' ? 16 : 10;
        if (radix != 10) {
          size_t i = start + 2;
          while (i < src_.size()) {
            const size_t skip = src_[i] == '_' ? 1 : 0;
            const int d = i + skip < src_.size() ? HexDigit(src_[i + skip]) : -1;
            if (d < 0 || d >= radix) break;
            i += skip + 1;
          }
          if (i > start + 2) base = radix, digits_start = start + 2, end = i;
        }
      }
      if (base == 10 && src_[start] == '0') {
        // "0", "00", "0_0": a leading zero never starts a longer number.
        end = start + 1;
        while (end < src_.size()) {
          if (src_[end] == '0') {
            ++end;
          } else if (src_[end] == '_' && end + 1 < src_.size() && src_[end + 1] == '0') {
            end += 2;
          } else {
            break;
          }
        }
      }
      for (size_t i = digits_start; i < end; ++i) {
        if (src_[i] != '_') digits.push_back(src_[i]);
      }
      token.kind = TokenKind::kInteger;
      const auto result = std::from_chars(digits.data(), digits.data() + digits.size(), token.int_value, base);
      if (result.ec != std::errc()) return Error(start, "integer literal too large");
    }
    token.text = src_.substr(start, end - start);
    tokens_.push_back(std::move(token));
    pos_ = end;
    return Status::Ok();
  }

  // A quoted string with Python's escapes (\n, \t, \xhh, \uhhhh, octal, ...).
  Status LexString() {
    const size_t start = pos_;
    const char quote = src_[start];
    std::string value;
    size_t i = start + 1;
    while (true) {
      if (i >= src_.size()) return Error(start, "unterminated string literal");
      const char c = src_[i];
      if (c == quote) break;
      if (c != '\\') {
        value.push_back(c);
        ++i;
        continue;
      }
      if (i + 1 >= src_.size()) return Error(start, "unterminated string literal");
      const char e = src_[i + 1];
      i += 2;
      switch (e) {
        case '\n':
          break;  // line continuation
        case '\\':
        case '\'':
        case '"':
          value.push_back(e);
          break;
        case 'a':
          value.push_back('\a');
          break;
        case 'b':
          value.push_back('\b');
          break;
        case 'f':
          value.push_back('\f');
          break;
        case 'n':
          value.push_back('\n');
          break;
        case 'r':
          value.push_back('\r');
          break;
        case 't':
          value.push_back('\t');
          break;
        case 'v':
          value.push_back('\v');
          break;
        case 'x':
        case 'u':
        case 'U': {
          const size_t count = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          char32_t cp = 0;
          for (size_t k = 0; k < count; ++k) {
            const int d = i + k < src_.size() ? HexDigit(src_[i + k]) : -1;
            if (d < 0) return Error(i - 2, std::string("truncated \\") + e + " escape in string literal");
            cp = cp * 16 + static_cast<char32_t>(d);
          }
          if (cp > 0x10FFFF) return Error(i - 2, "illegal Unicode character in string literal");
          i += count;
          unicode::append_utf8(cp, &value);
          break;
        }
        case 'N':
          return Error(i - 2, "\\N{...} escapes are not supported");
        default:
          if (e >= '0' && e <= '7') {
            char32_t cp = static_cast<char32_t>(e - '0');
            for (int k = 0; k < 2 && i < src_.size() && src_[i] >= '0' && src_[i] <= '7'; ++k, ++i) {
              cp = cp * 8 + static_cast<char32_t>(src_[i] - '0');
            }
            unicode::append_utf8(cp, &value);
          } else {
            // Python keeps unknown escapes as written.
            value.push_back('\\');
            value.push_back(e);
          }
      }
    }
    Token token;
    token.kind = TokenKind::kString;
    token.text = src_.substr(start, i + 1 - start);
    token.string_value = std::move(value);
    tokens_.push_back(std::move(token));
    pos_ = i + 1;
    return Status::Ok();
  }

  Status LexOperator(std::vector<char>* open_brackets) {
    for (const auto& [text, op] : kOperators) {
      if (!At(pos_, text)) continue;
      const char c = text[0];
      if (text.size() == 1 && (c == '(' || c == '[' || c == '{')) {
        open_brackets->push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
      } else if (text.size() == 1 && (c == ')' || c == ']' || c == '}')) {
        if (open_brackets->empty()) return Error(pos_, std::string("unexpected '") + c + "'");
        if (open_brackets->back() != c) {
          return Error(pos_, std::string("unexpected '") + c + "', expected '" + open_brackets->back() + "'");
        }
        open_brackets->pop_back();
      }
      Token token;
      token.kind = TokenKind::kOperator;
      token.op = op;
      token.text = src_.substr(pos_, text.size());
      tokens_.push_back(std::move(token));
      pos_ += text.size();
      return Status::Ok();
    }
    size_t end = pos_;
    unicode::next_code_point(src_, &end);
    return Error(pos_, "unexpected character '" + std::string(src_.substr(pos_, end - pos_)) + "'");
  }

  const Program& program_;
  std::string_view src_;
  size_t pos_ = 0;
  // Whether the last thing lexed ended a line: lstrip_blocks then strips
  // blanks before a tag even when no newline precedes them in the data.
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

}  // namespace

Result<std::vector<Token>> Tokenize(const Program& program) { return Lexer(program).Run(); }

}  // namespace flopsmeter::jinja
