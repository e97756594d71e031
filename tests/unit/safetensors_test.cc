// safetensors: valid files and checkpoints, and hostile headers that must
// fail with a clear message, never a crash.
#include "adapters/safetensors.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace flopsmeter {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The 8-byte little-endian length prefix of a header of `length` bytes.
std::string LengthPrefix(uint64_t length) {
  std::string prefix(8, '\0');
  for (size_t i = 0; i < 8; ++i) prefix[i] = static_cast<char>((length >> (8 * i)) & 0xFF);
  return prefix;
}

// A whole safetensors file: prefix, `header`, then `data_bytes` zero bytes.
std::string FileBytes(const std::string& header, size_t data_bytes) {
  return LengthPrefix(header.size()) + header + std::string(data_bytes, '\0');
}

Result<std::vector<TensorHeader>> Parse(const std::string& bytes) {
  return parse_safetensors_header(bytes, bytes.size(), "m.safetensors");
}

// The message of parsing a file with `header` and `data_bytes` of data,
// which must fail with `code`.
std::string Error(const std::string& header, size_t data_bytes,
                  StatusCode code = StatusCode::kParseError) {
  Result<std::vector<TensorHeader>> tensors = Parse(FileBytes(header, data_bytes));
  EXPECT_FALSE(tensors.ok()) << header;
  if (tensors.ok()) return "";
  EXPECT_EQ(tensors.status().code(), code) << tensors.status().ToString();
  return tensors.status().message();
}

std::vector<std::string> Names(const std::vector<TensorHeader>& tensors) {
  std::vector<std::string> names;
  for (const TensorHeader& tensor : tensors) names.push_back(tensor.name);
  return names;
}

// ---------------------------------------------------------------------------
// Valid headers

TEST(SafetensorsHeaderTest, ParsesTensorsSortedByName) {
  const std::string header = R"({"__metadata__": {"format": "pt"},
    "w": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]},
    "b": {"dtype": "BF16", "shape": [4], "data_offsets": [48, 56]},
    "step": {"dtype": "I64", "shape": [], "data_offsets": [56, 64]},
    "empty": {"dtype": "F16", "shape": [0, 7], "data_offsets": [64, 64]}})";
  Result<std::vector<TensorHeader>> tensors = Parse(FileBytes(header, 64));
  ASSERT_TRUE(tensors.ok()) << tensors.status().ToString();
  EXPECT_THAT(Names(*tensors), ElementsAre("b", "empty", "step", "w"));
  const TensorHeader& w = (*tensors)[3];
  EXPECT_EQ(w.dtype, "F32");
  EXPECT_THAT(w.shape, ElementsAre(3u, 4u));
  EXPECT_EQ(w.data_begin, 0u);
  EXPECT_EQ(w.data_end, 48u);
  EXPECT_EQ(tensor_element_count(w), 12u);
  EXPECT_EQ(tensor_element_count((*tensors)[1]), 0u);  // empty
  EXPECT_EQ(tensor_element_count((*tensors)[2]), 1u);  // scalar
}

TEST(SafetensorsHeaderTest, HeaderMayBePaddedWithSpaces) {
  const std::string header = R"({"x": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}})";
  EXPECT_TRUE(Parse(FileBytes(header + "       ", 2)).ok());
}

TEST(SafetensorsHeaderTest, EmptyHeaderHoldsNoTensors) {
  Result<std::vector<TensorHeader>> tensors = Parse(FileBytes("{}", 0));
  ASSERT_TRUE(tensors.ok());
  EXPECT_TRUE(tensors->empty());
}

TEST(SafetensorsHeaderTest, ExtraBytesAfterTheHeaderAreIgnored) {
  // A caller may hand over more than the header, e.g. the whole file.
  const std::string bytes =
      FileBytes(R"({"x": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}})", 2);
  EXPECT_TRUE(parse_safetensors_header(bytes, bytes.size(), "m.safetensors").ok());
}

TEST(SafetensorsHeaderTest, GapsBetweenTensorsAreAccepted) {
  const std::string header = R"({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
                                 "b": {"dtype": "U8", "shape": [2], "data_offsets": [10, 12]}})";
  EXPECT_TRUE(Parse(FileBytes(header, 16)).ok());
}

TEST(SafetensorsHeaderTest, DtypeSizes) {
  EXPECT_EQ(safetensors_dtype_size("BOOL"), 1u);
  EXPECT_EQ(safetensors_dtype_size("F8_E4M3"), 1u);
  EXPECT_EQ(safetensors_dtype_size("F8_E5M2"), 1u);
  EXPECT_EQ(safetensors_dtype_size("BF16"), 2u);
  EXPECT_EQ(safetensors_dtype_size("U32"), 4u);
  EXPECT_EQ(safetensors_dtype_size("F64"), 8u);
  EXPECT_EQ(safetensors_dtype_size("bf16"), std::nullopt);
  EXPECT_EQ(safetensors_dtype_size("F4"), std::nullopt);
}

// ---------------------------------------------------------------------------
// The length prefix

TEST(SafetensorsHeaderTest, FileShorterThanTheLengthPrefix) {
  Result<std::vector<TensorHeader>> tensors = Parse("abc");
  ASSERT_FALSE(tensors.ok());
  EXPECT_EQ(tensors.status().message(),
            "m.safetensors: file is 3 bytes, too small for a safetensors file (which starts with "
            "an 8-byte header length)");
}

TEST(SafetensorsHeaderTest, HugeHeaderLengthIsRefusedBeforeAllocating) {
  const std::string bytes = LengthPrefix(uint64_t{1} << 62) + "{}";
  EXPECT_EQ(Parse(bytes).status().message(),
            "m.safetensors: header length 4611686018427387904 is larger than the 2 bytes that "
            "follow it (truncated file, or not safetensors?)");
  // Even when the file is big enough, the header may not pass 100 MB.
  Result<std::vector<TensorHeader>> tensors =
      parse_safetensors_header(LengthPrefix(200'000'000), 300'000'000, "m.safetensors");
  EXPECT_EQ(tensors.status().message(),
            "m.safetensors: header length 200000000 is above the limit of 100000000 bytes");
}

TEST(SafetensorsHeaderTest, HeaderLengthBelowTwo) {
  EXPECT_EQ(Parse(LengthPrefix(1) + "{").status().message(),
            "m.safetensors: header length 1 is too small to hold a JSON object (not "
            "safetensors?)");
  EXPECT_EQ(Parse(LengthPrefix(0)).status().code(), StatusCode::kParseError);
}

TEST(SafetensorsHeaderTest, FewerBytesGivenThanTheHeaderAnnounces) {
  Result<std::vector<TensorHeader>> tensors =
      parse_safetensors_header(LengthPrefix(10) + "{}", 100, "m.safetensors");
  EXPECT_EQ(tensors.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(tensors.status().message(),
            "m.safetensors: only 10 header bytes given, but the header ends at byte 18");
}

// ---------------------------------------------------------------------------
// The JSON

TEST(SafetensorsHeaderTest, TruncatedJson) {
  EXPECT_EQ(Error(R"({"x": {"dtype": "F32", "sha)", 0),
            "m.safetensors: header JSON:1:28: invalid string: missing closing quote; last read: "
            "'\"sha'; expected string literal");
  EXPECT_EQ(Error(R"({"x": {"dtype": "F32")", 0),
            "m.safetensors: header JSON:1:22: unexpected end of input (truncated file?); "
            "expected '}'");
}

TEST(SafetensorsHeaderTest, HeaderMustBeAnObject) {
  EXPECT_EQ(Error("[1, 2]", 0),
            "m.safetensors: header is an array, expected a JSON object of tensors");
}

TEST(SafetensorsHeaderTest, DeepNestingIsRefused) {
  EXPECT_THAT(Error("{\"x\": " + std::string(100000, '['), 0),
              HasSubstr("nesting deeper than 256 levels"));
}

TEST(SafetensorsHeaderTest, MetadataMustMapStringsToStrings) {
  EXPECT_EQ(Error(R"({"__metadata__": {"format": 1}})", 0),
            "m.safetensors: __metadata__ entry 'format' must be a string, got 1");
  EXPECT_EQ(Error(R"({"__metadata__": []})", 0),
            "m.safetensors: __metadata__ must be an object of strings, got an array");
}

// ---------------------------------------------------------------------------
// Tensor entries

TEST(SafetensorsTensorTest, EntryMustBeAnObjectWithAllThreeFields) {
  EXPECT_EQ(Error(R"({"x": 5})", 0),
            "m.safetensors: tensor 'x': expected an object with dtype, shape and data_offsets, "
            "got 5");
  EXPECT_EQ(Error(R"({"x": {"shape": [1], "data_offsets": [0, 1]}})", 1),
            "m.safetensors: tensor 'x': dtype is missing");
  EXPECT_EQ(Error(R"({"x": {"dtype": "U8", "data_offsets": [0, 1]}})", 1),
            "m.safetensors: tensor 'x': shape is missing");
  EXPECT_EQ(Error(R"({"x": {"dtype": "U8", "shape": [1]}})", 1),
            "m.safetensors: tensor 'x': data_offsets is missing");
}

TEST(SafetensorsTensorTest, UnknownDtypeIsUnsupported) {
  EXPECT_EQ(Error(R"({"x": {"dtype": "F4", "shape": [2], "data_offsets": [0, 1]}})", 1,
                  StatusCode::kUnsupported),
            "m.safetensors: tensor 'x': unknown dtype 'F4' (known: BOOL, U8, I8, F8_E4M3, "
            "F8_E5M2, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64)");
  EXPECT_EQ(Error(R"({"x": {"dtype": 4, "shape": [2], "data_offsets": [0, 1]}})", 1),
            "m.safetensors: tensor 'x': dtype must be a string, got 4");
}

TEST(SafetensorsTensorTest, ShapeMustBeAListOfNonNegativeIntegers) {
  EXPECT_EQ(Error(R"({"x": {"dtype": "F32", "shape": [3, -4], "data_offsets": [0, 48]}})", 48),
            "m.safetensors: tensor 'x': shape dimension 1 is -4, expected a non-negative integer");
  EXPECT_EQ(Error(R"({"x": {"dtype": "F32", "shape": [3.0, 4], "data_offsets": [0, 48]}})", 48),
            "m.safetensors: tensor 'x': shape dimension 0 is 3.0, expected a non-negative "
            "integer");
  EXPECT_EQ(Error(R"({"x": {"dtype": "F32", "shape": ["3"], "data_offsets": [0, 12]}})", 12),
            "m.safetensors: tensor 'x': shape dimension 0 is a string, expected a non-negative "
            "integer");
  EXPECT_EQ(Error(R"({"x": {"dtype": "F32", "shape": 3, "data_offsets": [0, 12]}})", 12),
            "m.safetensors: tensor 'x': shape must be a list of integers, got 3");
}

TEST(SafetensorsTensorTest, DataOffsetsMustBeTwoOrderedIntegers) {
  EXPECT_EQ(Error(R"({"x": {"dtype": "U8", "shape": [1], "data_offsets": [0]}})", 1),
            "m.safetensors: tensor 'x': data_offsets must be two non-negative integers [begin, "
            "end], got [0]");
  EXPECT_EQ(Error(R"({"x": {"dtype": "U8", "shape": [1], "data_offsets": [-1, 0]}})", 1),
            "m.safetensors: tensor 'x': data_offsets must be two non-negative integers [begin, "
            "end], got [-1,0]");
  EXPECT_EQ(Error(R"({"x": {"dtype": "U8", "shape": [0], "data_offsets": [5, 4]}})", 8),
            "m.safetensors: tensor 'x': data_offsets [5, 4] end before they begin");
}

TEST(SafetensorsTensorTest, OffsetsMustSpanExactlyWhatShapeAndDtypeNeed) {
  EXPECT_EQ(Error(R"({"x": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 40]}})", 48),
            "m.safetensors: tensor 'x': shape [3,4] with dtype F32 needs 48 bytes but "
            "data_offsets span 40");
  EXPECT_EQ(Error(R"({"x": {"dtype": "BF16", "shape": [], "data_offsets": [0, 0]}})", 0),
            "m.safetensors: tensor 'x': shape [] with dtype BF16 needs 2 bytes but data_offsets "
            "span 0");
}

TEST(SafetensorsTensorTest, ByteSizeOverflowIsCaught) {
  EXPECT_EQ(Error(R"({"x": {"dtype": "U8", "shape": [4294967296, 4294967296],
                          "data_offsets": [0, 0]}})", 0),
            "m.safetensors: tensor 'x': shape [4294967296,4294967296] has more than 2^64 "
            "elements");
  EXPECT_EQ(Error(R"({"x": {"dtype": "F64", "shape": [4294967296, 536870912],
                          "data_offsets": [0, 0]}})", 0),
            "m.safetensors: tensor 'x': shape [4294967296,536870912] with dtype F64 needs more "
            "than 2^64 bytes");
}

TEST(SafetensorsTensorTest, OffsetsMustLieInTheDataRegion) {
  EXPECT_EQ(Error(R"({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 12),
            "m.safetensors: tensor 'x': data_offsets [0, 16] reach past the end of the data "
            "region, which holds 12 bytes (truncated file?)");
}

TEST(SafetensorsTensorTest, OverlappingTensorsAreRefused) {
  EXPECT_EQ(Error(R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                      "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}})", 24),
            "m.safetensors: tensors 'a' and 'b' overlap: data_offsets [0, 16] and [8, 24]");
  // Nested inside a longer tensor, after a short one.
  EXPECT_EQ(Error(R"({"long": {"dtype": "U8", "shape": [100], "data_offsets": [0, 100]},
                      "x": {"dtype": "U8", "shape": [10], "data_offsets": [50, 60]}})", 100),
            "m.safetensors: tensors 'long' and 'x' overlap: data_offsets [0, 100] and [50, 60]");
  // Two tensors on the same bytes.
  EXPECT_THAT(Error(R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                        "b": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}})", 4),
              HasSubstr("overlap"));
}

TEST(SafetensorsTensorTest, TensorNamesAreQuotedSafely) {
  EXPECT_EQ(Error(R"({"evil\u001b[31m": 1})", 0),
            "m.safetensors: tensor 'evil\\x1b[31m': expected an object with dtype, shape and "
            "data_offsets, got 1");
}

// ---------------------------------------------------------------------------
// Files and checkpoint directories

class SafetensorsFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = std::filesystem::temp_directory_path().string() + "/fm_st_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  void Write(const std::string& name, const std::string& contents) const {
    std::ofstream(Path(name), std::ios::binary) << contents;
  }
  // A file holding U8 tensors of the given names, 2 bytes each.
  void WriteShard(const std::string& name, const std::vector<std::string>& tensors) const {
    std::string header = "{";
    uint64_t offset = 0;
    for (const std::string& tensor : tensors) {
      if (header.size() > 1) header += ",";
      header += "\"" + tensor + "\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [" +
                std::to_string(offset) + ", " + std::to_string(offset + 2) + "]}";
      offset += 2;
    }
    Write(name, FileBytes(header + "}", offset));
  }

  std::string dir_;
};

TEST_F(SafetensorsFileTest, ReadsOnlyTheHeaderOfAFile) {
  // A 4 GiB tensor in a sparse file: reading the weights would take long.
  const std::string header =
      R"({"big": {"dtype": "F32", "shape": [1073741824], "data_offsets": [0, 4294967296]}})";
  Write("big.safetensors", LengthPrefix(header.size()) + header);
  ASSERT_EQ(::truncate(Path("big.safetensors").c_str(),
                       static_cast<off_t>(8 + header.size() + (uint64_t{1} << 32))),
            0);
  Result<std::vector<TensorHeader>> tensors = read_safetensors_file(Path("big.safetensors"));
  ASSERT_TRUE(tensors.ok()) << tensors.status().ToString();
  ASSERT_EQ(tensors->size(), 1u);
  EXPECT_EQ(tensor_element_count((*tensors)[0]), uint64_t{1} << 30);
}

TEST_F(SafetensorsFileTest, FileErrorsNameThePath) {
  EXPECT_EQ(read_safetensors_file(Path("none.safetensors")).status().code(),
            StatusCode::kNotFound);
  Write("short.safetensors", "abc");
  EXPECT_THAT(read_safetensors_file(Path("short.safetensors")).status().message(),
              HasSubstr(Path("short.safetensors") + ": file is 3 bytes, too small"));
  // A download cut off inside the header.
  const std::string whole =
      FileBytes(R"({"x": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}})", 2);
  Write("cut.safetensors", whole.substr(0, 30));
  EXPECT_THAT(read_safetensors_file(Path("cut.safetensors")).status().message(),
              HasSubstr(Path("cut.safetensors") + ": header length 60 is larger than the 22 "
                                                  "bytes that follow it"));
  // A download cut off inside the data.
  Write("data_cut.safetensors", whole.substr(0, whole.size() - 1));
  EXPECT_THAT(read_safetensors_file(Path("data_cut.safetensors")).status().message(),
              HasSubstr("reach past the end of the data region, which holds 1 bytes"));
}

TEST_F(SafetensorsFileTest, CheckpointOfLooseFilesReadsEverySafetensorsFile) {
  WriteShard("b.safetensors", {"lm_head.weight"});
  WriteShard("a.safetensors", {"embed.weight", "norm.weight"});
  Write("config.json", "{}");
  Write("._a.safetensors", "macOS resource fork, not safetensors");
  Result<CheckpointTensors> checkpoint = read_checkpoint_directory(dir_);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status().ToString();
  EXPECT_THAT(Names(checkpoint->tensors),
              ElementsAre("embed.weight", "lm_head.weight", "norm.weight"));
  EXPECT_THAT(checkpoint->files, ElementsAre(Path("a.safetensors"), Path("b.safetensors")));
}

// Loose files used to be skipped unless regular; a FIFO among them is now
// named (a shard's header is read from a regular file only, never blocking).
TEST_F(SafetensorsFileTest, CheckpointWithAFifoForAShardSaysSo) {
  WriteShard("a.safetensors", {"x"});
  ASSERT_EQ(::mkfifo(Path("b.safetensors").c_str(), 0600), 0);
  EXPECT_EQ(read_checkpoint_directory(dir_).status().message(), Path("b.safetensors") + ": is a FIFO, expected a file");
}

TEST_F(SafetensorsFileTest, CheckpointWithoutSafetensorsFilesIsNotFound) {
  Write("config.json", "{}");
  Result<CheckpointTensors> checkpoint = read_checkpoint_directory(dir_);
  EXPECT_EQ(checkpoint.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(checkpoint.status().message(),
            dir_ + ": no *.safetensors files and no model.safetensors.index.json");
  EXPECT_EQ(read_checkpoint_directory(Path("none")).status().code(), StatusCode::kNotFound);
}

TEST_F(SafetensorsFileTest, TensorInTwoFilesIsAnError) {
  WriteShard("a.safetensors", {"x"});
  WriteShard("b.safetensors", {"x"});
  EXPECT_EQ(read_checkpoint_directory(dir_).status().message(),
            "tensor 'x' is in both " + Path("a.safetensors") + " and " + Path("b.safetensors"));
}

TEST_F(SafetensorsFileTest, ShardedCheckpointFollowsTheIndex) {
  WriteShard("model-00001-of-00002.safetensors", {"embed.weight", "layers.0.weight"});
  WriteShard("model-00002-of-00002.safetensors", {"layers.1.weight", "lm_head.weight"});
  // Not in the index, so not part of the checkpoint.
  WriteShard("consolidated.safetensors", {"embed.weight"});
  Write("model.safetensors.index.json", R"({
  "metadata": {"total_size": 8},
  "weight_map": {
    "embed.weight": "model-00001-of-00002.safetensors",
    "layers.0.weight": "model-00001-of-00002.safetensors",
    "layers.1.weight": "model-00002-of-00002.safetensors",
    "lm_head.weight": "model-00002-of-00002.safetensors"
  }
})");
  Result<CheckpointTensors> checkpoint = read_checkpoint_directory(dir_);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status().ToString();
  EXPECT_THAT(Names(checkpoint->tensors),
              ElementsAre("embed.weight", "layers.0.weight", "layers.1.weight", "lm_head.weight"));
  EXPECT_THAT(checkpoint->files, ElementsAre(Path("model-00001-of-00002.safetensors"),
                                             Path("model-00002-of-00002.safetensors")));
}

TEST_F(SafetensorsFileTest, IndexNamingAMissingShard) {
  WriteShard("model-00001-of-00002.safetensors", {"a"});
  Write("model.safetensors.index.json", R"({"weight_map": {
    "a": "model-00001-of-00002.safetensors",
    "b": "model-00002-of-00002.safetensors"}})");
  Result<CheckpointTensors> checkpoint = read_checkpoint_directory(dir_);
  EXPECT_EQ(checkpoint.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(checkpoint.status().message(),
            Path("model.safetensors.index.json") +
                ":3:5: field 'weight_map.b': shard 'model-00002-of-00002.safetensors' does not "
                "exist in " + dir_);
}

TEST_F(SafetensorsFileTest, IndexListingATensorItsShardLacks) {
  WriteShard("shard.safetensors", {"a"});
  Write("model.safetensors.index.json",
        R"({"weight_map": {"a": "shard.safetensors", "b": "shard.safetensors"}})");
  EXPECT_EQ(read_checkpoint_directory(dir_).status().message(),
            Path("model.safetensors.index.json") +
                ":1:43: field 'weight_map.b': tensor is not in shard 'shard.safetensors'");
}

TEST_F(SafetensorsFileTest, IndexMayNotLeaveTheDirectory) {
  Write("model.safetensors.index.json", R"({"weight_map": {"a": "../other/x.safetensors"}})");
  EXPECT_EQ(read_checkpoint_directory(dir_).status().message(),
            Path("model.safetensors.index.json") +
                ":1:17: field 'weight_map.a': shard '../other/x.safetensors' is not a file name "
                "in the checkpoint directory");
}

TEST_F(SafetensorsFileTest, MalformedIndex) {
  Write("model.safetensors.index.json", R"({"weight_map": {"a": 3}})");
  EXPECT_EQ(read_checkpoint_directory(dir_).status().message(),
            Path("model.safetensors.index.json") +
                ":1:17: field 'weight_map.a': expected a string, got 3");
  Write("model.safetensors.index.json", R"({"metadata": {}})");
  EXPECT_EQ(read_checkpoint_directory(dir_).status().message(),
            Path("model.safetensors.index.json") +
                ": field 'weight_map': required field is missing");
  Write("model.safetensors.index.json", R"({"weight_map": {)");
  EXPECT_THAT(read_checkpoint_directory(dir_).status().message(),
              HasSubstr("model.safetensors.index.json:1:17: unexpected end of input"));
}

}  // namespace
}  // namespace flopsmeter
