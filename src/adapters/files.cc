// File access on POSIX: errno turned into messages naming the path.
#include "adapters/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <new>
#include <system_error>
#include <utility>

#include "core/json_doc.h"  // printable_text

namespace flopsmeter {
namespace {

// Bytes asked of read() at a time.
constexpr size_t kReadChunkBytes = size_t{1} << 16;

std::string errno_text(int error) { return std::generic_category().message(error); }

// How messages name a path: as given, with control characters escaped.
std::string shown(const std::string& path) { return printable_text(path); }

// A Status for a failed system call on `path`. `action` says what we were
// doing ("open", "read") for the errors that need it.
Status errno_status(int error, const std::string& path, const char* action) {
  switch (error) {
    case ENOENT: return Status::NotFound(shown(path) + ": no such file or directory");
    case ENOTDIR: return Status::NotFound(shown(path) + ": a component of the path is not a directory");
    case EACCES:
    case EPERM: return Status::IoError(shown(path) + ": permission denied (" + action + ")");
    case EISDIR: return not_a_regular_file(path, S_IFDIR);
    default: return Status::IoError(shown(path) + ": " + action + " failed: " + errno_text(error));
  }
}

// `size_text` is "123" or "more than 123".
Status too_big(const std::string& path, const std::string& size_text, uint64_t max_bytes) {
  return Status::InvalidArgument(shown(path) + ": file is " + size_text + " bytes, above the limit of " +
                                 std::to_string(max_bytes) + " bytes");
}

// Writes all of `data`, retrying short writes and interruptions.
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(written));
  }
  return true;
}

// A name for a temporary file next to `path` that no other writer (thread
// or process) picks at the same time.
std::string temporary_path_for(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  return dir + "." + base + ".tmp-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter.fetch_add(1));
}

// Flushes the directory holding `path`, so the rename itself survives a
// crash. Best effort: some file systems refuse fsync on directories.
void sync_parent_directory(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

int FileDescriptor::release() { return std::exchange(fd_, -1); }

std::string_view file_type_name(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFIFO: return "a FIFO";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFLNK: return "a symbolic link";
    case S_IFSOCK: return "a socket";
    default: return "an unknown kind of file";
  }
}

Status not_a_regular_file(const std::string& path, mode_t mode) {
  return Status::InvalidArgument(shown(path) + ": is " + std::string(file_type_name(mode)) +
                                 ", expected a file");
}

Result<RegularFile> open_regular_file(const std::string& path, int access, FinalSymlink final_symlink) {
  const bool follow = final_symlink == FinalSymlink::kFollow;
  // Looking first means a device is never opened at all (opening some has
  // effects of its own); what open() then finds is checked again below.
  struct stat info {};
  if ((follow ? ::stat(path.c_str(), &info) : ::lstat(path.c_str(), &info)) != 0) {
    return errno_status(errno, path, "open");
  }
  if (!S_ISREG(info.st_mode)) return not_a_regular_file(path, info.st_mode);
  const int flags = (access & ~O_CREAT) | O_NONBLOCK | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW);
  int raw_fd = -1;
  do {
    raw_fd = ::open(path.c_str(), flags);
  } while (raw_fd < 0 && errno == EINTR);
  if (raw_fd < 0) {
    if (errno == ELOOP && !follow) return not_a_regular_file(path, S_IFLNK);
    return errno_status(errno, path, "open");
  }
  FileDescriptor fd(raw_fd);
  if (::fstat(fd.get(), &info) != 0) return errno_status(errno, path, "stat");
  if (!S_ISREG(info.st_mode)) return not_a_regular_file(path, info.st_mode);
  const int status_flags = ::fcntl(fd.get(), F_GETFL);
  if (status_flags < 0 || ::fcntl(fd.get(), F_SETFL, status_flags & ~O_NONBLOCK) != 0) {
    return errno_status(errno, path, "open");
  }
  return RegularFile{std::move(fd), static_cast<uint64_t>(info.st_size)};
}

Result<std::string> read_file(const std::string& path, uint64_t max_bytes) {
  FM_ASSIGN_OR_RETURN(RegularFile file, open_regular_file(path, O_RDONLY, FinalSymlink::kFollow));
  if (file.size > max_bytes) return too_big(path, std::to_string(file.size), max_bytes);
  try {
    std::string contents;
    contents.reserve(static_cast<size_t>(file.size));
    std::string chunk(kReadChunkBytes, '\0');
    while (true) {
      const ssize_t got = ::read(file.fd.get(), chunk.data(), chunk.size());
      if (got < 0) {
        if (errno == EINTR) continue;
        return errno_status(errno, path, "read");
      }
      if (got == 0) break;
      // A file growing while we read can pass the limit late.
      if (contents.size() + static_cast<uint64_t>(got) > max_bytes) {
        return too_big(path, "more than " + std::to_string(max_bytes), max_bytes);
      }
      contents.append(chunk.data(), static_cast<size_t>(got));
    }
    return contents;
  } catch (const std::bad_alloc&) {
    return Status::IoError(shown(path) + ": out of memory reading the file");
  }
}

Result<InputFile> InputFile::open(const std::string& path) {
  FM_ASSIGN_OR_RETURN(RegularFile file, open_regular_file(path, O_RDONLY, FinalSymlink::kFollow));
  return InputFile(path, std::move(file));
}

Result<std::string> InputFile::read_at(uint64_t offset, uint64_t length) const {
  if (offset > size_ || length > size_ - offset) {
    return Status::ParseError(shown(path_) + ": wanted bytes " + std::to_string(offset) + " to " +
                              std::to_string(offset + length) + " but the file is " +
                              std::to_string(size_) + " bytes (truncated?)");
  }
  try {
    std::string data(static_cast<size_t>(length), '\0');
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t got = ::pread(fd_.get(), data.data() + done, data.size() - done,
                                  static_cast<off_t>(offset + done));
      if (got < 0) {
        if (errno == EINTR) continue;
        return errno_status(errno, path_, "read");
      }
      if (got == 0) {
        return Status::ParseError(shown(path_) + ": file ended at byte " + std::to_string(offset + done) +
                                  " while reading up to byte " + std::to_string(offset + length) +
                                  " (it shrank while being read?)");
      }
      done += static_cast<size_t>(got);
    }
    return data;
  } catch (const std::bad_alloc&) {
    return Status::IoError(shown(path_) + ": out of memory reading " + std::to_string(length) +
                           " bytes");
  }
}

Status write_file_atomic(const std::string& path, std::string_view contents) {
  if (path.empty() || path.back() == '/') {
    return Status::InvalidArgument("'" + shown(path) + "': not a file path");
  }
  // What is at `path` itself: rename() would replace a link, a device or a
  // FIFO with our file.
  struct stat existing {};
  const bool replacing = ::lstat(path.c_str(), &existing) == 0;
  if (replacing && !S_ISREG(existing.st_mode)) return not_a_regular_file(path, existing.st_mode);

  std::string temporary;
  int raw_fd = -1;
  for (int attempt = 0; attempt < 100 && raw_fd < 0; ++attempt) {
    temporary = temporary_path_for(path);
    raw_fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (raw_fd < 0 && errno != EEXIST && errno != EINTR) {
      return errno_status(errno, path, "create a temporary file for");
    }
  }
  if (raw_fd < 0) return Status::IoError(shown(path) + ": could not pick a temporary file name");

  FileDescriptor fd(raw_fd);
  // Any failure from here on must remove the temporary file.
  auto fail = [&](const char* action) {
    const int error = errno;
    if (fd.get() >= 0) ::close(fd.release());
    ::unlink(temporary.c_str());
    return errno_status(error, path, action);
  };
  if (replacing && ::fchmod(fd.get(), existing.st_mode & 07777) != 0) return fail("chmod");
  if (!write_all(fd.get(), contents)) return fail("write");
  if (::fsync(fd.get()) != 0) return fail("fsync");
  if (::close(fd.release()) != 0) return fail("close");
  if (::rename(temporary.c_str(), path.c_str()) != 0) return fail("rename");
  sync_parent_directory(path);
  return Status::Ok();
}

Status write_symlink_atomic(const std::string& target, const std::string& path) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    const std::string temporary = temporary_path_for(path);
    if (::symlink(target.c_str(), temporary.c_str()) != 0) {
      if (errno == EEXIST || errno == EINTR) continue;
      return errno_status(errno, path, "create a link for");
    }
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
      const int error = errno;
      ::unlink(temporary.c_str());
      return errno_status(error, path, "rename a link onto");
    }
    sync_parent_directory(path);
    return Status::Ok();
  }
  return Status::IoError(shown(path) + ": could not pick a temporary link name");
}

bool path_exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

bool is_directory(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

bool is_regular_file(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

Result<std::vector<std::string>> list_directory(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) {
    if (errno == ENOTDIR) return Status::InvalidArgument(shown(path) + ": not a directory");
    return errno_status(errno, path, "open directory");
  }
  std::vector<std::string> names;
  try {
    while (true) {
      errno = 0;
      const dirent* entry = ::readdir(dir);
      if (entry == nullptr) break;
      const std::string_view name = entry->d_name;
      if (name == "." || name == "..") continue;
      names.emplace_back(name);
    }
  } catch (const std::bad_alloc&) {
    ::closedir(dir);
    return Status::IoError(shown(path) + ": out of memory listing the directory");
  }
  const int error = errno;
  ::closedir(dir);
  if (error != 0) return errno_status(error, path, "read directory");
  std::sort(names.begin(), names.end());
  return names;
}

std::string join_path(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  std::string out(dir);
  if (out.back() != '/') out += '/';
  out += name;
  return out;
}

}  // namespace flopsmeter
