// Arrow IPC rows: encapsulated messages read from a byte stream, the
// schema and record batches decoded from their FlatBuffers metadata
// (Schema.fbs, Message.fbs of the Arrow format), and each row written as
// JSON from the batch's buffers.
// https://arrow.apache.org/docs/format/Columnar.html#serialization-and-interprocess-communication-ipc
#include "dataset/arrow_reader.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <deque>
#include <new>
#include <utility>
#include <vector>

#include "adapters/files.h"
#include "core/json_doc.h"  // printable_text
#include "dataset/flatbuffer.h"
#include "dataset/json_text.h"
#include "dataset/page_codecs.h"

namespace flopsmeter {
namespace {

constexpr std::string_view kArrowFileMagic = "ARROW1";
constexpr uint32_t kContinuation = 0xFFFFFFFF;
// Fields in a schema, nested ones included: FlatBuffers may point back
// into themselves, so a schema could otherwise unfold without end.
constexpr size_t kMaxArrowFields = 100000;
// A body is read in pieces of this size, so memory follows the bytes that
// are really there, not the length a message claims.
constexpr uint64_t kReadPieceBytes = uint64_t{16} << 20;

// MessageHeader and Type union members (Message.fbs, Schema.fbs).
enum MessageHeader : int64_t { kHeaderSchema = 1, kHeaderDictionaryBatch = 2, kHeaderRecordBatch = 3 };

enum class ArrowKind {
  kNull, kBool, kInt, kFloat, kUtf8, kLargeUtf8, kList, kLargeList, kFixedSizeList, kStruct, kMap,
  kSkipped,  // no JSON form: its buffers are passed over
};

struct ArrowField {
  std::string name;  // for messages: control characters escaped
  std::string key;  // "\"name\":"
  ArrowKind kind = ArrowKind::kSkipped;
  int buffers = 0;           // buffers it takes in a record batch
  size_t byte_width = 0;     // kInt, kFloat
  bool is_signed = true;     // kInt
  int64_t list_size = 0;     // kFixedSizeList
  bool emitted = true;       // has a JSON form (a nested type: some child has)
  std::vector<ArrowField> children;
};

struct ArrowArray {
  const ArrowField* field = nullptr;
  int64_t length = 0;
  std::string_view validity;  // empty: every value is valid
  std::string_view offsets;
  std::string_view data;
  std::vector<ArrowArray> children;
};

Status unsupported_type(const std::string& name, std::string_view what) {
  return Status::Unsupported("column '" + name + "' is of type " + std::string(what) + ", which is not read");
}

class ArrowRowReader final : public TableReader {
 public:
  ArrowRowReader(ByteSource* source, std::string head, const ArrowReaderOptions& options)
      : source_(source), pending_(std::move(head)), options_(options) {}

  Status open(const std::string& path);
  Result<bool> next_row(RawRecord* record) override;
  uint64_t file_bytes_read() const override { return file_ ? file_bytes_read_ : source_->file_bytes_read(); }
  uint64_t bytes_decoded() const override { return bytes_decoded_; }

 private:
  struct Message {
    int64_t header_type = 0;
    std::optional<FlatTable> header;
  };

  Status error(const Status& status) const { return status.WithContext(source_->path()); }
  Result<size_t> read_some(char* out, size_t cap);
  Result<bool> read_exact(std::string* out, uint64_t length, bool end_allowed);
  // The file format: the schema and the record batches' places from the
  // footer.
  Status open_file(const std::string& path);
  // The next message (from the stream, or the file's next record batch),
  // or nullopt at the end.
  Result<std::optional<Message>> next_message();
  // Reads the next message's metadata and body into metadata_ and body_;
  // false at the end.
  Result<bool> next_stream_message();
  Result<bool> next_file_message();
  // The message whose metadata is in metadata_.
  Result<Message> decode_message() const;
  Status read_schema(const FlatTable& schema);
  Result<ArrowField> read_field(const FlatTable& field, int depth);
  Status read_type(const FlatTable& field, int64_t type_type, ArrowField* out);
  Status read_batch(const FlatTable& batch);
  Result<std::string_view> take_buffer(const FlatVector& buffers, std::optional<FlatTable> compression);
  Status build_array(const ArrowField& field, ArrowArray* array);
  Status emit(const ArrowArray& array, int64_t index, std::string* json) const;
  Result<std::pair<int64_t, int64_t>> range(const ArrowArray& array, int64_t index) const;

  ByteSource* source_;
  std::string pending_;  // bytes read before the reader was made
  size_t pending_at_ = 0;
  ArrowReaderOptions options_;
  // The file format, read through its footer; absent for a stream.
  std::optional<InputFile> file_;
  std::string footer_;
  FlatVector record_batches_;  // Blocks {offset, metaDataLength, bodyLength} in footer_
  uint32_t next_block_ = 0;
  uint64_t file_bytes_read_ = 0;
  bool ended_ = false;
  uint64_t message_index_ = 0;
  uint64_t bytes_decoded_ = 0;

  size_t fields_seen_ = 0;
  std::vector<ArrowField> schema_;
  std::string metadata_;
  std::string body_;
  std::deque<std::string> decompressed_;  // buffers of the current batch that were compressed
  uint64_t decompressed_bytes_ = 0;
  // Walking a batch's field nodes and buffers in order.
  FlatVector nodes_;
  FlatVector buffers_;
  std::optional<FlatTable> compression_;
  uint32_t next_node_ = 0;
  uint32_t next_buffer_ = 0;

  std::vector<ArrowArray> columns_;
  int64_t batch_rows_ = 0;
  int64_t batch_row_ = 0;
  uint64_t row_number_ = 0;
};

Result<size_t> ArrowRowReader::read_some(char* out, size_t cap) {
  if (pending_at_ < pending_.size()) {
    const size_t n = std::min(cap, pending_.size() - pending_at_);
    std::memcpy(out, pending_.data() + pending_at_, n);
    pending_at_ += n;
    return n;
  }
  return source_->read(out, cap);
}

// Exactly `length` bytes, grown piece by piece. False only when the data
// ends before the first byte and `end_allowed`.
Result<bool> ArrowRowReader::read_exact(std::string* out, uint64_t length, bool end_allowed) {
  out->clear();
  while (out->size() < length) {
    const size_t had = out->size();
    try {
      out->resize(had + static_cast<size_t>(std::min<uint64_t>(length - had, kReadPieceBytes)));
    } catch (const std::bad_alloc&) {
      return error(Status::IoError("out of memory reading message " + std::to_string(message_index_)));
    }
    size_t filled = had;
    while (filled < out->size()) {
      FM_ASSIGN_OR_RETURN(const size_t got, read_some(out->data() + filled, out->size() - filled));
      if (got == 0) {
        if (filled == 0 && end_allowed) return false;
        return error(Status::ParseError("ends inside message " + std::to_string(message_index_) + " (truncated file?)"));
      }
      filled += got;
    }
  }
  return true;
}

// Reads the next encapsulated message into metadata_ and body_: the
// continuation marker, the metadata's length, the metadata, the body.
Result<bool> ArrowRowReader::next_stream_message() {
  std::string word;
  FM_ASSIGN_OR_RETURN(const bool more, read_exact(&word, 4, /*end_allowed=*/true));
  // Writers end a stream with a marker; data that stops at a message
  // boundary without it was cut short, and its missing rows would go
  // uncounted.
  if (!more) return Status::ParseError("the stream ends without its end-of-stream marker (truncated file?)");
  if (load_u32(word.data()) != kContinuation) {
    return Status::Unsupported("an Arrow IPC stream without continuation markers (written before Arrow 0.15) "
                               "is not read");
  }
  FM_RETURN_IF_ERROR(read_exact(&word, 4, false).status());
  const int64_t length = load_little_endian(word.data(), 4, true);
  if (length == 0) return false;  // end-of-stream marker
  ++message_index_;
  if (length < 0 || static_cast<uint64_t>(length) > options_.max_metadata_bytes) {
    return Status::ParseError("metadata length " + std::to_string(length) + " is out of range");
  }
  FM_RETURN_IF_ERROR(read_exact(&metadata_, static_cast<uint64_t>(length), false).status());
  FM_ASSIGN_OR_RETURN(const FlatTable root, FlatTable::root(metadata_));
  FM_ASSIGN_OR_RETURN(const int64_t body_length, root.integer(3, 8, true, 0));
  if (body_length < 0 || static_cast<uint64_t>(body_length) > options_.max_body_bytes) {
    return Status::ParseError("body length " + std::to_string(body_length) + " is out of range");
  }
  FM_RETURN_IF_ERROR(read_exact(&body_, static_cast<uint64_t>(body_length), false).status());
  return true;
}

// The file format's next record batch, where its footer Block says.
Result<bool> ArrowRowReader::next_file_message() {
  if (next_block_ >= record_batches_.size) return false;
  const std::string_view block = record_batches_.struct_at(next_block_++, 24);
  ++message_index_;
  const int64_t offset = load_little_endian(block.data(), 8, true);
  const int64_t metadata_length = load_little_endian(block.data() + 8, 4, true);
  const int64_t body_length = load_little_endian(block.data() + 16, 8, true);
  const uint64_t size = file_->size();
  if (offset < 8 || metadata_length < 8 || body_length < 0 || static_cast<uint64_t>(offset) > size ||
      static_cast<uint64_t>(metadata_length) >
          std::min(size - static_cast<uint64_t>(offset), options_.max_metadata_bytes) ||
      static_cast<uint64_t>(body_length) >
          std::min(size - static_cast<uint64_t>(offset + metadata_length), options_.max_body_bytes)) {
    return Status::ParseError("its place in the footer lies outside the file");
  }
  FM_ASSIGN_OR_RETURN(metadata_, file_->read_at(static_cast<uint64_t>(offset), static_cast<uint64_t>(metadata_length)));
  FM_ASSIGN_OR_RETURN(body_, file_->read_at(static_cast<uint64_t>(offset + metadata_length),
                                            static_cast<uint64_t>(body_length)));
  file_bytes_read_ += metadata_.size() + body_.size();
  // The block's metadata starts with the continuation marker (absent before
  // Arrow 0.15) and the length.
  metadata_.erase(0, load_u32(metadata_.data()) == kContinuation ? 8 : 4);
  return true;
}

Result<ArrowRowReader::Message> ArrowRowReader::decode_message() const {
  FM_ASSIGN_OR_RETURN(const FlatTable root, FlatTable::root(metadata_));
  Message message;
  FM_ASSIGN_OR_RETURN(message.header_type, root.integer(1, 1, false, 0));
  FM_ASSIGN_OR_RETURN(message.header, root.table(2));
  if (!message.header) return Status::ParseError("a message without its header");
  return message;
}

Result<std::optional<ArrowRowReader::Message>> ArrowRowReader::next_message() {
  if (ended_) return std::optional<Message>();
  Result<bool> more = file_ ? next_file_message() : next_stream_message();
  if (!more.ok()) return error(more.status().WithContext("message " + std::to_string(message_index_)));
  if (!*more) {
    ended_ = true;
    return std::optional<Message>();
  }
  Result<Message> message = decode_message();
  if (!message.ok()) return error(message.status().WithContext("message " + std::to_string(message_index_)));
  return std::optional<Message>(std::move(*message));
}

Status ArrowRowReader::open_file(const std::string& path) {
  // The footer is at the end, so the file is read in place: a named,
  // uncompressed file.
  const std::string& shown = source_->path();
  if (path == "-") return Status::InvalidArgument("<stdin>: is an Arrow IPC file, which is read from a named file only");
  if (source_->compression() != "none") {
    return Status::InvalidArgument(shown + ": is a " + std::string(source_->compression()) +
                                   "-compressed Arrow IPC file; decompress it first");
  }
  FM_ASSIGN_OR_RETURN(InputFile file, InputFile::open(path));
  const uint64_t size = file.size();
  if (size < 18) return error(Status::ParseError("too short for an Arrow IPC file"));
  FM_ASSIGN_OR_RETURN(const std::string tail, file.read_at(size - 10, 10));
  if (tail.substr(4) != kArrowFileMagic) {
    return error(Status::ParseError("does not end with the Arrow file magic ARROW1 (truncated file?)"));
  }
  const int64_t footer_length = load_little_endian(tail.data(), 4, true);
  if (footer_length <= 0 || static_cast<uint64_t>(footer_length) > size - 18 ||
      static_cast<uint64_t>(footer_length) > options_.max_metadata_bytes) {
    return error(Status::ParseError("footer length " + std::to_string(footer_length) + " is out of range"));
  }
  FM_ASSIGN_OR_RETURN(footer_, file.read_at(size - 10 - static_cast<uint64_t>(footer_length),
                                            static_cast<uint64_t>(footer_length)));
  file_bytes_read_ = 10 + footer_.size();
  file_.emplace(std::move(file));
  // Footer {0 version, 1 schema, 2 dictionaries, 3 recordBatches: [Block]}.
  Status status = [&]() -> Status {
    FM_ASSIGN_OR_RETURN(const FlatTable footer, FlatTable::root(footer_));
    FM_ASSIGN_OR_RETURN(const std::optional<FlatTable> schema, footer.table(1));
    if (!schema) return Status::ParseError("no schema");
    FM_ASSIGN_OR_RETURN(record_batches_, footer.structs(3, 24));
    return read_schema(*schema);
  }();
  return status.ok() ? status : error(status.WithContext("footer"));
}

Status ArrowRowReader::open(const std::string& path) {
  if (pending_.starts_with(kArrowFileMagic)) return open_file(path);
  FM_ASSIGN_OR_RETURN(std::optional<Message> message, next_message());
  if (!message) return error(Status::ParseError("has no schema message"));
  if (message->header_type != kHeaderSchema) return error(Status::ParseError("does not begin with a schema message"));
  Status status = read_schema(*message->header);
  return status.ok() ? status : error(status.WithContext("schema"));
}

Status ArrowRowReader::read_schema(const FlatTable& schema) {
  FM_ASSIGN_OR_RETURN(const int64_t endianness, schema.integer(0, 2, true, 0));
  if (endianness != 0) return Status::Unsupported("big-endian data is not read");
  FM_ASSIGN_OR_RETURN(const FlatVector fields, schema.tables(1));
  for (uint32_t i = 0; i < fields.size; ++i) {
    FM_ASSIGN_OR_RETURN(const FlatTable field, fields.table(i));
    FM_ASSIGN_OR_RETURN(ArrowField f, read_field(field, 0));
    schema_.push_back(std::move(f));
  }
  return Status::Ok();
}

Result<ArrowField> ArrowRowReader::read_field(const FlatTable& table, int depth) {
  if (depth >= kMaxArrowNesting) return Status::Unsupported("types nest deeper than " + std::to_string(kMaxArrowNesting));
  if (++fields_seen_ > kMaxArrowFields) return Status::Unsupported("more than " + std::to_string(kMaxArrowFields) + " fields");
  ArrowField field;
  FM_ASSIGN_OR_RETURN(const std::optional<std::string_view> name, table.string(0));
  append_json_string(&field.key, name.value_or(""));
  field.name = printable_text(name.value_or(""));
  field.key += ':';
  FM_ASSIGN_OR_RETURN(const std::optional<FlatTable> dictionary, table.table(4));
  if (dictionary) return Status::Unsupported("column '" + field.name + "' is dictionary-encoded, which is not read");
  FM_ASSIGN_OR_RETURN(const FlatVector children, table.tables(5));
  for (uint32_t i = 0; i < children.size; ++i) {
    FM_ASSIGN_OR_RETURN(const FlatTable child, children.table(i));
    FM_ASSIGN_OR_RETURN(ArrowField c, read_field(child, depth + 1));
    field.children.push_back(std::move(c));
  }
  FM_ASSIGN_OR_RETURN(const int64_t type_type, table.integer(2, 1, false, 0));
  FM_RETURN_IF_ERROR(read_type(table, type_type, &field));
  return field;
}

Status ArrowRowReader::read_type(const FlatTable& table, int64_t type_type, ArrowField* f) {
  FM_ASSIGN_OR_RETURN(const std::optional<FlatTable> type, table.table(3));
  const size_t want_children = [&] {
    switch (type_type) {
      case 12: case 16: case 17: case 21: return size_t{1};  // List, FixedSizeList, Map, LargeList
      case 13: return f->children.size();                    // Struct_
      default: return size_t{0};
    }
  }();
  if (f->children.size() != want_children) {
    return Status::ParseError("column '" + f->name + "' has " + std::to_string(f->children.size()) +
                              " children, its type needs " + std::to_string(want_children));
  }
  f->buffers = 2;  // validity and values, the common case
  switch (type_type) {
    case 1: f->kind = ArrowKind::kNull; f->buffers = 0; break;
    case 2: {  // Int {bitWidth: int, is_signed: bool}
      if (!type) return Status::ParseError("column '" + f->name + "': Int type without its table");
      FM_ASSIGN_OR_RETURN(const int64_t bits, type->integer(0, 4, true, 0));
      FM_ASSIGN_OR_RETURN(const int64_t is_signed, type->integer(1, 1, false, 0));
      if (bits != 8 && bits != 16 && bits != 32 && bits != 64) {
        return Status::ParseError("column '" + f->name + "': integer bit width " + std::to_string(bits));
      }
      f->kind = ArrowKind::kInt;
      f->byte_width = static_cast<size_t>(bits / 8);
      f->is_signed = is_signed != 0;
      break;
    }
    case 3: {  // FloatingPoint {precision: HALF 0, SINGLE 1, DOUBLE 2}
      FM_ASSIGN_OR_RETURN(const int64_t precision, type ? type->integer(0, 2, true, 0) : Result<int64_t>(0));
      f->kind = precision == 0 ? ArrowKind::kSkipped : ArrowKind::kFloat;
      f->byte_width = precision == 1 ? 4 : 8;
      break;
    }
    case 4: case 19: f->kind = ArrowKind::kSkipped; f->buffers = 3; break;  // Binary, LargeBinary
    case 5: f->kind = ArrowKind::kUtf8; f->buffers = 3; break;
    case 20: f->kind = ArrowKind::kLargeUtf8; f->buffers = 3; break;
    case 6: f->kind = ArrowKind::kBool; break;
    case 7: case 8: case 9: case 10: case 11: case 15: case 18:  // Decimal, Date, Time, Timestamp, Interval,
      f->kind = ArrowKind::kSkipped;                             // FixedSizeBinary, Duration
      break;
    case 12: f->kind = ArrowKind::kList; break;
    case 21: f->kind = ArrowKind::kLargeList; break;
    case 17: f->kind = ArrowKind::kMap; break;
    case 13: f->kind = ArrowKind::kStruct; f->buffers = 1; break;
    case 16: {  // FixedSizeList {listSize: int}
      FM_ASSIGN_OR_RETURN(f->list_size, type ? type->integer(0, 4, true, 0) : Result<int64_t>(0));
      if (f->list_size < 0) return Status::ParseError("column '" + f->name + "': negative list size");
      f->kind = ArrowKind::kFixedSizeList;
      f->buffers = 1;
      break;
    }
    case 14: return unsupported_type(f->name, "union");
    case 22: return unsupported_type(f->name, "run-end encoded");
    case 23: case 24: case 25: case 26: return unsupported_type(f->name, "view (binary, utf8 or list view)");
    default: return unsupported_type(f->name, "type " + std::to_string(type_type));
  }
  if (f->kind == ArrowKind::kSkipped) f->emitted = false;
  if (f->kind == ArrowKind::kStruct || !f->children.empty()) {
    f->emitted = std::any_of(f->children.begin(), f->children.end(), [](const ArrowField& c) { return c.emitted; });
  }
  return Status::Ok();
}

Result<std::string_view> ArrowRowReader::take_buffer(const FlatVector& buffers, std::optional<FlatTable> compression) {
  if (next_buffer_ >= buffers.size) return Status::ParseError("the batch lists fewer buffers than its columns need");
  const std::string_view entry = buffers.struct_at(next_buffer_++, 16);
  const int64_t offset = load_little_endian(entry.data(), 8, true);
  const int64_t length = load_little_endian(entry.data() + 8, 8, true);
  if (offset < 0 || length < 0 || static_cast<uint64_t>(offset) > body_.size() ||
      static_cast<uint64_t>(length) > body_.size() - static_cast<uint64_t>(offset)) {
    return Status::ParseError("buffer " + std::to_string(next_buffer_ - 1) + " lies outside the message body");
  }
  const std::string_view bytes = std::string_view(body_).substr(static_cast<size_t>(offset), static_cast<size_t>(length));
  if (!compression || bytes.empty()) return bytes;
  // Compressed bodies: each buffer is its uncompressed length (-1: stored
  // as is), then the codec's frame.
  FM_ASSIGN_OR_RETURN(const int64_t codec, compression->integer(0, 1, true, 0));
  if (bytes.size() < 8) return Status::ParseError("a compressed buffer without its length");
  const int64_t uncompressed = load_little_endian(bytes.data(), 8, true);
  if (uncompressed == -1) return bytes.substr(8);
  if (codec != 1) return Status::Unsupported("LZ4-compressed buffers are not read (ZSTD ones are)");
  // The batch's decompressed buffers together stay within a body's limit.
  if (uncompressed < 0 || static_cast<uint64_t>(uncompressed) > options_.max_body_bytes - decompressed_bytes_) {
    return Status::ParseError("a compressed buffer's length " + std::to_string(uncompressed) +
                              " is out of range (the batch's buffers may hold " +
                              std::to_string(options_.max_body_bytes) + " bytes decompressed)");
  }
  decompressed_bytes_ += static_cast<uint64_t>(uncompressed);
  std::string& out = decompressed_.emplace_back();
  try {
    out.resize(std::max<size_t>(static_cast<size_t>(uncompressed), 1));
  } catch (const std::bad_alloc&) {
    return Status::IoError("out of memory for a buffer of " + std::to_string(uncompressed) + " bytes");
  }
  FM_RETURN_IF_ERROR(decompress_page(PageCodec::kZstd, bytes.substr(8), out.data(), static_cast<size_t>(uncompressed)));
  out.resize(static_cast<size_t>(uncompressed));
  return std::string_view(out);
}

Status ArrowRowReader::build_array(const ArrowField& field, ArrowArray* array) {
  const std::string where = "column '" + field.name + "': ";
  if (next_node_ >= nodes_.size) return Status::ParseError("the batch lists fewer field nodes than its columns need");
  const std::string_view node = nodes_.struct_at(next_node_++, 16);
  array->field = &field;
  array->length = load_little_endian(node.data(), 8, true);
  const int64_t null_count = load_little_endian(node.data() + 8, 8, true);
  if (array->length < 0 || null_count < 0 || null_count > array->length) {
    return Status::ParseError(where + "negative length or null count");
  }
  std::string_view buffers[3];
  for (int b = 0; b < field.buffers; ++b) {
    FM_ASSIGN_OR_RETURN(buffers[b], take_buffer(buffers_, compression_));
  }
  const auto length = static_cast<uint64_t>(array->length);
  if (field.buffers > 0 && buffers[0].size() >= (length + 7) / 8) {
    array->validity = buffers[0];
  } else if (field.kind != ArrowKind::kNull && null_count > 0) {
    return Status::ParseError(where + "validity bitmap shorter than the column");
  }
  array->offsets = field.buffers == 3 || field.kind == ArrowKind::kList || field.kind == ArrowKind::kLargeList ||
                           field.kind == ArrowKind::kMap ? buffers[1] : std::string_view();
  array->data = field.buffers == 3 ? buffers[2] : buffers[1];
  const uint64_t offset_width = field.kind == ArrowKind::kLargeUtf8 || field.kind == ArrowKind::kLargeList ? 8 : 4;
  switch (field.kind) {
    case ArrowKind::kBool:
      if (array->data.size() < (length + 7) / 8) return Status::ParseError(where + "values buffer too short");
      break;
    case ArrowKind::kInt:
    case ArrowKind::kFloat:
      if (array->data.size() / field.byte_width < length) return Status::ParseError(where + "values buffer too short");
      break;
    case ArrowKind::kUtf8: case ArrowKind::kLargeUtf8: case ArrowKind::kList: case ArrowKind::kLargeList:
    case ArrowKind::kMap:
      if (length > 0 && array->offsets.size() / offset_width < length + 1) {
        return Status::ParseError(where + "offsets buffer too short");
      }
      break;
    default: break;
  }
  array->children.resize(field.children.size());
  for (size_t i = 0; i < field.children.size(); ++i) {
    FM_RETURN_IF_ERROR(build_array(field.children[i], &array->children[i]));
    const int64_t child_length = array->children[i].length;
    if (field.kind == ArrowKind::kStruct && child_length < array->length) {
      return Status::ParseError(where + "a struct member is shorter than the struct");
    }
    if (field.kind == ArrowKind::kFixedSizeList && field.list_size > 0 &&
        child_length / field.list_size < array->length) {
      return Status::ParseError(where + "the list values are fewer than the lists need");
    }
  }
  return Status::Ok();
}

Status ArrowRowReader::read_batch(const FlatTable& batch) {
  FM_ASSIGN_OR_RETURN(batch_rows_, batch.integer(0, 8, true, 0));
  FM_ASSIGN_OR_RETURN(nodes_, batch.structs(1, 16));
  FM_ASSIGN_OR_RETURN(buffers_, batch.structs(2, 16));
  FM_ASSIGN_OR_RETURN(compression_, batch.table(3));
  if (batch_rows_ < 0) return Status::ParseError("negative row count");
  next_node_ = next_buffer_ = 0;
  decompressed_.clear();
  decompressed_bytes_ = 0;
  columns_.clear();
  columns_.resize(schema_.size());
  for (size_t i = 0; i < schema_.size(); ++i) {
    FM_RETURN_IF_ERROR(build_array(schema_[i], &columns_[i]));
    if (columns_[i].length < batch_rows_) {
      return Status::ParseError("column '" + schema_[i].name + "' is shorter than the batch's " +
                                std::to_string(batch_rows_) + " rows");
    }
  }
  batch_row_ = 0;
  return Status::Ok();
}

// The [begin, end) of list or string `index`, checked against what it indexes.
Result<std::pair<int64_t, int64_t>> ArrowRowReader::range(const ArrowArray& array, int64_t index) const {
  const ArrowKind kind = array.field->kind;
  const size_t width = kind == ArrowKind::kLargeUtf8 || kind == ArrowKind::kLargeList ? 8 : 4;
  const auto at = static_cast<size_t>(index) * width;
  const int64_t begin = load_little_endian(array.offsets.data() + at, width, true);
  const int64_t end = load_little_endian(array.offsets.data() + at + width, width, true);
  const bool is_string = kind == ArrowKind::kUtf8 || kind == ArrowKind::kLargeUtf8;
  const int64_t limit = is_string ? static_cast<int64_t>(array.data.size()) : array.children[0].length;
  if (begin < 0 || end < begin || end > limit) {
    return Status::ParseError("column '" + array.field->name + "': offsets of row " + std::to_string(index) +
                              " are out of range");
  }
  return std::pair<int64_t, int64_t>(begin, end);
}

Status ArrowRowReader::emit(const ArrowArray& array, int64_t index, std::string* json) const {
  const ArrowField& field = *array.field;
  const auto i = static_cast<size_t>(index);
  if (field.kind == ArrowKind::kNull ||
      (!array.validity.empty() && ((static_cast<uint8_t>(array.validity[i / 8]) >> (i % 8)) & 1) == 0)) {
    json->append("null");
    return Status::Ok();
  }
  switch (field.kind) {
    case ArrowKind::kBool:
      json->append(((static_cast<uint8_t>(array.data[i / 8]) >> (i % 8)) & 1) != 0 ? "true" : "false");
      return Status::Ok();
    case ArrowKind::kInt: {
      const int64_t v = load_little_endian(array.data.data() + i * field.byte_width, field.byte_width, field.is_signed);
      field.is_signed ? append_json_int(json, v) : append_json_uint(json, static_cast<uint64_t>(v));
      return Status::Ok();
    }
    case ArrowKind::kFloat: {
      const auto bits = static_cast<uint64_t>(load_little_endian(array.data.data() + i * field.byte_width,
                                                                 field.byte_width, false));
      append_json_double(json, field.byte_width == 4 ? double{std::bit_cast<float>(static_cast<uint32_t>(bits))}
                                                     : std::bit_cast<double>(bits));
      return Status::Ok();
    }
    case ArrowKind::kUtf8:
    case ArrowKind::kLargeUtf8: {
      FM_ASSIGN_OR_RETURN(const auto r, range(array, index));
      append_json_string(json, array.data.substr(static_cast<size_t>(r.first), static_cast<size_t>(r.second - r.first)));
      return Status::Ok();
    }
    case ArrowKind::kStruct: {
      json->push_back('{');
      bool first = true;
      for (const ArrowArray& child : array.children) {
        if (!child.field->emitted) continue;
        if (!first) json->push_back(',');
        first = false;
        json->append(child.field->key);
        FM_RETURN_IF_ERROR(emit(child, index, json));
      }
      json->push_back('}');
      return Status::Ok();
    }
    case ArrowKind::kList: case ArrowKind::kLargeList: case ArrowKind::kMap: case ArrowKind::kFixedSizeList: break;
    case ArrowKind::kNull: case ArrowKind::kSkipped: json->append("null"); return Status::Ok();
  }
  std::pair<int64_t, int64_t> r(index * field.list_size, (index + 1) * field.list_size);
  if (field.kind != ArrowKind::kFixedSizeList) {
    FM_ASSIGN_OR_RETURN(r, range(array, index));
  }
  json->push_back('[');
  for (int64_t j = r.first; j < r.second; ++j) {
    if (j > r.first) json->push_back(',');
    FM_RETURN_IF_ERROR(emit(array.children[0], j, json));
    if (json->size() > options_.max_record_bytes) {
      return Status::InvalidArgument("row " + std::to_string(row_number_) + " is larger than the limit of " +
                                     std::to_string(options_.max_record_bytes) + " bytes");
    }
  }
  json->push_back(']');
  return Status::Ok();
}

Result<bool> ArrowRowReader::next_row(RawRecord* record) {
  while (batch_row_ >= batch_rows_) {
    FM_ASSIGN_OR_RETURN(std::optional<Message> message, next_message());
    if (!message) return false;
    const std::string where = "message " + std::to_string(message_index_);
    if (message->header_type == kHeaderDictionaryBatch) {
      return error(Status::ParseError(where + ": a dictionary batch, but no column is dictionary-encoded"));
    }
    if (message->header_type != kHeaderRecordBatch) {
      return error(Status::ParseError(where + ": message type " + std::to_string(message->header_type) +
                                      " where a record batch was expected"));
    }
    Status status = read_batch(*message->header);
    if (!status.ok()) return error(status.WithContext(where + " (record batch)"));
  }
  ++row_number_;
  record->text.clear();
  record->line = row_number_;
  record->column = 1;
  try {
    record->text.push_back('{');
    bool first = true;
    for (const ArrowArray& column : columns_) {
      if (!column.field->emitted) continue;
      if (!first) record->text.push_back(',');
      first = false;
      record->text.append(column.field->key);
      Status status = emit(column, batch_row_, &record->text);
      if (!status.ok()) return error(status.WithContext("message " + std::to_string(message_index_)));
    }
    record->text.push_back('}');
  } catch (const std::bad_alloc&) {
    return error(Status::IoError("out of memory for row " + std::to_string(row_number_)));
  }
  ++batch_row_;
  bytes_decoded_ += record->text.size();
  return true;
}

}  // namespace

Result<std::unique_ptr<TableReader>> open_arrow(ByteSource* source, std::string head, const std::string& path,
                                                const ArrowReaderOptions& options) {
  auto reader = std::make_unique<ArrowRowReader>(source, std::move(head), options);
  FM_RETURN_IF_ERROR(reader->open(path));
  return std::unique_ptr<TableReader>(std::move(reader));
}

}  // namespace flopsmeter
