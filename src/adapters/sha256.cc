#include "adapters/sha256.h"

#include <openssl/evp.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "adapters/files.h"
#include "core/json_doc.h"  // printable_text

namespace flopsmeter {
namespace {

struct DigestContext {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
  explicit DigestContext(const EVP_MD* algorithm = EVP_sha256()) { EVP_DigestInit_ex(ctx.get(), algorithm, nullptr); }
  void update(const void* p, size_t n) { EVP_DigestUpdate(ctx.get(), p, n); }
  std::string bytes() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx.get(), digest, &length);
    return std::string(reinterpret_cast<const char*>(digest), length);
  }
  std::string hex() {
    static const char* kHex = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes()) {
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
    return out;
  }
};

}  // namespace

struct StreamingDigest::Context : DigestContext {
  using DigestContext::DigestContext;
};
StreamingDigest::StreamingDigest(std::unique_ptr<Context> context) : context_(std::move(context)) {}
StreamingDigest::StreamingDigest(StreamingDigest&&) noexcept = default;
StreamingDigest& StreamingDigest::operator=(StreamingDigest&&) noexcept = default;
StreamingDigest::~StreamingDigest() = default;
StreamingDigest StreamingDigest::Sha256() { return StreamingDigest(std::make_unique<Context>(EVP_sha256())); }
StreamingDigest StreamingDigest::Md5() { return StreamingDigest(std::make_unique<Context>(EVP_md5())); }
void StreamingDigest::update(std::string_view data) { context_->update(data.data(), data.size()); }
std::string StreamingDigest::bytes() { return context_->bytes(); }

std::string sha256_hex(std::string_view data) {
  DigestContext d;
  d.update(data.data(), data.size());
  return d.hex();
}

std::string sha256_bytes(std::string_view data) {
  DigestContext d;
  d.update(data.data(), data.size());
  return d.bytes();
}

std::string md5_bytes(std::string_view data) {
  DigestContext d(EVP_md5());
  d.update(data.data(), data.size());
  return d.bytes();
}

Result<FileDigest> sha256_file(const std::string& path) {
  FM_ASSIGN_OR_RETURN(RegularFile file, open_regular_file(path, O_RDONLY, FinalSymlink::kFollow));
  DigestContext d;
  FileDigest out;
  char buffer[1 << 16];
  // The bytes the file held when opened: one still being appended to is
  // hashed as it was then, and the hash ends.
  while (out.bytes < file.size) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(sizeof buffer, file.size - out.bytes));
    const ssize_t got = ::read(file.fd.get(), buffer, want);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return Status::IoError(printable_text(path) + ": read failed: " + std::strerror(errno));
    if (got == 0) break;  // it shrank while being read: the bytes it still had
    d.update(buffer, static_cast<size_t>(got));
    out.bytes += static_cast<uint64_t>(got);
  }
  out.sha256 = d.hex();
  return out;
}

}  // namespace flopsmeter
