// Shared pieces of flopsmeter's JSON and text output, so that inspect,
// estimate and rules present the same figure the same way everywhere.
#ifndef FLOPSMETER_API_REPORT_FORMAT_H_
#define FLOPSMETER_API_REPORT_FORMAT_H_

#include <string>

#include <nlohmann/json.hpp>

#include "flopsmeter/exact.h"
#include "flopsmeter/load.h"
#include "flopsmeter/model.h"
#include "flopsmeter/rules.h"
#include "flopsmeter/tokens.h"

namespace flopsmeter {

// "3,212,749,824"
std::string with_commas(Flop v);
// "3.2e+22": two significant figures, as the Code of Practice asks.
std::string sci(Flop v, int significant = 2);
std::string sci(double v, int significant = 2);
// "12.5%"
std::string percent(double ratio);

// `j` as JSON text indented by 2, with a final newline. Strings that are not
// valid UTF-8 (a file name can be anything) get U+FFFD for each bad byte
// instead of making dump() throw.
std::string json_text(const nlohmann::json& j);

// JSON number for an exact figure (nearest double).
nlohmann::json number(Flop v);

// A fixed-point value in units of 2^-fraction_bits (an expected figure):
// "2,281,892.4" to `decimals` places, rounded (without the commas for JSON);
// and as the nearest double.
std::string fixed_point_text(Flop units, unsigned fraction_bits, int decimals = 1, bool commas = true);
double fixed_point_double(Flop units, unsigned fraction_bits);
// {"flop": 1.0e22, "exact": "10000000000000000000000"}; a fraction adds "fraction".
nlohmann::json exact_figure(const Fraction& f);

// A token count ("flopsmeter.tokens/1"), also embedded in estimates.
nlohmann::json token_count_json(const TokenCountReport& report);
// The skipped records grouped by cause, one line each (the first line starts
// with `first_indent`, the others with `indent`); "" when none was skipped.
std::string skipped_text(const TokenCountReport& report, const std::string& first_indent, const std::string& indent);

// The model block: id, source, type, totals, breakdown, notes.
nlohmann::json model_json(const LoadedModel& loaded, const ParamBreakdown& params);
// One regime result.
nlohmann::json rule_result_json(const RuleResult& r);
// {"num": "1000...", "den": "3"} in lowest terms: the machine form of a
// threshold, so that readers never parse Fraction::to_string()'s "(~...)".
nlohmann::json rational_json(const Fraction& f);
// A regime as rule_result_json() writes it, with the run record's
// conventions (schemas/flops_meter.schema.json#/$defs/regime): correctly
// rounded numbers, the threshold's machine form, every key present. The
// ledger's lineage uses it too, so one schema describes both.
nlohmann::json regime_record_json(const RuleResult& rr);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_REPORT_FORMAT_H_
