// From per-sample token counts, in input order, to the sequences a trainer
// executes: truncation, padding in batches, or packing (see SequenceLayout
// in flopsmeter/tokens.h), and for padded batches in random order the
// expected and worst-case rows. Pure arithmetic; memory is bounded by the
// batch or packing chunk and the number of distinct sample lengths.
#ifndef FLOPSMETER_CORE_SEQUENCE_LAYOUT_H_
#define FLOPSMETER_CORE_SEQUENCE_LAYOUT_H_

#include <cstdint>
#include <map>
#include <cstddef>
#include <optional>
#include <vector>

#include "flopsmeter/exact.h"
#include "flopsmeter/status.h"
#include "flopsmeter/tokens.h"

namespace flopsmeter {

struct LayoutOptions {
  SequenceLayout layout = SequenceLayout::kUnpadded;
  std::optional<uint64_t> max_length;
  uint64_t batch_size = kTrainerDefaultBatchSize;
  SampleOrder order = SampleOrder::kRandom;
  bool pad_to_max_length = false;
  uint64_t packing_chunk = 1000;
};

// The layout a token count request describes.
LayoutOptions layout_options(const TokenCountRequest& request);

// InvalidArgument when the options do not describe a layout (packing or
// pad_to_max_length without max_length, zero sizes).
Status validate_layout(const LayoutOptions& options);

// Whether the executed sequences depend on the order of the samples: padded
// batches (of samples, or of wrapped blocks) in random order, unless every
// row is padded to max_length.
bool order_matters(const LayoutOptions& options);

// TRL's best-fit decreasing (trl.data_utils._pack_bfd) over one chunk: the
// indices of `lengths` by bin, bins in the order they open. Longest first
// (ties in input order), each into the bin with the least room that still
// fits it, the earliest such bin among equals, a new bin when none fits;
// zero lengths go nowhere. Every length must be at most `capacity`.
std::vector<std::vector<size_t>> best_fit_decreasing(const std::vector<uint64_t>& lengths, uint64_t capacity);

// Samples (or sequences) by length.
using LengthCounts = std::map<uint64_t, uint64_t>;

// Padded rows by length, expected over uniformly random shuffles, in units of
// 2^-kExpectedFractionBits row: `full_batches` batches of `batch_size`
// samples and `remainder_batches` batches of the n mod batch_size samples an
// epoch leaves over. A uniformly random shuffle cut into batches makes every
// batch a uniformly random subset of the samples, so a batch of k samples is
// padded to at most v with probability C(c_v, k) / C(n, k), c_v being the
// samples of length <= v. The expected rows padded to at most v are summed
// over the batches and rounded, and the rows by length are their differences,
// so the expected executed work of the whole run is off by less than one
// unit times the cost of one longest row. Overflow when a count exceeds 128
// bits.
Result<std::map<uint64_t, Flop>> expected_padded_rows(const LengthCounts& samples, uint64_t batch_size,
                                                      uint64_t full_batches, uint64_t remainder_batches);

// Padded rows by length in the order of one shuffle that executes the most
// in its first `full_batches` full batches (and, with `remainder_batch`, the
// batch of the samples left over): the longest samples each lead a batch,
// the longest of them the full batches. No order pads a row longer, since
// the i-th longest batch maximum is at most the i-th longest sample, and this
// order reaches that bound in every batch, so it is a true maximum of every
// count that grows with the rows' lengths.
LengthCounts worst_padded_rows(const LengthCounts& samples, uint64_t batch_size, uint64_t full_batches,
                               bool remainder_batch);

// The `count` longest entries of `lengths` (all of them when there are fewer).
LengthCounts longest(const LengthCounts& lengths, uint64_t count);

// The expected part of `rows` found in `drawn` of its `total` rows drawn
// uniformly at random: rows x drawn / total, in units of
// 2^-kExpectedFractionBits, rounded cumulatively like expected_padded_rows.
Result<std::map<uint64_t, Flop>> expected_share(const LengthCounts& rows, uint64_t drawn, uint64_t total);

class LayoutAccumulator {
 public:
  explicit LayoutAccumulator(LayoutOptions options) : options_(options) {}

  // One sample of `tokens` tokens (before truncation).
  void add(uint64_t tokens);
  // Flushes a partial batch, chunk or block; call once after the last add().
  void finish();

  Flop tokens_before_truncation() const { return before_; }
  uint64_t truncated_samples() const { return truncated_; }
  Flop tokens() const { return tokens_; }
  // Samples by length after truncation, zero-length ones included.
  const LengthCounts& sample_lengths() const { return samples_; }
  uint64_t rows() const { return rows_; }
  // The rows batches are drawn from, by length before padding, when
  // order_matters(): the samples, or the wrapped blocks.
  const LengthCounts& batched_rows() const;
  // The sequences of a layout whose order is fixed; empty when
  // order_matters(), where shuffled_padding() describes them.
  Flop positions() const { return positions_; }
  const std::map<uint64_t, uint64_t>& sequences() const { return sequences_; }
  Flop sum_squared_lengths() const;
  // One epoch of padded batches in random order, expected and at worst.
  Result<ShuffledPadding> shuffled_padding() const;

 private:
  void add_rows(uint64_t length, uint64_t count);  // rows to batch: a sample, or wrapped blocks
  void flush_batch();
  void flush_chunk();
  void close_block();  // wrapped: the open block ends (a chunk's end or the data's)
  void add_sequence(uint64_t length, uint64_t count);

  LayoutOptions options_;
  Flop before_ = 0;
  uint64_t truncated_ = 0;
  Flop tokens_ = 0;
  LengthCounts samples_;
  uint64_t rows_ = 0;
  Flop positions_ = 0;
  std::map<uint64_t, uint64_t> sequences_;
  LengthCounts blocks_;            // wrapped packing: blocks by length
  std::vector<uint64_t> pending_;  // the open batch or bfd packing chunk
  uint64_t chunk_samples_ = 0;     // wrapped packing: samples in the open chunk
  uint64_t carry_ = 0;             // wrapped packing: tokens in the open block
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_CORE_SEQUENCE_LAYOUT_H_
