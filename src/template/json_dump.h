// Python's json.dumps for template values: what transformers' tojson filter
// prints (ensure_ascii=False by default, key order kept, Python's
// separators and float repr).
#ifndef FLOPSMETER_TEMPLATE_JSON_DUMP_H_
#define FLOPSMETER_TEMPLATE_JSON_DUMP_H_

#include <optional>
#include <string>

#include "flopsmeter/status.h"
#include "template/value.h"

namespace flopsmeter::jinja {

struct JsonStyle {
  std::optional<std::string> indent;  // absent: everything on one line
  std::string item_separator = ", ";  // Python's defaults without indent
  std::string key_separator = ": ";
  bool ensure_ascii = false;
  bool sort_keys = false;
};

// Appends json.dumps(v). Undefined, namespaces and callables are a TypeError,
// as they are not JSON serializable in Python.
Status AppendJson(const Value& v, const JsonStyle& style, std::string* out);

}  // namespace flopsmeter::jinja

#endif  // FLOPSMETER_TEMPLATE_JSON_DUMP_H_
