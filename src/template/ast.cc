#include "template/ast.h"

#include <algorithm>

#include "template/py_text.h"

namespace flopsmeter::jinja {

std::string Program::Where(std::string_view at) const {
  const size_t offset = static_cast<size_t>(at.data() - source.data());
  const auto line = std::upper_bound(line_starts.begin(), line_starts.end(), offset) - 1;
  const size_t line_start = *line;
  const size_t column = CountCodePoints(std::string_view(source).substr(line_start, offset - line_start)) + 1;
  return name + ":" + std::to_string(line - line_starts.begin() + 1) + ":" + std::to_string(column);
}

}  // namespace flopsmeter::jinja
