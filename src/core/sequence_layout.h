// From per-sample token counts, in input order, to the sequences a trainer
// executes: truncation, padding in batches, or packing (see SequenceLayout
// in flopsmeter/tokens.h). Pure arithmetic; memory is bounded by the batch
// or packing chunk.
#ifndef FLOPSMETER_CORE_SEQUENCE_LAYOUT_H_
#define FLOPSMETER_CORE_SEQUENCE_LAYOUT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "flopsmeter/exact.h"
#include "flopsmeter/status.h"
#include "flopsmeter/tokens.h"

namespace flopsmeter {

struct LayoutOptions {
  SequenceLayout layout = SequenceLayout::kUnpadded;
  std::optional<uint64_t> max_length;
  uint64_t batch_size = 1;
  bool pad_to_max_length = false;
  uint64_t packing_chunk = 1000;
};

// InvalidArgument when the options do not describe a layout (packing or
// pad_to_max_length without max_length, zero sizes).
Status validate_layout(const LayoutOptions& options);

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
  uint64_t rows() const { return rows_; }
  Flop positions() const { return positions_; }
  const std::map<uint64_t, uint64_t>& sequences() const { return sequences_; }
  Flop sum_squared_lengths() const;

 private:
  void flush_batch();
  void flush_chunk();
  void add_sequence(uint64_t length, uint64_t count);

  LayoutOptions options_;
  Flop before_ = 0;
  uint64_t truncated_ = 0;
  Flop tokens_ = 0;
  uint64_t rows_ = 0;
  Flop positions_ = 0;
  std::map<uint64_t, uint64_t> sequences_;
  std::vector<uint64_t> pending_;  // the open batch or packing chunk
  uint64_t carry_ = 0;             // wrapped packing: tokens in the open block
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_CORE_SEQUENCE_LAYOUT_H_
