// The fields of each kind of journal line and their JSON types, checked
// before a line is read. The hash chain says a line was not changed after it
// was written; it says nothing of what was written, and anyone can write a
// chain: a line whose "pid" is a string or whose "options" are missing must
// be an error naming the line and field, never an exception.
#ifndef FLOPSMETER_API_JOURNAL_FIELDS_H_
#define FLOPSMETER_API_JOURNAL_FIELDS_H_

#include <string>

#include <nlohmann/json.hpp>

#include "flopsmeter/status.h"

namespace flopsmeter {

// The end statuses EndOptions::status may take, and so an end line's.
bool is_end_status(const std::string& status);

// Checks `line` (a verified journal line) field by field for its kind:
// begin, progress, checkpoint or end. `where` ("PATH:LINE") prefixes the
// error: "PATH:LINE: field 'pid': expected an integer, got a string".
Status check_line_fields(const nlohmann::json& line, const std::string& where);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_JOURNAL_FIELDS_H_
