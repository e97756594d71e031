#include "adapters/sha256.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "adapters/files.h"

namespace flopsmeter {
namespace {

struct DigestContext {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
  DigestContext() { EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr); }
  void update(const void* p, size_t n) { EVP_DigestUpdate(ctx.get(), p, n); }
  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx.get(), digest, &length);
    static const char* kHex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
      out += kHex[digest[i] >> 4];
      out += kHex[digest[i] & 15];
    }
    return out;
  }
};

}  // namespace

std::string sha256_hex(std::string_view data) {
  DigestContext d;
  d.update(data.data(), data.size());
  return d.hex();
}

Result<FileDigest> sha256_file(const std::string& path) {
  if (is_directory(path)) return Status::InvalidArgument(path + ": is a directory, expected a file");
  std::unique_ptr<FILE, decltype(&std::fclose)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) {
    if (errno == ENOENT) return Status::NotFound(path + ": no such file or directory");
    return Status::IoError(path + ": " + std::strerror(errno));
  }
  DigestContext d;
  FileDigest out;
  char buffer[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, f.get())) > 0) {
    d.update(buffer, n);
    out.bytes += n;
  }
  if (std::ferror(f.get())) return Status::IoError(path + ": read error");
  out.sha256 = d.hex();
  return out;
}

}  // namespace flopsmeter
