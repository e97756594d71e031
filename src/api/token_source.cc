#include "api/token_source.h"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "adapters/files.h"
#include "core/json_doc.h"  // printable_text

namespace flopsmeter {
namespace {

// A trainer_state.json holds the whole log history; a token file is read
// at most this much per poll (the rest at the next).
constexpr uint64_t kMaxTrainerStateBytes = uint64_t{256} << 20;
constexpr uint64_t kMaxTokenFileRead = uint64_t{1} << 20;
// Malformed token-file lines noted one by one before the rest go unlisted.
constexpr uint64_t kMaxTokenLineNotes = 5;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::optional<uint64_t> parse_uint(std::string_view digits) {
  if (digits.empty()) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return value;
}

std::string_view trim(std::string_view s) {
  const char* space = " \t\r";
  const size_t b = s.find_first_not_of(space);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(space) - b + 1);
}

// At most 40 bytes of `s` for a message, control characters escaped.
std::string excerpt(std::string_view s) {
  return s.size() <= 40 ? printable_text(s) : printable_text(s.substr(0, 40)) + "...";
}

bool ends_value(char c) {
  return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

}  // namespace

Result<TrainerState> parse_trainer_state(std::string_view text, const std::string& origin) {
  size_t line = 1;
  size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) {
      if (text[i] == '\n') ++line;
      ++i;
    }
  };
  auto error = [&](size_t at_line, const std::string& what) {
    return Status::ParseError(printable_text(origin) + ":" + std::to_string(at_line) + ": " + what);
  };
  skip_space();
  if (i >= text.size() || text[i] != '{') return error(line, "not a JSON object (is this a trainer_state.json?)");
  ++i;
  TrainerState state;
  bool has_step = false;
  int depth = 1;
  std::string last_string;  // the string just closed, a key when ':' follows at depth 1
  while (i < text.size() && depth > 0) {
    const char c = text[i];
    if (c == '"') {
      const size_t start = ++i;
      while (i < text.size() && text[i] != '"') {
        if (text[i] == '\\') ++i;
        else if (text[i] == '\n') ++line;
        ++i;
      }
      if (i >= text.size()) break;
      last_string.assign(text.substr(start, i - start));
      ++i;
      continue;
    }
    if (c == ':' && depth == 1 && (last_string == "global_step" || last_string == "num_input_tokens_seen")) {
      const std::string key = last_string;
      const size_t key_line = line;
      ++i;
      skip_space();
      const size_t start = i;
      while (i < text.size() && !ends_value(text[i])) ++i;
      const std::string_view value = text.substr(start, i - start);
      const std::optional<uint64_t> number = parse_uint(value);
      if (!number) {
        if (i >= text.size()) break;  // cut off inside the value: reported as truncated below
        return error(key_line, "field '" + key + "': expected a non-negative integer, got '" + excerpt(value) + "'");
      }
      if (key == "global_step") {
        state.global_step = *number;
        has_step = true;
      } else {
        state.num_input_tokens_seen = *number;
      }
      continue;
    }
    last_string.clear();
    if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') --depth;
    else if (c == '\n') ++line;
    ++i;
  }
  if (depth > 0) return error(line, "the document ends early (truncated, or still being written)");
  skip_space();
  if (i < text.size()) return error(line, "unexpected text after the document");
  if (!has_step) return error(1, "no top-level global_step (is this a trainer_state.json?)");
  return state;
}

std::optional<TokenProgress> TokenSource::poll(bool job_ended) {
  job_ended_ = job_ended;
  if (is_directory(path_)) return poll_output_dir();
  if (ends_with(path_, ".json")) return poll_trainer_state(path_);
  return poll_token_file();
}

std::vector<std::string> TokenSource::take_notes() {
  std::vector<std::string> out;
  out.swap(notes_);
  return out;
}

void TokenSource::note(std::string text) {
  if (std::find(noted_.begin(), noted_.end(), text) != noted_.end()) return;
  noted_.push_back(text);
  notes_.push_back(std::move(text));
}

std::optional<TokenSource::FileStamp> TokenSource::stamp_of(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  if (!S_ISREG(st.st_mode)) {
    // A FIFO would block the read and a device never end: said, not read.
    note(not_a_regular_file(path, st.st_mode).message() + "; not read");
    return std::nullopt;
  }
  FileStamp stamp;
  stamp.device = static_cast<uint64_t>(st.st_dev);
  stamp.inode = static_cast<uint64_t>(st.st_ino);
  stamp.size = static_cast<uint64_t>(st.st_size);
#ifdef __APPLE__
  stamp.mtime_ns = int64_t{st.st_mtimespec.tv_sec} * 1000000000 + st.st_mtimespec.tv_nsec;
#else
  stamp.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
#endif
  return stamp;
}

std::optional<TrainerState> TokenSource::read_trainer_state(const std::string& file) {
  const std::optional<FileStamp> stamp = stamp_of(file);
  if (!stamp) {
    states_.erase(file);
    return std::nullopt;
  }
  auto it = states_.find(file);
  if (it == states_.end() || !(it->second.stamp == *stamp)) {
    CachedState fresh;
    fresh.stamp = *stamp;
    Result<std::string> text = read_file(file, kMaxTrainerStateBytes);
    Result<TrainerState> state = text.ok() ? parse_trainer_state(*text, file) : Result<TrainerState>(text.status());
    if (state.ok()) fresh.state = *state;
    else fresh.error = state.status().message();
    it = states_.insert_or_assign(file, std::move(fresh)).first;
    // Unchanged at the next poll (or the job over) means malformed, not half written.
    if (!job_ended_) return it->second.state;
  }
  CachedState& cached = it->second;
  if (!cached.state && !cached.error_noted) {
    note(cached.error + "; its tokens are not counted until it parses");
    cached.error_noted = true;
  }
  return cached.state;
}

std::optional<TokenProgress> TokenSource::progress_from_state(const TrainerState& state, const std::string& file) {
  TokenProgress progress;
  progress.file = file;
  progress.step = state.global_step;
  if (!state.num_input_tokens_seen) {
    note(printable_text(path_) + ": trainer_state.json has no num_input_tokens_seen (the job's transformers does not record it): "
         "its tokens are unknown");
  } else if (*state.num_input_tokens_seen == 0 && state.global_step > 0) {
    note("num_input_tokens_seen stays 0 after optimizer steps: the job does not count tokens; set "
         "TrainingArguments(include_num_input_tokens_seen=\"non_padding\")");
  } else if (*state.num_input_tokens_seen > 0) {
    note("tokens are transformers' num_input_tokens_seen, which counts padding tokens too unless the job sets "
         "include_num_input_tokens_seen=\"non_padding\": with padded batches the figure overstates the tokens "
         "trained on");
  }
  progress.tokens = state.num_input_tokens_seen.value_or(0);
  if (last_ && progress.tokens < last_->tokens) {
    note(printable_text(file) + ": num_input_tokens_seen went down (from " + std::to_string(last_->tokens) + " to " +
         std::to_string(progress.tokens) + "; another run in the same directory?): ignored");
    return std::nullopt;
  }
  if (last_ && progress.tokens == last_->tokens && progress.step == last_->step) return std::nullopt;
  last_ = progress;
  return progress;
}

std::optional<TokenProgress> TokenSource::poll_trainer_state(const std::string& file) {
  std::optional<TrainerState> state = read_trainer_state(file);
  if (!state) return std::nullopt;
  return progress_from_state(*state, file);
}

std::optional<TokenProgress> TokenSource::poll_output_dir() {
  Result<std::vector<std::string>> names = list_directory(path_);
  if (!names.ok()) return std::nullopt;
  // checkpoint-N by N, newest first (a name's order is not N's: checkpoint-1000 < checkpoint-200).
  std::vector<std::pair<uint64_t, std::string>> checkpoints;
  constexpr std::string_view kPrefix = "checkpoint-";
  for (const std::string& name : *names) {
    if (name.rfind(kPrefix, 0) != 0) continue;
    if (std::optional<uint64_t> n = parse_uint(std::string_view(name).substr(kPrefix.size()))) {
      checkpoints.emplace_back(*n, name);
    }
  }
  std::sort(checkpoints.rbegin(), checkpoints.rend());
  std::set<std::string> visited;
  std::optional<TrainerState> best;
  std::string best_file;
  // The newest checkpoint whose state reads (one still being written falls back to the one before).
  for (const auto& [step, name] : checkpoints) {
    const std::string file = join_path(join_path(path_, name), "trainer_state.json");
    visited.insert(file);
    if (std::optional<TrainerState> state = read_trainer_state(file)) {
      best = state;
      best_file = file;
      break;
    }
  }
  const std::string final_file = join_path(path_, "trainer_state.json");
  visited.insert(final_file);
  if (std::optional<TrainerState> final_state = read_trainer_state(final_file)) {
    if (!best || final_state->global_step > best->global_step) {
      best = final_state;
      best_file = final_file;
    }
  }
  std::erase_if(states_, [&](const auto& entry) { return visited.count(entry.first) == 0; });
  if (!best) return std::nullopt;
  return progress_from_state(*best, best_file);
}

void TokenSource::note_token_line(std::string text) {
  ++token_bad_lines_;
  if (token_bad_lines_ <= kMaxTokenLineNotes) {
    note(printable_text(path_) + ":" + std::to_string(token_line_number_) + ": " + text + "; line ignored");
  } else if (token_bad_lines_ == kMaxTokenLineNotes + 1) {
    note(printable_text(path_) + ": further malformed lines are ignored without a note");
  }
}

std::optional<TokenProgress> TokenSource::poll_token_file() {
  if (token_file_given_up_) return std::nullopt;
  const std::optional<FileStamp> stamp = stamp_of(path_);
  if (!stamp || (token_stamp_ == stamp && !token_more_to_read_)) return std::nullopt;
  Result<InputFile> file = InputFile::open(path_);
  if (!file.ok()) {
    note(file.status().message());
    return std::nullopt;
  }
  // A job may rewrite the file (`echo N > tokens`) instead of appending:
  // then the line read last is no longer where it was, and reading starts over.
  bool rewritten = token_stamp_ && (token_stamp_->device != stamp->device || token_stamp_->inode != stamp->inode ||
                                    file->size() < token_offset_);
  if (!rewritten && !token_last_line_.empty()) {
    Result<std::string> previous =
        file->read_at(token_offset_ - token_last_line_.size(), token_last_line_.size());
    rewritten = !previous.ok() || *previous != token_last_line_;
  }
  if (rewritten) {
    token_offset_ = 0;
    token_line_number_ = 0;
    token_last_line_.clear();
  }
  token_stamp_ = stamp;
  const uint64_t available = file->size() > token_offset_ ? file->size() - token_offset_ : 0;
  const uint64_t length = std::min(available, kMaxTokenFileRead);
  token_more_to_read_ = length < available;
  if (length == 0) return std::nullopt;
  Result<std::string> text = file->read_at(token_offset_, length);
  if (!text.ok()) {
    note(text.status().message());
    return std::nullopt;
  }
  const uint64_t steps_before = token_steps_;
  size_t begin = 0;
  for (size_t end = text->find('\n'); end != std::string::npos; begin = end + 1, end = text->find('\n', begin)) {
    ++token_line_number_;
    const std::string_view raw = std::string_view(*text).substr(begin, end - begin);
    const std::string_view line = trim(raw);
    if (line.empty()) continue;
    const std::optional<uint64_t> count = parse_uint(line);
    if (!count) {
      note_token_line("'" + excerpt(line) + "' is not a token count (one cumulative count per line)");
    } else {
      if (*count < token_count_) {
        note(printable_text(path_) + ":" + std::to_string(token_line_number_) + ": " + std::to_string(*count) +
             " is below the previous count " + std::to_string(token_count_) +
             ": the job counts again from an earlier point (a restart from a checkpoint?); what it does again "
             "counts as spent");
      } else {
        token_total_ += *count - token_count_;
      }
      token_count_ = *count;
      ++token_steps_;
    }
  }
  if (begin == 0 && length == kMaxTokenFileRead) {
    note(printable_text(path_) + ":" + std::to_string(token_line_number_ + 1) +
         ": a line longer than 1 MiB: not a token file (one cumulative count per line); no longer read");
    token_file_given_up_ = true;
    return std::nullopt;
  }
  if (begin > 0) {
    token_offset_ += begin;
    // The last complete line, with its newline: found at the same place next time unless rewritten.
    const size_t previous_newline = begin >= 2 ? text->rfind('\n', begin - 2) : std::string::npos;
    const size_t last_start = previous_newline == std::string::npos ? 0 : previous_newline + 1;
    token_last_line_ = text->substr(last_start, begin - last_start);
  }
  if (token_steps_ == steps_before) return std::nullopt;
  TokenProgress progress{token_total_, token_steps_, path_};
  last_ = progress;
  return progress;
}

}  // namespace flopsmeter
