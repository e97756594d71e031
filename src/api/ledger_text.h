// The ledger's JSON answers as text for a person: the lineage as a tree
// with the verdict first, the models and runs as tables, verify's findings
// with the first bad entry named. One renderer per schema, picked by the
// document's "schema", so every shell prints the same thing.
#ifndef FLOPSMETER_API_LEDGER_TEXT_H_
#define FLOPSMETER_API_LEDGER_TEXT_H_

#include <string>

#include "flopsmeter/ledger.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

// An append's result as JSON (flopsmeter.ledger_append/1).
std::string ledger_append_json(const LedgerAppend& appended, const std::string& what);

// What a run on `model` by `organisation` starts from, as JSON
// (flopsmeter.ledger_basis/1).
std::string ledger_basis_json(const Ledger::Basis& basis, const std::string& model, const std::string& organisation);

// Text for a document of the schemas flopsmeter.ledger_models/1,
// ledger_model/1, ledger_lineage/1, ledger_runs/1, ledger_verify/1 or
// ledger_append/1. Errors: another schema (kInvalidArgument).
Result<std::string> ledger_json_to_text(const std::string& json);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_LEDGER_TEXT_H_
