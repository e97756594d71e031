// ParquetColumnReader: page headers, decompression, level and value
// decoding for one column chunk.
#include "dataset/parquet_column.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>
#include <utility>

#include "dataset/json_text.h"
#include "dataset/little_endian.h"

namespace flopsmeter {
namespace {

// Page headers are small (tens of bytes) unless they carry statistics with
// long min/max strings; this much is read first, more when needed.
constexpr uint64_t kPageHeaderFirstRead = 4096;
constexpr uint64_t kMaxPageHeaderBytes = uint64_t{16} << 20;

size_t plain_width(ParquetType type) {
  switch (type) {
    case ParquetType::kInt32:
    case ParquetType::kFloat: return 4;
    case ParquetType::kInt64:
    case ParquetType::kDouble: return 8;
    default: return 0;  // BYTE_ARRAY: length-prefixed; BOOLEAN: bits
  }
}

}  // namespace

int level_bit_width(uint16_t max_level) { return width_for_max_value(max_level); }

ParquetColumnReader::ParquetColumnReader(const InputFile& file, uint64_t begin, uint64_t end, PageCodec codec,
                                         ParquetLeaf leaf, ParquetMemory* memory)
    : file_(file), pos_(begin), end_(end), codec_(codec), leaf_(leaf), memory_(memory) {}

ParquetColumnReader::~ParquetColumnReader() {
  release(&page_);
  release(&dictionary_page_);
}

void ParquetColumnReader::release(std::string* buffer) {
  memory_->held -= std::min<uint64_t>(memory_->held, buffer->size());
  std::string().swap(*buffer);
}

std::string ParquetColumnReader::page_name() const {
  if (dictionary_failed_) return "dictionary page";
  return "page " + std::to_string(std::max<int64_t>(page_index_, 0));
}

Result<const ParquetLevels*> ParquetColumnReader::peek() {
  while (!has_current_) {
    if (at_end_) return nullptr;
    if (values_left_ == 0) {
      FM_RETURN_IF_ERROR(next_page());
      continue;
    }
    uint32_t level = 0;
    if (leaf_.max_repetition > 0) {
      FM_ASSIGN_OR_RETURN(const bool got, repetition_.next(&level));
      if (!got) return Status::ParseError("repetition levels end before the page's values");
      if (level > leaf_.max_repetition) {
        return Status::ParseError("repetition level " + std::to_string(level) + " above the column's maximum " +
                                  std::to_string(leaf_.max_repetition));
      }
    }
    current_.repetition = static_cast<uint16_t>(level);
    level = 0;
    if (leaf_.max_definition > 0) {
      FM_ASSIGN_OR_RETURN(const bool got, definition_.next(&level));
      if (!got) return Status::ParseError("definition levels end before the page's values");
      if (level > leaf_.max_definition) {
        return Status::ParseError("definition level " + std::to_string(level) + " above the column's maximum " +
                                  std::to_string(leaf_.max_definition));
      }
    }
    current_.definition = static_cast<uint16_t>(level);
    --values_left_;
    has_current_ = true;
  }
  return &current_;
}

Status ParquetColumnReader::consume(std::string* json) {
  if (!has_current_) return Status::Internal("ParquetColumnReader::consume() without a peeked triple");
  has_current_ = false;
  if (current_.definition == leaf_.max_definition) return append_value(json);
  if (json != nullptr) json->append("null");
  return Status::Ok();
}

Result<std::string> ParquetColumnReader::read_page_header(ParquetPageHeader* header) {
  uint64_t want = std::min(kPageHeaderFirstRead, end_ - pos_);
  while (true) {
    FM_ASSIGN_OR_RETURN(std::string bytes, file_.read_at(pos_, want));
    bytes_read_ += bytes.size();
    size_t header_bytes = 0;
    Result<ParquetPageHeader> decoded = decode_page_header(bytes, &header_bytes);
    const uint64_t most = std::min(kMaxPageHeaderBytes, end_ - pos_);
    if (decoded.ok() || want >= most) {
      if (!decoded.ok()) return decoded.status().WithContext("page header");
      *header = *decoded;
      pos_ += header_bytes;
      bytes.erase(0, header_bytes);  // what was read beyond the header: the page's first bytes
      return bytes;
    }
    want = std::min(want * 16, most);  // a header with long statistics: read more
  }
}

Status ParquetColumnReader::next_page() {
  release(&page_);
  while (true) {
    if (pos_ >= end_) {
      at_end_ = true;
      return Status::Ok();
    }
    ++page_index_;
    ParquetPageHeader header;
    FM_ASSIGN_OR_RETURN(std::string compressed, read_page_header(&header));
    if (header.compressed_page_size < 0 || static_cast<uint64_t>(header.compressed_page_size) > end_ - pos_) {
      return Status::ParseError("page of " + std::to_string(header.compressed_page_size) +
                                " bytes runs past the column chunk's end");
    }
    const auto size = static_cast<uint64_t>(header.compressed_page_size);
    if (compressed.size() >= size) {
      compressed.resize(size);
    } else {
      FM_ASSIGN_OR_RETURN(const std::string rest, file_.read_at(pos_ + compressed.size(), size - compressed.size()));
      bytes_read_ += rest.size();
      compressed += rest;
    }
    pos_ += size;
    switch (static_cast<ParquetPageType>(header.type)) {
      case ParquetPageType::kDictionaryPage: {
        Status status = read_dictionary(header, std::move(compressed));
        if (!status.ok()) dictionary_failed_ = true;
        FM_RETURN_IF_ERROR(status);
        continue;
      }
      case ParquetPageType::kDataPage:
      case ParquetPageType::kDataPageV2:
        FM_RETURN_IF_ERROR(start_data_page(header, std::move(compressed)));
        if (values_left_ > 0) return Status::Ok();
        continue;  // a page of no values
      case ParquetPageType::kIndexPage: continue;
    }
    continue;  // page types added after this reader was written: not data
  }
}

Result<std::string> ParquetColumnReader::decompress(std::string_view compressed, int32_t uncompressed_size) {
  if (uncompressed_size < 0) return Status::ParseError("negative uncompressed page size");
  const auto size = static_cast<uint64_t>(uncompressed_size);
  if (size > memory_->limit - std::min(memory_->held, memory_->limit)) {
    return Status::Unsupported("page of " + std::to_string(size) + " bytes decompressed would pass the limit of " +
                               std::to_string(memory_->limit) + " bytes held at once");
  }
  std::string out;
  if (codec_ == PageCodec::kUncompressed && compressed.size() == size) {
    out.assign(compressed);
  } else {
    try {
      out.resize(std::max<size_t>(size, 1));
    } catch (const std::bad_alloc&) {
      return Status::IoError("out of memory for a page of " + std::to_string(size) + " bytes");
    }
    FM_RETURN_IF_ERROR(decompress_page(codec_, compressed, out.data(), size));
    out.resize(size);
  }
  return out;
}

void ParquetColumnReader::hold_page(std::string page) {
  release(&page_);
  page_ = std::move(page);
  memory_->held += page_.size();
}

Status ParquetColumnReader::read_dictionary(const ParquetPageHeader& header, std::string compressed) {
  if (seen_data_page_ || !dictionary_page_.empty() || !dictionary_.empty()) {
    return Status::ParseError("a dictionary page after the chunk's first page");
  }
  if (header.encoding != static_cast<int32_t>(ParquetEncoding::kPlain) &&
      header.encoding != static_cast<int32_t>(ParquetEncoding::kPlainDictionary)) {
    return Status::Unsupported("dictionary in " + encoding_name(header.encoding) + " encoding");
  }
  if (header.num_values < 0) return Status::ParseError("negative number of dictionary values");
  if (leaf_.type == ParquetType::kBoolean) return Status::ParseError("a dictionary for a boolean column");
  FM_ASSIGN_OR_RETURN(dictionary_page_, decompress(compressed, header.uncompressed_page_size));
  memory_->held += dictionary_page_.size();
  // Every value takes at least one byte (four for a string's length), so
  // a count above the page size is a lie: checked before reserving.
  const size_t width = leaf_.type == ParquetType::kByteArray ? 4 : std::max<size_t>(plain_width(leaf_.type), 1);
  const auto count = static_cast<size_t>(header.num_values);
  if (count > dictionary_page_.size() / width) {
    return Status::ParseError(std::to_string(count) + " dictionary values cannot fit in " +
                              std::to_string(dictionary_page_.size()) + " bytes");
  }
  dictionary_.reserve(count);
  std::string_view rest = dictionary_page_;
  for (size_t i = 0; i < count; ++i) {
    size_t length = plain_width(leaf_.type);
    size_t skip = 0;
    if (leaf_.type == ParquetType::kByteArray) {
      if (rest.size() < 4) return Status::ParseError("dictionary value " + std::to_string(i) + " runs past the page");
      length = load_u32(rest.data());
      skip = 4;
    }
    if (rest.size() - skip < length) {
      return Status::ParseError("dictionary value " + std::to_string(i) + " runs past the page");
    }
    dictionary_.push_back(rest.substr(skip, length));
    rest.remove_prefix(skip + length);
  }
  return Status::Ok();
}

// v1: levels and values compressed together; each level stream that
// exists is prefixed by its 4-byte length.
Status ParquetColumnReader::start_data_page(const ParquetPageHeader& header, std::string compressed) {
  seen_data_page_ = true;
  if (header.num_values < 0) return Status::ParseError("negative number of values in a data page");
  if (header.type == static_cast<int32_t>(ParquetPageType::kDataPageV2)) return start_data_page_v2(header, compressed);
  FM_ASSIGN_OR_RETURN(std::string page, decompress(compressed, header.uncompressed_page_size));
  hold_page(std::move(page));
  std::string_view rest(page_);
  auto take_levels = [&](uint16_t max_level, int32_t encoding, RleHybridDecoder* decoder) -> Status {
    if (max_level == 0) return Status::Ok();
    if (encoding != static_cast<int32_t>(ParquetEncoding::kRle)) {
      return Status::Unsupported("levels in " + encoding_name(encoding) + " encoding");
    }
    if (rest.size() < 4) return Status::ParseError("page ends inside its levels' length");
    const uint32_t length = load_u32(rest.data());
    if (length > rest.size() - 4) return Status::ParseError("levels of " + std::to_string(length) + " bytes run past the page");
    *decoder = RleHybridDecoder(rest.substr(4, length), level_bit_width(max_level));
    rest.remove_prefix(4 + size_t{length});
    return Status::Ok();
  };
  FM_RETURN_IF_ERROR(take_levels(leaf_.max_repetition, header.repetition_level_encoding, &repetition_));
  FM_RETURN_IF_ERROR(take_levels(leaf_.max_definition, header.definition_level_encoding, &definition_));
  values_left_ = header.num_values;
  return start_values(header.encoding, rest);
}

// v2: the levels come first, never compressed, their lengths in the header;
// then the values, compressed when is_compressed says so.
Status ParquetColumnReader::start_data_page_v2(const ParquetPageHeader& header, std::string_view stored) {
  const int64_t rep = header.repetition_levels_byte_length;
  const int64_t def = header.definition_levels_byte_length;
  if (rep < 0 || def < 0 || static_cast<uint64_t>(rep + def) > stored.size() ||
      rep + def > header.uncompressed_page_size) {
    return Status::ParseError("data page v2 level lengths do not fit the page");
  }
  const auto level_bytes = static_cast<size_t>(rep + def);
  std::string page(stored.substr(0, level_bytes));
  if (header.is_compressed && codec_ != PageCodec::kUncompressed) {
    FM_ASSIGN_OR_RETURN(const std::string values, decompress(stored.substr(level_bytes),
                                                             header.uncompressed_page_size - static_cast<int32_t>(level_bytes)));
    page += values;
  } else {
    page += stored.substr(level_bytes);
  }
  hold_page(std::move(page));
  const std::string_view levels(page_);
  repetition_ = RleHybridDecoder(levels.substr(0, static_cast<size_t>(rep)), level_bit_width(leaf_.max_repetition));
  definition_ = RleHybridDecoder(levels.substr(static_cast<size_t>(rep), static_cast<size_t>(def)),
                                 level_bit_width(leaf_.max_definition));
  values_left_ = header.num_values;
  return start_values(header.encoding, levels.substr(level_bytes));
}

Status ParquetColumnReader::start_values(int32_t encoding, std::string_view values) {
  plain_bit_ = 0;
  switch (static_cast<ParquetEncoding>(encoding)) {
    case ParquetEncoding::kPlain:
      value_encoding_ = ValueEncoding::kPlain;
      plain_ = values;
      return Status::Ok();
    case ParquetEncoding::kPlainDictionary:
    case ParquetEncoding::kRleDictionary: {
      if (values.empty()) return Status::ParseError("dictionary indices without their bit width");
      const auto width = static_cast<uint8_t>(values[0]);
      if (width > 32) return Status::ParseError("dictionary index bit width " + std::to_string(width) + " above 32");
      value_encoding_ = ValueEncoding::kDictionary;
      indices_ = RleHybridDecoder(values.substr(1), width);
      return Status::Ok();
    }
    case ParquetEncoding::kRle:
      if (leaf_.type != ParquetType::kBoolean) break;
      // Booleans in RLE: a 4-byte length, then the runs of bit width 1.
      if (values.size() < 4 || load_u32(values.data()) > values.size() - 4) {
        return Status::ParseError("RLE boolean values run past the page");
      }
      value_encoding_ = ValueEncoding::kRleBool;
      indices_ = RleHybridDecoder(values.substr(4, load_u32(values.data())), 1);
      return Status::Ok();
    default: break;
  }
  return Status::Unsupported("values in " + encoding_name(encoding) + " encoding (PLAIN, PLAIN_DICTIONARY, " +
                             "RLE_DICTIONARY and RLE booleans are read)");
}

Result<std::string_view> ParquetColumnReader::plain_bytes(size_t count) {
  if (plain_.size() < count) return Status::ParseError("values end before the page's last value");
  const std::string_view bytes = plain_.substr(0, count);
  plain_.remove_prefix(count);
  return bytes;
}

Status ParquetColumnReader::append_plain_value(std::string_view bytes, std::string* json) const {
  if (json == nullptr) return Status::Ok();
  switch (leaf_.kind) {
    case ParquetLeafKind::kString: append_json_string(json, bytes); break;
    case ParquetLeafKind::kBool: json->append(bytes[0] != 0 ? "true" : "false"); break;
    case ParquetLeafKind::kFloat:
      append_json_double(json, bytes.size() == 4 ? double{std::bit_cast<float>(load_u32(bytes.data()))}
                                                 : std::bit_cast<double>(load_u64(bytes.data())));
      break;
    case ParquetLeafKind::kSigned:
      append_json_int(json, bytes.size() == 4 ? load_little_endian(bytes.data(), 4, true) : load_little_endian(bytes.data(), 8, true));
      break;
    case ParquetLeafKind::kUnsigned:
      append_json_uint(json, bytes.size() == 4 ? uint64_t{load_u32(bytes.data())} : load_u64(bytes.data()));
      break;
  }
  return Status::Ok();
}

Status ParquetColumnReader::append_value(std::string* json) {
  if (value_encoding_ == ValueEncoding::kDictionary) {
    uint32_t index = 0;
    FM_ASSIGN_OR_RETURN(const bool got, indices_.next(&index));
    if (!got) return Status::ParseError("dictionary indices end before the page's last value");
    if (index >= dictionary_.size()) {
      return Status::ParseError("dictionary index " + std::to_string(index) + " past the dictionary's " +
                                std::to_string(dictionary_.size()) + " values");
    }
    return append_plain_value(dictionary_[index], json);
  }
  if (leaf_.type == ParquetType::kBoolean) {
    uint32_t bit = 0;
    if (value_encoding_ == ValueEncoding::kRleBool) {
      FM_ASSIGN_OR_RETURN(const bool got, indices_.next(&bit));
      if (!got) return Status::ParseError("boolean values end before the page's last value");
    } else {
      if (plain_bit_ / 8 >= plain_.size()) return Status::ParseError("boolean values end before the page's last value");
      bit = (static_cast<uint8_t>(plain_[plain_bit_ / 8]) >> (plain_bit_ % 8)) & 1u;
      ++plain_bit_;
    }
    const char byte = static_cast<char>(bit);
    return append_plain_value(std::string_view(&byte, 1), json);
  }
  if (leaf_.type == ParquetType::kByteArray) {
    FM_ASSIGN_OR_RETURN(const std::string_view length_bytes, plain_bytes(4));
    FM_ASSIGN_OR_RETURN(const std::string_view bytes, plain_bytes(load_u32(length_bytes.data())));
    return append_plain_value(bytes, json);
  }
  FM_ASSIGN_OR_RETURN(const std::string_view bytes, plain_bytes(plain_width(leaf_.type)));
  return append_plain_value(bytes, json);
}

}  // namespace flopsmeter
