// Hostile Parquet and Arrow files: lying lengths and counts, huge declared
// sizes, deep nesting, corrupt pages, and every truncation and byte flip of
// real files. Each must be an error that names the file (and where in it),
// never a crash, a hang or an allocation of what the file claims.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "adapters/files.h"
#include "dataset/record_reader.h"
#include "dataset/thrift_compact.h"
#include "test_support.h"

namespace flopsmeter {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::TempDir;

// Thrift compact protocol, written (the inverse of ThriftCompactReader).
class ThriftWriter {
 public:
  void field(int16_t id, ThriftType type) {
    const int delta = id - last_.back();
    if (delta > 0 && delta <= 15) {
      byte((delta << 4) | static_cast<int>(type));
    } else {
      byte(static_cast<int>(type));
      varint(zigzag(id));
    }
    last_.back() = id;
  }
  void i32(int16_t id, int64_t v) {
    field(id, ThriftType::kI32);
    varint(zigzag(v));
  }
  void i64(int16_t id, int64_t v) {
    field(id, ThriftType::kI64);
    varint(zigzag(v));
  }
  void binary(int16_t id, std::string_view s) {
    field(id, ThriftType::kBinary);
    varint(s.size());
    bytes_ += s;
  }
  void begin_struct(int16_t id) {
    field(id, ThriftType::kStruct);
    last_.push_back(0);
  }
  void begin_list(int16_t id, ThriftType element, uint64_t size) {
    field(id, ThriftType::kList);
    byte(0xf0 | static_cast<int>(element));
    varint(size);
  }
  // A struct element of a list.
  void begin_element() { last_.push_back(0); }
  void end_struct() {
    byte(0);
    last_.pop_back();
  }
  // The outermost struct's stop byte.
  std::string finish() {
    byte(0);
    return bytes_;
  }

 private:
  static uint64_t zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
  void byte(int b) { bytes_.push_back(static_cast<char>(b)); }
  void varint(uint64_t v) {
    for (; v >= 0x80; v >>= 7) byte(static_cast<int>((v & 0x7f) | 0x80));
    byte(static_cast<int>(v));
  }
  std::string bytes_;
  std::vector<int16_t> last_{0};
};

std::string U32(uint32_t v) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[static_cast<size_t>(i)] = static_cast<char>(v >> (8 * i));
  return out;
}

// One optional string column "text" (inside `nesting` required groups), one
// row group, one PLAIN data page v1; each field can be made to lie.
struct ParquetSpec {
  std::vector<std::optional<std::string>> values = {"a", std::nullopt, "ccc"};
  int nesting = 0;
  int32_t codec = 0;
  int32_t encoding = 0;
  std::optional<int32_t> root_children;
  std::optional<int64_t> row_group_rows;
  std::optional<int32_t> page_values;
  std::optional<int32_t> uncompressed_size;
  std::optional<int32_t> compressed_size;
  std::optional<int64_t> chunk_bytes;
  std::optional<uint32_t> footer_length;
  std::optional<uint64_t> schema_size;
  std::optional<std::string> page_body;
};

std::string ParquetBytes(const ParquetSpec& spec) {
  const size_t n = spec.values.size();
  // Definition levels, bit-packed with width 1.
  std::string levels(1, static_cast<char>((((n + 7) / 8) << 1) | 1));
  levels.append((n + 7) / 8, '\0');
  std::string values;
  for (size_t i = 0; i < n; ++i) {
    if (!spec.values[i]) continue;
    levels[1 + i / 8] = static_cast<char>(levels[1 + i / 8] | (1 << (i % 8)));
    values += U32(static_cast<uint32_t>(spec.values[i]->size())) + *spec.values[i];
  }
  const std::string body = spec.page_body.value_or(U32(static_cast<uint32_t>(levels.size())) + levels + values);
  ThriftWriter page;
  page.i32(1, 0);  // DATA_PAGE
  page.i32(2, spec.uncompressed_size.value_or(static_cast<int32_t>(body.size())));
  page.i32(3, spec.compressed_size.value_or(static_cast<int32_t>(body.size())));
  page.begin_struct(5);
  page.i32(1, spec.page_values.value_or(static_cast<int32_t>(n)));
  page.i32(2, spec.encoding);
  page.i32(3, 3);
  page.i32(4, 3);
  page.end_struct();
  const std::string chunk = page.finish() + body;

  ThriftWriter meta;
  meta.i32(1, 1);
  if (spec.schema_size) {
    meta.begin_list(2, ThriftType::kStruct, *spec.schema_size);
  } else {
    meta.begin_list(2, ThriftType::kStruct, static_cast<uint64_t>(2 + spec.nesting));
  }
  meta.begin_element();
  meta.binary(4, "schema");
  meta.i32(5, spec.root_children.value_or(1));
  meta.end_struct();
  for (int i = 0; i < spec.nesting; ++i) {
    meta.begin_element();
    meta.i32(3, 0);
    meta.binary(4, "g");
    meta.i32(5, 1);
    meta.end_struct();
  }
  meta.begin_element();
  meta.i32(1, 6);  // BYTE_ARRAY
  meta.i32(3, 1);  // OPTIONAL
  meta.binary(4, "text");
  meta.i32(6, 0);  // UTF8
  meta.end_struct();
  meta.i64(3, static_cast<int64_t>(n));
  meta.begin_list(4, ThriftType::kStruct, 1);
  meta.begin_element();
  meta.begin_list(1, ThriftType::kStruct, 1);
  meta.begin_element();
  meta.i64(2, 4);
  meta.begin_struct(3);
  meta.i32(1, 6);
  meta.i32(4, spec.codec);
  meta.i64(5, static_cast<int64_t>(n));
  meta.i64(7, spec.chunk_bytes.value_or(static_cast<int64_t>(chunk.size())));
  meta.i64(9, 4);
  meta.end_struct();
  meta.end_struct();
  meta.i64(3, spec.row_group_rows.value_or(static_cast<int64_t>(n)));
  meta.end_struct();
  const std::string footer = meta.finish();
  return "PAR1" + chunk + footer + U32(spec.footer_length.value_or(static_cast<uint32_t>(footer.size()))) + "PAR1";
}

Result<std::vector<std::string>> Rows(const std::string& path) {
  FM_ASSIGN_OR_RETURN(std::unique_ptr<RecordReader> reader,
                      RecordReader::Open(path, DatasetFormat::kAuto, TextUnit::kLine));
  std::vector<RawRecord> records;
  while (true) {
    FM_ASSIGN_OR_RETURN(const bool more, reader->next_batch(&records, 1 << 16));
    if (!more) break;
  }
  std::vector<std::string> texts;
  for (const RawRecord& r : records) texts.push_back(r.text);
  return texts;
}

// The error reading `spec`'s file, which must fail.
std::string ErrorOf(const ParquetSpec& spec, const TempDir& dir, std::string* path = nullptr) {
  const std::string file = dir.file("train.parquet", ParquetBytes(spec));
  if (path != nullptr) *path = file;
  Result<std::vector<std::string>> rows = Rows(file);
  EXPECT_FALSE(rows.ok());
  if (rows.ok()) return "";
  EXPECT_THAT(rows.status().message(), StartsWith(file + ": "));
  return rows.status().message();
}

TEST(ParquetHostile, TheBuilderWritesAFileThatReads) {
  TempDir dir;
  Result<std::vector<std::string>> rows = Rows(dir.file("ok.parquet", ParquetBytes({})));
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  EXPECT_EQ(*rows, (std::vector<std::string>{R"({"text":"a"})", R"({"text":null})", R"({"text":"ccc"})"}));
  ParquetSpec nested;
  nested.nesting = 3;
  rows = Rows(dir.file("nested.parquet", ParquetBytes(nested)));
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  EXPECT_EQ(rows->at(0), R"({"g":{"g":{"g":{"text":"a"}}}})");
}

TEST(ParquetHostile, NegativeCounts) {
  TempDir dir;
  ParquetSpec children;
  children.root_children = -1;
  EXPECT_THAT(ErrorOf(children, dir), HasSubstr("schema: negative number of children"));
  ParquetSpec rows;
  rows.row_group_rows = -5;
  EXPECT_THAT(ErrorOf(rows, dir), HasSubstr("row group 0: a row group has no valid num_rows"));
  ParquetSpec values;
  values.page_values = -1;
  EXPECT_THAT(ErrorOf(values, dir), HasSubstr("row group 0, column 'text', page 0: negative number of values"));
  ParquetSpec size;
  size.uncompressed_size = -7;
  size.codec = 6;
  EXPECT_THAT(ErrorOf(size, dir), HasSubstr("negative uncompressed page size"));
}

TEST(ParquetHostile, HugeDeclaredSizesAreRefusedBeforeAllocating) {
  TempDir dir;
  ParquetSpec page;
  page.uncompressed_size = INT32_MAX;
  page.codec = 6;
  EXPECT_THAT(ErrorOf(page, dir), HasSubstr("would pass the limit of 1073741824 bytes held at once"));
  ParquetSpec compressed;
  compressed.compressed_size = INT32_MAX;
  EXPECT_THAT(ErrorOf(compressed, dir), HasSubstr("page of 2147483647 bytes runs past the column chunk's end"));
  ParquetSpec chunk;
  chunk.chunk_bytes = INT64_MAX;
  EXPECT_THAT(ErrorOf(chunk, dir), HasSubstr("lie outside the file's data"));
  ParquetSpec footer;
  footer.footer_length = 0xfffffff0u;
  EXPECT_THAT(ErrorOf(footer, dir), HasSubstr("footer of 4294967280 bytes is longer than the file"));
  ParquetSpec schema;
  schema.schema_size = uint64_t{1} << 40;
  EXPECT_THAT(ErrorOf(schema, dir), HasSubstr("file metadata: thrift data at byte"));
  ParquetSpec values;  // 2^31-1 values claimed in a page of three: the levels run out
  values.page_values = INT32_MAX;
  values.row_group_rows = INT32_MAX;
  EXPECT_THAT(ErrorOf(values, dir), HasSubstr("definition levels end before the page's values"));
}

TEST(ParquetHostile, RowCountsThatDisagreeWithTheColumns) {
  TempDir dir;
  ParquetSpec more;
  more.row_group_rows = 10;
  EXPECT_THAT(ErrorOf(more, dir), HasSubstr("column 'text', page 0: ends after 3 of the row group's 10 rows"));
  ParquetSpec fewer;
  fewer.row_group_rows = 1;
  EXPECT_THAT(ErrorOf(fewer, dir), HasSubstr("holds more values than the row group's 1 rows"));
}

TEST(ParquetHostile, DeepNestingIsRefused) {
  TempDir dir;
  ParquetSpec deep;
  deep.nesting = 1000;
  EXPECT_THAT(ErrorOf(deep, dir), HasSubstr("the schema nests deeper than 64 levels"));
}

TEST(ParquetHostile, ErrorsNameRowGroupColumnAndPage) {
  TempDir dir;
  ParquetSpec snappy;
  snappy.codec = 1;
  snappy.page_body = std::string(16, '\xff');
  std::string path;
  const std::string error = ErrorOf(snappy, dir, &path);
  EXPECT_EQ(error, path + ": row group 0, column 'text', page 0: snappy data is corrupt");
  ParquetSpec zstd;
  zstd.codec = 6;
  zstd.page_body = "not zstd at all";
  EXPECT_THAT(ErrorOf(zstd, dir), HasSubstr("row group 0, column 'text', page 0: zstd data is corrupt: "));
  ParquetSpec gzip;
  gzip.codec = 2;
  gzip.page_body = "not gzip at all";
  EXPECT_THAT(ErrorOf(gzip, dir), HasSubstr("page 0: gzip data is corrupt"));
  ParquetSpec delta;
  delta.encoding = 7;
  EXPECT_THAT(ErrorOf(delta, dir), HasSubstr("page 0: values in DELTA_BYTE_ARRAY encoding"));
  ParquetSpec lzo;
  lzo.codec = 3;
  EXPECT_THAT(ErrorOf(lzo, dir), HasSubstr("column 'text': codec LZO is not supported"));
}

// Every `stride`-th prefix of a real file, and every `stride`-th byte of it
// inverted: an error or rows, never a crash (the sanitizer build runs this
// too; the strides keep it to seconds there).
void Mangle(const std::string& fixture, size_t stride) {
  TempDir dir;
  const std::string bytes = *read_file(testing::source_path("tests/data/tables/" + fixture), 1 << 20);
  const std::string path = dir.path() + "/" + fixture;
  for (size_t length = 0; length < bytes.size(); length += stride) {
    dir.file(fixture, bytes.substr(0, length));
    Result<std::vector<std::string>> rows = Rows(path);
    if (length > 8) {
      EXPECT_FALSE(rows.ok()) << fixture << " cut to " << length << " bytes was read whole";
    }
  }
  for (size_t at = 0; at < bytes.size(); at += stride) {
    std::string flipped = bytes;
    flipped[at] = static_cast<char>(flipped[at] ^ 0xff);
    dir.file(fixture, flipped);
    Result<std::vector<std::string>> rows = Rows(path);
    if (!rows.ok()) {
      EXPECT_THAT(rows.status().message(), StartsWith(path + ": ")) << "byte " << at;
    }
  }
}

TEST(ParquetHostile, EveryTruncationAndByteFlip) {
  Mangle("rows_snappy_v1_dict.parquet", 3);
  Mangle("rows_zstd_v2_dict.parquet", 7);
}

TEST(ArrowHostile, EveryTruncationAndByteFlip) {
  Mangle("rows.arrows", 3);
  Mangle("rows.arrow", 7);
}

// Inputs fuzz/run.sh tables_fuzz found (tests/data/tables/fuzz/): each is an
// error naming the file, with no control bytes in the message.
TEST(TablesFuzzRegression, EachIsAnErrorWithAPrintableMessage) {
  const std::string dir = testing::source_path("tests/data/tables/fuzz");
  Result<std::vector<std::string>> names = list_directory(dir);
  ASSERT_TRUE(names.ok()) << names.status().message();
  ASSERT_FALSE(names->empty());
  for (const std::string& name : *names) {
    const std::string path = dir + "/" + name;
    Result<std::vector<std::string>> rows = Rows(path);
    ASSERT_FALSE(rows.ok()) << name;
    EXPECT_THAT(rows.status().message(), StartsWith(path + ": ")) << name;
    for (const char c : rows.status().message()) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << name;
  }
}

}  // namespace
}  // namespace flopsmeter
