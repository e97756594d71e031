// The ledger store on a PostgreSQL database through libpq: the schema in the
// connection's default schema (the first existing one on its search_path),
// writers serialised by a row lock on the state row, statements prepared
// once per connection with binary parameters and results (no text
// conversion of hashes or integers on a long scan). The URL's password is
// never printed: messages show display_location() and have the password
// scrubbed from whatever libpq or the server said.
#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <limits>
#include <memory>
#include <utility>

#include "adapters/ledger_sql.h"
#include "core/json_doc.h"  // printable_text

namespace flopsmeter {
namespace {

// Connecting gives up after this long unless the URL says otherwise (its
// connect_timeout wins): a server that is down or filtered must not hang
// the command.
constexpr const char* kConnectTimeoutSeconds = "10";

// Takes the row lock that serialises writers, waiting for another writer up
// to the interface's minute. READ COMMITTED whatever the server's default:
// the lock then yields the state the last writer committed, where a
// stricter level would fail with a serialisation error instead.
constexpr const char* kBeginWrite =
    "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = '60s'; "
    "SELECT tree_size FROM ledger_state WHERE id = 0 FOR UPDATE";
// Serialises creators of a ledger in one database, so that the second sees
// the first's tables instead of failing to create them again. The key
// spells "flopsldg".
constexpr const char* kBeginCreation =
    "BEGIN; SET LOCAL lock_timeout = '60s'; SELECT pg_advisory_xact_lock(7380396418116904039)";
constexpr const char* kLedgerSchemaState =
    "SELECT current_schema(), EXISTS (SELECT 1 FROM pg_catalog.pg_tables "
    "WHERE schemaname = current_schema() AND tablename = 'ledger_meta')";

constexpr size_t kMaxParams = 5;

struct PgResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

// A row of a binary-format result.
class PgRow final : public SqlRow {
 public:
  PgRow(const PGresult* result, int row) : result_(result), row_(row) {}
  std::optional<uint64_t> non_negative_integer(int column) const override {
    if (PQgetisnull(result_, row_, column) || PQgetlength(result_, row_, column) != 8) return std::nullopt;
    const auto* bytes = reinterpret_cast<const uint8_t*>(PQgetvalue(result_, row_, column));
    uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value = (value << 8) | bytes[i];  // network byte order
    if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return value;
  }
  std::string_view bytes(int column) const override {
    return {PQgetvalue(result_, row_, column), static_cast<size_t>(PQgetlength(result_, row_, column))};
  }

 private:
  const PGresult* result_;
  int row_;
};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// What libpq makes of a URL's %XX escapes.
std::string percent_decoded(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const int high = text[i] == '%' && i + 2 < text.size() ? hex_digit(text[i + 1]) : -1;
    const int low = high >= 0 ? hex_digit(text[i + 2]) : -1;
    if (low >= 0) {
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// The name a query is prepared under on each connection.
const char* statement_name(LedgerQuery query) {
  static const std::array<std::string, kLedgerQueryCount> kNames = [] {
    std::array<std::string, kLedgerQueryCount> names;
    for (size_t q = 0; q < names.size(); ++q) names[q] = "flopsmeter_ledger_" + std::to_string(q);
    return names;
  }();
  return kNames[static_cast<size_t>(query)].c_str();
}

// Where a URL keeps passwords: the user part's after the colon (up to the
// last "@" before the path, beyond where libpq itself would stop, so that
// a raw "@" in a password is hidden too) and password= parameters.
// Overlapping spans merged, in order.
std::vector<std::pair<size_t, size_t>> password_spans(const std::string& url) {
  std::vector<std::pair<size_t, size_t>> spans;
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return spans;
  const size_t authority = scheme_end + 3;
  const size_t path = url.find('/', authority);
  const size_t at = url.rfind('@', path);
  if (at != std::string::npos && at >= authority) {
    const size_t colon = url.find(':', authority);
    if (colon < at) spans.emplace_back(colon + 1, at);
  }
  const std::string_view kKey = "password=";
  for (size_t p = url.find('?', authority); p != std::string::npos; p = url.find('&', p + 1)) {
    const size_t value = p + 1;
    if (url.compare(value, kKey.size(), kKey) != 0) continue;
    const size_t end = std::min(url.find('&', value), url.size());
    spans.emplace_back(value + kKey.size(), end);
  }
  std::sort(spans.begin(), spans.end());
  std::vector<std::pair<size_t, size_t>> merged;
  for (const auto& span : spans) {
    if (!merged.empty() && span.first <= merged.back().second) {
      merged.back().second = std::max(merged.back().second, span.second);
    } else {
      merged.push_back(span);
    }
  }
  return merged;
}

class PostgresLedgerStore final : public SqlLedgerStore {
 public:
  explicit PostgresLedgerStore(std::string url);
  ~PostgresLedgerStore() override { PQfinish(conn_); }

  Status open(bool create);

  const char* backend() const override { return "postgresql"; }
  std::string display_location() const override { return redacted_url_; }
  Status execute(const std::string& sql) override;

 protected:
  Status run(LedgerQuery query, std::initializer_list<SqlParam> params, const SqlRowVisitor& on_row) override;
  Status begin_exclusive() override;
  Result<bool> is_empty() override;
  std::string describe_empty() const override {
    return "schema \"" + printable_text(schema_) + "\" has no ledger_meta table";
  }
  Status begin_creation() override { return execute(kBeginCreation); }

 private:
  Status prepare(LedgerQuery query);
  // libpq's or the server's words, on one line, printable, without the
  // password.
  std::string scrubbed(std::string_view message) const;
  Status result_error(const PGresult* result, const std::string& action) const;

  std::string url_;
  std::string redacted_url_;
  std::vector<std::string> secrets_;  // the password as written and decoded, to scrub from messages
  PGconn* conn_ = nullptr;
  std::string schema_;  // the connection's current schema, once is_empty() has asked
  std::array<bool, kLedgerQueryCount> prepared_{};
};

PostgresLedgerStore::PostgresLedgerStore(std::string url) : SqlLedgerStore(kPostgresDialect), url_(std::move(url)) {
  size_t copied = 0;
  for (const auto& [begin, end] : password_spans(url_)) {
    redacted_url_ += url_.substr(copied, begin - copied) + "***";
    const std::string secret = url_.substr(begin, end - begin);
    for (std::string s : {secret, percent_decoded(secret)}) {
      if (!s.empty()) secrets_.push_back(std::move(s));
    }
    copied = end;
  }
  redacted_url_ += url_.substr(copied);
  // The longest first, so that no part of a longer secret is left behind.
  std::sort(secrets_.begin(), secrets_.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
}

std::string PostgresLedgerStore::scrubbed(std::string_view message) const {
  std::string text(message);
  auto replace_all = [&text](const std::string& from, const std::string& to) {
    for (size_t p = text.find(from); p != std::string::npos; p = text.find(from, p + to.size())) {
      text.replace(p, from.size(), to);
    }
  };
  // libpq quotes a malformed URL whole.
  if (!url_.empty()) replace_all(url_, redacted_url_);
  for (const std::string& secret : secrets_) replace_all(secret, "***");
  std::string line;
  for (char c : text) {
    const bool space = c == '\n' || c == '\t' || c == '\r' || c == ' ';
    if (space && (line.empty() || line.back() == ' ')) continue;
    line += space ? ' ' : c;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return printable_text(line);
}

Status PostgresLedgerStore::result_error(const PGresult* result, const std::string& action) const {
  if (PQstatus(conn_) != CONNECTION_OK) {
    return Status::IoError(where() + ": lost the connection to the server (" + action +
                           "): " + scrubbed(PQerrorMessage(conn_)));
  }
  const char* sqlstate = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  const std::string detail = scrubbed(primary ? primary : PQerrorMessage(conn_));
  const std::string_view code = sqlstate ? sqlstate : "";
  if (code == "55P03") {
    return Status::IoError(where() + ": the ledger is busy: another writer held it for over a minute");
  }
  if (code == "42P01" || code == "42703") {  // a table or column of the schema is missing
    return Status::ParseError(where() + ": not a flopsmeter ledger (" + detail + ")");
  }
  if (code.starts_with("22") || code.starts_with("23")) {  // data exceptions, constraint violations
    return Status::InvalidArgument(where() + ": " + action + ": " + detail);
  }
  return Status::IoError(where() + ": " + action + ": " + detail);
}

Status PostgresLedgerStore::open(bool create) {
  char* parse_error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url_.c_str(), &parse_error);
  if (options == nullptr) {
    const std::string detail = parse_error ? scrubbed(parse_error) : "out of memory";
    PQfreemem(parse_error);
    return Status::InvalidArgument(where() + ": not a valid PostgreSQL URL: " + detail);
  }
  PQconninfoFree(options);
  // Keywords before dbname (the URL, expanded) are defaults the URL may
  // override; the encoding after it is not negotiable: entries are UTF-8.
  const std::array<const char*, 5> keywords = {"connect_timeout", "application_name", "dbname", "client_encoding",
                                               nullptr};
  const std::array<const char*, 5> values = {kConnectTimeoutSeconds, "flopsmeter", url_.c_str(), "UTF8", nullptr};
  conn_ = PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1);
  if (conn_ == nullptr) return Status::IoError(where() + ": cannot connect: out of memory");
  if (PQstatus(conn_) != CONNECTION_OK) {
    return Status::IoError(where() + ": cannot connect: " + scrubbed(PQerrorMessage(conn_)));
  }
  // Notices ("there is no transaction in progress") are not for the user's
  // terminal.
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  return open_ledger(create);
}

Status PostgresLedgerStore::execute(const std::string& sql) {
  PgResult result(PQexec(conn_, sql.c_str()));
  const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return result_error(result.get(), "cannot run " + sql_statement_words(sql));
  }
  // COMMIT of a transaction the server has aborted succeeds as "ROLLBACK".
  if (sql == "COMMIT" && std::string_view(PQcmdStatus(result.get())) != "COMMIT") {
    return Status::IoError(where() + ": the server rolled the write back; nothing was committed");
  }
  return Status::Ok();
}

Status PostgresLedgerStore::begin_exclusive() {
  PgResult result(PQexec(conn_, kBeginWrite));
  Status status = Status::Ok();
  if (!result || PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    status = result_error(result.get(), "cannot begin a write");
  } else if (PQntuples(result.get()) != 1) {
    status = corrupt("the state row is missing");
  }
  if (!status.ok()) (void)execute("ROLLBACK");
  return status;
}

Result<bool> PostgresLedgerStore::is_empty() {
  PgResult result(PQexec(conn_, kLedgerSchemaState));
  if (!result || PQresultStatus(result.get()) != PGRES_TUPLES_OK || PQntuples(result.get()) != 1) {
    return result_error(result.get(), "cannot read the catalog");
  }
  if (PQgetisnull(result.get(), 0, 0)) {
    return Status::InvalidArgument(where() + ": no schema to hold the ledger: none of the search_path's schemas exists");
  }
  schema_ = PQgetvalue(result.get(), 0, 0);
  return std::string_view(PQgetvalue(result.get(), 0, 1)) != "t";
}

Status PostgresLedgerStore::prepare(LedgerQuery query) {
  const size_t q = static_cast<size_t>(query);
  if (prepared_[q]) return Status::Ok();
  PgResult result(PQprepare(conn_, statement_name(query), ledger_query_sql(query), 0, nullptr));
  if (!result || PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    return result_error(result.get(), "cannot prepare a query");
  }
  prepared_[q] = true;
  return Status::Ok();
}

Status PostgresLedgerStore::run(LedgerQuery query, std::initializer_list<SqlParam> params,
                                const SqlRowVisitor& on_row) {
  if (params.size() > kMaxParams) {
    return Status::Internal("a ledger query with more than " + std::to_string(kMaxParams) + " parameters");
  }
  FM_RETURN_IF_ERROR(prepare(query));
  std::array<const char*, kMaxParams> values{};
  std::array<int, kMaxParams> lengths{};
  std::array<int, kMaxParams> formats{};
  std::array<std::array<char, 8>, kMaxParams> integers{};
  size_t i = 0;
  for (const SqlParam& p : params) {
    formats[i] = 1;  // binary
    if (p.type == SqlParam::Type::kInteger) {
      const auto value = static_cast<uint64_t>(p.integer);
      for (int b = 0; b < 8; ++b) integers[i][static_cast<size_t>(b)] = static_cast<char>(value >> (56 - 8 * b));
      values[i] = integers[i].data();
      lengths[i] = 8;
    } else {
      if (p.bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
        return Status::InvalidArgument(where() + ": a value of " + std::to_string(p.bytes.size()) +
                                       " bytes is too long for PostgreSQL");
      }
      values[i] = p.bytes.empty() ? "" : p.bytes.data();  // null would be NULL
      lengths[i] = static_cast<int>(p.bytes.size());
    }
    ++i;
  }
  PgResult result(PQexecPrepared(conn_, statement_name(query), static_cast<int>(params.size()), values.data(),
                                 lengths.data(), formats.data(), /*resultFormat=*/1));
  const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    return result_error(result.get(), ledger_query_failure(query));
  }
  if (!on_row) return Status::Ok();
  const int rows = PQntuples(result.get());
  for (int row = 0; row < rows; ++row) FM_RETURN_IF_ERROR(on_row(PgRow(result.get(), row)));
  return Status::Ok();
}

}  // namespace

std::string redact_postgres_url(const std::string& url) { return PostgresLedgerStore(url).display_location(); }

Result<std::unique_ptr<LedgerStore>> OpenPostgresLedgerStore(const std::string& url, bool create) {
  auto store = std::make_unique<PostgresLedgerStore>(url);
  FM_RETURN_IF_ERROR(store->open(create));
  return std::unique_ptr<LedgerStore>(std::move(store));
}

}  // namespace flopsmeter
