#include "adapters/spectrum_yaml.h"

#include "adapters/files.h"

namespace flopsmeter {
namespace {

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string_view::npos ? std::string() : std::string(s.substr(b, e - b + 1));
}

// Removes one level of YAML quoting ('x' or "x").
std::string unquote(const std::string& s) {
  if (s.size() >= 2 && (s.front() == '\'' || s.front() == '"') && s.back() == s.front()) return s.substr(1, s.size() - 2);
  return s;
}

}  // namespace

Result<std::vector<std::string>> parse_spectrum_yaml(std::string_view text, const std::string& origin) {
  std::vector<std::string> patterns;
  bool in_list = false, seen_key = false;
  size_t line_no = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    std::string line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    bool indented = !raw.empty() && (raw[0] == ' ' || raw[0] == '\t');
    if (line.rfind("- ", 0) == 0 || line == "-") {
      if (!in_list) {
        return Status::ParseError(origin + ":" + std::to_string(line_no) +
                                  ": list item outside 'unfrozen_parameters:'");
      }
      std::string item = unquote(trim(line.substr(1)));
      if (item.empty()) return Status::ParseError(origin + ":" + std::to_string(line_no) + ": empty pattern");
      patterns.push_back(item);
      continue;
    }
    if (!indented && line.back() == ':') {
      in_list = line == "unfrozen_parameters:";
      seen_key = seen_key || in_list;
      continue;
    }
    if (in_list) {
      return Status::ParseError(origin + ":" + std::to_string(line_no) + ": expected '- PATTERN' under "
                                "'unfrozen_parameters:', got '" + line + "'");
    }
  }
  if (!seen_key) return Status::ParseError(origin + ": no 'unfrozen_parameters:' list (is this a Spectrum YAML?)");
  if (patterns.empty()) return Status::ParseError(origin + ": 'unfrozen_parameters:' has no entries");
  return patterns;
}

Result<std::vector<std::string>> read_spectrum_yaml(const std::string& path) {
  FM_ASSIGN_OR_RETURN(std::string text, read_file(path, uint64_t{16} << 20));
  return parse_spectrum_yaml(text, path);
}

}  // namespace flopsmeter
