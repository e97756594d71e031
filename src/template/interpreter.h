// Renders a parsed chat template with jinja2's semantics: scoping (a loop
// body's assignments do not outlive its iteration; namespaces do), Undefined
// for what is missing, Python values and operators.
//
// A render never crashes or runs without bound, whatever the template or
// context: output, memory, work (loop iterations, macro calls, scans of
// large values) and macro recursion are capped, and exceeding a cap is an
// error naming the line.
#ifndef FLOPSMETER_TEMPLATE_INTERPRETER_H_
#define FLOPSMETER_TEMPLATE_INTERPRETER_H_

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>

#include <nlohmann/json.hpp>

#include "flopsmeter/status.h"
#include "template/ast.h"

namespace flopsmeter::jinja {

struct RenderLimits {
  size_t max_output_bytes = size_t{64} << 20;
  // Everything one render allocates: strings, lists, scopes.
  size_t max_memory_bytes = size_t{512} << 20;
  // Loop iterations, macro calls and scans of large values (one step per 64
  // bytes or entries) in one render.
  uint64_t max_steps = 10'000'000;
  // Macros calling macros, recursion included.
  int max_call_depth = 100;

  // The limits for a render given `input_bytes` (the template's source
  // plus the text of the context), so that what a render may cost grows
  // with what it was given: output 1 MiB + 64 bytes per input byte, memory
  // 32 MiB + 256 bytes per input byte, 100,000 steps + 1,000 per input
  // byte, each at most the default above. A 62-byte record rendered by a
  // 5 KB template gets 1.3 MiB of output, 33 MiB of memory and 5.2 million
  // steps; the largest chat templates need a small fraction of that.
  static RenderLimits ForInput(size_t input_bytes);
};

// Renders `program`. `context` must be a JSON object; its members become
// template variables. strftime_now() formats `now`.
Result<std::string> RenderProgram(const Program& program, const nlohmann::ordered_json& context, const std::tm& now,
                                  const RenderLimits& limits = {});

}  // namespace flopsmeter::jinja

#endif  // FLOPSMETER_TEMPLATE_INTERPRETER_H_
