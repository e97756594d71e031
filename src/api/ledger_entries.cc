#include "api/ledger_entries.h"

#include <set>

#include "adapters/sha256.h"
#include "adapters/signing_key.h"
#include "core/canonical_json.h"
#include "core/json_doc.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

constexpr std::pair<EntryKind, const char*> kKindNames[] = {
    {EntryKind::kKey, "key"},           {EntryKind::kModel, "model"},           {EntryKind::kRun, "run"},
    {EntryKind::kEstimate, "estimate"}, {EntryKind::kAnnotation, "annotation"}, {EntryKind::kExport, "export"}};

// Typed access to an entry's fields, each error naming the entry and field.
class Fields {
 public:
  Fields(const Json& object, std::string where) : object_(object), where_(std::move(where)) {}

  Result<std::string> text(const char* key) const {
    const Json* v = member(key);
    if (v == nullptr || !v->is_string()) return missing(key, "a string");
    return v->get<std::string>();
  }
  Result<bool> flag(const char* key) const {
    const Json* v = member(key);
    if (v == nullptr || !v->is_boolean()) return missing(key, "true or false");
    return v->get<bool>();
  }
  Result<std::vector<std::string>> texts(const char* key) const {
    const Json* v = member(key);
    if (v == nullptr || !v->is_array()) return missing(key, "an array of strings");
    std::vector<std::string> out;
    for (const Json& item : *v) {
      if (!item.is_string()) return missing(key, "an array of strings");
      out.push_back(item.get<std::string>());
    }
    return out;
  }
  // A whole number, or null; given as a decimal string (FLOP) or a JSON number.
  Result<std::optional<Flop>> optional_decimal(const char* key) const {
    const Json* v = member(key);
    if (v == nullptr) return missing(key, "a decimal string or null");
    if (v->is_null()) return std::optional<Flop>();
    if (v->is_number_unsigned()) return std::optional<Flop>(v->get<uint64_t>());
    if (!v->is_string()) return missing(key, "a decimal string or null");
    FM_ASSIGN_OR_RETURN(Flop f, parse_exact_integer(v->get<std::string>(), where_ + ": " + key));
    return std::optional<Flop>(f);
  }
  const Json* member(const char* key) const {
    if (!object_.is_object()) return nullptr;
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }
  Status missing(const char* key, const char* expected) const {
    return Status::ParseError(where_ + ": field '" + key + "': expected " + expected);
  }

 private:
  const Json& object_;
  std::string where_;
};

}  // namespace

const char* entry_kind_name(EntryKind kind) {
  for (const auto& [k, name] : kKindNames)
    if (k == kind) return name;
  return "annotation";
}

Result<ParsedEntry> parse_entry(const StoredEntry& stored) {
  const std::string where = "entry " + std::to_string(stored.index);
  const Json j = Json::parse(stored.entry, nullptr, false);
  if (!j.is_object()) return Status::ParseError(where + ": not a JSON object");
  const Fields f(j, where);
  FM_ASSIGN_OR_RETURN(std::string schema, f.text("schema"));
  if (schema != kLedgerEntrySchema) {
    return Status::ParseError(where + ": schema '" + printable_text(schema) + "', expected " + kLedgerEntrySchema);
  }
  ParsedEntry e;
  e.index = stored.index;
  FM_ASSIGN_OR_RETURN(std::string kind, f.text("kind"));
  bool known = false;
  for (const auto& [k, name] : kKindNames) {
    if (kind == name) {
      e.kind = k;
      known = true;
    }
  }
  if (!known) return Status::ParseError(where + ": unknown kind '" + printable_text(kind) + "'");
  FM_ASSIGN_OR_RETURN(e.time, f.text("time"));
  FM_ASSIGN_OR_RETURN(e.key_id, f.text("key_id"));
  FM_ASSIGN_OR_RETURN(e.subject, f.text("subject"));
  const Json* supersedes = f.member("supersedes");
  if (supersedes == nullptr || !(supersedes->is_null() || supersedes->is_number_unsigned())) {
    return f.missing("supersedes", "an entry index or null");
  }
  if (supersedes->is_number_unsigned()) e.supersedes = supersedes->get<uint64_t>();
  const Json* body = f.member("body");
  if (body == nullptr || !body->is_object()) return f.missing("body", "an object");
  e.body = *body;
  return e;
}

namespace {

// The tail `,"key_id":"K","kind":"K","schema":"S","subject":"S",
// "supersedes":N,"time":"T"}` of a canonical entry, read without a JSON
// parser (a parse costs more than the rest of verifying a small entry):
// every string plain printable ASCII (no escape), N null or digits without
// a leading zero. Such text is the JSON object of these six members with
// exactly these values, so parsing it gives what Read() gives; for anything
// else (an escape, non-ASCII, another layout) Read() is false and the tail
// is parsed as before.
class PlainTail {
 public:
  explicit PlainTail(std::string_view text) : text_(text) {}
  bool Read(std::string_view* key_id, std::string_view* kind, std::string_view* schema, std::string_view* subject) {
    std::string_view time;
    return Literal(",\"key_id\":") && String(key_id) && Literal(",\"kind\":") && String(kind) &&
           Literal(",\"schema\":") && String(schema) && Literal(",\"subject\":") && String(subject) &&
           Literal(",\"supersedes\":") && NullOrDigits() && Literal(",\"time\":") && String(&time) && Literal("}") &&
           at_ == text_.size();
  }

 private:
  bool Literal(std::string_view word) {
    if (text_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }
  bool String(std::string_view* out) {
    if (!Literal("\"")) return false;
    const size_t start = at_;
    for (; at_ < text_.size(); ++at_) {
      const char c = text_[at_];
      if (c == '"') {
        *out = text_.substr(start, at_ - start);
        ++at_;
        return true;
      }
      if (c == '\\' || c < 0x20 || c > 0x7E) return false;  // (char may be signed: non-ASCII is < 0)
    }
    return false;
  }
  bool NullOrDigits() {
    if (Literal("null")) return true;
    if (at_ >= text_.size() || text_[at_] < '0' || text_[at_] > '9') return false;
    if (text_[at_++] == '0') return true;  // 0, and no leading zero before other digits
    while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') ++at_;
    return true;
  }

  std::string_view text_;
  size_t at_ = 0;
};

}  // namespace

Result<EntryHeader> parse_entry_header(const StoredEntry& stored) {
  // In canonical text the top-level members after "body" are key_id, kind,
  // schema, subject, supersedes and time, in that order; inside strings a
  // quote is escaped, so the last `,"key_id":"` is the top-level one.
  const std::string& text = stored.entry;
  const size_t at = text.rfind(",\"key_id\":\"");
  if (at != std::string::npos && text.rfind("{\"body\":", 0) == 0) {
    std::string_view plain_key_id, plain_kind, plain_schema, plain_subject;
    if (PlainTail(std::string_view(text).substr(at)).Read(&plain_key_id, &plain_kind, &plain_schema, &plain_subject) &&
        plain_schema == kLedgerEntrySchema) {
      for (const auto& [k, name] : kKindNames) {
        if (plain_kind == name) return EntryHeader{k, std::string(plain_key_id), std::string(plain_subject)};
      }
    }
    const Json tail = Json::parse("{" + text.substr(at + 1), nullptr, false);
    const Fields f(tail, "");
    Result<std::string> kind = f.text("kind"), key_id = f.text("key_id"), subject = f.text("subject"),
                        schema = f.text("schema");
    if (tail.is_object() && tail.size() == 6 && kind.ok() && key_id.ok() && subject.ok() && schema.ok() &&
        *schema == kLedgerEntrySchema) {
      for (const auto& [k, name] : kKindNames) {
        if (*kind == name) return EntryHeader{k, std::move(*key_id), std::move(*subject)};
      }
    }
  }
  FM_ASSIGN_OR_RETURN(ParsedEntry e, parse_entry(stored));
  return EntryHeader{e.kind, std::move(e.key_id), std::move(e.subject)};
}

Json model_body(const ModelSpec& m) {
  return {{"name", m.name},
          {"organisation", m.organisation},
          {"parents", m.parents},
          {"how", m.how},
          {"note", m.note},
          {"systemic_risk", m.systemic_risk},
          {"pretraining",
           {{"flop", m.pretraining.flop ? Json(to_decimal(*m.pretraining.flop)) : Json()},
            {"source", m.pretraining.source},
            {"status", m.pretraining.status}}}};
}

Result<ModelSpec> model_of(const ParsedEntry& entry) {
  const std::string where = "entry " + std::to_string(entry.index) + " (model)";
  const Fields f(entry.body, where);
  ModelSpec m;
  FM_ASSIGN_OR_RETURN(m.name, f.text("name"));
  FM_ASSIGN_OR_RETURN(m.organisation, f.text("organisation"));
  FM_ASSIGN_OR_RETURN(m.parents, f.texts("parents"));
  FM_ASSIGN_OR_RETURN(m.how, f.text("how"));
  FM_ASSIGN_OR_RETURN(m.note, f.text("note"));
  FM_ASSIGN_OR_RETURN(m.systemic_risk, f.flag("systemic_risk"));
  const Json* pretraining = f.member("pretraining");
  if (pretraining == nullptr || !pretraining->is_object()) return f.missing("pretraining", "an object");
  const Fields p(*pretraining, where + ": pretraining");
  FM_ASSIGN_OR_RETURN(m.pretraining.flop, p.optional_decimal("flop"));
  FM_ASSIGN_OR_RETURN(m.pretraining.source, p.text("source"));
  FM_ASSIGN_OR_RETURN(m.pretraining.status, p.text("status"));
  if (m.name != entry.subject) return Status::ParseError(where + ": names model '" + printable_text(m.name) +
                                                         "' but is filed under '" + printable_text(entry.subject) + "'");
  return m;
}

Json run_body(const std::string& record_json, const std::string& model, bool imported, const Json& journals) {
  return {{"model", model},
          {"record", record_json},
          {"record_sha256", sha256_hex(record_json)},
          {"imported", imported},
          {"journals", journals}};
}

Result<RunFigure> run_figure(const ParsedEntry& entry) {
  return run_figure_of(entry.body, entry.subject, "entry " + std::to_string(entry.index) + " (run)");
}

Result<RunFigure> run_figure_of(const Json& body, const std::string& run_id, const std::string& where) {
  FM_ASSIGN_OR_RETURN(std::string text, Fields(body, where).text("record"));
  return run_figure_of(body, Json::parse(text, nullptr, false), run_id, where);
}

Result<RunFigure> run_figure_of(const Json& body, const Json& record, const std::string& run_id,
                                const std::string& where) {
  const Fields f(body, where);
  RunFigure r;
  r.run_id = run_id;
  FM_ASSIGN_OR_RETURN(r.model, f.text("model"));
  FM_ASSIGN_OR_RETURN(r.imported, f.flag("imported"));
  if (!record.is_object()) return Status::ParseError(where + ": its record is not a JSON object");
  const Fields rec(record, where + ": record");
  if (r.imported) {
    // The AWS toolkit's figure, exactly, from the integers it wrote.
    const Json* n_total = rec.member("N_total");
    const Json* n_trainable = rec.member("N_trainable");
    const Json* tokens = rec.member("tokens_processed");
    if (n_total == nullptr || !n_total->is_number_unsigned() || n_trainable == nullptr ||
        !n_trainable->is_number_unsigned() || tokens == nullptr || !tokens->is_number_unsigned()) {
      return rec.missing("N_total, N_trainable, tokens_processed", "whole numbers");
    }
    Flop per_token = 0, total = 0;
    if (!checked_mul(4, n_total->get<uint64_t>(), &per_token) ||
        !checked_add(per_token, Flop{2} * n_trainable->get<uint64_t>(), &per_token) ||
        !checked_mul(per_token, tokens->get<uint64_t>(), &total)) {
      return Status::Overflow(where + ": the imported figure exceeds 128 bits");
    }
    r.compliance_flop = total;
    r.formula = "peft_aware (the AWS toolkit's (4 N_total + 2 N_trainable) x tokens_processed, its counts)";
    r.status = "imported";
    return r;
  }
  const Json* compliance = rec.member("compliance");
  if (compliance == nullptr || !compliance->is_object()) return rec.missing("compliance", "an object");
  const Fields c(*compliance, where + ": record.compliance");
  FM_ASSIGN_OR_RETURN(r.compliance_flop, c.optional_decimal("exact"));
  FM_ASSIGN_OR_RETURN(r.formula, c.text("formula"));
  FM_ASSIGN_OR_RETURN(r.status, rec.text("status"));
  return r;
}

Result<std::string> head_message(const std::string& ledger_id, uint64_t size, const merkle::Hash& root,
                                 const std::string& time, const std::string& key_id) {
  return canonical_json({{"schema", kTreeHeadSchema},
                         {"ledger_id", ledger_id},
                         {"size", size},
                         {"root", merkle::to_hex(root)},
                         {"time", time},
                         {"key_id", key_id}});
}

std::string head_json(const std::string& ledger_id, const StoredHead& head, const std::string& public_key) {
  return Json({{"schema", kTreeHeadSchema},
               {"ledger_id", ledger_id},
               {"size", head.size},
               {"root", merkle::to_hex(head.root)},
               {"time", head.time},
               {"key_id", head.key_id},
               {"signature", to_hex(head.signature)},
               {"public_key", to_hex(public_key)}})
             .dump(2) +
         "\n";
}

std::map<std::string, ParsedEntry> current_entries(const std::vector<ParsedEntry>& entries, EntryKind kind) {
  std::set<uint64_t> superseded;
  for (const ParsedEntry& e : entries)
    if (e.supersedes) superseded.insert(*e.supersedes);
  std::map<std::string, ParsedEntry> current;
  for (const ParsedEntry& e : entries) {
    if (e.kind != kind || superseded.count(e.index)) continue;
    auto [it, fresh] = current.emplace(e.subject, e);
    if (!fresh && e.index > it->second.index) it->second = e;
  }
  return current;
}

}  // namespace flopsmeter
