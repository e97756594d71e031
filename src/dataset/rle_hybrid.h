// RleHybridDecoder: Parquet's RLE / bit-packing hybrid encoding, used for
// repetition and definition levels, dictionary indices and booleans:
//
//   run := varint header, then
//          header & 1 == 0: an RLE run of (header >> 1) copies of one value
//                           stored in ceil(bit_width / 8) little-endian bytes
//          header & 1 == 1: (header >> 1) groups of 8 values bit-packed
//                           LSB first, bit_width bytes per group
//
// (https://parquet.apache.org/docs/file-format/data-pages/encodings/).
// The decoder streams: it holds one run's header and a position, never the
// decoded values, so a run that claims billions of values costs no memory.
// It reads only inside the bytes it is given; a last bit-packed run cut
// short yields only the values whose bits are there.
#ifndef FLOPSMETER_DATASET_RLE_HYBRID_H_
#define FLOPSMETER_DATASET_RLE_HYBRID_H_

#include <cstdint>
#include <string_view>

#include "flopsmeter/status.h"

namespace flopsmeter {

class RleHybridDecoder {
 public:
  RleHybridDecoder() = default;
  // `bit_width` is 0 to 32 (checked by the caller: width_for_max_value()).
  RleHybridDecoder(std::string_view data, int bit_width) : data_(data), bit_width_(bit_width) {}

  // The next value, or false when the data holds no more. A ParseError for
  // a header that runs past the data.
  Result<bool> next(uint32_t* value);

 private:
  Status start_run();
  uint32_t unpack(uint64_t bit_offset) const;

  std::string_view data_;
  int bit_width_ = 0;
  size_t pos_ = 0;              // next run header
  uint64_t run_left_ = 0;       // values left in the current run
  bool packed_ = false;         // the current run is bit-packed
  uint32_t repeated_ = 0;       // an RLE run's value
  uint64_t packed_bit_ = 0;     // bit offset in data_ of the next packed value
};

// Bits needed for values 0..max_value: 0 for 0, 1 for 1, 2 for 2-3, ...
int width_for_max_value(uint32_t max_value);

}  // namespace flopsmeter

#endif  // FLOPSMETER_DATASET_RLE_HYBRID_H_
