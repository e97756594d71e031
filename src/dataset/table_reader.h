// TableReader: the rows of a columnar file (Parquet, Arrow IPC), each as
// one record holding the row's JSON object text, {"column": value, ...},
// so that the record pipeline reads them exactly as it reads JSON lines:
// the same schema detection, chat templates and tokenization.
//
// Values: strings as JSON strings, integers and floats as numbers (NaN and
// infinities as null), booleans, nulls, lists as arrays, structs as
// objects (maps as arrays of {"key", "value"} objects). Columns that cannot
// hold text and have no JSON form (binary, decimals, fixed-size binary,
// INT96 timestamps, ...) are left out of the object, and are not decoded.
#ifndef FLOPSMETER_DATASET_TABLE_READER_H_
#define FLOPSMETER_DATASET_TABLE_READER_H_

#include <cstdint>

#include "dataset/record_reader.h"  // RawRecord
#include "flopsmeter/status.h"

namespace flopsmeter {

class TableReader {
 public:
  virtual ~TableReader() = default;
  // The next row: `record->text` its JSON object, `record->line` its
  // 1-based number in the file (column 1). False after the last row.
  virtual Result<bool> next_row(RawRecord* record) = 0;
  // File bytes read so far, and bytes of row text (JSON) produced.
  virtual uint64_t file_bytes_read() const = 0;
  virtual uint64_t bytes_decoded() const = 0;
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_DATASET_TABLE_READER_H_
