// Splits a chat template into tokens the way jinja2's lexer does with
// transformers' settings (trim_blocks, lstrip_blocks, no kept trailing
// newline): template data with whitespace control already applied, tag
// delimiters, and the names, literals and operators inside tags. Comments
// are dropped; {% raw %} blocks become data.
#ifndef FLOPSMETER_TEMPLATE_LEXER_H_
#define FLOPSMETER_TEMPLATE_LEXER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "flopsmeter/status.h"
#include "template/ast.h"

namespace flopsmeter::jinja {

enum class TokenKind : uint8_t {
  kData,
  kVariableBegin,  // {{
  kVariableEnd,    // }}
  kBlockBegin,     // {%
  kBlockEnd,       // %}
  kName,
  kString,
  kInteger,
  kFloat,
  kOperator,
  kEnd,  // end of the template
};

enum class Operator : uint8_t {
  kAdd,
  kSubtract,
  kDivide,
  kFloorDivide,
  kMultiply,
  kModulo,
  kPower,
  kTilde,
  kLeftBracket,
  kRightBracket,
  kLeftParen,
  kRightParen,
  kLeftBrace,
  kRightBrace,
  kEqual,
  kNotEqual,
  kGreater,
  kGreaterEqual,
  kLess,
  kLessEqual,
  kAssign,
  kDot,
  kColon,
  kPipe,
  kComma,
  kSemicolon,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  Operator op = Operator::kAdd;  // kOperator
  // The token as written (kData: the data left after whitespace control),
  // a view into Program::source.
  std::string_view text;
  std::string string_value;  // kString, unescaped
  int64_t int_value = 0;     // kInteger
  double float_value = 0;    // kFloat
};

// Normalizes newlines to \n and drops one trailing newline, as jinja2 does
// before lexing; the result is what Program::source holds.
std::string NormalizeSource(std::string_view source);

// Tokenizes program.source. The last token is always kEnd.
Result<std::vector<Token>> Tokenize(const Program& program);

}  // namespace flopsmeter::jinja

#endif  // FLOPSMETER_TEMPLATE_LEXER_H_
