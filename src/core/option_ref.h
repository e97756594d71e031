// How core and API messages name an option: option "lora-r", the name the
// options share in every shell. Each shell spells it its own way when it
// shows the message: the CLI as --lora-r, Python as lora_r, the C ABI
// leaves it (its JSON options use that name), so the library never spells
// one shell's syntax.
#ifndef FLOPSMETER_CORE_OPTION_REF_H_
#define FLOPSMETER_CORE_OPTION_REF_H_

#include <string>
#include <string_view>

namespace flopsmeter {

inline std::string option_ref(std::string_view name) { return "option \"" + std::string(name) + "\""; }

}  // namespace flopsmeter

#endif  // FLOPSMETER_CORE_OPTION_REF_H_
