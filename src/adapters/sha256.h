// SHA-256 digests (OpenSSL's libcrypto) for the journal's hash chain and the
// provenance hashes of configs and datasets; and the digests an upload to S3
// carries.
#ifndef FLOPSMETER_ADAPTERS_SHA256_H_
#define FLOPSMETER_ADAPTERS_SHA256_H_

#include <memory>
#include <string>
#include <string_view>

#include "flopsmeter/status.h"

namespace flopsmeter {

// 64 lowercase hex digits.
std::string sha256_hex(std::string_view data);

// The raw digests (32 and 16 bytes), for what carries them in base64
// (x-amz-checksum-sha256, Content-MD5) and S3's ETags (an MD5's hex). MD5
// is S3's integrity check of a body in transit, not a security measure.
std::string sha256_bytes(std::string_view data);
std::string md5_bytes(std::string_view data);

// A digest over data given in pieces (a file read part by part). Move-only.
class StreamingDigest {
 public:
  static StreamingDigest Sha256();
  static StreamingDigest Md5();
  StreamingDigest(StreamingDigest&&) noexcept;
  StreamingDigest& operator=(StreamingDigest&&) noexcept;
  ~StreamingDigest();
  void update(std::string_view data);
  // The raw digest of everything given; REQUIRES: called once, last.
  std::string bytes();

 private:
  struct Context;
  explicit StreamingDigest(std::unique_ptr<Context> context);
  std::unique_ptr<Context> context_;
};

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
