// RecordReader: one dataset file cut into records, streamed in batches.
//
// A record is the unit a trainer turns into one sample:
//
//   plain text   a line (TextUnit::kLine), a paragraph (kParagraph) or the
//                whole file (kDocument), as datasets.load_dataset("text",
//                sample_by=...) cuts it
//   JSON lines   the text of one non-blank line
//   JSON array   the text of one element of the top-level [ ... ]
//   Parquet,     one row, as the JSON object text of its columns
//   Arrow IPC    (table_reader.h, parquet_reader.h, arrow_reader.h)
//
// Records are split here and parsed elsewhere (parse_sample() in sample.h,
// on worker threads), so the reading thread only looks for line breaks or,
// for a JSON array, for the end of each element.
//
//   FM_ASSIGN_OR_RETURN(std::unique_ptr<RecordReader> reader,
//                       RecordReader::Open("train.jsonl.gz", DatasetFormat::kAuto, TextUnit::kLine));
//   std::vector<RawRecord> batch;
//   while (true) {
//     batch.clear();
//     FM_ASSIGN_OR_RETURN(bool more, reader->next_batch(&batch, 4 << 20));
//     if (!more) break;
//     ... hand `batch` to a worker ...
//   }
//
// Memory stays bounded whatever the file size: a read buffer that grows only
// to hold the largest record (at most RecordReaderOptions::max_record_bytes),
// plus the batch the caller asked for. Only TextUnit::kDocument holds the
// whole file, up to max_document_bytes.
//
// Rules the brief for datasets left open, settled here:
//   - Plain text is read with universal newlines, as Python's text mode
//     does: "\n", "\r\n" and a lone "\r" all end a line. kLine strips them
//     (empty lines are samples ""); kParagraph joins a paragraph's lines
//     with "\n"; kDocument turns each line ending into "\n".
//   - kParagraph: paragraphs are separated by one or more empty lines; a
//     line holding spaces is not empty. datasets splits on "\n\n" exactly,
//     so for three or more newlines in a row it keeps the extra "\n" at the
//     start of the next paragraph; here it is dropped.
//   - JSON lines end at "\n" only (a "\r" before it is dropped); lines
//     holding only spaces, tabs or "\r" are skipped.
//   - A UTF-8 byte order mark at the start of the (decompressed) file is
//     dropped from JSON and kept in plain text, where datasets' text loader
//     reads it into the first sample.
//   - Line numbers count "\n" in JSON files (as editors and JSON parsers
//     do) and every line ending in plain text.
//
// Errors name the file and position:
//
//   data.json:3:9: expected ',' or ']' after an array element, found '{'
//   data.jsonl:120: record is larger than the limit of 268435456 bytes
//
// Thread safety: one RecordReader must not be used by two threads at once;
// distinct ones may.
#ifndef FLOPSMETER_DATASET_RECORD_READER_H_
#define FLOPSMETER_DATASET_RECORD_READER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dataset/byte_source.h"
#include "flopsmeter/dataset.h"  // DatasetFormat, TextUnit
#include "flopsmeter/status.h"

namespace flopsmeter {

class TableReader;

struct RawRecord {
  // One JSON value's text, or one plain-text sample (line endings already
  // removed or normalised to "\n").
  std::string text;
  // 1-based line in the decompressed file where the record starts; for a
  // Parquet or Arrow row, its 1-based number in the file.
  uint64_t line = 0;
  // 1-based column (in characters) on that line where the record starts:
  // 1 except for JSON array elements. Lets a JSON syntax error found later
  // point at the right column of the file.
  uint64_t column = 1;
};

inline constexpr size_t kMaxRecordBytes = size_t{256} << 20;    // 256 MiB
inline constexpr size_t kMaxDocumentBytes = size_t{1} << 30;    // 1 GiB
inline constexpr size_t kDefaultReadBufferBytes = size_t{1} << 20;  // 1 MiB

struct RecordReaderOptions {
  // Decompressed bytes asked for at a time (> 0). Tests make it tiny so
  // that records span many reads.
  size_t buffer_bytes = kDefaultReadBufferBytes;
  // Largest record (line, paragraph, JSON element); a larger one is an error.
  size_t max_record_bytes = kMaxRecordBytes;
  // Largest file read with TextUnit::kDocument.
  size_t max_document_bytes = kMaxDocumentBytes;
};

class RecordReader {
 public:
  // Opens `path` ("-" for standard input), undoes its compression and,
  // for kAuto, settles the format (which reads the first bytes). `unit`
  // matters only for plain text. Whatever `format` says, a file whose
  // first bytes name a binary format is read only as that format (Parquet,
  // Arrow) or refused (InvalidArgument naming the file and the format);
  // Parquet is read from a named, uncompressed file only.
  static Result<std::unique_ptr<RecordReader>> Open(const std::string& path, DatasetFormat format,
                                                    TextUnit unit,
                                                    const RecordReaderOptions& options = {});

  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;
  ~RecordReader();

  // Appends whole records to `*out` until they hold about `max_bytes` (each
  // record counts its text plus sizeof(RawRecord), so runs of empty lines
  // still make bounded batches; at least one record is appended) or the
  // file ends. Returns false once the file is exhausted and nothing was
  // appended. After an error the reader must not be used again.
  Result<bool> next_batch(std::vector<RawRecord>* out, size_t max_bytes);

  // The format in use: never kAuto.
  DatasetFormat format() const { return format_; }
  // How messages name the file ("<stdin>" for "-").
  const std::string& path() const { return source_->path(); }
  // "none", "gzip" or "zstd".
  std::string_view compression() const { return source_->compression(); }
  // Bytes read from the file so far (compressed bytes for compressed
  // files): progress against file_size().
  uint64_t file_bytes_read() const;
  std::optional<uint64_t> file_size() const { return source_->file_size(); }
  // Decompressed bytes read so far (for Parquet and Arrow, the rows' JSON).
  uint64_t bytes_decoded() const;

 private:
  // Where the JSON array scanner is between calls.
  enum class ArrayState {
    kBeforeOpen,           // before the '['
    kFirstElementOrClose,  // after '['
    kElement,              // after ','
    kInElement,            // inside an element that began at begin_
    kCommaOrClose,         // after an element
    kAfterClose,           // after the ']'
  };

  RecordReader(std::unique_ptr<ByteSource> source, TextUnit unit,
               const RecordReaderOptions& options);

  // Moves the unconsumed bytes to the front of the buffer (growing it when
  // they leave too little room) and reads once more. Sets eof_ at the end.
  Status refill();
  // Reads until at least `bytes` are buffered past begin_, or the end.
  Status buffer_at_least(size_t bytes);
  // The first byte of the file after `skip` bytes that is not JSON
  // whitespace, if any within the first buffer_bytes.
  Result<std::optional<char>> peek_first_non_blank(size_t skip);

  Result<bool> next_record(RawRecord* record);
  // The next line without its ending, and its number; false at the end.
  // The view points into the buffer and lives until the next read.
  Result<bool> next_line(std::string_view* line, uint64_t* line_number);
  Result<bool> next_json_line(RawRecord* record);
  Result<bool> next_paragraph(RawRecord* record);
  Result<bool> read_document(RawRecord* record);
  Result<bool> next_array_element(RawRecord* record);
  // A ParseError "FILE:LINE:COL: message" at the scanner's position.
  Status array_error(const std::string& message) const;
  // For a file whose first bytes name a binary format: reads it as a
  // table, or refuses it. Returns the format in use.
  Result<DatasetFormat> open_binary(const std::string& path, DatasetFormat asked);

  std::unique_ptr<ByteSource> source_;
  // Parquet and Arrow rows; null for text and JSON. Declared after source_,
  // which an Arrow reader reads from, so that it is destroyed first.
  std::unique_ptr<TableReader> table_;
  DatasetFormat format_ = DatasetFormat::kText;
  TextUnit unit_;
  RecordReaderOptions options_;

  // Decoded bytes not yet consumed are [begin_, end_) of buffer_.
  std::unique_ptr<char[]> buffer_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  uint64_t bytes_decoded_ = 0;
  bool document_read_ = false;

  // Number of the line that starts at begin_ (text and JSON lines), or
  // at the scanner's position (JSON array).
  uint64_t line_ = 1;

  // JSON array scanner.
  ArrayState array_state_ = ArrayState::kBeforeOpen;
  size_t scanned_ = 0;     // bytes after begin_ already scanned
  uint64_t column_ = 1;    // column of the scanner's position
  uint64_t depth_ = 0;     // open brackets inside the current element
  bool in_string_ = false;
  bool escaped_ = false;   // the previous byte in a string was a backslash
  uint64_t element_line_ = 0;
  uint64_t element_column_ = 0;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_DATASET_RECORD_READER_H_
