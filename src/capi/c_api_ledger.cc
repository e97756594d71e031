// The C ABI over the ledger: a handle, and one call that takes a JSON
// request and answers with the JSON the CLI's --json prints.
#include <algorithm>
#include <memory>

#include <nlohmann/json.hpp>

#include "api/ledger_text.h"
#include "api/meter_ledger.h"
#include "capi/c_api_support.h"
#include "core/json_doc.h"
#include "flopsmeter/c_api.h"
#include "flopsmeter/ledger.h"

struct fm_ledger {
  std::unique_ptr<flopsmeter::Ledger> ledger;
  flopsmeter::LedgerOptions options;
};

namespace {

using flopsmeter::Result;
using flopsmeter::Status;
using flopsmeter::capi::copy_string;
using flopsmeter::capi::guarded;
using Json = nlohmann::json;

// A request's arguments, each read with its type checked and the call's
// known names enforced, so that a misspelt argument is an error, not a
// silently ignored one.
class Request {
 public:
  static Result<Request> Parse(const char* text) {
    if (text == nullptr) return Status::InvalidArgument("fm_ledger_call: request_json is NULL");
    Json j = Json::parse(text, nullptr, false);
    if (!j.is_object() || !j.value("call", Json()).is_string()) {
      return Status::ParseError("ledger request: expected a JSON object with \"call\": NAME");
    }
    return Request(std::move(j));
  }

  std::string call() const { return j_["call"].get<std::string>(); }

  // Errors for any argument outside `known`.
  Status allow(std::initializer_list<const char*> known) const { return allow_in(j_, "", known); }
  // The same for the members of an object argument, named from `path`
  // ("model.", "model.pretraining."): a misspelt member would otherwise
  // register a model without it (a base's compute unknown, a designated
  // base not systemic-risk), in a ledger that never forgets.
  Status allow_in(const Json& object, const std::string& path, std::initializer_list<const char*> known) const {
    for (const auto& [key, unused] : object.items()) {
      if (path.empty() && key == "call") continue;
      if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) {
        return Status::InvalidArgument("ledger request '" + flopsmeter::printable_text(call()) +
                                       "': unknown argument \"" + flopsmeter::printable_text(path + key) + "\"");
      }
    }
    return Status();
  }
  Result<std::string> text(const char* key, bool required = true) const {
    if (!j_.contains(key) || j_[key].is_null()) {
      if (required) return bad(key, "is required");
      return std::string();
    }
    if (!j_[key].is_string()) return bad(key, "expected a string");
    return j_[key].get<std::string>();
  }
  Result<bool> flag(const char* key) const {
    if (!j_.contains(key)) return false;
    if (!j_[key].is_boolean()) return bad(key, "expected true or false");
    return j_[key].get<bool>();
  }
  Result<uint64_t> index(const char* key) const {
    if (!j_.contains(key) || !j_[key].is_number_unsigned()) return bad(key, "expected an entry number");
    return j_[key].get<uint64_t>();
  }
  Result<std::vector<std::string>> texts(const char* key) const {
    std::vector<std::string> out;
    if (!j_.contains(key)) return out;
    if (!j_[key].is_array()) return bad(key, "expected an array of strings");
    for (const Json& item : j_[key]) {
      if (!item.is_string()) return bad(key, "expected an array of strings");
      out.push_back(item.get<std::string>());
    }
    return out;
  }
  const Json& json() const { return j_; }
  Status bad(const char* key, const char* what) const {
    return Status::InvalidArgument("ledger request '" + flopsmeter::printable_text(call()) + "': \"" + key + "\" " +
                                   what);
  }

 private:
  explicit Request(Json j) : j_(std::move(j)) {}
  Json j_;
};

// {"flop" (a decimal string or null), "source", "status"}: a figure the
// caller gives.
Status read_given_pretraining(const Request& r, const Json& pre, flopsmeter::PretrainingFigure& out) {
  const Json source = pre.value("source", Json("")), status = pre.value("status", Json(""));
  if (!source.is_string()) return r.bad("source", "expected a string");
  if (!status.is_string()) return r.bad("status", "expected a string");
  out.source = source.get<std::string>();
  out.status = status.get<std::string>();
  const Json flop = pre.value("flop", Json());
  if (flop.is_string()) {
    FM_ASSIGN_OR_RETURN(flopsmeter::Flop f, flopsmeter::parse_exact_integer(flop.get<std::string>(), "pretraining.flop"));
    out.flop = f;
  } else if (!flop.is_null()) {
    return r.bad("pretraining.flop", "expected a decimal string or null");
  }
  return Status();
}

// {"model": {...}} as a ModelSpec; the organisation defaults to the
// ledger options'.
Result<flopsmeter::ModelSpec> model_spec(const Request& r, const flopsmeter::LedgerOptions& options) {
  const Json& m = r.json().value("model", Json());
  if (!m.is_object()) return r.bad("model", "expected an object");
  FM_RETURN_IF_ERROR(
      r.allow_in(m, "model.", {"name", "organisation", "parents", "how", "note", "systemic_risk", "pretraining"}));
  flopsmeter::ModelSpec spec;
  auto text = [&](const Json& object, const char* key, std::string& out) -> Status {
    const Json v = object.value(key, Json(""));
    if (!v.is_string()) return r.bad(key, "expected a string");
    out = v.get<std::string>();
    return Status();
  };
  FM_RETURN_IF_ERROR(text(m, "name", spec.name));
  FM_RETURN_IF_ERROR(text(m, "organisation", spec.organisation));
  FM_RETURN_IF_ERROR(text(m, "how", spec.how));
  FM_RETURN_IF_ERROR(text(m, "note", spec.note));
  const Json risk = m.value("systemic_risk", Json(false));
  if (!risk.is_boolean()) return r.bad("systemic_risk", "expected true or false");
  spec.systemic_risk = risk.get<bool>();
  for (const Json& p : m.value("parents", Json::array())) {
    if (!p.is_string()) return r.bad("parents", "expected an array of strings");
    spec.parents.push_back(p.get<std::string>());
  }
  const Json pre = m.value("pretraining", Json::object());
  if (!pre.is_object()) return r.bad("pretraining", "expected an object");
  FM_RETURN_IF_ERROR(r.allow_in(pre, "model.pretraining.", {"flop", "source", "status", "run"}));
  if (pre.contains("run")) {
    // The metered run that pretrained the base is the figure and its source.
    if (pre.contains("flop") || pre.contains("source") || pre.contains("status")) {
      return r.bad("pretraining.run", "stands alone: the run gives the figure, its source and status");
    }
    std::string run;
    FM_RETURN_IF_ERROR(text(pre, "run", run));
    FM_ASSIGN_OR_RETURN(spec.pretraining, flopsmeter::measured_pretraining(run, options.data_dir));
  } else {
    FM_RETURN_IF_ERROR(read_given_pretraining(r, pre, spec.pretraining));
  }
  if (spec.organisation.empty()) {
    FM_ASSIGN_OR_RETURN(spec.organisation, flopsmeter::maker_organisation(options, spec.name));
  }
  return spec;
}


Result<std::string> appended(const Result<flopsmeter::LedgerAppend>& a, const std::string& what) {
  if (!a.ok()) return a.status();
  return flopsmeter::ledger_append_json(*a, what);
}

Result<std::string> add_run(fm_ledger& l, const Request& r) {
  FM_RETURN_IF_ERROR(r.allow({"record", "produces", "parent", "how", "imported", "run_dir"}));
  FM_ASSIGN_OR_RETURN(std::string record, r.text("record"));
  FM_ASSIGN_OR_RETURN(std::string produces, r.text("produces"));
  FM_ASSIGN_OR_RETURN(std::string parent, r.text("parent", false));
  FM_ASSIGN_OR_RETURN(std::string how, r.text("how", false));
  FM_ASSIGN_OR_RETURN(flopsmeter::RunSpec run, flopsmeter::derived_run_spec(*l.ledger, l.options, produces, parent, how));
  FM_ASSIGN_OR_RETURN(run.imported, r.flag("imported"));
  FM_ASSIGN_OR_RETURN(run.run_dir, r.text("run_dir", false));
  return appended(l.ledger->add_run(record, run), "the run's record");
}

// The reading calls and the appends that take plain arguments.
Result<std::string> dispatch(fm_ledger& l, const Request& r) {
  flopsmeter::Ledger& ledger = *l.ledger;
  const std::string call = r.call();
  if (call == "register_key") {
    FM_RETURN_IF_ERROR(r.allow({}));
    return appended(ledger.register_key(), "the signing key");
  }
  if (call == "keygen") {
    // A new key at the handle's key path (never over an existing file), so
    // that a ledger-key given for a machine or a job can be made from here.
    FM_RETURN_IF_ERROR(r.allow({}));
    FM_ASSIGN_OR_RETURN(flopsmeter::LedgerOptions resolved, flopsmeter::resolve_ledger_options(l.options));
    FM_ASSIGN_OR_RETURN(flopsmeter::LedgerKeyInfo key, flopsmeter::generate_ledger_key(resolved.key_path));
    return appended(flopsmeter::register_made_key(ledger, key), "the public key " + key.key_id);
  }
  if (call == "add_model") {
    FM_RETURN_IF_ERROR(r.allow({"model"}));
    FM_ASSIGN_OR_RETURN(flopsmeter::ModelSpec model, model_spec(r, l.options));
    return appended(ledger.add_model(model), "model '" + model.name + "'");
  }
  if (call == "add_run") return add_run(l, r);
  if (call == "add_estimate") {
    FM_RETURN_IF_ERROR(r.allow({"estimate", "model"}));
    FM_ASSIGN_OR_RETURN(std::string estimate, r.text("estimate"));
    FM_ASSIGN_OR_RETURN(std::string model, r.text("model", false));
    return appended(ledger.add_estimate(estimate, model), "the estimate");
  }
  if (call == "annotate") {
    FM_RETURN_IF_ERROR(r.allow({"entry", "text", "supersedes"}));
    FM_ASSIGN_OR_RETURN(uint64_t entry, r.index("entry"));
    FM_ASSIGN_OR_RETURN(std::string text, r.text("text"));
    FM_ASSIGN_OR_RETURN(bool supersedes, r.flag("supersedes"));
    return appended(ledger.annotate(entry, text, supersedes), "a note about entry " + std::to_string(entry));
  }
  if (call == "record_export") {
    FM_RETURN_IF_ERROR(r.allow({"entry", "url", "version"}));
    FM_ASSIGN_OR_RETURN(uint64_t entry, r.index("entry"));
    FM_ASSIGN_OR_RETURN(std::string url, r.text("url"));
    FM_ASSIGN_OR_RETURN(std::string version, r.text("version", false));
    return appended(ledger.record_export(entry, url, version), "an export of entry " + std::to_string(entry));
  }
  if (call == "models" || call == "head") {
    FM_RETURN_IF_ERROR(r.allow({}));
    return call == "models" ? ledger.models_json() : ledger.head_json();
  }
  if (call == "model" || call == "lineage" || call == "runs" || call == "basis") {
    FM_RETURN_IF_ERROR(r.allow({"model"}));
    FM_ASSIGN_OR_RETURN(std::string model, r.text("model", call != "runs"));
    if (call == "model") return ledger.model_json(model);
    if (call == "lineage") return ledger.lineage_json(model);
    if (call == "runs") return ledger.runs_json(model);
    FM_ASSIGN_OR_RETURN(flopsmeter::LedgerOptions resolved, flopsmeter::resolve_ledger_options(l.options));
    FM_ASSIGN_OR_RETURN(flopsmeter::Ledger::Basis basis, ledger.basis_for(model, resolved.organisation));
    return flopsmeter::ledger_basis_json(basis, model, resolved.organisation);
  }
  if (call == "verify") {
    FM_RETURN_IF_ERROR(r.allow({"head", "trusted_keys"}));
    FM_ASSIGN_OR_RETURN(std::string head, r.text("head", false));
    FM_ASSIGN_OR_RETURN(std::vector<std::string> keys, r.texts("trusted_keys"));
    return ledger.verify_json(head, keys);
  }
  if (call == "prove") {
    FM_RETURN_IF_ERROR(r.allow({"entry"}));
    FM_ASSIGN_OR_RETURN(uint64_t entry, r.index("entry"));
    return ledger.prove_json(entry);
  }
  return Status::InvalidArgument("ledger request: unknown call '" + flopsmeter::printable_text(call) +
                                 "' (keygen, register_key, add_model, add_run, add_estimate, annotate, record_export, "
                                 "models, model, lineage, runs, basis, head, verify, prove)");
}

}  // namespace

extern "C" {

fm_status fm_ledger_open(const char* options_json, int create, fm_ledger** out, char** error) {
  return guarded(error, [&]() -> Status {
    if (out == nullptr) return Status::InvalidArgument("fm_ledger_open: out is NULL");
    *out = nullptr;
    flopsmeter::OptionMap o;
    if (options_json != nullptr && *options_json != '\0') {
      const Json j = Json::parse(options_json, nullptr, false);
      if (!j.is_object()) return Status::ParseError("ledger options: expected a JSON object");
      for (const auto& [key, value] : j.items()) {
        if (key != "ledger" && key != "ledger-key" && key != "organisation" && key != "data-dir") {
          return Status::InvalidArgument("ledger options: unknown option \"" + flopsmeter::printable_text(key) +
                                         "\" (ledger, ledger-key, organisation, data-dir)");
        }
        if (!value.is_string()) {
          return Status::InvalidArgument("ledger options: \"" + key + "\": expected a string");
        }
        o.values[key] = value.get<std::string>();
      }
    }
    auto handle = std::make_unique<fm_ledger>();
    handle->options = flopsmeter::ledger_options(o);
    FM_ASSIGN_OR_RETURN(handle->ledger, flopsmeter::Ledger::Open(handle->options, create != 0));
    *out = handle.release();
    return Status();
  });
}

fm_status fm_ledger_call(fm_ledger* l, const char* request_json, char** response_json, char** error) {
  if (response_json != nullptr) *response_json = nullptr;
  return guarded(error, [&]() -> Status {
    if (l == nullptr) return Status::InvalidArgument("fm_ledger_call: ledger is NULL");
    FM_ASSIGN_OR_RETURN(Request request, Request::Parse(request_json));
    FM_ASSIGN_OR_RETURN(std::string response, dispatch(*l, request));
    if (response_json != nullptr) *response_json = copy_string(response);
    return Status();
  });
}

void fm_ledger_free(fm_ledger* l) { delete l; }

fm_status fm_verify_inclusion_proof(const char* proof_json, const char* trusted_key, char** message, char** error) {
  if (message != nullptr) *message = nullptr;
  return guarded(error, [&]() -> Status {
    if (proof_json == nullptr) return Status::InvalidArgument("fm_verify_inclusion_proof: proof_json is NULL");
    FM_ASSIGN_OR_RETURN(std::string said,
                        flopsmeter::verify_inclusion_proof(proof_json, trusted_key == nullptr ? "" : trusted_key));
    if (message != nullptr) *message = copy_string(said);
    return Status();
  });
}

}  // extern "C"
