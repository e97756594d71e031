// A run journal: one JSON object per line, appended and fsync'd, each line
// carrying the SHA-256 of the line before it ("prev") and of itself
// ("sha256", over the line's text before that field). A crash can only tear
// the last line, which readers drop; any other damage or edit breaks the
// chain and is reported with the file and line.
#ifndef FLOPSMETER_API_JOURNAL_H_
#define FLOPSMETER_API_JOURNAL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "flopsmeter/status.h"

namespace flopsmeter {

// "journal-rank<R>.jsonl"
std::string journal_file_name(uint32_t rank);
// The rank of a journal file name, or -1 when `name` is not one.
int64_t journal_rank(const std::string& name);

// JournalContents::tail_problem for a last line without its newline.
inline constexpr std::string_view kUnterminatedLine = "line not terminated";

struct JournalContents {
  std::vector<nlohmann::json> lines;  // valid lines, in order
  std::vector<std::string> line_sha256;  // each valid line's own hash, in order
  std::string last_sha256;            // "" when empty
  uint64_t valid_bytes = 0;           // length of the valid prefix
  bool torn_tail = false;             // a partial or unverifiable last line was dropped
  // Why it was: "line not terminated" is what a crash leaves; anything else
  // (a complete line that fails its hash) means damage or an edit.
  std::string tail_problem;
};

// Reads and verifies `path`. Errors: kParseError "PATH:LINE: ..." for a
// damaged or edited line that is not the last one; kInvalidArgument for a
// path that is a symbolic link or not a regular file (a journal is never
// either, and following a planted link would read, and on resume cut, a file
// outside the run directory); read errors as read_file.
Result<JournalContents> read_journal(const std::string& path);

class JournalWriter {
 public:
  // Opens `path` (created if missing, never through a symbolic link) and
  // takes an exclusive lock on it, held until the writer is destroyed: one
  // writer per journal, so two meters of one rank in one directory (two jobs
  // sharing an output directory, a launcher that leaves RANK unset) cannot
  // interleave their lines. Errors: kInvalidArgument naming the path when
  // another process holds the lock or the path is not a regular file.
  static Result<JournalWriter> OpenLocked(const std::string& path);
  // Continues after `existing`, the verified contents read under the lock:
  // a torn or damaged tail is cut off so the next line follows the last
  // valid one.
  Status ContinueAfter(const JournalContents& existing);
  // True when OpenLocked created the file (so a refused begin can remove it).
  bool created() const { return created_; }
  JournalWriter() = default;  // closed: append() fails
  JournalWriter(JournalWriter&& other) noexcept;
  JournalWriter& operator=(JournalWriter&& other) noexcept;
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;
  ~JournalWriter();

  // Adds "seq" and "prev", writes the line and fsyncs. `line` must be an object.
  Status append(nlohmann::json line);
  // `line` with the "seq" and "prev" append() would give it, unwritten: how a
  // line that could not be written is read with the others from memory.
  nlohmann::json stamped(nlohmann::json line) const;
  uint64_t next_seq() const { return next_seq_; }
  // Bytes of the last line appended (0 before the first).
  uint64_t last_line_bytes() const { return last_line_bytes_; }

 private:
  std::string path_;
  int fd_ = -1;
  bool created_ = false;
  std::string prev_;
  uint64_t next_seq_ = 0;
  uint64_t last_line_bytes_ = 0;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_JOURNAL_H_
