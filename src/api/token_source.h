// The tokens a training job exposes in files, read from outside while it
// runs (`flopsmeter watch --tokens-from PATH`). What PATH is gets decided at
// every poll, since the job usually creates it after watch starts:
//
//   a directory   a Hugging Face output_dir: the newest
//                 checkpoint-N/trainer_state.json by N, or
//                 output_dir/trainer_state.json (save_state() at the end of
//                 training) when its global_step is higher
//   *.json        a trainer_state.json: its top-level num_input_tokens_seen
//                 and global_step
//   another file  a token file the job appends to: one cumulative token
//                 count per line; the last complete line counts (a last line
//                 without its newline is still being written), each count
//                 line is one step. A count below the one before is a job
//                 counting again after a restart: the tokens reported are
//                 the increases summed, so re-done steps count as spent
//
// A poll costs a stat (and a directory listing for an output_dir); a file
// is read only when its size, time or inode changed, and a token file only
// from where the last poll stopped. Malformed input never fails the watch:
// it becomes a note naming the file and line. A trainer_state.json that
// does not parse is noted only once it has stayed unchanged for a poll,
// since transformers rewrites it in place and a read can catch it half
// written.
//
// Thread safety: a TokenSource must not be used by two threads at once.
#ifndef FLOPSMETER_API_TOKEN_SOURCE_H_
#define FLOPSMETER_API_TOKEN_SOURCE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "flopsmeter/status.h"

namespace flopsmeter {

// What the job has reported so far, cumulative.
struct TokenProgress {
  uint64_t tokens = 0;  // as the job counts them (see the notes for padding)
  // trainer_state's global_step; for a token file, the count lines read.
  uint64_t step = 0;
  std::string file;     // the file the figures were read from
};

// A trainer_state.json's figures. Parsed without a full JSON parser:
// transformers writes NaN and Infinity into log_history (json.dumps
// allows them), which strict JSON refuses; only the top-level members are
// read. Errors: kParseError "ORIGIN:LINE: ..." for a truncated document or
// a member that is not a non-negative integer, and for a missing
// global_step.
struct TrainerState {
  uint64_t global_step = 0;
  std::optional<uint64_t> num_input_tokens_seen;  // absent in older transformers
};
Result<TrainerState> parse_trainer_state(std::string_view text, const std::string& origin);

class TokenSource {
 public:
  explicit TokenSource(std::string path) : path_(std::move(path)) {}

  // The progress when the job reported something new since the last
  // reading, nullopt otherwise (nothing there yet, nothing changed). Once
  // the job has ended its files are complete: a trainer_state.json that
  // does not parse is noted at once.
  std::optional<TokenProgress> poll(bool job_ended = false);

  // Notes for the record gathered since the last call: malformed input
  // (file and line) and what the figures mean. Each is given once.
  std::vector<std::string> take_notes();

 private:
  // A file's identity and version as stat() tells them.
  struct FileStamp {
    uint64_t device = 0;
    uint64_t inode = 0;
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const FileStamp& other) const = default;
  };
  // Nullopt when nothing is at `path`, or (with a note) something other
  // than a regular file.
  std::optional<FileStamp> stamp_of(const std::string& path);

  // The last reading of one trainer_state.json, kept until the file changes.
  struct CachedState {
    FileStamp stamp;
    std::optional<TrainerState> state;
    std::string error;  // when it did not parse
    bool error_noted = false;
  };
  std::optional<TrainerState> read_trainer_state(const std::string& file);
  std::optional<TokenProgress> poll_trainer_state(const std::string& file);
  std::optional<TokenProgress> poll_output_dir();
  std::optional<TokenProgress> poll_token_file();
  std::optional<TokenProgress> progress_from_state(const TrainerState& state, const std::string& file);
  void note(std::string text);
  void note_token_line(std::string text);

  std::string path_;
  std::optional<TokenProgress> last_;  // the last progress returned
  std::vector<std::string> notes_;
  std::vector<std::string> noted_;     // every note given, to give each once
  bool job_ended_ = false;

  std::map<std::string, CachedState> states_;  // by trainer_state.json path

  // Token file: the complete lines consumed so far.
  std::optional<FileStamp> token_stamp_;
  uint64_t token_offset_ = 0;     // just past the last complete line read
  std::string token_last_line_;   // that line, to tell an append from a rewrite
  uint64_t token_line_number_ = 0;
  uint64_t token_count_ = 0;      // the last valid count
  uint64_t token_total_ = 0;      // the increases of the count, summed over restarts
  uint64_t token_steps_ = 0;      // valid count lines
  uint64_t token_bad_lines_ = 0;
  bool token_more_to_read_ = false;  // the last read stopped at the size cap
  bool token_file_given_up_ = false;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_TOKEN_SOURCE_H_
