// The ledger store on an SQLite file: WAL mode with synchronous=FULL (a
// committed entry survives power loss; readers never wait for the writer),
// BEGIN IMMEDIATE for writers, and a file that may be hostile: anything but
// a regular file is refused before SQLite opens it, and a database is read
// only after its schema objects are found to be exactly the ledger's.
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <random>
#include <set>
#include <system_error>
#include <thread>

#include "adapters/files.h"
#include "adapters/ledger_sql.h"
#include "core/json_doc.h"  // printable_text

namespace flopsmeter {
namespace {

// How long a writer waits for another (the interface's minute), and any
// statement for a lock it briefly needs.
constexpr int kBusyTimeoutMs = 60'000;

// Files SQLite keeps beside the database; each must be a regular file too,
// or SQLite would open whatever is there (a FIFO would block it forever).
constexpr std::array<const char*, 3> kSidecarSuffixes = {"-wal", "-shm", "-journal"};

Status check_not_special(const std::string& path, const struct stat& info) {
  return S_ISREG(info.st_mode) ? Status::Ok() : not_a_regular_file(path, info.st_mode);
}

// Refuses a symbolic link, FIFO, device, socket or directory at `path` or
// its sidecar files; creates the directory above a missing file when
// `create`. NotFound when the file is missing and !create.
Status check_database_path(const std::string& path, bool create) {
  const std::string shown = printable_text(path);
  struct stat info {};
  if (::lstat(path.c_str(), &info) == 0) {
    FM_RETURN_IF_ERROR(check_not_special(path, info));
  } else if (errno != ENOENT) {
    return Status::IoError(shown + ": " + std::generic_category().message(errno));
  } else if (!create) {
    return Status::NotFound(shown + ": no ledger here (no such file)");
  } else {
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    std::error_code error;
    if (!parent.empty()) std::filesystem::create_directories(parent, error);
    if (error) {
      return Status::IoError(shown + ": cannot create the directory " + printable_text(parent.string()) + ": " +
                             error.message());
    }
  }
  for (const char* suffix : kSidecarSuffixes) {
    const std::string sidecar = path + suffix;
    if (::lstat(sidecar.c_str(), &info) == 0) FM_RETURN_IF_ERROR(check_not_special(sidecar, info));
  }
  return Status::Ok();
}

// The name SQLite gets: a relative path starts with "./", so that one that
// begins "file:" is not read as a URI (Debian's SQLite reads URIs) and
// ":memory:" is a file.
std::string sqlite_file_name(const std::string& path) { return path.starts_with('/') ? path : "./" + path; }

class SqliteRow final : public SqlRow {
 public:
  explicit SqliteRow(sqlite3_stmt* statement) : statement_(statement) {}
  std::optional<uint64_t> non_negative_integer(int column) const override {
    if (sqlite3_column_type(statement_, column) != SQLITE_INTEGER) return std::nullopt;
    const sqlite3_int64 value = sqlite3_column_int64(statement_, column);
    if (value < 0) return std::nullopt;
    return static_cast<uint64_t>(value);
  }
  std::string_view bytes(int column) const override {
    // Text comes out as it is stored (UTF-8), without conversion.
    const void* data = sqlite3_column_blob(statement_, column);
    const int size = sqlite3_column_bytes(statement_, column);
    if (data == nullptr) return std::string_view("", 0);  // empty: SQLite gives no pointer
    return {static_cast<const char*>(data), static_cast<size_t>(size)};
  }

 private:
  sqlite3_stmt* statement_;
};

// Resets a statement when a run ends, so that no read transaction stays
// open behind a finished query.
class ResetOnExit {
 public:
  explicit ResetOnExit(sqlite3_stmt* statement) : statement_(statement) {}
  ~ResetOnExit() { sqlite3_reset(statement_); }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  sqlite3_stmt* statement_;
};

struct SchemaObject {
  std::string type;  // "table", "index", ...
  std::string name;
  std::optional<std::string> sql;  // its CREATE statement; nullopt for the indexes SQLite makes itself
};

class SqliteLedgerStore final : public SqlLedgerStore {
 public:
  explicit SqliteLedgerStore(std::string path) : SqlLedgerStore(kSqliteDialect), path_(std::move(path)) {}
  ~SqliteLedgerStore() override { close(); }

  Status open(bool create);
  Status open_in_memory();

  const char* backend() const override { return "sqlite"; }
  std::string display_location() const override { return path_; }
  Status execute(const std::string& sql) override;

 protected:
  Status run(LedgerQuery query, std::initializer_list<SqlParam> params, const SqlRowVisitor& on_row) override;
  Status begin_exclusive() override;
  Result<bool> is_empty() override;
  std::string describe_empty() const override { return "the database is empty"; }
  Status begin_creation() override { return begin_exclusive(); }
  Status verify_schema() override;

 private:
  Status configure();
  Status use_write_ahead_log();
  Result<std::vector<SchemaObject>> schema_objects();
  Status step_all(sqlite3_stmt* statement, std::initializer_list<SqlParam> params, const SqlRowVisitor& on_row,
                  const std::string& failure);
  Status run_sql(const std::string& sql, const SqlRowVisitor& on_row);
  Status error(int code, const std::string& action) const;

  Status open_once(bool create);
  void close();

  std::string path_;
  sqlite3* db_ = nullptr;
  std::array<sqlite3_stmt*, kLedgerQueryCount> statements_{};  // prepared on first use
};

Status SqliteLedgerStore::error(int code, const std::string& action) const {
  const std::string detail = printable_text(db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(code));
  switch (code & 0xff) {
    case SQLITE_NOTADB: return Status::ParseError(where() + ": not a SQLite database");
    case SQLITE_CORRUPT: return Status::ParseError(where() + ": the database is corrupt (" + detail + ")");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::IoError(where() + ": the ledger is busy: another writer held it for over a minute (" + action +
                             ")");
    case SQLITE_CONSTRAINT: return Status::InvalidArgument(where() + ": " + action + ": " + detail);
    default: return Status::IoError(where() + ": " + action + ": " + detail);
  }
}

Status SqliteLedgerStore::open(bool create) {
  FM_RETURN_IF_ERROR(check_database_path(path_, create));
  // Connections creating the ledger at once, or one switching it to the
  // write-ahead log while another reads, can be told SQLITE_BUSY at once,
  // without the busy handler (SQLite does so where waiting could deadlock).
  // Opening changes nothing until it commits, so it is tried again, up to
  // the busy timeout.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  std::minstd_rand jitter(static_cast<unsigned>(::getpid()));
  while (true) {
    Status status = open_once(create);
    const int code = db_ ? sqlite3_errcode(db_) & 0xff : SQLITE_OK;
    if (status.ok() || (code != SQLITE_BUSY && code != SQLITE_LOCKED) ||
        std::chrono::steady_clock::now() > deadline) {
      return status;
    }
    close();
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + jitter() % 45));
  }
}

Status SqliteLedgerStore::open_once(bool create) {
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOFOLLOW |
                    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  const int code = sqlite3_open_v2(sqlite_file_name(path_).c_str(), &db_, flags, nullptr);
  if (code != SQLITE_OK) return error(code, "cannot open the database");
  FM_RETURN_IF_ERROR(configure());
  FM_RETURN_IF_ERROR(open_ledger(create));
  return use_write_ahead_log();
}

void SqliteLedgerStore::close() {
  for (sqlite3_stmt*& statement : statements_) {
    sqlite3_finalize(statement);
    statement = nullptr;
  }
  sqlite3_close_v2(db_);
  db_ = nullptr;
}

// The schema in a private in-memory database: no file, no write-ahead log.
Status SqliteLedgerStore::open_in_memory() {
  const int code = sqlite3_open_v2(":memory:", &db_,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MEMORY |
                                       SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
                                   nullptr);
  if (code != SQLITE_OK) return error(code, "cannot open a database in memory");
  FM_RETURN_IF_ERROR(configure());
  return open_ledger(true);
}

// What every connection sets before reading anything: a wait for locks,
// and defences for a database file that may be hostile (its schema may
// call no functions with side effects, and SQL cannot corrupt it).
Status SqliteLedgerStore::configure() {
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  int applied = 0;
  if (sqlite3_db_config(db_, SQLITE_DBCONFIG_DEFENSIVE, 1, &applied) != SQLITE_OK ||
      sqlite3_db_config(db_, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &applied) != SQLITE_OK) {
    return error(SQLITE_ERROR, "cannot configure the connection");
  }
  return execute("PRAGMA foreign_keys = ON");
}

// Write-ahead logging, so that readers never wait for the writer and a
// killed writer leaves only an uncommitted tail the next open ignores;
// synchronous=FULL syncs the log at every commit, so a committed entry
// also survives power loss (NORMAL would lose the last commits).
Status SqliteLedgerStore::use_write_ahead_log() {
  std::string mode;
  FM_RETURN_IF_ERROR(run_sql("PRAGMA journal_mode = WAL", [&mode](const SqlRow& row) {
    mode = row.bytes(0);
    return Status::Ok();
  }));
  if (mode != "wal") {
    return Status::IoError(where() + ": cannot use write-ahead logging (journal mode \"" + printable_text(mode) +
                           "\"); the ledger needs a local file system");
  }
  return execute("PRAGMA synchronous = FULL");
}

Status SqliteLedgerStore::execute(const std::string& sql) {
  const int code = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  return code == SQLITE_OK ? Status::Ok() : error(code, "cannot run " + sql_statement_words(sql));
}

Status SqliteLedgerStore::begin_exclusive() {
  // IMMEDIATE takes the write lock now (waiting up to the busy timeout), so
  // the state a writer reads is the one it will extend.
  const int code = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  return code == SQLITE_OK ? Status::Ok() : error(code, "cannot begin a write");
}

Status SqliteLedgerStore::step_all(sqlite3_stmt* statement, std::initializer_list<SqlParam> params,
                                   const SqlRowVisitor& on_row, const std::string& failure) {
  ResetOnExit reset(statement);
  int index = 0;
  for (const SqlParam& p : params) {
    ++index;
    // A null pointer would bind NULL; an empty value is "".
    const char* data = p.bytes.empty() ? "" : p.bytes.data();
    const int code =
        p.type == SqlParam::Type::kInteger ? sqlite3_bind_int64(statement, index, p.integer)
        : p.type == SqlParam::Type::kText  ? sqlite3_bind_text64(statement, index, data, p.bytes.size(),
                                                                 SQLITE_STATIC, SQLITE_UTF8)
                                           : sqlite3_bind_blob64(statement, index, data, p.bytes.size(), SQLITE_STATIC);
    if (code != SQLITE_OK) return error(code, "cannot bind a parameter");
  }
  const SqliteRow row(statement);
  while (true) {
    const int code = sqlite3_step(statement);
    if (code == SQLITE_DONE) return Status::Ok();
    if (code != SQLITE_ROW) return error(code, failure);
    if (on_row) FM_RETURN_IF_ERROR(on_row(row));
  }
}

Status SqliteLedgerStore::run(LedgerQuery query, std::initializer_list<SqlParam> params,
                              const SqlRowVisitor& on_row) {
  sqlite3_stmt*& statement = statements_[static_cast<size_t>(query)];
  if (statement == nullptr) {
    const int code =
        sqlite3_prepare_v3(db_, ledger_query_sql(query), -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr);
    if (code != SQLITE_OK) return error(code, "cannot prepare a query");
  }
  return step_all(statement, params, on_row, ledger_query_failure(query));
}

// SQL of the backend's own (the catalog, pragmas), prepared for one run.
Status SqliteLedgerStore::run_sql(const std::string& sql, const SqlRowVisitor& on_row) {
  sqlite3_stmt* statement = nullptr;
  const int code = sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr);
  if (code != SQLITE_OK) {
    sqlite3_finalize(statement);
    return error(code, "cannot read the database");
  }
  Status status = step_all(statement, {}, on_row, "reading the database failed");
  sqlite3_finalize(statement);
  return status;
}

Result<std::vector<SchemaObject>> SqliteLedgerStore::schema_objects() {
  std::vector<SchemaObject> objects;
  FM_RETURN_IF_ERROR(run_sql("SELECT type, name, sql FROM sqlite_schema", [&objects](const SqlRow& row) {
    SchemaObject& o = objects.emplace_back();
    o.type = row.bytes(0);
    o.name = row.bytes(1);
    // NULL (SQLite's own indexes) reads as empty, which no CREATE is.
    const std::string_view sql = row.bytes(2);
    if (!sql.empty()) o.sql.emplace(sql);
    return Status::Ok();
  }));
  return objects;
}

Result<bool> SqliteLedgerStore::is_empty() {
  FM_ASSIGN_OR_RETURN(std::vector<SchemaObject> objects, schema_objects());
  return objects.empty();
}

// Exactly the ledger's tables and indexes, nothing else: a file made to look
// like a ledger cannot bring views, triggers or other SQL of its own to run
// when the ledger is read. The meta table is checked before it is read, the
// rest after the version (another version's schema differs).
Status SqliteLedgerStore::verify_schema() {
  const std::vector<std::string> expected = ledger_schema_ddl(kSqliteDialect);
  FM_ASSIGN_OR_RETURN(std::vector<SchemaObject> objects, schema_objects());
  const std::string& meta_table = expected.front();
  if (std::none_of(objects.begin(), objects.end(), [&](const SchemaObject& o) { return o.sql == meta_table; })) {
    return Status::ParseError(where() + ": not a flopsmeter ledger (no ledger_meta table)");
  }
  FM_RETURN_IF_ERROR(check_schema_version());
  std::set<std::string> missing(expected.begin(), expected.end());
  for (const SchemaObject& o : objects) {
    // SQLite's own: the indexes behind primary keys, and statistics that
    // ANALYZE or PRAGMA optimize may add.
    const bool sqlite_internal = (!o.sql && o.type == "index" && o.name.starts_with("sqlite_autoindex_")) ||
                                 (o.type == "table" && o.name.starts_with("sqlite_stat"));
    if (sqlite_internal) continue;
    if (!o.sql || missing.erase(*o.sql) == 0) {
      return Status::ParseError(where() + ": not a flopsmeter ledger: its " + printable_text(o.type) + " \"" +
                                printable_text(o.name) + "\" is not in the " + kLedgerStoreSchema + " schema");
    }
  }
  if (!missing.empty()) {
    return Status::ParseError(where() + ": not a flopsmeter ledger: it lacks part of the " + kLedgerStoreSchema +
                              " schema (" + printable_text(*missing.begin()) + ")");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<LedgerStore>> OpenSqliteLedgerStore(const std::string& path, bool create) {
  auto store = std::make_unique<SqliteLedgerStore>(path);
  FM_RETURN_IF_ERROR(store->open(create));
  return std::unique_ptr<LedgerStore>(std::move(store));
}

Result<std::unique_ptr<LedgerStore>> OpenScratchSqliteLedgerStore(const std::string& shown_as) {
  auto store = std::make_unique<SqliteLedgerStore>(shown_as);
  FM_RETURN_IF_ERROR(store->open_in_memory());
  return std::unique_ptr<LedgerStore>(std::move(store));
}

}  // namespace flopsmeter
