// Reading and writing files with errors that say what went wrong and where.
//
// All of flopsmeter's file access goes through here, so that a missing file,
// a directory given where a file was expected, a permission problem or an
// oversized input always reads the same way:
//
//   config.json: no such file or directory
//   weights/: is a directory, expected a file
//   big.json: file is 80000000 bytes, above the limit of 67108864 bytes
//
// Nothing here throws. POSIX only (Linux, macOS).
//
// Thread safety: every function may be called from several threads at once;
// an InputFile object must not be used by two threads at the same time.
#ifndef FLOPSMETER_ADAPTERS_FILES_H_
#define FLOPSMETER_ADAPTERS_FILES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "flopsmeter/status.h"

namespace flopsmeter {

// The whole content of the file at `path`. Fails with NotFound when it does
// not exist, InvalidArgument when it is a directory or longer than
// `max_bytes`, IoError when it cannot be read (permission, I/O error).
// Works on pipes and character devices too (read until end of file).
Result<std::string> read_file(const std::string& path, uint64_t max_bytes);

// A regular file open for reading at chosen offsets, for formats whose
// header says how much more to read (safetensors). Move-only; closes the
// file when destroyed.
class InputFile {
 public:
  // Same errors as read_file(); also InvalidArgument for anything that is
  // not a regular file, since its size is not known in advance.
  static Result<InputFile> open(const std::string& path);

  InputFile(InputFile&& other) noexcept;
  InputFile& operator=(InputFile&& other) noexcept;
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile();

  const std::string& path() const { return path_; }
  // Size in bytes when the file was opened.
  uint64_t size() const { return size_; }
  // Exactly `length` bytes starting at `offset`; a ParseError if the file
  // ends first (it was truncated, or shrank after open()).
  Result<std::string> read_at(uint64_t offset, uint64_t length) const;

 private:
  InputFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}

  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Replaces the file at `path` with `contents` so that a reader sees either
// the old file or the complete new one, never a partial file: the data goes
// to a temporary file in the same directory, is flushed to disk, then
// renamed over `path`. The temporary file is removed on failure. An
// existing file's permission bits are kept; a new file gets 0666 minus the
// umask. A symbolic link at `path` is replaced, not followed.
Status write_file_atomic(const std::string& path, std::string_view contents);

// True when `path` exists and is a directory (symbolic links followed).
bool is_directory(const std::string& path);

// True when `path` exists and is a regular file (symbolic links followed).
bool is_regular_file(const std::string& path);

// Names of the entries of directory `path`, without "." and "..", sorted
// bytewise. NotFound when it does not exist, InvalidArgument when it is not
// a directory, IoError when it cannot be read.
Result<std::vector<std::string>> list_directory(const std::string& path);

// `dir` + "/" + `name`, without doubling a trailing slash; `name` alone when
// `dir` is empty.
std::string join_path(std::string_view dir, std::string_view name);

}  // namespace flopsmeter

#endif  // FLOPSMETER_ADAPTERS_FILES_H_
