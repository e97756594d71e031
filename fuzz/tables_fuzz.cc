// libFuzzer harness for the Parquet and Arrow IPC readers.
//
// The input is written to a file (both readers read files: Parquet in place,
// Arrow through a ByteSource) and read to the end, as RecordReader would:
// PAR1 as Parquet, anything else as an Arrow stream or file. Limits are
// lowered so that a page or message claiming gigabytes fails fast, and at
// most kMaxRows rows are read (a few bytes of RLE may declare billions of
// null rows, which is slow, not wrong).
//
// Beyond crashes and sanitizer reports, it traps when a property fails:
//  - every error message starts with the file's name and holds no control
//    bytes;
//  - every row is one JSON object (checked with nlohmann's parser, with
//    bytes >= 0x80 masked: they appear only inside strings, as raw UTF-8 or
//    invalid bytes that the record pipeline repairs).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "dataset/arrow_reader.h"
#include "dataset/byte_source.h"
#include "dataset/parquet_reader.h"

namespace {

constexpr int kMaxRows = 20000;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

void CheckError(const flopsmeter::Status& status, const std::string& path) {
  Check(!status.ok());
  Check(status.message().rfind(path + ": ", 0) == 0);
  for (char c : status.message()) Check(static_cast<unsigned char>(c) >= 0x20);
}

void CheckRow(std::string text) {
  Check(!text.empty() && text.front() == '{');
  for (char& c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) c = 'x';
  }
  Check(nlohmann::json::accept(text));
}

const std::string& InputPath() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir != nullptr ? dir : "/tmp") + "/tables_fuzz." + std::to_string(::getpid());
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = InputPath();
  FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return 0;
  std::fwrite(data, 1, size, file);
  std::fclose(file);
  const std::string input(reinterpret_cast<const char*>(data), size);

  flopsmeter::Result<std::unique_ptr<flopsmeter::ByteSource>> source = flopsmeter::ByteSource::Open(path);
  if (!source.ok()) return 0;
  // The first bytes, as RecordReader hands them over.
  std::string head(16, '\0');
  size_t have = 0;
  while (have < head.size()) {
    flopsmeter::Result<size_t> got = (*source)->read(head.data() + have, head.size() - have);
    if (!got.ok()) return 0;
    if (*got == 0) break;
    have += *got;
  }
  head.resize(have);

  flopsmeter::Result<std::unique_ptr<flopsmeter::TableReader>> table = std::unique_ptr<flopsmeter::TableReader>();
  if (input.rfind("PAR1", 0) == 0) {
    flopsmeter::ParquetReaderOptions options;
    options.max_decoded_bytes = uint64_t{64} << 20;
    options.max_record_bytes = size_t{16} << 20;
    table = flopsmeter::open_parquet(path, path, options);
  } else {
    flopsmeter::ArrowReaderOptions options;
    options.max_body_bytes = uint64_t{64} << 20;
    options.max_record_bytes = size_t{16} << 20;
    table = flopsmeter::open_arrow(source->get(), head, path, options);
  }
  if (!table.ok()) {
    CheckError(table.status(), path);
    return 0;
  }
  flopsmeter::RawRecord record;
  for (int i = 0; i < kMaxRows; ++i) {
    flopsmeter::Result<bool> more = (*table)->next_row(&record);
    if (!more.ok()) {
      CheckError(more.status(), path);
      break;
    }
    if (!*more) break;
    Check(record.line == static_cast<uint64_t>(i) + 1);
    CheckRow(record.text);
  }
  return 0;
}
