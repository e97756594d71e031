// Python's str semantics on UTF-8 text, as the chat-template interpreter
// needs them: Python counts, strips, splits, cases and prints strings by code
// point, and transformers renders chat templates with Python's jinja2.
//
// Input is expected to be UTF-8; a malformed byte decodes as U+FFFD and
// advances one byte, so hostile input can neither loop nor read past the end.
// All functions are pure and thread-safe.
#ifndef FLOPSMETER_TEMPLATE_PY_TEXT_H_
#define FLOPSMETER_TEMPLATE_PY_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flopsmeter::jinja {

size_t CountCodePoints(std::string_view text);
// Byte offset of code point number `index` (text.size() when past the end).
size_t OffsetOfCodePoint(std::string_view text, size_t index);

// str.isspace() for one character (also what `\s` matches in Python's re).
bool IsPySpace(char32_t cp);

// str.strip / lstrip / rstrip: `chars` absent strips white space.
std::string_view PyStrip(std::string_view text, std::optional<std::string_view> chars, bool left, bool right);

// str.split(sep, maxsplit); absent `sep` splits on runs of white space.
// REQUIRES: sep, when given, is not empty.
std::vector<std::string_view> PySplit(std::string_view text, std::optional<std::string_view> sep, int64_t maxsplit);

// str.rsplit(sep, maxsplit): splits from the right.
std::vector<std::string_view> PyRSplit(std::string_view text, std::optional<std::string_view> sep, int64_t maxsplit);

// str.splitlines() (line breaks dropped).
std::vector<std::string_view> PySplitLines(std::string_view text);

// str.replace(old, new, count); count < 0 replaces all.
std::string PyReplace(std::string_view text, std::string_view old_text, std::string_view new_text, int64_t count);

// str.title / capitalize (upper and lower are unicode::to_upper / to_lower).
std::string PyTitle(std::string_view text);
std::string PyCapitalize(std::string_view text);
// str.islower() / str.isupper().
bool PyIsLower(std::string_view text);
bool PyIsUpper(std::string_view text);
// str.isalnum() / isalpha() / isdigit() / isspace(): not empty, and every
// character of the class.
enum class CharClass { kAlnum, kAlpha, kDigit, kSpace };
bool PyIsAll(std::string_view text, CharClass char_class);

// markupsafe.escape: & < > " ' as HTML entities.
std::string HtmlEscape(std::string_view text);

// repr(str): quoted and escaped the way Python prints a string in a list.
void AppendPyStringRepr(std::string_view text, std::string* out);
// repr(float): the shortest text that reads back as the same double.
void AppendPyFloatRepr(double value, std::string* out);

}  // namespace flopsmeter::jinja

#endif  // FLOPSMETER_TEMPLATE_PY_TEXT_H_
