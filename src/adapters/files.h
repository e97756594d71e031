// Reading and writing files with errors that say what went wrong and where.
//
// All of flopsmeter's file access goes through here, so that a missing file,
// a directory given where a file was expected, a permission problem or an
// oversized input always reads the same way:
//
//   config.json: no such file or directory
//   weights/: is a directory, expected a file
//   tokens.fifo: is a FIFO, expected a file
//   big.json: file is 80000000 bytes, above the limit of 67108864 bytes
//
// Named files are regular files only: a FIFO, a device or a socket given
// where a file is expected would block the command or never end, so it is
// refused before anything is read or written, and opening never blocks.
// Paths are quoted in messages through printable_text(), so a file name
// cannot put control characters on the user's terminal.
//
// Nothing here throws. POSIX only (Linux, macOS).
//
// Thread safety: every function may be called from several threads at once;
// an InputFile object must not be used by two threads at the same time.
#ifndef FLOPSMETER_ADAPTERS_FILES_H_
#define FLOPSMETER_ADAPTERS_FILES_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "flopsmeter/status.h"

namespace flopsmeter {

// An open file descriptor, closed when destroyed. Move-only.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor();

  int get() const { return fd_; }
  // Gives up ownership: the caller closes the descriptor.
  int release();

 private:
  int fd_ = -1;
};

// What a file of this type is, for messages: "a FIFO", "a character
// device", "a directory", "a symbolic link", "a socket", "a block device",
// "a regular file".
std::string_view file_type_name(mode_t mode);

// "PATH: is a FIFO, expected a file" (InvalidArgument): the message for a
// path that names something other than a regular file.
Status not_a_regular_file(const std::string& path, mode_t mode);

// Whether open_regular_file() follows a symbolic link at the path itself
// (links in the directories above it are always followed).
enum class FinalSymlink { kFollow, kRefuse };

// An existing regular file, open.
struct RegularFile {
  FileDescriptor fd;
  uint64_t size = 0;  // bytes when it was opened
};

// Opens the existing regular file at `path` with `access` (O_RDONLY,
// O_WRONLY or O_RDWR, optionally O_APPEND; never O_CREAT), without ever
// blocking: anything else at `path` (FIFO, device, socket, directory, and a
// symbolic link with FinalSymlink::kRefuse) is refused with
// not_a_regular_file() before a byte is read or written, and is not even
// opened unless it was swapped in at the last moment (then O_NONBLOCK keeps
// the open from waiting for a FIFO's other end). The descriptor is
// close-on-exec and blocking. NotFound when nothing is at `path`, IoError
// when it cannot be opened (permission, I/O error).
Result<RegularFile> open_regular_file(const std::string& path, int access, FinalSymlink final_symlink);

// The whole content of the regular file at `path` (symbolic links
// followed). Fails with NotFound when it does not exist, InvalidArgument
// when it is not a regular file or is longer than `max_bytes` (also when
// it grows past it while being read), IoError when it cannot be read
// (permission, I/O error).
Result<std::string> read_file(const std::string& path, uint64_t max_bytes);

// A regular file open for reading at chosen offsets, for formats whose
// header says how much more to read (safetensors). Move-only; closes the
// file when destroyed.
class InputFile {
 public:
  // Same errors as read_file() (a regular file only, symbolic links
  // followed).
  static Result<InputFile> open(const std::string& path);

  const std::string& path() const { return path_; }
  // Size in bytes when the file was opened.
  uint64_t size() const { return size_; }
  // Exactly `length` bytes starting at `offset`; a ParseError if the file
  // ends first (it was truncated, or shrank after open()).
  Result<std::string> read_at(uint64_t offset, uint64_t length) const;

 private:
  InputFile(std::string path, RegularFile file)
      : path_(std::move(path)), fd_(std::move(file.fd)), size_(file.size) {}

  std::string path_;
  FileDescriptor fd_;
  uint64_t size_ = 0;
};

// Replaces the file at `path` with `contents` so that a reader sees either
// the old file or the complete new one, never a partial file: the data goes
// to a temporary file in the same directory, is flushed to disk, then
// renamed over `path`. The temporary file is removed on failure. An
// existing file's permission bits are kept; a new file gets 0666 minus the
// umask. Only a regular file is replaced: a symbolic link, FIFO, device,
// socket or directory at `path` is refused with not_a_regular_file() and
// left as it is (`--out /dev/null` must not replace /dev/null).
Status write_file_atomic(const std::string& path, std::string_view contents);

// Makes `path` a symbolic link to `target` the same way: the link is made
// under a temporary name beside it, then renamed over `path`, so a reader
// sees the old entry or the new link, and two writers of the same link both
// succeed.
Status write_symlink_atomic(const std::string& target, const std::string& path);

// True when something exists at `path` (symbolic links followed): a file
// that is optional is read when this holds, so that a FIFO or a device in
// its place is reported by read_file() instead of silently ignored.
bool path_exists(const std::string& path);

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
