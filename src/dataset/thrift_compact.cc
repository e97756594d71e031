// ThriftCompactReader: varints, zigzag integers and the field and
// container headers of the compact protocol.
#include "dataset/thrift_compact.h"

#include "dataset/little_endian.h"

#include <bit>
#include <string>

namespace flopsmeter {
namespace {

int64_t unzigzag(uint64_t n) { return static_cast<int64_t>(n >> 1) ^ -static_cast<int64_t>(n & 1); }

bool is_known_type(uint8_t code) { return code <= static_cast<uint8_t>(ThriftType::kStruct); }

}  // namespace

Status ThriftCompactReader::error(std::string_view what) const {
  return Status::ParseError("thrift data at byte " + std::to_string(pos_) + ": " + std::string(what));
}

Result<uint64_t> ThriftCompactReader::read_varint() {
  uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos_ >= bytes_.size()) return error("ends inside a varint");
    const auto byte = static_cast<uint8_t>(bytes_[pos_++]);
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  return error("varint longer than 10 bytes");
}

Status ThriftCompactReader::begin_struct() {
  if (last_field_id_.size() >= static_cast<size_t>(kMaxThriftDepth)) {
    return error("structs nested deeper than " + std::to_string(kMaxThriftDepth));
  }
  last_field_id_.push_back(0);
  return Status::Ok();
}

void ThriftCompactReader::end_struct() {
  if (!last_field_id_.empty()) last_field_id_.pop_back();
}

Result<bool> ThriftCompactReader::next_field(ThriftField* field) {
  if (last_field_id_.empty()) return Status::Internal("ThriftCompactReader: next_field() outside a struct");
  if (pos_ >= bytes_.size()) return error("ends inside a struct");
  const auto header = static_cast<uint8_t>(bytes_[pos_++]);
  const uint8_t type = header & 0x0f;
  if (type == 0) return false;
  if (!is_known_type(type)) return error("unknown field type " + std::to_string(type));
  const uint8_t delta = header >> 4;
  int64_t id = 0;
  if (delta != 0) {
    id = last_field_id_.back() + int64_t{delta};
  } else {
    FM_ASSIGN_OR_RETURN(const uint64_t raw, read_varint());
    id = unzigzag(raw);
  }
  if (id < INT16_MIN || id > INT16_MAX) return error("field id out of range");
  last_field_id_.back() = static_cast<int16_t>(id);
  field->id = static_cast<int16_t>(id);
  field->type = static_cast<ThriftType>(type);
  return true;
}

Result<int8_t> ThriftCompactReader::read_byte() {
  if (pos_ >= bytes_.size()) return error("ends inside a byte value");
  return static_cast<int8_t>(bytes_[pos_++]);
}

Result<int16_t> ThriftCompactReader::read_i16() {
  FM_ASSIGN_OR_RETURN(const int64_t v, read_i64());
  if (v < INT16_MIN || v > INT16_MAX) return error("i16 value out of range");
  return static_cast<int16_t>(v);
}

Result<int32_t> ThriftCompactReader::read_i32() {
  FM_ASSIGN_OR_RETURN(const int64_t v, read_i64());
  if (v < INT32_MIN || v > INT32_MAX) return error("i32 value out of range");
  return static_cast<int32_t>(v);
}

Result<int64_t> ThriftCompactReader::read_i64() {
  FM_ASSIGN_OR_RETURN(const uint64_t raw, read_varint());
  return unzigzag(raw);
}

Result<double> ThriftCompactReader::read_double() {
  if (remaining() < 8) return error("ends inside a double");
  const uint64_t bits = load_u64(bytes_.data() + pos_);
  pos_ += 8;
  return std::bit_cast<double>(bits);
}

Result<std::string_view> ThriftCompactReader::read_binary() {
  FM_ASSIGN_OR_RETURN(const uint64_t length, read_varint());
  if (length > remaining()) {
    return error("binary of " + std::to_string(length) + " bytes, only " + std::to_string(remaining()) + " left");
  }
  const std::string_view value = bytes_.substr(pos_, length);
  pos_ += length;
  return value;
}

Result<ThriftList> ThriftCompactReader::read_list_header() {
  if (pos_ >= bytes_.size()) return error("ends inside a list header");
  const auto header = static_cast<uint8_t>(bytes_[pos_++]);
  const uint8_t type = header & 0x0f;
  if (type == 0 || !is_known_type(type)) return error("unknown list element type " + std::to_string(type));
  uint64_t size = header >> 4;
  if (size == 15) {
    FM_ASSIGN_OR_RETURN(size, read_varint());
  }
  // Every element takes at least one byte, so a count above the bytes left
  // is a lie; checking here bounds what callers reserve.
  if (size > remaining()) {
    return error("list of " + std::to_string(size) + " elements, only " + std::to_string(remaining()) + " bytes left");
  }
  return ThriftList{static_cast<ThriftType>(type), static_cast<uint32_t>(size)};
}

Result<bool> ThriftCompactReader::read_list_bool() {
  FM_ASSIGN_OR_RETURN(const int8_t b, read_byte());
  return b == 1;  // 1 true, 2 (or 0 from some writers) false
}

Status ThriftCompactReader::skip(ThriftType type) {
  switch (type) {
    case ThriftType::kTrue:
    case ThriftType::kFalse: return Status::Ok();
    case ThriftType::kByte: return read_byte().status();
    case ThriftType::kI16:
    case ThriftType::kI32:
    case ThriftType::kI64: return read_varint().status();
    case ThriftType::kDouble: return read_double().status();
    case ThriftType::kBinary: return read_binary().status();
    case ThriftType::kList:
    case ThriftType::kSet: return skip_list();
    case ThriftType::kMap: return skip_map();
    case ThriftType::kStruct: {
      FM_RETURN_IF_ERROR(begin_struct());
      ThriftField field;
      while (true) {
        FM_ASSIGN_OR_RETURN(const bool more, next_field(&field));
        if (!more) break;
        FM_RETURN_IF_ERROR(skip(field.type));
      }
      end_struct();
      return Status::Ok();
    }
    case ThriftType::kStop: break;
  }
  return error("cannot skip a value of type stop");
}

// Containers count toward the depth like structs: a list of lists of ...
// must not recurse without limit either.
Status ThriftCompactReader::skip_list() {
  FM_ASSIGN_OR_RETURN(const ThriftList list, read_list_header());
  FM_RETURN_IF_ERROR(begin_struct());
  for (uint32_t i = 0; i < list.size; ++i) {
    if (list.element == ThriftType::kTrue || list.element == ThriftType::kFalse) {
      FM_RETURN_IF_ERROR(read_byte().status());
    } else {
      FM_RETURN_IF_ERROR(skip(list.element));
    }
  }
  end_struct();
  return Status::Ok();
}

Status ThriftCompactReader::skip_map() {
  FM_ASSIGN_OR_RETURN(const uint64_t size, read_varint());
  if (size == 0) return Status::Ok();
  if (size > remaining()) return error("map of " + std::to_string(size) + " entries, too few bytes left");
  FM_ASSIGN_OR_RETURN(const int8_t types, read_byte());
  const auto key = static_cast<uint8_t>(static_cast<uint8_t>(types) >> 4);
  const auto value = static_cast<uint8_t>(types & 0x0f);
  if (key == 0 || value == 0 || !is_known_type(key) || !is_known_type(value)) return error("unknown map types");
  FM_RETURN_IF_ERROR(begin_struct());
  for (uint64_t i = 0; i < size; ++i) {
    for (const uint8_t t : {key, value}) {
      const auto type = static_cast<ThriftType>(t);
      if (type == ThriftType::kTrue || type == ThriftType::kFalse) {
        FM_RETURN_IF_ERROR(read_byte().status());
      } else {
        FM_RETURN_IF_ERROR(skip(type));
      }
    }
  }
  end_struct();
  return Status::Ok();
}

}  // namespace flopsmeter
