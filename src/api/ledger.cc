// The ledger: opening it, and appending entries under a signed head.
#include "flopsmeter/ledger.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <cstdlib>
#include <random>
#include <set>

#include "adapters/environment.h"
#include "adapters/files.h"
#include "adapters/ledger_store.h"
#include "adapters/sha256.h"
#include "adapters/signing_key.h"
#include "api/ledger_entries.h"
#include "api/ledger_internal.h"
#include "api/run_record_check.h"
#include "api/run_report.h"
#include "core/canonical_json.h"
#include "core/json_doc.h"
#include "core/merkle.h"
#include "core/strict_fields.h"  // join

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

std::string now_iso() {
  return iso_time(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
}

std::string random_hex_id() {
  std::random_device rd;
  char text[33];
  std::snprintf(text, sizeof text, "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  return text;
}

// $VAR, or $HOME/fallback; the XDG Base Directory spec ignores a relative
// value, and so do we, loudly.
Result<std::string> xdg_directory(const char* variable, const char* fallback) {
  if (const char* v = std::getenv(variable); v != nullptr && *v != '\0') {
    if (*v != '/') return Status::InvalidArgument(std::string(variable) + " is a relative path; it must be absolute");
    return std::string(v);
  }
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') {
    return Status::InvalidArgument(std::string("neither ") + variable + " nor HOME is set: give the ledger's location");
  }
  return std::string(home) + "/" + fallback;
}

bool is_postgres_location(const std::string& location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

// The id that every head names, drawn once (with `create`), by whoever
// creates the ledger first.
Result<std::string> ledger_id_of(LedgerStore& store, bool create) {
  FM_ASSIGN_OR_RETURN(std::optional<std::string> id, store.meta("ledger_id"));
  if (id) return *id;
  if (!create) return Status::ParseError(store.display_location() + ": a ledger store without a ledger id");
  FM_ASSIGN_OR_RETURN(std::unique_ptr<LedgerStore::Writer> writer, store.begin_write());
  FM_ASSIGN_OR_RETURN(id, store.meta("ledger_id"));
  if (!id) {
    id = random_hex_id();
    FM_RETURN_IF_ERROR(writer->put_meta("ledger_id", *id));
    FM_RETURN_IF_ERROR(writer->commit());
  }
  return *id;
}

class LedgerImpl final : public Ledger {
 public:
  LedgerImpl(LedgerOptions options, std::unique_ptr<LedgerStore> store, std::string ledger_id, bool default_key)
      : options_(std::move(options)), store_(std::move(store)), ledger_id_(std::move(ledger_id)),
        default_key_(default_key) {}

  // The ledger's store is an empty stand-in in memory; the ledger at
  // `location` is created by the first append that succeeds on it.
  void create_on_first_append(std::string location) { pending_location_ = std::move(location); }

  Result<LedgerAppend> register_key() override {
    return append([&](Writer& w) -> Result<std::vector<NewEntry>> {
      if (!w.key_new) w.no_change = w.key_entry;
      return std::vector<NewEntry>();
    });
  }

  Result<LedgerAppend> add_model(const ModelSpec& model) override {
    return append([&](Writer& w) -> Result<std::vector<NewEntry>> {
      std::vector<NewEntry> entries;
      FM_RETURN_IF_ERROR(new_model(model, entries, w.no_change));
      return entries;
    });
  }

  Result<std::vector<LedgerAppend>> add_runs(const std::vector<RunToAdd>& runs) override {
    return append_items(runs.size(), [&](size_t i, Writer& w) -> Result<std::vector<NewEntry>> {
      Result<std::vector<NewEntry>> entries = run_entries(runs[i].record_json, runs[i].run, w);
      if (!entries.ok() && (runs.size() > 1 || !runs[i].label.empty())) {
        return entries.status().WithContext(runs[i].label.empty() ? "run " + std::to_string(i + 1)
                                                                  : printable_text(runs[i].label));
      }
      return entries;
    });
  }

  Result<LedgerAppend> add_estimate(const std::string& estimate_json, const std::string& model) override {
    const Json estimate = Json::parse(estimate_json, nullptr, false);
    if (!estimate.is_object() || estimate.value("schema", Json()) != "flopsmeter.estimate/1") {
      return Status::InvalidArgument("not an estimate (schema flopsmeter.estimate/1)");
    }
    return append([&](Writer&) -> Result<std::vector<NewEntry>> {
      NewEntry e;
      e.kind = EntryKind::kEstimate;
      e.subject = model;
      e.body = {{"model", model}, {"estimate", estimate_json}, {"estimate_sha256", sha256_hex(estimate_json)}};
      return std::vector<NewEntry>{std::move(e)};
    });
  }

  Result<LedgerAppend> annotate(uint64_t about, const std::string& text, bool supersedes) override {
    return append([&](Writer&) -> Result<std::vector<NewEntry>> {
      FM_ASSIGN_OR_RETURN(uint64_t count, store_->entry_count());
      if (about >= count) {
        return Status::NotFound("entry " + std::to_string(about) + " is not in the ledger (it has " +
                                std::to_string(count) + " entries)");
      }
      NewEntry e;
      e.kind = EntryKind::kAnnotation;
      e.subject = std::to_string(about);
      e.body = {{"about", about}, {"text", text}};
      if (supersedes) e.supersedes = about;
      return std::vector<NewEntry>{std::move(e)};
    });
  }

  Result<LedgerAppend> record_export(uint64_t about, const std::string& url, const std::string& version) override {
    return append([&](Writer&) -> Result<std::vector<NewEntry>> {
      NewEntry e;
      e.kind = EntryKind::kExport;
      e.subject = std::to_string(about);
      e.body = {{"about", about}, {"url", url}, {"version", version}};
      return std::vector<NewEntry>{std::move(e)};
    });
  }

  Result<std::string> models_json() override {
    FM_ASSIGN_OR_RETURN(LedgerState state, read_ledger_state(*store_));
    return models_view(state);
  }
  Result<std::string> model_json(const std::string& name) override {
    FM_ASSIGN_OR_RETURN(LedgerState state, read_ledger_state(*store_));
    return model_view(*store_, state, name);
  }
  Result<std::string> lineage_json(const std::string& name) override {
    FM_ASSIGN_OR_RETURN(LedgerState state, read_ledger_state(*store_));
    FM_ASSIGN_OR_RETURN(Catalog catalog, Catalog::Load(options_.data_dir));
    return lineage_view(state, name, catalog);
  }
  Result<std::string> runs_json(const std::string& model) override {
    FM_ASSIGN_OR_RETURN(LedgerState state, read_ledger_state(*store_));
    return runs_view(state, model);
  }
  Result<std::string> head_json() override {
    FM_ASSIGN_OR_RETURN(std::optional<StoredHead> head, store_->latest_head());
    if (!head) return Status::NotFound(store_->display_location() + ": the ledger has no signed head yet");
    FM_ASSIGN_OR_RETURN(std::vector<StoredKey> keys, store_->keys());
    std::string public_key;
    for (const StoredKey& k : keys)
      if (k.key_id == head->key_id) public_key = k.public_key;
    return flopsmeter::head_json(ledger_id_, *head, public_key);
  }
  Result<std::string> verify_json(const std::string& old_head, const std::vector<std::string>& trusted_keys) override {
    return verify_view(*store_, ledger_id_, old_head, trusted_keys);
  }
  Result<std::string> prove_json(uint64_t index) override { return prove_view(*store_, ledger_id_, index); }
  Result<std::string> entry_json(uint64_t index) override {
    FM_ASSIGN_OR_RETURN(std::vector<StoredEntry> entries, store_->entries(index, 1));
    if (entries.empty()) {
      return Status::NotFound(store_->display_location() + ": no entry " + std::to_string(index));
    }
    return std::move(entries.front().entry);
  }

  Result<Basis> basis_for(const std::string& model, const std::string& organisation) override {
    FM_ASSIGN_OR_RETURN(LedgerState state, read_ledger_state(*store_));
    return basis_in(state, model, organisation);
  }

 private:
  // What an append's body learns inside the transaction.
  struct Writer {
    std::optional<uint64_t> no_change;  // the entry that already says this
    uint64_t key_entry = 0;             // the entry that registers the appending key
    bool key_new = false;               // registered by this transaction
  };

  // The current entry of `kind` about `subject`: the latest, unless an
  // annotation supersedes it. Reads only that subject's entries, so that an
  // append costs the same in a ledger of any size.
  Result<std::optional<ParsedEntry>> current_entry(const char* kind, const std::string& subject) {
    FM_ASSIGN_OR_RETURN(std::vector<StoredEntry> stored, store_->entries_about(kind, subject));
    if (stored.empty()) return std::optional<ParsedEntry>();
    FM_ASSIGN_OR_RETURN(ParsedEntry latest, parse_entry(stored.back()));
    FM_ASSIGN_OR_RETURN(std::vector<StoredEntry> notes, store_->entries_about("annotation", std::to_string(latest.index)));
    for (const StoredEntry& n : notes) {
      FM_ASSIGN_OR_RETURN(ParsedEntry note, parse_entry(n));
      if (note.supersedes == latest.index) return std::optional<ParsedEntry>();
    }
    return std::optional<ParsedEntry>(std::move(latest));
  }

  Result<std::optional<ModelSpec>> current_model(const std::string& name, uint64_t* index = nullptr) {
    FM_ASSIGN_OR_RETURN(std::optional<ParsedEntry> entry, current_entry("model", name));
    if (!entry) return std::optional<ModelSpec>();
    if (index != nullptr) *index = entry->index;
    FM_ASSIGN_OR_RETURN(ModelSpec model, model_of(*entry));
    return std::optional<ModelSpec>(std::move(model));
  }

  // A name registered before (and since superseded) may be an ancestor of
  // the current models: registered again, it must not descend from one of
  // them. A name never registered is nobody's ancestor, and its parents
  // are older than it.
  Status check_no_cycle(const ModelSpec& model) {
    FM_ASSIGN_OR_RETURN(std::vector<StoredEntry> history, store_->entries_about("model", model.name));
    if (history.empty()) return Status();
    std::set<std::string> seen;
    std::vector<std::pair<std::string, std::string>> todo;  // (ancestor, the parent it was reached from)
    for (const std::string& parent : model.parents) todo.emplace_back(parent, parent);
    while (!todo.empty()) {
      const auto [name, through] = todo.back();
      todo.pop_back();
      if (name == model.name) {
        return Status::InvalidArgument("model '" + printable_text(model.name) + "' would be its own ancestor: its "
                                       "parent '" + printable_text(through) + "' descends from it (a lineage cycle)");
      }
      if (!seen.insert(name).second) continue;
      FM_ASSIGN_OR_RETURN(std::optional<ModelSpec> known, current_model(name));
      if (known) {
        for (const std::string& p : known->parents) todo.emplace_back(p, through);
      }
    }
    return Status();
  }

  // Whether `entries`, not appended yet, register model `name`.
  static bool pending_model(const std::vector<NewEntry>& entries, const std::string& name) {
    return std::any_of(entries.begin(), entries.end(),
                       [&](const NewEntry& e) { return e.kind == EntryKind::kModel && e.subject == name; });
  }

  // A model entry for `model`, after checking it against the ledger: a name
  // not taken (the same model again is no change), parents present, no
  // parent that is itself or descends from it.
  Status new_model(const ModelSpec& model, std::vector<NewEntry>& entries, std::optional<uint64_t>& no_change) {
    if (model.name.empty()) return Status::InvalidArgument("a model needs a name");
    uint64_t index = 0;
    FM_ASSIGN_OR_RETURN(std::optional<ModelSpec> existing, current_model(model.name, &index));
    if (existing) {
      if (model_body(*existing) == model_body(model)) {
        no_change = index;
        return Status();
      }
      return Status::InvalidArgument("model '" + printable_text(model.name) + "' is already in the ledger (entry " +
                                     std::to_string(index) +
                                     ") with other figures; a correction is an annotation that supersedes it");
    }
    for (const std::string& parent : model.parents) {
      if (parent == model.name) {
        return Status::InvalidArgument("model '" + printable_text(model.name) + "' names itself as its parent");
      }
      FM_ASSIGN_OR_RETURN(std::optional<ModelSpec> known, current_model(parent));
      if (!known && !pending_model(entries, parent)) {
        return Status::InvalidArgument("model '" + printable_text(model.name) + "': its parent '" +
                                       printable_text(parent) + "' is not in the ledger; add it first");
      }
    }
    FM_RETURN_IF_ERROR(check_no_cycle(model));
    if (model.parents.empty() && model.pretraining.status.empty()) {
      return Status::InvalidArgument("base model '" + printable_text(model.name) +
                                     "': say what its pretraining compute is, or that it is unknown");
    }
    // The figure's status is a closed set (schemas/ledger_common.schema.json),
    // and says whether there is a figure: a ledger never forgets an odd one.
    if (model.parents.empty()) {
      const std::string& status = model.pretraining.status;
      const bool known_status = status == "published" || status == "third_party_estimate" || status == "measured" ||
                                status == "given" || status == "unknown";
      if (!known_status || (status == "unknown") == model.pretraining.flop.has_value()) {
        return Status::InvalidArgument("base model '" + printable_text(model.name) + "': pretraining status '" +
                                       printable_text(status) + "' with" + (model.pretraining.flop ? "" : "out") +
                                       " a figure; expected published, third_party_estimate, measured or given with "
                                       "a figure, or unknown without one");
      }
    }
    NewEntry e;
    e.kind = EntryKind::kModel;
    e.subject = model.name;
    e.body = model_body(model);
    entries.push_back(std::move(e));
    return Status();
  }

  // The entries a run's record makes: its model when new, and the run,
  // superseding an earlier record of the same run; none when the ledger
  // holds this record already.
  Result<std::vector<NewEntry>> run_entries(const std::string& record_json, const RunSpec& run, Writer& w) {
    FM_ASSIGN_OR_RETURN(NewEntry entry, run_entry(record_json, run));
    std::vector<NewEntry> entries;
    uint64_t model_index = 0;
    FM_ASSIGN_OR_RETURN(std::optional<ModelSpec> known, current_model(run.model, &model_index));
    if (known && run.derived && known->parents != run.derived->parents) {
      return Status::InvalidArgument("model '" + printable_text(run.model) + "' is in the ledger (entry " +
                                     std::to_string(model_index) + ") made from " + join(known->parents, ", ") +
                                     ", not from " + join(run.derived->parents, ", "));
    }
    if (!known) {
      if (!run.derived) {
        return Status::InvalidArgument("model '" + printable_text(run.model) + "' is not in the ledger: name the "
                                       "model it was trained from, so that it is registered with its parent");
      }
      std::optional<uint64_t> unused;
      for (const ModelSpec& base : run.new_bases) {
        FM_ASSIGN_OR_RETURN(std::optional<ModelSpec> held, current_model(base.name));
        if (!held && !pending_model(entries, base.name)) FM_RETURN_IF_ERROR(new_model(base, entries, unused));
      }
      FM_RETURN_IF_ERROR(new_model(*run.derived, entries, unused));
    }
    FM_ASSIGN_OR_RETURN(std::optional<ParsedEntry> earlier, current_entry("run", entry.subject));
    if (earlier) {
      if (earlier->body.value("record_sha256", Json()) == entry.body["record_sha256"] &&
          earlier->body.value("model", Json()) == entry.body["model"]) {
        w.no_change = earlier->index;
        return std::vector<NewEntry>();
      }
      entry.supersedes = earlier->index;  // a re-report of the run: the later record replaces it
    }
    entries.push_back(std::move(entry));
    return entries;
  }

  // The run entry for a record, its journals checked when a run directory
  // is given.
  Result<NewEntry> run_entry(const std::string& record_json, const RunSpec& run) {
    const Json record = Json::parse(record_json, nullptr, false);
    if (!record.is_object()) return Status::InvalidArgument("the record is not a JSON object");
    NewEntry e;
    e.kind = EntryKind::kRun;
    Json journals = Json::object();
    if (run.imported) {
      // flopsmeter's own record would lose its journals' check and its exact figure.
      if (record.contains("schema")) {
        return Status::InvalidArgument("a record with a schema (" + printable_text(record["schema"].dump()) +
                                       ") is not the AWS toolkit's: a flopsmeter run record is added as a run, not "
                                       "imported");
      }
      // The AWS toolkit's records have no run id: the job's names, else the record's hash.
      for (const char* key : {"training_id", "training_job_name"}) {
        if (e.subject.empty() && record.value(key, Json()).is_string()) e.subject = "aws:" + record[key].get<std::string>();
      }
      if (e.subject.empty() || e.subject == "aws:") e.subject = "aws:" + sha256_hex(record_json).substr(0, 32);
    } else {
      const Json schema = record.value("schema", Json());
      if (!schema.is_string() || schema.get<std::string>().rfind("flopsmeter.run/", 0) != 0) {
        return Status::InvalidArgument("not a flopsmeter run record (schema flopsmeter.run/N); an AWS toolkit "
                                       "record is imported as such");
      }
      if (!record.value("run_id", Json()).is_string()) return Status::InvalidArgument("the record has no run_id");
      e.subject = record["run_id"].get<std::string>();
      const Json provenance = record.value("provenance", Json());
      if (provenance.is_object()) journals = provenance.value("journals", Json::object());
      if (!run.run_dir.empty()) {
        FM_RETURN_IF_ERROR(check_run_record(run.run_dir, record, options_.data_dir));
      }
    }
    e.body = run_body(record_json, run.model, run.imported, journals);
    // Every view reads each run's figure: a record it cannot read would
    // break them all from then on, in a ledger that never forgets.
    FM_RETURN_IF_ERROR(run_figure_of(e.body, record, e.subject, "run " + printable_text(e.subject)).status());
    return e;
  }

  // The key that signs appends: the key file, or a new one at the default
  // path when there is none (a ledger works with no set-up). A new key is
  // written only once the append it signs is known to succeed (just before
  // the commit): a refused command leaves no key file.
  Status load_key() {
    if (key_) return Status();
    Result<SigningKey> key = SigningKey::Load(options_.key_path);
    if (!key.ok() && key.status().code() == StatusCode::kNotFound && default_key_) {
      key = SigningKey::Create(options_.key_path);
      if (key.ok()) made_key_ = key_unsaved_ = true;
    }
    if (!key.ok()) {
      return key.status().WithContext("the ledger's signing key (make one with `ledger keygen`, or give its path)");
    }
    key_ = std::move(*key);
    return Status();
  }

  Result<LedgerAppend> append(const std::function<Result<std::vector<NewEntry>>(Writer&)>& make) {
    FM_ASSIGN_OR_RETURN(std::vector<LedgerAppend> out,
                        append_items(1, [&](size_t, Writer& w) { return make(w); }));
    return std::move(out.front());
  }

  // Appends what `make(i)` returns for each of `n` items in one transaction
  // with one signed head, the key's own registration first when it is new.
  // `make` runs inside the transaction, after the items before it are
  // inserted: what it reads of the ledger stays true until the commit.
  // Nothing is written when any item fails.
  template <typename Make>
  Result<std::vector<LedgerAppend>> append_items(size_t n, Make make) {
    if (!pending_location_.empty()) {
      // Tried on the empty stand-in first: refused there, nothing is created.
      FM_RETURN_IF_ERROR(append_items_once(n, make).status());
      FM_ASSIGN_OR_RETURN(std::unique_ptr<LedgerStore> store, LedgerStore::Open(pending_location_, true));
      FM_ASSIGN_OR_RETURN(ledger_id_, ledger_id_of(*store, true));
      store_ = std::move(store);
      pending_location_.clear();
    }
    return append_items_once(n, make);
  }

  template <typename Make>
  Result<std::vector<LedgerAppend>> append_items_once(size_t n, Make make) {
    FM_RETURN_IF_ERROR(load_key());
    FM_ASSIGN_OR_RETURN(std::unique_ptr<LedgerStore::Writer> writer, store_->begin_write());
    FM_ASSIGN_OR_RETURN(TreeState state, writer->state());
    FM_ASSIGN_OR_RETURN(merkle::CompactRange range, merkle::CompactRange::FromSubtrees(state.size, state.subtrees));
    const std::string time = now_iso();
    FM_ASSIGN_OR_RETURN(std::vector<StoredKey> keys, store_->keys());
    std::optional<uint64_t> key_entry_index;
    for (const StoredKey& k : keys)
      if (k.key_id == key_->key_id()) key_entry_index = k.entry_index;
    const bool key_new = !key_entry_index;
    if (key_new) {
      key_entry_index = range.size();
      NewEntry key_entry;
      key_entry.kind = EntryKind::kKey;
      key_entry.subject = key_->key_id();
      key_entry.body = {{"algorithm", "ed25519"}, {"public_key", to_hex(key_->public_key())}};
      FM_RETURN_IF_ERROR(insert(*writer, range, key_entry, time));
    }
    std::vector<LedgerAppend> out(n);
    for (size_t i = 0; i < n; ++i) {
      Writer w{std::nullopt, *key_entry_index, key_new};
      FM_ASSIGN_OR_RETURN(std::vector<NewEntry> entries, make(i, w));
      out[i].no_change = entries.empty() && w.no_change.has_value();
      out[i].index = w.no_change.value_or(*key_entry_index);
      for (const NewEntry& e : entries) {
        if (e.supersedes) out[i].superseded = e.supersedes;
        out[i].index = range.size();
        FM_RETURN_IF_ERROR(insert(*writer, range, e, time));
      }
    }
    if (range.size() == state.size) {  // idempotent re-adds only: nothing to sign
      FM_ASSIGN_OR_RETURN(std::string head, head_json());
      for (LedgerAppend& a : out) {
        a.tree_size = range.size();
        a.head_json = head;
      }
      return out;
    }
    StoredHead head{range.size(), range.root(), time, key_->key_id(), ""};
    FM_ASSIGN_OR_RETURN(std::string message, head_message(ledger_id_, head.size, head.root, head.time, head.key_id));
    head.signature = key_->sign(message);
    FM_RETURN_IF_ERROR(writer->set_state({range.size(), range.subtrees()}));
    FM_RETURN_IF_ERROR(writer->insert_head(head));
    if (key_unsaved_ && pending_location_.empty()) {
      FM_RETURN_IF_ERROR(key_->Save());
      key_unsaved_ = false;
    }
    FM_RETURN_IF_ERROR(writer->commit());
    const std::string signed_head = flopsmeter::head_json(ledger_id_, head, key_->public_key());
    for (LedgerAppend& a : out) {
      a.tree_size = head.size;
      a.head_json = signed_head;
    }
    if (made_key_ && !out.empty() && pending_location_.empty()) {
      out.front().notes.push_back("made a new signing key " + key_->key_id() + " at " + key_->path() +
                                  " and registered it in the ledger (entry " + std::to_string(state.size) + ")");
      made_key_ = false;
    }
    return out;
  }

  // One entry into the transaction, and its leaf into the tree.
  Status insert(LedgerStore::Writer& writer, merkle::CompactRange& range, const NewEntry& e, const std::string& time) {
    const Json entry = {{"schema", kLedgerEntrySchema},
                        {"kind", entry_kind_name(e.kind)},
                        {"time", time},
                        {"key_id", key_->key_id()},
                        {"subject", e.subject},
                        {"supersedes", e.supersedes ? Json(*e.supersedes) : Json()},
                        {"body", e.body}};
    FM_ASSIGN_OR_RETURN(std::string text, canonical_json(entry));
    StoredEntry stored{range.size(), text, merkle::leaf_hash(text), entry_kind_name(e.kind), e.subject};
    FM_RETURN_IF_ERROR(writer.insert_entry(stored));
    if (e.kind == EntryKind::kKey) FM_RETURN_IF_ERROR(writer.insert_key({key_->key_id(), key_->public_key(), range.size()}));
    range.append(stored.leaf_hash);
    return Status();
  }

  LedgerOptions options_;
  std::unique_ptr<LedgerStore> store_;
  std::string ledger_id_;
  bool default_key_ = false;  // the key path is the default: a missing key is made
  std::optional<SigningKey> key_;
  bool made_key_ = false;
  bool key_unsaved_ = false;  // made_key_, and not yet written to its file
  std::string pending_location_;  // while the store is the stand-in: where the ledger will be
};

}  // namespace

Result<LedgerOptions> resolve_ledger_options(LedgerOptions given) {
  if (given.location.empty()) {
    if (std::optional<EnvValue> env = env_setting(EnvSetting::kLedger)) {
      given.location = env->value;
    } else {
      FM_ASSIGN_OR_RETURN(std::string data, xdg_directory("XDG_DATA_HOME", ".local/share"));
      given.location = data + "/flopsmeter/ledger.sqlite";
    }
  }
  if (given.organisation.empty()) {
    if (std::optional<EnvValue> env = env_setting(EnvSetting::kOrganisation)) given.organisation = env->value;
  }
  if (given.key_path.empty()) {
    if (std::optional<EnvValue> env = env_setting(EnvSetting::kLedgerKey)) {
      given.key_path = env->value;
    } else {
      FM_ASSIGN_OR_RETURN(std::string config, xdg_directory("XDG_CONFIG_HOME", ".config"));
      given.key_path = config + "/flopsmeter/ledger.key";
    }
  }
  return given;
}

// Heads, proofs and records are small; a file far larger is not one.
constexpr uint64_t kMaxLedgerDocument = 64 << 20;

Result<std::string> read_ledger_document(const std::string& path) { return read_file(path, kMaxLedgerDocument); }

Result<RunRecordFile> read_run_record_file(const std::string& path) {
  RunRecordFile out;
  if (is_directory(path)) {
    out.run_dir = path;
    FM_ASSIGN_OR_RETURN(out.text, read_ledger_document(join_path(path, kRecordFileName)));
  } else {
    const size_t slash = path.rfind('/');
    out.run_dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    FM_ASSIGN_OR_RETURN(out.text, read_ledger_document(path));
  }
  return out;
}

Result<LedgerAppend> Ledger::add_run(const std::string& record_json, const RunSpec& run) {
  FM_ASSIGN_OR_RETURN(std::vector<LedgerAppend> appended, add_runs({{record_json, run, ""}}));
  return std::move(appended.front());
}

Result<LedgerKeyInfo> generate_ledger_key(const std::string& path) {
  FM_ASSIGN_OR_RETURN(SigningKey key, SigningKey::Generate(path));
  return LedgerKeyInfo{key.key_id(), to_hex(key.public_key()), key.path()};
}

Result<std::unique_ptr<Ledger>> Ledger::Open(const LedgerOptions& given, bool create) {
  const bool default_key = given.key_path.empty() && !env_setting(EnvSetting::kLedgerKey);
  FM_ASSIGN_OR_RETURN(LedgerOptions options, resolve_ledger_options(given));
  FM_ASSIGN_OR_RETURN(std::unique_ptr<LedgerStore> store, LedgerStore::Open(options.location, create));
  FM_ASSIGN_OR_RETURN(std::string id, ledger_id_of(*store, create));
  return std::unique_ptr<Ledger>(new LedgerImpl(std::move(options), std::move(store), id, default_key));
}

Result<std::unique_ptr<Ledger>> Ledger::OpenCreatingOnAppend(const LedgerOptions& given) {
  FM_ASSIGN_OR_RETURN(LedgerOptions options, resolve_ledger_options(given));
  // A PostgreSQL schema is made by an administrator: created at once.
  if (!is_postgres_location(options.location)) {
    Result<std::unique_ptr<LedgerStore>> existing = LedgerStore::Open(options.location, false);
    if (!existing.ok() && existing.status().code() == StatusCode::kNotFound) {
      // Until the first append that succeeds, an empty ledger in memory stands in.
      const bool default_key = given.key_path.empty() && !env_setting(EnvSetting::kLedgerKey);
      FM_ASSIGN_OR_RETURN(std::unique_ptr<LedgerStore> scratch, LedgerStore::OpenScratch(options.location));
      FM_ASSIGN_OR_RETURN(std::string id, ledger_id_of(*scratch, true));
      auto ledger = std::make_unique<LedgerImpl>(options, std::move(scratch), id, default_key);
      ledger->create_on_first_append(options.location);
      return std::unique_ptr<Ledger>(std::move(ledger));
    }
  }
  return Open(given, true);
}

}  // namespace flopsmeter
