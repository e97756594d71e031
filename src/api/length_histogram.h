// A histogram of sequence lengths that many threads add to without locks:
// the meter's record of executed attention sequences, which the detailed
// formula needs by length (the attention term is not linear in it).
#ifndef FLOPSMETER_API_LENGTH_HISTOGRAM_H_
#define FLOPSMETER_API_LENGTH_HISTOGRAM_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

namespace flopsmeter {

class ConcurrentLengthHistogram {
 public:
  // Lengths below `direct_lengths` are counted at their own index; longer
  // ones go to an open-addressing table of `slots` (a power of two), and
  // past its load limit to a mutex-guarded map, still exact.
  explicit ConcurrentLengthHistogram(size_t direct_lengths = size_t{1} << 14, size_t slots = size_t{1} << 12);
  // Lock-free while the table has room. Length 0 is ignored.
  void add(uint64_t length, uint64_t count) noexcept;
  std::map<uint64_t, uint64_t> snapshot() const;

 private:
  struct Slot {
    std::atomic<uint64_t> length{0};  // 0: empty
    std::atomic<uint64_t> count{0};
  };
  void add_long(uint64_t length, uint64_t count) noexcept;

  // Direct indexing keeps the lengths of one training job, which cluster, on
  // a few neighbouring pages: a cold add() costs a cache miss, not also a
  // TLB miss as a hashed slot in a large table would (bench/meter_bench).
  size_t direct_size_;
  std::unique_ptr<std::atomic<uint64_t>[]> direct_;
  size_t mask_;
  size_t max_used_;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<size_t> used_{0};
  mutable std::mutex overflow_mutex_;
  std::map<uint64_t, uint64_t> overflow_;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_LENGTH_HISTOGRAM_H_
