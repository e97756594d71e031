#include "template/py_text.h"
#include "tokenizer/unicode.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include <unicode/uchar.h>

namespace flopsmeter::jinja {

size_t CountCodePoints(std::string_view text) {
  size_t count = 0;
  for (size_t pos = 0; pos < text.size(); ++count) unicode::next_code_point(text, &pos);
  return count;
}

size_t OffsetOfCodePoint(std::string_view text, size_t index) {
  size_t pos = 0;
  for (size_t i = 0; i < index && pos < text.size(); ++i) unicode::next_code_point(text, &pos);
  return pos;
}

bool IsPySpace(char32_t cp) {
  if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20);
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

namespace {

// Code point ranges of `text` as [begin, end) byte offsets, for scanning
// backwards without decoding twice.
std::vector<std::pair<size_t, char32_t>> CodePointsWithOffsets(std::string_view text) {
  std::vector<std::pair<size_t, char32_t>> cps;
  for (size_t pos = 0; pos < text.size();) {
    const size_t begin = pos;
    cps.emplace_back(begin, unicode::next_code_point(text, &pos));
  }
  return cps;
}

bool InCharSet(char32_t cp, std::string_view chars) {
  for (size_t pos = 0; pos < chars.size();) {
    if (unicode::next_code_point(chars, &pos) == cp) return true;
  }
  return false;
}

}  // namespace

std::string_view PyStrip(std::string_view text, std::optional<std::string_view> chars, bool left, bool right) {
  const auto strippable = [&](char32_t cp) { return chars ? InCharSet(cp, *chars) : IsPySpace(cp); };
  const auto cps = CodePointsWithOffsets(text);
  size_t first = 0;
  size_t last = cps.size();
  if (left) {
    while (first < last && strippable(cps[first].second)) ++first;
  }
  if (right) {
    while (last > first && strippable(cps[last - 1].second)) --last;
  }
  const size_t begin = first < cps.size() ? cps[first].first : text.size();
  const size_t end = last < cps.size() ? cps[last].first : text.size();
  return text.substr(begin, end - begin);
}

std::vector<std::string_view> PySplit(std::string_view text, std::optional<std::string_view> sep, int64_t maxsplit) {
  std::vector<std::string_view> parts;
  if (sep) {
    size_t start = 0;
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      const size_t hit = text.find(*sep, start);
      if (hit == std::string_view::npos) break;
      parts.push_back(text.substr(start, hit - start));
      start = hit + sep->size();
    }
    parts.push_back(text.substr(start));
    return parts;
  }
  size_t pos = 0;
  const auto skip_space = [&] {
    while (pos < text.size()) {
      size_t next = pos;
      if (!IsPySpace(unicode::next_code_point(text, &next))) break;
      pos = next;
    }
  };
  while (true) {
    skip_space();
    if (pos == text.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
      parts.push_back(text.substr(pos));
      break;
    }
    const size_t start = pos;
    while (pos < text.size()) {
      size_t next = pos;
      if (IsPySpace(unicode::next_code_point(text, &next))) break;
      pos = next;
    }
    parts.push_back(text.substr(start, pos - start));
  }
  return parts;
}

std::vector<std::string_view> PyRSplit(std::string_view text, std::optional<std::string_view> sep, int64_t maxsplit) {
  std::vector<std::string_view> parts;
  if (sep) {
    size_t end = text.size();
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      if (end < sep->size()) break;
      const size_t hit = text.rfind(*sep, end - sep->size());
      if (hit == std::string_view::npos) break;
      parts.push_back(text.substr(hit + sep->size(), end - hit - sep->size()));
      end = hit;
    }
    parts.push_back(text.substr(0, end));
  } else {
    // Whitespace runs, scanning code points from the right.
    const auto cps = CodePointsWithOffsets(text);
    size_t i = cps.size();
    while (true) {
      while (i > 0 && IsPySpace(cps[i - 1].second)) --i;
      if (i == 0) break;
      const size_t end = i < cps.size() ? cps[i].first : text.size();
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        parts.push_back(text.substr(0, end));
        break;
      }
      while (i > 0 && !IsPySpace(cps[i - 1].second)) --i;
      parts.push_back(text.substr(cps[i].first, end - cps[i].first));
    }
  }
  std::reverse(parts.begin(), parts.end());
  return parts;
}

std::vector<std::string_view> PySplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t here = pos;
    const char32_t cp = unicode::next_code_point(text, &pos);
    const bool is_break = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || (cp >= 0x1C && cp <= 0x1E) ||
                          cp == 0x85 || cp == 0x2028 || cp == 0x2029;
    if (!is_break) continue;
    lines.push_back(text.substr(start, here - start));
    if (cp == '\r' && pos < text.size() && text[pos] == '\n') ++pos;
    start = pos;
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

std::string PyReplace(std::string_view text, std::string_view old_text, std::string_view new_text, int64_t count) {
  std::string out;
  if (old_text.empty()) {
    // Python inserts `new` before every character and at the end.
    size_t pos = 0;
    int64_t done = 0;
    while (count < 0 || done < count) {
      out.append(new_text);
      ++done;
      if (pos == text.size()) break;
      const size_t start = pos;
      unicode::next_code_point(text, &pos);
      out.append(text.substr(start, pos - start));
    }
    out.append(text.substr(pos));
    return out;
  }
  size_t start = 0;
  for (int64_t done = 0; count < 0 || done < count; ++done) {
    const size_t hit = text.find(old_text, start);
    if (hit == std::string_view::npos) break;
    out.append(text.substr(start, hit - start));
    out.append(new_text);
    start = hit + old_text.size();
  }
  out.append(text.substr(start));
  return out;
}

namespace {

bool IsCased(char32_t cp) { return u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_CASED); }

}  // namespace

// Python's title(): a cased character that follows another cased one is
// lower-cased, any other is title-cased. (Single-character mappings: the
// few multi-character title mappings, such as U+00DF, are not applied.)
std::string PyTitle(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool previous_is_cased = false;
  for (size_t pos = 0; pos < text.size();) {
    const char32_t cp = unicode::next_code_point(text, &pos);
    const UChar32 c = static_cast<UChar32>(cp);
    unicode::append_utf8(static_cast<char32_t>(previous_is_cased ? u_tolower(c) : u_totitle(c)), &out);
    previous_is_cased = IsCased(cp);
  }
  return out;
}

std::string PyCapitalize(std::string_view text) {
  if (text.empty()) return {};
  size_t pos = 0;
  const char32_t first = unicode::next_code_point(text, &pos);
  std::string out;
  unicode::append_utf8(static_cast<char32_t>(u_totitle(static_cast<UChar32>(first))), &out);
  out += unicode::to_lower(text.substr(pos));
  return out;
}

namespace {

// Python's islower()/isupper(): no character of the opposite case (title
// case counts against both) and at least one of the wanted case.
bool HasOnlyCase(std::string_view text, bool lower) {
  bool seen = false;
  for (size_t pos = 0; pos < text.size();) {
    const UChar32 c = static_cast<UChar32>(unicode::next_code_point(text, &pos));
    const bool is_lower = u_isULowercase(c);
    const bool is_upper = u_isUUppercase(c);
    if (u_istitle(c) || (lower ? is_upper : is_lower)) return false;
    if (lower ? is_lower : is_upper) seen = true;
  }
  return seen;
}

bool IsPrintable(char32_t cp) {
  switch (u_charType(static_cast<UChar32>(cp))) {
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_SURROGATE:
    case U_PRIVATE_USE_CHAR:
    case U_UNASSIGNED:
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR:
    case U_SPACE_SEPARATOR:
      return false;
    default:
      return true;
  }
}

void AppendHexEscape(char prefix, char32_t cp, int digits, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('\\');
  out->push_back(prefix);
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) out->push_back(kHex[(cp >> shift) & 0xF]);
}

}  // namespace

bool PyIsLower(std::string_view text) { return HasOnlyCase(text, /*lower=*/true); }

bool PyIsAll(std::string_view text, CharClass char_class) {
  if (text.empty()) return false;
  for (size_t pos = 0; pos < text.size();) {
    const char32_t cp = unicode::next_code_point(text, &pos);
    const auto c = static_cast<UChar32>(cp);
    bool in_class = false;
    switch (char_class) {
      case CharClass::kAlnum:
        in_class = u_isalpha(c) || u_isdigit(c) || u_getNumericValue(c) != U_NO_NUMERIC_VALUE;
        break;
      case CharClass::kAlpha:
        in_class = u_isalpha(c);
        break;
      case CharClass::kDigit:
        in_class = u_isdigit(c) || u_getIntPropertyValue(c, UCHAR_NUMERIC_TYPE) == U_NT_DIGIT;
        break;
      case CharClass::kSpace:
        in_class = IsPySpace(cp);
        break;
    }
    if (!in_class) return false;
  }
  return true;
}
bool PyIsUpper(std::string_view text) { return HasOnlyCase(text, /*lower=*/false); }

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out.append("&amp;");
        break;
      case '<':
        out.append("&lt;");
        break;
      case '>':
        out.append("&gt;");
        break;
      case '"':
        out.append("&#34;");
        break;
      case '\'':
        out.append("&#39;");
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

void AppendPyStringRepr(std::string_view text, std::string* out) {
  const bool has_single = text.find('\'') != std::string_view::npos;
  const bool has_double = text.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  out->push_back(quote);
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    const char32_t cp = unicode::next_code_point(text, &pos);
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(cp));
    } else if (cp == '\t') {
      out->append("\\t");
    } else if (cp == '\n') {
      out->append("\\n");
    } else if (cp == '\r') {
      out->append("\\r");
    } else if (cp < 0x20 || cp == 0x7F) {
      AppendHexEscape('x', cp, 2, out);
    } else if (cp < 0x7F || IsPrintable(cp)) {
      out->append(text.substr(start, pos - start));
    } else if (cp <= 0xFF) {
      AppendHexEscape('x', cp, 2, out);
    } else if (cp <= 0xFFFF) {
      AppendHexEscape('u', cp, 4, out);
    } else {
      AppendHexEscape('U', cp, 8, out);
    }
  }
  out->push_back(quote);
}

void AppendPyFloatRepr(double value, std::string* out) {
  if (std::isnan(value)) {
    out->append("nan");
    return;
  }
  if (std::isinf(value)) {
    out->append(value < 0 ? "-inf" : "inf");
    return;
  }
  // Shortest round-trip digits, then Python's layout: positional notation
  // for exponents -4..15, scientific otherwise.
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(result.ptr - buf));
  if (!sci.empty() && sci[0] == '-') {
    out->push_back('-');
    sci.remove_prefix(1);
  }
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  const int exponent = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out->append("0.");
      out->append(static_cast<size_t>(-exponent - 1), '0');
      out->append(digits);
    } else {
      const size_t int_digits = static_cast<size_t>(exponent) + 1;
      if (digits.size() <= int_digits) {
        out->append(digits);
        out->append(int_digits - digits.size(), '0');
        out->append(".0");
      } else {
        out->append(digits, 0, int_digits);
        out->push_back('.');
        out->append(digits, int_digits);
      }
    }
    return;
  }
  out->push_back(digits[0]);
  if (digits.size() > 1) {
    out->push_back('.');
    out->append(digits, 1);
  }
  out->push_back('e');
  out->push_back(exponent < 0 ? '-' : '+');
  const int magnitude = exponent < 0 ? -exponent : exponent;
  if (magnitude < 10) out->push_back('0');
  out->append(std::to_string(magnitude));
}

}  // namespace flopsmeter::jinja
