// The INI dialect of the AWS shared config and credentials files
// (~/.aws/config, ~/.aws/credentials), as the AWS SDKs and CLI read it:
//
//   [default]                     ; a comment
//   aws_access_key_id = AKIA...
//   [profile ci]                  # config's spelling of a named profile
//   region = eu-west-1
//   s3 =
//     addressing_style = path     ; a nested setting: "s3.addressing_style"
//
// Section and key names are trimmed, keys lower-cased (the SDKs read them
// case-insensitively); a later section of the same name adds to the
// earlier, a later key replaces. Comments are whole lines starting with '#'
// or ';'; an indented line is a nested setting only under a key with an
// empty value. Pure: no file access.
//
// The values are secrets: no message here ever quotes a line, a key's value
// or a section's content, only the origin and the line number.
#ifndef FLOPSMETER_CORE_INI_TEXT_H_
#define FLOPSMETER_CORE_INI_TEXT_H_

#include <map>
#include <string>
#include <string_view>

#include "flopsmeter/status.h"

namespace flopsmeter {

// Section name -> key -> value.
using IniSections = std::map<std::string, std::map<std::string, std::string>>;

// Errors (ParseError): "ORIGIN:LINE: expected [section], key = value or a
// comment", a setting before any section, an unclosed section header.
Result<IniSections> parse_ini_text(std::string_view text, const std::string& origin);

}  // namespace flopsmeter

#endif  // FLOPSMETER_CORE_INI_TEXT_H_
