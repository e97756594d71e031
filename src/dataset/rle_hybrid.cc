// RleHybridDecoder: run headers and LSB-first bit unpacking.
#include "dataset/rle_hybrid.h"

#include <algorithm>
#include <bit>
#include <string>

namespace flopsmeter {

int width_for_max_value(uint32_t max_value) { return std::bit_width(max_value); }

uint32_t RleHybridDecoder::unpack(uint64_t bit_offset) const {
  // At most 32 bits starting at any of 8 bit positions: 5 bytes, read one
  // by one so that the last value never reads past the data.
  const size_t first = static_cast<size_t>(bit_offset / 8);
  const int skip = static_cast<int>(bit_offset % 8);
  const size_t bytes = std::min<size_t>((static_cast<size_t>(skip + bit_width_) + 7) / 8, data_.size() - first);
  uint64_t word = 0;
  for (size_t i = 0; i < bytes; ++i) word |= uint64_t{static_cast<uint8_t>(data_[first + i])} << (8 * i);
  const uint64_t mask = (uint64_t{1} << bit_width_) - 1;
  return static_cast<uint32_t>((word >> skip) & mask);
}

Status RleHybridDecoder::start_run() {
  uint64_t header = 0;
  int shift = 0;
  while (true) {
    if (pos_ >= data_.size()) return Status::ParseError("RLE/bit-packed data ends inside a run header");
    if (shift > 63) return Status::ParseError("RLE/bit-packed run header longer than 10 bytes");
    const auto byte = static_cast<uint8_t>(data_[pos_++]);
    header |= uint64_t{byte & 0x7fu} << shift;
    shift += 7;
    if ((byte & 0x80) == 0) break;
  }
  const uint64_t count = header >> 1;
  if ((header & 1) != 0) {
    // Groups of 8 values, bit_width bytes each; only what is there counts.
    const uint64_t groups_bytes = std::min<uint64_t>(count, data_.size()) * static_cast<uint64_t>(bit_width_);
    const uint64_t bytes = std::min<uint64_t>(groups_bytes, data_.size() - pos_);
    packed_ = true;
    packed_bit_ = uint64_t{pos_} * 8;
    run_left_ = bit_width_ == 0 ? std::min<uint64_t>(count, UINT64_MAX / 8) * 8 : bytes * 8 / static_cast<uint64_t>(bit_width_);
    pos_ += static_cast<size_t>(bytes);
    return Status::Ok();
  }
  const size_t value_bytes = static_cast<size_t>((bit_width_ + 7) / 8);
  if (data_.size() - pos_ < value_bytes) return Status::ParseError("RLE/bit-packed data ends inside an RLE run's value");
  uint32_t value = 0;
  for (size_t i = 0; i < value_bytes; ++i) value |= uint32_t{static_cast<uint8_t>(data_[pos_ + i])} << (8 * i);
  pos_ += value_bytes;
  packed_ = false;
  repeated_ = value;
  run_left_ = count;
  return Status::Ok();
}

Result<bool> RleHybridDecoder::next(uint32_t* value) {
  while (run_left_ == 0) {
    if (pos_ >= data_.size()) return false;
    FM_RETURN_IF_ERROR(start_run());
  }
  --run_left_;
  if (!packed_) {
    *value = repeated_;
    return true;
  }
  *value = bit_width_ == 0 ? 0 : unpack(packed_bit_);
  packed_bit_ += static_cast<uint64_t>(bit_width_);
  return true;
}

}  // namespace flopsmeter
