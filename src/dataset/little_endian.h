// Little-endian integers from unaligned bytes, the byte order of Parquet,
// Arrow IPC and FlatBuffers, whatever the machine's.
#ifndef FLOPSMETER_DATASET_LITTLE_ENDIAN_H_
#define FLOPSMETER_DATASET_LITTLE_ENDIAN_H_

#include <cstddef>
#include <cstdint>

namespace flopsmeter {

// The integer of `width` (1 to 8) bytes at `p`, sign-extended when `is_signed`.
inline int64_t load_little_endian(const char* p, size_t width, bool is_signed) {
  uint64_t value = 0;
  for (size_t i = 0; i < width; ++i) value |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  if (is_signed && width < 8 && (value >> (8 * width - 1)) != 0) value |= ~uint64_t{0} << (8 * width);
  return static_cast<int64_t>(value);
}

inline uint32_t load_u32(const char* p) { return static_cast<uint32_t>(load_little_endian(p, 4, false)); }
inline uint64_t load_u64(const char* p) { return static_cast<uint64_t>(load_little_endian(p, 8, false)); }

}  // namespace flopsmeter

#endif  // FLOPSMETER_DATASET_LITTLE_ENDIAN_H_
