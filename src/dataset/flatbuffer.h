// FlatTable: read-only access to a FlatBuffers buffer (the encoding of
// Arrow IPC's metadata), decoded by hand with every offset checked against
// the buffer's bounds. Absent fields read as their defaults, as FlatBuffers
// specifies. https://flatbuffers.dev/internals/
//
// A buffer may point back into itself; callers that follow tables
// recursively must bound their depth and the number of tables visited.
#ifndef FLOPSMETER_DATASET_FLATBUFFER_H_
#define FLOPSMETER_DATASET_FLATBUFFER_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "dataset/little_endian.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

class FlatTable;

// A vector's elements start at `begin`: `size` offsets to tables (tables)
// or `size` inline structs of a fixed width (structs).
struct FlatVector {
  std::string_view buffer;
  size_t begin = 0;
  uint32_t size = 0;
  // The table at element `i` (< size) of a vector of tables.
  Result<FlatTable> table(uint32_t i) const;
  // The bytes of inline struct `i` of `width` bytes (checked when the
  // vector is read: FlatTable::structs()).
  std::string_view struct_at(uint32_t i, size_t width) const { return buffer.substr(begin + i * width, width); }
};

class FlatTable {
 public:
  // The root table of `buffer`.
  static Result<FlatTable> root(std::string_view buffer);
  // The table at `position` (the target of an offset).
  static Result<FlatTable> at(std::string_view buffer, size_t position);

  // Scalar field `field` (the field's index in the schema), or `fallback`.
  Result<int64_t> integer(int field, size_t width, bool is_signed, int64_t fallback) const;
  Result<std::optional<FlatTable>> table(int field) const;
  Result<std::optional<std::string_view>> string(int field) const;
  // A vector of tables; an absent field is an empty vector.
  Result<FlatVector> tables(int field) const;
  // A vector of inline structs of `width` bytes each, checked to fit.
  Result<FlatVector> structs(int field, size_t width) const;

 private:
  FlatTable(std::string_view buffer, size_t position, size_t vtable, uint16_t vtable_size, uint16_t table_size)
      : buffer_(buffer), position_(position), vtable_(vtable), vtable_size_(vtable_size), table_size_(table_size) {}
  // Where field `field`'s value is, or 0 when absent; checks `width` bytes fit.
  Result<size_t> field_position(int field, size_t width) const;
  // The target of the offset stored at field `field`, or nullopt.
  Result<std::optional<size_t>> follow(int field) const;
  Result<FlatVector> vector(int field, size_t element_width) const;

  std::string_view buffer_;
  size_t position_;
  size_t vtable_;
  uint16_t vtable_size_;
  uint16_t table_size_;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_DATASET_FLATBUFFER_H_
