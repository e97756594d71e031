// Reads Spectrum's unfrozen-parameters YAML: the list under the top-level key
// `unfrozen_parameters:`, one `- PATTERN` per line, `#` comments allowed.
// Only that shape is accepted (it is all Spectrum writes); anything else is an
// error naming the file and line.
#ifndef FLOPSMETER_ADAPTERS_SPECTRUM_YAML_H_
#define FLOPSMETER_ADAPTERS_SPECTRUM_YAML_H_

#include <string>
#include <string_view>
#include <vector>

#include "flopsmeter/status.h"

namespace flopsmeter {

Result<std::vector<std::string>> parse_spectrum_yaml(std::string_view text, const std::string& origin);
Result<std::vector<std::string>> read_spectrum_yaml(const std::string& path);

}  // namespace flopsmeter

#endif  // FLOPSMETER_ADAPTERS_SPECTRUM_YAML_H_
