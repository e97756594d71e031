// Helpers of the ledger's tests (the store's suite, ledger_store_test.cc,
// and the API's, ledger_test.cc and ledger_stress_test.cc): the two
// backends a suite is parameterized over, a fresh ledger location on each,
// SQL run behind the ledger's back, and child processes to fork and kill.
//
// The PostgreSQL half runs when FLOPSMETER_TEST_PG_URL names a server
// (tests/ledger/with_postgres.sh starts a real one for ctest's
// ledger_store_postgresql and ledger_postgresql).
#ifndef FLOPSMETER_TESTS_UNIT_LEDGER_SUPPORT_H_
#define FLOPSMETER_TESTS_UNIT_LEDGER_SUPPORT_H_

#include <libpq-fe.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "flopsmeter/exact.h"
#include "flopsmeter/ledger.h"
#include "flopsmeter/status.h"
#include "test_support.h"

namespace flopsmeter::testing {

enum class Backend { kSqlite, kPostgres };
inline void PrintTo(Backend backend, std::ostream* out) {
  *out << (backend == Backend::kSqlite ? "sqlite" : "postgresql");
}

// `url` with `key=value` added to its query.
inline std::string with_parameter(const std::string& url, const std::string& key, const std::string& value) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + key + "=" + value;
}

// The server the PostgreSQL half runs against, or "" when none was given.
// With a connect timeout of a minute, not the ledger's 10 s: 32 writers
// connecting at once to a server on a loaded machine (a sanitizer build, a
// shared CI runner) were refused for time, and that tests the machine.
inline std::string postgres_server_url() {
  const char* url = std::getenv("FLOPSMETER_TEST_PG_URL");
  return url ? with_parameter(url, "connect_timeout", "60") : "";
}

// SQLite always; PostgreSQL when a server is given.
inline std::vector<Backend> backends() {
  std::vector<Backend> out = {Backend::kSqlite};
  if (!postgres_server_url().empty()) out.push_back(Backend::kPostgres);
  return out;
}

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "sqlite" : "postgresql";
}

// `url` (postgresql://USER:PASSWORD@HOST...) with another user and password.
inline std::string with_user(const std::string& url, const std::string& user, const std::string& password) {
  const size_t authority = url.find("://") + 3;
  return url.substr(0, authority) + user + ":" + password + url.substr(url.find('@', authority));
}

// Runs SQL on a PostgreSQL server directly; "" when it worked, else the
// server's message.
inline std::string postgres_sql(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
  } else {
    PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);  // "drop cascades to ..."
    PGresult* result = PQexec(conn, sql.c_str());
    const ExecStatusType status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) error = PQresultErrorMessage(result);
    PQclear(result);
  }
  PQfinish(conn);
  return error;
}

// Runs SQL on an SQLite file directly; "" when it worked, else SQLite's
// message.
inline std::string sqlite_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string error;
  char* message = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    error = sqlite3_errmsg(db);
  } else if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    error = message ? message : "error";
  }
  sqlite3_free(message);
  sqlite3_close(db);
  return error;
}

// Forks a child that runs `body` and exits 0 when it returns OK, 1 (saying
// why on stderr) otherwise. The child never returns into the test.
inline pid_t fork_child(const std::function<Status()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const Status status = body();
    if (!status.ok()) std::fprintf(stderr, "child %d: %s\n", static_cast<int>(::getpid()), status.ToString().c_str());
    ::_exit(status.ok() ? 0 : 1);
  }
  return pid;
}

// Waits for a child; its exit status, or 128 + the signal that ended it.
inline int wait_child(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A fresh ledger location on a backend: an SQLite file in a directory that
// does not exist yet, or a PostgreSQL schema of its own (named in the URL's
// search_path), dropped when the object goes. Create it in SetUp() and check
// ok() (a schema that cannot be made fails the test there).
class LedgerLocation {
 public:
  explicit LedgerLocation(Backend backend) : backend_(backend) {
    if (backend == Backend::kSqlite) {
      location_ = dir_.path() + "/ledgers/audit.sqlite";
      return;
    }
    std::random_device random;
    schema_ = "ledger_test_" + std::to_string(::getpid()) + "_" + std::to_string(random() % 1000000);
    error_ = postgres_sql(postgres_server_url(), "CREATE SCHEMA " + schema_);
    location_ = with_parameter(postgres_server_url(), "options", "-csearch_path%3D" + schema_);
  }
  ~LedgerLocation() {
    if (!schema_.empty() && error_.empty()) {
      EXPECT_EQ(postgres_sql(postgres_server_url(), "DROP SCHEMA " + schema_ + " CASCADE"), "");
    }
  }
  LedgerLocation(const LedgerLocation&) = delete;
  LedgerLocation& operator=(const LedgerLocation&) = delete;

  // "" when the location could be made, else why not.
  const std::string& error() const { return error_; }
  bool sqlite() const { return backend_ == Backend::kSqlite; }
  // The ledger's location: a file path or a postgresql:// URL.
  const std::string& location() const { return location_; }
  // A scratch directory beside it (keys, runs, records), removed with it.
  const TempDir& dir() const { return dir_; }

  // Runs SQL on the ledger's database behind the ledger's back, as someone
  // with the database's own tools would; "" when it worked.
  std::string RawSql(const std::string& sql) const {
    return sqlite() ? sqlite_sql(location_, sql) : postgres_sql(location_, sql);
  }

 private:
  Backend backend_;
  TempDir dir_;
  std::string schema_;
  std::string location_;
  std::string error_;
};

// A whole number of FLOP from its decimal text (the ledger's figures are
// compared as decimal strings, exactly).
inline Flop flop(const std::string& decimal) {
  Result<Flop> f = parse_exact_integer(decimal, "test figure");
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return f.ok() ? *f : 0;
}

// A base model of `organisation` that cost `pretraining` FLOP (decimal), or
// an unknown amount.
inline ModelSpec base_model(const std::string& name, const std::string& organisation,
                            const std::optional<std::string>& pretraining) {
  ModelSpec m;
  m.name = name;
  m.organisation = organisation;
  if (pretraining) {
    m.pretraining.flop = flop(*pretraining);
    m.pretraining.status = "given";
    m.pretraining.source = "the test";
  } else {
    m.pretraining.status = "unknown";
  }
  return m;
}

inline ModelSpec derived_model(const std::string& name, const std::string& organisation,
                               const std::vector<std::string>& parents, const std::string& how = "fine-tune") {
  ModelSpec m;
  m.name = name;
  m.organisation = organisation;
  m.parents = parents;
  m.how = how;
  return m;
}

// A flopsmeter.run record with the fields the ledger reads: its run id,
// status and compliance figure (nullopt: undetermined, "exact": null).
inline std::string run_record(const std::string& run_id, const std::optional<std::string>& compliance,
                              const std::string& status = "completed") {
  return nlohmann::json({{"schema", "flopsmeter.run/3"},
                         {"run_id", run_id},
                         {"status", status},
                         {"compliance",
                          {{"formula", "detailed"}, {"exact", compliance ? nlohmann::json(*compliance) : nullptr}}}})
             .dump(2) +
         "\n";
}

// A run spec: the run made `model`, which is in the ledger already, or, with
// `derived`, is registered by the run.
inline RunSpec run_on(const std::string& model, std::optional<ModelSpec> derived = std::nullopt) {
  RunSpec r;
  r.model = model;
  r.derived = std::move(derived);
  return r;
}

// The fixture of the ledger API's suites: a fresh ledger location on the
// backend under test, signing keys in a scratch directory (never the real
// HOME's), and its views read back as JSON.
class LedgerFixture : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { ASSERT_EQ(where_.error(), ""); }

  bool sqlite() const { return where_.sqlite(); }
  const std::string& location() const { return where_.location(); }
  const TempDir& dir() const { return where_.dir(); }

  // The path of signing key `name`, made when it is not there yet.
  std::string KeyPath(const std::string& name = "writer") const {
    const std::string path = dir().path() + "/keys/" + name + ".key";
    if (!std::filesystem::exists(path)) {
      Result<LedgerKeyInfo> key = generate_ledger_key(path);
      EXPECT_TRUE(key.ok()) << key.status().ToString();
    }
    return path;
  }
  // Options with explicit paths, so that neither HOME nor the environment's
  // FLOPSMETER_* variables are consulted.
  LedgerOptions Options(const std::string& key = "writer", const std::string& organisation = "Acme") const {
    LedgerOptions o;
    o.location = location();
    o.key_path = KeyPath(key);
    o.organisation = organisation;
    return o;
  }
  std::unique_ptr<Ledger> Open(const std::string& key = "writer", bool create = true) const {
    Result<std::unique_ptr<Ledger>> ledger = Ledger::Open(Options(key), create);
    EXPECT_TRUE(ledger.ok()) << ledger.status().ToString();
    return ledger.ok() ? std::move(*ledger) : nullptr;
  }

  // A view's JSON, or null (and a failure) when it failed.
  static nlohmann::json Parsed(const Result<std::string>& text) {
    EXPECT_TRUE(text.ok()) << text.status().ToString();
    return text.ok() ? nlohmann::json::parse(*text) : nlohmann::json();
  }
  nlohmann::json Verify(const std::string& held_head = "", const std::vector<std::string>& trusted = {}) const {
    std::unique_ptr<Ledger> reader = Open();
    return reader ? Parsed(reader->verify_json(held_head, trusted)) : nlohmann::json();
  }
  // Every entry stored, whether a head covers it or not.
  uint64_t EntryCount() const {
    const nlohmann::json v = Verify();
    return v.is_object() ? v["entries"].get<uint64_t>() : ~uint64_t{0};
  }

  LedgerLocation where_{GetParam()};
};

}  // namespace flopsmeter::testing

#endif  // FLOPSMETER_TESTS_UNIT_LEDGER_SUPPORT_H_
