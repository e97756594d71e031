// The ledger's entries: what each kind holds, in canonical JSON, and the
// signed tree head. An entry is
//   {"schema": "flopsmeter.ledger_entry/1", "kind": KIND, "time": ISO,
//    "key_id": who appended it, "subject": what it is about,
//    "supersedes": an earlier entry's index or null, "body": {...}}
// and its canonical text (RFC 8785) is the Merkle leaf, byte for byte.
#ifndef FLOPSMETER_API_LEDGER_ENTRIES_H_
#define FLOPSMETER_API_LEDGER_ENTRIES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/ledger_store.h"
#include "core/lineage.h"
#include "flopsmeter/ledger.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

inline constexpr const char* kLedgerEntrySchema = "flopsmeter.ledger_entry/1";
inline constexpr const char* kTreeHeadSchema = "flopsmeter.tree_head/1";

// The kinds of entry, and the subject each is filed under.
enum class EntryKind { kKey, kModel, kRun, kEstimate, kAnnotation, kExport };
const char* entry_kind_name(EntryKind kind);  // "key", "model", "run", "estimate", "annotation", "export"

// An entry to append (the ledger adds schema, time and key_id).
struct NewEntry {
  EntryKind kind = EntryKind::kAnnotation;
  std::string subject;
  nlohmann::json body;
  std::optional<uint64_t> supersedes;
};

// An entry as read back, its fields checked.
struct ParsedEntry {
  uint64_t index = 0;
  EntryKind kind = EntryKind::kAnnotation;
  std::string time;
  std::string key_id;
  std::string subject;
  std::optional<uint64_t> supersedes;
  nlohmann::json body;
};
// Errors: kParseError "entry N: ..." for text that is not an entry of this
// schema (a field missing or of the wrong type, an unknown kind).
Result<ParsedEntry> parse_entry(const StoredEntry& stored);

// What verification reads of every entry: its kind, appender and subject,
// from the canonical text's tail (the top-level fields after "body"; a run
// entry's body holds its whole record, which is not parsed). Text not in
// canonical form is parsed whole. Errors as parse_entry().
struct EntryHeader {
  EntryKind kind = EntryKind::kAnnotation;
  std::string key_id;
  std::string subject;
};
Result<EntryHeader> parse_entry_header(const StoredEntry& stored);

// Bodies.
nlohmann::json model_body(const ModelSpec& model);
Result<ModelSpec> model_of(const ParsedEntry& entry);

// A run body: the record exactly as written (text), its SHA-256, the model
// it made, its journals' pinned last lines, and whether it was imported.
nlohmann::json run_body(const std::string& record_json, const std::string& model, bool imported,
                        const nlohmann::json& journals);
// What a run entry says the run spent under its compliance formula: the
// record's exact figure, nullopt when undetermined. An imported AWS record's
// figure is recomputed from its integer counts ((4 N_total + 2 N_trainable)
// x tokens_processed, the toolkit's formula) since its strings keep three
// significant digits.
struct RunFigure {
  std::string run_id;
  std::string model;
  std::optional<Flop> compliance_flop;
  std::string formula;
  bool imported = false;
  std::string status;
};
Result<RunFigure> run_figure(const ParsedEntry& entry);
// The same of a run body (run_body) not in the ledger yet, `where` naming it
// in errors: the ledger appends no record that its views could not read.
Result<RunFigure> run_figure_of(const nlohmann::json& body, const std::string& run_id, const std::string& where);
// The same with the body's record already parsed (`record`), so that adding
// a run parses its record once (a meter's record is tens of KB).
Result<RunFigure> run_figure_of(const nlohmann::json& body, const nlohmann::json& record, const std::string& run_id,
                                const std::string& where);

// The head of a tree of `size` leaves with `root`, as signed: its canonical
// text without the signature. `time` ISO 8601 UTC.
Result<std::string> head_message(const std::string& ledger_id, uint64_t size, const merkle::Hash& root,
                                 const std::string& time, const std::string& key_id);
// The head as handed out: the signed fields, the signature and the public
// key, pretty-printed.
std::string head_json(const std::string& ledger_id, const StoredHead& head, const std::string& public_key);

// The latest entry of each subject of `kind` that no later entry
// supersedes, by subject.
std::map<std::string, ParsedEntry> current_entries(const std::vector<ParsedEntry>& entries, EntryKind kind);

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_LEDGER_ENTRIES_H_
