// What a file's first bytes say it is, when they name a binary format.
//
// A dataset's format is settled by these bytes before its name: Parquet and
// Arrow IPC are read as tables, and any other binary format recognised here
// is refused by name, so that a spreadsheet, a database or a model file
// given as a dataset is never counted as if it were text.
#ifndef FLOPSMETER_DATASET_BINARY_FORMATS_H_
#define FLOPSMETER_DATASET_BINARY_FORMATS_H_

#include <cstddef>
#include <string_view>

namespace flopsmeter {

enum class BinaryFormat {
  kNone,         // no binary signature: text, JSON, or unrecognised
  kParquet,      // "PAR1"
  kArrowFile,    // "ARROW1" (also Feather v2)
  kArrowStream,  // an IPC message: continuation marker 0xFFFFFFFF, then a length
  kRefused,      // a format that is not read (see name)
};

struct BinaryFormatMatch {
  BinaryFormat format = BinaryFormat::kNone;
  // "a Parquet file", "an ORC file", "a zip archive (xlsx, docx, npz, ...)", ...
  std::string_view name;
};

// Bytes identify_binary_format() looks at (fewer when the file is shorter).
inline constexpr size_t kBinaryMagicBytes = 16;

BinaryFormatMatch identify_binary_format(std::string_view head);

}  // namespace flopsmeter

#endif  // FLOPSMETER_DATASET_BINARY_FORMATS_H_
