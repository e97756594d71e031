// A flopsmeter run record checked against the journals it pins: the
// journals' hash chain holds the counts, the record is plain JSON.
#ifndef FLOPSMETER_API_RUN_RECORD_CHECK_H_
#define FLOPSMETER_API_RUN_RECORD_CHECK_H_

#include <nlohmann/json.hpp>

#include <string>

#include "flopsmeter/status.h"

namespace flopsmeter {

// InvalidArgument unless every journal the record pins (provenance.journals)
// in `run_dir` still ends with its pinned last line, and the journals,
// reported again (with the catalog in `data_dir`), give the record's
// status, tokens and compliance figure.
Status check_run_record(const std::string& run_dir, const nlohmann::json& record, const std::string& data_dir);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_RUN_RECORD_CHECK_H_
