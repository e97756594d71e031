// Parquet's footer and page headers (Thrift structs of parquet.thrift),
// decoded from the compact protocol into the few fields a row reader needs;
// every other field is skipped.
// https://github.com/apache/parquet-format/blob/master/src/main/thrift/parquet.thrift
//
// Row groups are decoded one at a time (next_row_group()) from the footer
// bytes, so a footer listing thousands of row groups never becomes
// thousands of structs at once.
#ifndef FLOPSMETER_DATASET_PARQUET_METADATA_H_
#define FLOPSMETER_DATASET_PARQUET_METADATA_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dataset/thrift_compact.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

// parquet.thrift's Type.
enum class ParquetType : int32_t {
  kBoolean = 0,
  kInt32 = 1,
  kInt64 = 2,
  kInt96 = 3,
  kFloat = 4,
  kDouble = 5,
  kByteArray = 6,
  kFixedLenByteArray = 7,
};

// FieldRepetitionType.
enum class ParquetRepetition : int32_t { kRequired = 0, kOptional = 1, kRepeated = 2 };

// The annotations (ConvertedType, or the LogicalType union, whichever the
// writer set) that change how a row's value is written as JSON.
enum class ParquetAnnotation {
  kNone,
  kString,    // STRING / UTF8, ENUM, JSON: text
  kList,      // LIST
  kMap,       // MAP, MAP_KEY_VALUE
  kUnsigned,  // UINT_8..UINT_64, INTEGER(signed=false)
  kOpaque,    // DECIMAL, INTERVAL, UUID, FLOAT16, BSON, VARIANT, GEOMETRY...: no JSON form read here
};

struct ParquetSchemaElement {
  std::string name;
  std::optional<ParquetType> type;  // absent for a group
  ParquetRepetition repetition = ParquetRepetition::kRequired;
  int32_t num_children = 0;
  ParquetAnnotation annotation = ParquetAnnotation::kNone;
};

// CompressionCodec.
enum class ParquetCodec : int32_t {
  kUncompressed = 0,
  kSnappy = 1,
  kGzip = 2,
  kLzo = 3,
  kBrotli = 4,
  kLz4 = 5,
  kZstd = 6,
  kLz4Raw = 7,
};
std::string codec_name(int32_t codec);

// Encoding.
enum class ParquetEncoding : int32_t {
  kPlain = 0,
  kPlainDictionary = 2,
  kRle = 3,
  kBitPacked = 4,
  kDeltaBinaryPacked = 5,
  kDeltaLengthByteArray = 6,
  kDeltaByteArray = 7,
  kRleDictionary = 8,
  kByteStreamSplit = 9,
};
std::string encoding_name(int32_t encoding);

struct ParquetColumnChunk {
  int32_t type = -1;   // ParquetType, as written (checked against the schema)
  int32_t codec = 0;   // ParquetCodec, as written (checked when a page is read)
  int64_t num_values = 0;
  int64_t total_compressed_size = 0;
  int64_t data_page_offset = -1;
  std::optional<int64_t> dictionary_page_offset;
  bool in_other_file = false;  // file_path set
  bool encrypted = false;      // crypto_metadata or encrypted_column_metadata set
};

struct ParquetRowGroup {
  int64_t num_rows = 0;
  std::vector<ParquetColumnChunk> columns;
};

struct ParquetFileMetadata {
  std::vector<ParquetSchemaElement> schema;  // depth-first, the root first
  int64_t num_rows = 0;
  uint32_t row_group_count = 0;
  bool encrypted = false;  // encryption_algorithm set (plaintext footer mode)
  // The footer bytes holding the row groups, from the first one on.
  std::string_view row_groups;
};

// Schemas wider than this are refused (the widest real datasets have a
// few thousand columns); it bounds the per-column state of a reader.
inline constexpr uint32_t kMaxParquetSchemaElements = 100000;

// FileMetaData. `footer` must outlive the result (row_groups views it).
Result<ParquetFileMetadata> decode_file_metadata(std::string_view footer);

// Reads the row groups of `metadata` in order.
class ParquetRowGroupDecoder {
 public:
  explicit ParquetRowGroupDecoder(const ParquetFileMetadata& metadata)
      : reader_(metadata.row_groups), left_(metadata.row_group_count) {}
  uint32_t left() const { return left_; }
  // The next RowGroup; call only while left() > 0.
  Result<ParquetRowGroup> next();

 private:
  ThriftCompactReader reader_;
  uint32_t left_;
};

// PageType.
enum class ParquetPageType : int32_t { kDataPage = 0, kIndexPage = 1, kDictionaryPage = 2, kDataPageV2 = 3 };

struct ParquetPageHeader {
  int32_t type = -1;  // ParquetPageType, as written
  int32_t uncompressed_page_size = -1;
  int32_t compressed_page_size = -1;
  int32_t num_values = -1;
  int32_t encoding = -1;
  // DATA_PAGE: the levels' encodings (RLE; BIT_PACKED is refused).
  int32_t definition_level_encoding = static_cast<int32_t>(ParquetEncoding::kRle);
  int32_t repetition_level_encoding = static_cast<int32_t>(ParquetEncoding::kRle);
  // DATA_PAGE_V2: the levels' lengths, stored uncompressed before the values.
  int32_t definition_levels_byte_length = 0;
  int32_t repetition_levels_byte_length = 0;
  bool is_compressed = true;
};

// A PageHeader at the start of `bytes`; `*header_bytes` is set to its
// encoded length. A ParseError also when `bytes` holds only part of it.
Result<ParquetPageHeader> decode_page_header(std::string_view bytes, size_t* header_bytes);

}  // namespace flopsmeter

#endif  // FLOPSMETER_DATASET_PARQUET_METADATA_H_
