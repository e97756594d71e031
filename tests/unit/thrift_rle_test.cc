// The Thrift compact protocol decoder and the RLE / bit-packing hybrid
// decoder behind the Parquet reader, on bytes written out by hand from the
// specifications.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dataset/rle_hybrid.h"
#include "dataset/thrift_compact.h"

namespace flopsmeter {
namespace {

using ::testing::HasSubstr;

// By value: the Status of a temporary Result dies with it.
std::string Message(const Status& status) { return status.message(); }

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

// ---------------------------------------------------------------- Thrift

TEST(ThriftCompact, FieldsByDeltaAndLongFormIdsZigzagIntegersAndBinary) {
  // field 1 i32 = -1 (zigzag 1); field 3 (delta 2) i64 = 150 (zigzag 300 =
  // 0xac 0x02); field 200 (long form: type byte, zigzag varint 400) binary
  // "hi"; bool field 201 true in the header; stop.
  const std::string bytes =
      Bytes({0x15, 0x01, 0x26, 0xac, 0x02, 0x08, 0x90, 0x03, 0x02, 'h', 'i', 0x11, 0x00});
  ThriftCompactReader in(bytes);
  ASSERT_TRUE(in.begin_struct().ok());
  ThriftField f;
  ASSERT_TRUE(*in.next_field(&f));
  EXPECT_EQ(f.id, 1);
  EXPECT_EQ(*in.read_i32(), -1);
  ASSERT_TRUE(*in.next_field(&f));
  EXPECT_EQ(f.id, 3);
  EXPECT_EQ(*in.read_i64(), 150);
  ASSERT_TRUE(*in.next_field(&f));
  EXPECT_EQ(f.id, 200);
  EXPECT_EQ(f.type, ThriftType::kBinary);
  EXPECT_EQ(*in.read_binary(), "hi");
  ASSERT_TRUE(*in.next_field(&f));
  EXPECT_EQ(f.id, 201);
  EXPECT_TRUE(ThriftCompactReader::bool_value(f.type));
  EXPECT_FALSE(*in.next_field(&f));
  EXPECT_EQ(in.remaining(), 0u);
}

TEST(ThriftCompact, ListHeadersShortAndLong) {
  // 3 i32 elements in the header; then a list whose size (20) follows as a varint.
  const std::string bytes = Bytes({0x35, 0x02, 0x04, 0x06, 0xf5, 0x14});
  ThriftCompactReader in(bytes);
  ThriftList list = *in.read_list_header();
  EXPECT_EQ(list.size, 3u);
  EXPECT_EQ(list.element, ThriftType::kI32);
  for (int want : {1, 2, 3}) EXPECT_EQ(*in.read_i32(), want);
  // The long list claims 20 elements with no bytes left: refused.
  Result<ThriftList> lying = in.read_list_header();
  ASSERT_FALSE(lying.ok());
  EXPECT_THAT(Message(lying.status()), HasSubstr("list of 20 elements, only 0 bytes left"));
}

TEST(ThriftCompact, LengthsPastTheEndAreErrors) {
  const std::string claims_127 = Bytes({0x7f, 'a'});  // 127 bytes claimed, 1 there
  ThriftCompactReader binary(claims_127);
  EXPECT_THAT(Message(binary.read_binary().status()), HasSubstr("binary of 127 bytes, only 1 left"));
  const std::string endless = Bytes({0x80, 0x80});  // a varint that never ends
  ThriftCompactReader varint(endless);
  EXPECT_THAT(Message(varint.read_i64().status()), HasSubstr("ends inside a varint"));
  const std::string eleven = std::string(11, '\x80') + '\x01';
  ThriftCompactReader too_long(eleven);
  EXPECT_THAT(Message(too_long.read_i64().status()), HasSubstr("longer than 10 bytes"));
  const std::string three = Bytes({1, 2, 3});
  ThriftCompactReader double_short(three);
  EXPECT_FALSE(double_short.read_double().ok());
  const std::string wide = Bytes({0xff, 0xff, 0xff, 0xff, 0x7f});  // -2^34: out of i32
  ThriftCompactReader i32_range(wide);
  EXPECT_THAT(Message(i32_range.read_i32().status()), HasSubstr("out of range"));
}

TEST(ThriftCompact, SkipsNestedValuesAndBoundsTheirDepth) {
  // A struct (field 1) holding a list of 2 structs, each with a map field.
  const std::string ok = Bytes({0x1c, 0x19, 0x2c, 0x1b, 0x01, 0x55, 0x02, 0x04, 0x00, 0x00, 0x00, 0x00});
  ThriftCompactReader in(ok);
  EXPECT_TRUE(in.skip(ThriftType::kStruct).ok());
  EXPECT_EQ(in.remaining(), 0u);
  // Structs nested 1000 deep: refused once kMaxThriftDepth is reached, not
  // recursed into (a stack overflow otherwise).
  std::string deep(1000, '\x1c');
  deep += std::string(1000, '\0');
  ThriftCompactReader nested(deep);
  Status status = nested.skip(ThriftType::kStruct);
  EXPECT_THAT(Message(status), HasSubstr("nested deeper than 32"));
  // Lists of lists likewise.
  const std::string lists = std::string(1000, '\x19') + std::string(10, '\0');
  ThriftCompactReader nested_lists(lists);
  EXPECT_THAT(Message(nested_lists.skip(ThriftType::kList)), HasSubstr("nested deeper"));
}

TEST(ThriftCompact, UnknownTypesAreErrors) {
  const std::string bytes = Bytes({0x1d});  // field type 13 does not exist
  ThriftCompactReader in(bytes);
  ASSERT_TRUE(in.begin_struct().ok());
  ThriftField f;
  EXPECT_THAT(Message(in.next_field(&f).status()), HasSubstr("unknown field type 13"));
}

// ---------------------------------------------------------------- RLE

std::vector<uint32_t> DecodeAll(const std::string& data, int width, Status* status = nullptr) {
  RleHybridDecoder decoder(data, width);
  std::vector<uint32_t> out;
  while (true) {
    uint32_t v = 0;
    Result<bool> got = decoder.next(&v);
    if (!got.ok()) {
      if (status != nullptr) *status = got.status();
      break;
    }
    if (!*got) break;
    out.push_back(v);
  }
  return out;
}

TEST(RleHybrid, RleRunsAndBitPackedGroups) {
  // The example of the Parquet encodings page: values 0..7 bit-packed with
  // width 3 are 0x88 0xc6 0xfa after the header (1 group: (1 << 1) | 1).
  EXPECT_EQ(DecodeAll(Bytes({0x03, 0x88, 0xc6, 0xfa}), 3), (std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  // RLE: 5 copies (header 10) of 300 in two bytes (width 9), then 2 copies of 1.
  EXPECT_EQ(DecodeAll(Bytes({0x0a, 0x2c, 0x01, 0x04, 0x01, 0x00}), 9),
            (std::vector<uint32_t>{300, 300, 300, 300, 300, 1, 1}));
  // Width 0: every value is 0, and takes no bytes.
  EXPECT_EQ(DecodeAll(Bytes({0x06}), 0), (std::vector<uint32_t>{0, 0, 0}));
  // 32-bit values.
  EXPECT_EQ(DecodeAll(Bytes({0x02, 0xff, 0xff, 0xff, 0xff}), 32), (std::vector<uint32_t>{0xffffffffu}));
}

TEST(RleHybrid, ShortDataGivesWhatIsThereOrAnError) {
  // (The decoders keep views: the bytes must outlive them.)
  // A bit-packed run of 4 groups (32 values of width 1) with one byte: the
  // 8 values it holds.
  EXPECT_EQ(DecodeAll(Bytes({0x09, 0xff}), 1).size(), 8u);
  // An RLE run whose value is cut off.
  Status status;
  DecodeAll(Bytes({0x04, 0x01}), 16, &status);
  EXPECT_THAT(Message(status), HasSubstr("ends inside an RLE run's value"));
  // A run header that never ends.
  DecodeAll(Bytes({0x80}), 1, &status);
  EXPECT_THAT(Message(status), HasSubstr("ends inside a run header"));
}

TEST(RleHybrid, HugeRunsCostNoMemory) {
  // An RLE run of 2^40 values in 7 bytes: read lazily, one at a time.
  const std::string huge = Bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0x07});
  RleHybridDecoder decoder(huge, 3);
  uint32_t v = 0;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(*decoder.next(&v));
    EXPECT_EQ(v, 7u);
  }
  EXPECT_EQ(width_for_max_value(0), 0);
  EXPECT_EQ(width_for_max_value(1), 1);
  EXPECT_EQ(width_for_max_value(2), 2);
  EXPECT_EQ(width_for_max_value(255), 8);
}

}  // namespace
}  // namespace flopsmeter
