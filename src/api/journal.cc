#include "api/journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "adapters/files.h"
#include "adapters/sha256.h"
#include "core/json_doc.h"

namespace flopsmeter {
namespace {

constexpr std::string_view kHashField = ",\"sha256\":\"";
constexpr size_t kHexLength = 64;
// A journal is appended a line every few seconds; 1 GiB is years of it.
constexpr uint64_t kMaxJournalBytes = uint64_t{1} << 30;

// The line's text before its own hash field, or nullopt when the tail is not
// `,"sha256":"<64 hex>"}`.
std::optional<std::pair<std::string_view, std::string_view>> split_hash(std::string_view line) {
  const size_t tail = kHashField.size() + kHexLength + 2;  // hash, quote, brace
  if (line.size() < tail + 2 || line.back() != '}') return std::nullopt;
  std::string_view body = line.substr(0, line.size() - tail);
  if (line.substr(body.size(), kHashField.size()) != kHashField) return std::nullopt;
  std::string_view hash = line.substr(body.size() + kHashField.size(), kHexLength);
  if (line[line.size() - 2] != '"') return std::nullopt;
  return std::make_pair(body, hash);
}

// Deepest nesting of arrays and objects in JSON text, strings skipped; exact
// for valid JSON. Checked before parsing: nlohmann builds a tree with loops,
// but whoever reads the lines copies and dumps them recursively, and the
// chain is no secret, so a line nested a million deep can carry valid hashes.
size_t nesting_depth(std::string_view json) {
  size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

std::string journal_file_name(uint32_t rank) { return "journal-rank" + std::to_string(rank) + ".jsonl"; }

int64_t journal_rank(const std::string& name) {
  const std::string prefix = "journal-rank", suffix = ".jsonl";
  if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return -1;
  }
  std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(digits);
}

// A journal path must name a regular file itself, not a link to one.
Status check_journal_file(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return Status();  // missing: the reader or writer says so
  if (S_ISLNK(st.st_mode)) {
    return Status::InvalidArgument(path + ": is a symbolic link; a run journal must be a regular file in the run "
                                   "directory (remove the link)");
  }
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(path + ": is not a regular file");
  return Status();
}

Result<JournalContents> read_journal(const std::string& path) {
  FM_RETURN_IF_ERROR(check_journal_file(path));
  FM_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxJournalBytes));
  JournalContents out;
  size_t pos = 0;
  uint64_t line_no = 0;
  while (pos < text.size()) {
    ++line_no;
    const size_t newline = text.find('\n', pos);
    const bool last = newline == std::string::npos || newline + 1 == text.size();
    std::string_view line(text.data() + pos, (newline == std::string::npos ? text.size() : newline) - pos);
    auto fail = [&](const std::string& why) -> Status {
      return Status::ParseError(path + ":" + std::to_string(line_no) + ": " + why);
    };
    std::string problem;
    auto parts = split_hash(line);
    nlohmann::json parsed;
    if (newline == std::string::npos) {
      problem = kUnterminatedLine;
    } else if (!parts) {
      problem = "no sha256 field at the end of the line";
    } else if (sha256_hex(parts->first) != parts->second) {
      problem = "sha256 does not match the line: it was changed after it was written";
    } else if (nesting_depth(parts->first) > kMaxJsonDepth) {
      problem = "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    } else {
      std::string body(parts->first);
      body += '}';
      parsed = nlohmann::json::parse(body, nullptr, false);
      if (!parsed.is_object()) problem = "not a JSON object";
    }
    if (!problem.empty()) {
      // Only the last line can be torn by a crash; anything else is damage.
      if (last) {
        out.torn_tail = true;
        out.tail_problem = problem;
        break;
      }
      return fail(problem);
    }
    const std::string expected_prev = out.last_sha256;
    if (!parsed.contains("prev") || !parsed["prev"].is_string() || parsed["prev"].get<std::string>() != expected_prev) {
      return fail("'prev' does not match the previous line's sha256: lines were removed, reordered or inserted");
    }
    if (!parsed.contains("seq") || !parsed["seq"].is_number_unsigned() ||
        parsed["seq"].get<uint64_t>() != out.lines.size()) {
      return fail("'seq' is not " + std::to_string(out.lines.size()));
    }
    out.last_sha256 = std::string(parts->second);
    out.line_sha256.push_back(out.last_sha256);
    out.lines.push_back(std::move(parsed));
    pos = newline + 1;
    out.valid_bytes = pos;
  }
  return out;
}

Result<JournalWriter> JournalWriter::OpenLocked(const std::string& path) {
  FM_RETURN_IF_ERROR(check_journal_file(path));
  JournalWriter w;
  w.path_ = path;
  // O_NONBLOCK: a FIFO planted under the journal's name must not hang the open.
  constexpr int kFlags = O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
  w.fd_ = ::open(path.c_str(), kFlags | O_CREAT | O_EXCL, 0644);
  w.created_ = w.fd_ >= 0;
  if (w.fd_ < 0 && errno == EEXIST) w.fd_ = ::open(path.c_str(), kFlags);
  if (w.fd_ < 0) return Status::IoError(path + ": cannot open for writing: " + std::strerror(errno));
  struct stat st;
  if (::fstat(w.fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status::InvalidArgument(path + ": is not a regular file");
  }
  if (::flock(w.fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status::InvalidArgument(path + ": another process is writing this journal (two meters of the same "
                                     "rank in one run directory): give each job its own run directory, and each "
                                     "process of a job its own rank");
    }
    return Status::IoError(path + ": cannot lock: " + std::strerror(errno));
  }
  if (::fcntl(w.fd_, F_SETFL, O_RDWR) != 0) return Status::IoError(path + ": " + std::strerror(errno));
  return w;
}

Status JournalWriter::ContinueAfter(const JournalContents& existing) {
  if (fd_ < 0) return Status::Internal("journal writer is closed");
  if (::ftruncate(fd_, static_cast<off_t>(existing.valid_bytes)) != 0 || ::lseek(fd_, 0, SEEK_END) < 0) {
    return Status::IoError(path_ + ": " + std::strerror(errno));
  }
  prev_ = existing.last_sha256;
  next_seq_ = existing.lines.size();
  return Status();
}

JournalWriter::JournalWriter(JournalWriter&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(other.fd_),
      created_(other.created_),
      prev_(std::move(other.prev_)),
      next_seq_(other.next_seq_),
      last_line_bytes_(other.last_line_bytes_) {
  other.fd_ = -1;
}

JournalWriter& JournalWriter::operator=(JournalWriter&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = other.fd_;
    created_ = other.created_;
    prev_ = std::move(other.prev_);
    next_seq_ = other.next_seq_;
    last_line_bytes_ = other.last_line_bytes_;
    other.fd_ = -1;
  }
  return *this;
}

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) ::close(fd_);
}

nlohmann::json JournalWriter::stamped(nlohmann::json line) const {
  nlohmann::json body = nlohmann::json::object();
  for (auto& [key, value] : line.items()) body[key] = std::move(value);
  // After the caller's keys: a "seq" or "prev" in `line` must not break the chain.
  body["seq"] = next_seq_;
  body["prev"] = prev_;
  return body;
}

Status JournalWriter::append(nlohmann::json line) {
  if (fd_ < 0) return Status::Internal("journal writer is closed");
  const nlohmann::json body = stamped(std::move(line));
  std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.pop_back();  // the closing brace; the hash field goes before it
  const std::string hash = sha256_hex(text);
  text += kHashField;
  text += hash;
  text += "\"}\n";
  const off_t start = ::lseek(fd_, 0, SEEK_END);
  size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(fd_, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      // A partial line must not stay in the middle of the chain.
      if (start >= 0 && ::ftruncate(fd_, start) != 0) {
        return Status::IoError(path_ + ": write failed (" + why + ") and the partial line could not be removed");
      }
      return Status::IoError(path_ + ": write failed: " + why);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd_) != 0) return Status::IoError(path_ + ": fsync failed: " + std::strerror(errno));
  prev_ = hash;
  ++next_seq_;
  last_line_bytes_ = text.size();
  return Status();
}

}  // namespace flopsmeter
