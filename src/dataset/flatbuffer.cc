// FlatTable: vtables, offsets, strings and vectors, bounds-checked.
#include "dataset/flatbuffer.h"

#include <string>

namespace flopsmeter {
namespace {

Status out_of_bounds(std::string_view what, size_t position) {
  return Status::ParseError("flatbuffer " + std::string(what) + " at byte " + std::to_string(position) +
                            " lies outside the buffer");
}

}  // namespace

Result<FlatTable> FlatTable::root(std::string_view buffer) {
  if (buffer.size() < 4) return out_of_bounds("root offset", 0);
  return at(buffer, static_cast<size_t>(load_little_endian(buffer.data(), 4, false)));
}

Result<FlatTable> FlatTable::at(std::string_view buffer, size_t position) {
  if (position > buffer.size() || buffer.size() - position < 4) return out_of_bounds("table", position);
  const int64_t vtable = static_cast<int64_t>(position) - load_little_endian(buffer.data() + position, 4, true);
  if (vtable < 0 || static_cast<size_t>(vtable) > buffer.size() - 4) return out_of_bounds("vtable", position);
  const auto vt = static_cast<size_t>(vtable);
  const auto vtable_size = static_cast<uint16_t>(load_little_endian(buffer.data() + vt, 2, false));
  const auto table_size = static_cast<uint16_t>(load_little_endian(buffer.data() + vt + 2, 2, false));
  if (vtable_size < 4 || vtable_size % 2 != 0 || vt + vtable_size > buffer.size()) {
    return out_of_bounds("vtable", vt);
  }
  if (table_size < 4 || position + table_size > buffer.size()) return out_of_bounds("table", position);
  return FlatTable(buffer, position, vt, vtable_size, table_size);
}

Result<size_t> FlatTable::field_position(int field, size_t width) const {
  const size_t slot = 4 + 2 * static_cast<size_t>(field);
  if (slot + 2 > vtable_size_) return size_t{0};
  const auto offset = static_cast<size_t>(load_little_endian(buffer_.data() + vtable_ + slot, 2, false));
  if (offset == 0) return size_t{0};
  if (offset + width > table_size_) return out_of_bounds("field", position_ + offset);
  return position_ + offset;
}

Result<int64_t> FlatTable::integer(int field, size_t width, bool is_signed, int64_t fallback) const {
  FM_ASSIGN_OR_RETURN(const size_t at, field_position(field, width));
  if (at == 0) return fallback;
  return load_little_endian(buffer_.data() + at, width, is_signed);
}

Result<std::optional<size_t>> FlatTable::follow(int field) const {
  FM_ASSIGN_OR_RETURN(const size_t at, field_position(field, 4));
  if (at == 0) return std::optional<size_t>();
  const auto target = at + static_cast<size_t>(load_little_endian(buffer_.data() + at, 4, false));
  if (target > buffer_.size()) return out_of_bounds("offset target", target);
  return std::optional<size_t>(target);
}

Result<std::optional<FlatTable>> FlatTable::table(int field) const {
  FM_ASSIGN_OR_RETURN(const std::optional<size_t> target, follow(field));
  if (!target) return std::optional<FlatTable>();
  FM_ASSIGN_OR_RETURN(FlatTable t, at(buffer_, *target));
  return std::optional<FlatTable>(t);
}

Result<std::optional<std::string_view>> FlatTable::string(int field) const {
  FM_ASSIGN_OR_RETURN(const FlatVector bytes, vector(field, 1));
  if (bytes.begin == 0) return std::optional<std::string_view>();
  return std::optional<std::string_view>(buffer_.substr(bytes.begin, bytes.size));
}

Result<FlatVector> FlatTable::vector(int field, size_t element_width) const {
  FM_ASSIGN_OR_RETURN(const std::optional<size_t> target, follow(field));
  if (!target) return FlatVector{buffer_, 0, 0};
  if (buffer_.size() - *target < 4) return out_of_bounds("vector", *target);
  const auto size = static_cast<uint64_t>(load_little_endian(buffer_.data() + *target, 4, false));
  if (size * element_width > buffer_.size() - *target - 4) return out_of_bounds("vector's elements", *target);
  return FlatVector{buffer_, *target + 4, static_cast<uint32_t>(size)};
}

Result<FlatVector> FlatTable::tables(int field) const { return vector(field, 4); }

Result<FlatVector> FlatTable::structs(int field, size_t width) const { return vector(field, width); }

Result<FlatTable> FlatVector::table(uint32_t i) const {
  const size_t at = begin + size_t{i} * 4;
  return FlatTable::at(buffer, at + static_cast<size_t>(load_little_endian(buffer.data() + at, 4, false)));
}

}  // namespace flopsmeter
