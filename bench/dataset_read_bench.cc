// Throughput of the dataset readers: how fast files become records (and,
// with --parse, samples) on one thread. Not a test; numbers for the README
// of a change. Build without CMake from the repository root:
//
//   c++ -std=gnu++20 -O2 -DNDEBUG -Iinclude -Isrc bench/dataset_read_bench.cc \
//       $(ls src/dataset/*.cc | grep -v sample_tokens) src/core/json_doc.cc src/core/status.cc \
//       src/core/suggest.cc src/adapters/files.cc -lz -lzstd -lsnappy -o /tmp/dataset_read_bench
//
//   /tmp/dataset_read_bench [--parse] [--unit line|paragraph|document] [--reps N] FILE...
//
// Each file is read --reps times (default 3) and the fastest run is kept.
// Reported: decompressed MB/s (what the splitter handles; for Parquet and
// Arrow, the rows' JSON text), file MB/s (what the disk or page cache
// delivers) and records/s. Run it twice in a row so
// the files come from the page cache, not the disk.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "dataset/record_reader.h"
#include "dataset/sample.h"

namespace {

using flopsmeter::DatasetFormat;
using flopsmeter::RawRecord;
using flopsmeter::RecordReader;
using flopsmeter::TextUnit;

struct Run {
  double seconds = 0;
  uint64_t decoded_bytes = 0;
  uint64_t file_bytes = 0;
  uint64_t records = 0;
  std::string compression;
  DatasetFormat format = DatasetFormat::kAuto;
};

// Reads every record of `path`; with `parse`, turns each into a Sample too.
bool read_once(const std::string& path, TextUnit unit, bool parse, Run* run) {
  const auto start = std::chrono::steady_clock::now();
  auto reader = RecordReader::Open(path, DatasetFormat::kAuto, unit);
  if (!reader.ok()) {
    std::fprintf(stderr, "%s\n", reader.status().message().c_str());
    return false;
  }
  std::vector<RawRecord> batch;
  uint64_t records = 0;
  while (true) {
    batch.clear();
    auto more = (*reader)->next_batch(&batch, 4 << 20);
    if (!more.ok()) {
      std::fprintf(stderr, "%s\n", more.status().message().c_str());
      return false;
    }
    if (!*more) break;
    records += batch.size();
    if (!parse) continue;
    for (const RawRecord& record : batch) {
      auto sample = flopsmeter::parse_sample(record, (*reader)->format(), {}, path);
      if (!sample.ok()) {
        std::fprintf(stderr, "%s\n", sample.status().message().c_str());
        return false;
      }
    }
  }
  run->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run->decoded_bytes = (*reader)->bytes_decoded();
  run->file_bytes = (*reader)->file_bytes_read();
  run->records = records;
  run->compression = std::string((*reader)->compression());
  run->format = (*reader)->format();
  return true;
}

const char* format_name(DatasetFormat format) {
  switch (format) {
    case DatasetFormat::kText: return "text";
    case DatasetFormat::kJsonLines: return "jsonl";
    case DatasetFormat::kJsonArray: return "json-array";
    case DatasetFormat::kParquet: return "parquet";
    case DatasetFormat::kArrow: return "arrow";
    case DatasetFormat::kAuto: break;
  }
  return "auto";
}

}  // namespace

int main(int argc, char** argv) {
  bool parse = false;
  int reps = 3;
  TextUnit unit = TextUnit::kLine;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--parse") {
      parse = true;
    } else if (arg == "--reps" && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--unit" && i + 1 < argc) {
      const std::string name = argv[++i];
      unit = name == "paragraph" ? TextUnit::kParagraph
             : name == "document" ? TextUnit::kDocument
                                  : TextUnit::kLine;
    } else {
      files.push_back(arg);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: %s [--parse] [--unit line|paragraph|document] [--reps N] FILE...\n",
                 argv[0]);
    return 2;
  }
  for (const std::string& path : files) {
    Run best;
    for (int rep = 0; rep < reps; ++rep) {
      Run run;
      if (!read_once(path, unit, parse, &run)) return 1;
      if (rep == 0 || run.seconds < best.seconds) best = run;
    }
    std::printf("%-40s %-10s %-5s %9.1f MB/s decoded %9.1f MB/s file %11.0f records/s%s\n",
                path.c_str(), format_name(best.format), best.compression.c_str(),
                static_cast<double>(best.decoded_bytes) / 1e6 / best.seconds,
                static_cast<double>(best.file_bytes) / 1e6 / best.seconds,
                static_cast<double>(best.records) / best.seconds, parse ? "  (with parse_sample)" : "");
  }
  return 0;
}
