// What the export's files share: what is exported, in units that go to the
// store together and are recorded as one export (export_payload.cc), and
// the DynamoDB item a unit makes (export_items.cc).
#ifndef FLOPSMETER_API_EXPORT_INTERNAL_H_
#define FLOPSMETER_API_EXPORT_INTERNAL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "flopsmeter/export.h"
#include "flopsmeter/ledger.h"

namespace flopsmeter {

// One object to put.
struct ExportObject {
  std::string name;          // its key under the unit's prefix, e.g. "flops_meter.json"
  std::string what;          // "record", "journal", "dossier", "ledger head"
  std::string content_type;
  std::string text;          // the bytes; or
  std::string file;          // the regular file to send (a journal: it may be large)
};

// What goes to the store together and is recorded as one export.
struct ExportUnit {
  enum class Kind { kRun, kDossier, kHead };
  Kind kind = Kind::kRun;
  std::string id;       // the run's id, the model's name, the ledger's id
  std::string key_part;  // its objects' keys start with prefix + this: "RUN_ID/", "models/NAME/", "ledger-heads/ID/"
  // The version a DynamoDB item of it has: a record's journal lines (they
  // only grow, so a later record of a run has a larger one), a head's size.
  uint64_t version = 0;
  std::vector<ExportObject> objects;  // the one the unit is about (the record, the dossier, the head) last
  std::optional<uint64_t> about;      // the ledger entry its export is recorded about
  std::string not_recorded;           // why it is not recorded, when `about` is empty
};

struct ExportPayload {
  std::vector<ExportUnit> units;
  std::unique_ptr<Ledger> ledger;  // null when there is none
  std::vector<std::string> notes;
};

// What `source` exports, read and checked before anything is sent.
Result<ExportPayload> gather_export(const ExportSource& source, const ExportOptions& options);

// The DynamoDB item of a run or head unit (docs/export.md lists its
// attributes), in attribute-value JSON, keyed by run_id and record_version.
Result<nlohmann::json> export_item(const ExportUnit& unit);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_EXPORT_INTERNAL_H_
