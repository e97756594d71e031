// ParquetColumnReader: one column chunk of one row group, read page by page
// as a stream of (repetition level, definition level, value) triples.
//
// Only the current page is held (decompressed), plus the chunk's dictionary
// page: memory is bounded by the page sizes the writer chose (typically
// about 1 MiB), never by the chunk or the file. Pages, levels and values
// are decoded lazily, so a page that claims millions of values in a few
// bytes (an RLE run) costs nothing until they are read.
//
// Read here: data pages v1 and v2; dictionary pages; the PLAIN,
// PLAIN_DICTIONARY and RLE_DICTIONARY encodings, and RLE for booleans;
// RLE/bit-packed levels; the UNCOMPRESSED, SNAPPY, GZIP and ZSTD codecs.
// Anything else is an Unsupported error naming the encoding or codec.
//
// Errors are ParseErrors (or Unsupported) without a location: the row
// reader adds the file, row group, column and page (page_index()).
#ifndef FLOPSMETER_DATASET_PARQUET_COLUMN_H_
#define FLOPSMETER_DATASET_PARQUET_COLUMN_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/files.h"
#include "dataset/page_codecs.h"
#include "dataset/parquet_metadata.h"
#include "dataset/rle_hybrid.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

// The decompressed bytes all column readers of a file may hold at once
// (pages and dictionaries); a page that would pass it is an error.
struct ParquetMemory {
  uint64_t held = 0;
  uint64_t limit = 0;
};

// What a leaf column's values are, for its JSON text.
enum class ParquetLeafKind { kString, kSigned, kUnsigned, kFloat, kBool };

struct ParquetLeaf {
  ParquetType type = ParquetType::kByteArray;
  ParquetLeafKind kind = ParquetLeafKind::kString;
  uint16_t max_definition = 0;
  uint16_t max_repetition = 0;
};

struct ParquetLevels {
  uint16_t repetition = 0;
  uint16_t definition = 0;
};

class ParquetColumnReader {
 public:
  // Reads the chunk's bytes [begin, end) of `file` (checked by the caller
  // to lie inside the file's data). `file` and `memory` must outlive it.
  ParquetColumnReader(const InputFile& file, uint64_t begin, uint64_t end, PageCodec codec, ParquetLeaf leaf,
                      ParquetMemory* memory);
  ParquetColumnReader(const ParquetColumnReader&) = delete;
  ParquetColumnReader& operator=(const ParquetColumnReader&) = delete;
  ~ParquetColumnReader();

  // The levels of the next triple, or null at the end of the chunk. Stays
  // valid until consume().
  Result<const ParquetLevels*> peek();
  // Consumes the next triple (peek() must have returned one). When it
  // carries a value (its definition level is the maximum), the value is
  // decoded and, if `json` is not null, appended as JSON; when it does not
  // and `json` is not null, "null" is appended.
  Status consume(std::string* json);

  // 0-based index in the chunk of the page being read (the dictionary page
  // counts), for messages; "dictionary page" when that is where it failed.
  std::string page_name() const;
  // File bytes read so far.
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  Status next_page();
  Result<std::string> read_page_header(ParquetPageHeader* header);
  // `compressed` decompressed into `uncompressed_size` bytes, refused when
  // that would pass the memory limit.
  Result<std::string> decompress(std::string_view compressed, int32_t uncompressed_size);
  // Makes `page` the current page, counted against the memory limit.
  void hold_page(std::string page);
  Status read_dictionary(const ParquetPageHeader& header, std::string compressed);
  Status start_data_page(const ParquetPageHeader& header, std::string compressed);
  Status start_data_page_v2(const ParquetPageHeader& header, std::string_view stored);
  Status start_values(int32_t encoding, std::string_view values);
  Status append_value(std::string* json);
  Result<std::string_view> plain_bytes(size_t count);
  Status append_plain_value(std::string_view bytes, std::string* json) const;
  void release(std::string* buffer);

  const InputFile& file_;
  uint64_t pos_;
  const uint64_t end_;
  const PageCodec codec_;
  const ParquetLeaf leaf_;
  ParquetMemory* memory_;
  uint64_t bytes_read_ = 0;
  int64_t page_index_ = -1;
  bool dictionary_failed_ = false;

  // The chunk's dictionary: its page and where each value starts.
  std::string dictionary_page_;
  std::vector<std::string_view> dictionary_;
  bool seen_data_page_ = false;

  // The current data page.
  std::string page_;
  int64_t values_left_ = 0;  // triples not yet consumed in the page
  RleHybridDecoder repetition_;
  RleHybridDecoder definition_;
  ParquetLevels current_;
  bool has_current_ = false;
  bool at_end_ = false;
  // Values: PLAIN bytes, or dictionary indices, or RLE booleans.
  enum class ValueEncoding { kPlain, kDictionary, kRleBool } value_encoding_ = ValueEncoding::kPlain;
  std::string_view plain_;
  uint64_t plain_bit_ = 0;  // PLAIN booleans are bit-packed
  RleHybridDecoder indices_;
};

// How many bits levels up to `max_level` take.
int level_bit_width(uint16_t max_level);

}  // namespace flopsmeter

#endif  // FLOPSMETER_DATASET_PARQUET_COLUMN_H_
