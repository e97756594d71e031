// ChatTemplate: renders a Hugging Face chat template (the `chat_template` of
// tokenizer_config.json) into the text a trainer tokenizes, byte for byte as
// transformers' apply_chat_template does: jinja2 with trim_blocks,
// lstrip_blocks and loopcontrols, in its immutable sandbox, with the globals
// raise_exception(msg) and strftime_now(fmt) and transformers' tojson filter.
//
//   FM_ASSIGN_OR_RETURN(ChatTemplate tmpl,
//                       ChatTemplate::Parse(config["chat_template"], "tokenizer_config.json chat_template"));
//   FM_ASSIGN_OR_RETURN(std::string text, tmpl.Render({{"messages", record["messages"]},
//                                                     {"add_generation_prompt", false},
//                                                     {"bos_token", "<s>"}, {"eos_token", "</s>"}}));
//
// The language is the jinja2 subset chat templates use: if/for (with else,
// filters, break/continue, loop.*), set (also ns.attr and block set), macros,
// filter blocks, {% generation %}, raw; jinja2's expressions, most of its
// filters and tests, str/dict methods, range/namespace/dict. Not supported:
// call blocks, include/import/extends, recursive loops, *args in calls,
// printf-style '%'. Values behave as in Python: {{ none }} prints None,
// {{ [1, 'a'] }} prints [1, 'a'], |safe text HTML-escapes what is added to it.
//
// Errors: a syntax error is Status::ParseError("NAME:LINE:COL: message");
// jinja2 syntax outside the subset is Status::Unsupported with the same
// prefix; raise_exception("msg") is Status::InvalidArgument("NAME: template
// raised: msg"); any other runtime failure is InvalidArgument (or
// Unsupported) "NAME:LINE:COL: message", naming the expression at fault.
//
// Rendering is bounded whatever the template and context, in proportion to
// their size (jinja::RenderLimits::ForInput): output, working memory and
// steps of work (loop iterations, macro calls, scans of large values) grow
// with the bytes of template and context, up to 64 MiB of output, 512 MiB of
// memory and 10 million steps, and macro recursion stops at 100 deep; past a
// bound Render returns an error.
//
// Thread safety: a ChatTemplate is immutable once parsed; Render may be
// called from many threads at once. Copies share the parsed template.
#ifndef FLOPSMETER_TEMPLATE_CHAT_TEMPLATE_H_
#define FLOPSMETER_TEMPLATE_CHAT_TEMPLATE_H_

#include <ctime>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "flopsmeter/status.h"

namespace flopsmeter {

namespace jinja {
struct Program;
}

class ChatTemplate {
 public:
  // `name` prefixes error messages, e.g. "tokenizer_config.json chat_template".
  static Result<ChatTemplate> Parse(std::string_view source, std::string name);

  // `context`: a JSON object whose members become template variables
  // (messages, add_generation_prompt, bos_token, eos_token, tools, ...).
  // An ordered_json keeps the members' order, which tojson and
  // dict.items() show; a plain nlohmann::json converts, with its keys sorted.
  // strftime_now() formats the current local time.
  Result<std::string> Render(const nlohmann::ordered_json& context) const;
  // The same with strftime_now() formatting `now` (local broken-down time),
  // for reproducible renders.
  Result<std::string> Render(const nlohmann::ordered_json& context, const std::tm& now) const;

  const std::string& name() const;

 private:
  explicit ChatTemplate(std::shared_ptr<const jinja::Program> program) : program_(std::move(program)) {}
  std::shared_ptr<const jinja::Program> program_;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_TEMPLATE_CHAT_TEMPLATE_H_
