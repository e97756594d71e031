// What the ledger proves: every leaf recomputed from its entry, the tree
// rebuilt and held against every signed head, every signature checked, a
// head someone kept shown to be extended (a consistency proof), and an
// entry's inclusion under a head (an audit path), checkable with no
// database.
#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

#include "adapters/files.h"
#include "adapters/signing_key.h"
#include "api/ledger_entries.h"
#include "api/ledger_internal.h"
#include "core/json_doc.h"
#include "core/merkle.h"

namespace flopsmeter {
namespace {

using Json = nlohmann::json;

// Entries are read this many at a time: memory stays bounded (the leaves,
// 32 bytes each, are kept for the proofs).
constexpr uint64_t kChunk = 4096;

// A head as someone kept it (head_json's form).
struct HeldHead {
  std::string ledger_id;
  uint64_t size = 0;
  merkle::Hash root{};
  std::string time;
  std::string key_id;
  std::string signature;   // raw
  std::string public_key;  // raw
};

bool lower_hex_of_length(const std::string& text, size_t length) {
  return text.size() == length && text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// UTC with milliseconds, as iso_time() writes it: 2026-01-31T12:00:00.123Z.
bool iso_time_form(const std::string& text) {
  static constexpr char kForm[] = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (text.size() != sizeof kForm - 1) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (kForm[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(text[i])) : text[i] != kForm[i]) return false;
  }
  return true;
}

Result<HeldHead> parse_head(const Json& j, const std::string& what) {
  if (!j.is_object() || j.value("schema", Json()) != kTreeHeadSchema) {
    return Status::ParseError(what + ": not a tree head (schema " + kTreeHeadSchema + ")");
  }
  HeldHead h;
  for (const char* key : {"ledger_id", "root", "time", "key_id", "signature", "public_key"}) {
    if (!j.value(key, Json()).is_string()) return Status::ParseError(what + ": field '" + key + "': expected a string");
  }
  if (!j.value("size", Json()).is_number_unsigned()) {
    return Status::ParseError(what + ": field 'size': expected a whole number");
  }
  h.ledger_id = j["ledger_id"].get<std::string>();
  // The forms the ledger writes (schemas/tree_head.schema.json): a head that
  // names its ledger or key otherwise is not one, whatever it signs.
  const std::string key_id = j["key_id"].get<std::string>();
  if (!lower_hex_of_length(h.ledger_id, 32) || key_id.rfind("ed25519:", 0) != 0 ||
      !lower_hex_of_length(key_id.substr(8), 32) || !iso_time_form(j["time"].get<std::string>())) {
    return Status::ParseError(what + ": ledger_id, key_id or time is not of the ledger's form (32 hex digits; "
                                     "ed25519: and 32 hex digits; 2026-01-31T12:00:00.123Z)");
  }
  h.size = j["size"].get<uint64_t>();
  FM_ASSIGN_OR_RETURN(h.root, merkle::from_hex(j["root"].get<std::string>(), what + ": root"));
  h.time = j["time"].get<std::string>();
  h.key_id = j["key_id"].get<std::string>();
  FM_ASSIGN_OR_RETURN(h.signature, from_hex(j["signature"].get<std::string>(), what + ": signature"));
  FM_ASSIGN_OR_RETURN(h.public_key, from_hex(j["public_key"].get<std::string>(), what + ": public_key"));
  return h;
}

// Whether `head` is signed by `public_key`, which must be the key it names.
bool head_signed(const HeldHead& head, const std::string& public_key) {
  if (key_id_of(public_key) != head.key_id) return false;
  Result<std::string> message = head_message(head.ledger_id, head.size, head.root, head.time, head.key_id);
  return message.ok() && verify_signature(public_key, *message, head.signature);
}

// The trusted keys, by key id. Each is named as a key id ("ed25519:..."), a
// public key in hex, or a file that holds one: a key file, a head, or the
// hex alone (an auditor holds the public key, not the secret).
struct Trust {
  std::set<std::string> key_ids;
  bool any = true;  // no key named: every key the ledger registers is trusted
};

Result<std::string> trusted_key_id(const std::string& k) {
  if (k.rfind("ed25519:", 0) == 0) return k;
  if (Result<std::string> raw = from_hex(k, "key"); raw.ok() && raw->size() == kPublicKeyBytes) return key_id_of(*raw);
  Result<std::string> text = read_file(k, 1 << 16);
  if (!text.ok()) {
    return Status::InvalidArgument("trusted key '" + printable_text(k) +
                                   "': not a key id (ed25519:...), a public key (64 hex digits) or a readable file (" +
                                   text.status().message() + ")");
  }
  const Json j = Json::parse(*text, nullptr, false);
  std::string hex = j.is_object() && j.value("public_key", Json()).is_string() ? j["public_key"].get<std::string>()
                                                                             : *text;
  while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.back()))) hex.pop_back();
  Result<std::string> raw = from_hex(hex, k);
  if (!raw.ok() || raw->size() != kPublicKeyBytes) {
    return Status::ParseError(printable_text(k) + ": holds no Ed25519 public key (a field public_key, or 64 hex digits)");
  }
  return key_id_of(*raw);
}

Result<Trust> trust_of(const std::vector<std::string>& trusted) {
  Trust t;
  for (const std::string& k : trusted) {
    t.any = false;
    FM_ASSIGN_OR_RETURN(std::string id, trusted_key_id(k));
    t.key_ids.insert(id);
  }
  return t;
}

// The scan: leaves and key entries in index order, each head checked as the
// tree reaches its size.
class Verifier {
 public:
  Verifier(std::string ledger_id, std::vector<StoredHead> heads, Trust trust)
      : ledger_id_(std::move(ledger_id)), heads_(std::move(heads)), trust_(std::move(trust)) {
    std::sort(heads_.begin(), heads_.end(), [](const StoredHead& a, const StoredHead& b) { return a.size < b.size; });
  }

  void entry(const StoredEntry& e) {
    const uint64_t i = leaves_.size();
    if (e.index != i) {
      problem(i, "is missing: the next entry stored is " + std::to_string(e.index) + " (entries deleted or renumbered)");
    }
    const merkle::Hash leaf = merkle::leaf_hash(e.entry);
    if (leaf != e.leaf_hash) problem(i, "its text does not hash to its stored leaf: changed after it was appended");
    check_appender(e);
    range_.append(leaf);
    stored_range_.append(e.leaf_hash);
    leaves_.push_back(leaf);
    while (next_head_ < heads_.size() && heads_[next_head_].size == leaves_.size()) check_head(heads_[next_head_++]);
  }

  // What is left after the last entry: heads past it, entries past every head.
  void finish(uint64_t stored_state_size) {
    for (; next_head_ < heads_.size(); ++next_head_) {
      const StoredHead& h = heads_[next_head_];
      if (h.size == 0) continue;
      problem(leaves_.size(), "and the entries after it up to " + std::to_string(h.size - 1) +
                                  " are gone: the head signed at size " + std::to_string(h.size) +
                                  " covers them (deleted, or the tail truncated)");
    }
    const uint64_t covered = heads_.empty() ? 0 : heads_.back().size;
    if (leaves_.size() > covered) {
      problem(covered, "and the entries after it are covered by no signed head: inserted, or appended without the "
                       "ledger's signing");
    }
    if (stored_state_size != leaves_.size()) {
      problem(std::min(stored_state_size, leaves_.size()),
              "the stored tree state says " + std::to_string(stored_state_size) + " entries, the ledger holds " +
                  std::to_string(leaves_.size()));
    }
  }

  const std::vector<merkle::Hash>& leaves() const { return leaves_; }
  const std::map<std::string, std::string>& keys() const { return keys_; }
  merkle::Hash root() const { return range_.root(); }
  size_t heads_checked() const { return heads_.size(); }

  Json problems_json() const {
    std::vector<Problem> sorted = problems_;
    std::stable_sort(sorted.begin(), sorted.end(), [](const Problem& a, const Problem& b) { return a.entry < b.entry; });
    Json out = Json::array();
    for (const Problem& p : sorted) out.push_back({{"entry", p.entry}, {"problem", p.what}});
    return out;
  }
  bool ok() const { return problems_.empty(); }
  // The earliest problem's entry. A head whose root differs bounds the
  // change only to the entries since the last good head, so a problem
  // found at one entry inside the earliest such range names it instead.
  std::optional<uint64_t> first_bad_entry() const {
    const Problem* first = nullptr;
    for (const Problem& p : problems_)
      if (first == nullptr || p.entry < first->entry) first = &p;
    if (first == nullptr) return std::nullopt;
    std::optional<uint64_t> precise;
    for (const Problem& p : problems_) {
      if (p.entry == p.last && p.entry >= first->entry && p.entry <= first->last) {
        precise = std::min(precise.value_or(p.entry), p.entry);
      }
    }
    return precise.value_or(first->entry);
  }

 private:
  // A problem at `entry`, or somewhere in [entry, last]. `what` names the
  // entry first (a parse error already does).
  struct Problem {
    uint64_t entry = 0;
    uint64_t last = 0;
    std::string what;
  };
  void problem(uint64_t entry, std::string what, std::optional<uint64_t> last = std::nullopt) {
    const std::string name = "entry " + std::to_string(entry);
    problems_.push_back({entry, last.value_or(entry), what.rfind(name, 0) == 0 ? std::move(what) : name + " " + what});
  }

  // An entry must be appended by a key some entry up to it registers; a
  // key entry's id must be its public key's.
  void check_appender(const StoredEntry& stored) {
    Result<EntryHeader> header = parse_entry_header(stored);
    if (!header.ok()) {
      problem(stored.index, header.status().message());
      return;
    }
    if (header->kind == EntryKind::kKey) {
      Result<ParsedEntry> e = parse_entry(stored);
      const Json public_key = e.ok() ? e->body.value("public_key", Json()) : Json();
      Result<std::string> raw = public_key.is_string() ? from_hex(public_key.get<std::string>(), "public_key")
                                                       : Result<std::string>(Status::ParseError("no public_key"));
      if (!raw.ok() || raw->size() != kPublicKeyBytes || key_id_of(*raw) != header->subject) {
        problem(stored.index, "registers a key whose id is not its public key's");
      } else {
        keys_.emplace(header->subject, *raw);
        key_entries_.emplace(header->subject, stored.index);
      }
    }
    if (!keys_.count(header->key_id)) {
      problem(stored.index, "was appended by key " + header->key_id + ", which no entry before it registers");
    }
  }

  void check_head(const StoredHead& h) {
    const uint64_t last = h.size - 1;
    // The entries only this head vouches for begin where the last head that
    // verified ends: when it fails, the first of them is the first bad entry
    // (a head may cover several, e.g. a model and the run that made it).
    const uint64_t first = last_good_size_ < h.size ? last_good_size_ : last;
    const std::string covered = "is covered" +
                                (first < last ? " (with the entries after it up to " + std::to_string(last) + ")"
                                              : std::string()) +
                                " by a head (size " + std::to_string(h.size) + ")";
    // A head over the leaves as stored, not as recomputed, vouches for those
    // leaves: the entries whose text no longer hashes to its leaf (each named
    // already) are exactly the ones changed, and the head is checked on.
    if (range_.root() != h.root && stored_range_.root() != h.root) {
      problem(first,
              "differs from what the head signed at size " + std::to_string(h.size) + " (" + h.time + "): an entry " +
                  "from " + std::to_string(last_good_size_) + " to " + std::to_string(last) +
                  " was changed, removed, inserted or reordered",
              last);
      return;
    }
    auto key = keys_.find(h.key_id);
    if (key == keys_.end() || key_entries_.at(h.key_id) >= h.size) {
      problem(first, covered + " signed by key " + h.key_id + ", which the entries it covers do not register", last);
      return;
    }
    if (!trust_.any && !trust_.key_ids.count(h.key_id)) {
      problem(first, covered + " signed by key " + h.key_id + ", which is not among the trusted keys", last);
      return;
    }
    const HeldHead held{ledger_id_, h.size, h.root, h.time, h.key_id, h.signature, key->second};
    if (!head_signed(held, key->second)) {
      problem(first,
              covered + " whose signature does not verify: the head or its entries were rewritten without the key",
              last);
      return;
    }
    last_good_size_ = h.size;
  }

  std::string ledger_id_;
  std::vector<StoredHead> heads_;
  Trust trust_;
  size_t next_head_ = 0;
  uint64_t last_good_size_ = 0;
  merkle::CompactRange range_;         // the leaves recomputed from the entries' texts
  merkle::CompactRange stored_range_;  // the leaves as stored
  std::vector<merkle::Hash> leaves_;
  std::map<std::string, std::string> keys_;         // key id -> raw public key
  std::map<std::string, uint64_t> key_entries_;     // key id -> registering entry
  std::vector<Problem> problems_;
};

// Reads every entry through the verifier.
Status scan(LedgerStore& store, Verifier& verifier) {
  FM_ASSIGN_OR_RETURN(uint64_t count, store.entry_count());
  std::vector<StoredEntry> chunk;  // refilled: a scan allocates once
  for (uint64_t from = 0; from < count; from += kChunk) {
    FM_RETURN_IF_ERROR(store.entries_into(from, kChunk, chunk));
    for (const StoredEntry& e : chunk) verifier.entry(e);
    if (chunk.size() < kChunk && from + chunk.size() < count) break;  // rows missing at the end
  }
  return Status();
}

// Whether the ledger extends `old` (a head someone kept): its signature, the
// tree of its size rebuilt from today's leaves, and a consistency proof. A
// ledger shorter than the head is missing entries from its end on: the first
// of them is `truncated_at`.
Json extends_json(const HeldHead& old, const Verifier& v, const std::string& ledger_id, std::vector<std::string>& problems,
                  std::optional<uint64_t>& truncated_at) {
  const std::vector<merkle::Hash>& leaves = v.leaves();
  Json out = {{"size", old.size}, {"time", old.time}, {"root", merkle::to_hex(old.root)}, {"extended", false}};
  if (old.ledger_id != ledger_id) {
    problems.push_back("the head you hold is of another ledger (" + old.ledger_id + ")");
  } else if (!head_signed(old, old.public_key) || (!v.keys().empty() && !v.keys().count(old.key_id))) {
    problems.push_back("the head you hold does not verify under a key of this ledger");
  } else if (old.size > leaves.size()) {
    problems.push_back("the ledger holds " + std::to_string(leaves.size()) + " entries, but the head you hold (" +
                       old.time + ") signs " + std::to_string(old.size) + ": it was truncated, entry " +
                       std::to_string(leaves.size()) + " and those after it are gone");
    truncated_at = leaves.size();
  } else if (old.size == 0) {
    out["extended"] = true;  // every tree extends the empty one
  } else {
    const merkle::LeafSource source = [&](uint64_t i) { return leaves[i]; };
    const std::vector<merkle::Hash> proof = merkle::consistency_proof(old.size, leaves.size(), source);
    const bool consistent = merkle::verify_consistency(old.size, leaves.size(), old.root, v.root(), proof);
    Json path = Json::array();
    for (const merkle::Hash& h : proof) path.push_back(merkle::to_hex(h));
    out["consistency_proof"] = path;
    out["extended"] = consistent;
    if (!consistent) {
      problems.push_back("the ledger does not extend the head you hold (size " + std::to_string(old.size) + ", " +
                         old.time + "): entries it covers were rewritten since");
    }
  }
  return out;
}

}  // namespace

Result<std::string> verify_view(LedgerStore& store, const std::string& ledger_id, const std::string& old_head,
                                const std::vector<std::string>& trusted_keys) {
  FM_ASSIGN_OR_RETURN(std::vector<StoredHead> heads, store.heads());
  FM_ASSIGN_OR_RETURN(Trust trust, trust_of(trusted_keys));
  Verifier v(ledger_id, std::move(heads), std::move(trust));
  FM_RETURN_IF_ERROR(scan(store, v));
  FM_ASSIGN_OR_RETURN(TreeState state, store.state());
  v.finish(state.size);
  std::vector<std::string> head_problems;
  Json extends;
  std::optional<uint64_t> first_bad = v.first_bad_entry();
  if (!old_head.empty()) {
    FM_ASSIGN_OR_RETURN(HeldHead old, parse_head(Json::parse(old_head, nullptr, false), "the head you hold"));
    std::optional<uint64_t> truncated_at;
    extends = extends_json(old, v, ledger_id, head_problems, truncated_at);
    if (truncated_at) first_bad = std::min(first_bad.value_or(*truncated_at), *truncated_at);
  }
  Json keys = Json::array();
  for (const auto& [id, key] : v.keys()) keys.push_back({{"key_id", id}, {"public_key", to_hex(key)}});
  const bool ok = v.ok() && head_problems.empty();
  return Json({{"schema", "flopsmeter.ledger_verify/1"},
               {"ok", ok},
               {"ledger_id", ledger_id},
               {"location", store.display_location()},
               {"entries", v.leaves().size()},
               {"heads", v.heads_checked()},
               {"root", merkle::to_hex(v.root())},
               {"keys", keys},
               {"first_bad_entry", first_bad ? Json(*first_bad) : Json()},
               {"problems", v.problems_json()},
               {"held_head_problems", head_problems},
               {"extends_held_head", extends}})
             .dump(2) +
         "\n";
}

Result<std::string> prove_view(LedgerStore& store, const std::string& ledger_id, uint64_t index) {
  FM_ASSIGN_OR_RETURN(std::optional<StoredHead> head, store.latest_head());
  if (!head || index >= head->size) {
    return Status::NotFound("entry " + std::to_string(index) + " is not under the ledger's latest signed head" +
                            (head ? " (size " + std::to_string(head->size) + ")" : std::string(" (there is none)")));
  }
  std::vector<merkle::Hash> leaves;
  std::string entry;
  for (uint64_t from = 0; from < head->size; from += kChunk) {
    FM_ASSIGN_OR_RETURN(std::vector<StoredEntry> chunk, store.entries(from, std::min(kChunk, head->size - from)));
    for (const StoredEntry& e : chunk) {
      leaves.push_back(merkle::leaf_hash(e.entry));
      if (e.index == index) entry = e.entry;
    }
  }
  if (leaves.size() != head->size) {
    return Status::ParseError(store.display_location() + ": entries under the latest head are missing; run verify");
  }
  const std::vector<merkle::Hash> path =
      merkle::inclusion_proof(index, head->size, [&](uint64_t i) { return leaves[i]; });
  FM_ASSIGN_OR_RETURN(std::vector<StoredKey> keys, store.keys());
  std::string public_key;
  for (const StoredKey& k : keys)
    if (k.key_id == head->key_id) public_key = k.public_key;
  Json hex_path = Json::array();
  for (const merkle::Hash& h : path) hex_path.push_back(merkle::to_hex(h));
  return Json({{"schema", "flopsmeter.inclusion_proof/1"},
               {"index", index},
               {"tree_size", head->size},
               {"entry", entry},
               {"leaf_hash", merkle::to_hex(merkle::leaf_hash(entry))},
               {"path", hex_path},
               {"head", Json::parse(head_json(ledger_id, *head, public_key))}})
             .dump(2) +
         "\n";
}

namespace {

// An inclusion proof read and checked: `problem` says which check failed
// (the proof is forged or altered); a proof that cannot be read at all, or
// a trusted key that names no key, is an error instead.
struct ProofCheck {
  HeldHead head;
  uint64_t index = 0;
  uint64_t tree_size = 0;
  std::string leaf_hash;
  std::string trusted_key_id;  // empty: the key the head names
  std::optional<std::string> problem;
};

Result<ProofCheck> check_inclusion_proof(const std::string& proof_json, const std::string& trusted_key) {
  const Json p = Json::parse(proof_json, nullptr, false);
  if (!p.is_object() || p.value("schema", Json()) != "flopsmeter.inclusion_proof/1") {
    return Status::ParseError("not an inclusion proof (schema flopsmeter.inclusion_proof/1)");
  }
  if (!p.value("index", Json()).is_number_unsigned() || !p.value("tree_size", Json()).is_number_unsigned() ||
      !p.value("entry", Json()).is_string() || !p.value("leaf_hash", Json()).is_string() ||
      !p.value("path", Json()).is_array()) {
    return Status::ParseError("inclusion proof: index, tree_size, entry, leaf_hash and path are required");
  }
  ProofCheck c;
  FM_ASSIGN_OR_RETURN(c.head, parse_head(p.value("head", Json()), "inclusion proof: head"));
  std::vector<merkle::Hash> path;
  for (const Json& h : p["path"]) {
    if (!h.is_string()) return Status::ParseError("inclusion proof: path: expected hex strings");
    FM_ASSIGN_OR_RETURN(merkle::Hash hash, merkle::from_hex(h.get<std::string>(), "inclusion proof: path"));
    path.push_back(hash);
  }
  if (!trusted_key.empty()) {
    FM_ASSIGN_OR_RETURN(c.trusted_key_id, trusted_key_id(trusted_key));
  }
  c.index = p["index"].get<uint64_t>();
  c.tree_size = p["tree_size"].get<uint64_t>();
  const uint64_t size = c.tree_size;
  const std::string& entry = p["entry"].get_ref<const std::string&>();
  const merkle::Hash leaf = merkle::leaf_hash(entry);
  c.leaf_hash = merkle::to_hex(leaf);
  FM_ASSIGN_OR_RETURN(merkle::Hash stated_leaf,
                      merkle::from_hex(p["leaf_hash"].get<std::string>(), "inclusion proof: leaf_hash"));
  if (size != c.head.size || c.index >= size) {
    c.problem = "inclusion proof: the entry's index or the tree size does not match the head";
  } else if (!c.trusted_key_id.empty() && c.trusted_key_id != c.head.key_id) {
    // The head names its key by id, a hash of the public key it carries: a
    // trusted key id pins that key.
    c.problem = "inclusion proof: the head is signed by " + c.head.key_id + ", not by the trusted key " +
                c.trusted_key_id;
  } else if (!head_signed(c.head, c.head.public_key)) {
    c.problem = "inclusion proof: the head's signature does not verify under " +
                std::string(trusted_key.empty() ? "the key it names" : "the trusted key");
  } else if (!merkle::verify_inclusion(leaf, c.index, size, path, c.head.root)) {
    c.problem = "inclusion proof: the entry is not in the tree the head signs (its audit path does not lead to the "
                "head's root)";
  } else if (stated_leaf != leaf) {
    // The leaf hash the proof states is what an auditor looks the entry up
    // by: it must be the entry's, or the proof vouches for a hash it never checked.
    c.problem = "inclusion proof: its leaf_hash is not the hash of its entry";
  }
  return c;
}

std::string proof_confirmation(const ProofCheck& c) {
  return "entry " + std::to_string(c.index) + " is in ledger " + c.head.ledger_id + " of " +
         std::to_string(c.head.size) + " entries, whose head (" + c.head.time + ", root " +
         merkle::to_hex(c.head.root).substr(0, 16) + "...) is signed by " + c.head.key_id;
}

}  // namespace

Result<std::string> verify_inclusion_proof(const std::string& proof_json, const std::string& trusted_key) {
  FM_ASSIGN_OR_RETURN(ProofCheck c, check_inclusion_proof(proof_json, trusted_key));
  if (c.problem) return Status::InvalidArgument(*c.problem);
  return proof_confirmation(c) + "\n";
}

Result<std::string> inclusion_proof_check_json(const std::string& proof_json, const std::string& trusted_key) {
  FM_ASSIGN_OR_RETURN(ProofCheck c, check_inclusion_proof(proof_json, trusted_key));
  return Json({{"schema", "flopsmeter.proof_check/1"},
               {"ok", !c.problem},
               {"problem", c.problem ? Json(*c.problem) : Json()},
               {"message", c.problem ? Json() : Json(proof_confirmation(c))},
               {"index", c.index},
               {"tree_size", c.tree_size},
               {"leaf_hash", c.leaf_hash},
               {"ledger_id", c.head.ledger_id},
               {"root", merkle::to_hex(c.head.root)},
               {"time", c.head.time},
               {"key_id", c.head.key_id},
               {"trusted_key_id", c.trusted_key_id.empty() ? Json() : Json(c.trusted_key_id)}})
             .dump(2) +
         "\n";
}

}  // namespace flopsmeter
