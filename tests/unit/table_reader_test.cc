// Parquet and Arrow IPC files as records: files written by parquet-wasm and
// apache-arrow (tests/data/tables/, made by tests/reference/make_table_fixtures.js),
// hostile files built here byte by byte, and the binary formats that are
// refused by name.
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "adapters/files.h"
#include "dataset/record_reader.h"
#include "dataset/saved_dataset.h"
#include "compress_support.h"
#include "test_support.h"

namespace flopsmeter {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::TempDir;

const std::vector<std::string> kFixtureRows = {
    R"({"text":"hello","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":null}],)"
    R"("tags":["a",null,"b"],"n":1,"score":0.5,"ok":true})",
    R"({"text":null,"messages":[],"tags":[],"n":null,"score":null,"ok":null})",
    R"({"text":"x","messages":null,"tags":null,"n":-3,"score":-1e+300,"ok":false})",
    "{\"text\":\"\xc3\xbcn\xc3\xaf \\\"q\\\"\\n\\t\\\\\",\"messages\":[{\"role\":\"system\",\"content\":\"\"}],"
    "\"tags\":[\"c\"],\"n\":1099511627776,\"score\":3,\"ok\":true}",
};

std::string Fixture(const std::string& name) { return testing::source_path("tests/data/tables/" + name); }

// Every record of `path`, or the first error.
Result<std::vector<RawRecord>> ReadAll(const std::string& path, DatasetFormat format = DatasetFormat::kAuto) {
  FM_ASSIGN_OR_RETURN(std::unique_ptr<RecordReader> reader, RecordReader::Open(path, format, TextUnit::kLine));
  std::vector<RawRecord> records;
  while (true) {
    FM_ASSIGN_OR_RETURN(const bool more, reader->next_batch(&records, 1 << 16));
    if (!more) return records;
  }
}

std::vector<std::string> Texts(const std::vector<RawRecord>& records) {
  std::vector<std::string> texts;
  for (const RawRecord& r : records) texts.push_back(r.text);
  return texts;
}

// ---------------------------------------------------------------- files by other writers

class WrittenByOthers : public ::testing::TestWithParam<std::string> {};

TEST_P(WrittenByOthers, EveryRowIsItsJsonObject) {
  Result<std::vector<RawRecord>> records = ReadAll(Fixture(GetParam()));
  ASSERT_TRUE(records.ok()) << records.status().message();
  EXPECT_EQ(Texts(*records), kFixtureRows);
  for (size_t i = 0; i < records->size(); ++i) EXPECT_EQ((*records)[i].line, i + 1);
}

// Lists of lists, structs holding lists, lists of those; what JSON.stringify
// writes for the same rows.
const std::vector<std::string> kNestedRows = {
    R"({"ll":[["a","b"],[],null,["c"]],"s":{"names":["x",null],"k":1},)"
    R"("ls":[{"names":[],"k":null},null,{"names":null,"k":2}],"u8":255,"f32":1.5})",
    R"({"ll":[],"s":null,"ls":[],"u8":null,"f32":null})",
    R"({"ll":null,"s":{"names":null,"k":null},"ls":null,"u8":0,"f32":-0.25})",
    R"({"ll":[[null]],"s":{"names":[],"k":-5},"ls":[{"names":["q"],"k":7}],"u8":7,"f32":3})",
};

TEST(WrittenByOthersNested, RepetitionAndDefinitionLevelsAtEveryDepth) {
  for (const std::string name : {"nested_v1_dict.parquet", "nested_v2_plain.parquet", "nested.arrows"}) {
    Result<std::vector<RawRecord>> records = ReadAll(Fixture(name));
    ASSERT_TRUE(records.ok()) << records.status().message();
    EXPECT_EQ(Texts(*records), kNestedRows) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, WrittenByOthers,
                         ::testing::Values("rows_snappy_v1_dict.parquet", "rows_zstd_v2_dict.parquet",
                                           "rows_gzip_v1_plain.parquet", "rows_uncompressed_v2_plain.parquet",
                                           "rows.arrows", "rows.arrow"));

TEST(TableFormats, ChosenByTheirBytesNotTheirNames) {
  TempDir dir;
  const std::string parquet = *read_file(Fixture("rows_snappy_v1_dict.parquet"), 1 << 20);
  const std::string stream = *read_file(Fixture("rows.arrows"), 1 << 20);
  for (const std::string name : {"data.jsonl", "data.txt", "data"}) {
    Result<std::unique_ptr<RecordReader>> p = RecordReader::Open(dir.file("p-" + name, parquet), DatasetFormat::kAuto,
                                                                 TextUnit::kLine);
    ASSERT_TRUE(p.ok()) << p.status().message();
    EXPECT_EQ((*p)->format(), DatasetFormat::kParquet);
    Result<std::unique_ptr<RecordReader>> a = RecordReader::Open(dir.file("a-" + name, stream), DatasetFormat::kAuto,
                                                                 TextUnit::kLine);
    ASSERT_TRUE(a.ok()) << a.status().message();
    EXPECT_EQ((*a)->format(), DatasetFormat::kArrow);
  }
  // An Arrow stream is read through gzip too; a gzip-compressed Parquet
  // file is refused with the reason.
  Result<std::vector<RawRecord>> gz = ReadAll(dir.file("rows.arrow.gz", testing::gzip_bytes(stream)));
  ASSERT_TRUE(gz.ok()) << gz.status().message();
  EXPECT_EQ(Texts(*gz), kFixtureRows);
  Result<std::vector<RawRecord>> pgz = ReadAll(dir.file("rows.parquet.gz", testing::gzip_bytes(parquet)));
  ASSERT_FALSE(pgz.ok());
  EXPECT_THAT(pgz.status().message(), HasSubstr("gzip-compressed Parquet file; decompress it first"));
}

TEST(TableFormats, AFormatThatContradictsTheBytesIsRefused) {
  const std::string parquet = Fixture("rows_snappy_v1_dict.parquet");
  for (DatasetFormat f : {DatasetFormat::kText, DatasetFormat::kJsonLines, DatasetFormat::kArrow}) {
    Result<std::vector<RawRecord>> r = ReadAll(parquet, f);
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(r.status().message(), HasSubstr("rows_snappy_v1_dict.parquet: is a Parquet file; read it with "
                                                "option \"format\" parquet or auto"));
  }
  TempDir dir;
  Result<std::vector<RawRecord>> jsonl = ReadAll(dir.file("x.parquet", "{\"text\": \"hi\"}\n"), DatasetFormat::kParquet);
  ASSERT_FALSE(jsonl.ok());
  EXPECT_THAT(jsonl.status().message(), HasSubstr("x.parquet: is not a Parquet file"));
}

// ---------------------------------------------------------------- refused by name

TEST(TableFormats, OtherBinaryFormatsAreRefusedByName) {
  TempDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {std::string("ORC\x0a\x03", 5) + "rest", "an ORC file"},
      {std::string("GGUF\x03\x00\x00\x00", 8), "a GGUF model file"},
      {std::string("Obj\x01\x04\x14", 6) + "avro.schema", "an Avro object container file"},
      {std::string("PK\x03\x04\x14\x00\x06\x00", 8) + "[Content_Types].xml", "a zip archive"},
      {std::string("FEA1\0\0\0\0", 8) + "feather", "a Feather v1 file"},
      {std::string("SQLite format 3\0", 16) + std::string(100, '\0'), "an SQLite database"},
      {testing::safetensors_bytes({{"w", "F32", {2}}}), "a safetensors file"},
      {std::string("\x80\x04\x95\x10\x00", 5) + "pickle", "a Python pickle"},
      {std::string("\x93NUMPY\x01\x00", 8), "a NumPy array file"},
      {"PARE" + std::string(20, '\0'), "an encrypted Parquet file"},
  };
  for (const auto& [bytes, name] : cases) {
    const std::string path = dir.file("train.jsonl", bytes);
    for (DatasetFormat f : {DatasetFormat::kAuto, DatasetFormat::kText}) {
      Result<std::vector<RawRecord>> r = ReadAll(path, f);
      ASSERT_FALSE(r.ok()) << name;
      EXPECT_THAT(r.status().message(), StartsWith(path + ": is " + name)) << name;
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    }
  }
  // A gzip file holding a zip is refused too: the decompressed bytes count.
  const std::string gz = dir.file("train.jsonl.gz", testing::gzip_bytes(std::string("PK\x03\x04", 4) + "zipped"));
  Result<std::vector<RawRecord>> zipped = ReadAll(gz);
  EXPECT_THAT(zipped.status().message(), HasSubstr("is a zip archive"));
  // Text that merely starts like some format is still text.
  Result<std::vector<RawRecord>> text = ReadAll(dir.file("t.txt", "ORCA whales\nPK is a key\nGGUF\n"));
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->size(), 3u);
}

TEST(TableFormats, AFifoOrADirectoryNamedParquetIsRefusedWithoutBlocking) {
  TempDir dir;
  Result<std::vector<RawRecord>> fifo = ReadAll(dir.fifo("train.parquet"));
  ASSERT_FALSE(fifo.ok());
  EXPECT_THAT(fifo.status().message(), HasSubstr("is a FIFO"));
  // A symbolic link to a Parquet file is followed, as for other datasets.
  const std::string link = dir.path() + "/link.parquet";
  ASSERT_EQ(::symlink(Fixture("rows_zstd_v2_dict.parquet").c_str(), link.c_str()), 0);
  Result<std::vector<RawRecord>> linked = ReadAll(link);
  ASSERT_TRUE(linked.ok()) << linked.status().message();
  EXPECT_EQ(linked->size(), 4u);
}

// ---------------------------------------------------------------- save_to_disk

TEST(SavedDataset, ADirectoryStandsForTheArrowFilesItsStateLists) {
  TempDir dir;
  dir.file("saved/state.json", R"({"_data_files": [{"filename": "b.arrow"}, {"filename": "a.arrow"}], "_split": null})");
  Result<std::vector<std::string>> files = expand_saved_datasets({"x.jsonl", dir.path() + "/saved", "-"});
  ASSERT_TRUE(files.ok()) << files.status().message();
  EXPECT_EQ(*files, (std::vector<std::string>{"x.jsonl", dir.path() + "/saved/b.arrow", dir.path() + "/saved/a.arrow", "-"}));

  dir.file("escape/state.json", R"({"_data_files": [{"filename": "../secret.arrow"}]})");
  EXPECT_THAT(expand_saved_datasets({dir.path() + "/escape"}).status().message(),
              HasSubstr("must name a file in the same directory"));
  dir.file("dict/dataset_dict.json", R"({"splits": ["train", "validation"]})");
  EXPECT_THAT(expand_saved_datasets({dir.path() + "/dict"}).status().message(),
              HasSubstr("is a DatasetDict saved with save_to_disk (splits train, validation); give the directory "
                        "of the split that is trained on, e.g. " + dir.path() + "/dict/train"));
  std::filesystem::create_directories(dir.path() + "/plain");
  EXPECT_THAT(expand_saved_datasets({dir.path() + "/plain"}).status().message(),
              HasSubstr("is a directory, expected a dataset file or a directory written by datasets' save_to_disk"));
}

}  // namespace
}  // namespace flopsmeter
