// RecordReader: line splitting and a JSON array element scanner over a
// sliding buffer of decompressed bytes.
#include "dataset/record_reader.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

#include "core/json_doc.h"
#include "core/suggest.h"
#include "dataset/arrow_reader.h"
#include "dataset/binary_formats.h"
#include "dataset/parquet_reader.h"
#include "dataset/table_reader.h"

namespace flopsmeter {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool is_blank_line(std::string_view line) {
  return std::all_of(line.begin(), line.end(), is_json_space);
}

// The first '\n' or '\r' in [p, end), or end. Eight bytes at a time: plain
// text is split on both, and two memchr passes would rescan long lines.
const char* find_newline_or_cr(const char* p, const char* end) {
  constexpr uint64_t kOnes = 0x0101010101010101;
  constexpr uint64_t kHighBits = 0x8080808080808080;
  auto has_zero_byte = [](uint64_t w) { return ((w - kOnes) & ~w & kHighBits) != 0; };
  for (; end - p >= 8; p += 8) {
    uint64_t word = 0;
    std::memcpy(&word, p, 8);
    if (has_zero_byte(word ^ (kOnes * '\n')) || has_zero_byte(word ^ (kOnes * '\r'))) break;
  }
  while (p < end && *p != '\n' && *p != '\r') ++p;
  return p;
}

const char* find_line_break(const char* p, const char* end, bool cr_ends_lines) {
  if (cr_ends_lines) return find_newline_or_cr(p, end);
  const void* found = std::memchr(p, '\n', static_cast<size_t>(end - p));
  return found == nullptr ? end : static_cast<const char*>(found);
}

// The extension that says what the file holds: "jsonl" for "dir/a.JSONL.gz".
std::string content_extension(std::string_view path) {
  std::string name = ascii_lower(path.substr(path.rfind('/') + 1));
  for (std::string_view compressed : {".gz", ".gzip", ".zst", ".zstd"}) {
    if (name.ends_with(compressed)) {
      name.resize(name.size() - compressed.size());
      break;
    }
  }
  const size_t dot = name.rfind('.');
  return dot == std::string::npos ? "" : name.substr(dot + 1);
}

// kAuto resolved from the name and the first non-blank byte (see the header).
DatasetFormat detect_format(std::string_view path, std::optional<char> first_non_blank) {
  const std::string extension = content_extension(path);
  if (extension == "txt" || extension == "text" || extension == "md") return DatasetFormat::kText;
  if (extension == "jsonl" || extension == "ndjson") return DatasetFormat::kJsonLines;
  if (first_non_blank == '[') return DatasetFormat::kJsonArray;
  if (extension == "json" || first_non_blank == '{') return DatasetFormat::kJsonLines;
  return DatasetFormat::kText;
}

// Python's universal newlines: "\r\n" and a lone "\r" become "\n", in place.
void normalize_newlines(std::string* text) {
  const size_t first_cr = text->find('\r');
  if (first_cr == std::string::npos) return;
  size_t out = first_cr;
  for (size_t i = first_cr; i < text->size(); ++i) {
    const char c = (*text)[i];
    if (c == '\r') {
      (*text)[out++] = '\n';
      if (i + 1 < text->size() && (*text)[i + 1] == '\n') ++i;
    } else {
      (*text)[out++] = c;
    }
  }
  text->resize(out);
}

// A number or literal element of a JSON array ends before any of these.
bool ends_scalar(char c) {
  switch (c) {
    case ' ': case '\t': case '\n': case '\r':
    case ',': case ':': case '[': case ']': case '{': case '}': case '"':
      return true;
    default:
      return false;
  }
}

std::string quote_byte(char c) { return "'" + printable_text(std::string_view(&c, 1)) + "'"; }

// The --format value of a table format.
std::string format_flag(DatasetFormat format) { return format == DatasetFormat::kParquet ? "parquet" : "arrow"; }

}  // namespace

RecordReader::RecordReader(std::unique_ptr<ByteSource> source, TextUnit unit,
                           const RecordReaderOptions& options)
    : source_(std::move(source)), unit_(unit), options_(options) {}

RecordReader::~RecordReader() = default;

Result<std::unique_ptr<RecordReader>> RecordReader::Open(const std::string& path,
                                                         DatasetFormat format, TextUnit unit,
                                                         const RecordReaderOptions& options) {
  if (options.buffer_bytes == 0 || options.max_record_bytes == 0) {
    return Status::InvalidArgument("RecordReader: buffer_bytes and max_record_bytes must be > 0");
  }
  FM_ASSIGN_OR_RETURN(
      std::unique_ptr<ByteSource> source,
      ByteSource::Open(path, std::min(options.buffer_bytes, kDefaultInputChunkBytes)));
  auto reader = std::unique_ptr<RecordReader>(new RecordReader(std::move(source), unit, options));
  FM_RETURN_IF_ERROR(reader->buffer_at_least(kBinaryMagicBytes));
  FM_ASSIGN_OR_RETURN(format, reader->open_binary(path, format));
  if (reader->table_ != nullptr) {
    reader->format_ = format;
    return reader;
  }
  const bool bom = std::string_view(reader->buffer_.get(), reader->end_).starts_with(kUtf8Bom);
  if (format == DatasetFormat::kAuto) {
    FM_ASSIGN_OR_RETURN(const std::optional<char> first, reader->peek_first_non_blank(bom ? kUtf8Bom.size() : 0));
    format = detect_format(path, first);
  }
  // JSON parsers refuse a byte-order mark, so it goes; plain text keeps it,
  // as datasets.load_dataset("text") does (it reads U+FEFF into the first
  // sample, and the tokenizer counts it).
  if (bom && format != DatasetFormat::kText) reader->begin_ += kUtf8Bom.size();
  reader->format_ = format;
  return reader;
}

Result<DatasetFormat> RecordReader::open_binary(const std::string& path, DatasetFormat asked) {
  const std::string_view head(buffer_.get() + begin_, end_ - begin_);
  const BinaryFormatMatch binary = identify_binary_format(head);
  const std::string& shown = source_->path();
  DatasetFormat table = DatasetFormat::kAuto;
  switch (binary.format) {
    case BinaryFormat::kNone:
      if (asked == DatasetFormat::kParquet || asked == DatasetFormat::kArrow) {
        return Status::InvalidArgument(shown + ": is not " +
                                       (asked == DatasetFormat::kParquet ? "a Parquet file (it does not start with PAR1)"
                                                                         : "an Arrow IPC stream or file") +
                                       " (option \"format\" " + format_flag(asked) + ")");
      }
      return asked;
    case BinaryFormat::kRefused:
      return Status::InvalidArgument(shown + ": is " + std::string(binary.name) +
                                     ", not a dataset format flopsmeter reads (text, JSON lines, JSON, Parquet, "
                                     "Arrow IPC); convert it to one of those");
    case BinaryFormat::kParquet: table = DatasetFormat::kParquet; break;
    case BinaryFormat::kArrowFile:
    case BinaryFormat::kArrowStream: table = DatasetFormat::kArrow; break;
  }
  if (asked != DatasetFormat::kAuto && asked != table) {
    return Status::InvalidArgument(shown + ": is " + std::string(binary.name) + "; read it with option \"format\" " +
                                   format_flag(table) + " or auto");
  }
  if (table == DatasetFormat::kArrow) {
    FM_ASSIGN_OR_RETURN(table_, open_arrow(source_.get(), std::string(head), path));
    begin_ = end_;
    return table;
  }
  // Parquet is read in place (its footer is at the end), so from the file
  // itself: not from standard input, and not through a decompressor
  // (Parquet compresses its pages itself).
  if (path == "-") return Status::InvalidArgument("<stdin>: is a Parquet file, which is read from a named file only");
  if (compression() != "none") {
    return Status::InvalidArgument(shown + ": is a " + std::string(compression()) +
                                   "-compressed Parquet file; decompress it first (Parquet compresses its pages "
                                   "itself)");
  }
  FM_ASSIGN_OR_RETURN(table_, open_parquet(path, shown));
  return table;
}

uint64_t RecordReader::file_bytes_read() const {
  return table_ != nullptr ? table_->file_bytes_read() : source_->file_bytes_read();
}

uint64_t RecordReader::bytes_decoded() const { return table_ != nullptr ? table_->bytes_decoded() : bytes_decoded_; }

Status RecordReader::refill() {
  const size_t pending = end_ - begin_;
  // Room for at least half a buffer of new bytes each time.
  const size_t min_free = std::max<size_t>(options_.buffer_bytes / 2, 1);
  size_t capacity = capacity_;
  if (capacity_ < pending + min_free) {
    capacity = std::max({capacity_ * 2, pending + min_free, options_.buffer_bytes});
  } else if (capacity_ > options_.buffer_bytes && pending + min_free <= options_.buffer_bytes) {
    capacity = options_.buffer_bytes;  // a huge record has passed: give its memory back
  }
  if (capacity != capacity_) {
    std::unique_ptr<char[]> resized;
    try {
      resized = std::make_unique_for_overwrite<char[]>(capacity);
    } catch (const std::bad_alloc&) {
      return Status::IoError(path() + ": out of memory for a read buffer of " +
                             std::to_string(capacity) + " bytes");
    }
    std::copy_n(buffer_.get() + begin_, pending, resized.get());
    buffer_ = std::move(resized);
    capacity_ = capacity;
  } else if (begin_ > 0) {
    std::memmove(buffer_.get(), buffer_.get() + begin_, pending);
  }
  begin_ = 0;
  end_ = pending;
  FM_ASSIGN_OR_RETURN(const size_t got, source_->read(buffer_.get() + end_, capacity_ - end_));
  end_ += got;
  bytes_decoded_ += got;
  if (got == 0) eof_ = true;
  return Status::Ok();
}

Status RecordReader::buffer_at_least(size_t bytes) {
  while (end_ - begin_ < bytes && !eof_) FM_RETURN_IF_ERROR(refill());
  return Status::Ok();
}

Result<std::optional<char>> RecordReader::peek_first_non_blank(size_t skip) {
  size_t checked = skip;
  while (true) {
    const std::string_view pending(buffer_.get() + begin_, end_ - begin_);
    for (; checked < pending.size(); ++checked) {
      if (!is_json_space(pending[checked])) return std::optional<char>(pending[checked]);
    }
    if (eof_ || checked >= options_.buffer_bytes) return std::optional<char>();
    FM_RETURN_IF_ERROR(refill());
  }
}

Result<bool> RecordReader::next_batch(std::vector<RawRecord>* out, size_t max_bytes) {
  bool appended = false;
  size_t batch_bytes = 0;
  try {
    while (!appended || batch_bytes < max_bytes) {
      RawRecord record;
      FM_ASSIGN_OR_RETURN(const bool got, next_record(&record));
      if (!got) break;
      batch_bytes += record.text.size() + sizeof(RawRecord);
      out->push_back(std::move(record));
      appended = true;
    }
  } catch (const std::bad_alloc&) {
    return Status::IoError(path() + ": out of memory while reading records");
  }
  return appended;
}

Result<bool> RecordReader::next_record(RawRecord* record) {
  switch (format_) {
    case DatasetFormat::kJsonLines: return next_json_line(record);
    case DatasetFormat::kJsonArray: return next_array_element(record);
    case DatasetFormat::kParquet:
    case DatasetFormat::kArrow: return table_->next_row(record);
    case DatasetFormat::kAuto:
    case DatasetFormat::kText: break;
  }
  switch (unit_) {
    case TextUnit::kParagraph: return next_paragraph(record);
    case TextUnit::kDocument: return read_document(record);
    case TextUnit::kLine: break;
  }
  std::string_view line;
  FM_ASSIGN_OR_RETURN(const bool got, next_line(&line, &record->line));
  if (got) record->text.assign(line);
  return got;
}

Result<bool> RecordReader::next_line(std::string_view* line, uint64_t* line_number) {
  const bool cr_ends_lines = format_ == DatasetFormat::kText;
  auto line_too_long = [this] {
    return Status::ParseError(path() + ":" + std::to_string(line_) +
                              ": line longer than the limit of " +
                              std::to_string(options_.max_record_bytes) + " bytes for one record");
  };
  size_t searched = 0;  // bytes after begin_ known to hold no line break
  while (true) {
    const char* const start = buffer_.get() + begin_;
    const size_t pending = end_ - begin_;
    const size_t at =
        static_cast<size_t>(find_line_break(start + searched, start + pending, cr_ends_lines) - start);
    if (at < pending || eof_) {
      size_t next = at + 1;  // where the following line starts
      if (at < pending && start[at] == '\r') {
        if (at + 1 == pending && !eof_) {
          searched = at;  // is it "\r\n"? read on to see
          FM_RETURN_IF_ERROR(refill());
          continue;
        }
        if (at + 1 < pending && start[at + 1] == '\n') next = at + 2;
      }
      if (at == pending) {
        if (pending == 0) return false;  // eof_ with nothing left
        next = pending;
      }
      size_t length = at;
      if (!cr_ends_lines && length > 0 && start[length - 1] == '\r') --length;
      if (length > options_.max_record_bytes) return line_too_long();
      *line = std::string_view(start, length);
      *line_number = line_++;
      begin_ += next;
      return true;
    }
    if (pending > options_.max_record_bytes) return line_too_long();
    searched = pending;
    FM_RETURN_IF_ERROR(refill());
  }
}

Result<bool> RecordReader::next_json_line(RawRecord* record) {
  std::string_view line;
  while (true) {
    FM_ASSIGN_OR_RETURN(const bool got, next_line(&line, &record->line));
    if (!got) return false;
    if (!is_blank_line(line)) break;
  }
  record->text.assign(line);
  return true;
}

Result<bool> RecordReader::next_paragraph(RawRecord* record) {
  std::string paragraph;
  std::string_view line;
  uint64_t line_number = 0;
  while (true) {
    FM_ASSIGN_OR_RETURN(const bool got, next_line(&line, &line_number));
    if (!got) break;
    if (line.empty()) {
      if (paragraph.empty()) continue;  // blank lines between paragraphs
      break;
    }
    if (paragraph.empty()) {
      record->line = line_number;
    } else {
      paragraph += '\n';
    }
    if (paragraph.size() + line.size() > options_.max_record_bytes) {
      return Status::ParseError(path() + ":" + std::to_string(record->line) +
                                ": paragraph longer than the limit of " +
                                std::to_string(options_.max_record_bytes) +
                                " bytes for one record; use option \"text-unit\" line");
    }
    paragraph.append(line);
  }
  if (paragraph.empty()) return false;
  record->text = std::move(paragraph);
  return true;
}

Result<bool> RecordReader::read_document(RawRecord* record) {
  if (document_read_) return false;
  document_read_ = true;
  auto too_big = [&] {
    return Status::ParseError(path() + ": the file is larger than the limit of " +
                              std::to_string(options_.max_document_bytes) +
                              " bytes for one sample (option \"text-unit\" document); use option \"text-unit\" "
                              "line or paragraph");
  };
  try {
    std::string text(buffer_.get() + begin_, end_ - begin_);
    begin_ = end_;
    // An uncompressed file's size is known: one allocation, no copies as it
    // grows (+1 leaves room for the read that finds the end).
    if (source_->compression() == "none" && file_size()) {
      text.reserve(static_cast<size_t>(
          std::min<uint64_t>(*file_size(), options_.max_document_bytes) + 1));
    }
    while (!eof_) {
      if (text.size() > options_.max_document_bytes) return too_big();
      if (text.size() == text.capacity()) {
        text.reserve(std::max(2 * text.capacity(), text.size() + options_.buffer_bytes));
      }
      const size_t old_size = text.size();
      text.resize(text.capacity());
      FM_ASSIGN_OR_RETURN(const size_t got,
                          source_->read(text.data() + old_size, text.size() - old_size));
      text.resize(old_size + got);
      bytes_decoded_ += got;
      if (got == 0) eof_ = true;
    }
    if (text.size() > options_.max_document_bytes) return too_big();
    normalize_newlines(&text);
    record->text = std::move(text);
  } catch (const std::bad_alloc&) {
    return Status::IoError(path() + ": out of memory reading the whole file as one sample; use "
                                    "option \"text-unit\" line or paragraph");
  }
  record->line = 1;
  return true;
}

Status RecordReader::array_error(const std::string& message) const {
  return Status::ParseError(path() + ":" + std::to_string(line_) + ":" + std::to_string(column_) +
                            ": " + message);
}

Result<bool> RecordReader::next_array_element(RawRecord* record) {
  // Outside an element every byte is consumed as soon as it is looked at;
  // inside one, begin_ stays at its first byte and scanned_ grows.
  auto consume = [this](char c) {
    if (c == '\n') {
      ++line_;
      column_ = 1;
    } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++column_;  // continuation bytes do not start a character
    }
  };
  auto element_too_long = [this] {
    return Status::ParseError(path() + ":" + std::to_string(element_line_) + ":" +
                              std::to_string(element_column_) +
                              ": JSON array element longer than the limit of " +
                              std::to_string(options_.max_record_bytes) + " bytes for one record");
  };
  while (true) {
    if (begin_ + scanned_ == end_) {
      if (!eof_) {
        if (scanned_ > options_.max_record_bytes) return element_too_long();
        FM_RETURN_IF_ERROR(refill());
        continue;
      }
      switch (array_state_) {
        case ArrayState::kAfterClose: return false;
        case ArrayState::kBeforeOpen: return array_error("no JSON array in the file, expected '['");
        default: return array_error("unexpected end of file inside the JSON array (truncated file?)");
      }
    }
    const char* const start = buffer_.get() + begin_;
    if (array_state_ == ArrayState::kInElement) {
      const char* p = start + scanned_;
      const char* const end = buffer_.get() + end_;
      bool complete = false;
      for (; p < end && !complete; ++p) {
        const char c = *p;
        if (in_string_) {
          if (escaped_) {
            escaped_ = false;
          } else if (c == '\\') {
            escaped_ = true;
          } else if (c == '"') {
            in_string_ = false;
            complete = depth_ == 0;  // the element was a string
          }
        } else if (depth_ == 0) {
          if (ends_scalar(c)) break;  // the element was a number or literal
        } else if (c == '"') {
          in_string_ = true;
        } else if (c == '{' || c == '[') {
          ++depth_;
        } else if (c == '}' || c == ']') {
          complete = --depth_ == 0;
        }
        consume(c);
      }
      scanned_ = static_cast<size_t>(p - start);
      if (!complete && p == end) continue;  // the element goes on past the buffered bytes
      if (scanned_ > options_.max_record_bytes) return element_too_long();
      record->text.assign(start, scanned_);
      record->line = element_line_;
      record->column = element_column_;
      begin_ += scanned_;
      scanned_ = 0;
      array_state_ = ArrayState::kCommaOrClose;
      return true;
    }
    const char c = *start;
    if (is_json_space(c)) {
      consume(c);
      ++begin_;
      continue;
    }
    switch (array_state_) {
      case ArrayState::kBeforeOpen:
        if (c != '[') {
          return array_error("expected a JSON array starting with '[', found " + quote_byte(c));
        }
        array_state_ = ArrayState::kFirstElementOrClose;
        break;
      case ArrayState::kFirstElementOrClose:
      case ArrayState::kElement:
        if (c == ']' && array_state_ == ArrayState::kFirstElementOrClose) {
          array_state_ = ArrayState::kAfterClose;
          break;
        }
        if (c == ',' || c == ':' || c == ']' || c == '}') {
          return array_error("expected an array element, found " + quote_byte(c) +
                             (c == ']' ? " (a comma before ']' is not allowed in JSON)" : ""));
        }
        element_line_ = line_;
        element_column_ = column_;
        array_state_ = ArrayState::kInElement;
        depth_ = c == '{' || c == '[' ? 1 : 0;
        in_string_ = c == '"';
        escaped_ = false;
        if (depth_ == 0 && !in_string_) continue;  // a scalar: its first byte is scanned as such
        consume(c);
        scanned_ = 1;
        continue;
      case ArrayState::kCommaOrClose:
        if (c == ',') {
          array_state_ = ArrayState::kElement;
        } else if (c == ']') {
          array_state_ = ArrayState::kAfterClose;
        } else {
          return array_error("expected ',' or ']' after an array element, found " + quote_byte(c));
        }
        break;
      case ArrayState::kAfterClose:
        return array_error("unexpected " + quote_byte(c) + " after the closing ']' of the JSON array");
      case ArrayState::kInElement:
        break;  // handled above
    }
    consume(c);
    ++begin_;
  }
}

}  // namespace flopsmeter
