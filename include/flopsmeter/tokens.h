// Exact dataset token counts: what a trainer will see, sample by sample,
// read from text / JSON lines / JSON array files (optionally gzip or zstd
// compressed), rendered the way Hugging Face TRL's SFTTrainer renders them
// and tokenized with the model's own tokenizer.json.
//
//   TokenCountRequest request;
//   request.files = {"train.jsonl.zst"};
//   request.tokenizer = "models/llama3";   // directory with tokenizer.json
//   request.max_length = 4096;
//   request.layout = SequenceLayout::kPadded;
//   request.batch_size = 8;
//   request.order = SampleOrder::kFile;
//   FM_ASSIGN_OR_RETURN(TokenCountReport report, count_tokens(request));
//   // report.tokens: non-padding tokens; report.sequences: executed
//   // sequences by length, ready for Workload::sequences. In random order
//   // (the default) report.shuffled holds the padded figures instead.
//
// Streaming and multi-threaded: memory stays bounded whatever the file size,
// and results are combined in input order, so every figure (and the
// per-sample callback) is the same for any thread count.
#ifndef FLOPSMETER_TOKENS_H_
#define FLOPSMETER_TOKENS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "flopsmeter/dataset.h"
#include "flopsmeter/exact.h"
#include "flopsmeter/status.h"
#include "flopsmeter/tokenizer.h"

namespace flopsmeter {

// How samples become the sequences the model runs on.
enum class SequenceLayout {
  // Each sample is one sequence (truncated to max_length when set).
  kUnpadded,
  // Samples in batches of batch_size, in the trainer's order, each batch
  // padded to its longest sample (TRL's DataCollatorForLanguageModeling), or
  // to max_length when pad_to_max_length is set.
  kPadded,
  // TRL packing "wrapped": the samples of each chunk of packing_chunk
  // (TRL packs per datasets.map batch, 1000) concatenated and cut into
  // blocks of max_length, the chunk's last block shorter; attention spans
  // sample boundaries. The blocks are batched like kPadded's samples: TRL's
  // collator pads them, wrapped packing not being padding-free.
  kPackedWrapped,
  // TRL packing "bfd" (its default): samples truncated to max_length and put
  // into max_length bins by best-fit decreasing, per chunk of
  // packing_chunk samples (TRL packs per datasets.map batch, 1000); padding
  // free, attention stays within each sample.
  kPackedBfd,
};

// The order in which a trainer batches the samples (matters for kPadded).
enum class SampleOrder {
  // A fresh uniformly random shuffle every epoch, as transformers' Trainer
  // draws batches (RandomSampler). Padded figures are expected over shuffles,
  // with the worst order beside them.
  kRandom,
  // The file order (a sequential sampler): today's exact figures.
  kFile,
};

// transformers' TrainingArguments.per_device_train_batch_size default, the
// batch a TRL SFTTrainer run pads when none is given:
// https://github.com/huggingface/transformers/blob/main/src/transformers/training_args.py
inline constexpr uint64_t kTrainerDefaultBatchSize = 8;

// Expected figures (averages over shuffles) are fixed point: integers in
// units of 2^-kExpectedFractionBits.
inline constexpr unsigned kExpectedFractionBits = 32;

// One epoch of kPadded batches in random order. Expected counts are in units
// of 2^-kExpectedFractionBits; the worst case is the order that executes the
// most (the longest samples each leading a batch), a true maximum.
struct ShuffledPadding {
  std::map<uint64_t, Flop> expected_sequences;  // padded rows by length, fixed point
  Flop expected_positions = 0;                  // fixed point
  Flop expected_sum_squared_lengths = 0;        // fixed point
  std::map<uint64_t, uint64_t> worst_sequences;
  Flop worst_positions = 0;
  Flop worst_sum_squared_lengths = 0;
};

// One sample's outcome, reported in input order.
struct SampleCount {
  uint64_t index = 0;       // 0-based, over all files, skipped samples included
  const std::string* file = nullptr;
  uint64_t line = 0;        // where the record starts
  uint64_t tokens = 0;      // before truncation, special tokens included
  const std::vector<uint32_t>* ids = nullptr;  // when TokenCountRequest::keep_ids
  // When keep_ids: the leading ids a trainer keeps out of the loss (TRL's
  // completion_mask: a prompt/completion sample's prompt); 0 otherwise.
  uint64_t prompt_tokens = 0;
  const std::string* error = nullptr;          // set when the sample was skipped
};

struct TokenCountProgress {
  uint64_t file_bytes_read = 0;
  uint64_t file_bytes_total = 0;  // 0 when unknown (standard input)
  uint64_t samples = 0;
  Flop tokens = 0;
  double seconds = 0;
};

struct TokenCountRequest {
  std::vector<std::string> files;  // "-" is standard input
  std::string tokenizer;           // tokenizer.json or its directory
  DatasetFormat format = DatasetFormat::kAuto;
  TextUnit text_unit = TextUnit::kLine;
  RecordSchema schema = RecordSchema::kAuto;
  std::string field;                 // the record member to read, overriding detection
  std::string chat_template_file;    // overrides tokenizer_config.json's chat_template
  bool add_special_tokens = true;    // tokenizer(text, add_special_tokens=True)
  bool append_eos = true;            // TRL: text and completions end with eos_token
  std::optional<uint64_t> max_length;  // truncation (and the packing block size)
  SequenceLayout layout = SequenceLayout::kUnpadded;
  std::optional<uint64_t> batch_size;  // kPadded, kPackedWrapped; default kTrainerDefaultBatchSize
  SampleOrder order = SampleOrder::kRandom;  // kPadded, kPackedWrapped
  bool pad_to_max_length = false;    // kPadded, kPackedWrapped
  uint64_t packing_chunk = 1000;     // kPackedBfd, kPackedWrapped
  unsigned threads = 0;              // 0: one per core
  bool strict = false;               // a malformed record fails the count
  bool keep_ids = false;             // pass each sample's ids to on_sample
  std::function<void(const SampleCount&)> on_sample;
  std::function<void(const TokenCountProgress&)> on_progress;  // from the calling thread
};

struct SkippedRecord {
  std::string file;
  uint64_t line = 0;
  std::string reason;  // "FILE:LINE: ..." as printed
  std::string cause;   // the reason without its "FILE:LINE[:COLUMN]: " location
};

// Skipped records that share a cause.
struct SkippedCause {
  std::string cause;  // SkippedRecord::cause
  uint64_t count = 0;  // among the first skipped records (skipped_examples)
  std::string first;  // "FILE:LINE" of the first one
};

struct TokenCountReport {
  TokenizerInfo tokenizer;
  std::vector<std::string> files;
  uint64_t file_bytes = 0;      // bytes read from the files (compressed size)
  uint64_t decoded_bytes = 0;   // after decompression
  uint64_t samples = 0;         // counted
  uint64_t skipped = 0;         // malformed, not counted
  std::vector<SkippedRecord> skipped_examples;  // the first few, for the report
  std::vector<SkippedCause> skipped_causes;     // skipped_examples grouped by cause
  uint64_t invalid_utf8 = 0;    // invalid sequences replaced by U+FFFD
  std::map<std::string, uint64_t> samples_by_kind;  // "text", "chat", ...
  Flop tokens_before_truncation = 0;
  uint64_t truncated_samples = 0;
  Flop special_tokens = 0;      // added by the post-processor and append_eos
  Flop tokens = 0;              // trained-on (non-padding) tokens after truncation
  uint64_t longest_sample = 0;  // tokens, before truncation
  // Samples by length after truncation, zero-length ones included.
  std::map<uint64_t, uint64_t> sample_lengths;
  // The executed layout.
  SequenceLayout layout = SequenceLayout::kUnpadded;
  std::optional<uint64_t> max_length;
  uint64_t batch_size = 0;          // kPadded: samples per batch
  bool default_batch_size = false;  // kPadded: not given, kTrainerDefaultBatchSize
  SampleOrder order = SampleOrder::kRandom;  // kPadded
  bool pad_to_max_length = false;   // kPadded
  uint64_t rows = 0;            // sequences in the layout (padded rows, packed blocks, bins)
  // The figures of a layout whose order is fixed (all but kPadded in random
  // order, which has `shuffled` instead and leaves these at zero).
  Flop positions = 0;           // executed positions, padding included
  Flop padding = 0;             // positions - tokens
  // Attention units by length (what Workload::sequences takes) and the sum
  // of their squared lengths, the quantity the attention term scales with.
  std::map<uint64_t, uint64_t> sequences;
  Flop sum_squared_lengths = 0;
  // Batches in random order (kPadded, kPackedWrapped): the rows they are
  // drawn from by length (samples, or wrapped blocks), and the padding.
  std::map<uint64_t, uint64_t> batched_rows;
  std::optional<ShuffledPadding> shuffled;
  std::vector<std::string> notes;  // conventions applied, in words
  double load_seconds = 0;
  double count_seconds = 0;
};

// InvalidArgument when records were read but every one was skipped (the
// message groups the first causes); a dataset with no records counts zero.
Result<TokenCountReport> count_tokens(const TokenCountRequest& request);

// The report as JSON (schema "flopsmeter.tokens/1") and as text.
std::string tokens_to_json(const TokenCountReport& report);
std::string tokens_to_text(const TokenCountReport& report);

const char* layout_name(SequenceLayout layout);
// Whether the layout's rows are batched and padded (kPadded, kPackedWrapped),
// so that batch size, order and padding to max length apply.
bool batches_are_padded(SequenceLayout layout);
const char* sample_order_name(SampleOrder order);  // "random", "file"

}  // namespace flopsmeter

#endif  // FLOPSMETER_TOKENS_H_
