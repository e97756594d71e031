#include "api/length_histogram.h"

namespace flopsmeter {

ConcurrentLengthHistogram::ConcurrentLengthHistogram(size_t direct_lengths, size_t slots)
    : direct_size_(direct_lengths),
      direct_(new std::atomic<uint64_t>[direct_lengths]()),
      mask_(slots - 1),
      max_used_(slots / 2),
      slots_(new Slot[slots]) {}

void ConcurrentLengthHistogram::add(uint64_t length, uint64_t count) noexcept {
  if (length == 0 || count == 0) return;
  if (length < direct_size_) {
    direct_[length].fetch_add(count, std::memory_order_relaxed);
    return;
  }
  add_long(length, count);
}

void ConcurrentLengthHistogram::add_long(uint64_t length, uint64_t count) noexcept {
  // Fibonacci hashing spreads clustered lengths over the table.
  size_t i = static_cast<size_t>((length * 0x9E3779B97F4A7C15ull) >> 20) & mask_;
  for (size_t probes = 0; probes <= mask_; ++probes, i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    uint64_t key = s.length.load(std::memory_order_acquire);
    if (key == length) {
      s.count.fetch_add(count, std::memory_order_relaxed);
      return;
    }
    if (key != 0) continue;
    // Claim the empty slot, unless the table is at its load limit.
    if (used_.load(std::memory_order_relaxed) >= max_used_) break;
    if (s.length.compare_exchange_strong(key, length, std::memory_order_acq_rel)) {
      used_.fetch_add(1, std::memory_order_relaxed);
      s.count.fetch_add(count, std::memory_order_relaxed);
      return;
    }
    if (key == length) {  // another thread claimed it for the same length
      s.count.fetch_add(count, std::memory_order_relaxed);
      return;
    }
  }
  std::lock_guard<std::mutex> lock(overflow_mutex_);
  overflow_[length] += count;
}

std::map<uint64_t, uint64_t> ConcurrentLengthHistogram::snapshot() const {
  std::map<uint64_t, uint64_t> out;
  for (size_t length = 1; length < direct_size_; ++length) {
    const uint64_t count = direct_[length].load(std::memory_order_relaxed);
    if (count != 0) out.emplace_hint(out.end(), length, count);
  }
  for (size_t i = 0; i <= mask_; ++i) {
    uint64_t length = slots_[i].length.load(std::memory_order_acquire);
    uint64_t count = slots_[i].count.load(std::memory_order_relaxed);
    if (length != 0 && count != 0) out[length] += count;
  }
  std::lock_guard<std::mutex> lock(overflow_mutex_);
  for (const auto& [length, count] : overflow_) out[length] += count;
  return out;
}

}  // namespace flopsmeter
