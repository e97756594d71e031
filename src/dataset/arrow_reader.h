// Arrow IPC as rows (see table_reader.h for the row -> record mapping): the
// stream format (what datasets' save_to_disk writes as
// data-00000-of-00001.arrow), read front to back as messages arrive, so it
// works on compressed files and standard input too; and the file format
// ("ARROW1" magic, also Feather v2), read through its footer (which holds
// the schema and where each record batch is), so from a named,
// uncompressed file.
//
// Read: the schema and record batch messages (FlatBuffers metadata decoded
// by hand, bounded); null, bool, integers, floats, utf8 and large_utf8,
// list, large_list, fixed_size_list, map and struct, with validity bitmaps;
// buffers compressed with ZSTD. Columns without a JSON form (binary,
// decimal, dates and times, ...) are left out of the rows. Refused with an
// error naming the file: dictionary-encoded columns, unions, run-end
// encoded and view types, big-endian data, LZ4-compressed buffers, streams
// written before Arrow 0.15 (no continuation markers). A stream must end
// with its end-of-stream marker: one cut at a message boundary is an error,
// not fewer rows.
//
// Memory: one record batch at a time (datasets writes 1000 rows a batch),
// read as the bytes arrive, so a lying length fails at the end of the data
// instead of allocating what it claims.
#ifndef FLOPSMETER_DATASET_ARROW_READER_H_
#define FLOPSMETER_DATASET_ARROW_READER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "dataset/byte_source.h"
#include "dataset/record_reader.h"
#include "dataset/table_reader.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

// Levels of nesting (lists, structs) a schema may have.
inline constexpr int kMaxArrowNesting = 64;

struct ArrowReaderOptions {
  // One message's metadata (a FlatBuffer) and body.
  uint64_t max_metadata_bytes = uint64_t{64} << 20;
  uint64_t max_body_bytes = uint64_t{2} << 30;
  // The largest row, as JSON text.
  size_t max_record_bytes = kMaxRecordBytes;
};

// Rows of the IPC stream or file in `source`, opened from `path`, whose
// first bytes were already read into `head`. `source` must outlive the
// reader.
Result<std::unique_ptr<TableReader>> open_arrow(ByteSource* source, std::string head, const std::string& path,
                                                const ArrowReaderOptions& options = {});

}  // namespace flopsmeter

#endif  // FLOPSMETER_DATASET_ARROW_READER_H_
