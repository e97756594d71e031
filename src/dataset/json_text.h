// JSON text of table values (Parquet and Arrow rows become JSON objects so
// that the record pipeline reads them like JSON lines).
#ifndef FLOPSMETER_DATASET_JSON_TEXT_H_
#define FLOPSMETER_DATASET_JSON_TEXT_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace flopsmeter {

// `text` as a JSON string: '"', '\\' and control characters escaped, every
// other byte as it is. Invalid UTF-8 passes through and is repaired the way
// a JSON lines record's would be (parse_sample() replaces it with U+FFFD).
void append_json_string(std::string* out, std::string_view text);
void append_json_int(std::string* out, int64_t value);
void append_json_uint(std::string* out, uint64_t value);
// The shortest text that reads back as `value`; null for NaN and infinities,
// which JSON cannot hold.
void append_json_double(std::string* out, double value);

}  // namespace flopsmeter

#endif  // FLOPSMETER_DATASET_JSON_TEXT_H_
