#include "core/sequence_layout.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <vector>

namespace flopsmeter {
namespace {

// For each distinct length v of `samples`, ascending: the probability that
// the longest of a uniformly random k-subset of the n samples is at most v,
// C(c_v, k) / C(n, k). Walked down from c = n (probability 1), one sample at
// a time, by C(c - 1, k) / C(c, k) = (c - k) / c: n products in all, however
// large k is, each with a relative rounding of 2^-64.
std::vector<long double> longest_at_most(const LengthCounts& samples, uint64_t n, uint64_t k) {
  std::vector<long double> p(samples.size(), 0.0L);
  long double q = 1.0L;
  uint64_t c = n;
  size_t i = samples.size();
  for (auto it = samples.rbegin(); it != samples.rend(); ++it) {
    p[--i] = q;
    for (uint64_t step = 0; step < it->second && q > 0; ++step, --c) {
      q = q * static_cast<long double>(c - k) / static_cast<long double>(c);  // c >= k while q > 0
    }
  }
  return p;
}

uint64_t sample_count(const LengthCounts& samples) {
  uint64_t n = 0;
  for (const auto& [length, count] : samples) n += count;
  return n;
}

// Sum of length x count and of length^2 x count; false on overflow.
template <typename Count>
bool sum_lengths(const std::map<uint64_t, Count>& rows, Flop* positions, Flop* squares) {
  *positions = 0;
  *squares = 0;
  for (const auto& [length, count] : rows) {
    Flop p = 0, sq = 0;
    if (!checked_mul(length, count, &p) || !checked_mul(p, length, &sq) || !checked_add(*positions, p, positions) ||
        !checked_add(*squares, sq, squares)) {
      return false;
    }
  }
  return true;
}

}  // namespace

LayoutOptions layout_options(const TokenCountRequest& r) {
  return {r.layout, r.max_length, r.batch_size.value_or(kTrainerDefaultBatchSize), r.order, r.pad_to_max_length,
          r.packing_chunk};
}

bool order_matters(const LayoutOptions& o) {
  const bool batched = o.layout == SequenceLayout::kPadded || o.layout == SequenceLayout::kPackedWrapped;
  return batched && o.order == SampleOrder::kRandom && !o.pad_to_max_length;
}

std::vector<std::vector<size_t>> best_fit_decreasing(const std::vector<uint64_t>& lengths, uint64_t capacity) {
  std::vector<size_t> order(lengths.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });
  std::vector<std::vector<size_t>> bins;
  std::map<uint64_t, std::deque<size_t>> bins_by_room;  // open bins by the room left, earliest first
  for (size_t i : order) {
    const uint64_t length = lengths[i];
    if (length == 0) continue;
    auto fit = bins_by_room.lower_bound(length);
    size_t bin = bins.size();
    uint64_t room = capacity;
    if (fit == bins_by_room.end()) {
      bins.emplace_back();
    } else {
      bin = fit->second.front();
      room = fit->first;
      fit->second.pop_front();
      if (fit->second.empty()) bins_by_room.erase(fit);
    }
    bins[bin].push_back(i);
    if (room - length > 0) bins_by_room[room - length].push_back(bin);
  }
  return bins;
}

LengthCounts longest(const LengthCounts& lengths, uint64_t count) {
  LengthCounts out;
  for (auto it = lengths.rbegin(); it != lengths.rend() && count > 0; ++it) {
    const uint64_t take = std::min(it->second, count);
    out[it->first] = take;
    count -= take;
  }
  return out;
}

Result<std::map<uint64_t, Flop>> expected_share(const LengthCounts& rows, uint64_t drawn, uint64_t total) {
  std::map<uint64_t, Flop> share;
  if (total == 0) return share;
  Flop cumulative = 0, previous = 0;
  for (const auto& [length, count] : rows) {
    cumulative += count;
    Flop units = 0;
    if (!checked_mul(cumulative, drawn, &units) || !checked_mul(units, Flop{1} << kExpectedFractionBits, &units)) {
      return Status::Overflow("the expected share of the sequences exceeds 128 bits");
    }
    const Flop at_most = (units + total / 2) / total;
    if (at_most > previous) share[length] = at_most - previous;
    previous = at_most;
  }
  return share;
}

Result<std::map<uint64_t, Flop>> expected_padded_rows(const LengthCounts& samples, uint64_t batch_size,
                                                      uint64_t full_batches, uint64_t remainder_batches) {
  const uint64_t n = sample_count(samples);
  std::map<uint64_t, Flop> rows;
  if (n == 0 || batch_size == 0) return rows;
  if (full_batches > 0 && batch_size > n) {
    return Status::InvalidArgument("a batch of " + std::to_string(batch_size) + " samples needs more than the " +
                                   std::to_string(n) + " samples there are");
  }
  const uint64_t remainder = n % batch_size;
  if (remainder == 0) remainder_batches = 0;
  Flop full_rows = 0, remainder_rows = 0, total = 0;
  if (!checked_mul(full_batches, batch_size, &full_rows) ||
      !checked_mul(remainder_batches, remainder, &remainder_rows) || !checked_add(full_rows, remainder_rows, &total) ||
      !checked_mul(total, Flop{1} << kExpectedFractionBits, &total)) {
    return Status::Overflow("the expected padded rows exceed 128 bits");
  }
  const std::vector<long double> full_p =
      full_rows > 0 ? longest_at_most(samples, n, batch_size) : std::vector<long double>(samples.size(), 0.0L);
  const std::vector<long double> remainder_p =
      remainder_rows > 0 ? longest_at_most(samples, n, remainder) : std::vector<long double>(samples.size(), 0.0L);
  const long double unit = std::ldexp(1.0L, static_cast<int>(kExpectedFractionBits));
  Flop previous = 0;
  size_t i = 0;
  for (const auto& [length, count] : samples) {
    // Expected rows padded to at most `length`, in units; the last is exact.
    Flop at_most = total;
    if (i + 1 < samples.size()) {
      const long double expected = static_cast<long double>(full_rows) * full_p[i] +
                                   static_cast<long double>(remainder_rows) * remainder_p[i];
      at_most = std::clamp(static_cast<Flop>(expected * unit + 0.5L), previous, total);
    }
    if (length > 0 && at_most > previous) rows[length] = at_most - previous;  // empty rows execute nothing
    previous = at_most;
    ++i;
  }
  return rows;
}

LengthCounts worst_padded_rows(const LengthCounts& samples, uint64_t batch_size, uint64_t full_batches,
                               bool remainder_batch) {
  const uint64_t n = sample_count(samples);
  LengthCounts rows;
  if (n == 0 || batch_size == 0) return rows;
  const uint64_t remainder = n % batch_size;
  const bool with_remainder = remainder_batch && remainder > 0;
  full_batches = std::min(full_batches, n / batch_size);
  const LengthCounts leaders = longest(samples, full_batches + (with_remainder ? 1 : 0));
  uint64_t full_left = full_batches;
  for (auto it = leaders.rbegin(); it != leaders.rend(); ++it) {
    const auto [length, count] = *it;
    const uint64_t leading_full = std::min(count, full_left);
    full_left -= leading_full;
    // What is left of this length leads the remainder batch (one leader).
    const uint64_t padded = leading_full * batch_size + (count > leading_full ? remainder : 0);
    if (length > 0 && padded > 0) rows[length] += padded;
  }
  return rows;
}

Status validate_layout(const LayoutOptions& o) {
  if (o.max_length && *o.max_length == 0) return Status::InvalidArgument("option \"max-length\" must be at least 1");
  const bool packed = o.layout == SequenceLayout::kPackedWrapped || o.layout == SequenceLayout::kPackedBfd;
  if (packed && !o.max_length) {
    return Status::InvalidArgument("packing needs a max length (the block size): add option \"max-length\" N");
  }
  if ((o.layout == SequenceLayout::kPadded || o.layout == SequenceLayout::kPackedWrapped) && o.batch_size == 0) {
    return Status::InvalidArgument("option \"batch-size\" must be at least 1");
  }
  if (o.pad_to_max_length && !o.max_length) {
    return Status::InvalidArgument("padding to max length needs option \"max-length\" N");
  }
  if (packed && o.packing_chunk == 0) {
    return Status::InvalidArgument("option \"packing-chunk\" must be at least 1");
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
  // Wrapped packing cuts the stream, not the samples: nothing is lost.
  if (options_.max_length && tokens > *options_.max_length && options_.layout != SequenceLayout::kPackedWrapped) {
    kept = *options_.max_length;
    ++truncated_;
  }
  tokens_ += kept;
  ++samples_[kept];
  switch (options_.layout) {
    case SequenceLayout::kUnpadded:
      if (kept > 0) ++rows_;
      positions_ += kept;
      add_sequence(kept, 1);
      break;
    case SequenceLayout::kPadded:
      add_rows(kept, 1);
      break;
    case SequenceLayout::kPackedWrapped: {
      const uint64_t block = *options_.max_length;
      const uint64_t total = carry_ + kept;
      add_rows(block, total / block);
      carry_ = total % block;
      // TRL packs per datasets.map batch: each chunk's stream ends in a block of its own.
      if (++chunk_samples_ == options_.packing_chunk) close_block();
      break;
    }
    case SequenceLayout::kPackedBfd:
      pending_.push_back(kept);
      if (pending_.size() == options_.packing_chunk) flush_chunk();
      break;
  }
}

void LayoutAccumulator::add_rows(uint64_t length, uint64_t count) {
  if (count == 0) return;
  if (options_.layout == SequenceLayout::kPackedWrapped) blocks_[length] += count;
  if (order_matters(options_)) {  // batched later, from batched_rows(): O(1) however many
    rows_ += count;
    return;
  }
  for (uint64_t i = 0; i < count; ++i) {
    pending_.push_back(length);
    if (pending_.size() == options_.batch_size) flush_batch();
  }
}

void LayoutAccumulator::close_block() {
  if (carry_ > 0) add_rows(carry_, 1);
  carry_ = 0;
  chunk_samples_ = 0;
}

const LengthCounts& LayoutAccumulator::batched_rows() const {
  return options_.layout == SequenceLayout::kPackedWrapped ? blocks_ : samples_;
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

// Attention stays per sample: each is a sequence of its own.
void LayoutAccumulator::flush_chunk() {
  if (pending_.empty()) return;
  rows_ += best_fit_decreasing(pending_, *options_.max_length).size();
  for (uint64_t length : pending_) {
    positions_ += length;
    add_sequence(length, 1);
  }
  pending_.clear();
}

void LayoutAccumulator::finish() {
  if (options_.layout == SequenceLayout::kPackedWrapped) close_block();
  if (options_.layout == SequenceLayout::kPackedBfd) {
    flush_chunk();
  } else {
    flush_batch();
  }
}

Flop LayoutAccumulator::sum_squared_lengths() const {
  Flop sum = 0;
  for (const auto& [length, count] : sequences_) sum += static_cast<Flop>(length) * length * count;
  return sum;
}

Result<ShuffledPadding> LayoutAccumulator::shuffled_padding() const {
  const LengthCounts& rows = batched_rows();
  const uint64_t n = sample_count(rows);
  const uint64_t full = n / options_.batch_size;
  const bool remainder = n % options_.batch_size != 0;
  ShuffledPadding s;
  FM_ASSIGN_OR_RETURN(s.expected_sequences, expected_padded_rows(rows, options_.batch_size, full, remainder ? 1 : 0));
  s.worst_sequences = worst_padded_rows(rows, options_.batch_size, full, remainder);
  if (!sum_lengths(s.expected_sequences, &s.expected_positions, &s.expected_sum_squared_lengths) ||
      !sum_lengths(s.worst_sequences, &s.worst_positions, &s.worst_sum_squared_lengths)) {
    return Status::Overflow("the padded positions exceed 128 bits");
  }
  return s;
}

}  // namespace flopsmeter
