// What the two ledger stores (SQLite, PostgreSQL) share: the schema text,
// the SQL of every query, and everything above "run this statement with
// these parameters and hand me the rows": the reads, the writer, creating
// the schema and checking its version. A backend supplies the connection
// (SqlLedgerStore's pure virtual functions); the rest is written once, so
// the two cannot drift apart.
//
// Internal to src/adapters (ledger_store.cc, ledger_store_sqlite.cc,
// ledger_store_postgres.cc) and the tests.
#ifndef FLOPSMETER_ADAPTERS_LEDGER_SQL_H_
#define FLOPSMETER_ADAPTERS_LEDGER_SQL_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/ledger_store.h"

namespace flopsmeter {

// The few places where the two databases spell the schema differently.
struct SqlDialect {
  const char* integer;        // a 64-bit integer column: SQLite INTEGER (a rowid alias as a key), BIGINT
  const char* blob;           // bytes: BLOB, BYTEA
  const char* table_options;  // after a table's column list: " STRICT" on SQLite (column types enforced)
};
inline constexpr SqlDialect kSqliteDialect{"INTEGER", "BLOB", " STRICT"};
inline constexpr SqlDialect kPostgresDialect{"BIGINT", "BYTEA", ""};

// The CREATE statements of the schema, in order, one statement a string.
std::vector<std::string> ledger_schema_ddl(const SqlDialect& dialect);

// Every statement both backends run. Parameters are $1, $2, ... in the
// order they appear, which SQLite numbers the same way PostgreSQL does.
enum class LedgerQuery {
  kMeta,
  kPutMeta,
  kState,
  kSetState,
  kInitialState,
  kInsertEntry,
  kInsertKey,
  kInsertHead,
  kEntryCount,
  kEntries,
  kEntriesAbout,
  kEntriesOfKind,
  kHeads,
  kLatestHead,
  kKeys,
  kCount,  // not a query: how many there are
};
inline constexpr int kLedgerQueryCount = static_cast<int>(LedgerQuery::kCount);
const char* ledger_query_sql(LedgerQuery query);
// What a failure of `query` is called in messages: "reading the ledger
// failed" or "writing the ledger failed".
const char* ledger_query_failure(LedgerQuery query);
// The first two words of `sql` ("CREATE TABLE", "COMMIT"), to say in a
// message which statement failed.
std::string sql_statement_words(const std::string& sql);

// A statement parameter: a 64-bit integer, text or bytes. Text and bytes
// are borrowed and must outlive the statement's run.
struct SqlParam {
  enum class Type { kInteger, kText, kBlob };
  Type type;
  int64_t integer = 0;
  std::string_view bytes;

  static SqlParam Integer(int64_t v) { return {Type::kInteger, v, {}}; }
  static SqlParam Text(std::string_view v) { return {Type::kText, 0, v}; }
  static SqlParam Blob(std::string_view v) { return {Type::kBlob, 0, v}; }
};

// One result row, valid only inside the visitor it is given to.
class SqlRow {
 public:
  virtual ~SqlRow() = default;
  // The column as a 64-bit integer; nullopt when it is not one or is
  // negative (every integer the schema holds is non-negative).
  virtual std::optional<uint64_t> non_negative_integer(int column) const = 0;
  // The column's text or bytes, borrowed from the row.
  virtual std::string_view bytes(int column) const = 0;
};
using SqlRowVisitor = std::function<Status(const SqlRow&)>;

// The reads, the writer and the schema over a backend's connection.
class SqlLedgerStore : public LedgerStore {
 public:
  explicit SqlLedgerStore(const SqlDialect& dialect) : dialect_(dialect) {}

  Result<std::optional<std::string>> meta(const std::string& key) override;
  Result<std::unique_ptr<Writer>> begin_write() override;
  Result<uint64_t> entry_count() override;
  Result<std::vector<StoredEntry>> entries(uint64_t from, uint64_t count) override;
  Status entries_into(uint64_t from, uint64_t count, std::vector<StoredEntry>& out) override;
  Result<std::vector<StoredEntry>> entries_about(const std::string& kind, const std::string& subject) override;
  Result<std::vector<StoredEntry>> entries_of_kind(const std::string& kind) override;
  Result<std::vector<StoredHead>> heads() override;
  Result<std::optional<StoredHead>> latest_head() override;
  Result<std::vector<StoredKey>> keys() override;
  Result<TreeState> state() override;

  // Runs `query` with `params`, calling `on_row` for each row (null: the
  // query returns none); stops at the first error, the visitor's included.
  // Text parameters must be UTF-8 without NUL (kInvalidArgument).
  Status query(LedgerQuery query, std::initializer_list<SqlParam> params, const SqlRowVisitor& on_row);
  // Runs SQL without parameters or rows (DDL, COMMIT, ROLLBACK).
  virtual Status execute(const std::string& sql) = 0;
  // The location for messages: display_location(), printable.
  std::string where() const;
  // Called by the writer when it has committed or rolled back:
  // begin_write() may be called again.
  void writer_closed() { writer_open_ = false; }

 protected:
  // kParseError "LOCATION: the ledger is damaged: WHAT".
  Status corrupt(const std::string& what) const;

  // Makes the connected database a ledger, or checks that it is one:
  // kNotFound when it holds none and !create, the schema created when it
  // holds none and create (safe against concurrent creators), then
  // verify_schema().
  Status open_ledger(bool create);

  // The backend's connection.
  //
  // query() without the check of its text parameters.
  virtual Status run(LedgerQuery query, std::initializer_list<SqlParam> params, const SqlRowVisitor& on_row) = 0;
  // Begins a transaction that no other writer of the ledger, in any process
  // or connection, holds at the same time; waits up to a minute for one.
  virtual Status begin_exclusive() = 0;
  // Whether the database (SQLite) or the connection's schema (PostgreSQL)
  // holds no ledger to open, so that one may be created in it.
  virtual Result<bool> is_empty() = 0;
  // For the kNotFound message: what is here instead of a ledger.
  virtual std::string describe_empty() const = 0;
  // Begins the transaction that creates the schema, exclusive among
  // creators.
  virtual Status begin_creation() = 0;
  // Checks that the database holds this version's ledger: by default the
  // schema version alone (check_schema_version()).
  virtual Status verify_schema();

  // kParseError "not a flopsmeter ledger" without a schema version,
  // kUnsupported for another version.
  Status check_schema_version();

 private:
  // In the creating transaction: the tables, the schema version and the
  // empty tree's state.
  Status install_schema();
  // The entries `query` selects into `out`, its elements reused.
  Status select_entries(LedgerQuery query, std::initializer_list<SqlParam> params, size_t expected_rows,
                        std::vector<StoredEntry>& out);
  Result<std::vector<StoredHead>> read_heads(LedgerQuery query);

  const SqlDialect& dialect_;
  bool writer_open_ = false;
};

// The backends, for LedgerStore::Open.
Result<std::unique_ptr<LedgerStore>> OpenSqliteLedgerStore(const std::string& path, bool create);
Result<std::unique_ptr<LedgerStore>> OpenScratchSqliteLedgerStore(const std::string& shown_as);
Result<std::unique_ptr<LedgerStore>> OpenPostgresLedgerStore(const std::string& url, bool create);

// `url` with the password (in the user part or a password= parameter)
// replaced by "***".
std::string redact_postgres_url(const std::string& url);

}  // namespace flopsmeter

#endif  // FLOPSMETER_ADAPTERS_LEDGER_SQL_H_
