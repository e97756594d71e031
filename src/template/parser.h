// Parses a chat template into a Program with jinja2's grammar (plus the
// loopcontrols extension and transformers' {% generation %} tag).
#ifndef FLOPSMETER_TEMPLATE_PARSER_H_
#define FLOPSMETER_TEMPLATE_PARSER_H_

#include <memory>
#include <string>
#include <string_view>

#include "flopsmeter/status.h"
#include "template/ast.h"

namespace flopsmeter::jinja {

// Deepest nesting of expressions and blocks a template may have.
inline constexpr int kMaxNestingDepth = 100;

// Syntax errors: Status::ParseError("NAME:LINE:COL: message"); jinja2
// syntax this subset does not run (call blocks, includes, ...):
// Status::Unsupported with the same prefix.
Result<std::shared_ptr<const Program>> ParseTemplate(std::string_view source, std::string name);

}  // namespace flopsmeter::jinja

#endif  // FLOPSMETER_TEMPLATE_PARSER_H_
