// count_tokens(): one reader thread cuts the files into batches of records,
// worker threads parse, render and tokenize them, and the calling thread
// takes the results back in input order, so layouts, per-sample output and
// totals do not depend on the number of threads. The number of batches in
// flight is capped, which bounds memory whatever the size of the input.
#include "flopsmeter/tokens.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "adapters/files.h"
#include "core/json_doc.h"  // printable_text
#include "core/sequence_layout.h"
#include "dataset/record_reader.h"
#include "dataset/sample.h"
#include "dataset/sample_tokens.h"
#include "dataset/saved_dataset.h"

namespace flopsmeter {
namespace {

// Record text per batch: small enough to spread work over threads, large
// enough that queueing costs nothing next to tokenizing.
constexpr size_t kBatchBytes = size_t{256} << 10;
constexpr size_t kMaxSkippedExamples = 20;
constexpr auto kProgressInterval = std::chrono::milliseconds(200);

const char* kind_name(SampleKind kind) {
  switch (kind) {
    case SampleKind::kText: return "text";
    case SampleKind::kChat: return "chat";
    case SampleKind::kPromptCompletion: return "prompt-completion";
    case SampleKind::kInstruction: return "alpaca";
  }
  return "unknown";
}

struct Batch {
  uint64_t sequence = 0;
  size_t file_index = 0;
  uint64_t bytes_mark = 0;  // file bytes read, over all files, once this batch was read
  DatasetFormat format = DatasetFormat::kText;
  std::vector<RawRecord> records;
};

struct Outcome {
  uint64_t line = 0;
  uint64_t tokens = 0;
  uint64_t special = 0;
  uint64_t invalid_utf8 = 0;
  SampleKind kind = SampleKind::kText;
  std::string error;  // empty when counted
  std::vector<uint32_t> ids;
  uint64_t prompt_tokens = 0;  // keep_ids only
};

struct BatchResult {
  size_t file_index = 0;
  uint64_t bytes_mark = 0;
  std::vector<Outcome> outcomes;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The reason without its "FILE:LINE: " or "FILE:LINE:COLUMN: " location.
std::string cause_of(const std::string& reason, const std::string& file, uint64_t line) {
  const std::string location = file + ":" + std::to_string(line) + ":";
  if (reason.rfind(location, 0) != 0) return reason;
  size_t at = location.size();
  size_t column_end = at;
  while (column_end < reason.size() && reason[column_end] >= '0' && reason[column_end] <= '9') ++column_end;
  if (column_end > at && column_end < reason.size() && reason[column_end] == ':') at = column_end + 1;
  while (at < reason.size() && reason[at] == ' ') ++at;
  return reason.substr(at);
}

// The first skipped records grouped by cause, in order of first appearance.
std::vector<SkippedCause> group_causes(const std::vector<SkippedRecord>& skipped) {
  std::vector<SkippedCause> causes;
  for (const SkippedRecord& s : skipped) {
    auto same = std::find_if(causes.begin(), causes.end(), [&](const SkippedCause& c) { return c.cause == s.cause; });
    if (same != causes.end()) {
      ++same->count;
    } else {
      causes.push_back({s.cause, 1, s.file + ":" + std::to_string(s.line)});
    }
  }
  return causes;
}

// Why nothing could be counted: the first causes, grouped.
Status nothing_counted(const TokenCountReport& report) {
  constexpr size_t kShown = 3;
  std::string why;
  for (size_t i = 0; i < report.skipped_causes.size() && i < kShown; ++i) {
    const SkippedCause& c = report.skipped_causes[i];
    why += (i > 0 ? "; " : "") + std::to_string(c.count) + " x " + printable_text(c.cause) + " (first at " +
           printable_text(c.first) + ")";
  }
  if (report.skipped_causes.size() > kShown) why += "; and other causes";
  return Status::InvalidArgument("none of the " + std::to_string(report.skipped) +
                                 " records could be counted, all were skipped: " + why);
}

// The shared state of one count.
class Pipeline {
 public:
  Pipeline(const TokenCountRequest& request, const SampleTokenizer& tokenizer, unsigned threads)
      : request_(request), tokenizer_(tokenizer), threads_(threads),
        max_in_flight_(size_t{4} * threads + 2) {
    for (const std::string& file : request.files) shown_files_.push_back(printable_text(file));
  }

  Status run(TokenCountReport* report);

 private:
  void read_files();
  void work();
  Outcome process(const RawRecord& record, DatasetFormat format, const std::string& file) const;
  void fail(Status status);

  const TokenCountRequest& request_;
  const SampleTokenizer& tokenizer_;
  const unsigned threads_;
  const size_t max_in_flight_;
  // How messages name the files: control characters escaped.
  std::vector<std::string> shown_files_;

  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Batch> work_;
  std::map<uint64_t, BatchResult> done_;
  size_t in_flight_ = 0;     // batches read but not yet taken back
  uint64_t batches_read_ = 0;
  bool reading_done_ = false;
  bool stop_ = false;
  Status error_;

  // Totals of the files read so far: written by the reader thread only, read
  // by the others after it is joined.
  uint64_t file_bytes_ = 0;
  uint64_t decoded_bytes_ = 0;
};

void Pipeline::fail(Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (error_.ok()) error_ = std::move(status);
  stop_ = true;
  changed_.notify_all();
}

void Pipeline::read_files() {
  for (size_t f = 0; f < request_.files.size(); ++f) {
    Result<std::unique_ptr<RecordReader>> opened =
        RecordReader::Open(request_.files[f], request_.format, request_.text_unit);
    if (!opened.ok()) return fail(opened.status());
    RecordReader& reader = **opened;
    while (true) {
      Batch batch;
      Result<bool> more = reader.next_batch(&batch.records, kBatchBytes);
      if (!more.ok()) return fail(more.status());
      if (!*more) break;
      batch.bytes_mark = file_bytes_ + reader.file_bytes_read();
      std::unique_lock<std::mutex> lock(mu_);
      changed_.wait(lock, [&] { return stop_ || in_flight_ < max_in_flight_; });
      if (stop_) return;
      batch.sequence = batches_read_++;
      batch.file_index = f;
      batch.format = reader.format();
      ++in_flight_;
      work_.push_back(std::move(batch));
      changed_.notify_all();
    }
    file_bytes_ += reader.file_bytes_read();
    decoded_bytes_ += reader.bytes_decoded();
  }
  std::lock_guard<std::mutex> lock(mu_);
  reading_done_ = true;
  changed_.notify_all();
}

Outcome Pipeline::process(const RawRecord& record, DatasetFormat format, const std::string& file) const {
  Outcome out;
  out.line = record.line;
  SampleOptions options;
  options.schema = request_.schema;
  options.field = request_.field;
  Result<Sample> sample = parse_sample(record, format, options, file);
  if (!sample.ok()) {
    out.error = sample.status().message();
    return out;
  }
  out.kind = sample->kind;
  out.invalid_utf8 = sample->invalid_utf8;
  std::vector<uint32_t> ids;
  Status status = tokenizer_.tokenize(*sample, &ids, &out.special);
  if (!status.ok()) {
    out.error = file + ":" + std::to_string(record.line) + ": " + status.message();
    return out;
  }
  out.tokens = ids.size();
  if (request_.keep_ids) {
    Result<uint64_t> prompt = tokenizer_.prompt_tokens(*sample);
    if (!prompt.ok()) {
      out.error = file + ":" + std::to_string(record.line) + ": " + prompt.status().message();
      return out;
    }
    out.prompt_tokens = std::min<uint64_t>(*prompt, out.tokens);
    out.ids = std::move(ids);
  }
  return out;
}

void Pipeline::work() {
  while (true) {
    Batch batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      changed_.wait(lock, [&] { return stop_ || !work_.empty() || reading_done_; });
      if (stop_ || work_.empty()) return;
      batch = std::move(work_.front());
      work_.pop_front();
    }
    BatchResult result;
    result.file_index = batch.file_index;
    result.bytes_mark = batch.bytes_mark;
    result.outcomes.reserve(batch.records.size());
    const std::string& file = shown_files_[batch.file_index];
    for (const RawRecord& record : batch.records) result.outcomes.push_back(process(record, batch.format, file));
    std::lock_guard<std::mutex> lock(mu_);
    done_.emplace(batch.sequence, std::move(result));
    changed_.notify_all();
  }
}

Status Pipeline::run(TokenCountReport* report) {
  const auto start = std::chrono::steady_clock::now();
  uint64_t total_bytes = 0;
  for (const std::string& f : request_.files) {
    std::error_code ec;
    const auto size = f == "-" ? 0 : std::filesystem::file_size(f, ec);
    if (!ec) total_bytes += size;
  }
  LayoutAccumulator layout(layout_options(request_));
  std::vector<std::thread> workers;
  std::thread reader([this] { read_files(); });
  for (unsigned i = 0; i < threads_; ++i) workers.emplace_back([this] { work(); });

  uint64_t next = 0;
  uint64_t index = 0;
  uint64_t bytes_done = 0;  // progress: file bytes whose records are counted
  auto last_progress = std::chrono::steady_clock::now();
  Status status;
  while (true) {
    BatchResult result;
    {
      std::unique_lock<std::mutex> lock(mu_);
      const bool ready = changed_.wait_for(lock, kProgressInterval, [&] {
        return stop_ || done_.count(next) > 0 || (reading_done_ && next == batches_read_);
      });
      if (stop_) break;
      if (ready && done_.count(next) == 0) break;  // all batches taken back
      if (ready) {
        result = std::move(done_[next]);
        done_.erase(next);
        bytes_done = std::max(bytes_done, result.bytes_mark);
        ++next;
        --in_flight_;
        changed_.notify_all();
      }
    }
    for (Outcome& o : result.outcomes) {
      SampleCount sc;
      sc.index = index++;
      sc.file = &request_.files[result.file_index];
      sc.line = o.line;
      if (!o.error.empty()) {
        if (request_.strict) {
          status = Status::InvalidArgument(o.error + " (option \"strict\": stopping at the first malformed record)");
          break;
        }
        ++report->skipped;
        if (report->skipped_examples.size() < kMaxSkippedExamples) {
          report->skipped_examples.push_back({*sc.file, o.line, o.error, cause_of(o.error, *sc.file, o.line)});
        }
        sc.error = &o.error;
      } else {
        ++report->samples;
        ++report->samples_by_kind[kind_name(o.kind)];
        report->invalid_utf8 += o.invalid_utf8;
        report->special_tokens += o.special;
        report->longest_sample = std::max(report->longest_sample, o.tokens);
        layout.add(o.tokens);
        sc.tokens = o.tokens;
        if (request_.keep_ids) {
          sc.ids = &o.ids;
          sc.prompt_tokens = o.prompt_tokens;
        }
      }
      if (request_.on_sample) request_.on_sample(sc);
    }
    if (!status.ok()) {
      fail(status);
      break;
    }
    if (request_.on_progress && std::chrono::steady_clock::now() - last_progress >= kProgressInterval) {
      last_progress = std::chrono::steady_clock::now();
      request_.on_progress({bytes_done, total_bytes, report->samples, layout.tokens(), seconds_since(start)});
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    changed_.notify_all();
  }
  reader.join();
  for (std::thread& w : workers) w.join();
  if (!error_.ok()) return error_;
  FM_RETURN_IF_ERROR(status);

  layout.finish();
  report->file_bytes = file_bytes_;
  report->decoded_bytes = decoded_bytes_;
  report->tokens_before_truncation = layout.tokens_before_truncation();
  report->truncated_samples = layout.truncated_samples();
  report->tokens = layout.tokens();
  report->sample_lengths = layout.sample_lengths();
  report->rows = layout.rows();
  if (order_matters(layout_options(request_))) {
    FM_ASSIGN_OR_RETURN(report->shuffled, layout.shuffled_padding());
    report->batched_rows = layout.batched_rows();
  } else {
    report->positions = layout.positions();
    report->padding = layout.positions() - layout.tokens();
    report->sequences = layout.sequences();
    report->sum_squared_lengths = layout.sum_squared_lengths();
  }
  if (request_.on_progress) {
    request_.on_progress({report->file_bytes, total_bytes, report->samples, report->tokens, seconds_since(start)});
  }
  return Status::Ok();
}

// `rows` are what the batches hold ("samples", or wrapped "blocks").
std::string padded_note(const TokenCountRequest& request, const std::string& rows, const std::string& row) {
  const uint64_t batch = request.batch_size.value_or(kTrainerDefaultBatchSize);
  std::string note = "padded: batches of " + std::to_string(batch) + " " + rows;
  if (!request.batch_size) note += " (transformers' default per_device_train_batch_size, none being given)";
  if (request.pad_to_max_length) return note + ", every row padded to max length, so the order does not matter";
  note += ", each padded to its longest " + row + ", as TRL's DataCollatorForLanguageModeling pads";
  if (request.order == SampleOrder::kFile) {
    return note + "; the file order is taken as the batch order (a shuffled run pads differently)";
  }
  return note + "; in random order, as the Trainer's RandomSampler shuffles every epoch: the padded figures are " +
         "expected over uniformly random shuffles (in units of 2^-" + std::to_string(kExpectedFractionBits) +
         " of a row), beside the order that pads the most";
}

std::vector<std::string> convention_notes(const TokenCountRequest& request, const SampleTokenizer& tokenizer,
                                          const TokenCountReport& report) {
  std::vector<std::string> notes = report.tokenizer.notes;
  const TokenizerInfo& info = report.tokenizer;
  if (request.add_special_tokens && info.special_tokens_per_sequence > 0) {
    notes.push_back("text and prompt/completion samples get the tokenizer's " +
                    std::to_string(info.special_tokens_per_sequence) +
                    " special token(s) (add_special_tokens=True); chat samples get what the template writes");
  }
  if (request.append_eos && info.eos_token) {
    notes.push_back("text and prompt/completion samples end with eos_token \"" + *info.eos_token +
                    "\", appended when missing, as TRL's SFTTrainer does");
  }
  if (request.append_eos && !info.eos_token) {
    notes.push_back("no eos_token is known (no tokenizer_config.json), so none is appended");
  }
  if (report.samples_by_kind.count("chat") || report.samples_by_kind.count("alpaca")) {
    if (tokenizer.has_chat_template()) {
      notes.push_back("chat samples are rendered with " +
                      (request.chat_template_file.empty() ? std::string("tokenizer_config.json's chat_template")
                                                          : request.chat_template_file) +
                      " (add_generation_prompt=false) and tokenized without added special tokens");
    }
  }
  if (report.samples_by_kind.count("alpaca")) {
    notes.push_back(tokenizer.has_chat_template()
                        ? "Alpaca records become a user turn (instruction, blank line, input) and an assistant turn"
                        : "Alpaca records use the Stanford Alpaca prompt (no chat template available)");
  }
  switch (request.layout) {
    case SequenceLayout::kUnpadded:
      notes.push_back("each sample is one sequence, no padding");
      break;
    case SequenceLayout::kPadded:
      notes.push_back(padded_note(request, "samples", "sample"));
      break;
    case SequenceLayout::kPackedWrapped:
      notes.push_back("the samples of each chunk of " + std::to_string(request.packing_chunk) +
                      " concatenated and cut into blocks of max length, the chunk's last block shorter (TRL packing "
                      "\"wrapped\", per datasets.map batch); attention crosses sample boundaries");
      notes.push_back(padded_note(request, "blocks", "block"));
      break;
    case SequenceLayout::kPackedBfd:
      notes.push_back("samples truncated to max length and packed best-fit-decreasing per chunk of " +
                      std::to_string(request.packing_chunk) +
                      " (TRL packing \"bfd\"); attention stays within each sample (padding-free)");
      break;
  }
  return notes;
}

}  // namespace

const char* sample_order_name(SampleOrder order) { return order == SampleOrder::kRandom ? "random" : "file"; }

bool batches_are_padded(SequenceLayout layout) {
  return layout == SequenceLayout::kPadded || layout == SequenceLayout::kPackedWrapped;
}

const char* layout_name(SequenceLayout layout) {
  switch (layout) {
    case SequenceLayout::kUnpadded: return "unpadded";
    case SequenceLayout::kPadded: return "padded";
    case SequenceLayout::kPackedWrapped: return "packed-wrapped";
    case SequenceLayout::kPackedBfd: return "packed-bfd";
  }
  return "unknown";
}

Result<TokenCountReport> count_tokens(const TokenCountRequest& given) {
  if (given.files.empty()) return Status::InvalidArgument("no dataset files given");
  // A save_to_disk directory stands for its Arrow files, which the report names.
  TokenCountRequest request = given;
  FM_ASSIGN_OR_RETURN(request.files, expand_saved_datasets(given.files));
  if (request.tokenizer.empty()) return Status::InvalidArgument("no tokenizer given (option \"tokenizer\" PATH)");
  FM_RETURN_IF_ERROR(validate_layout(layout_options(request)));
  const auto load_start = std::chrono::steady_clock::now();
  FM_ASSIGN_OR_RETURN(Tokenizer tokenizer, Tokenizer::Load(request.tokenizer));
  std::optional<std::string> chat_template;
  if (!request.chat_template_file.empty()) {
    FM_ASSIGN_OR_RETURN(std::string text, read_file(request.chat_template_file, uint64_t{16} << 20));
    chat_template = std::move(text);
  }
  const std::string template_origin =
      request.chat_template_file.empty() ? "tokenizer_config.json chat_template" : request.chat_template_file;
  FM_ASSIGN_OR_RETURN(SampleTokenizer sample_tokenizer,
                      SampleTokenizer::Create(tokenizer, chat_template ? &*chat_template : nullptr, template_origin,
                                              {request.add_special_tokens, request.append_eos}));
  TokenCountReport report;
  report.tokenizer = tokenizer.info();
  report.files = request.files;
  report.layout = request.layout;
  report.max_length = request.max_length;
  if (batches_are_padded(request.layout)) {
    report.batch_size = request.batch_size.value_or(kTrainerDefaultBatchSize);
    report.default_batch_size = !request.batch_size;
    report.order = request.order;
    report.pad_to_max_length = request.pad_to_max_length;
  }
  report.load_seconds = seconds_since(load_start);

  unsigned threads = request.threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  const auto count_start = std::chrono::steady_clock::now();
  Pipeline pipeline(request, sample_tokenizer, threads);
  FM_RETURN_IF_ERROR(pipeline.run(&report));
  report.count_seconds = seconds_since(count_start);
  report.skipped_causes = group_causes(report.skipped_examples);
  if (report.samples == 0 && report.skipped > 0) return nothing_counted(report);
  report.notes = convention_notes(request, sample_tokenizer, report);
  return report;
}

}  // namespace flopsmeter
