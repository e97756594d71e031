// ByteSource and RecordReader: how dataset files become records.
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dataset/byte_source.h"
#include "dataset/record_reader.h"
#include "compress_support.h"
#include "test_support.h"

namespace flopsmeter {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// ---------------------------------------------------------------------------
// Fixtures built in the test: compressed with the libraries' own encoders.

// One zstd frame with a content checksum, so that corruption is detected.
std::string Zstd(const std::string& data) {
  ZSTD_CCtx* context = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1);
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const size_t size = ZSTD_compress2(context, out.data(), out.size(), data.data(), data.size());
  EXPECT_FALSE(ZSTD_isError(size)) << ZSTD_getErrorName(size);
  ZSTD_freeCCtx(context);
  out.resize(size);
  return out;
}

// Text that compresses poorly, so compressed fixtures span many reads.
std::string NoisyLines(size_t lines) {
  std::string out;
  uint32_t state = 12345;
  for (size_t i = 0; i < lines; ++i) {
    out += "{\"text\": \"line " + std::to_string(i) + " ";
    for (int k = 0; k < 40; ++k) {
      state = state * 1103515245 + 12345;
      out += static_cast<char>('a' + (state >> 16) % 26);
    }
    out += "\"}\n";
  }
  return out;
}

using TextList = std::vector<std::string>;

class DatasetReaderTest : public ::testing::Test {
 protected:
  std::string File(const std::string& name, const std::string& contents) {
    return dir_.file(name, contents);
  }

  static Result<std::string> ReadAll(const std::string& path, size_t chunk = kDefaultInputChunkBytes,
                                     size_t read_size = 4096) {
    FM_ASSIGN_OR_RETURN(std::unique_ptr<ByteSource> source, ByteSource::Open(path, chunk));
    std::string out;
    std::vector<char> buf(read_size);
    while (true) {
      FM_ASSIGN_OR_RETURN(const size_t n, source->read(buf.data(), buf.size()));
      if (n == 0) return out;
      out.append(buf.data(), n);
    }
  }

  static Result<std::vector<RawRecord>> ReadRecords(const std::string& path, DatasetFormat format,
                                                    TextUnit unit = TextUnit::kLine,
                                                    const RecordReaderOptions& options = {}) {
    FM_ASSIGN_OR_RETURN(std::unique_ptr<RecordReader> reader,
                        RecordReader::Open(path, format, unit, options));
    std::vector<RawRecord> records;
    while (true) {
      FM_ASSIGN_OR_RETURN(const bool more, reader->next_batch(&records, 1 << 20));
      if (!more) return records;
    }
  }

  // The record texts, failing the test on an error.
  static TextList Texts(const std::string& path, DatasetFormat format,
                                        TextUnit unit = TextUnit::kLine,
                                        const RecordReaderOptions& options = {}) {
    Result<std::vector<RawRecord>> records = ReadRecords(path, format, unit, options);
    EXPECT_TRUE(records.ok()) << records.status().ToString();
    TextList texts;
    if (records.ok()) {
      for (const RawRecord& record : *records) texts.push_back(record.text);
    }
    return texts;
  }

  // The error message of reading `path`, which must fail with a ParseError.
  static std::string ReadError(const std::string& path, DatasetFormat format,
                               TextUnit unit = TextUnit::kLine,
                               const RecordReaderOptions& options = {}) {
    Result<std::vector<RawRecord>> records = ReadRecords(path, format, unit, options);
    EXPECT_FALSE(records.ok());
    if (records.ok()) return "";
    EXPECT_EQ(records.status().code(), StatusCode::kParseError) << records.status().ToString();
    return records.status().message();
  }

  static DatasetFormat FormatOf(const std::string& path) {
    Result<std::unique_ptr<RecordReader>> reader =
        RecordReader::Open(path, DatasetFormat::kAuto, TextUnit::kLine);
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    return reader.ok() ? (*reader)->format() : DatasetFormat::kAuto;
  }

  testing::TempDir dir_;
};

// ---------------------------------------------------------------------------
// ByteSource

TEST_F(DatasetReaderTest, ByteSourceReadsAPlainFileAsIs) {
  const std::string path = File("a.txt", "hello\nworld\n");
  Result<std::unique_ptr<ByteSource>> source = ByteSource::Open(path);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_EQ((*source)->compression(), "none");
  EXPECT_EQ((*source)->file_size(), 12u);
  EXPECT_EQ(*ReadAll(path), "hello\nworld\n");
}

TEST_F(DatasetReaderTest, ByteSourceRecognisesGzipByItsMagicBytesNotItsName) {
  const std::string path = File("looks-plain.txt", testing::gzip_bytes("compressed text\n"));
  Result<std::unique_ptr<ByteSource>> source = ByteSource::Open(path);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_EQ((*source)->compression(), "gzip");
  EXPECT_EQ(*ReadAll(path), "compressed text\n");
}

TEST_F(DatasetReaderTest, ByteSourceReadsACompressedNameWithPlainContentAsIs) {
  const std::string path = File("data.jsonl.gz", "{\"text\": \"plain\"}\n");
  Result<std::unique_ptr<ByteSource>> source = ByteSource::Open(path);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_EQ((*source)->compression(), "none");
  EXPECT_EQ(*ReadAll(path), "{\"text\": \"plain\"}\n");
}

TEST_F(DatasetReaderTest, ByteSourceReadsEveryMemberOfAMultiMemberGzipFile) {
  const std::string path = File("two.gz", testing::gzip_bytes("first member\n") + testing::gzip_bytes("second member\n"));
  EXPECT_EQ(*ReadAll(path), "first member\nsecond member\n");
}

TEST_F(DatasetReaderTest, ByteSourceRecognisesZstdAndReadsEveryFrame) {
  const std::string path = File("two.zst", Zstd("frame one\n") + Zstd("frame two\n"));
  Result<std::unique_ptr<ByteSource>> source = ByteSource::Open(path);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_EQ((*source)->compression(), "zstd");
  EXPECT_EQ(*ReadAll(path), "frame one\nframe two\n");
}

TEST_F(DatasetReaderTest, ByteSourceDecodesTheSameWhateverTheChunkSizes) {
  const std::string data = NoisyLines(300);
  const std::string gz = File("noisy.gz", testing::gzip_bytes(data) + testing::gzip_bytes(data));
  const std::string zst = File("noisy.zst", Zstd(data) + Zstd(data));
  for (size_t chunk : {size_t{1}, size_t{3}, size_t{4096}}) {
    for (size_t read_size : {size_t{1}, size_t{7}, size_t{100000}}) {
      Result<std::string> from_gzip = ReadAll(gz, chunk, read_size);
      ASSERT_TRUE(from_gzip.ok()) << from_gzip.status().ToString();
      EXPECT_EQ(*from_gzip, data + data) << "gzip, chunk " << chunk << ", read " << read_size;
      Result<std::string> from_zstd = ReadAll(zst, chunk, read_size);
      ASSERT_TRUE(from_zstd.ok()) << from_zstd.status().ToString();
      EXPECT_EQ(*from_zstd, data + data) << "zstd, chunk " << chunk << ", read " << read_size;
    }
  }
}

TEST_F(DatasetReaderTest, ByteSourceCountsCompressedBytesForProgress) {
  const std::string compressed = testing::gzip_bytes(NoisyLines(100));
  const std::string path = File("p.gz", compressed);
  Result<std::unique_ptr<ByteSource>> source = ByteSource::Open(path, 512);
  ASSERT_TRUE(source.ok());
  EXPECT_EQ((*source)->file_size(), compressed.size());
  char buf[100];
  ASSERT_TRUE((*source)->read(buf, sizeof buf).ok());
  EXPECT_LT((*source)->file_bytes_read(), compressed.size());
  while (*(*source)->read(buf, sizeof buf) > 0) {
  }
  EXPECT_EQ((*source)->file_bytes_read(), compressed.size());
}

TEST_F(DatasetReaderTest, ByteSourceOfAnEmptyFileEndsAtOnce) {
  EXPECT_EQ(*ReadAll(File("empty", "")), "");
}

TEST_F(DatasetReaderTest, ByteSourceReportsATruncatedGzipFileWithItsOffset) {
  const std::string compressed = testing::gzip_bytes(NoisyLines(50));
  const std::string path = File("cut.gz", compressed.substr(0, compressed.size() - 10));
  Result<std::string> read = ReadAll(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kParseError);
  EXPECT_EQ(read.status().message(), path + ": gzip data ends early at compressed byte " +
                                         std::to_string(compressed.size() - 10) +
                                         " (truncated file?)");
}

TEST_F(DatasetReaderTest, ByteSourceReportsCorruptGzipData) {
  std::string compressed = testing::gzip_bytes(NoisyLines(50));
  for (size_t i = 100; i < 120; ++i) compressed[i] = static_cast<char>(compressed[i] ^ 0x5A);
  const std::string path = File("bad.gz", compressed);
  Result<std::string> read = ReadAll(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kParseError);
  EXPECT_THAT(read.status().message(), StartsWith(path + ": corrupt gzip data near compressed byte "));
}

TEST_F(DatasetReaderTest, ByteSourceRefusesGarbageAfterTheLastGzipMember) {
  const std::string path = File("trailing.gz", testing::gzip_bytes("ok\n") + "garbage");
  Result<std::string> read = ReadAll(path);
  ASSERT_FALSE(read.ok());
  EXPECT_THAT(read.status().message(), StartsWith(path + ": corrupt gzip data"));
  EXPECT_THAT(read.status().message(), HasSubstr("incorrect header check"));
}

TEST_F(DatasetReaderTest, ByteSourceReportsATruncatedZstdFileWithItsOffset) {
  const std::string compressed = Zstd(NoisyLines(50));
  const std::string path = File("cut.zst", compressed.substr(0, compressed.size() - 10));
  Result<std::string> read = ReadAll(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kParseError);
  EXPECT_EQ(read.status().message(), path + ": zstd data ends early at compressed byte " +
                                         std::to_string(compressed.size() - 10) +
                                         " (truncated file?)");
}

TEST_F(DatasetReaderTest, ByteSourceReportsCorruptZstdData) {
  std::string compressed = Zstd(NoisyLines(50));
  compressed[compressed.size() / 2] = static_cast<char>(compressed[compressed.size() / 2] ^ 0x5A);
  const std::string path = File("bad.zst", compressed);
  Result<std::string> read = ReadAll(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kParseError);
  EXPECT_THAT(read.status().message(), StartsWith(path + ": corrupt zstd data near compressed byte "));
}

TEST_F(DatasetReaderTest, ByteSourceOfAMissingFileIsNotFound) {
  Result<std::unique_ptr<ByteSource>> source = ByteSource::Open(dir_.path() + "/nope.jsonl");
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(source.status().message(), dir_.path() + "/nope.jsonl: no such file or directory");
}

TEST_F(DatasetReaderTest, ByteSourceOfADirectorySaysSo) {
  Result<std::unique_ptr<ByteSource>> source = ByteSource::Open(dir_.path());
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(source.status().message(), dir_.path() + ": is a directory, expected a file");
}

// Before open_regular_file() this blocked in open() forever.
TEST_F(DatasetReaderTest, ByteSourceRefusesAFifoWithoutBlocking) {
  const std::string path = dir_.fifo("train.jsonl");
  Result<std::unique_ptr<ByteSource>> source = ByteSource::Open(path);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(source.status().message(), path + ": is a FIFO, expected a file");
  EXPECT_EQ(ByteSource::Open("/dev/zero").status().message(), "/dev/zero: is a character device, expected a file");
}

TEST_F(DatasetReaderTest, MessagesNameTheFileWithControlCharactersEscaped) {
  const std::string path = File("a\nb\x1b[1m.jsonl", "{\"text\": 1}\n[");
  Result<std::unique_ptr<RecordReader>> reader = RecordReader::Open(path, DatasetFormat::kJsonArray, TextUnit::kLine);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->path(), dir_.path() + "/a\\x0ab\\x1b[1m.jsonl");
  std::vector<RawRecord> batch;
  EXPECT_EQ((*reader)->next_batch(&batch, 1 << 20).status().message(),
            dir_.path() + "/a\\x0ab\\x1b[1m.jsonl:1:1: expected a JSON array starting with '[', found '{'");
}

TEST_F(DatasetReaderTest, ByteSourceReadsStandardInputForADash) {
  const std::string path = File("stdin.gz", testing::gzip_bytes("from stdin\n"));
  std::FILE* file = std::fopen(path.c_str(), "rb");
  ASSERT_NE(file, nullptr);
  const int saved_stdin = ::dup(STDIN_FILENO);
  ASSERT_EQ(::dup2(::fileno(file), STDIN_FILENO), STDIN_FILENO);
  Result<std::string> read = ReadAll("-");
  Result<std::unique_ptr<ByteSource>> again = ByteSource::Open("-");
  ::dup2(saved_stdin, STDIN_FILENO);
  ::close(saved_stdin);
  std::fclose(file);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, "from stdin\n");
  // Standard input stays open after the first source is gone.
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->path(), "<stdin>");
}

// ---------------------------------------------------------------------------
// Format detection

TEST_F(DatasetReaderTest, AutoFormatFollowsTheExtension) {
  EXPECT_EQ(FormatOf(File("a.txt", "{}\n")), DatasetFormat::kText);
  EXPECT_EQ(FormatOf(File("a.text", "[]")), DatasetFormat::kText);
  EXPECT_EQ(FormatOf(File("a.md", "# title\n")), DatasetFormat::kText);
  EXPECT_EQ(FormatOf(File("a.jsonl", "[1]\n")), DatasetFormat::kJsonLines);
  EXPECT_EQ(FormatOf(File("a.ndjson", "{}\n")), DatasetFormat::kJsonLines);
  EXPECT_EQ(FormatOf(File("A.JSONL", "{}\n")), DatasetFormat::kJsonLines);
}

TEST_F(DatasetReaderTest, AutoFormatLooksPastCompressionSuffixes) {
  EXPECT_EQ(FormatOf(File("a.txt.gz", testing::gzip_bytes("[x]\n"))), DatasetFormat::kText);
  EXPECT_EQ(FormatOf(File("a.jsonl.gzip", testing::gzip_bytes("{}\n"))), DatasetFormat::kJsonLines);
  EXPECT_EQ(FormatOf(File("a.json.zst", Zstd("[{}]"))), DatasetFormat::kJsonArray);
  EXPECT_EQ(FormatOf(File("a.md.zstd", Zstd("{}"))), DatasetFormat::kText);
}

TEST_F(DatasetReaderTest, AutoFormatOfJsonIsAnArrayOnlyWhenItStartsWithABracket) {
  EXPECT_EQ(FormatOf(File("a.json", " \n [{\"text\": \"a\"}]")), DatasetFormat::kJsonArray);
  EXPECT_EQ(FormatOf(File("b.json", "{\"text\": \"a\"}\n")), DatasetFormat::kJsonLines);
  EXPECT_EQ(FormatOf(File("c.json", "")), DatasetFormat::kJsonLines);
}

TEST_F(DatasetReaderTest, AutoFormatOfAnUnknownNameLooksAtTheContent) {
  EXPECT_EQ(FormatOf(File("data", "[1, 2]")), DatasetFormat::kJsonArray);
  EXPECT_EQ(FormatOf(File("data.csv", "\n{\"a\": 1}\n")), DatasetFormat::kJsonLines);
  EXPECT_EQ(FormatOf(File("data.dat", "plain words\n")), DatasetFormat::kText);
  EXPECT_EQ(FormatOf(File("bom.dat", "\xEF\xBB\xBF{}")), DatasetFormat::kJsonLines);
}

TEST_F(DatasetReaderTest, AnExplicitFormatIsNotSecondGuessed) {
  const std::string path = File("a.json", "[1]\n[2]\n");
  Result<std::unique_ptr<RecordReader>> reader =
      RecordReader::Open(path, DatasetFormat::kJsonLines, TextUnit::kLine);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->format(), DatasetFormat::kJsonLines);
  EXPECT_EQ(Texts(path, DatasetFormat::kJsonLines), (TextList{"[1]", "[2]"}));
}

// ---------------------------------------------------------------------------
// Plain text

TEST_F(DatasetReaderTest, TextLinesAreSamplesIncludingEmptyOnes) {
  const std::string path = File("a.txt", "one\n\ntwo\n");
  EXPECT_EQ(Texts(path, DatasetFormat::kText), (TextList{"one", "", "two"}));
}

TEST_F(DatasetReaderTest, TextLinesEndAtLfCrLfOrALoneCr) {
  const std::string path = File("a.txt", "unix\nwindows\r\nold mac\rlast");
  EXPECT_EQ(Texts(path, DatasetFormat::kText), (TextList{"unix", "windows", "old mac", "last"}));
}

TEST_F(DatasetReaderTest, TextLineNumbersCountEveryLineEnding) {
  const std::string path = File("a.txt", "a\r\nb\rc\n\nd");
  Result<std::vector<RawRecord>> records = ReadRecords(path, DatasetFormat::kText);
  ASSERT_TRUE(records.ok());
  std::vector<uint64_t> lines;
  for (const RawRecord& record : *records) lines.push_back(record.line);
  EXPECT_EQ(lines, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
}

TEST_F(DatasetReaderTest, TextOfAnEmptyFileHasNoLines) {
  EXPECT_EQ(Texts(File("empty.txt", ""), DatasetFormat::kText), TextList{});
  EXPECT_EQ(Texts(File("newline.txt", "\n"), DatasetFormat::kText), TextList{""});
}

TEST_F(DatasetReaderTest, ByteOrderMarkIsDroppedFromJsonButKeptInText) {
  // datasets' text loader reads U+FEFF into the first sample.
  EXPECT_EQ(Texts(File("bom.txt", "\xEF\xBB\xBFhello\n"), DatasetFormat::kText), TextList{"\xEF\xBB\xBFhello"});
  EXPECT_EQ(Texts(File("bom.jsonl", "\xEF\xBB\xBF{}\n"), DatasetFormat::kJsonLines), TextList{"{}"});
  EXPECT_EQ(Texts(File("bom.json", "\xEF\xBB\xBF[1]"), DatasetFormat::kJsonArray), TextList{"1"});
  // Only at the start of the file.
  EXPECT_EQ(Texts(File("mid.txt", "a\n\xEF\xBB\xBF" "b"), DatasetFormat::kText),
            (TextList{"a", "\xEF\xBB\xBF" "b"}));
}

TEST_F(DatasetReaderTest, TextParagraphsAreSeparatedByEmptyLines) {
  const std::string path = File("p.txt", "\n\nfirst line\nsecond line\n\n\n\nnext\r\npara\r\n\r\nlast\n");
  EXPECT_EQ(Texts(path, DatasetFormat::kText, TextUnit::kParagraph),
            (TextList{"first line\nsecond line", "next\npara", "last"}));
}

TEST_F(DatasetReaderTest, TextParagraphLinesHoldingSpacesAreContent) {
  const std::string path = File("p.txt", "a\n  \nb\n\nc");
  EXPECT_EQ(Texts(path, DatasetFormat::kText, TextUnit::kParagraph), (TextList{"a\n  \nb", "c"}));
}

TEST_F(DatasetReaderTest, TextParagraphStartsAtItsFirstLine) {
  const std::string path = File("p.txt", "\na\nb\n\n\nc\n");
  Result<std::vector<RawRecord>> records =
      ReadRecords(path, DatasetFormat::kText, TextUnit::kParagraph);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].line, 2u);
  EXPECT_EQ((*records)[1].line, 6u);
}

TEST_F(DatasetReaderTest, TextDocumentIsTheWholeFileWithNewlinesNormalised) {
  const std::string path = File("d.txt", "line one\r\nline two\rline three\n\n");
  EXPECT_EQ(Texts(path, DatasetFormat::kText, TextUnit::kDocument),
            TextList{"line one\nline two\nline three\n\n"});
}

TEST_F(DatasetReaderTest, TextDocumentOfAnEmptyFileIsOneEmptySample) {
  EXPECT_EQ(Texts(File("d.txt", ""), DatasetFormat::kText, TextUnit::kDocument), TextList{""});
}

TEST_F(DatasetReaderTest, TextDocumentAboveTheLimitSuggestsAnotherUnit) {
  const std::string path = File("d.txt", std::string(100, 'x'));
  RecordReaderOptions options;
  options.buffer_bytes = 16;
  options.max_document_bytes = 99;
  EXPECT_EQ(ReadError(path, DatasetFormat::kText, TextUnit::kDocument, options),
            path + ": the file is larger than the limit of 99 bytes for one sample "
                   "(option \"text-unit\" document); use option \"text-unit\" line or paragraph");
  options.max_document_bytes = 100;
  EXPECT_EQ(Texts(path, DatasetFormat::kText, TextUnit::kDocument, options),
            TextList{std::string(100, 'x')});
}

// ---------------------------------------------------------------------------
// JSON lines

TEST_F(DatasetReaderTest, JsonLinesSkipsBlankLinesAndKeepsPhysicalLineNumbers) {
  const std::string path = File("a.jsonl", "\n{\"a\": 1}\r\n  \t\r\n\n{\"b\": 2}\n\n");
  Result<std::vector<RawRecord>> records = ReadRecords(path, DatasetFormat::kJsonLines);
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].text, "{\"a\": 1}");
  EXPECT_EQ((*records)[0].line, 2u);
  EXPECT_EQ((*records)[1].text, "{\"b\": 2}");
  EXPECT_EQ((*records)[1].line, 5u);
}

TEST_F(DatasetReaderTest, JsonLinesLastLineNeedsNoNewline) {
  EXPECT_EQ(Texts(File("a.jsonl", "{}\n{\"x\": 1}"), DatasetFormat::kJsonLines),
            (TextList{"{}", "{\"x\": 1}"}));
}

TEST_F(DatasetReaderTest, JsonLinesAreSplitOnlyAtLineFeeds) {
  // A lone \r is JSON whitespace, not a record boundary.
  EXPECT_EQ(Texts(File("a.jsonl", "{\"a\":\r1}\n"), DatasetFormat::kJsonLines),
            TextList{"{\"a\":\r1}"});
}

TEST_F(DatasetReaderTest, JsonLinesAreNotParsedHere) {
  EXPECT_EQ(Texts(File("a.jsonl", "not json\n{broken\n"), DatasetFormat::kJsonLines),
            (TextList{"not json", "{broken"}));
}

TEST_F(DatasetReaderTest, CompressedJsonLinesReadLikePlainOnes) {
  const std::string data = NoisyLines(200);
  RecordReaderOptions tiny;
  tiny.buffer_bytes = 5;
  const TextList plain = Texts(File("plain.jsonl", data), DatasetFormat::kAuto);
  ASSERT_EQ(plain.size(), 200u);
  EXPECT_EQ(Texts(File("a.jsonl.gz", testing::gzip_bytes(data)), DatasetFormat::kAuto, TextUnit::kLine, tiny),
            plain);
  EXPECT_EQ(Texts(File("a.jsonl.zst", Zstd(data)), DatasetFormat::kAuto, TextUnit::kLine, tiny),
            plain);
}

TEST_F(DatasetReaderTest, CorruptCompressedDataStopsTheReader) {
  const std::string compressed = Zstd(NoisyLines(200));
  const std::string path = File("cut.jsonl.zst", compressed.substr(0, compressed.size() / 2));
  EXPECT_THAT(ReadError(path, DatasetFormat::kAuto),
              StartsWith(path + ": zstd data ends early at compressed byte "));
}

// ---------------------------------------------------------------------------
// JSON arrays

TEST_F(DatasetReaderTest, JsonArrayElementsArePassedOnAsRawText) {
  const std::string path = File("a.json", R"([{"text": "a", "n": [1, {"b": null}]},
  {"messages": [{"role": "user", "content": "x"}]} ])");
  EXPECT_EQ(Texts(path, DatasetFormat::kJsonArray),
            (TextList{R"({"text": "a", "n": [1, {"b": null}]})",
                   R"({"messages": [{"role": "user", "content": "x"}]})"}));
}

TEST_F(DatasetReaderTest, JsonArrayBracketsAndQuotesInsideStringsDoNotCount) {
  const std::string path =
      File("a.json", R"([{"t": "] }, [{ \" \\"}, {"t": "\\"}, "x]\"y", "{"])");
  EXPECT_EQ(Texts(path, DatasetFormat::kJsonArray),
            (TextList{R"({"t": "] }, [{ \" \\"})", R"({"t": "\\"})", R"("x]\"y")", R"("{")"}));
}

TEST_F(DatasetReaderTest, JsonArrayElementsMayBeScalars) {
  const std::string path = File("a.json", "[1,-2.5e3 ,true\n,null,\"s\",[]]");
  EXPECT_EQ(Texts(path, DatasetFormat::kJsonArray),
            (TextList{"1", "-2.5e3", "true", "null", "\"s\"", "[]"}));
}

TEST_F(DatasetReaderTest, JsonArrayEmptyHasNoRecords) {
  EXPECT_EQ(Texts(File("a.json", "[]"), DatasetFormat::kJsonArray), TextList{});
  EXPECT_EQ(Texts(File("b.json", " \n[ \n ]\n"), DatasetFormat::kJsonArray), TextList{});
}

TEST_F(DatasetReaderTest, JsonArrayElementsKnowTheirLineAndColumn) {
  const std::string path = File("a.json", "[\n  {\"a\": 1}, {\"b\":\n2},\n\"\xC3\xA9\", 3]");
  Result<std::vector<RawRecord>> records = ReadRecords(path, DatasetFormat::kJsonArray);
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  ASSERT_EQ(records->size(), 4u);
  EXPECT_EQ((*records)[0].line, 2u);
  EXPECT_EQ((*records)[0].column, 3u);
  EXPECT_EQ((*records)[1].line, 2u);
  EXPECT_EQ((*records)[1].column, 13u);
  EXPECT_EQ((*records)[2].line, 4u);
  EXPECT_EQ((*records)[2].column, 1u);
  // Columns count characters: "é" is one.
  EXPECT_EQ((*records)[3].line, 4u);
  EXPECT_EQ((*records)[3].column, 6u);
}

TEST_F(DatasetReaderTest, JsonArrayMissingCommaIsReportedWhereFound) {
  const std::string path = File("a.json", "[\n  {\"a\": 1}\n  {\"b\": 2}\n]");
  EXPECT_EQ(ReadError(path, DatasetFormat::kJsonArray),
            path + ":3:3: expected ',' or ']' after an array element, found '{'");
}

TEST_F(DatasetReaderTest, JsonArrayTrailingCommaIsAnError) {
  const std::string path = File("a.json", "[1, 2,\n]");
  EXPECT_EQ(ReadError(path, DatasetFormat::kJsonArray),
            path + ":2:1: expected an array element, found ']' (a comma before ']' is not "
                   "allowed in JSON)");
}

TEST_F(DatasetReaderTest, JsonArrayMustStartWithABracket) {
  const std::string path = File("a.json", "\n {\"a\": 1}");
  EXPECT_EQ(ReadError(path, DatasetFormat::kJsonArray),
            path + ":2:2: expected a JSON array starting with '[', found '{'");
  const std::string empty = File("empty.json", "  ");
  EXPECT_EQ(ReadError(empty, DatasetFormat::kJsonArray),
            empty + ":1:3: no JSON array in the file, expected '['");
}

TEST_F(DatasetReaderTest, JsonArrayTruncatedFileSaysSo) {
  const std::string inside = File("a.json", "[{\"a\": \"b");
  EXPECT_EQ(ReadError(inside, DatasetFormat::kJsonArray),
            inside + ":1:10: unexpected end of file inside the JSON array (truncated file?)");
  const std::string between = File("b.json", "[{\"a\": 1},\n");
  EXPECT_EQ(ReadError(between, DatasetFormat::kJsonArray),
            between + ":2:1: unexpected end of file inside the JSON array (truncated file?)");
  const std::string scalar = File("c.json", "[1, 2");
  EXPECT_EQ(ReadError(scalar, DatasetFormat::kJsonArray),
            scalar + ":1:6: unexpected end of file inside the JSON array (truncated file?)");
}

TEST_F(DatasetReaderTest, JsonArrayTextAfterTheClosingBracketIsAnError) {
  const std::string path = File("a.json", "[1]\n[2]");
  EXPECT_EQ(ReadError(path, DatasetFormat::kJsonArray),
            path + ":2:1: unexpected '[' after the closing ']' of the JSON array");
  EXPECT_EQ(Texts(File("b.json", "[1] \n\n"), DatasetFormat::kJsonArray), TextList{"1"});
}

TEST_F(DatasetReaderTest, JsonArrayElementsAreSplitBeforeAnyErrorInsideThemIsSeen) {
  // The worker parsing the element reports it, with the element's position.
  EXPECT_EQ(Texts(File("a.json", "[{\"a\": 1]]"), DatasetFormat::kJsonArray),
            TextList{"{\"a\": 1]"});
}

// ---------------------------------------------------------------------------
// Limits and buffer boundaries

TEST_F(DatasetReaderTest, RecordAboveTheSizeLimitIsAnError) {
  RecordReaderOptions options;
  options.buffer_bytes = 4;
  options.max_record_bytes = 10;
  const std::string jsonl = File("a.jsonl", "{\"a\": 1}\n{\"text\": \"long\"}\n");
  EXPECT_EQ(ReadError(jsonl, DatasetFormat::kJsonLines, TextUnit::kLine, options),
            jsonl + ":2: line longer than the limit of 10 bytes for one record");
  const std::string text = File("a.txt", "short\n" + std::string(11, 'x'));
  EXPECT_EQ(ReadError(text, DatasetFormat::kText, TextUnit::kLine, options),
            text + ":2: line longer than the limit of 10 bytes for one record");
  const std::string paragraph = File("p.txt", "\nabcdef\nghijk\n\n");
  EXPECT_EQ(ReadError(paragraph, DatasetFormat::kText, TextUnit::kParagraph, options),
            paragraph + ":2: paragraph longer than the limit of 10 bytes for one record; use "
                        "option \"text-unit\" line");
  const std::string array = File("a.json", "[1,\n  [1, 2, 3, 4, 5]]");
  EXPECT_EQ(ReadError(array, DatasetFormat::kJsonArray, TextUnit::kLine, options),
            array + ":2:3: JSON array element longer than the limit of 10 bytes for one record");
}

TEST_F(DatasetReaderTest, RecordAtTheSizeLimitIsAccepted) {
  RecordReaderOptions options;
  options.buffer_bytes = 3;
  options.max_record_bytes = 10;
  EXPECT_EQ(Texts(File("a.txt", "0123456789\nx"), DatasetFormat::kText, TextUnit::kLine, options),
            (TextList{"0123456789", "x"}));
}

// Records must come out the same however the reads cut the file.
struct SplitCase {
  const char* name;
  DatasetFormat format;
  TextUnit unit;
  std::string contents;
};

class DatasetReaderBufferTest : public DatasetReaderTest,
                                public ::testing::WithParamInterface<size_t> {};

TEST_P(DatasetReaderBufferTest, RecordsSpanningReadBuffersComeOutWhole) {
  const std::vector<SplitCase> cases = {
      {"lines", DatasetFormat::kText, TextUnit::kLine,
       "\xEF\xBB\xBF" "alpha\r\nbeta\rgamma\n\ndelta epsilon zeta\r\n\r\r\nlast"},
      {"paragraphs", DatasetFormat::kText, TextUnit::kParagraph,
       "p1 a\r\np1 b\r\n\r\n\r\np2\n\np3 x\rp3 y\r"},
      {"document", DatasetFormat::kText, TextUnit::kDocument, "d\r\ne\rf\n"},
      {"jsonl", DatasetFormat::kJsonLines, TextUnit::kLine,
       "{\"text\": \"first record\"}\r\n\n   \n{\"text\": \"second\"}\n{\"x\": []}"},
      {"array", DatasetFormat::kJsonArray, TextUnit::kLine,
       "[ {\"t\": \"a]\\\"\\\\\"},\n\t[[1], {\"k\": \"}\"}] , 12345.5e-3,\"str\\\"ing\", null ]\n"},
  };
  RecordReaderOptions options;
  options.buffer_bytes = GetParam();
  for (const SplitCase& split : cases) {
    const std::string path = File(std::string(split.name) + ".data", split.contents);
    Result<std::vector<RawRecord>> expected = ReadRecords(path, split.format, split.unit);
    Result<std::vector<RawRecord>> got = ReadRecords(path, split.format, split.unit, options);
    ASSERT_TRUE(expected.ok()) << split.name << ": " << expected.status().ToString();
    ASSERT_TRUE(got.ok()) << split.name << ": " << got.status().ToString();
    ASSERT_EQ(got->size(), expected->size()) << split.name;
    for (size_t i = 0; i < got->size(); ++i) {
      EXPECT_EQ((*got)[i].text, (*expected)[i].text) << split.name << " record " << i;
      EXPECT_EQ((*got)[i].line, (*expected)[i].line) << split.name << " record " << i;
      EXPECT_EQ((*got)[i].column, (*expected)[i].column) << split.name << " record " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(BufferSizes, DatasetReaderBufferTest,
                         ::testing::Values(size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{8},
                                           size_t{13}));

TEST_F(DatasetReaderTest, SplittingGivesTheExpectedRecordsForEachFormat) {
  // The reference for the buffer test above, at the default buffer size.
  EXPECT_EQ(Texts(File("l.txt", "alpha\r\nbeta\rgamma\n\ndelta\r\n\r\r\nlast"), DatasetFormat::kText),
            (TextList{"alpha", "beta", "gamma", "", "delta", "", "", "last"}));
  EXPECT_EQ(Texts(File("p.txt", "p1 a\r\np1 b\r\n\r\n\r\np2\n\np3 x\rp3 y\r"), DatasetFormat::kText,
                  TextUnit::kParagraph),
            (TextList{"p1 a\np1 b", "p2", "p3 x\np3 y"}));
}

// ---------------------------------------------------------------------------
// Batches and progress

TEST_F(DatasetReaderTest, NextBatchStopsNearTheByteBudgetAndAppends) {
  std::string data;
  for (int i = 0; i < 100; ++i) data += std::string(99, 'x') + "\n";
  const std::string path = File("a.txt", data);
  Result<std::unique_ptr<RecordReader>> reader =
      RecordReader::Open(path, DatasetFormat::kAuto, TextUnit::kLine);
  ASSERT_TRUE(reader.ok());
  std::vector<RawRecord> batch = {RawRecord{"kept", 0, 1}};
  const size_t budget = 10 * (99 + sizeof(RawRecord));
  ASSERT_TRUE(*(*reader)->next_batch(&batch, budget));
  EXPECT_EQ(batch.size(), 11u);  // the record already there, then ten
  EXPECT_EQ(batch[0].text, "kept");
  EXPECT_EQ(batch[1].line, 1u);
  size_t total = batch.size() - 1;
  while (true) {
    batch.clear();
    Result<bool> more = (*reader)->next_batch(&batch, budget);
    ASSERT_TRUE(more.ok());
    if (!*more) break;
    total += batch.size();
  }
  EXPECT_EQ(total, 100u);
  EXPECT_TRUE(batch.empty());
  EXPECT_FALSE(*(*reader)->next_batch(&batch, budget));
}

TEST_F(DatasetReaderTest, NextBatchAlwaysTakesAtLeastOneRecord) {
  const std::string path = File("a.txt", "a long line\nb\n");
  Result<std::unique_ptr<RecordReader>> reader =
      RecordReader::Open(path, DatasetFormat::kText, TextUnit::kLine);
  ASSERT_TRUE(reader.ok());
  std::vector<RawRecord> batch;
  ASSERT_TRUE(*(*reader)->next_batch(&batch, 1));
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].text, "a long line");
}

TEST_F(DatasetReaderTest, ReaderReportsProgressInFileAndDecodedBytes) {
  const std::string data = NoisyLines(100);
  const std::string compressed = testing::gzip_bytes(data);
  const std::string path = File("a.jsonl.gz", compressed);
  Result<std::unique_ptr<RecordReader>> reader =
      RecordReader::Open(path, DatasetFormat::kAuto, TextUnit::kLine);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->compression(), "gzip");
  EXPECT_EQ((*reader)->file_size(), compressed.size());
  std::vector<RawRecord> batch;
  while (*(*reader)->next_batch(&batch, 1 << 20)) {
  }
  EXPECT_EQ((*reader)->file_bytes_read(), compressed.size());
  EXPECT_EQ((*reader)->bytes_decoded(), data.size());
}

}  // namespace
}  // namespace flopsmeter
