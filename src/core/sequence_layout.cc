#include "core/sequence_layout.h"

#include <algorithm>
#include <functional>
#include <set>

namespace flopsmeter {

Status validate_layout(const LayoutOptions& o) {
  if (o.max_length && *o.max_length == 0) return Status::InvalidArgument("--max-length must be at least 1");
  const bool packed = o.layout == SequenceLayout::kPackedWrapped || o.layout == SequenceLayout::kPackedBfd;
  if (packed && !o.max_length) {
    return Status::InvalidArgument("packing needs a max length (the block size): add --max-length N");
  }
  if (o.layout == SequenceLayout::kPadded && o.batch_size == 0) {
    return Status::InvalidArgument("--batch-size must be at least 1");
  }
  if (o.pad_to_max_length && !o.max_length) {
    return Status::InvalidArgument("padding to max length needs --max-length N");
  }
  if (o.layout == SequenceLayout::kPackedBfd && o.packing_chunk == 0) {
    return Status::InvalidArgument("--packing-chunk must be at least 1");
  }
  return Status::Ok();
}

void LayoutAccumulator::add_sequence(uint64_t length, uint64_t count) {
  if (length == 0 || count == 0) return;
  sequences_[length] += count;
}

void LayoutAccumulator::add(uint64_t tokens) {
  before_ += tokens;
  uint64_t kept = tokens;
  if (options_.max_length && tokens > *options_.max_length) {
    kept = *options_.max_length;
    // Wrapped packing cuts the stream, not the samples: nothing is lost.
    if (options_.layout != SequenceLayout::kPackedWrapped) {
      ++truncated_;
    } else {
      kept = tokens;
    }
  }
  tokens_ += kept;
  switch (options_.layout) {
    case SequenceLayout::kUnpadded:
      if (kept > 0) ++rows_;
      positions_ += kept;
      add_sequence(kept, 1);
      break;
    case SequenceLayout::kPadded:
      pending_.push_back(kept);
      if (pending_.size() == options_.batch_size) flush_batch();
      break;
    case SequenceLayout::kPackedWrapped: {
      const uint64_t block = *options_.max_length;
      positions_ += kept;
      uint64_t total = carry_ + kept;
      const uint64_t full = total / block;
      if (full > 0) {
        rows_ += full;
        add_sequence(block, full);
      }
      carry_ = total % block;
      break;
    }
    case SequenceLayout::kPackedBfd:
      pending_.push_back(kept);
      if (pending_.size() == options_.packing_chunk) flush_chunk();
      break;
  }
}

void LayoutAccumulator::flush_batch() {
  if (pending_.empty()) return;
  const uint64_t longest = *std::max_element(pending_.begin(), pending_.end());
  const uint64_t width = options_.pad_to_max_length ? *options_.max_length : longest;
  const uint64_t n = pending_.size();
  rows_ += n;
  positions_ += static_cast<Flop>(width) * n;
  add_sequence(width, n);
  pending_.clear();
}

// Best-fit decreasing: longest sample first, each into the fullest bin it
// still fits, a new bin when none has room. Attention stays per sample.
void LayoutAccumulator::flush_chunk() {
  if (pending_.empty()) return;
  const uint64_t capacity = *options_.max_length;
  std::sort(pending_.begin(), pending_.end(), std::greater<>());
  std::multiset<uint64_t> free_space;  // room left in each open bin
  for (uint64_t length : pending_) {
    if (length == 0) continue;
    positions_ += length;
    add_sequence(length, 1);
    auto fit = free_space.lower_bound(length);
    if (fit == free_space.end()) {
      ++rows_;
      free_space.insert(capacity - length);
    } else {
      const uint64_t left = *fit - length;
      free_space.erase(fit);
      free_space.insert(left);
    }
  }
  pending_.clear();
}

void LayoutAccumulator::finish() {
  switch (options_.layout) {
    case SequenceLayout::kPadded:
      flush_batch();
      break;
    case SequenceLayout::kPackedBfd:
      flush_chunk();
      break;
    case SequenceLayout::kPackedWrapped:
      if (carry_ > 0) {
        ++rows_;
        add_sequence(carry_, 1);
        carry_ = 0;
      }
      break;
    case SequenceLayout::kUnpadded:
      break;
  }
}

Flop LayoutAccumulator::sum_squared_lengths() const {
  Flop sum = 0;
  for (const auto& [length, count] : sequences_) sum += static_cast<Flop>(length) * length * count;
  return sum;
}

}  // namespace flopsmeter
