// Status and Result<T>: how every flopsmeter function reports failure.
//
// flopsmeter does not throw across its public API. A function that can fail
// returns a Status (or a Result<T> holding either a value or a Status). The
// message names what failed and where: the file, line and field when the
// failure is in user input.
//
//   flopsmeter::Result<flopsmeter::Model> m = flopsmeter::load_model("cfg.json");
//   if (!m.ok()) { std::cerr << m.status().message() << "\n"; return 2; }
//
// Thread safety: Status and Result are values; distinct objects may be used
// from different threads freely.
#ifndef FLOPSMETER_STATUS_H_
#define FLOPSMETER_STATUS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace flopsmeter {

// Values are part of the C ABI (fm_status_t) and are never reused.
enum class StatusCode : int32_t {
  kOk = 0,
  kInvalidArgument = 1,  // a flag, environment value or parameter is wrong
  kParseError = 2,       // a file's content is malformed (JSON, safetensors)
  kNotFound = 3,         // a file, catalog id, GPU or regime does not exist
  kUnsupported = 4,      // valid input this version cannot handle
  kIoError = 5,          // the operating system refused a read or write
  kOverflow = 6,         // an exact figure does not fit in 128 bits
  kInternal = 7,         // a flopsmeter bug; please report it
};

// Short lower-case name of a code, e.g. "parse error".
const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return {StatusCode::kInvalidArgument, std::move(msg)}; }
  static Status ParseError(std::string msg) { return {StatusCode::kParseError, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status Unsupported(std::string msg) { return {StatusCode::kUnsupported, std::move(msg)}; }
  static Status IoError(std::string msg) { return {StatusCode::kIoError, std::move(msg)}; }
  static Status Overflow(std::string msg) { return {StatusCode::kOverflow, std::move(msg)}; }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "parse error: config.json:3:14: field 'hidden_size': expected a positive integer"
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context` and ": ".
  Status WithContext(const std::string& context) const;

 private:
  Status(StatusCode code, std::string msg) : code_(code), message_(std::move(msg)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a T or a non-OK Status.
// REQUIRES: value() only when ok(); status() is OK when ok().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}            // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {}     // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(data_);
  }
  const T& value() const& { return std::get<T>(data_); }
  T& value() & { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  const T* operator->() const { return &std::get<T>(data_); }
  T* operator->() { return &std::get<T>(data_); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace flopsmeter

// Early return on a non-OK Status / Result. Internal convenience used in src/.
#define FM_RETURN_IF_ERROR(expr)                      \
  do {                                                \
    ::flopsmeter::Status fm_status_ = (expr);         \
    if (!fm_status_.ok()) return fm_status_;          \
  } while (0)

#define FM_CONCAT_INNER_(a, b) a##b
#define FM_CONCAT_(a, b) FM_CONCAT_INNER_(a, b)
#define FM_ASSIGN_OR_RETURN(lhs, expr) FM_ASSIGN_OR_RETURN_IMPL_(FM_CONCAT_(fm_result_, __LINE__), lhs, expr)
#define FM_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

#endif  // FLOPSMETER_STATUS_H_
