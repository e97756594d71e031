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

Result<std::string> ChatTemplate::Render(const nlohmann::ordered_json& context, const std::tm& now) const {
  return jinja::RenderProgram(*program_, context, now);
}

const std::string& ChatTemplate::name() const { return program_->name; }

}  // namespace flopsmeter
