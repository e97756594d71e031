#include "core/ini_text.h"

#include <cctype>

namespace flopsmeter {
namespace {

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<IniSections> parse_ini_text(std::string_view text, const std::string& origin) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // a byte order mark some editors write
  IniSections out;
  std::map<std::string, std::string>* section = nullptr;
  std::string parent;  // the key whose value is empty: indented lines below it are its nested settings
  size_t line_number = 0;
  auto error = [&](const char* what) {
    return Status::ParseError(origin + ":" + std::to_string(line_number) + ": " + what);
  };
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view raw = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line_number;
    const std::string_view line = trimmed(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    // An indented line under a key with no value is one of its nested
    // settings; other indented lines are settings like any other.
    const bool indented = std::isspace(static_cast<unsigned char>(raw.front())) != 0;
    if (line.front() == '[') {
      if (line.back() != ']') return error("a section header without its closing ']'");
      section = &out[std::string(trimmed(line.substr(1, line.size() - 2)))];
      parent.clear();
      continue;
    }
    const size_t equals = line.find('=');
    if (equals == std::string_view::npos || equals == 0) return error("expected [section], key = value or a comment");
    if (section == nullptr) return error("a setting before any [section]");
    const std::string key = lower(trimmed(line.substr(0, equals)));
    const std::string value(trimmed(line.substr(equals + 1)));
    if (indented && !parent.empty()) {
      (*section)[parent + "." + key] = value;
      continue;
    }
    (*section)[key] = value;
    parent = value.empty() ? key : "";
  }
  return out;
}

}  // namespace flopsmeter
