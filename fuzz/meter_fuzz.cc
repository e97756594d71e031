// libFuzzer harness for the runtime meter's parsers of untrusted bytes: run
// journals (read_journal, and JournalWriter on what it reads) and the meter
// options JSON (meter_options_from_json; a report also reads the options
// back from a journal's begin line).
//
// The first input byte picks what the rest is (modulo 4, so that the seeds
// can start with a digit):
//   '0': a journal file's bytes, read as found on disk;
//   '1': two bytes of cut position and one of XOR mask, then lines that
//        JournalWriter appends (a JSON object is appended as it is, any other
//        text as a string value) before the journal is cut and damaged;
//   '2': meter options JSON;
//   '3': lines of a journal whose chain the harness completes: each line is
//        `{"prev":"<hash of the line before>","seq":<index>,` + the input's
//        text + `,"sha256":"<its hash>"}`, so that hostile content reaches
//        what lies behind the hash check (the chain is tamper evidence, not a
//        secret: anyone can compute it).
//
// Beyond crashes and sanitizer reports, the harness checks properties that
// must hold for every input, and traps when one does not:
//  - a message starts with the file name (the options' origin) and holds no
//    control bytes;
//  - every journal line read_journal accepts is re-verified here: its own
//    sha256, "prev" equal to the line before's hash, "seq" its index, nesting
//    no deeper than kMaxJsonDepth (readers of the lines copy and dump them
//    recursively); only the last line may be dropped (as a torn tail), and a
//    writer opened on the result continues the chain readably;
//  - a journal the writer wrote reads back line for line; cut at any byte it
//    reads back as the prefix of whole lines before the cut; with any byte
//    changed it is refused naming the changed line, or, when the change is in
//    the last line, read back as the lines before it;
//  - an accepted journal's lines, whatever their fields hold, are parsed into
//    segments, walked and reported with an error naming the journal or a
//    record whose text prints; nothing aborts (type-confused fields were
//    uncaught exceptions before journal_fields);
//  - accepted options keep the documented invariants and their JSON
//    (meter_options_json) reads back to the same options.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/sha256.h"
#include "api/journal.h"
#include "api/meter_options.h"
#include "api/run_journals.h"
#include "api/run_report.h"
#include "core/json_doc.h"

namespace {

using Json = nlohmann::json;
using flopsmeter::JournalContents;
using flopsmeter::JournalWriter;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

void CheckMessage(const flopsmeter::Status& status, std::string_view origin) {
  Check(!status.ok());
  Check(StartsWith(status.message(), origin));
  for (char c : status.message()) Check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7F);
}

// The journal file every input is written to, in a directory of this
// process's own (on tmpfs when there is one: the writer fsyncs every line),
// removed at exit. Plain arrays: the exit handler runs after static strings
// are destroyed.
char journal_directory[64];
char journal_file[96];

void RemoveJournalDirectory() {
  ::unlink(journal_file);
  ::rmdir(journal_directory);
}

const std::string& JournalPath() {
  static const std::string path = [] {
    std::snprintf(journal_directory, sizeof journal_directory, "%s/meter_fuzz_XXXXXX",
                  ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    Check(::mkdtemp(journal_directory) != nullptr);
    std::snprintf(journal_file, sizeof journal_file, "%s/%s", journal_directory,
                  flopsmeter::journal_file_name(0).c_str());
    std::atexit(RemoveJournalDirectory);
    return std::string(journal_file);
  }();
  return path;
}

void WriteJournalFile(std::string_view bytes) {
  const int fd = ::open(JournalPath().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  Check(fd >= 0);
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    Check(n > 0);
    written += static_cast<size_t>(n);
  }
  Check(::close(fd) == 0);
}

// Deepest nesting of arrays and objects in `root` (`[[1]]` has depth 2),
// found without recursion: the value may be nested too deep to recurse.
size_t NestingDepth(const Json& root) {
  size_t deepest = 0;
  std::vector<std::pair<const Json*, size_t>> pending = {{&root, 0}};
  while (!pending.empty()) {
    const auto [value, depth] = pending.back();
    pending.pop_back();
    if (!value->is_structured()) continue;
    deepest = std::max(deepest, depth + 1);
    for (const Json& child : *value) pending.emplace_back(&child, depth + 1);
  }
  return deepest;
}

// Re-verifies, independently of the reader, everything read_journal claims
// about `text`: the valid prefix is whole lines, each hashing to its own
// sha256 field and chained to the one before; what follows is at most one
// (torn) line.
void CheckAcceptedJournal(std::string_view text, const JournalContents& journal) {
  Check(journal.valid_bytes <= text.size());
  const std::string_view valid = text.substr(0, journal.valid_bytes);
  const std::string_view rest = text.substr(journal.valid_bytes);
  Check(journal.torn_tail == !rest.empty());
  const size_t rest_newline = rest.find('\n');
  Check(rest_newline == std::string_view::npos || rest_newline + 1 == rest.size());

  constexpr std::string_view kHashField = ",\"sha256\":\"";
  std::string prev;
  size_t pos = 0;
  size_t index = 0;
  while (pos < valid.size()) {
    const size_t newline = valid.find('\n', pos);
    Check(newline != std::string_view::npos);
    const std::string_view line = valid.substr(pos, newline - pos);
    const size_t field = line.rfind(kHashField);
    Check(field != std::string_view::npos);
    const std::string_view body = line.substr(0, field);
    Check(line.substr(field) == std::string(kHashField) + flopsmeter::sha256_hex(body) + "\"}");
    Check(index < journal.lines.size());
    const Json& parsed = journal.lines[index];
    Check(NestingDepth(parsed) <= flopsmeter::kMaxJsonDepth);
    Check(parsed == Json::parse(std::string(body) + "}"));
    Check(parsed.at("prev") == prev);
    Check(parsed.at("seq") == index);
    prev = flopsmeter::sha256_hex(body);
    pos = newline + 1;
    ++index;
  }
  Check(index == journal.lines.size());
  Check(journal.last_sha256 == prev);
}

// A writer opened on what was read cuts any torn tail and continues the
// chain: the file then reads back as the same lines plus the new one.
void CheckWriterContinues(const JournalContents& journal) {
  {
    auto writer = JournalWriter::OpenLocked(JournalPath());
    Check(writer.ok() && writer->ContinueAfter(journal).ok());
    Check(writer->next_seq() == journal.lines.size());
    Check(writer->append({{"kind", "progress"}}).ok());
  }
  auto again = flopsmeter::read_journal(JournalPath());
  Check(again.ok() && !again->torn_tail);
  Check(again->lines.size() == journal.lines.size() + 1);
  for (size_t i = 0; i < journal.lines.size(); ++i) Check(again->lines[i] == journal.lines[i]);
}

// What lies behind the hash check: every field of every line type-checked
// (journal_fields), the segments added up, the resume chain walked, and the
// whole report built. Each answers with a parse error naming the journal, or
// reads the run; none may abort.
void CheckReadBack(const JournalContents& journal) {
  auto rank = flopsmeter::parse_rank(journal, JournalPath(), 0);
  if (!rank.ok()) {
    Check(rank.status().code() == flopsmeter::StatusCode::kParseError);
    CheckMessage(rank.status(), JournalPath());
    return;
  }
  auto chain = flopsmeter::final_weights_chain(*rank);
  if (!chain.ok()) CheckMessage(chain.status(), JournalPath());
  for (const auto& [id, segment] : rank->segments) (void)segment.counts_at(segment.lines.rbegin()->first);
  auto record = flopsmeter::report_run(journal_directory, {});
  if (record.ok()) {
    Check(flopsmeter::run_record_to_text(record->json).ok());
  } else {
    for (char c : record.status().message()) Check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7F);
  }
}

void FuzzJournalBytes(std::string_view bytes) {
  WriteJournalFile(bytes);
  auto journal = flopsmeter::read_journal(JournalPath());
  if (!journal.ok()) {
    Check(journal.status().code() == flopsmeter::StatusCode::kParseError);
    CheckMessage(journal.status(), JournalPath() + ":");
    return;
  }
  CheckAcceptedJournal(bytes, *journal);
  CheckReadBack(*journal);
  CheckWriterContinues(*journal);
}

// The lines of `text` as the writer is given them: a JSON object as it is,
// anything else as a string value. The meter writes lines a few levels deep;
// deeper objects go in as text, since copying and comparing them recurse.
std::vector<Json> LinesToAppend(std::string_view text) {
  constexpr int kMaxLineDepth = 32;
  std::vector<Json> lines;
  size_t pos = 0;
  while (pos < text.size() && lines.size() < 64) {
    size_t newline = text.find('\n', pos);
    if (newline == std::string_view::npos) newline = text.size();
    const std::string_view piece = text.substr(pos, newline - pos);
    int depth = 0;
    Json parsed = Json::parse(
        piece,
        [&depth](int d, Json::parse_event_t, Json&) {
          depth = std::max(depth, d);
          return true;
        },
        false);
    if (parsed.is_object() && depth <= kMaxLineDepth) {
      lines.push_back(std::move(parsed));
    } else {
      lines.push_back({{"kind", "note"}, {"text", std::string(piece)}});
    }
    pos = newline + 1;
  }
  return lines;
}

// The file offsets just past each line's newline.
std::vector<size_t> LineEnds(std::string_view text) {
  std::vector<size_t> ends;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') ends.push_back(i + 1);
  }
  return ends;
}

void FuzzJournalWriter(std::string_view input) {
  if (input.size() < 3) return;
  const size_t cut_seed = static_cast<uint8_t>(input[0]) | (static_cast<size_t>(static_cast<uint8_t>(input[1])) << 8);
  const auto mask = static_cast<char>(static_cast<uint8_t>(input[2]) | 1);  // never 0: the byte changes
  const std::vector<Json> lines = LinesToAppend(input.substr(3));

  WriteJournalFile("");
  {
    auto writer = JournalWriter::OpenLocked(JournalPath());
    Check(writer.ok() && writer->ContinueAfter(JournalContents{}).ok());
    for (const Json& line : lines) Check(writer->append(line).ok());
  }
  auto written = flopsmeter::read_journal(JournalPath());
  Check(written.ok() && !written->torn_tail);
  Check(written->lines.size() == lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    for (const auto& [key, value] : lines[i].items()) {
      // What the writer stores is the value as JSON text, invalid UTF-8 replaced.
      const Json stored = Json::parse(value.dump(-1, ' ', false, Json::error_handler_t::replace));
      if (key != "seq" && key != "prev") Check(written->lines[i].at(key) == stored);
    }
  }
  std::string text;
  {
    // The file as the writer left it, to cut and damage copies of.
    FILE* f = std::fopen(JournalPath().c_str(), "rb");
    Check(f != nullptr);
    char buffer[4096];
    size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) text.append(buffer, n);
    std::fclose(f);
  }
  CheckAcceptedJournal(text, *written);
  const std::vector<size_t> ends = LineEnds(text);
  Check(ends.size() == lines.size());

  // Cut at any byte: the whole lines before the cut, and a torn tail if the
  // cut is inside a line.
  const size_t cut = cut_seed % (text.size() + 1);
  WriteJournalFile(std::string_view(text).substr(0, cut));
  auto truncated = flopsmeter::read_journal(JournalPath());
  Check(truncated.ok());
  size_t whole = 0;
  while (whole < ends.size() && ends[whole] <= cut) ++whole;
  Check(truncated->lines.size() == whole);
  for (size_t i = 0; i < whole; ++i) Check(truncated->lines[i] == written->lines[i]);
  Check(truncated->valid_bytes == (whole == 0 ? 0 : ends[whole - 1]));
  Check(truncated->torn_tail == (truncated->valid_bytes != cut));
  CheckWriterContinues(*truncated);

  // One byte changed: refused at its line, unless that is the last line,
  // which is dropped like a torn one.
  if (text.empty()) return;
  const size_t at = cut_seed % text.size();
  std::string damaged = text;
  damaged[at] = static_cast<char>(damaged[at] ^ mask);
  size_t line_index = 0;
  while (ends[line_index] <= at) ++line_index;
  WriteJournalFile(damaged);
  auto read_damaged = flopsmeter::read_journal(JournalPath());
  if (read_damaged.ok()) {
    const bool in_last_line = line_index + 1 == ends.size() ||
                              (line_index + 2 == ends.size() && at + 1 == ends[line_index]);  // newline joined the last
    Check(in_last_line);
    Check(read_damaged->torn_tail);
    Check(read_damaged->lines.size() == line_index);
    for (size_t i = 0; i < line_index; ++i) Check(read_damaged->lines[i] == written->lines[i]);
  } else {
    Check(read_damaged.status().code() == flopsmeter::StatusCode::kParseError);
    CheckMessage(read_damaged.status(), JournalPath() + ":" + std::to_string(line_index + 1) + ": ");
  }
}

// The input's lines (the last one may lack its newline, as a torn line
// does), each completed into a hash-chained journal line.
std::string ChainedJournal(std::string_view text) {
  std::string journal;
  std::string prev;
  size_t pos = 0;
  for (uint64_t seq = 0; pos < text.size(); ++seq) {
    const size_t newline = text.find('\n', pos);
    const bool terminated = newline != std::string_view::npos;
    const std::string_view content = text.substr(pos, (terminated ? newline : text.size()) - pos);
    std::string body = "{\"prev\":\"" + prev + "\",\"seq\":" + std::to_string(seq);
    if (!content.empty()) body += "," + std::string(content);
    prev = flopsmeter::sha256_hex(body);
    journal += body + ",\"sha256\":\"" + prev + "\"}";
    if (!terminated) break;
    journal += '\n';
    pos = newline + 1;
  }
  return journal;
}

void FuzzMeterOptions(std::string_view text) {
  constexpr std::string_view kOrigin = "fuzz options";
  auto options = flopsmeter::meter_options_from_json(text, kOrigin);
  if (!options.ok()) {
    CheckMessage(options.status(), kOrigin);
    return;
  }
  const flopsmeter::MeterOptions& m = *options;
  Check(!m.run_dir.empty());
  Check(!m.model.empty() || m.n_total.has_value());
  Check(!m.n_total || !m.n_trainable || *m.n_trainable <= *m.n_total);
  Check(!(m.budget_flop && m.budget_fraction));
  Check(!m.budget_flop || *m.budget_flop > 0);
  Check(!m.budget_fraction || (*m.budget_fraction > 0 && *m.budget_fraction <= 1));
  Check(m.budget_lookahead_steps >= 1);
  Check(m.sample_hz > 0 && m.sample_hz <= 1000);
  Check(m.journal_interval_s > 0 && m.end_wait_s >= 0);
  Check(!m.resume_step || m.resume);
  for (int64_t pid : m.job_pids) Check(pid > 0 && pid <= INT32_MAX);

  // What a run's begin line records reads back to the same options.
  const std::string once = flopsmeter::meter_options_json(m).dump();
  auto back = flopsmeter::meter_options_from_json(once, "begin line");
  Check(back.ok());
  Check(flopsmeter::meter_options_json(*back).dump() == once);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0:
      FuzzJournalBytes(rest);
      break;
    case 1:
      FuzzJournalWriter(rest);
      break;
    case 2:
      FuzzMeterOptions(rest);
      break;
    default:
      FuzzJournalBytes(ChainedJournal(rest));
      break;
  }
  return 0;
}
