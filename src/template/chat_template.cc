#include "template/chat_template.h"

#include "template/interpreter.h"
#include "template/parser.h"

namespace flopsmeter {

Result<ChatTemplate> ChatTemplate::Parse(std::string_view source, std::string name) {
  FM_ASSIGN_OR_RETURN(std::shared_ptr<const jinja::Program> program, jinja::ParseTemplate(source, std::move(name)));
  return ChatTemplate(std::move(program));
}

Result<std::string> ChatTemplate::Render(const nlohmann::ordered_json& context) const {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  return Render(context, local);
}

namespace {

// About the bytes of `value` as JSON text: strings and keys by their
// length, everything else by a few bytes. Nesting is bounded (kMaxJsonDepth
// for records), so the recursion is too.
size_t json_text_bytes(const nlohmann::ordered_json& value) {
  constexpr size_t kScalarBytes = 4;
  if (value.is_string()) return value.get_ref<const std::string&>().size() + kScalarBytes;
  size_t bytes = kScalarBytes;
  if (value.is_object()) {
    for (const auto& [key, member] : value.items()) bytes += key.size() + json_text_bytes(member);
  } else if (value.is_array()) {
    for (const nlohmann::ordered_json& element : value) bytes += json_text_bytes(element);
  }
  return bytes;
}

}  // namespace

Result<std::string> ChatTemplate::Render(const nlohmann::ordered_json& context, const std::tm& now) const {
  const size_t input_bytes = program_->source.size() + json_text_bytes(context);
  return jinja::RenderProgram(*program_, context, now, jinja::RenderLimits::ForInput(input_bytes));
}

const std::string& ChatTemplate::name() const { return program_->name; }

}  // namespace flopsmeter
