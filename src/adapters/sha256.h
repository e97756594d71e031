// SHA-256 digests (OpenSSL's libcrypto) for the journal's hash chain and the
// provenance hashes of configs and datasets.
#ifndef FLOPSMETER_ADAPTERS_SHA256_H_
#define FLOPSMETER_ADAPTERS_SHA256_H_

#include <string>
#include <string_view>

#include "flopsmeter/status.h"

namespace flopsmeter {

// 64 lowercase hex digits.
std::string sha256_hex(std::string_view data);

struct FileDigest {
  std::string sha256;
  uint64_t bytes = 0;
};
// Streams the regular file at `path` (symbolic links followed), up to the
// size it had when opened; errors as read_file's (NotFound,
// InvalidArgument for anything but a regular file, IoError).
Result<FileDigest> sha256_file(const std::string& path);

}  // namespace flopsmeter

#endif  // FLOPSMETER_ADAPTERS_SHA256_H_
