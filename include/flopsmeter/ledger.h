// The audit ledger: every model and run of an organisation in one signed,
// append-only, verifiable record, with each model's lineage and cumulative
// compute. A regulator asks about a model, months later; the ledger answers
// from runs recorded as the meter wrote them, under a Merkle tree whose
// heads are signed (Certificate Transparency's design, RFC 6962).
//
//   flopsmeter::LedgerOptions o;                  // location: a file path
//   o.location = "ledger.sqlite";                 // (SQLite) or a postgresql:// URL
//   auto ledger = flopsmeter::Ledger::Open(o, /*create=*/true);
//   (*ledger)->add_model(base);                   // a base model, its compute
//   (*ledger)->add_run(record_json, run);         // a run that made a derived model
//   auto lineage = (*ledger)->lineage("acme/llama-sft");  // cumulative, verdicts
//   auto report = (*ledger)->verify({});          // every leaf, the tree, every signature
//
// Every append is one transaction that adds the entries and a tree head
// signed with the appender's Ed25519 key: an entry is covered by a signed
// head before the call returns. History is never rewritten: a correction is
// a new entry that supersedes an earlier one, and both stay.
//
// docs/ledger.md describes the entries, the lineage arithmetic, what verify
// proves, and the storage.
//
// Thread safety: a Ledger is used by one thread at a time; any number of
// processes (and, on PostgreSQL, machines) may append to one ledger.
#ifndef FLOPSMETER_LEDGER_H_
#define FLOPSMETER_LEDGER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "flopsmeter/exact.h"
#include "flopsmeter/rules.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

struct LedgerOptions {
  // [ledger] (FLOPSMETER_LEDGER): a file path (SQLite) or a postgresql:// URL;
  // "" is $XDG_DATA_HOME/flopsmeter/ledger.sqlite (~/.local/share/...).
  std::string location;
  // [ledger-key] (FLOPSMETER_LEDGER_KEY): the Ed25519 key that signs what
  // this process appends; "" is $XDG_CONFIG_HOME/flopsmeter/ledger.key.
  std::string key_path;
  // [data-dir]: rules and catalogs, for the verdicts of a lineage.
  std::string data_dir;
  // [organisation] (FLOPSMETER_ORGANISATION): who makes the models this
  // process registers; the EU rule adds up one organisation's modifications.
  std::string organisation;
};
// `given` with the environment and the defaults applied. Errors: a relative
// XDG variable (the spec requires absolute), no HOME to default from.
Result<LedgerOptions> resolve_ledger_options(LedgerOptions given);

// A document handed to the ledger from a file (a head kept earlier, an
// inclusion proof, a record), read as every input is: a regular file,
// bounded in size. Errors name the file.
Result<std::string> read_ledger_document(const std::string& path);

// A run's record: `path` is a run directory (its flops_meter.json) or the
// record file itself; `run_dir` is the directory whose journals it pins.
struct RunRecordFile {
  std::string text;
  std::string run_dir;
};
Result<RunRecordFile> read_run_record_file(const std::string& path);

// An Ed25519 key pair in a file readable by its owner alone.
struct LedgerKeyInfo {
  std::string key_id;      // "ed25519:" + the first 32 hex digits of SHA-256(public key)
  std::string public_key;  // 64 hex digits
  std::string path;        // where the secret key is
};
// Makes a new key at `path` (mode 0600, never over an existing file).
Result<LedgerKeyInfo> generate_ledger_key(const std::string& path);

// What a base model is known to have cost.
struct PretrainingFigure {
  std::optional<Flop> flop;  // nullopt: unknown (the rules' unknown-base defaults apply)
  std::string source;        // a public citation, or how it was measured
  std::string status;        // "published", "third_party_estimate", "measured", "given", "unknown"
};

// A base's pretraining compute measured by a flopsmeter run (`run` is its
// directory or its flops_meter.json): the record is checked against the
// journals it pins, as `Ledger::add_runs` checks a run, and the figure is
// the compute in the weights the run ended with (tokens.in_final_weights;
// crashed work left out, the smaller figure, so a third of it is the
// stricter threshold for whoever modifies the base), status "measured", the
// source naming the run, its record's SHA-256, the formula and both
// figures. A record whose figure is undetermined is refused.
Result<PretrainingFigure> measured_pretraining(const std::string& run, const std::string& data_dir);

struct ModelSpec {
  std::string name;          // unique in the ledger; a catalog id, a Hub id or the organisation's own
  std::string organisation;  // who made it (a base: its provider)
  // A base model: no parents, its pretraining compute.
  PretrainingFigure pretraining;
  bool systemic_risk = false;  // designated a GPAI model with systemic risk
  // A derived model: its parents (one for a fine-tune, several for a merge
  // or an average), all in the ledger already.
  std::vector<std::string> parents;
  std::string how;  // "fine-tune", "merge", "average", ... (free text)
  std::string note;
};

struct RunSpec {
  std::string model;  // the model the run made; registered with `derived` when new
  std::optional<ModelSpec> derived;
  // Bases `derived` needs that the ledger may not hold yet (a catalog model
  // named as its parent): those it lacks are registered before `derived`,
  // in the same transaction, so that nothing is written when the run is
  // refused.
  std::vector<ModelSpec> new_bases;
  // A flops_meter.json of the AWS toolkit (string figures, counts taken
  // before the PEFT wrap), recorded as imported, not as flopsmeter's own.
  bool imported = false;
  // The run directory, when the record comes from one: its journals must
  // still end with the last lines the record pinned (a journal that goes on
  // after them holds compute the record does not count).
  std::string run_dir;
};

// Where an append put things.
struct LedgerAppend {
  uint64_t index = 0;          // the (last) entry appended, or the existing one (no_change)
  bool no_change = false;      // the same entry was already there (an idempotent re-add)
  std::optional<uint64_t> superseded;  // the entry it replaces (a re-reported run)
  uint64_t tree_size = 0;      // the signed head that covers it
  std::string head_json;       // that head (schema flopsmeter.tree_head/1)
  std::vector<std::string> notes;  // e.g. a signing key made for a ledger with none
};

class Ledger {
 public:
  // Opens the ledger (creating it, with its id, when `create`) and the key
  // (needed to append; reading and verifying need none). Errors name the
  // location or key file at fault.
  static Result<std::unique_ptr<Ledger>> Open(const LedgerOptions& options, bool create);
  // Open(options, true), except that a ledger file not there yet is created
  // by the first append that succeeds, not by opening: a command whose
  // append is refused leaves no new ledger behind (until then the views
  // answer as for an empty ledger). A PostgreSQL location is created at once.
  static Result<std::unique_ptr<Ledger>> OpenCreatingOnAppend(const LedgerOptions& options);
  virtual ~Ledger() = default;

  // Appending. Each is one transaction with a signed head; nothing is
  // written when it fails. Errors (kInvalidArgument, naming the entry or
  // model at fault): an unknown parent, a lineage cycle, a name taken, a
  // record whose journals no longer end with their pinned lines, no key.
  virtual Result<LedgerAppend> register_key() = 0;  // this process's key, once
  virtual Result<LedgerAppend> add_model(const ModelSpec& model) = 0;
  // A run's flops_meter.json exactly as written. Idempotent by run id: the
  // same record again changes nothing; another record of the same run (a
  // re-report after a crash) supersedes the earlier entry.
  Result<LedgerAppend> add_run(const std::string& record_json, const RunSpec& run);
  // Several runs in one transaction under one signed head (an import, a
  // backfill): the same checks, one result each, nothing written when any
  // fails (the error names the run by its label, or its position from 1).
  struct RunToAdd {
    std::string record_json;
    RunSpec run;
    std::string label;  // e.g. the record's file
  };
  virtual Result<std::vector<LedgerAppend>> add_runs(const std::vector<RunToAdd>& runs) = 0;
  // An estimate's JSON (flopsmeter.estimate/1), the pre-training decision on
  // file, about `model` (the model it plans to fine-tune; may be "").
  virtual Result<LedgerAppend> add_estimate(const std::string& estimate_json, const std::string& model) = 0;
  // A note about entry `about`; with `supersedes` a correction of it.
  virtual Result<LedgerAppend> annotate(uint64_t about, const std::string& text, bool supersedes) = 0;
  // Where a record was exported (export issue): URL, version, time.
  virtual Result<LedgerAppend> record_export(uint64_t about, const std::string& url, const std::string& version) = 0;

  // Reading (JSON texts with versioned schemas, for the CLI, the C ABI and
  // Python alike; docs/ledger.md lists their fields).
  virtual Result<std::string> models_json() = 0;                           // flopsmeter.ledger_models/1
  virtual Result<std::string> model_json(const std::string& name) = 0;    // flopsmeter.ledger_model/1
  virtual Result<std::string> lineage_json(const std::string& name) = 0;  // flopsmeter.ledger_lineage/1
  virtual Result<std::string> runs_json(const std::string& model) = 0;    // flopsmeter.ledger_runs/1; "" all
  virtual Result<std::string> head_json() = 0;                            // flopsmeter.tree_head/1
  // flopsmeter.ledger_verify/1: every leaf recomputed, the tree, every head's
  // signature; with `old_head` (a head JSON someone kept) a consistency proof
  // that the ledger extends it; with `trusted_keys` (public keys or key ids)
  // heads must be signed by one of them.
  virtual Result<std::string> verify_json(const std::string& old_head, const std::vector<std::string>& trusted_keys) = 0;
  // flopsmeter.inclusion_proof/1 for entry `index`, checkable with
  // verify_inclusion_proof() and no database.
  virtual Result<std::string> prove_json(uint64_t index) = 0;
  // Entry `index` as stored (its canonical JSON text, whose leaf hash the
  // tree holds), read alone: what a view that names many entries reads,
  // where a proof of each would read the whole ledger each time.
  // Errors: kNotFound for an index past the last entry.
  virtual Result<std::string> entry_json(uint64_t index) = 0;

  // What the ledger says a new run trained from `model` starts from, for an
  // estimate or the meter: the original model's compute (the nearest
  // ancestors made by another organisation than `organisation`), the
  // modifications `organisation` made since, and the systemic-risk
  // designation. Errors: kNotFound for an unknown model.
  struct Basis {
    BaseCompute original;        // flop nullopt when unknown
    Flop own_modifications = 0;  // summed, FLOP
    // Non-empty: which of them has an unknown compute (own_modifications is
    // then the known part, a lower bound).
    std::string own_modifications_undetermined;
    std::string explanation;     // how the figures were found, with entry numbers
  };
  virtual Result<Basis> basis_for(const std::string& model, const std::string& organisation) = 0;
};

// Checks an inclusion proof (Ledger::prove_json) with no database: the
// entry's leaf hash, its audit path to the head's root, and the head's
// Ed25519 signature under the public key the proof names (or
// `trusted_key`, a public key in hex, when given). Returns a short
// human-readable confirmation; errors say which check failed.
Result<std::string> verify_inclusion_proof(const std::string& proof_json, const std::string& trusted_key);
// The same checks as a document (flopsmeter.proof_check/1): a proof that
// reads but fails a check is "ok": false with the problem; one that cannot
// be read, or a trusted key that names no key, is still an error.
Result<std::string> inclusion_proof_check_json(const std::string& proof_json, const std::string& trusted_key);

}  // namespace flopsmeter

#endif  // FLOPSMETER_LEDGER_H_
