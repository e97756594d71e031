// Reading ExportOptions from named options: the one reader for the
// `export` command's flags, the C ABI's JSON and the meter's options (the
// meter names the URL "export", the command "to").
#ifndef FLOPSMETER_API_EXPORT_OPTIONS_H_
#define FLOPSMETER_API_EXPORT_OPTIONS_H_

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/option_map.h"
#include "flopsmeter/export.h"

namespace flopsmeter {

// The options every shell takes besides the URL and the ledger's, sorted:
// endpoint-url, export-attempts, export-timeout, path-style, profile,
// region, sse, sse-kms-key-id. "path-style" is a switch.
const std::vector<std::string>& export_option_names();

// The options present in `o`, the URL from `url_option` (checked, as are
// the endpoint URL, the region and the encryption); the ledger's come from
// its options (ledger, ledger-key, data-dir, organisation). An absent URL
// is "": no export.
Result<ExportOptions> export_options_from_map(const OptionMap& o, const std::string& url_option);

// The options as JSON keys that export_options_from_map() reads back
// (what a meter's begin line records); nothing when there is no URL.
void add_export_options_json(const ExportOptions& options, const std::string& url_option, nlohmann::json& out);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_EXPORT_OPTIONS_H_
