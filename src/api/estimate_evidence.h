// What makes an estimate stand on its own as the record of a pre-training
// decision: when it was made, and the SHA-256 of every file it read (the
// model's config, the adapter's, the tokenizer's, the dataset's).
#ifndef FLOPSMETER_API_ESTIMATE_EVIDENCE_H_
#define FLOPSMETER_API_ESTIMATE_EVIDENCE_H_

#include <nlohmann/json.hpp>

#include "flopsmeter/estimate.h"

namespace flopsmeter {

// Fills report.made_at and report.files from what run_estimate read
// (`tokenizer`: the path the dataset was tokenized with, "" for none).
// Errors: a file that can no longer be read (it changed under us).
Status add_estimate_evidence(EstimateReport& report, const std::string& tokenizer);

// The settings each method was planned with (r, targets, fraction, ...).
nlohmann::json method_settings_json(const MethodSpec& spec);

// {"made_at", "command", "files": [{role, path, sha256, bytes}]}.
nlohmann::json estimate_provenance_json(const EstimateReport& report);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_ESTIMATE_EVIDENCE_H_
