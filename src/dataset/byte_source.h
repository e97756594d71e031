// ByteSource: the decompressed bytes of one dataset file, read in pieces.
//
// Compression is recognised by the first bytes of the file, never by its
// name, so "data.jsonl" that is really gzip, or "data.json.gz" that is not
// compressed at all, both read correctly:
//
//   1f 8b        gzip  (several concatenated members are read one after another)
//   28 b5 2f fd  zstd  (several concatenated frames, and skippable frames)
//   anything else: read as is
//
//   FM_ASSIGN_OR_RETURN(std::unique_ptr<ByteSource> source, ByteSource::Open("data.jsonl.zst"));
//   char buf[65536];
//   while (true) {
//     FM_ASSIGN_OR_RETURN(size_t n, source->read(buf, sizeof buf));
//     if (n == 0) break;  // end of the data
//     ...
//   }
//
// Memory stays bounded whatever the file size: one input buffer plus the
// decoder's window (32 KiB for gzip, up to 128 MiB for zstd frames that ask
// for it; zstd refuses larger windows, as its command-line tool does).
//
// Errors name the file and where in it they were found:
//
//   data.jsonl.gz: corrupt gzip data near compressed byte 4096: invalid distance too far back
//   data.jsonl.zst: zstd data ends early at compressed byte 1000 (truncated file?)
//
// Thread safety: one ByteSource must not be used by two threads at once;
// distinct ones may.
#ifndef FLOPSMETER_DATASET_BYTE_SOURCE_H_
#define FLOPSMETER_DATASET_BYTE_SOURCE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "flopsmeter/status.h"

namespace flopsmeter {

// Bytes read from the file per system call when decompressing.
inline constexpr size_t kDefaultInputChunkBytes = size_t{1} << 18;  // 256 KiB

class ByteSource {
 public:
  // Opens `path` ("-" is standard input, which is not closed and may be a
  // pipe) and looks at its first bytes to choose the decoder. A named path
  // must be a regular file, opened without blocking (open_regular_file()):
  // a FIFO or a device is refused. Fails with the errors of files.h
  // (NotFound, InvalidArgument for what is not a regular file, IoError).
  // `input_chunk_bytes` (> 0) is how much is read per system call; tests
  // make it tiny so that compressed data arrives in small pieces.
  static Result<std::unique_ptr<ByteSource>> Open(
      const std::string& path, size_t input_chunk_bytes = kDefaultInputChunkBytes);

  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;
  ~ByteSource();

  // Writes up to `cap` (> 0) decompressed bytes to `buf` and returns how
  // many; 0 only at the end of the data. Corrupt or truncated compressed
  // data is a ParseError, a failing read an IoError; both name the file and
  // the compressed byte offset. After an error the source must not be read
  // again.
  Result<size_t> read(char* buf, size_t cap);

  // Bytes read from the file so far (compressed bytes for compressed
  // files): progress against file_size().
  uint64_t file_bytes_read() const { return file_bytes_read_; }
  // Size of the file when it is a regular file; nullopt for pipes.
  std::optional<uint64_t> file_size() const { return file_size_; }
  // "none", "gzip" or "zstd".
  std::string_view compression() const;
  // How messages name the file: the path as given with control characters
  // escaped (printable_text), or "<stdin>" for "-".
  const std::string& path() const { return path_; }

 private:
  class Decoder;  // gzip or zstd, defined in byte_source.cc
  class GzipDecoder;
  class ZstdDecoder;

  ByteSource(std::string path, int fd, bool owns_fd, std::optional<uint64_t> file_size,
             size_t input_chunk_bytes);

  // Reads the first bytes and picks the decoder they call for.
  Status choose_decoder();
  // One read() of the file, retried when interrupted.
  Result<size_t> read_from_file(char* buf, size_t cap);
  // Reads from the file into the free end of the input buffer; false at end
  // of file.
  Result<bool> fill_input();
  // Offset in the file of the first input byte not yet consumed.
  uint64_t consumed_offset() const { return file_bytes_read_ - (input_end_ - input_begin_); }

  std::string path_;
  int fd_;
  bool owns_fd_;
  std::optional<uint64_t> file_size_;
  size_t input_chunk_bytes_;
  size_t input_capacity_;
  std::unique_ptr<char[]> input_;
  size_t input_begin_ = 0;  // unconsumed input is [input_begin_, input_end_)
  size_t input_end_ = 0;
  bool input_eof_ = false;
  uint64_t file_bytes_read_ = 0;
  std::unique_ptr<Decoder> decoder_;  // null: not compressed
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_DATASET_BYTE_SOURCE_H_
