// ThriftCompactReader: the Thrift compact protocol, the encoding of
// Parquet's footer (FileMetaData) and page headers, decoded by hand over a
// byte span that it never reads past.
//
//   ThriftCompactReader in(footer_bytes);
//   ThriftField field;
//   while (true) {
//     FM_ASSIGN_OR_RETURN(bool more, in.next_field(&field));
//     if (!more) break;  // the struct's stop byte
//     if (field.id == 3 && field.type == ThriftType::kI64) {
//       FM_ASSIGN_OR_RETURN(num_rows, in.read_i64());
//     } else {
//       FM_RETURN_IF_ERROR(in.skip(field.type));
//     }
//   }
//
// Bounded: every length and element count is checked against the bytes
// left before anything is allocated, varints are at most 10 bytes, and
// structs, lists and maps may nest at most kMaxThriftDepth deep (a skip()
// of a hostile value cannot recurse without limit). Errors are ParseErrors
// naming the byte offset; callers add the file and what was being read.
// The protocol: https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md
#ifndef FLOPSMETER_DATASET_THRIFT_COMPACT_H_
#define FLOPSMETER_DATASET_THRIFT_COMPACT_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "flopsmeter/status.h"

namespace flopsmeter {

// Parquet's own structs nest about 6 deep; statistics and unknown future
// fields a little more.
inline constexpr int kMaxThriftDepth = 32;

// The compact protocol's type codes.
enum class ThriftType : uint8_t {
  kStop = 0,
  kTrue = 1,  // a bool field whose value is true (in lists: any bool)
  kFalse = 2,
  kByte = 3,
  kI16 = 4,
  kI32 = 5,
  kI64 = 6,
  kDouble = 7,
  kBinary = 8,
  kList = 9,
  kSet = 10,
  kMap = 11,
  kStruct = 12,
};

struct ThriftField {
  int16_t id = 0;
  ThriftType type = ThriftType::kStop;
};

struct ThriftList {
  ThriftType element = ThriftType::kStop;
  uint32_t size = 0;  // checked: at most the bytes left
};

class ThriftCompactReader {
 public:
  explicit ThriftCompactReader(std::string_view bytes) : bytes_(bytes) {}

  // Offset of the next byte to read.
  size_t position() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }

  // Inside a struct: the next field's header, or false at its stop byte
  // (which is consumed, and ends the struct: call end_struct() after).
  // begin_struct() must have been called for the struct (the outermost
  // one too), so that field ids are tracked per struct and depth bounded.
  Status begin_struct();
  Result<bool> next_field(ThriftField* field);
  void end_struct();

  // Values. A field of type kTrue or kFalse carries its value in the
  // header: use bool_value().
  Result<int8_t> read_byte();
  Result<int16_t> read_i16();
  Result<int32_t> read_i32();
  Result<int64_t> read_i64();
  Result<double> read_double();
  // A view into the bytes given to the constructor.
  Result<std::string_view> read_binary();
  // A list or set header; its elements follow. Elements of kTrue/kFalse
  // type are one byte each: read them with read_list_bool().
  Result<ThriftList> read_list_header();
  Result<bool> read_list_bool();
  static bool bool_value(ThriftType type) { return type == ThriftType::kTrue; }

  // Skips one value of `type` (a whole struct, list or map).
  Status skip(ThriftType type);

 private:
  Result<uint64_t> read_varint();
  Status error(std::string_view what) const;
  Status skip_list();
  Status skip_map();

  std::string_view bytes_;
  size_t pos_ = 0;
  // The last field id of each open struct (ids may be sent as deltas).
  std::vector<int16_t> last_field_id_;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_DATASET_THRIFT_COMPACT_H_
