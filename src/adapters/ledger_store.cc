// The ledger store's shared half: the schema and SQL both databases run,
// the reads and the writer over SqlLedgerStore's connection, and Open's
// choice of backend.
#include <unicode/utf8.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "adapters/ledger_sql.h"
#include "core/json_doc.h"  // printable_text

namespace flopsmeter {
namespace {

constexpr uint64_t kMaxSqlInteger = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
// Rows reserved up front for a read of a known size, at most: a caller
// asking for a huge range at the end of a small ledger must not allocate
// for rows that are not there.
constexpr size_t kMaxReservedRows = size_t{1} << 16;

constexpr const char* kEntryColumns = "SELECT entry_index, entry, leaf_hash, kind, subject FROM ledger_entries ";
constexpr const char* kHeadColumns = "SELECT tree_size, root, time, key_id, signature FROM ledger_heads ";

// The SQL of each LedgerQuery, built once.
const std::vector<std::string>& query_texts() {
  static const std::vector<std::string> kTexts = [] {
    std::vector<std::string> t(kLedgerQueryCount);
    auto set = [&t](LedgerQuery q, std::string sql) { t[static_cast<size_t>(q)] = std::move(sql); };
    set(LedgerQuery::kMeta, "SELECT value FROM ledger_meta WHERE key = $1");
    set(LedgerQuery::kPutMeta,
        "INSERT INTO ledger_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    set(LedgerQuery::kState, "SELECT tree_size, subtrees FROM ledger_state WHERE id = 0");
    set(LedgerQuery::kSetState, "UPDATE ledger_state SET tree_size = $1, subtrees = $2 WHERE id = 0");
    set(LedgerQuery::kInitialState, "INSERT INTO ledger_state (id, tree_size, subtrees) VALUES (0, 0, $1)");
    set(LedgerQuery::kInsertEntry,
        "INSERT INTO ledger_entries (entry_index, entry, leaf_hash, kind, subject) VALUES ($1, $2, $3, $4, $5)");
    set(LedgerQuery::kInsertKey, "INSERT INTO ledger_keys (key_id, public_key, entry_index) VALUES ($1, $2, $3)");
    set(LedgerQuery::kInsertHead,
        "INSERT INTO ledger_heads (tree_size, root, time, key_id, signature) VALUES ($1, $2, $3, $4, $5)");
    set(LedgerQuery::kEntryCount, "SELECT count(*) FROM ledger_entries");
    set(LedgerQuery::kEntries,
        std::string(kEntryColumns) + "WHERE entry_index >= $1 AND entry_index < $2 ORDER BY entry_index");
    set(LedgerQuery::kEntriesAbout,
        std::string(kEntryColumns) + "WHERE kind = $1 AND subject = $2 ORDER BY entry_index");
    set(LedgerQuery::kEntriesOfKind, std::string(kEntryColumns) + "WHERE kind = $1 ORDER BY entry_index");
    set(LedgerQuery::kHeads, std::string(kHeadColumns) + "ORDER BY tree_size");
    set(LedgerQuery::kLatestHead, std::string(kHeadColumns) + "ORDER BY tree_size DESC LIMIT 1");
    set(LedgerQuery::kKeys, "SELECT key_id, public_key, entry_index FROM ledger_keys ORDER BY entry_index, key_id");
    return t;
  }();
  return kTexts;
}

// Text both databases store alike: PostgreSQL refuses NUL and malformed
// UTF-8 where SQLite would keep them, so neither gets them.
bool is_storable_text(std::string_view text) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
  const int64_t length = static_cast<int64_t>(text.size());
  int64_t i = 0;
  while (i < length) {
    UChar32 c = 0;
    U8_NEXT(bytes, i, length, c);
    if (c <= 0) return false;  // malformed (negative) or NUL
  }
  return true;
}

Result<int64_t> as_sql_integer(uint64_t value, const char* what) {
  if (value > kMaxSqlInteger) {
    return Status::Overflow(std::string(what) + " " + std::to_string(value) +
                            " is above 2^63 - 1, the largest the ledger store holds");
  }
  return static_cast<int64_t>(value);
}

std::string_view hash_bytes(const merkle::Hash& h) {
  return {reinterpret_cast<const char*>(h.data()), h.size()};
}

// `bytes` as a hash, or false when it is not 32 bytes long.
bool read_hash(std::string_view bytes, merkle::Hash& out) {
  if (bytes.size() != out.size()) return false;
  std::memcpy(out.data(), bytes.data(), out.size());
  return true;
}

std::string hash_error(const char* what, size_t size) {
  return std::string(what) + " is " + std::to_string(size) + " bytes, expected 32";
}

// The exclusive write transaction over any backend. After a failed
// operation nothing more is written and commit() refuses, because
// PostgreSQL has already aborted the transaction where SQLite would carry
// on: both behave as PostgreSQL does.
class SqlWriter final : public LedgerStore::Writer {
 public:
  SqlWriter(SqlLedgerStore& store, uint64_t size) : store_(store), next_index_(size), state_size_(size) {}
  ~SqlWriter() override {
    if (committed_) return;
    (void)store_.execute("ROLLBACK");
    store_.writer_closed();
  }

  Result<TreeState> state() override {
    FM_RETURN_IF_ERROR(usable());
    return track(store_.state());
  }
  Status put_meta(const std::string& key, const std::string& value) override {
    return write(LedgerQuery::kPutMeta, {SqlParam::Text(key), SqlParam::Text(value)});
  }
  Status insert_entry(const StoredEntry& e) override;
  Status insert_key(const StoredKey& k) override;
  Status insert_head(const StoredHead& h) override;
  Status set_state(const TreeState& s) override;
  Status commit() override;

 private:
  Status usable() const {
    if (committed_) return Status::Internal(store_.where() + ": the write was already committed");
    if (failed_) return Status::Internal(store_.where() + ": an earlier write failed; nothing more is written");
    return Status::Ok();
  }
  template <typename T>
  T track(T result) {
    if (!result.ok()) failed_ = true;
    return result;
  }
  Status write(LedgerQuery query, std::initializer_list<SqlParam> params) {
    FM_RETURN_IF_ERROR(usable());
    return track(store_.query(query, params, nullptr));
  }

  SqlLedgerStore& store_;
  uint64_t next_index_;  // of the next entry: the tree's size plus the entries inserted
  uint64_t state_size_;  // the size set_state() last stored
  bool committed_ = false;
  bool failed_ = false;
};

Status SqlWriter::insert_entry(const StoredEntry& e) {
  FM_RETURN_IF_ERROR(usable());
  if (e.index != next_index_) {
    failed_ = true;
    return Status::Internal(store_.where() + ": entry " + std::to_string(e.index) +
                            " inserted where entry " + std::to_string(next_index_) + " is next");
  }
  FM_ASSIGN_OR_RETURN(int64_t index, track(as_sql_integer(e.index, "entry index")));
  FM_RETURN_IF_ERROR(write(LedgerQuery::kInsertEntry,
                           {SqlParam::Integer(index), SqlParam::Text(e.entry), SqlParam::Blob(hash_bytes(e.leaf_hash)),
                            SqlParam::Text(e.kind), SqlParam::Text(e.subject)}));
  ++next_index_;
  return Status::Ok();
}

Status SqlWriter::insert_key(const StoredKey& k) {
  FM_ASSIGN_OR_RETURN(int64_t index, track(as_sql_integer(k.entry_index, "key entry index")));
  return write(LedgerQuery::kInsertKey,
               {SqlParam::Text(k.key_id), SqlParam::Blob(k.public_key), SqlParam::Integer(index)});
}

Status SqlWriter::insert_head(const StoredHead& h) {
  FM_ASSIGN_OR_RETURN(int64_t size, track(as_sql_integer(h.size, "head tree size")));
  return write(LedgerQuery::kInsertHead, {SqlParam::Integer(size), SqlParam::Blob(hash_bytes(h.root)),
                                          SqlParam::Text(h.time), SqlParam::Text(h.key_id),
                                          SqlParam::Blob(h.signature)});
}

Status SqlWriter::set_state(const TreeState& s) {
  FM_ASSIGN_OR_RETURN(int64_t size, track(as_sql_integer(s.size, "tree size")));
  std::string subtrees;
  subtrees.reserve(s.subtrees.size() * sizeof(merkle::Hash));
  for (const merkle::Hash& h : s.subtrees) subtrees.append(hash_bytes(h));
  FM_RETURN_IF_ERROR(write(LedgerQuery::kSetState, {SqlParam::Integer(size), SqlParam::Blob(subtrees)}));
  state_size_ = s.size;
  return Status::Ok();
}

Status SqlWriter::commit() {
  FM_RETURN_IF_ERROR(usable());
  // The invariant every reader relies on: the state describes the tree of
  // all the entries, no more and no fewer.
  if (state_size_ != next_index_) {
    failed_ = true;
    return Status::Internal(store_.where() + ": the state's tree size " + std::to_string(state_size_) +
                            " is not the " + std::to_string(next_index_) + " entries; nothing was committed");
  }
  FM_RETURN_IF_ERROR(track(store_.execute("COMMIT")));
  committed_ = true;
  store_.writer_closed();
  return Status::Ok();
}

}  // namespace

std::vector<std::string> ledger_schema_ddl(const SqlDialect& d) {
  const std::string integer = d.integer;
  const std::string blob = d.blob;
  const std::string options = d.table_options;
  return {
      // The version's anchor: every version of the schema keeps this table
      // as it is, so that any version can tell which one a ledger has.
      "CREATE TABLE ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)" + options,
      "CREATE TABLE ledger_entries (entry_index " + integer + " PRIMARY KEY CHECK (entry_index >= 0), " +
          "entry TEXT NOT NULL, leaf_hash " + blob + " NOT NULL CHECK (length(leaf_hash) = 32), " +
          "kind TEXT NOT NULL, subject TEXT NOT NULL)" + options,
      // The index last in each, so that entries come out in index order
      // without a sort.
      "CREATE INDEX ledger_entries_by_kind ON ledger_entries (kind, entry_index)",
      "CREATE INDEX ledger_entries_by_subject ON ledger_entries (kind, subject, entry_index)",
      "CREATE TABLE ledger_heads (tree_size " + integer + " PRIMARY KEY CHECK (tree_size >= 0), root " + blob +
          " NOT NULL CHECK (length(root) = 32), time TEXT NOT NULL, key_id TEXT NOT NULL, signature " + blob +
          " NOT NULL)" + options,
      "CREATE TABLE ledger_keys (key_id TEXT PRIMARY KEY, public_key " + blob + " NOT NULL, entry_index " + integer +
          " NOT NULL REFERENCES ledger_entries (entry_index))" + options,
      // One row (id 0): the tree's size and right edge.
      "CREATE TABLE ledger_state (id INTEGER PRIMARY KEY CHECK (id = 0), tree_size " + integer +
          " NOT NULL CHECK (tree_size >= 0), subtrees " + blob + " NOT NULL)" + options,
  };
}

const char* ledger_query_sql(LedgerQuery query) { return query_texts()[static_cast<size_t>(query)].c_str(); }

const char* ledger_query_failure(LedgerQuery query) {
  return std::string_view(ledger_query_sql(query)).starts_with("SELECT") ? "reading the ledger failed"
                                                                         : "writing the ledger failed";
}

std::string sql_statement_words(const std::string& sql) {
  const size_t first_space = sql.find(' ');
  return sql.substr(0, first_space == std::string::npos ? first_space : sql.find(' ', first_space + 1));
}

Result<std::unique_ptr<LedgerStore>> LedgerStore::Open(const std::string& location, bool create) {
  if (location.starts_with("postgresql://") || location.starts_with("postgres://")) {
    return OpenPostgresLedgerStore(location, create);
  }
  if (location.empty()) {
    return Status::InvalidArgument("the ledger location is empty: give a file path or a postgresql:// URL");
  }
  return OpenSqliteLedgerStore(location, create);
}

Result<std::unique_ptr<LedgerStore>> LedgerStore::OpenScratch(const std::string& shown_as) {
  return OpenScratchSqliteLedgerStore(shown_as);
}

std::string SqlLedgerStore::where() const { return printable_text(display_location()); }

Status SqlLedgerStore::corrupt(const std::string& what) const {
  return Status::ParseError(where() + ": the ledger is damaged: " + what);
}

Status SqlLedgerStore::query(LedgerQuery query, std::initializer_list<SqlParam> params, const SqlRowVisitor& on_row) {
  for (const SqlParam& p : params) {
    if (p.type == SqlParam::Type::kText && !is_storable_text(p.bytes)) {
      return Status::InvalidArgument(where() + ": text that is not UTF-8 or holds a NUL byte cannot be stored: \"" +
                                     printable_text(p.bytes.substr(0, 64)) + "\"");
    }
  }
  return run(query, params, on_row);
}

Status SqlLedgerStore::open_ledger(bool create) {
  FM_ASSIGN_OR_RETURN(bool empty, is_empty());
  if (empty) {
    if (!create) return Status::NotFound(where() + ": no flopsmeter ledger here yet (" + describe_empty() + ")");
    FM_RETURN_IF_ERROR(begin_creation());
    // Another creator may have been first while this one waited.
    Result<bool> still_empty = is_empty();
    Status created = still_empty.ok() ? (*still_empty ? install_schema() : Status::Ok()) : still_empty.status();
    if (created.ok()) created = execute("COMMIT");
    if (!created.ok()) {
      (void)execute("ROLLBACK");
      return created;
    }
  }
  return verify_schema();
}

Status SqlLedgerStore::install_schema() {
  for (const std::string& statement : ledger_schema_ddl(dialect_)) FM_RETURN_IF_ERROR(execute(statement));
  FM_RETURN_IF_ERROR(
      query(LedgerQuery::kPutMeta, {SqlParam::Text("schema"), SqlParam::Text(kLedgerStoreSchema)}, nullptr));
  return query(LedgerQuery::kInitialState, {SqlParam::Blob("")}, nullptr);
}

Status SqlLedgerStore::verify_schema() { return check_schema_version(); }

Status SqlLedgerStore::check_schema_version() {
  FM_ASSIGN_OR_RETURN(std::optional<std::string> version, meta("schema"));
  if (!version) {
    return Status::ParseError(where() + ": not a flopsmeter ledger (its ledger_meta table has no schema version)");
  }
  if (*version != kLedgerStoreSchema) {
    return Status::Unsupported(where() + ": the ledger's schema is \"" + printable_text(*version) +
                               "\"; this flopsmeter reads " + kLedgerStoreSchema);
  }
  return Status::Ok();
}

Result<std::optional<std::string>> SqlLedgerStore::meta(const std::string& key) {
  std::optional<std::string> value;
  FM_RETURN_IF_ERROR(query(LedgerQuery::kMeta, {SqlParam::Text(key)}, [&value](const SqlRow& row) {
    value.emplace(row.bytes(0));
    return Status::Ok();
  }));
  return value;
}

Result<std::unique_ptr<LedgerStore::Writer>> SqlLedgerStore::begin_write() {
  // A second writer would share the first one's transaction (PostgreSQL
  // only warns about a nested BEGIN) and commit or roll back its rows.
  if (writer_open_) return Status::Internal(where() + ": a write is already open on this store");
  FM_RETURN_IF_ERROR(begin_exclusive());
  Result<TreeState> current = state();
  if (!current.ok()) {
    (void)execute("ROLLBACK");
    return current.status();
  }
  writer_open_ = true;
  return std::unique_ptr<Writer>(std::make_unique<SqlWriter>(*this, current->size));
}

Result<uint64_t> SqlLedgerStore::entry_count() {
  std::optional<uint64_t> count;
  FM_RETURN_IF_ERROR(query(LedgerQuery::kEntryCount, {}, [&count](const SqlRow& row) {
    count = row.non_negative_integer(0);
    return Status::Ok();
  }));
  if (!count) return corrupt("no count of the entries");
  return *count;
}

Status SqlLedgerStore::select_entries(LedgerQuery query_kind, std::initializer_list<SqlParam> params,
                                      size_t expected_rows, std::vector<StoredEntry>& out) {
  out.reserve(std::min(expected_rows, kMaxReservedRows));
  size_t rows = 0;
  const Status status = query(query_kind, params, [this, &out, &rows](const SqlRow& row) {
    const std::optional<uint64_t> index = row.non_negative_integer(0);
    if (!index) return corrupt("an entry's index is not a non-negative integer");
    StoredEntry& e = rows < out.size() ? out[rows] : out.emplace_back();
    ++rows;
    e.index = *index;
    e.entry.assign(row.bytes(1));  // assign, not a new string: the old one's memory is reused
    if (!read_hash(row.bytes(2), e.leaf_hash)) {
      return corrupt("entry " + std::to_string(e.index) + ": " + hash_error("the leaf hash", row.bytes(2).size()));
    }
    e.kind.assign(row.bytes(3));
    e.subject.assign(row.bytes(4));
    return Status::Ok();
  });
  out.resize(rows);
  return status;
}

Status SqlLedgerStore::entries_into(uint64_t from, uint64_t count, std::vector<StoredEntry>& out) {
  if (from > kMaxSqlInteger || count == 0) {
    out.clear();
    return Status::Ok();
  }
  const uint64_t end = from + std::min(count, kMaxSqlInteger - from);
  return select_entries(LedgerQuery::kEntries,
                        {SqlParam::Integer(static_cast<int64_t>(from)), SqlParam::Integer(static_cast<int64_t>(end))},
                        static_cast<size_t>(end - from), out);
}

Result<std::vector<StoredEntry>> SqlLedgerStore::entries(uint64_t from, uint64_t count) {
  std::vector<StoredEntry> out;
  FM_RETURN_IF_ERROR(entries_into(from, count, out));
  return out;
}

Result<std::vector<StoredEntry>> SqlLedgerStore::entries_about(const std::string& kind, const std::string& subject) {
  std::vector<StoredEntry> out;
  FM_RETURN_IF_ERROR(
      select_entries(LedgerQuery::kEntriesAbout, {SqlParam::Text(kind), SqlParam::Text(subject)}, 0, out));
  return out;
}

Result<std::vector<StoredEntry>> SqlLedgerStore::entries_of_kind(const std::string& kind) {
  std::vector<StoredEntry> out;
  FM_RETURN_IF_ERROR(select_entries(LedgerQuery::kEntriesOfKind, {SqlParam::Text(kind)}, 0, out));
  return out;
}

Result<std::vector<StoredHead>> SqlLedgerStore::read_heads(LedgerQuery query_kind) {
  std::vector<StoredHead> out;
  FM_RETURN_IF_ERROR(query(query_kind, {}, [this, &out](const SqlRow& row) {
    const std::optional<uint64_t> size = row.non_negative_integer(0);
    if (!size) return corrupt("a head's tree size is not a non-negative integer");
    StoredHead& h = out.emplace_back();
    h.size = *size;
    if (!read_hash(row.bytes(1), h.root)) {
      return corrupt("the head of size " + std::to_string(h.size) + ": " + hash_error("the root", row.bytes(1).size()));
    }
    h.time = row.bytes(2);
    h.key_id = row.bytes(3);
    h.signature = row.bytes(4);
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<StoredHead>> SqlLedgerStore::heads() { return read_heads(LedgerQuery::kHeads); }

Result<std::optional<StoredHead>> SqlLedgerStore::latest_head() {
  FM_ASSIGN_OR_RETURN(std::vector<StoredHead> latest, read_heads(LedgerQuery::kLatestHead));
  if (latest.empty()) return std::optional<StoredHead>();
  return std::optional<StoredHead>(std::move(latest.front()));
}

Result<std::vector<StoredKey>> SqlLedgerStore::keys() {
  std::vector<StoredKey> out;
  FM_RETURN_IF_ERROR(query(LedgerQuery::kKeys, {}, [this, &out](const SqlRow& row) {
    const std::optional<uint64_t> index = row.non_negative_integer(2);
    if (!index) return corrupt("a key's entry index is not a non-negative integer");
    out.push_back({std::string(row.bytes(0)), std::string(row.bytes(1)), *index});
    return Status::Ok();
  }));
  return out;
}

Result<TreeState> SqlLedgerStore::state() {
  std::optional<TreeState> state;
  FM_RETURN_IF_ERROR(query(LedgerQuery::kState, {}, [this, &state](const SqlRow& row) {
    const std::optional<uint64_t> size = row.non_negative_integer(0);
    const std::string_view subtrees = row.bytes(1);
    if (!size) return corrupt("the state's tree size is not a non-negative integer");
    if (subtrees.size() % sizeof(merkle::Hash) != 0) {
      return corrupt("the state's subtrees are " + std::to_string(subtrees.size()) +
                     " bytes, not a whole number of 32-byte hashes");
    }
    state.emplace(TreeState{*size, std::vector<merkle::Hash>(subtrees.size() / sizeof(merkle::Hash))});
    for (size_t i = 0; i < state->subtrees.size(); ++i) {
      (void)read_hash(subtrees.substr(i * sizeof(merkle::Hash), sizeof(merkle::Hash)), state->subtrees[i]);
    }
    return Status::Ok();
  }));
  if (!state) return corrupt("the state row is missing");
  return std::move(*state);
}

}  // namespace flopsmeter
