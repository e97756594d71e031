#include "api/run_record_check.h"

#include <algorithm>

#include "adapters/files.h"
#include "api/journal.h"
#include "api/run_report.h"
#include "core/json_doc.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

// The journals' hash chain holds the counts; the record's figures are
// plain JSON that anyone can edit. A record must say what its journals,
// reported again, say: its status, tokens and compliance figure.
Status check_figures(const std::string& run_dir, const Json& record, const std::string& data_dir) {
  ReportOptions again;
  again.data_dir = data_dir;
  FM_ASSIGN_OR_RETURN(RunRecord reported, report_run(run_dir, again));
  const Json journals = Json::parse(reported.json, nullptr, false);
  const auto exact = [](const Json& r) {
    const Json compliance = r.value("compliance", Json());
    return compliance.is_object() ? compliance.value("exact", Json()) : compliance;
  };
  const std::pair<std::string, std::pair<Json, Json>> figures[] = {
      {"status", {record.value("status", Json()), journals.value("status", Json())}},
      {"tokens_processed", {record.value("tokens_processed", Json()), journals.value("tokens_processed", Json())}},
      {"compliance.exact", {exact(record), exact(journals)}}};
  for (const auto& [field, values] : figures) {
    if (values.first == values.second) continue;
    return Status::InvalidArgument("the record's " + field + " (" + printable_text(values.first.dump()) +
                                   ") is not what its journals in " + printable_text(run_dir) + " say (" +
                                   printable_text(values.second.dump()) +
                                   "): the record was edited, or is not this run's");
  }
  return Status();
}

// Each journal the record pinned must still end with its pinned last line.
Status check_journals(const std::string& run_dir, const Json& journals) {
  if (!journals.is_object()) return Status::InvalidArgument("the record's provenance.journals is not an object");
  for (const auto& [rank, pinned] : journals.items()) {
    const Json hash = pinned.is_object() ? pinned.value("last_sha256", Json()) : Json();
    const Json file = pinned.is_object() ? pinned.value("file", Json()) : Json();
    if (!hash.is_string() || !file.is_string() || journal_rank(file.get<std::string>()) < 0) {
      return Status::InvalidArgument("the record's journal entry for rank " + printable_text(rank) + " is malformed");
    }
    const std::string path = join_path(run_dir, file.get<std::string>());
    FM_ASSIGN_OR_RETURN(JournalContents contents, read_journal(path));
    const auto& hashes = contents.line_sha256;
    const std::string& last = hash.get_ref<const std::string&>();
    const auto at = std::find(hashes.begin(), hashes.end(), last);
    // A record pins each journal's last line: lines after it are compute
    // the record does not count (the run went on, or lines were added),
    // and so is a torn tail the record did not see.
    const Json saw_torn_tail = pinned.value("torn_tail_dropped", Json());
    std::string problem;
    if (at == hashes.end()) {
      problem = "does not hold the line the record pinned (" + last.substr(0, 16) + "...)";
    } else if (at + 1 != hashes.end()) {
      problem = "goes on for " + std::to_string(hashes.end() - at - 1) + " line(s) after the line the record " +
                "pinned as its last (" + last.substr(0, 16) + "...)";
    } else if (contents.torn_tail && saw_torn_tail.is_boolean() && !saw_torn_tail.get<bool>()) {
      problem = "ends in a line the record did not see (" + contents.tail_problem + ")";
    }
    if (!problem.empty()) {
      return Status::InvalidArgument(printable_text(path) + " " + problem + ": the record and its journals "
                                     "disagree; report the run again (and write its record) before adding it");
    }
  }
  return Status();
}

}  // namespace

Status check_run_record(const std::string& run_dir, const Json& record, const std::string& data_dir) {
  const Json provenance = record.value("provenance", Json());
  FM_RETURN_IF_ERROR(check_journals(run_dir, provenance.is_object() ? provenance.value("journals", Json::object())
                                                                    : Json::object()));
  return check_figures(run_dir, record, data_dir);
}

}  // namespace flopsmeter
