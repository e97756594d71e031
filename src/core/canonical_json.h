// Canonical JSON, after RFC 8785 (JSON Canonicalization Scheme): no white
// space, object members sorted by their names' UTF-16 code units, strings
// with only the escapes RFC 8785 3.2.2.2 requires, numbers as ECMAScript
// serialises them (the shortest text that reads back to the same double;
// integers up to 2^53 exactly). The ledger hashes and signs entries in this
// form, so that the same entry always has the same bytes whoever wrote it.
//
// Pure; thread-safe.
#ifndef FLOPSMETER_CORE_CANONICAL_JSON_H_
#define FLOPSMETER_CORE_CANONICAL_JSON_H_

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "flopsmeter/status.h"

namespace flopsmeter {

// The canonical text of `value`. Errors (kInvalidArgument, "canonical JSON
// at "/records/3/flops": ...", naming the JSON pointer of the value at
// fault): a string or member name that is not valid UTF-8, a non-finite
// number, an integer beyond 2^53 in magnitude (it would not read back
// exactly as a double: give such figures as decimal strings), nesting deeper
// than kMaxJsonDepth, binary data. A number held as a double is always
// written, as ECMAScript writes it (1e20 as 100000000000000000000).
Result<std::string> canonical_json(const nlohmann::json& value);

// Whether `text` is already the canonical text of the JSON it holds (the
// ledger's verify checks every stored entry so), every number read as a
// double as RFC 8785 reads them: canonical_json()'s text for any value it
// accepts is canonical (1e19 is written 10000000000000000000, an integer
// to a JSON parser), and 9007199254740993 is not (it reads as ...992).
// Errors: kParseError for text that is not JSON as parse_json_document()
// reads it (duplicate member names and nesting past kMaxJsonDepth
// included); kInvalidArgument for a string that is not UTF-8 (not seen from
// text nlohmann parsed).
Result<bool> is_canonical_json(std::string_view text);

}  // namespace flopsmeter

#endif  // FLOPSMETER_CORE_CANONICAL_JSON_H_
