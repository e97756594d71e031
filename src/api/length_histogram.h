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
  // `slots` (a power of two) bounds the lengths kept lock-free; further
  // distinct lengths go to a mutex-guarded map, still exact.
  explicit ConcurrentLengthHistogram(size_t slots = size_t{1} << 15);
  // Lock-free while the table has room. Length 0 is ignored.
  void add(uint64_t length, uint64_t count) noexcept;
  std::map<uint64_t, uint64_t> snapshot() const;

 private:
  struct Slot {
    std::atomic<uint64_t> length{0};  // 0: empty
    std::atomic<uint64_t> count{0};
  };
  size_t mask_;
  size_t max_used_;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<size_t> used_{0};
  mutable std::mutex overflow_mutex_;
  std::map<uint64_t, uint64_t> overflow_;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_API_LENGTH_HISTOGRAM_H_
