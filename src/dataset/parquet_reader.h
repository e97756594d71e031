// Parquet files as rows (see table_reader.h for the row -> record mapping).
//
//   FM_ASSIGN_OR_RETURN(std::unique_ptr<TableReader> rows, open_parquet("train.parquet", {}));
//   RawRecord record;
//   while (true) {
//     FM_ASSIGN_OR_RETURN(bool more, rows->next_row(&record));
//     if (!more) break;
//     ... record.text is {"messages": [{"role": "user", "content": "..."}, ...]} ...
//   }
//
// The file is read in place (pread), row group by row group: the footer,
// then for the row group being read one page per column at a time (see
// parquet_column.h). Nested columns (lists, structs, maps, lists of structs
// such as chat "messages") are assembled from their repetition and
// definition levels.
//
// Refused with an error naming the file: a file that is not Parquet, an
// encrypted one, column chunks stored in other files, codecs other than
// UNCOMPRESSED, SNAPPY, GZIP and ZSTD, value encodings other than PLAIN,
// the dictionary encodings and RLE booleans, schemas nested deeper than
// kMaxParquetNesting. Every length and count in the file is checked
// against the file's size before it is used. Errors say where:
//
//   train.parquet: row group 3, column 'messages.list.element.content', page 2: snappy data is corrupt
#ifndef FLOPSMETER_DATASET_PARQUET_READER_H_
#define FLOPSMETER_DATASET_PARQUET_READER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "dataset/record_reader.h"
#include "dataset/table_reader.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

inline constexpr std::string_view kParquetMagic = "PAR1";
// Levels of nesting (groups and lists) a schema may have.
inline constexpr int kMaxParquetNesting = 64;

struct ParquetReaderOptions {
  // The footer (FileMetaData) is read whole; it lists every row group's
  // columns and statistics, a few MB even for large datasets.
  uint64_t max_footer_bytes = uint64_t{64} << 20;
  // Decompressed pages and dictionaries held at once over all columns.
  uint64_t max_decoded_bytes = uint64_t{1} << 30;
  // The largest row, as JSON text.
  size_t max_record_bytes = kMaxRecordBytes;
};

// Opens the Parquet file at `path` (a regular file; symbolic links
// followed, as for other datasets) and reads its footer. Messages name it
// `shown_path`.
Result<std::unique_ptr<TableReader>> open_parquet(const std::string& path, const std::string& shown_path,
                                                  const ParquetReaderOptions& options = {});

}  // namespace flopsmeter

#endif  // FLOPSMETER_DATASET_PARQUET_READER_H_
