#include "core/xml_text.h"

#include <cstdint>

namespace flopsmeter {
namespace {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// "#38", "#x26", "amp": the character, or nullopt for anything else.
std::optional<uint32_t> reference_value(std::string_view ref) {
  static constexpr std::pair<std::string_view, uint32_t> kNamed[] = {
      {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
  for (const auto& [name, value] : kNamed)
    if (ref == name) return value;
  if (ref.size() < 2 || ref.front() != '#') return std::nullopt;
  const bool hex = ref[1] == 'x';
  const std::string_view digits = ref.substr(hex ? 2 : 1);
  if (digits.empty() || digits.size() > 8) return std::nullopt;
  uint32_t value = 0;
  for (char c : digits) {
    int d = c >= '0' && c <= '9' ? c - '0' : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10 : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return std::nullopt;
    value = value * (hex ? 16 : 10) + static_cast<uint32_t>(d);
  }
  const bool valid = value != 0 && value <= 0x10FFFF && !(value >= 0xD800 && value <= 0xDFFF);
  return valid ? std::optional<uint32_t>(value) : std::nullopt;
}

}  // namespace

std::optional<std::string> xml_element_text(std::string_view xml, std::string_view name) {
  const std::string open = "<" + std::string(name);
  size_t at = 0;
  while ((at = xml.find(open, at)) != std::string_view::npos) {
    const size_t after = at + open.size();
    if (after < xml.size() && (xml[after] == '>' || xml[after] == ' ')) break;
    at = after;  // <UploadIdMarker> is not <UploadId>
  }
  if (at == std::string_view::npos) return std::nullopt;
  const size_t start = xml.find('>', at);
  if (start == std::string_view::npos || xml[start - 1] == '/') return std::nullopt;
  const size_t end = xml.find("</" + std::string(name) + ">", start);
  if (end == std::string_view::npos) return std::nullopt;
  const std::string_view content = xml.substr(start + 1, end - start - 1);
  std::string out;
  for (size_t i = 0; i < content.size(); ++i) {
    if (content[i] == '<') return std::nullopt;
    if (content[i] != '&') {
      out += content[i];
      continue;
    }
    const size_t semicolon = content.find(';', i);
    if (semicolon == std::string_view::npos) return std::nullopt;
    const std::optional<uint32_t> value = reference_value(content.substr(i + 1, semicolon - i - 1));
    if (!value) return std::nullopt;
    append_utf8(out, *value);
    i = semicolon;
  }
  return out;
}

std::string xml_escaped(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace flopsmeter
